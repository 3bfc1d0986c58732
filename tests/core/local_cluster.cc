#include "tests/core/local_cluster.h"

#include "server/meta/lock_table.h"

#include <stdlib.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace myfs::testing {
namespace {

class LocalShard final : public MetaShard {
 public:
  LocalShard(server::MetaStore& store, CallCounts& counts, std::atomic<bool>& leases)
      : s_(store), counts_(counts), leases_(leases) {}

  Result<MountInfo> mountInfo() override { return s_.mountInfo(); }
  Result<Attr> lookup(const Cred& c, InodeId p, std::string_view n, bool* parentLeased) override {
    ++counts_.lookups;
    if (parentLeased != nullptr) *parentLeased = leases_;
    Result<Attr> r = s_.lookup(c, p, n);
    if (r && r->nlink != 0) r->leased = leases_;
    return r;
  }
  Result<Attr> getattr(InodeId ino) override {
    ++counts_.getattrs;
    Result<Attr> r = s_.getattr(ino);
    if (r) r->leased = leases_;
    return r;
  }
  Result<Attr> setattr(const Cred& c, InodeId ino, const SetAttr& req) override {
    return s_.setattr(c, ino, req);
  }
  Result<CreateResult> create(const Cred& c, InodeId p, std::string_view n, std::uint32_t mode, bool excl,
                              std::uint64_t rdev) override {
    ++counts_.creates;
    return s_.create(c, p, n, mode, excl, rdev);
  }
  Result<Attr> mkdir(const Cred& c, InodeId p, std::string_view n, std::uint32_t mode) override {
    return s_.mkdir(c, p, n, mode);
  }
  Result<Attr> symlink(const Cred& c, InodeId p, std::string_view n, std::string_view t) override {
    return s_.symlink(c, p, n, t);
  }
  Result<std::string> readlink(InodeId ino) override { return s_.readlink(ino); }
  Result<DirPage> readdir(const Cred& c, InodeId ino, std::string_view cookie, std::uint32_t max) override {
    return s_.readdir(c, ino, cookie, max);
  }
  Result<UnlinkResult> unlink(const Cred& c, InodeId p, std::string_view n, bool isDir) override {
    return s_.unlink(c, p, n, isDir);
  }
  Result<RenameResult> rename(const Cred& c, InodeId sp, std::string_view sn, InodeId dp, std::string_view dn,
                              std::uint32_t flags) override {
    return s_.rename(c, sp, sn, dp, dn, flags);
  }
  Result<ShardStats> statfs() override { return s_.statfs(); }
  Result<Attr> makeInode(const Cred& c, InodeId hint, std::uint32_t mode, std::string_view target) override {
    return s_.makeInode(c, hint, mode, target);
  }
  Result<AddEntryResult> addEntry(const Cred& c, InodeId p, std::string_view n, InodeId ino, std::uint32_t mode,
                                  bool replace) override {
    return s_.addEntry(c, p, n, ino, mode, replace);
  }
  Result<void> removeEntry(const Cred& c, InodeId p, std::string_view n, InodeId expect) override {
    return s_.removeEntry(c, p, n, expect);
  }
  Result<LinkCountResult> linkCount(InodeId ino, std::int32_t delta, InodeId newParent) override {
    return s_.linkCount(ino, delta, newParent);
  }
  Result<InodeRange> reserveInodes(std::uint32_t count) override { return s_.reserveInodes(kOwner, count); }
  Result<Attr> makeReservedDir(const Cred& c, InodeId ino, InodeId parent, std::uint32_t mode) override {
    return s_.makeReservedDir(c, kOwner, ino, parent, mode);
  }
  Result<std::optional<FileLock>> lock(InodeId ino, const FileLock& req, bool test) override {
    std::lock_guard lock(locksMu_);
    const auto now = server::LockTable::Clock::now();
    if (test) return locks_.test(ino, req, now);
    MYFS_TRY(locks_.set(ino, req, now));
    return std::optional<FileLock>();
  }
  Result<std::uint32_t> renewLocks(std::uint64_t client) override {
    std::lock_guard lock(locksMu_);
    locks_.renew(client, server::LockTable::Clock::now());
    return static_cast<std::uint32_t>(locks_.lease().count());
  }
  Result<void> prepareRmdir(const Cred& c, InodeId ino, bool undo) override { return s_.prepareRmdir(c, ino, undo); }
  Result<std::string> getxattr(const Cred& c, InodeId ino, std::string_view name) override {
    return s_.getxattr(c, ino, name);
  }
  Result<Attr> setxattr(const Cred& c, InodeId ino, std::string_view name, std::string_view value,
                        std::uint32_t flags) override {
    return s_.setxattr(c, ino, name, value, flags);
  }
  Result<std::vector<std::string>> listxattr(const Cred& c, InodeId ino) override { return s_.listxattr(c, ino); }
  Result<Attr> removexattr(const Cred& c, InodeId ino, std::string_view name) override {
    return s_.removexattr(c, ino, name);
  }

