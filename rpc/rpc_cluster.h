// RpcCluster: the Cluster (core/cluster.h) over Cap'n Proto connections to real servers.
//
//   ClusterConfig config = ClusterConfig::fromEnvironment();
//   RpcCluster cluster(config);
//   auto vfs = makeVfs(cluster, options);
//
// Every call is synchronous for its caller and runs on one event-loop thread that owns
// all connections (created on first use). Thread-safe. After fork() the child must call
// abandonAfterFork() before any other call.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/cluster.h"
#include "core/serial_worker.h"
#include "rpc/deferred_dirs.h"
#include "rpc/recall_flusher.h"
#include "rpc/transport.h"

namespace myfs::rpc {

struct ClusterConfig {
  std::vector<std::string> metaAddresses;  // index = shard number
  std::vector<std::string> dataAddresses;  // index = data server number
  RetryPolicy retry;
  // Calls from an application thread use that thread's own event loop and connections
  // (no hand-off to the loop thread). MYFS_RPC_DIRECT=0 turns it off.
  bool directCalls = true;

  // Parses MYFS_META and MYFS_DATA (comma-separated kj addresses: "unix:/path" or
  // "host:port") and MYFS_RPC_TIMEOUT_MS / MYFS_RPC_ATTEMPTS. EINVAL with a message in
  // `error` when a variable is missing or malformed.
  static Result<ClusterConfig> fromEnvironment(std::string* error);
};

class RpcCluster final : public Cluster {
 public:
  explicit RpcCluster(ClusterConfig config);
  ~RpcCluster() override;

  std::uint32_t shardCount() const override { return static_cast<std::uint32_t>(shards_.size()); }
  MetaShard& shard(std::uint32_t index) override { return *shards_.at(index); }
  DataPlane& data() override { return *data_; }
  EntryAndLink addEntryAndLink(const Cred& cred, InodeId parent, std::string_view name, InodeId ino,
                               std::uint32_t mode) override;
  Result<Attr> mkdirRemote(const Cred& cred, InodeId parent, std::string_view name, InodeId ino,
                           std::uint32_t mode) override;
  Result<void> oweFile(const FileIntent& file) override;
  void pushOwed(std::uint32_t shard) override;
  Result<void> settleShard(std::uint32_t shard) override;
  bool owesFilesIn(InodeId dir) const override { return deferred_.owesFilesIn(dir); }
  bool owesFile(InodeId ino) const override { return deferred_.owesFile(ino); }
  bool owesRemoval(InodeId dir, std::string_view name) const override { return deferred_.owesRemoval(dir, name); }
  void settleDeferred() override;
  bool owes(std::uint32_t shard) const override { return deferred_.owes(shard); }
  void settleSoon(std::uint32_t shard) override;
  Result<void> settleDir(InodeId ino) override;
  // What the shards are owed after mkdirRemote.
  DeferredDirs& deferredDirs() { return deferred_; }
  // Directories a shard may be owed before they are sent on their own.
  static constexpr std::size_t kMaxOwedDirs = 64;
  // Files a shard may be owed before a thread waits for them to be answered (those
  // sent ahead are answered as they go; these are the ones nobody could send yet).
  static constexpr std::size_t kMaxOwedFiles = 1024;

  // Called in a forked child: the parent's loop thread is gone; leak it and its
  // connections, and start afresh on the next call.
  void abandonAfterFork();
  // Lease events of every metadata session go to `listener` (core/cluster.h).
  // Sessions opened before the listener was set are reported to it at once.
  void setLeaseListener(LeaseListener* listener) override;
  void renewSoon(std::uint32_t shard, std::uint32_t delayMs = 2) override;
  LeaseListener* leaseListener() const { return leases_.load(); }
  // The id of this process's session with `shard`, opened on the loop thread (waited
  // for, once); 0 when none could be opened.
  std::uint64_t sessionIdFor(std::uint32_t shard);
  // The thread that writes back what recalls ask for (started on first use).
  RecallFlusher& flusher();
  // The thread that removes the data of files unlinked under a delegation once the
  // server freed them (LeaseListener::removedAhead; started on first use): apart from the
  // flusher, whose recall answers must not wait behind them.
  SerialWorker& remover();

  // The loop thread (started on first use) and each server's connection.
  struct State;
  State& state();
  // This thread's own loop and connections, or null when the thread cannot have them
  // (direct calls off, another live cluster owns its loop, a forked child's inherited
  // loop, a thread that already runs a KJ loop of its own).
  struct DirectState;
  DirectState* direct();

 private:
  ClusterConfig config_;
  std::mutex stateMu_;
  std::atomic<State*> state_{nullptr};
  std::vector<std::unique_ptr<MetaShard>> shards_;
  DeferredDirs deferred_;
  // Per shard, the id of this process's latest session (0: none yet); read without a hand-off.
  std::vector<std::atomic<std::uint64_t>> sessionIds_;
  std::unique_ptr<DataPlane> data_;
  std::atomic<LeaseListener*> leases_{nullptr};
  // Per shard, the latest session's start (steady ms when asked) and lease (0: none).
  std::mutex flusherMu_;
  std::unique_ptr<RecallFlusher> flusher_;  // GUARDED_BY(flusherMu_)
  std::unique_ptr<SerialWorker> remover_;   // GUARDED_BY(flusherMu_)
  std::atomic<std::uint64_t> nextIntent_{1};  // FileIntent::seq of the next oweFile
  std::mutex startedMu_;
  std::vector<std::pair<std::int64_t, std::uint32_t>> started_;  // GUARDED_BY(startedMu_)
  const std::uint64_t id_;  // tells this cluster's per-thread states from others'
};

}  // namespace myfs::rpc
