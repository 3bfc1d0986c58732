#include "core/walk_cache.h"

#include <functional>

namespace myfs {

std::string WalkCache::key(std::string_view path, bool follow) {
  std::string k;
  k.reserve(path.size() + 1);
  k += follow ? 'F' : 'N';
  k += path;
  return k;
}

WalkCache::Stripe& WalkCache::stripeFor(const std::string& k) const {
  return stripes_[std::hash<std::string>{}(k) % stripes_.size()];
}

void WalkCache::insert(std::string_view path, bool follow, WalkRecord record) {
  std::string k = key(path, follow);
  Stripe& s = stripeFor(k);
  std::lock_guard lock(s.mu);
  if (s.map.size() >= kStripeEntries) s.map.clear();
  s.map.insert_or_assign(std::move(k), std::move(record));
}

}  // namespace myfs
