// RpcCluster: configuration, the shared loop thread, each application thread's own
// loop (DirectState), fork handling. The stubs are in meta_client.cc and data_client.cc.
#include "rpc/rpc_cluster.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <new>
#include <set>
#include <sstream>
#include <utility>

#include "rpc/cluster_internal.h"
#include "schema/meta.capnp.h"

namespace myfs::rpc {

namespace {

std::atomic<std::uint64_t> gNextClusterId{1};
std::atomic<std::uint64_t> gForkGeneration{0};
std::mutex gLiveMu;
std::set<std::uint64_t>& liveClusters() {
  static auto* live = new std::set<std::uint64_t>;
  return *live;
}
bool clusterAlive(std::uint64_t id) {
  std::lock_guard lock(gLiveMu);
  return liveClusters().count(id) != 0;
}

// This thread's DirectState. Plain data, so that it can still be read while the thread
// (or the process) is being torn down; ThreadSlotCleanup frees the state at thread exit.
struct ThreadSlot {
  RpcCluster::DirectState* state;
  bool disabled;
};
thread_local ThreadSlot tlsSlot{nullptr, false};

struct ThreadSlotCleanup {
  ~ThreadSlotCleanup() {
    // A state inherited through fork() belongs to the parent's loop: leak it.
    if (tlsSlot.state != nullptr && tlsSlot.state->forkGeneration == gForkGeneration.load()) delete tlsSlot.state;
    tlsSlot.state = nullptr;
    tlsSlot.disabled = true;  // calls during the rest of the teardown use the loop thread
  }
};
thread_local ThreadSlotCleanup tlsSlotCleanup;

using schema::MetaService;

std::int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Receives one metadata server's lease recalls and hands them to the client.
class CallbackImpl final : public schema::ClientCallback::Server {
 public:
  CallbackImpl(RpcCluster& cluster, std::uint32_t shard) : cluster_(cluster), shard_(shard) {}

 protected:
  kj::Promise<void> invalidate(InvalidateContext context) override {
    std::vector<InodeId> inos;
    for (auto i : context.getParams().getInos()) inos.push_back(i);
    LeaseListener::RecallAnswer answer;
    LeaseListener* l = cluster_.leaseListener();
    if (l != nullptr) answer = l->recall(shard_, inos, context.getParams().getWritesOnly());
    auto list = context.getResults(capnp::MessageSize{4 + answer.open.size(), 0})
                    .initOpen(static_cast<unsigned>(answer.open.size()));
    for (unsigned i = 0; i < answer.open.size(); ++i) list.set(i, answer.open[i]);
    if (answer.flush.empty()) return kj::READY_NOW;
    // Write-lease holder: write back first, on a thread that may make calls.
    RpcCluster& cluster = cluster_;
    return cluster_.flusher().run([&cluster, flush = std::move(answer.flush)]() {
      if (LeaseListener* now = cluster.leaseListener()) now->flushRecalled(flush);
    });
  }

