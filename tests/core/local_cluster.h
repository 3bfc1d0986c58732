// LocalCluster: a Cluster whose shards and data servers are the servers' own stores
// (MetaStore over RocksDB, ChunkStore on disk) in this process, in a temporary directory.
// It counts the calls that reach the servers, and a test can make them fail.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/cluster.h"
#include "server/data/chunk_store.h"
#include "server/meta/meta_store.h"

namespace myfs::testing {

struct CallCounts {
  std::atomic<int> lookups{0}, getattrs{0}, creates{0}, dataWrites{0}, dataReads{0};
  std::atomic<std::uint64_t> bytesWritten{0}, bytesRead{0};
  std::mutex writeSizesMu;
  std::vector<std::uint32_t> writeSizes;  // every chunk write, in order; GUARDED_BY(writeSizesMu)
};

class LocalCluster final : public Cluster {
 public:
  LocalCluster(std::uint32_t shards, std::uint32_t dataServers, std::uint32_t chunkSize = 1 << 16);
  ~LocalCluster() override;

  std::uint32_t shardCount() const override { return static_cast<std::uint32_t>(shards_.size()); }
  MetaShard& shard(std::uint32_t index) override { return *shards_.at(index); }
  DataPlane& data() override { return *data_; }

  CallCounts& counts() { return counts_; }
  // While set, lookups and getattrs grant leases that last an hour (one client, so
  // nothing ever recalls them) to a client that sets a listener from then on.
  void grantLeases(bool on) { leases_ = on; }
  void setLeaseListener(LeaseListener* listener) override;
  // While set, every data-server call fails with this errno (0: none).
  void failData(int err) { dataFailure_ = err; }
  server::MetaStore& store(std::uint32_t shard) { return *stores_.at(shard); }
  server::ChunkStore& chunks(std::uint32_t server) { return *chunkStores_.at(server); }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<server::MetaStore>> stores_;
  std::vector<std::unique_ptr<server::ChunkStore>> chunkStores_;
  std::vector<std::unique_ptr<MetaShard>> shards_;
  std::unique_ptr<DataPlane> data_;
  CallCounts counts_;
  std::atomic<int> dataFailure_{0};
  std::atomic<bool> leases_{false};
};

}  // namespace myfs::testing
