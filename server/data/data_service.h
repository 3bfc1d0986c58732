// DataServiceImpl: schema::DataService served from a ChunkStore.
//
// Each method decodes its parameters, calls the ChunkStore method of the same name (see
// chunk_store.h for contracts) and encodes the result; POSIX failures travel as `err`.
// TODO(perf): disk I/O runs inline on the event-loop thread; move it to a Boost.Asio
// thread pool so one slow disk operation does not stall every other call.
#pragma once

#include "schema/data.capnp.h"
#include "server/data/chunk_store.h"

namespace myfs::server {

class DataServiceImpl final : public schema::DataService::Server {
 public:
  // `store` must outlive every capability to this object.
  explicit DataServiceImpl(ChunkStore& store) : store_(store) {}

  // ChunkStore::write (EINVAL when offset + size exceeds the largest chunk size).
  kj::Promise<void> write(WriteContext context) override;
  // ChunkStore::read.
  kj::Promise<void> read(ReadContext context) override;
  // ChunkStore::truncate.
  kj::Promise<void> truncate(TruncateContext context) override;
  // ChunkStore::remove.
  kj::Promise<void> remove(RemoveContext context) override;
  // ChunkStore::fsync.
  kj::Promise<void> fsync(FsyncContext context) override;
  // ChunkStore::extents.
  kj::Promise<void> extents(ExtentsContext context) override;
  // ChunkStore::stats (a failed scan reports zero counts and logs).
  kj::Promise<void> stats(StatsContext context) override;

 private:
  ChunkStore& store_;
};

}  // namespace myfs::server
