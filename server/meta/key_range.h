// Helpers for the MetaStore's operation files: a bounded RocksDB key-range iterator and
// the one way a RocksDB failure is reported.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace myfs::server {

// RocksDB keeps performance counters per thread, on by default: a thread-local access
// per key comparison, ~15% of the instructions of a metadata change. Every store call
// turns them off for its thread (once per thread).
inline void noRocksdbPerfCounters() {
  thread_local const bool off = (rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable), true);
  (void)off;
}

// An iterator over the keys from `prefix` up to (not including) `upper` (the prefix of the
// next inode), bounded so that it never reads past them. Not movable: it holds the bound.
class KeyRangeIterator {
 public:
  KeyRangeIterator(rocksdb::DB& db, std::string prefix, std::string upper)
      : prefix_(std::move(prefix)), upper_(std::move(upper)), upperSlice_(upper_) {
    noRocksdbPerfCounters();
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upperSlice_;
    it_.reset(db.NewIterator(ro));
  }
  KeyRangeIterator(const KeyRangeIterator&) = delete;
  KeyRangeIterator& operator=(const KeyRangeIterator&) = delete;

  // The key prefix every key of the range shares.
  const std::string& prefix() const { return prefix_; }
  // The current key without the prefix.
  std::string_view suffix() const {
    rocksdb::Slice k = it_->key();
    return std::string_view(k.data() + prefix_.size(), k.size() - prefix_.size());
  }
  rocksdb::Iterator* operator->() { return it_.get(); }

 private:
  const std::string prefix_;
  const std::string upper_;
  const rocksdb::Slice upperSlice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// Logs a RocksDB failure ("metadata store: <what>: <status>") and answers EIO.
Errno dbError(const char* what, const rocksdb::Status& s);

}  // namespace myfs::server
