// DentryCache: (parent inode, name) -> child inode, or "no such entry" (negative).
//
// Each entry carries the lease token under which it was learned (Inode::nameLease of the
// parent); the caller trusts it only while the parent still holds that lease. Bounded:
// a stripe that grows past kStripeEntries is emptied.
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
  static constexpr std::size_t kStripeEntries = 8192;

  struct Hit {
    InodeId ino = 0;  // 0: negative entry (the name does not exist)
    std::uint64_t lease = 0;
  };
  // The entry learned under lease token `lease`, if one is cached (others are dropped).
  std::optional<Hit> lookup(InodeId parent, std::string_view name, std::uint64_t lease) const;
  // child 0: a negative entry.
  void insert(InodeId parent, std::string_view name, InodeId child, std::uint64_t lease);
  void erase(InodeId parent, std::string_view name);
  // In a forked child: the locks other threads of the parent held are free again.
  void afterForkInChild() {
    for (auto& s : stripes_) new (&s.mu) std::mutex();
  }

 private:
  struct Entry {
    InodeId ino;
    std::uint64_t lease;
  };
  static std::string key(InodeId parent, std::string_view name);
  struct Stripe {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> map;
  };
  Stripe& stripeFor(InodeId parent, std::string_view name) const;

  mutable std::array<Stripe, 32> stripes_;
};

}  // namespace myfs
