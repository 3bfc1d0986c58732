// The fixture of the in-process delegation tests (delegation_test.cc,
// unlink_ahead_test.cc): two clients (each a Vfs over its own RpcCluster, as the
// LD_PRELOAD client builds one) against the same metadata server(s) and data server,
// hosted by threads of this process on unix sockets; the metadata servers wrapped
// (ServerView) to count what reaches them: each method, the files makeFiles carries, the
// write leases given back with renewals and the recalls sent to clients; recalls can
// also be left unanswered (a client that seems stopped), and some creates held back (a
// connection slower than another). Each test runs with one metadata shard and with two
// (its directory then on the second: made by mkdirRemote).
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <capnp/schema.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/placement.h"
#include "core/vfs.h"
#include "rpc/rpc_cluster.h"
#include "schema/meta.capnp.h"
#include "tests/rpc/thread_server.h"

namespace myfs::delegation_testing {

using Clock = std::chrono::steady_clock;
using schema::MetaService;
using testing::ThreadServer;

// Short leases keep the tests quick: renewals every third of it; a session that does not
// answer a recall is revoked after a quarter of it (the server's recall timeout).
constexpr std::chrono::milliseconds kLease{2000};

inline std::uint16_t ordinal(const char* method) {
  return capnp::Schema::from<MetaService>().getMethodByName(method).getOrdinal();
}

// What reached the metadata servers (all shards together). Written on the servers'
// threads, read by the test.
struct ServerView {
  std::array<std::atomic<int>, 64> calls{};  // per MetaService method ordinal
  std::atomic<int> filesSent{0};             // FileIntents carried by makeFiles (resends too)
  std::atomic<int> invalidates{0};           // recalls sent to clients
  std::atomic<int> invalidatesOver{0};       // ... of which answered or given up
  std::atomic<bool> stallRecalls{false};     // recalls are never answered while set
  // creates of names starting with "slow" are held this long before the service sees
  // them (as a busy network or server may hold one connection's call behind another's)
  std::atomic<int> delaySlowCreatesMs{0};
  std::mutex mu;
  std::vector<InodeId> released;  // GUARDED_BY(mu): write leases given back by renewals
  std::vector<std::thread> delayers;  // GUARDED_BY(mu)

  ~ServerView() {
    for (std::thread& t : delayers) t.join();
  }

  int count(const char* method) const { return calls[ordinal(method)].load(); }
  bool wasReleased(InodeId ino) {
    std::lock_guard lock(mu);
    return std::find(released.begin(), released.end(), ino) != released.end();
  }
};

// Passes a recall on to the client's callback, counting it; while stallRecalls is set it
// never answers (the server's recall timeout then revokes the session).
class CountingCallback final : public schema::ClientCallback::Server {
 public:
  CountingCallback(schema::ClientCallback::Client inner, std::shared_ptr<ServerView> view)
      : inner_(kj::mv(inner)), view_(std::move(view)) {}

 protected:
  kj::Promise<void> invalidate(InvalidateContext context) override {
    view_->invalidates.fetch_add(1);
    auto over = kj::defer([view = view_] { view->invalidatesOver.fetch_add(1); });
    if (view_->stallRecalls.load()) return kj::Promise<void>(kj::NEVER_DONE).attach(kj::mv(over));
    auto p = context.getParams();
    auto req = inner_.invalidateRequest(capnp::MessageSize{4 + p.getInos().size(), 0});
    req.setInos(p.getInos());
    req.setWritesOnly(p.getWritesOnly());
    return req.send()
        .then([context](capnp::Response<schema::ClientCallback::InvalidateResults>&& r) mutable {
          context.getResults().setOpen(r.getOpen());
        })
        .attach(kj::mv(over));
  }

 private:
  schema::ClientCallback::Client inner_;
  std::shared_ptr<ServerView> view_;
};

// Stands between the connections and a MetaService: counts every call, wraps the
// callback each openSession hands over, and the service each openSession or attach
// returns likewise.
class CountingMeta final : public capnp::Capability::Server {
 public:
  CountingMeta(capnp::Capability::Client inner, std::shared_ptr<ServerView> view)
      : inner_(kj::mv(inner)), view_(std::move(view)) {}

