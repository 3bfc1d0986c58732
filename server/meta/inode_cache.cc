#include "server/meta/inode_cache.h"

namespace myfs::server {

std::optional<InodeRecord> InodeCache::get(InodeId ino) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(ino);
  if (it == entries_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second.age);
  return it->second.rec;
}

std::uint64_t InodeCache::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

void InodeCache::fill(const InodeRecord& rec, std::uint64_t generation) {
  std::lock_guard<std::mutex> lock(mu_);
  if (generation == generation_) insertLocked(rec);
}

void InodeCache::put(const InodeRecord& rec) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  insertLocked(rec);
}

void InodeCache::erase(InodeId ino) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  auto it = entries_.find(ino);
  if (it == entries_.end()) return;
  lru_.erase(it->second.age);
  entries_.erase(it);
}

std::size_t InodeCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void InodeCache::insertLocked(const InodeRecord& rec) {
  if (capacity_ == 0) return;
  auto it = entries_.find(rec.attr.ino);
  if (it != entries_.end()) {
    it->second.rec = rec;
    lru_.splice(lru_.begin(), lru_, it->second.age);
    return;
  }
  if (entries_.size() >= capacity_) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(rec.attr.ino);
  entries_.emplace(rec.attr.ino, Entry{rec, lru_.begin()});
}

}  // namespace myfs::server
