#include "core/dentry_cache.h"

#include <cstring>

namespace myfs {

std::string DentryCache::key(InodeId parent, std::string_view name) {
  std::string k(sizeof parent + name.size(), '\0');
  std::memcpy(k.data(), &parent, sizeof parent);
  std::memcpy(k.data() + sizeof parent, name.data(), name.size());
  return k;
}

DentryCache::Stripe& DentryCache::stripeFor(InodeId parent, std::string_view name) const {
  return stripes_[mix64(parent, nameHash(name)) % stripes_.size()];
}

std::optional<DentryCache::Hit> DentryCache::lookup(InodeId parent, std::string_view name,
                                                    std::uint64_t lease) const {
  if (lease == 0) return std::nullopt;
  Stripe& s = stripeFor(parent, name);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(key(parent, name));
  if (it == s.map.end()) return std::nullopt;
  if (it->second.lease != lease) {
    s.map.erase(it);
    return std::nullopt;
  }
  return Hit{it->second.ino, lease};
}

void DentryCache::insert(InodeId parent, std::string_view name, InodeId child, std::uint64_t lease) {
  if (lease == 0) return;
  Stripe& s = stripeFor(parent, name);
  std::lock_guard lock(s.mu);
  if (s.map.size() >= kStripeEntries) s.map.clear();
  s.map.insert_or_assign(key(parent, name), Entry{child, lease});
}

void DentryCache::erase(InodeId parent, std::string_view name) {
  Stripe& s = stripeFor(parent, name);
  std::lock_guard lock(s.mu);
  s.map.erase(key(parent, name));
}

}  // namespace myfs