  DispatchCallResult dispatchCall(std::uint64_t interfaceId, std::uint16_t methodId,
                                  capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override {
    auto params = context.getParams();
    const bool meta = interfaceId == capnp::typeId<MetaService>();
    if (meta && methodId < view_->calls.size()) view_->calls[methodId].fetch_add(1);
    if (meta && methodId == ordinal("makeFiles")) {
      view_->filesSent.fetch_add(static_cast<int>(params.getAs<MetaService::MakeFilesParams>().getFiles().size()));
    }
    if (meta && methodId == ordinal("renewSession")) {
      auto given = params.getAs<MetaService::RenewSessionParams>().getReleaseWrites();
      std::lock_guard lock(view_->mu);
      for (auto g : given) view_->released.push_back(g.getIno());
    }
    auto req = inner_.typelessRequest(interfaceId, methodId, params.targetSize());
    req.set(params);
    if (meta && methodId == ordinal("create") && view_->delaySlowCreatesMs.load() > 0 &&
        std::string_view(params.getAs<MetaService::CreateParams>().getName().cStr()).starts_with("slow")) {
      auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
      auto fulfiller = std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<void>>>(kj::mv(paf.fulfiller));
      {
        std::lock_guard lock(view_->mu);
        view_->delayers.emplace_back([fulfiller, ms = view_->delaySlowCreatesMs.load()] {
          std::this_thread::sleep_for(std::chrono::milliseconds(ms));
          (*fulfiller)->fulfill();
        });
      }
      return {paf.promise.then([context, req = kj::mv(req)]() mutable { return context.tailCall(kj::mv(req)); }),
              false};
    }
    if (meta && methodId == ordinal("openSession")) {
      auto p = req.getAs<MetaService::OpenSessionParams>();
      p.setCallback(kj::heap<CountingCallback>(p.getCallback(), view_));
      return {req.send().then([context, view = view_](capnp::Response<capnp::AnyPointer>&& r) mutable {
                auto in = r.getAs<MetaService::OpenSessionResults>();
                context.getResults().setAs<MetaService::OpenSessionResults>(in);
                context.getResults().getAs<MetaService::OpenSessionResults>().setService(
                    capnp::Capability::Client(kj::heap<CountingMeta>(in.getService(), view)).castAs<MetaService>());
              }),
              false};
    }
    if (meta && methodId == ordinal("attach")) {
      return {req.send().then([context, view = view_](capnp::Response<capnp::AnyPointer>&& r) mutable {
                auto in = r.getAs<MetaService::AttachResults>();
                context.getResults().setAs<MetaService::AttachResults>(in);
                context.getResults().getAs<MetaService::AttachResults>().setService(
                    capnp::Capability::Client(kj::heap<CountingMeta>(in.getService(), view)).castAs<MetaService>());
              }),
              false};
    }
    return {context.tailCall(kj::mv(req)), false};
  }

 private:
  capnp::Capability::Client inner_;
  std::shared_ptr<ServerView> view_;
};

// The layout getdents64(2) fills in.
struct LinuxDirent64 {
  std::uint64_t d_ino;
  std::int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

struct Listed {
  InodeId ino = 0;
  unsigned type = 0;
};

// The names in directory `path` (without "." and ".."), read through getdents with fd
// `fd`. A name listed twice is reported in *twice.
inline Result<std::map<std::string, Listed>> listDir(Vfs& vfs, int fd, const std::string& path,
                                              std::vector<std::string>* twice = nullptr) {
  MYFS_TRY(vfs.open(fd, At::root(), path, O_RDONLY | O_DIRECTORY, 0));
  std::map<std::string, Listed> out;
  std::vector<char> buf(32768);
  for (;;) {
    Result<size_t> n = vfs.getdents(fd, buf.data(), buf.size());
    if (!n) {
      (void)vfs.close(fd);
      return n.error();
    }
    if (*n == 0) break;
    for (size_t off = 0; off < *n;) {
      const auto* d = reinterpret_cast<const LinuxDirent64*>(buf.data() + off);
      const std::string name = d->d_name;
      off += d->d_reclen;
      if (name == "." || name == "..") continue;
      if (!out.emplace(name, Listed{d->d_ino, d->d_type}).second && twice != nullptr) twice->push_back(name);
    }
  }
  MYFS_TRY(vfs.close(fd));
  return out;
}

// open(O_CREAT | O_EXCL | O_WRONLY) then close.
inline Result<void> createExclusive(Vfs& vfs, int fd, const std::string& path, mode_t mode) {
  MYFS_TRY(vfs.open(fd, At::root(), path, O_CREAT | O_EXCL | O_WRONLY, mode));
  return vfs.close(fd);
}

inline std::string pattern(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen());
  return s;
}

// Aborts the process when a test does not finish in time: a deadlock shows up as a
// failure naming the test, not as a hang.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit)
      : thread_([this, limit] {
          std::unique_lock lock(mu_);
          if (cv_.wait_for(lock, limit, [this] { return done_; })) return;
          const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
          std::fprintf(stderr, "%s.%s did not finish in %lld s (a deadlock?): aborting\n",
                       info != nullptr ? info->test_suite_name() : "?", info != nullptr ? info->name() : "?",
                       static_cast<long long>(limit.count()));
          std::abort();
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

class DelegationTest : public ::testing::TestWithParam<std::uint32_t> {
 protected:
  void SetUp() override {
    watchdog_ = std::make_unique<Watchdog>(std::chrono::seconds(180));
    char tmpl[] = "/tmp/myfs-deleg-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    view_ = std::make_shared<ServerView>();
    const std::uint32_t shards = GetParam();
    auto wrap = [view = view_](capnp::Capability::Client inner) -> capnp::Capability::Client {
      return kj::heap<CountingMeta>(kj::mv(inner), view);
    };
    for (std::uint32_t i = 0; i < shards; ++i) {
      const std::string base = dir_ + "/meta" + std::to_string(i);
      meta_.push_back(std::make_unique<ThreadServer>(ThreadServer::Role::kMeta, base, base + ".sock", kLease, wrap, i,
                                                     shards, true));
    }
    data_ = std::make_unique<ThreadServer>(ThreadServer::Role::kData, dir_ + "/data", dir_ + "/data.sock");
    clusterA_ = std::make_unique<rpc::RpcCluster>(config());
    clusterB_ = std::make_unique<rpc::RpcCluster>(config());
    auto a = makeVfs(*clusterA_, VfsOptions{});
    ASSERT_TRUE(a.ok()) << errnoName(a.err());
    a_ = std::move(*a);
    auto b = makeVfs(*clusterB_, VfsOptions{});
    ASSERT_TRUE(b.ok()) << errnoName(b.err());
    b_ = std::move(*b);
  }
  void TearDown() override {
    view_->stallRecalls = false;
    view_->delaySlowCreatesMs = 0;
    // No recall is left running in a client when it goes.
    const auto until = Clock::now() + std::chrono::seconds(5);
    while (view_->invalidatesOver.load() != view_->invalidates.load() && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(view_->invalidates.load(), view_->invalidatesOver.load()) << "recalls still running at the end";
    // Those that ran are over: they answered, and a client answers a recall once its
    // listener is done with it. ThreadSanitizer cannot see that order (it went through
    // sockets and the servers), so a hand-off to each client's loop thread and recall
    // flusher, after the work they did, makes it visible before the Vfs goes.
    for (rpc::RpcCluster* c : {clusterA_.get(), clusterB_.get()}) {
      if (c == nullptr) continue;
      for (std::uint32_t i = 0; i < c->shardCount(); ++i) (void)c->sessionIdFor(i);
      std::promise<void> flushed;
      c->flusher().submit([&flushed] { flushed.set_value(); });
      flushed.get_future().wait();
      std::promise<void> removed;  // and the data removals of what was unlinked ahead
      c->remover().submit([&removed] { removed.set_value(); });
      removed.get_future().wait();
    }
    a_.reset();
    b_.reset();
    clusterA_.reset();
    clusterB_.reset();
    meta_.clear();
    data_.reset();
    std::filesystem::remove_all(dir_);
    watchdog_.reset();
  }
  rpc::ClusterConfig config() const {
    rpc::ClusterConfig c;
    for (std::size_t i = 0; i < meta_.size(); ++i) {
      c.metaAddresses.push_back("unix:" + dir_ + "/meta" + std::to_string(i) + ".sock");
    }
    c.dataAddresses = {"unix:" + dir_ + "/data.sock"};
    c.retry.attempts = 3;
    c.retry.backoffMs = 20;
    c.retry.callTimeoutMs = 10000;
    return c;
  }
  // A name for a new directory in the root: with several shards, one whose inode lives on
  // the last shard (made there in one call to the root's shard, mkdirRemote), so that its
  // delegation and files go to another shard than the root's.
  std::string dirName(const std::string& base) const {
    const std::uint32_t shards = GetParam();
    for (int i = 0;; ++i) {
      std::string name = base + std::to_string(i);
      if (shardForNewDirectory(kRootIno, name, shards) == shards - 1) return name;
    }
  }

  std::unique_ptr<Watchdog> watchdog_;
  std::string dir_;
  std::shared_ptr<ServerView> view_;
  std::vector<std::unique_ptr<ThreadServer>> meta_;
  std::unique_ptr<ThreadServer> data_;
  std::unique_ptr<rpc::RpcCluster> clusterA_, clusterB_;
  std::unique_ptr<Vfs> a_, b_;
};

}  // namespace myfs::delegation_testing
