// InodeCache: the decoded inode records a metadata shard used last, so that the inodes
// every operation reads again (the directory an application fills or empties, the file it
// works on) cost no RocksDB lookup.
//
// Contract: the cache only ever holds what the store holds. Commits write their changes
// through (put/erase after the batch is written); a reader that missed fills in what it
// read only if no commit applied since it started reading (generation), so a value read
// before a concurrent commit never lands after it. Least recently used entries go first.
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "server/meta/meta_format.h"

namespace myfs::server {

class InodeCache {
 public:
  explicit InodeCache(std::size_t capacity) : capacity_(capacity) {}

  std::optional<InodeRecord> get(InodeId ino);
  // Taken before a read of the store that may fill().
  std::uint64_t generation() const;
  // Caches `rec` read from the store, unless a commit applied since `generation`.
  void fill(const InodeRecord& rec, std::uint64_t generation);
  // A committed change: the new record, or the inode deleted.
  void put(const InodeRecord& rec);
  void erase(InodeId ino);
  std::size_t size() const;

 private:
  void insertLocked(const InodeRecord& rec);

  struct Entry {
    InodeRecord rec;
    std::list<InodeId>::iterator age;  // in lru_
  };
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<InodeId, Entry> entries_;
  std::list<InodeId> lru_;  // most recent first
  std::uint64_t generation_ = 0;
};

}  // namespace myfs::server
