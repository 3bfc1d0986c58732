// WalkCache: whole paths resolved under leases, so that stat, access and open of a path
// seen before cost one hash lookup and a few atomic loads instead of a walk.
//
// An entry records, for each directory the walk went through, the lease tokens it relied
// on (the directory's attributes, for the search permission, and its names, for the
// next component), and the final inode's attribute token. It is good only while every
// token is still in its inode (a recall clears them), the process's credentials and
// namespace generation (bumped by every change this process makes to a name) are those
// it was recorded under. The caller checks that the tokens are live (leaseLive).
//
// Thread-safety: all methods are thread-safe (striped locks).
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/inode.h"

namespace myfs {

struct WalkRecord {
  struct Step {
    std::shared_ptr<Inode> dir;
    std::uint64_t attrToken = 0;
    std::uint64_t nameToken = 0;
  };
  std::vector<Step> steps;
  std::shared_ptr<Inode> target;
  std::uint64_t targetToken = 0;
  std::uint64_t credGeneration = 0;
  std::uint64_t namespaceGeneration = 0;
  std::string canon;  // the mount-relative path of the target
};

class WalkCache {
 public:
  static constexpr std::size_t kStripeEntries = 2048;

  // Calls use(record) for the record of (path, follow), under the stripe's lock (use
  // must not take a lock that is held while inserting); returns what use returned, or
  // false when there is no record.
  template <typename Use>
  bool with(std::string_view path, bool follow, Use&& use) const {
    const std::string k = key(path, follow);
    Stripe& s = stripeFor(k);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(k);
    return it != s.map.end() && use(it->second);
  }
  void insert(std::string_view path, bool follow, WalkRecord record);
  // In a forked child: the locks other threads of the parent held are free again.
  void afterForkInChild() {
    for (auto& s : stripes_) new (&s.mu) std::mutex();
  }

 private:
  struct Stripe {
    mutable std::mutex mu;
    std::unordered_map<std::string, WalkRecord> map;
  };
  static std::string key(std::string_view path, bool follow);
  Stripe& stripeFor(const std::string& key) const;

  mutable std::array<Stripe, 16> stripes_;
};

}  // namespace myfs
