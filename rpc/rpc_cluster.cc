#include "rpc/rpc_cluster.h"

#include <unistd.h>

#include <cstdlib>
#include <new>
#include <set>
#include <sstream>

#include "rpc/convert.h"
#include "schema/data.capnp.h"
#include "schema/meta.capnp.h"

namespace myfs::rpc {

struct RpcCluster::State {
  EventLoopThread loop;
  std::vector<std::unique_ptr<Connection>> meta;
  std::vector<std::unique_ptr<Connection>> data;
};

// Members in destruction order: connections before the loop they belong to.
struct RpcCluster::DirectState {
  ~DirectState() {
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

// Runs fn(loop, metaConnections, dataConnections) on this thread's own loop when it can
// have one, else through the shared loop thread.
template <typename Fn>
auto withLoop(RpcCluster& cluster, Fn&& fn) {
  if (RpcCluster::DirectState* d = cluster.direct()) return fn(*d->loop, d->meta, d->data);
  RpcCluster::State& st = cluster.state();
  return fn(st.loop, st.meta, st.data);
}

using schema::DataService;
using schema::MetaService;

kj::String text(std::string_view s) { return kj::heapString(s.data(), s.size()); }

capnp::Data::Reader bytes(const void* p, size_t n) {
  return capnp::Data::Reader(static_cast<const capnp::byte*>(p), n);
}

// Receives recalls from metadata servers (leases) and hands them to the client.
class CallbackImpl final : public schema::ClientCallback::Server {
 public:
  explicit CallbackImpl(std::function<void(const std::vector<InodeId>&)>* handler) : handler_(handler) {}

 protected:
  kj::Promise<void> invalidate(InvalidateContext context) override {
    std::vector<InodeId> inos;
    for (auto i : context.getParams().getInos()) inos.push_back(i);
    if (*handler_) (*handler_)(inos);
    return kj::READY_NOW;
  }

 private:
  std::function<void(const std::vector<InodeId>&)>* handler_;
};

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

// One metadata shard reached over RPC.
class RpcMetaShard final : public MetaShard {
 public:
  RpcMetaShard(RpcCluster& cluster, std::uint32_t index, const RetryPolicy& retry)
      : cluster_(cluster), index_(index), retry_(retry) {}

  Result<MountInfo> mountInfo() override {
    return call<MountInfo>(true, [](Connection& c) {
      return c.cap<MetaService>().mountInfoRequest().send().then(
          [](capnp::Response<MetaService::MountInfoResults>&& r) -> Result<MountInfo> { return fromWire(r); });
    });
  }

  Result<Attr> lookup(const Cred& cred, InodeId parent, std::string_view name) override {
    return call<Attr>(true, [&](Connection& c) {
      auto req = c.cap<MetaService>().lookupRequest(capnp::MessageSize{16, 0});
      toWire(cred, req.initCred());
      req.setParent(parent);
      req.setName(text(name));
      return req.send().then([](capnp::Response<MetaService::LookupResults>&& r) { return fromWire(r.getResult()); });
    });
  }

  Result<Attr> getattr(InodeId ino) override {
    return call<Attr>(true, [&](Connection& c) {
      auto req = c.cap<MetaService>().getattrRequest(capnp::MessageSize{4, 0});
      req.setIno(ino);
      return req.send().then([](capnp::Response<MetaService::GetattrResults>&& r) { return fromWire(r.getResult()); });
    });
  }

  Result<Attr> setattr(const Cred& cred, InodeId ino, const SetAttr& s) override {
    return call<Attr>(true, [&](Connection& c) {
      auto req = c.cap<MetaService>().setattrRequest();
      toWire(cred, req.initCred());
      req.setIno(ino);
      toWire(s, req.initReq());
      return req.send().then([](capnp::Response<MetaService::SetattrResults>&& r) { return fromWire(r.getResult()); });
    });
  }

  Result<CreateResult> create(const Cred& cred, InodeId parent, std::string_view name, std::uint32_t mode,
                              bool exclusive, std::uint64_t rdev) override {
    return call<CreateResult>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().createRequest();
      toWire(cred, req.initCred());
      req.setParent(parent);
      req.setName(text(name));
      req.setMode(mode);
      req.setExclusive(exclusive);
      req.setRdev(rdev);
      return req.send().then([](capnp::Response<MetaService::CreateResults>&& r) { return fromWire(r); });
    });
  }

