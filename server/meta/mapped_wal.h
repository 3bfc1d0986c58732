// The metadata store's write-ahead log written through a shared memory mapping.
#pragma once

#include <rocksdb/env.h>

namespace myfs::server {

// An Env whose WAL files are appended by copying into a MAP_SHARED mapping of the file
// (RocksDB's mmap writer) instead of one write(2) per batch. The copy is in the page
// cache as soon as it is made, so a batch survives kill -9 of the server exactly as a
// write(2) would; a sync (sync=true batches, close) is msync + fdatasync. The file is
// grown ahead in zero-filled regions; RocksDB's reader skips a zero tail left by a kill.
// On a file system where RocksDB does not map files for writing (only ext4, xfs and
// tmpfs qualify) the WAL is written as before. Process-wide, never destroyed.
rocksdb::Env* mappedWalEnv();

}  // namespace myfs::server
