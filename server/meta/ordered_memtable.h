// The metadata store's memtable: a skip list of RocksDB entries, ordered the way RocksDB
// orders internal keys under its default bytewise comparator.
//
// Why not RocksDB's own skip list: the librocksdb Debian ships is built with its
// assertions on, and the skip list asserts the order of every node it passes (two extra
// key comparisons per step, through virtual calls that also touch the performance-context
// thread-local): a memtable insert cost ~10 k instructions, a lookup ~80 comparisons.
// This one compares keys inline (~20 instructions) and takes ~4 steps per level.
//
// Contract (as for any MemTableRep): one writer at a time (the store sets
// allow_concurrent_memtable_write = false), any number of readers alongside it; a
// reader sees every node linked before it started and never a half-linked one.
// Requires the column family's comparator to be RocksDB's default
// (BytewiseComparator): internal keys are ordered by user key bytes, then by the packed
// sequence number and type, newest first.
#pragma once

#include <rocksdb/memtablerep.h>

#include <memory>

namespace myfs::server {

std::shared_ptr<rocksdb::MemTableRepFactory> orderedMemTableFactory();

}  // namespace myfs::server