 private:
  RpcCluster& cluster_;
  const std::uint32_t shard_;
};


// Renews session `id` with shard i every third of the lease, or soon after renewSoon(i),
// until the cluster closes or the connection's session changes (a reconnection opened a
// new one, renewed by its own loop). A renewal also gives back what the lease listener
// no longer needs.
kj::Promise<void> renewLoop(RpcCluster& cluster, RpcCluster::State& st, std::uint32_t i, std::uint64_t id,
                            std::uint32_t leaseMs) {
  auto nudged = kj::newPromiseAndCrossThreadFulfiller<void>();
  {
    RpcCluster::State::Session& s = *st.sessions[i];
    std::lock_guard lock(s.nudgeMu);
    if (std::exchange(s.nudged, false)) {
      nudged.fulfiller->fulfill();
    } else {
      s.nudge = kj::mv(nudged.fulfiller);
    }
  }
  return st.loop.timer()
      .afterDelay(std::max<std::uint32_t>(leaseMs / 3, 10) * kj::MILLISECONDS)
      .exclusiveJoin(nudged.promise.then([&st, i] {
        // Waits for more to give back with it, as long as the earliest wish allows.
        std::uint32_t delayMs;
        {
          RpcCluster::State::Session& s = *st.sessions[i];
          std::lock_guard lock(s.nudgeMu);
          delayMs = std::exchange(s.nudgeDelayMs, ~0u);
        }
        return st.loop.timer().afterDelay(std::min<std::uint32_t>(delayMs, 1000) * kj::MILLISECONDS);
      }))
      .then([&cluster, &st, i, id, leaseMs]() -> kj::Promise<void> {
        if (st.closing || st.sessions[i]->id != id) return kj::READY_NOW;
        Connection& conn = *st.meta[i];
        return conn.ready(st.loop.io(), st.loop.port())
            .then([&cluster, &st, &conn, i, id]() -> kj::Promise<void> {
              if (st.closing || st.sessions[i]->id != id) return kj::READY_NOW;
              LeaseListener* l = cluster.leaseListener();
              std::vector<InodeId> forget;
              std::vector<LeaseListener::WriteGrant> released;
              if (l != nullptr) {
                forget = l->forgotten(i);
                released = l->releasedWrites(i);
              }
              auto req = conn.cap<MetaService>().renewSessionRequest(
                  capnp::MessageSize{8 + forget.size() + 3 * released.size(), 0});
              req.setSessionId(id);
              auto list = req.initForget(static_cast<unsigned>(forget.size()));
              for (unsigned k = 0; k < forget.size(); ++k) list.set(k, forget[k]);
              auto writes = req.initReleaseWrites(static_cast<unsigned>(released.size()));
              for (unsigned k = 0; k < released.size(); ++k) {
                writes[k].setIno(released[k].ino);
                writes[k].setGen(released[k].gen);
              }
              const std::int64_t sent = steadyMs();
              return req.send().then(
                  [&cluster, i, sent](capnp::Response<MetaService::RenewSessionResults>&& r) {
                    if (LeaseListener* l2 = cluster.leaseListener()) l2->renewed(i, sent, r.getLeaseMs(), r.getValid());
                  },
                  [&cluster, &st, i, id, forget = std::move(forget),
                   released = std::move(released)](kj::Exception&&) mutable {
                    // What it carried goes with the next round, unless the session is
                    // gone (and with it every lease it held).
                    LeaseListener* l2 = cluster.leaseListener();
                    if (l2 != nullptr && !st.closing && st.sessions[i]->id == id) {
                      l2->renewalFailed(i, std::move(forget), std::move(released));
                    }
                  });
            })
            .catch_([](kj::Exception&&) {})  // the next round tries again
            .then([&cluster, &st, i, id, leaseMs]() -> kj::Promise<void> {
              if (st.closing || st.sessions[i]->id != id) return kj::READY_NOW;
              return renewLoop(cluster, st, i, id, leaseMs);
            });
      });
}

std::vector<std::string> splitList(const char* s) {
  std::vector<std::string> out;
  if (s == nullptr) return out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool parseUint(const char* s, std::uint32_t* out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  unsigned long v = std::strtoul(s, &end, 10);
  if (*end != '\0' || v == 0 || v > 3600000) return false;
  *out = static_cast<std::uint32_t>(v);
  return true;
}

}  // namespace

Result<ClusterConfig> ClusterConfig::fromEnvironment(std::string* error) {
  ClusterConfig c;
  c.metaAddresses = splitList(std::getenv("MYFS_META"));
  c.dataAddresses = splitList(std::getenv("MYFS_DATA"));
  if (c.metaAddresses.empty() || c.dataAddresses.empty()) {
    *error = "MYFS_META and MYFS_DATA must list the servers (start a cluster with `myfs up`)";
    return Errno(EINVAL);
  }
  if (const char* t = std::getenv("MYFS_RPC_TIMEOUT_MS"); t && !parseUint(t, &c.retry.callTimeoutMs)) {
    *error = std::string("MYFS_RPC_TIMEOUT_MS is not a positive number of milliseconds: ") + t;
    return Errno(EINVAL);
  }
  if (const char* d = std::getenv("MYFS_RPC_DIRECT"); d && std::string(d) == "0") c.directCalls = false;
  if (const char* a = std::getenv("MYFS_RPC_ATTEMPTS")) {
    std::uint32_t n = 0;
    if (!parseUint(a, &n) || n > 100) {
      *error = std::string("MYFS_RPC_ATTEMPTS is not a number between 1 and 100: ") + a;
      return Errno(EINVAL);
    }
    c.retry.attempts = static_cast<int>(n);
  }
  return c;
}

RpcCluster::RpcCluster(ClusterConfig config)
    : config_(std::move(config)),
      deferred_(static_cast<std::uint32_t>(config_.metaAddresses.size())),
      sessionIds_(config_.metaAddresses.size()),
      id_(gNextClusterId++) {
  {
    std::lock_guard lock(gLiveMu);
    liveClusters().insert(id_);
  }
  for (std::uint32_t i = 0; i < config_.metaAddresses.size(); ++i) {
    shards_.push_back(makeRpcMetaShard(*this, i, config_.retry));
  }
  data_ = makeRpcDataPlane(*this, static_cast<std::uint32_t>(config_.dataAddresses.size()), config_.retry);
}

RpcCluster::~RpcCluster() {
  {
    std::lock_guard lock(gLiveMu);
    liveClusters().erase(id_);
  }
  remover_.reset();
  flusher_.reset();  // before the loop its answers go to
  // This thread's direct state goes now; other threads drop theirs when they next call
  // another cluster or exit.
  if (tlsSlot.state != nullptr && tlsSlot.state->owner == id_ &&
      tlsSlot.state->forkGeneration == gForkGeneration.load()) {
    delete tlsSlot.state;
    tlsSlot.state = nullptr;
  }
  State* s = state_.exchange(nullptr);
  if (s == nullptr) return;
  // Connections are loop-thread objects: destroy them there, then stop the loop.
  s->loop.run([s]() {
    s->closing = true;
    s->sessions.clear();
    s->meta.clear();
    s->data.clear();
    return true;
  });
  delete s;
}

RpcCluster::State& RpcCluster::state() {
  State* s = state_.load(std::memory_order_acquire);
  if (s != nullptr) return *s;
  std::lock_guard lock(stateMu_);
  s = state_.load(std::memory_order_acquire);
  if (s != nullptr) return *s;
  s = new State();
  for (std::size_t i = 0; i < config_.metaAddresses.size(); ++i) s->sessions.push_back(std::make_unique<State::Session>());
  for (std::uint32_t i = 0; i < config_.metaAddresses.size(); ++i) {
    // Each new connection opens a session; calls on it belong to the session.
    auto onMeta = [this, s, i](Connection& conn) {
      auto req = conn.bootstrap().castAs<MetaService>().openSessionRequest();
      req.setCallback(kj::heap<CallbackImpl>(*this, i));
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      req.setClientName(kj::str(host, ":", getpid()));
      const std::int64_t sent = steadyMs();
      auto response = req.send();
      conn.useService(response.getService());
      s->sessions[i]->id = 0;
      auto opened = response
                        .then([this, s, i, sent, &conn](capnp::Response<MetaService::OpenSessionResults>&& r) {
                          const std::uint64_t id = r.getSessionId();
                          const std::uint32_t leaseMs = r.getLeaseMs();
                          s->sessions[i]->id = id;
                          sessionIds_[i].store(id, std::memory_order_release);
                          conn.sessionTag = id;
                          {
                            std::lock_guard lock(startedMu_);
                            started_.resize(config_.metaAddresses.size());
                            started_[i] = {sent, leaseMs};
                          }
                          if (LeaseListener* l = leaseListener()) l->sessionStarted(i, sent, leaseMs);
                          if (leaseMs > 0) renewLoop(*this, *s, i, id, leaseMs).detach([](kj::Exception&&) {});
                        })
                        .fork();
      opened.addBranch().detach([](kj::Exception&&) {});  // a broken session shows up on the next call
      s->sessions[i]->opened = kj::mv(opened);
    };
    s->meta.push_back(std::make_unique<Connection>(config_.metaAddresses[i], onMeta));
  }
  for (const auto& a : config_.dataAddresses) s->data.push_back(std::make_unique<Connection>(a, nullptr));
  state_.store(s, std::memory_order_release);
  return *s;
}

RpcCluster::DirectState* RpcCluster::direct() {
  if (!config_.directCalls) return nullptr;
  ThreadSlot& slot = tlsSlot;
  if (slot.disabled) return nullptr;
  if (slot.state != nullptr) {
    if (slot.state->forkGeneration != gForkGeneration.load()) {
      // Made before fork() in the parent: KJ's loop on this thread is the parent's, and
      // KJ allows no second one here. Leak it and use the loop thread from now on.
      slot.state = nullptr;
      slot.disabled = true;
      return nullptr;
    }
    if (slot.state->owner == id_) return slot.state;
    if (clusterAlive(slot.state->owner)) return nullptr;  // another client's loop
    delete slot.state;
    slot.state = nullptr;
  }
  (void)&tlsSlotCleanup;  // constructs it: it frees the state at thread exit
  try {
    auto d = std::make_unique<DirectState>();
    d->loop = std::make_unique<DirectLoop>();
    for (std::uint32_t i = 0; i < config_.metaAddresses.size(); ++i) {
      // A thread's own connection joins the session of the loop thread's.
      auto onMeta = [this, i](Connection& conn) {
        const std::uint64_t id = sessionIdFor(i);
        if (id == 0) return;
        auto req = conn.bootstrap().castAs<MetaService>().attachRequest(capnp::MessageSize{4, 0});
        req.setSessionId(id);
        conn.useService(req.send().getService());
        conn.sessionTag = id;
      };
      d->meta.push_back(std::make_unique<Connection>(config_.metaAddresses[i], onMeta));
    }
    for (const auto& a : config_.dataAddresses) d->data.push_back(std::make_unique<Connection>(a, nullptr));
    d->owner = id_;
    d->forkGeneration = gForkGeneration.load();
    slot.state = d.release();
  } catch (const kj::Exception&) {
    slot.disabled = true;  // this thread runs a KJ loop of its own
    return nullptr;
  }
  return slot.state;
}

RecallFlusher& RpcCluster::flusher() {
  std::lock_guard lock(flusherMu_);
  if (!flusher_) flusher_ = std::make_unique<RecallFlusher>();
  return *flusher_;
}

SerialWorker& RpcCluster::remover() {
  std::lock_guard lock(flusherMu_);
  if (!remover_) remover_ = std::make_unique<SerialWorker>();
  return *remover_;
}

void RpcCluster::abandonAfterFork() {
  ++gForkGeneration;
  (void)flusher_.release();  // its thread is the parent's: leaked, never joined
  (void)remover_.release();
  new (&flusherMu_) std::mutex();
  state_.store(nullptr);  // leaked on purpose: see EventLoopThread
  new (&stateMu_) std::mutex();
  new (&startedMu_) std::mutex();
  started_.clear();  // the child opens sessions of its own
  for (auto& id : sessionIds_) id.store(0);
  deferred_.afterFork();
}

void RpcCluster::renewSoon(std::uint32_t shard, std::uint32_t delayMs) {
  State* s = state_.load(std::memory_order_acquire);
  if (s == nullptr || shard >= s->sessions.size()) return;
  State::Session& session = *s->sessions[shard];
  std::lock_guard lock(session.nudgeMu);
  session.nudgeDelayMs = std::min(session.nudgeDelayMs, delayMs);
  if (session.nudge) {
    session.nudge->fulfill();
    session.nudge = nullptr;
  } else {
    session.nudged = true;
  }
}

void RpcCluster::setLeaseListener(LeaseListener* listener) {
  leases_.store(listener);
  if (listener == nullptr) return;
  std::lock_guard lock(startedMu_);
  for (std::uint32_t i = 0; i < started_.size(); ++i) {
    if (started_[i].second != 0) listener->sessionStarted(i, started_[i].first, started_[i].second);
  }
}

std::uint64_t RpcCluster::sessionIdFor(std::uint32_t shard) {
  State& st = state();
  try {
    return st.loop.run([this, &st, shard]() -> kj::Promise<std::uint64_t> {
      Connection& conn = *st.meta[shard];
      kj::Promise<std::uint64_t> id = conn.ready(st.loop.io(), st.loop.port()).then([&st, shard]() -> kj::Promise<std::uint64_t> {
        State::Session& session = *st.sessions[shard];
        if (session.id != 0) return session.id;
        KJ_IF_MAYBE(opened, session.opened) {
          return opened->addBranch().then([&st, shard]() { return st.sessions[shard]->id; });
        }
        return std::uint64_t{0};
      });
      return id.exclusiveJoin(st.loop.timer()
                                  .afterDelay(config_.retry.callTimeoutMs * kj::MILLISECONDS)
                                  .then([]() { return std::uint64_t{0}; }));
    });
  } catch (const kj::Exception&) {
    return 0;  // no session: calls work, nothing is leased
  }
}

Result<Attr> RpcCluster::mkdirRemote(const Cred& cred, InodeId parent, std::string_view name, InodeId ino,
                                     std::uint32_t mode) {
  const std::uint32_t dirShard = shardOfInode(ino);
  if (dirShard >= shardCount()) return Errno(EINVAL);
  const std::uint64_t leaseTo = sessionIds_[dirShard].load(std::memory_order_acquire);
  Result<Attr> made = mkdirRemoteCall(*this, cred, parent, name, ino, mode, leaseTo);
  if (!made) return made;
  made->leased = false;
  if (deferred_.addMake(DeferredDirs::Dir{DirIntent{*made, leaseTo}, std::string(name)}) >= kMaxOwedDirs) {
    settleOwed(*this, dirShard);
  }
  // Leased only through the session the intent names: one begun since leases nothing.
  made->leased = leaseTo != 0 && sessionIds_[dirShard].load(std::memory_order_acquire) == leaseTo;
  return made;
}

Result<void> RpcCluster::oweFile(const FileIntent& file) {
  if (shardOfInode(file.parent) >= shardCount()) return Errno(EINVAL);
  const std::uint32_t dirShard = shardOfInode(file.attr.ino);
  FileIntent entry = file;
  entry.seq = nextIntent_.fetch_add(1, std::memory_order_relaxed);
  if (file.remove || !S_ISDIR(file.attr.mode) || dirShard == shardOfInode(file.parent)) {
    deferred_.addFile(std::move(entry));
    return okResult();
  }
  // A directory of another shard: its entry (with the intent) to the parent's shard, the
  // directory itself to its own (as after mkdirRemote).
  if (dirShard >= shardCount()) return Errno(EINVAL);
  entry.leaseTo = sessionIds_[dirShard].load(std::memory_order_acquire);
  if (entry.leaseTo == 0) return Errno(EAGAIN);
  deferred_.addFile(entry);
  if (deferred_.addMake(DeferredDirs::Dir{DirIntent{file.attr, entry.leaseTo}, file.name}) >= kMaxOwedDirs) {
    settleSoon(dirShard);
  }
  return okResult();
}

void RpcCluster::pushOwed(std::uint32_t shard) {
  if (shard >= shardCount()) return;
  if (deferred_.filesOwed(shard) >= kMaxOwedFiles) {
    settleOwed(*this, shard);
  } else {
    pushOwedFiles(*this, shard);
  }
}

Result<void> RpcCluster::settleShard(std::uint32_t shard) {
  if (shard >= shardCount() || !deferred_.owes(shard)) return okResult();
  settleOwed(*this, shard);
  return deferred_.owes(shard) ? Result<void>(Errno(EIO)) : okResult();
}

void RpcCluster::settleSoon(std::uint32_t shard) {
  flusher().submit([this, shard] {
    settleOwed(*this, shard);
    renewSoon(shard);
  });
}

Result<void> RpcCluster::settleDir(InodeId ino) {
  auto owed = [&] { return deferred_.owesDir(ino) || deferred_.owesFile(ino); };
  if (!owed()) return okResult();
  settleOwed(*this, shardOfInode(ino));
  return owed() ? Result<void>(Errno(EIO)) : okResult();
}

void RpcCluster::settleDeferred() {
  // Twice: the directories made in the first pass owe their parents' shards a confirmation.
  for (int pass = 0; pass < 2; ++pass) {
    for (std::uint32_t shard : deferred_.shardsOwed()) settleOwed(*this, shard);
  }
}

Cluster::EntryAndLink RpcCluster::addEntryAndLink(const Cred& cred, InodeId parent, std::string_view name,
                                                InodeId ino, std::uint32_t mode) {
  return addEntryAndLinkInParallel(*this, config_.retry, cred, parent, name, ino, mode);
}

}  // namespace myfs::rpc
