// What the metadata store's tests share: callers' credentials and Result<> assertions.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/types.h"

namespace myfs::server::testing {

inline Cred user(std::uint32_t uid, std::uint32_t gid, std::vector<std::uint32_t> groups = {}) {
  Cred c;
  c.uid = uid;
  c.gid = gid;
  c.groups = std::move(groups);
  return c;
}

inline const Cred kRoot = user(0, 0);
inline const Cred kAlice = user(1000, 1000);
inline const Cred kBob = user(1001, 1001);

}  // namespace myfs::server::testing

#define EXPECT_ERRNO(expr, e) EXPECT_EQ((expr).err(), e) << #expr
#define ASSERT_OK(expr) ASSERT_EQ((expr).err(), 0) << #expr << ": " << errnoName((expr).err())
#define EXPECT_OK(expr) EXPECT_EQ((expr).err(), 0) << #expr << ": " << errnoName((expr).err())