  Result<Attr> mkdir(const Cred& cred, InodeId parent, std::string_view name, std::uint32_t mode) override {
    return call<Attr>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().mkdirRequest();
      toWire(cred, req.initCred());
      req.setParent(parent);
      req.setName(text(name));
      req.setMode(mode);
      return req.send().then([](capnp::Response<MetaService::MkdirResults>&& r) { return fromWire(r.getResult()); });
    });
  }

  Result<Attr> symlink(const Cred& cred, InodeId parent, std::string_view name, std::string_view target) override {
    return call<Attr>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().symlinkRequest();
      toWire(cred, req.initCred());
      req.setParent(parent);
      req.setName(text(name));
      req.setTarget(text(target));
      return req.send().then([](capnp::Response<MetaService::SymlinkResults>&& r) { return fromWire(r.getResult()); });
    });
  }

  Result<std::string> readlink(InodeId ino) override {
    return call<std::string>(true, [&](Connection& c) {
      auto req = c.cap<MetaService>().readlinkRequest(capnp::MessageSize{4, 0});
      req.setIno(ino);
      return req.send().then([](capnp::Response<MetaService::ReadlinkResults>&& r) -> Result<std::string> {
        if (r.getErr() != 0) return Errno(r.getErr());
        return std::string(r.getTarget().cStr(), r.getTarget().size());
      });
    });
  }

  Result<DirPage> readdir(const Cred& cred, InodeId ino, std::string_view cookie, std::uint32_t maxEntries) override {
    return call<DirPage>(true, [&](Connection& c) {
      auto req = c.cap<MetaService>().readdirRequest();
      toWire(cred, req.initCred());
      req.setIno(ino);
      req.setCookie(bytes(cookie.data(), cookie.size()));
      req.setMaxEntries(maxEntries);
      return req.send().then([](capnp::Response<MetaService::ReaddirResults>&& r) { return fromWire(r); });
    });
  }

  Result<UnlinkResult> unlink(const Cred& cred, InodeId parent, std::string_view name, bool isDir) override {
    return call<UnlinkResult>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().unlinkRequest();
      toWire(cred, req.initCred());
      req.setParent(parent);
      req.setName(text(name));
      req.setIsDir(isDir);
      return req.send().then([](capnp::Response<MetaService::UnlinkResults>&& r) { return fromWire(r); });
    });
  }

  Result<RenameResult> rename(const Cred& cred, InodeId srcParent, std::string_view srcName, InodeId dstParent,
                              std::string_view dstName, std::uint32_t flags) override {
    return call<RenameResult>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().renameRequest();
      toWire(cred, req.initCred());
      req.setSrcParent(srcParent);
      req.setSrcName(text(srcName));
      req.setDstParent(dstParent);
      req.setDstName(text(dstName));
      req.setFlags(flags);
      return req.send().then([](capnp::Response<MetaService::RenameResults>&& r) { return fromWire(r); });
    });
  }

  Result<ShardStats> statfs() override {
    return call<ShardStats>(true, [](Connection& c) {
      return c.cap<MetaService>().statfsRequest().send().then(
          [](capnp::Response<MetaService::StatfsResults>&& r) -> Result<ShardStats> { return fromWire(r.getStats()); });
    });
  }

  Result<Attr> makeInode(const Cred& cred, InodeId parentHint, std::uint32_t mode, std::string_view target) override {
    return call<Attr>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().makeInodeRequest();
      toWire(cred, req.initCred());
      req.setParentHint(parentHint);
      req.setMode(mode);
      req.setTarget(text(target));
      return req.send().then([](capnp::Response<MetaService::MakeInodeResults>&& r) { return fromWire(r.getResult()); });
    });
  }

  Result<AddEntryResult> addEntry(const Cred& cred, InodeId parent, std::string_view name, InodeId ino,
                                  std::uint32_t mode, bool replace) override {
    return call<AddEntryResult>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().addEntryRequest();
      toWire(cred, req.initCred());
      req.setParent(parent);
      req.setName(text(name));
      req.setIno(ino);
      req.setMode(mode);
      req.setReplace(replace);
      return req.send().then([](capnp::Response<MetaService::AddEntryResults>&& r) { return fromWire(r); });
    });
  }

  Result<void> removeEntry(const Cred& cred, InodeId parent, std::string_view name, InodeId expectIno) override {
    return call<void>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().removeEntryRequest();
      toWire(cred, req.initCred());
      req.setParent(parent);
      req.setName(text(name));
      req.setExpectIno(expectIno);
      return req.send().then(
          [](capnp::Response<MetaService::RemoveEntryResults>&& r) { return fromErr(r.getErr()); });
    });
  }

  Result<LinkCountResult> linkCount(InodeId ino, std::int32_t delta, InodeId newParent) override {
    return call<LinkCountResult>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().linkCountRequest(capnp::MessageSize{6, 0});
      req.setIno(ino);
      req.setDelta(delta);
      req.setNewParent(newParent);
      return req.send().then([](capnp::Response<MetaService::LinkCountResults>&& r) { return fromWire(r); });
    });
  }

  Result<void> prepareRmdir(const Cred& cred, InodeId ino, bool undo) override {
    return call<void>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().prepareRmdirRequest();
      toWire(cred, req.initCred());
      req.setIno(ino);
      req.setUndo(undo);
      return req.send().then(
          [](capnp::Response<MetaService::PrepareRmdirResults>&& r) { return fromErr(r.getErr()); });
    });
  }

 private:
  template <typename T, typename Send>
  Result<T> call(bool idempotent, Send&& send) {
    return withLoop(cluster_, [&](auto& loop, auto& meta, auto&) {
      return callWithRetry<T>(loop, *meta[index_], retry_, idempotent, send);
    });
  }

  RpcCluster& cluster_;
  const std::uint32_t index_;
  const RetryPolicy retry_;
};