 private:
  static constexpr std::uint64_t kOwner = 1;  // one client: one session

  server::MetaStore& s_;
  CallCounts& counts_;
  std::atomic<bool>& leases_;
  std::mutex locksMu_;
  server::LockTable locks_{std::chrono::seconds(10)};
};

class LocalData final : public DataPlane {
 public:
  LocalData(std::vector<std::unique_ptr<server::ChunkStore>>& stores, CallCounts& counts, std::atomic<int>& failure)
      : stores_(stores), counts_(counts), failure_(failure) {}

  std::uint32_t serverCount() const override { return static_cast<std::uint32_t>(stores_.size()); }

  Result<void> write(std::span<const ChunkWrite> writes, bool sync) override {
    if (failure_) return Errno(failure_);
    for (const auto& w : writes) {
      ++counts_.dataWrites;
      counts_.bytesWritten += w.data.size();
      {
        std::lock_guard lock(counts_.writeSizesMu);
        counts_.writeSizes.push_back(static_cast<std::uint32_t>(w.data.size()));
      }
      std::string_view bytes(reinterpret_cast<const char*>(w.data.data()), w.data.size());
      MYFS_TRY(owner(w.ino, w.chunk).write(w.ino, w.chunk, w.offset, bytes, sync));
    }
    return okResult();
  }
  Result<void> read(std::span<ChunkRead> reads) override {
    if (failure_) return Errno(failure_);
    for (auto& r : reads) {
      ++counts_.dataReads;
      counts_.bytesRead += r.length;
      MYFS_ASSIGN_OR_RETURN(got, owner(r.ino, r.chunk).read(r.ino, r.chunk, r.offset, r.length));
      if (!got.empty()) std::memcpy(r.out, got.data(), got.size());
      r.got = static_cast<std::uint32_t>(got.size());
    }
    return okResult();
  }
  Result<void> truncate(InodeId ino, std::uint64_t size, std::uint32_t chunkSize) override {
    if (failure_) return Errno(failure_);
    for (auto& s : stores_) MYFS_TRY(s->truncate(ino, size, chunkSize));
    return okResult();
  }
  Result<void> remove(InodeId ino) override {
    if (failure_) return Errno(failure_);
    for (auto& s : stores_) MYFS_TRY(s->remove(ino));
    return okResult();
  }
  Result<void> fsync(InodeId ino) override {
    if (failure_) return Errno(failure_);
    for (auto& s : stores_) MYFS_TRY(s->fsync(ino));
    return okResult();
  }
  Result<DataStats> stats(std::uint32_t server) override { return stores_.at(server)->stats(); }
  Result<std::map<std::uint64_t, std::uint32_t>> extents(InodeId ino) override {
    std::map<std::uint64_t, std::uint32_t> all;
    for (auto& store : stores_) {
      MYFS_ASSIGN_OR_RETURN(part, store->extents(ino));
      all.insert(part.begin(), part.end());
    }
    return all;
  }

 private:
  server::ChunkStore& owner(InodeId ino, std::uint64_t chunk) {
    return *stores_[dataServerForChunk(ino, chunk, serverCount())];
  }
  std::vector<std::unique_ptr<server::ChunkStore>>& stores_;
  CallCounts& counts_;
  std::atomic<int>& failure_;
};

}  // namespace

LocalCluster::LocalCluster(std::uint32_t shards, std::uint32_t dataServers, std::uint32_t chunkSize) {
  std::string tmpl = (getenv("TMPDIR") ? std::string(getenv("TMPDIR")) : "/tmp") + "/myfs-core-test.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
  dir_ = tmpl;
  std::string error;
  for (std::uint32_t i = 0; i < shards; ++i) {
    server::MetaStoreOptions o;
    o.dir = dir_ + "/meta" + std::to_string(i);
    o.shardIndex = i;
    o.shardCount = shards;
    o.chunkSize = chunkSize;
    auto s = server::MetaStore::open(o, &error);
    if (!s) throw std::runtime_error(error);
    stores_.push_back(std::move(s));
    shards_.push_back(std::make_unique<LocalShard>(*stores_.back(), counts_, leases_));
  }
  for (std::uint32_t i = 0; i < dataServers; ++i) {
    auto c = server::ChunkStore::open(dir_ + "/data" + std::to_string(i), &error);
    if (!c) throw std::runtime_error(error);
    chunkStores_.push_back(std::move(c));
  }
  data_ = std::make_unique<LocalData>(chunkStores_, counts_, dataFailure_);
}

LocalCluster::~LocalCluster() {
  shards_.clear();
  stores_.clear();
  chunkStores_.clear();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void LocalCluster::setLeaseListener(LeaseListener* listener) {
  if (listener == nullptr || !leases_) return;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  for (std::uint32_t i = 0; i < shardCount(); ++i) listener->sessionStarted(i, now, 3600 * 1000);
}

}  // namespace myfs::testing
