// DentryCache: (parent inode, name) -> child inode, or "no such entry" (negative).
//
// Entries are trusted for `ttlMs` after they were learned from the server (0: never
// trusted, so every walk asks the server). The process's own namespace changes update
// the cache as they return.
//
// Thread-safety: all methods are thread-safe (striped locks).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/placement.h"

namespace myfs {

class DentryCache {
 public:
  explicit DentryCache(std::uint64_t ttlMs) : ttlMs_(ttlMs) {}

  struct Hit {
    InodeId ino = 0;  // 0: negative entry (the name does not exist)
  };
  // A fresh entry, if one is cached.
  std::optional<Hit> lookup(InodeId parent, std::string_view name, std::int64_t nowMs) const;
  void insert(InodeId parent, std::string_view name, InodeId child, std::int64_t nowMs);
  void insertNegative(InodeId parent, std::string_view name, std::int64_t nowMs);
  void erase(InodeId parent, std::string_view name);
  // In a forked child: the locks other threads of the parent held are free again.
  void afterForkInChild() {
    for (auto& s : stripes_) new (&s.mu) std::mutex();
  }

 private:
  struct Entry {
    InodeId ino;
    std::int64_t learnedMs;
  };
  static std::string key(InodeId parent, std::string_view name);
  struct Stripe {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> map;
  };
  Stripe& stripeFor(InodeId parent, std::string_view name) const;

  const std::uint64_t ttlMs_;
  mutable std::array<Stripe, 32> stripes_;
};

}  // namespace myfs