// All data servers over RPC; batches fan out in parallel.
class RpcDataPlane final : public DataPlane {
 public:
  RpcDataPlane(RpcCluster& cluster, std::uint32_t servers, const RetryPolicy& retry)
      : cluster_(cluster), servers_(servers), retry_(retry) {}

  std::uint32_t serverCount() const override { return servers_; }

  Result<void> write(std::span<const ChunkWrite> writes, bool sync) override {
    std::vector<Part> parts;
    for (const auto& w : writes) {
      parts.push_back(Part{dataServerForChunk(w.ino, w.chunk, servers_), [&w, sync](Connection& c) {
                             auto req = c.cap<DataService>().writeRequest(
                                 capnp::MessageSize{8 + w.data.size() / 8, 0});
                             req.setIno(w.ino);
                             req.setChunk(w.chunk);
                             req.setOffset(w.offset);
                             req.setData(bytes(w.data.data(), w.data.size()));
                             req.setSync(sync);
                             return req.send().then([](capnp::Response<DataService::WriteResults>&& r) {
                               return fromErr(r.getErr());
                             });
                           }});
    }
    return fanOut(parts);
  }

  Result<void> read(std::span<ChunkRead> reads) override {
    std::vector<Part> parts;
    for (auto& rd : reads) {
      parts.push_back(Part{dataServerForChunk(rd.ino, rd.chunk, servers_), [&rd](Connection& c) {
                             auto req = c.cap<DataService>().readRequest(capnp::MessageSize{6, 0});
                             req.setIno(rd.ino);
                             req.setChunk(rd.chunk);
                             req.setOffset(rd.offset);
                             req.setLength(rd.length);
                             return req.send().then([&rd](capnp::Response<DataService::ReadResults>&& r) {
                               if (r.getErr() != 0) return Result<void>(Errno(r.getErr()));
                               auto d = r.getData();
                               const size_t n = std::min<size_t>(d.size(), rd.length);
                               std::memcpy(rd.out, d.begin(), n);
                               rd.got = static_cast<std::uint32_t>(n);
                               return okResult();
                             });
                           }});
    }
    return fanOut(parts);
  }

  Result<void> truncate(InodeId ino, std::uint64_t size, std::uint32_t chunkSize) override {
    return everyServer([ino, size, chunkSize](Connection& c) {
      auto req = c.cap<DataService>().truncateRequest();
      req.setIno(ino);
      req.setSize(size);
      req.setChunkSize(chunkSize);
      return req.send().then([](capnp::Response<DataService::TruncateResults>&& r) { return fromErr(r.getErr()); });
    });
  }

  Result<void> remove(InodeId ino) override {
    return everyServer([ino](Connection& c) {
      auto req = c.cap<DataService>().removeRequest();
      req.setIno(ino);
      return req.send().then([](capnp::Response<DataService::RemoveResults>&& r) { return fromErr(r.getErr()); });
    });
  }

  Result<void> fsync(InodeId ino) override {
    return everyServer([ino](Connection& c) {
      auto req = c.cap<DataService>().fsyncRequest();
      req.setIno(ino);
      return req.send().then([](capnp::Response<DataService::FsyncResults>&& r) { return fromErr(r.getErr()); });
    });
  }

