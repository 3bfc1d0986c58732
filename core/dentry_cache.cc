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
                                                    std::int64_t nowMs) const {
  if (ttlMs_ == 0) return std::nullopt;
  Stripe& s = stripeFor(parent, name);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(key(parent, name));
  if (it == s.map.end()) return std::nullopt;
  if (nowMs - it->second.learnedMs >= static_cast<std::int64_t>(ttlMs_)) {
    s.map.erase(it);
    return std::nullopt;
  }
  return Hit{it->second.ino};
}

void DentryCache::insert(InodeId parent, std::string_view name, InodeId child, std::int64_t nowMs) {
  if (ttlMs_ == 0) return;
  Stripe& s = stripeFor(parent, name);
  std::lock_guard lock(s.mu);
  s.map.insert_or_assign(key(parent, name), Entry{child, nowMs});
}

void DentryCache::insertNegative(InodeId parent, std::string_view name, std::int64_t nowMs) {
  insert(parent, name, 0, nowMs);
}

void DentryCache::erase(InodeId parent, std::string_view name) {
  if (ttlMs_ == 0) return;
  Stripe& s = stripeFor(parent, name);
  std::lock_guard lock(s.mu);
  s.map.erase(key(parent, name));
}

}  // namespace myfs
