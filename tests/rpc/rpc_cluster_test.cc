// The client's transport (RpcCluster) against real services on unix sockets, hosted by
// threads of this process: calls, reconnection after a server restart, bounded retries
// then EIO for a server that is gone, and a timeout for one that does not answer.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <capnp/rpc-twoparty.h>
#include <capnp/schema.h>
#include <gtest/gtest.h>
#include <kj/async-io.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "rpc/rpc_cluster.h"
#include "server/meta/meta_service.h"
#include "tests/rpc/thread_server.h"

namespace myfs {
namespace {

using Clock = std::chrono::steady_clock;

using testing::ThreadServer;

class RpcClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/myfs-rpc-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    meta_ = std::make_unique<ThreadServer>(ThreadServer::Role::kMeta, dir_ + "/meta", dir_ + "/meta.sock");
    data_ = std::make_unique<ThreadServer>(ThreadServer::Role::kData, dir_ + "/data", dir_ + "/data.sock");
    cluster_ = std::make_unique<rpc::RpcCluster>(config());
  }
  // Another client of the same servers gets a config like this one (its own sessions).
  rpc::ClusterConfig config() const {
    rpc::ClusterConfig c;
    c.metaAddresses = {"unix:" + dir_ + "/meta.sock"};
    c.dataAddresses = {"unix:" + dir_ + "/data.sock"};
    c.retry.attempts = 3;
    c.retry.backoffMs = 20;
    c.retry.callTimeoutMs = 2000;
    return c;
  }
  // Two metadata shards (the second a new server); cluster_ is a client of both.
  rpc::ClusterConfig twoShardConfig() const {
    rpc::ClusterConfig c = config();
    c.metaAddresses.push_back("unix:" + dir_ + "/meta1.sock");
    return c;
  }
  std::unique_ptr<ThreadServer> useTwoShards() {
    cluster_.reset();
    meta_.reset();
    std::filesystem::remove_all(dir_ + "/meta");
    meta_ = std::make_unique<ThreadServer>(ThreadServer::Role::kMeta, dir_ + "/meta", dir_ + "/meta.sock",
                                           server::MetaServiceImpl::kDefaultLease, nullptr, 0, 2);
    auto second = std::make_unique<ThreadServer>(ThreadServer::Role::kMeta, dir_ + "/meta1", dir_ + "/meta1.sock",
                                                 server::MetaServiceImpl::kDefaultLease, nullptr, 1, 2);
    cluster_ = std::make_unique<rpc::RpcCluster>(twoShardConfig());
    return second;
  }
  void TearDown() override {
    cluster_.reset();
    meta_.reset();
    data_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<ThreadServer> meta_, data_;
  std::unique_ptr<rpc::RpcCluster> cluster_;
};

TEST_F(RpcClusterTest, MetadataAndDataCallsRoundTrip) {
  Cred root;
  auto mount = cluster_->shard(0).mountInfo();
  ASSERT_TRUE(mount.ok());
  EXPECT_EQ(kRootIno, mount->rootIno);
  auto created = cluster_->shard(0).create(root, kRootIno, "f", S_IFREG | 0644, true, 0);
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(created->created);
  EXPECT_EQ(EEXIST, cluster_->shard(0).create(root, kRootIno, "f", S_IFREG | 0644, true, 0).err());
  EXPECT_EQ(ENOENT, cluster_->shard(0).lookup(root, kRootIno, "missing", nullptr).err());

  std::string payload(300000, 'p');
  ChunkWrite w{created->attr.ino, 2, 10, std::as_bytes(std::span(payload))};
  ASSERT_TRUE(cluster_->data().write(std::span(&w, 1), true).ok());
  std::string back(payload.size() + 100, '?');
  ChunkRead r{created->attr.ino, 2, 10, static_cast<std::uint32_t>(back.size()),
              reinterpret_cast<std::byte*>(back.data()), 0};
  ASSERT_TRUE(cluster_->data().read(std::span(&r, 1)).ok());
  EXPECT_EQ(payload.size(), r.got);
  EXPECT_TRUE(payload == back.substr(0, r.got));
}

// The two last steps of a cross-shard mkdir go out together; a lost race (EEXIST) leaves
// an inode the caller frees; a server that is gone gives EIO for both.
TEST_F(RpcClusterTest, EntryAndLinkOfANewDirectoryTravelTogether) {
  Cred root;
  const std::uint32_t mode = S_IFDIR | 0755;
  auto made = cluster_->shard(0).makeInode(root, kRootIno, mode, "");
  ASSERT_TRUE(made.ok());
  Cluster::EntryAndLink both = cluster_->addEntryAndLink(root, kRootIno, "d", made->ino, mode);
  ASSERT_TRUE(both.entry.ok()) << both.entry.err();
  ASSERT_TRUE(both.link.ok()) << both.link.err();
  auto found = cluster_->shard(0).lookup(root, kRootIno, "d", nullptr);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(made->ino, found->ino);
  EXPECT_EQ(2u, found->nlink);

  auto loser = cluster_->shard(0).makeInode(root, kRootIno, mode, "");
  ASSERT_TRUE(loser.ok());
  both = cluster_->addEntryAndLink(root, kRootIno, "d", loser->ino, mode);
  EXPECT_EQ(EEXIST, both.entry.err());
  EXPECT_TRUE(both.link.ok());
  ASSERT_TRUE(cluster_->shard(0).linkCount(loser->ino, -1, 0).ok());
  EXPECT_EQ(ENOENT, cluster_->shard(0).getattr(loser->ino).err());

  meta_->stop();
  both = cluster_->addEntryAndLink(root, kRootIno, "e", loser->ino, mode);
  EXPECT_EQ(EIO, both.entry.err());
  EXPECT_EQ(EIO, both.link.err());
}

// A mkdir across shards is one call to the parent's shard: the directory's shard is owed
// it until the creator's next call there (another client's direct call to that shard
// does not find it yet), then the parent's shard is owed the confirmation; a creator
// owed kMaxOwedDirs directories sends them on their own.
TEST_F(RpcClusterTest, ADirectoryMadeInOneCallIsOwedToItsShardUntilTheNextCallThere) {
  std::unique_ptr<ThreadServer> other = useTwoShards();
  rpc::RpcCluster reader(twoShardConfig());
  Cred root;

  auto range = cluster_->shard(1).reserveInodes(rpc::RpcCluster::kMaxOwedDirs + 1);
  ASSERT_TRUE(range.ok()) << range.err();
  Result<Attr> made = cluster_->mkdirRemote(root, kRootIno, "d", range->first, S_IFDIR | 0755);
  ASSERT_TRUE(made.ok()) << made.err();
  EXPECT_EQ(range->first, made->ino);
  EXPECT_EQ(2u, made->nlink);
  EXPECT_TRUE(made->leased);
  EXPECT_TRUE(cluster_->deferredDirs().owes(1));
  EXPECT_EQ(ENOENT, reader.shard(1).getattr(made->ino).err());  // not asked through the entry: not made yet

  Result<Attr> there = cluster_->shard(1).getattr(made->ino);  // the creator's next call there
  ASSERT_TRUE(there.ok()) << there.err();
  EXPECT_EQ(made->mode, there->mode);
  EXPECT_EQ(made->ctimeNs, there->ctimeNs);
  EXPECT_FALSE(cluster_->deferredDirs().owes(1));
  EXPECT_TRUE(cluster_->deferredDirs().owes(0));  // the entry's intent may go
  ASSERT_TRUE(cluster_->shard(0).statfs().ok());
  EXPECT_FALSE(cluster_->deferredDirs().owes(0));
  EXPECT_EQ(2u, reader.shard(1).getattr(made->ino)->nlink);

  // Owed more than kMaxOwedDirs: sent at once.
  for (std::uint32_t i = 1; i <= rpc::RpcCluster::kMaxOwedDirs; ++i) {
    ASSERT_TRUE(cluster_->mkdirRemote(root, kRootIno, "e" + std::to_string(i), range->first + i, S_IFDIR | 0700).ok());
    EXPECT_EQ(i < rpc::RpcCluster::kMaxOwedDirs, cluster_->deferredDirs().owes(1)) << i;
  }
  EXPECT_EQ(S_IFDIR | 0700u, reader.shard(1).getattr(range->first + 7)->mode);
  cluster_.reset();
  other.reset();
}

// Calls that go straight to two shards at once (the two-step mkdir's entry and link) send
// what is owed first, as every other call does: the entry lands in a directory made by
// mkdirRemote just before. A directory whose shard cannot be reached stays owed, and
// settleDir says so (EIO) until the shard is back.
TEST_F(RpcClusterTest, OwedDirectoriesGoAheadOfParallelCallsAndSettleDirWaitsForTheirShard) {
  std::unique_ptr<ThreadServer> other = useTwoShards();
  Cred root;
  auto range = cluster_->shard(1).reserveInodes(2);
  ASSERT_TRUE(range.ok());
  Result<Attr> d = cluster_->mkdirRemote(root, kRootIno, "d", range->first, S_IFDIR | 0755);
  ASSERT_TRUE(d.ok()) << d.err();
  Result<Attr> e = cluster_->shard(0).makeInode(root, d->ino, S_IFDIR | 0755, "");
  ASSERT_TRUE(e.ok()) << e.err();
  Cluster::EntryAndLink both = cluster_->addEntryAndLink(root, d->ino, "e", e->ino, S_IFDIR | 0755);
  ASSERT_TRUE(both.entry.ok()) << both.entry.err();
  ASSERT_TRUE(both.link.ok()) << both.link.err();
  EXPECT_EQ(e->ino, cluster_->shard(1).lookup(root, d->ino, "e", nullptr)->ino);

  Result<Attr> f = cluster_->mkdirRemote(root, kRootIno, "f", range->first + 1, S_IFDIR | 0755);
  ASSERT_TRUE(f.ok()) << f.err();
  other->stop();
  EXPECT_EQ(EIO, cluster_->settleDir(f->ino).err());
  EXPECT_TRUE(cluster_->deferredDirs().owesDir(f->ino));
  other->start();
  EXPECT_TRUE(cluster_->settleDir(f->ino).ok());
  EXPECT_FALSE(cluster_->deferredDirs().owesDir(f->ino));
  EXPECT_TRUE(cluster_->settleDir(d->ino).ok());  // not owed: nothing to do
  cluster_.reset();
  other.reset();
}

// Every thread has its own connections: what one thread's mkdirs left owed goes ahead of
// any thread's next call to that shard, so another thread finds the directories at once.
TEST_F(RpcClusterTest, ADirectoryOneThreadMadeIsThereForAnotherThreadsNextCall) {
  std::unique_ptr<ThreadServer> other = useTwoShards();
  Cred root;
  constexpr int kPerMaker = 30;
  std::mutex mu;
  std::vector<InodeId> made;  // GUARDED_BY(mu)
  std::atomic<int> makersLeft{2}, found{0}, missing{0};
  auto maker = [&](int t) {
    auto range = cluster_->shard(1).reserveInodes(kPerMaker);
    ASSERT_TRUE(range.ok());
    for (int i = 0; i < kPerMaker; ++i) {
      const std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
      Result<Attr> a = cluster_->mkdirRemote(root, kRootIno, name, range->first + i, S_IFDIR | 0755);
      EXPECT_TRUE(a.ok()) << a.err();
      if (!a) continue;
      std::lock_guard lock(mu);
      made.push_back(a->ino);
    }
    --makersLeft;
  };
  auto user = [&] {
    std::size_t next = 0;
    for (;;) {
      InodeId ino = 0;
      {
        std::lock_guard lock(mu);
        if (next < made.size()) ino = made[next++];
      }
      if (ino == 0) {
        if (makersLeft == 0 && [&] { std::lock_guard lock(mu); return next == made.size(); }()) return;
        std::this_thread::yield();
        continue;
      }
      (cluster_->shard(1).getattr(ino).ok() ? found : missing)++;
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(maker, 0);
  threads.emplace_back(maker, 1);
  threads.emplace_back(user);
  threads.emplace_back(user);
  for (auto& t : threads) t.join();
  EXPECT_EQ(0, missing.load());
  EXPECT_EQ(2 * 2 * kPerMaker, found.load());
  cluster_.reset();
  other.reset();
}

// Records recalls; gives back the write grants it is handed (releasedWrites), again after
// a renewal that carried them failed.
class RecordingListener final : public LeaseListener {
 public:
  RecallAnswer recall(std::uint32_t, std::span<const InodeId> inos, bool) override {
    std::lock_guard lock(mu_);
    recalled_.insert(recalled_.end(), inos.begin(), inos.end());
    return {};
  }
  void flushRecalled(std::span<const InodeId>) override {}
  void sessionStarted(std::uint32_t, std::int64_t, std::uint32_t) override {}
  void renewed(std::uint32_t, std::int64_t, std::uint32_t, bool) override {}
  std::vector<InodeId> forgotten(std::uint32_t) override { return {}; }
  std::vector<WriteGrant> releasedWrites(std::uint32_t) override {
    std::lock_guard lock(mu_);
    return std::exchange(release_, {});
  }
  void renewalFailed(std::uint32_t, std::vector<InodeId>, std::vector<WriteGrant> released) override {
    std::lock_guard lock(mu_);
    release_.insert(release_.end(), released.begin(), released.end());
  }
  void giveBack(WriteGrant g) {
    std::lock_guard lock(mu_);
    release_.push_back(g);
  }
  std::vector<InodeId> recalled() {
    std::lock_guard lock(mu_);
    return recalled_;
  }

 private:
  std::mutex mu_;
  std::vector<WriteGrant> release_;
  std::vector<InodeId> recalled_;
};

// A write lease given back goes to the server with a renewal asked for from another
// thread (renewSoon), long before the regular one: another session's lookup then
// recalls nothing. One kept is recalled by that lookup.
TEST_F(RpcClusterTest, AWriteLeaseGivenBackReachesTheServerSoon) {
  Cred root;
  RecordingListener listener;
  cluster_->setLeaseListener(&listener);
  rpc::RpcCluster other(config());

  auto kept = cluster_->shard(0).create(root, kRootIno, "kept", S_IFREG | 0644, true, 0);
  auto given = cluster_->shard(0).create(root, kRootIno, "given", S_IFREG | 0644, true, 0);
  ASSERT_TRUE(kept.ok() && given.ok());
  ASSERT_NE(kept->writeLease, 0u);
  ASSERT_NE(given->writeLease, 0u);
  listener.giveBack({given->attr.ino, given->writeLease});
  std::thread([&] { cluster_->renewSoon(0); }).join();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the regular renewal: 1/3 of 10 s

  ASSERT_TRUE(other.shard(0).lookup(root, kRootIno, "given", nullptr).ok());
  EXPECT_TRUE(listener.recalled().empty());
  ASSERT_TRUE(other.shard(0).lookup(root, kRootIno, "kept", nullptr).ok());
  EXPECT_EQ(listener.recalled(), std::vector<InodeId>{kept->attr.ino});
  cluster_->setLeaseListener(nullptr);
}

// Passes every call on to `inner`, wrapping the service each openSession returns likewise;
// the first renewSession that gives write leases back fails instead (the connection
// stays up, as when the server throws).
class FailFirstRelease final : public capnp::Capability::Server {
 public:
  FailFirstRelease(capnp::Capability::Client inner, std::shared_ptr<std::atomic<int>> failures)
      : inner_(kj::mv(inner)), failures_(std::move(failures)) {}

  DispatchCallResult dispatchCall(std::uint64_t interfaceId, std::uint16_t methodId,
                                  capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override {
    using schema::MetaService;
    auto method = [](const char* name) {
      return capnp::Schema::from<MetaService>().getMethodByName(name).getOrdinal();
    };
    auto params = context.getParams();
    const bool meta = interfaceId == capnp::typeId<MetaService>();
    if (meta && methodId == method("renewSession") &&
        params.getAs<MetaService::RenewSessionParams>().getReleaseWrites().size() > 0 && failures_->load() == 0) {
      failures_->fetch_add(1);
      return {KJ_EXCEPTION(FAILED, "renewal failed on purpose"), false};
    }
    auto req = inner_.typelessRequest(interfaceId, methodId, params.targetSize());
    req.set(params);
    if (!(meta && methodId == method("openSession"))) return {context.tailCall(kj::mv(req)), false};
    return {req.send().then([context, failures = failures_](capnp::Response<capnp::AnyPointer>&& r) mutable {
              auto in = r.getAs<MetaService::OpenSessionResults>();
              context.getResults().setAs<MetaService::OpenSessionResults>(in);
              auto out = context.getResults().getAs<MetaService::OpenSessionResults>();
              out.setService(capnp::Capability::Client(kj::heap<FailFirstRelease>(in.getService(), failures))
                                 .castAs<MetaService>());
            }),
            false};
  }

 private:
  capnp::Capability::Client inner_;
  std::shared_ptr<std::atomic<int>> failures_;
};

// A renewal that fails keeps what it carried for the next one: the write lease it was
// giving back reaches the server with the regular renewal after it, and another
// session's lookup then recalls nothing.
TEST_F(RpcClusterTest, AWriteLeaseGivenBackByAFailedRenewalGoesWithTheNext) {
  auto failures = std::make_shared<std::atomic<int>>(0);
  cluster_.reset();
  meta_.reset();
  const std::chrono::milliseconds lease{300};  // renewals every 100 ms
  meta_ = std::make_unique<ThreadServer>(ThreadServer::Role::kMeta, dir_ + "/meta", dir_ + "/meta.sock", lease,
                                         [failures](capnp::Capability::Client inner) -> capnp::Capability::Client {
                                           return kj::heap<FailFirstRelease>(kj::mv(inner), failures);
                                         });
  cluster_ = std::make_unique<rpc::RpcCluster>(config());
  Cred root;
  RecordingListener listener;
  cluster_->setLeaseListener(&listener);
  rpc::RpcCluster other(config());

  auto given = cluster_->shard(0).create(root, kRootIno, "given", S_IFREG | 0644, true, 0);
  ASSERT_TRUE(given.ok());
  ASSERT_NE(given->writeLease, 0u);
  listener.giveBack({given->attr.ino, given->writeLease});
  std::thread([&] { cluster_->renewSoon(0); }).join();
  const auto until = Clock::now() + std::chrono::seconds(2);
  while (failures->load() == 0 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(1, failures->load());  // the renewal that carried it failed
  std::this_thread::sleep_for(lease + std::chrono::milliseconds(100));  // the regular renewals after it

  ASSERT_TRUE(other.shard(0).lookup(root, kRootIno, "given", nullptr).ok());
  EXPECT_TRUE(listener.recalled().empty());
  cluster_->setLeaseListener(nullptr);
}

TEST_F(RpcClusterTest, ReconnectsAfterTheServerRestarts) {
  ASSERT_TRUE(cluster_->shard(0).getattr(kRootIno).ok());
  meta_->stop();
  EXPECT_EQ(EIO, cluster_->shard(0).getattr(kRootIno).err());
  meta_->start();
  auto again = cluster_->shard(0).getattr(kRootIno);
  EXPECT_TRUE(again.ok()) << errnoName(again.err());
}

// A call that may not be repeated (create) must not be sent into the connection of a
// server that was restarted while the client was idle: the client notices the hang-up
// and connects anew first.
TEST_F(RpcClusterTest, ACallThatMayNotBeRepeatedAfterAnIdleRestartReachesTheNewServer) {
  Cred root;
  ASSERT_TRUE(cluster_->shard(0).getattr(kRootIno).ok());
  meta_->stop();
  meta_->start();
  std::this_thread::sleep_for(rpc::Connection::kIdleCheck + std::chrono::milliseconds(5));
  auto made = cluster_->shard(0).create(root, kRootIno, "after-restart", S_IFREG | 0644, true, 0);
  EXPECT_TRUE(made.ok()) << errnoName(made.err());
}

TEST_F(RpcClusterTest, GoneServerGivesEioAfterBoundedRetries) {
  data_->stop();
  auto start = Clock::now();
  EXPECT_EQ(EIO, cluster_->data().fsync(42).err());
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_LT(s, 2.0);   // 3 attempts with 20 ms, 40 ms backoff
  EXPECT_GT(s, 0.05);  // and it did retry
}

TEST_F(RpcClusterTest, SilentServerTimesOut) {
  // A listener that accepts but never answers.
  const std::string silent = dir_ + "/silent.sock";
  std::thread t([&] {
    auto io = kj::setupAsyncIo();
    auto listener = io.provider->getNetwork().parseAddress("unix:" + silent).wait(io.waitScope)->listen();
    auto conn = listener->accept().wait(io.waitScope);
    io.provider->getTimer().afterDelay(1 * kj::SECONDS).wait(io.waitScope);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  rpc::ClusterConfig c;
  c.metaAddresses = {"unix:" + silent};
  c.dataAddresses = {"unix:" + silent};
  c.retry.attempts = 1;
  c.retry.callTimeoutMs = 300;
  rpc::RpcCluster quiet(c);
  auto start = Clock::now();
  EXPECT_EQ(EIO, quiet.shard(0).getattr(kRootIno).err());
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 2.0);
  t.join();
}

TEST(ClusterConfigTest, RejectsMissingAndMalformedSettings) {
  std::string error;
  unsetenv("MYFS_META");
  setenv("MYFS_DATA", "unix:/x", 1);
  EXPECT_EQ(EINVAL, rpc::ClusterConfig::fromEnvironment(&error).err());
  EXPECT_NE(std::string::npos, error.find("MYFS_META"));
  setenv("MYFS_META", "unix:/a,unix:/b", 1);
  setenv("MYFS_RPC_TIMEOUT_MS", "soon", 1);
  EXPECT_EQ(EINVAL, rpc::ClusterConfig::fromEnvironment(&error).err());
  EXPECT_NE(std::string::npos, error.find("MYFS_RPC_TIMEOUT_MS"));
  setenv("MYFS_RPC_TIMEOUT_MS", "250", 1);
  auto c = rpc::ClusterConfig::fromEnvironment(&error);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(2u, c->metaAddresses.size());
  EXPECT_EQ(250u, c->retry.callTimeoutMs);
  unsetenv("MYFS_RPC_TIMEOUT_MS");
}

}  // namespace
}  // namespace myfs