  Result<DataStats> stats(std::uint32_t server) override {
    if (server >= servers_) return Errno(EINVAL);
    auto send = [](Connection& c) {
      return c.cap<DataService>().statsRequest().send().then(
          [](capnp::Response<DataService::StatsResults>&& r) -> Result<DataStats> { return fromWire(r.getStats()); });
    };
    return withLoop(cluster_, [&](auto& loop, auto&, auto& data) {
      return callWithRetry<DataStats>(loop, *data[server], retry_, true, send);
    });
  }

 private:
  using Send = std::function<kj::Promise<Result<void>>(Connection&)>;
  struct Part {
    std::uint32_t server;
    Send send;
  };

  template <typename F>
  Result<void> everyServer(F f) {
    std::vector<Part> parts;
    for (std::uint32_t s = 0; s < servers_; ++s) parts.push_back(Part{s, f});
    return fanOut(parts);
  }

  // Sends every part at once; retries the parts whose transport failed (all data
  // operations are idempotent); the first POSIX error wins.
  Result<void> fanOut(std::vector<Part>& parts) {
    return withLoop(cluster_, [&](auto& loop, auto&, auto& data) { return fanOut(parts, loop, data); });
  }

  template <typename Loop>
  Result<void> fanOut(std::vector<Part>& parts, Loop& loop, std::vector<std::unique_ptr<Connection>>& data) {
    std::vector<size_t> pending(parts.size());
    for (size_t i = 0; i < parts.size(); ++i) pending[i] = i;
    for (int attemptNo = 1;; ++attemptNo) {
      kj::Array<Outcome<void>> outcomes;
      try {
        outcomes = loop.run([&]() {
          auto promises = kj::heapArrayBuilder<kj::Promise<Outcome<void>>>(pending.size());
          for (size_t i : pending) {
            promises.add(attempt<void>(loop, *data[parts[i].server], retry_.callTimeoutMs, parts[i].send));
          }
          return kj::joinPromises(promises.finish());
        });
      } catch (const kj::Exception& e) {
        logTransportFailure(data[parts[pending[0]].server]->address(), e.getDescription().cStr(), attemptNo);
        return Errno(EIO);
      }
      std::vector<size_t> again;
      for (size_t k = 0; k < pending.size(); ++k) {
        auto& o = outcomes[k];
        if (o.transport == Transport::kOk) {
          if (!*o.result) return o.result->error();
          continue;
        }
        const auto& conn = *data[parts[pending[k]].server];
        if (!retriable(o.transport, true) || attemptNo >= retry_.attempts) {
          logTransportFailure(conn.address(), o.detail, attemptNo);
          return Errno(EIO);
        }
        again.push_back(pending[k]);
      }
      if (again.empty()) return okResult();
      pending = std::move(again);
      backoff(retry_, attemptNo);
    }
  }

  RpcCluster& cluster_;
  const std::uint32_t servers_;
  const RetryPolicy retry_;
};

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

RpcCluster::RpcCluster(ClusterConfig config) : config_(std::move(config)), id_(gNextClusterId++) {
  {
    std::lock_guard lock(gLiveMu);
    liveClusters().insert(id_);
  }
  for (std::uint32_t i = 0; i < config_.metaAddresses.size(); ++i) {
    shards_.push_back(std::make_unique<RpcMetaShard>(*this, i, config_.retry));
  }
  data_ = std::make_unique<RpcDataPlane>(*this, static_cast<std::uint32_t>(config_.dataAddresses.size()), config_.retry);
}

RpcCluster::~RpcCluster() {
  {
    std::lock_guard lock(gLiveMu);
    liveClusters().erase(id_);
  }
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
  auto onMeta = [this](capnp::Capability::Client& cap) {
    auto req = cap.castAs<MetaService>().openSessionRequest();
    req.setCallback(kj::heap<CallbackImpl>(&invalidate_));
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    req.setClientName(kj::str(host, ":", getpid()));
    req.send().detach([](kj::Exception&&) {});  // a broken session shows up on the next call
  };
  for (const auto& a : config_.metaAddresses) s->meta.push_back(std::make_unique<Connection>(a, onMeta));
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
    for (const auto& a : config_.metaAddresses) d->meta.push_back(std::make_unique<Connection>(a, nullptr));
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

void RpcCluster::abandonAfterFork() {
  ++gForkGeneration;
  state_.store(nullptr);  // leaked on purpose: see EventLoopThread
  new (&stateMu_) std::mutex();
}

void RpcCluster::setInvalidateHandler(std::function<void(const std::vector<InodeId>&)> handler) {
  invalidate_ = std::move(handler);
}

}  // namespace myfs::rpc
