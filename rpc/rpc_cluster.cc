// RpcCluster: configuration, the shared loop thread, each application thread's own
// loop (DirectState), fork handling. The stubs are in meta_client.cc and data_client.cc.
#include "rpc/rpc_cluster.h"

#include <unistd.h>

#include <cstdlib>
#include <new>
#include <set>
#include <sstream>

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
    shards_.push_back(makeRpcMetaShard(*this, i, config_.retry));
  }
  data_ = makeRpcDataPlane(*this, static_cast<std::uint32_t>(config_.dataAddresses.size()), config_.retry);
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
