// MetaTxn: the changes of one metadata operation, staged for one atomic RocksDB batch.
//
// An operation reads what it needs, stages every change here, then MetaStore::commit
// writes the batch (with the inode sequence when a new block is reserved) in
// one rocksdb::DB::Write. Nothing is visible, and no in-memory counter moves, before that.
#pragma once

#include <rocksdb/write_batch.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "server/meta/meta_format.h"

namespace myfs::server {

class MetaTxn {
 public:
  MetaTxn(const ShardCounters& counters, std::uint64_t nextSeq) : counters_(counters), nextSeq_(nextSeq) {
    inodeChanges_.reserve(4);  // one allocation: an operation writes at most four inodes (rename)
  }

  // Stores a new inode and counts it.
  void createInode(const InodeRecord& rec);
  // Stores a changed inode; `before` is its stored state (for the byte counter).
  void updateInode(const InodeRecord& before, const InodeRecord& after);
  // Deletes an inode record (and its symlink target and extended attributes) and uncounts it.
  void removeInode(const InodeRecord& rec);
  void putLinkTarget(InodeId ino, std::string_view target);

  // Stores name -> d in parent; `isNew` says the name did not exist (dentry counter).
  void putDentry(InodeId parent, std::string_view name, const DentryRecord& d, bool isNew);
  void removeDentry(InodeId parent, std::string_view name);

  // Takes the next inode sequence number (persisted with the batch).
  std::uint64_t takeSeq() { return nextSeq_++; }

  rocksdb::WriteBatch& batch() { return batch_; }
  const ShardCounters& counters() const { return counters_; }
  // The inode records the batch writes (nullopt: deleted), in order: for the InodeCache.
  const std::vector<std::pair<InodeId, std::optional<InodeRecord>>>& inodeChanges() const { return inodeChanges_; }
  std::uint64_t nextSeq() const { return nextSeq_; }

 private:
  void count(const Attr& a, int sign);

  rocksdb::WriteBatch batch_;
  std::vector<std::pair<InodeId, std::optional<InodeRecord>>> inodeChanges_;
  ShardCounters counters_;
  std::uint64_t nextSeq_;
};

}  // namespace myfs::server
