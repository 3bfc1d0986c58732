// RpcCluster's internals shared by its parts (rpc_cluster.cc, meta_client.cc,
// data_client.cc): the per-loop connection sets and the choice of loop for a call.
#pragma once

#include <cerrno>
#include <cstring>

#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "rpc/direct_loop.h"
#include "rpc/event_loop_thread.h"
#include "rpc/rpc_cluster.h"
#include "rpc/transport.h"

namespace myfs::rpc {

struct RpcCluster::State {
  EventLoopThread loop;
  // Loop thread only. The session each meta connection opened: its id once answered.
  struct Session {
    std::uint64_t id = 0;
    kj::Maybe<kj::ForkedPromise<void>> opened;
    // Any thread: fulfilled to have the session's renewal loop renew soon (renewSoon);
    // nudged: asked while no round was waiting (the next round starts nudged).
    std::mutex nudgeMu;
    kj::Own<kj::CrossThreadPromiseFulfiller<void>> nudge;  // GUARDED_BY(nudgeMu)
    bool nudged = false;                                   // GUARDED_BY(nudgeMu)
    std::uint32_t nudgeDelayMs = ~0u;  // GUARDED_BY(nudgeMu): the earliest wish since the last round
  };
  std::vector<std::unique_ptr<Session>> sessions;
  bool closing = false;  // the cluster is going away: renewals stop
  std::vector<std::unique_ptr<Connection>> meta;
  std::vector<std::unique_ptr<Connection>> data;
};

// Members in destruction order: connections before the loop they belong to.
struct RpcCluster::DirectState {
  ~DirectState() {
    loop->dropAhead();
    meta.clear();
    data.clear();
    // Let deferred destructions (Connection::markBroken) run while the loop still works:
    // Cap'n Proto objects must not die inside the loop's own destructor.
    try {
      loop->run([] { return kj::evalLast([] { return true; }); });
    } catch (const kj::Exception&) {
    }
  }
  std::unique_ptr<DirectLoop> loop;
  std::vector<std::unique_ptr<Connection>> meta;
  std::vector<std::unique_ptr<Connection>> data;
  std::uint64_t owner = 0;           // RpcCluster::id_
  std::uint64_t forkGeneration = 0;  // gForkGeneration when made
};

// Runs fn(loop, metaConnections, dataConnections) on this thread's own loop when it can
// have one, else through the shared loop thread.
// errno is left as the caller had it: the event loop's non-blocking reads set EAGAIN, and
// a program may check errno after a call that succeeded (readdir at the end, find).
template <typename Fn>
auto withLoop(RpcCluster& cluster, Fn&& fn) {
  struct KeepErrno {
    int saved = errno;
    ~KeepErrno() { errno = saved; }
  } keep;
  if (RpcCluster::DirectState* d = cluster.direct()) return fn(*d->loop, d->meta, d->data);
  RpcCluster::State& st = cluster.state();
  return fn(st.loop, st.meta, st.data);
}

// Text fields are filled in place: fillText(req.initName(textSize(name)), name).
inline unsigned textSize(std::string_view s) { return static_cast<unsigned>(s.size()); }
inline void fillText(capnp::Text::Builder t, std::string_view s) {
  if (!s.empty()) std::memcpy(t.begin(), s.data(), s.size());
}

// The first segment of a request carrying `cred`, `bytes` of text or data and `words`
// of other fields. Without a size hint Cap'n Proto zero-fills an 8 KiB segment for each
// call; a hint too small only costs a second segment.
inline capnp::MessageSize requestSize(const Cred& cred, std::size_t bytes = 0, std::size_t words = 8) {
  return {words + 4 + (cred.groups.size() + 1) / 2 + (bytes + 7) / 8 + 2, 0};
}

inline capnp::Data::Reader bytes(const void* p, size_t n) {
  return capnp::Data::Reader(static_cast<const capnp::byte*>(p), n);
}

// One metadata shard over RPC; all data servers over RPC (batches fan out in parallel).
std::unique_ptr<MetaShard> makeRpcMetaShard(RpcCluster& cluster, std::uint32_t index, const RetryPolicy& retry);
// Cluster::addEntryAndLink with both calls in flight at once (on this thread's loop).
Cluster::EntryAndLink addEntryAndLinkInParallel(RpcCluster& cluster, const RetryPolicy& retry, const Cred& cred,
                                                InodeId parent, std::string_view name, InodeId ino,
                                                std::uint32_t mode);
// Schema mkdirRemote on the parent's shard.
Result<Attr> mkdirRemoteCall(RpcCluster& cluster, const Cred& cred, InodeId parent, std::string_view name,
                             InodeId ino, std::uint32_t mode, std::uint64_t leaseTo);
// Sends `shard` what it is owed (RpcCluster::deferredDirs), if anything, and waits.
void settleOwed(RpcCluster& cluster, std::uint32_t shard);
// Sends `shard` the files owed to it that this thread has not sent yet, without waiting.
void pushOwedFiles(RpcCluster& cluster, std::uint32_t shard);
std::unique_ptr<DataPlane> makeRpcDataPlane(RpcCluster& cluster, std::uint32_t servers, const RetryPolicy& retry);

}  // namespace myfs::rpc
