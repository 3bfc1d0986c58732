// MetaShard over Cap'n Proto: one method per schema method, each retried as its
// idempotency allows (rpc/transport.h).
#include <chrono>
#include <type_traits>

#include "rpc/cluster_internal.h"
#include "rpc/convert.h"
#include "schema/data.capnp.h"
#include "schema/meta.capnp.h"

namespace myfs::rpc {
namespace {

using schema::DataService;
using schema::MetaService;

kj::Promise<Result<AddEntryResult>> sendAddEntry(Connection& c, const Cred& cred, InodeId parent,
                                                 std::string_view name, InodeId ino, std::uint32_t mode,
                                                 bool replace) {
  auto req = c.cap<MetaService>().addEntryRequest(requestSize(cred, name.size()));
  toWire(cred, req.initCred());
  req.setParent(parent);
  fillText(req.initName(textSize(name)), name);
  req.setIno(ino);
  req.setMode(mode);
  req.setReplace(replace);
  return req.send().then([](capnp::Response<MetaService::AddEntryResults>&& r) { return fromWire(r); });
}

kj::Promise<Result<Attr>> sendMakeReservedDir(Connection& c, const Cred& cred, InodeId ino, InodeId parent,
                                               std::uint32_t mode) {
  auto req = c.cap<MetaService>().makeReservedDirRequest(requestSize(cred));
  toWire(cred, req.initCred());
  req.setIno(ino);
  req.setParent(parent);
  req.setMode(mode);
  return req.send().then(
      [](capnp::Response<MetaService::MakeReservedDirResults>&& r) { return fromWire(r.getResult()); });
}

kj::Promise<Result<LinkCountResult>> sendLinkCount(Connection& c, InodeId ino, std::int32_t delta,
                                                   InodeId newParent) {
  auto req = c.cap<MetaService>().linkCountRequest(capnp::MessageSize{6, 0});
  req.setIno(ino);
  req.setDelta(delta);
  req.setNewParent(newParent);
  return req.send().then([](capnp::Response<MetaService::LinkCountResults>&& r) { return fromWire(r); });
}

// How a shard answered for files it was owed (FileIntent), each once: a refusal is
// said (the file is lost, or a removal did not happen) and reported, removals made reach
// the listener.
void reportFiles(RpcCluster& cluster, std::uint32_t shard,
                 std::vector<std::pair<FileIntent, DeferredDirs::FileOutcome>>& answered) {
  LeaseListener* l = cluster.leaseListener();
  for (auto& [f, outcome] : answered) {
    if (outcome.err == 0) {
      if (f.remove && outcome.lastLink && l != nullptr) {
        // Not on this thread: it may be one whose call holds the file's lock.
        cluster.remover().submit([&cluster, f, size = outcome.size] {
          if (LeaseListener* listener = cluster.leaseListener()) listener->removedAhead(f, true, size);
        });
      }
      continue;
    }
    logTransportFailure("metadata shard " + std::to_string(shard),
                        (f.remove ? "did not unlink " + f.name + " unlinked under a delegation (" + errnoName(outcome.err) +
                                        "): it is still there"
                                  : "did not make file " + f.name + " made under a delegation (" +
                                        errnoName(outcome.err) + "): it is lost"),
                        1);
    if (l != nullptr) l->fileLost(f, outcome.err);
  }
}

// makeFiles for `files` on `c` (a connection to `shard`); the answer takes them off
// the owed list (reportFiles); a failure leaves them to be sent again.
kj::Promise<void> sendFiles(RpcCluster& cluster, std::uint32_t shard, Connection& c, std::vector<FileIntent> files) {
  const auto n = static_cast<unsigned>(files.size());
  std::size_t words = 4;
  for (const FileIntent& f : files) words += 32 + (f.cred.groups.size() + 1) / 2 + (f.name.size() + 8) / 8;
  auto req = c.cap<MetaService>().makeFilesRequest(capnp::MessageSize{words, 0});
  auto list = req.initFiles(n);
  for (unsigned i = 0; i < n; ++i) toWire(files[i], list[i]);
  const std::uint64_t conn = c.id();
  auto shared = kj::heap<std::vector<FileIntent>>(kj::mv(files));
  auto& ref = *shared;
  return req.send().then(
      [&cluster, shard, &ref](capnp::Response<MetaService::MakeFilesResults>&& r) -> kj::Promise<void> {
        auto errs = r.getErrs();
        auto removed = r.getRemoved();
        std::vector<DeferredDirs::FileOutcome> outcomes(errs.size());
        for (unsigned i = 0; i < errs.size(); ++i) {
          outcomes[i].err = errs[i];
          if (i < removed.size()) {
            outcomes[i].lastLink = removed[i].getLastLink();
            outcomes[i].size = removed[i].getSize();
          }
        }
        auto answered = cluster.deferredDirs().filesDone(shard, ref, outcomes);
        reportFiles(cluster, shard, answered);
        return kj::READY_NOW;
      },
      [&cluster, shard, conn](kj::Exception&& e) -> kj::Promise<void> {
        cluster.deferredDirs().filesUnsent(shard, conn);
        return kj::mv(e);
      }).attach(kj::mv(shared));
}

// Sends what `c`'s shard is owed (DeferredDirs) ahead of whatever follows on the
// connection; rejects if the shard does not answer. `answered` tells whether it did,
// `outcomes` how, per directory; `unleased`: directories it made or had without leasing
// them to us. Files are taken off the owed list as they are answered.
kj::Promise<void> sendOwed(RpcCluster& cluster, std::uint32_t shard, Connection& c, const DeferredDirs::Batch& batch,
                           std::vector<DeferredDirs::Outcome>& outcomes, std::vector<InodeId>& unleased,
                           bool& answered) {
  kj::Vector<kj::Promise<void>> parts;
  if (!batch.files.empty()) parts.add(sendFiles(cluster, shard, c, batch.files));
  if (!batch.make.empty()) {
    const auto n = static_cast<unsigned>(batch.make.size());
    auto req = c.cap<MetaService>().makeDirsRequest(capnp::MessageSize{4 + n * 20, 0});
    auto list = req.initDirs(n);
    for (unsigned i = 0; i < n; ++i) toWire(batch.make[i].intent, list[i]);
    parts.add(req.send().then([&outcomes, &unleased](capnp::Response<MetaService::MakeDirsResults>&& r) {
      auto results = r.getResults();
      for (unsigned i = 0; i < results.size() && i < outcomes.size(); ++i) {
        const int err = results[i].getErr();
        if (err == 0) {
          outcomes[i] = DeferredDirs::Outcome::kMade;
          if (!results[i].getLeased()) unleased.push_back(results[i].getAttr().getIno());
        } else if (err == EINVAL || err == EEXIST) {
          outcomes[i] = DeferredDirs::Outcome::kRefused;
        }
      }
    }));
  }
  if (!batch.confirm.empty()) {
    const auto n = static_cast<unsigned>(batch.confirm.size());
    std::size_t words = 4;
    for (const auto& e : batch.confirm) words += 4 + (e.name.size() + 8) / 8;
    auto req = c.cap<MetaService>().confirmDirsRequest(capnp::MessageSize{words, 0});
    auto list = req.initDirs(n);
    for (unsigned i = 0; i < n; ++i) {
      list[i].setParent(batch.confirm[i].parent);
      fillText(list[i].initName(textSize(batch.confirm[i].name)), batch.confirm[i].name);
      list[i].setIno(batch.confirm[i].ino);
    }
    parts.add(req.send().ignoreResult());
  }
  return kj::joinPromises(parts.releaseAsArray()).then([&answered]() { answered = true; });
}

void logRefused(const DeferredDirs::Batch& batch, const std::vector<DeferredDirs::Outcome>& outcomes) {
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i] != DeferredDirs::Outcome::kRefused) continue;
    logTransportFailure("metadata shard " + std::to_string(shardOfInode(batch.make[i].intent.attr.ino)),
                        "refused to make directory " + batch.make[i].name + " (its entry stays)", 1);
  }
}

// One metadata shard reached over RPC.
class RpcMetaShard final : public MetaShard {
 public:
  RpcMetaShard(RpcCluster& cluster, std::uint32_t index, const RetryPolicy& retry)
      : cluster_(cluster), index_(index), retry_(retry) {}

  Result<MountInfo> mountInfo() override {
    return call<MountInfo>(true, [](Connection& c) {
      return c.cap<MetaService>().mountInfoRequest(capnp::MessageSize{4, 0}).send().then(
          [](capnp::Response<MetaService::MountInfoResults>&& r) -> Result<MountInfo> { return fromWire(r); });
    });
  }

  Result<Attr> lookup(const Cred& cred, InodeId parent, std::string_view name, bool* parentLeased) override {
    bool leased = false;
    std::optional<DirIntent> intent;
    Result<Attr> out = call<Attr>(true, [&](Connection& c) {
      auto req = c.cap<MetaService>().lookupRequest(capnp::MessageSize{16, 0});
      toWire(cred, req.initCred());
      req.setParent(parent);
      fillText(req.initName(textSize(name)), name);
      return req.send().then([&leased, &intent](capnp::Response<MetaService::LookupResults>&& r) {
        leased = r.getResult().getLeased();
        if (r.getHasIntent()) intent = fromWire(r.getIntent());
        return fromWire(r.getResult());
      });
    });
    if (parentLeased != nullptr) *parentLeased = leased;
    if (out && intent && intent->attr.ino == out->ino) {
      // A directory whose shard may not have made it yet: have it made before anything
      // asks that shard about it.
      const std::uint32_t dirShard = shardOfInode(intent->attr.ino);
      cluster_.deferredDirs().addMake(DeferredDirs::Dir{*intent, std::string(name)});
      if (dirShard < cluster_.shardCount()) settleOwed(cluster_, dirShard);
    }
    return out;
  }

  // mkdir across shards in one call (schema mkdirRemote).
  Result<Attr> mkdirRemote(const Cred& cred, InodeId parent, std::string_view name, InodeId ino, std::uint32_t mode,
                           std::uint64_t leaseTo) {
    return call<Attr>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().mkdirRemoteRequest(requestSize(cred, name.size()));
      toWire(cred, req.initCred());
      req.setParent(parent);
      fillText(req.initName(textSize(name)), name);
      req.setIno(ino);
      req.setMode(mode);
      req.setLeaseTo(leaseTo);
      return req.send().then(
          [](capnp::Response<MetaService::MkdirRemoteResults>&& r) { return fromWire(r.getResult()); });
    });
  }

  // Sends what this shard is owed (DeferredDirs) now, if anything, as a call of its own
  // (retried like any idempotent call).
  void settle() {
    DeferredDirs& owed = cluster_.deferredDirs();
    if (!owed.owes(index_)) return;
    OwedBatch b(owed.batch(index_));
    (void)callOnly<bool>(true, [&](Connection& c) -> kj::Promise<Result<bool>> {
      b.unleased.clear();
      b.batch.files = owed.takeFiles(index_, c.id(), DeferredDirs::Which::kAll);
      return sendOwed(cluster_, index_, c, b.batch, b.outcomes, b.unleased, b.answered).then([] {
        return Result<bool>(true);
      });
    });
    finish(b);
  }

  // Sends the files owed here never sent yet, and returns without waiting for the answer
  // (DirectLoop::sendAhead; each such call bounded by the call timeout, which breaks the
  // connection). Without a loop of the thread's own or a connection made, settles
  // instead: a file is on its way when this returns.
  void pushFiles() {
    const bool sent = withLoop(cluster_, [&](auto& loop, auto& meta, auto&) {
      if constexpr (std::is_same_v<std::decay_t<decltype(loop)>, DirectLoop>) {
        Connection& c = *meta[index_];
        const std::uint64_t conn = c.id();
        if (conn == 0) return false;
        std::vector<FileIntent> files = cluster_.deferredDirs().takeFiles(index_, conn, DeferredDirs::Which::kUnsent);
        if (files.empty()) return true;
        try {
          auto bounded = sendFiles(cluster_, index_, c, std::move(files))
                             .exclusiveJoin(loop.timer()
                                                .afterDelay(retry_.callTimeoutMs * kj::MILLISECONDS)
                                                .then([&c, conn] {
                                                  if (c.id() == conn) c.markBroken();  // a late answer is not taken
                                                }));
          loop.sendAhead(kj::mv(bounded), kMaxCallsAhead);
        } catch (const kj::Exception& e) {
          logTransportFailure(c.address(), e.getDescription().cStr(), 1);
        }
        return true;
      } else {
        return false;
      }
    });
    if (!sent) settle();
  }

  Result<DirDelegation> delegateDir(const Cred& cred, InodeId dir, std::uint32_t maxEntries, std::uint32_t reserve,
                                    bool orUnlisted) override {
    return call<DirDelegation>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().delegateDirRequest(requestSize(cred));
      toWire(cred, req.initCred());
      req.setDir(dir);
      req.setMaxEntries(maxEntries);
      req.setReserve(reserve);
      req.setOrUnlisted(orUnlisted);
      return req.send().then([](capnp::Response<MetaService::DelegateDirResults>&& r) { return fromWire(r); });
    });
  }

  Result<std::uint64_t> writeLease(InodeId ino) override {
    return call<std::uint64_t>(true, [&](Connection& c) {
      auto req = c.cap<MetaService>().writeLeaseRequest(capnp::MessageSize{4, 0});
      req.setIno(ino);
      return req.send().then([](capnp::Response<MetaService::WriteLeaseResults>&& r) -> Result<std::uint64_t> {
        return r.getGranted() ? r.getGen() : 0;
      });
    });
  }

  Result<LinkCountResult> releaseOpen(InodeId ino) override {
    return call<LinkCountResult>(true, [&](Connection& c) {
      auto req = c.cap<MetaService>().releaseOpenRequest(capnp::MessageSize{4, 0});
      req.setIno(ino);
      return req.send().then([](capnp::Response<MetaService::ReleaseOpenResults>&& r) -> Result<LinkCountResult> {
        if (r.getErr() != 0) return Errno(r.getErr());
        LinkCountResult out;
        out.freed = r.getFreed();
        out.size = r.getSize();
        return out;
      });
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
      auto req = c.cap<MetaService>().setattrRequest(requestSize(cred, 0, 16));
      toWire(cred, req.initCred());
      req.setIno(ino);
      toWire(s, req.initReq());
      return req.send().then([](capnp::Response<MetaService::SetattrResults>&& r) { return fromWire(r.getResult()); });
    });
  }

  Result<CreateResult> create(const Cred& cred, InodeId parent, std::string_view name, std::uint32_t mode,
                              bool exclusive, std::uint64_t rdev) override {
    return call<CreateResult>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().createRequest(requestSize(cred, name.size()));
      toWire(cred, req.initCred());
      req.setParent(parent);
      fillText(req.initName(textSize(name)), name);
      req.setMode(mode);
      req.setExclusive(exclusive);
      req.setRdev(rdev);
      return req.send().then([](capnp::Response<MetaService::CreateResults>&& r) { return fromWire(r); });
    });
  }

  Result<Attr> mkdir(const Cred& cred, InodeId parent, std::string_view name, std::uint32_t mode) override {
    return call<Attr>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().mkdirRequest(requestSize(cred, name.size()));
      toWire(cred, req.initCred());
      req.setParent(parent);
      fillText(req.initName(textSize(name)), name);
      req.setMode(mode);
      return req.send().then([](capnp::Response<MetaService::MkdirResults>&& r) { return fromWire(r.getResult()); });
    });
  }

  Result<Attr> symlink(const Cred& cred, InodeId parent, std::string_view name, std::string_view target) override {
    return call<Attr>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().symlinkRequest(requestSize(cred, name.size() + target.size()));
      toWire(cred, req.initCred());
      req.setParent(parent);
      fillText(req.initName(textSize(name)), name);
      fillText(req.initTarget(textSize(target)), target);
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
      auto req = c.cap<MetaService>().readdirRequest(requestSize(cred, cookie.size()));
      toWire(cred, req.initCred());
      req.setIno(ino);
      req.setCookie(bytes(cookie.data(), cookie.size()));
      req.setMaxEntries(maxEntries);
      return req.send().then([](capnp::Response<MetaService::ReaddirResults>&& r) { return fromWire(r); });
    });
  }

  Result<UnlinkResult> unlink(const Cred& cred, InodeId parent, std::string_view name, bool isDir) override {
    return call<UnlinkResult>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().unlinkRequest(requestSize(cred, name.size()));
      toWire(cred, req.initCred());
      req.setParent(parent);
      fillText(req.initName(textSize(name)), name);
      req.setIsDir(isDir);
      return req.send().then([](capnp::Response<MetaService::UnlinkResults>&& r) { return fromWire(r); });
    });
  }

  Result<RenameResult> rename(const Cred& cred, InodeId srcParent, std::string_view srcName, InodeId dstParent,
                              std::string_view dstName, std::uint32_t flags) override {
    return call<RenameResult>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().renameRequest(requestSize(cred, srcName.size() + dstName.size()));
      toWire(cred, req.initCred());
      req.setSrcParent(srcParent);
      fillText(req.initSrcName(textSize(srcName)), srcName);
      req.setDstParent(dstParent);
      fillText(req.initDstName(textSize(dstName)), dstName);
      req.setFlags(flags);
      return req.send().then([](capnp::Response<MetaService::RenameResults>&& r) { return fromWire(r); });
    });
  }

  Result<std::vector<MethodCalls>> callCounts() override {
    return call<std::vector<MethodCalls>>(true, [](Connection& c) {
      return c.cap<MetaService>().callCountsRequest(capnp::MessageSize{4, 0}).send().then(
          [](capnp::Response<MetaService::CallCountsResults>&& r) -> Result<std::vector<MethodCalls>> {
            std::vector<MethodCalls> out;
            for (auto m : r.getCounts()) out.push_back(MethodCalls{std::string(m.getMethod().cStr()), m.getCalls()});
            return out;
          });
    });
  }

  Result<ShardStats> statfs() override {
    return call<ShardStats>(true, [](Connection& c) {
      return c.cap<MetaService>().statfsRequest(capnp::MessageSize{4, 0}).send().then(
          [](capnp::Response<MetaService::StatfsResults>&& r) -> Result<ShardStats> { return fromWire(r.getStats()); });
    });
  }

  Result<Attr> makeInode(const Cred& cred, InodeId parentHint, std::uint32_t mode, std::string_view target) override {
    return call<Attr>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().makeInodeRequest(requestSize(cred, target.size()));
      toWire(cred, req.initCred());
      req.setParentHint(parentHint);
      req.setMode(mode);
      fillText(req.initTarget(textSize(target)), target);
      return req.send().then([](capnp::Response<MetaService::MakeInodeResults>&& r) { return fromWire(r.getResult()); });
    });
  }

  Result<InodeRange> reserveInodes(std::uint32_t count) override {
    return call<InodeRange>(false, [count](Connection& c) {
      auto req = c.cap<MetaService>().reserveInodesRequest(capnp::MessageSize{4, 0});
      req.setCount(count);
      return req.send().then([](capnp::Response<MetaService::ReserveInodesResults>&& r) -> Result<InodeRange> {
        if (r.getErr() != 0) return Errno(r.getErr());
        return InodeRange{r.getFirst(), r.getCount()};
      });
    });
  }

  Result<Attr> makeReservedDir(const Cred& cred, InodeId ino, InodeId parent, std::uint32_t mode) override {
    return call<Attr>(false, [&](Connection& c) { return sendMakeReservedDir(c, cred, ino, parent, mode); });
  }

  Result<AddEntryResult> addEntry(const Cred& cred, InodeId parent, std::string_view name, InodeId ino,
                                  std::uint32_t mode, bool replace) override {
    return call<AddEntryResult>(
        false, [&](Connection& c) { return sendAddEntry(c, cred, parent, name, ino, mode, replace); });
  }

  Result<void> removeEntry(const Cred& cred, InodeId parent, std::string_view name, InodeId expectIno) override {
    return call<void>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().removeEntryRequest(requestSize(cred, name.size()));
      toWire(cred, req.initCred());
      req.setParent(parent);
      fillText(req.initName(textSize(name)), name);
      req.setExpectIno(expectIno);
      return req.send().then(
          [](capnp::Response<MetaService::RemoveEntryResults>&& r) { return fromErr(r.getErr()); });
    });
  }

  Result<LinkCountResult> linkCount(InodeId ino, std::int32_t delta, InodeId newParent) override {
    return call<LinkCountResult>(false, [&](Connection& c) { return sendLinkCount(c, ino, delta, newParent); });
  }

  Result<void> prepareRmdir(const Cred& cred, InodeId ino, bool undo) override {
    return call<void>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().prepareRmdirRequest(requestSize(cred));
      toWire(cred, req.initCred());
      req.setIno(ino);
      req.setUndo(undo);
      return req.send().then(
          [](capnp::Response<MetaService::PrepareRmdirResults>&& r) { return fromErr(r.getErr()); });
    });
  }

  Result<std::string> getxattr(const Cred& cred, InodeId ino, std::string_view name) override {
    return call<std::string>(true, [&](Connection& c) {
      auto req = c.cap<MetaService>().getxattrRequest(requestSize(cred, name.size()));
      toWire(cred, req.initCred());
      req.setIno(ino);
      fillText(req.initName(textSize(name)), name);
      return req.send().then([](capnp::Response<MetaService::GetxattrResults>&& r) -> Result<std::string> {
        if (r.getErr() != 0) return Errno(r.getErr());
        auto v = r.getValue();
        return std::string(reinterpret_cast<const char*>(v.begin()), v.size());
      });
    });
  }

  Result<Attr> setxattr(const Cred& cred, InodeId ino, std::string_view name, std::string_view value,
                        std::uint32_t flags) override {
    // Without flags a repeat stores the same value again: safe to retry.
    return call<Attr>(flags == 0, [&](Connection& c) {
      auto req = c.cap<MetaService>().setxattrRequest(requestSize(cred, name.size() + value.size()));
      toWire(cred, req.initCred());
      req.setIno(ino);
      fillText(req.initName(textSize(name)), name);
      req.setValue(bytes(value.data(), value.size()));
      req.setFlags(flags);
      return req.send().then([](capnp::Response<MetaService::SetxattrResults>&& r) { return fromWire(r.getResult()); });
    });
  }

  Result<std::optional<FileLock>> lock(InodeId ino, const FileLock& req, bool test) override {
    return call<std::optional<FileLock>>(true, [&](Connection& c) {
      auto r = c.cap<MetaService>().lockRequest(capnp::MessageSize{16, 0});
      r.setIno(ino);
      toWire(req, r.initLock());
      r.setTest(test);
      return r.send().then([](capnp::Response<MetaService::LockResults>&& out) -> Result<std::optional<FileLock>> {
        if (out.getErr() != 0) return Errno(out.getErr());
        if (!out.getHasConflict()) return std::optional<FileLock>();
        return std::optional<FileLock>(fromWire(out.getConflict()));
      });
    });
  }

  Result<std::uint32_t> renewLocks(std::uint64_t client) override {
    return call<std::uint32_t>(true, [&](Connection& c) {
      auto r = c.cap<MetaService>().renewLocksRequest(capnp::MessageSize{4, 0});
      r.setClient(client);
      return r.send().then(
          [](capnp::Response<MetaService::RenewLocksResults>&& out) -> Result<std::uint32_t> { return out.getLeaseMs(); });
    });
  }

  Result<std::vector<std::string>> listxattr(const Cred& cred, InodeId ino) override {
    return call<std::vector<std::string>>(true, [&](Connection& c) {
      auto req = c.cap<MetaService>().listxattrRequest(requestSize(cred));
      toWire(cred, req.initCred());
      req.setIno(ino);
      return req.send().then(
          [](capnp::Response<MetaService::ListxattrResults>&& r) -> Result<std::vector<std::string>> {
            if (r.getErr() != 0) return Errno(r.getErr());
            std::vector<std::string> names;
            for (auto n : r.getNames()) names.emplace_back(n.cStr(), n.size());
            return names;
          });
    });
  }

  Result<Attr> removexattr(const Cred& cred, InodeId ino, std::string_view name) override {
    return call<Attr>(false, [&](Connection& c) {
      auto req = c.cap<MetaService>().removexattrRequest(requestSize(cred, name.size()));
      toWire(cred, req.initCred());
      req.setIno(ino);
      fillText(req.initName(textSize(name)), name);
      return req.send().then(
          [](capnp::Response<MetaService::RemovexattrResults>&& r) { return fromWire(r.getResult()); });
    });
  }

 private:
  // What one call sends ahead of itself, and how the shard answered.
  struct OwedBatch {
    explicit OwedBatch(DeferredDirs::Batch b)
        : batch(std::move(b)), outcomes(batch.make.size(), DeferredDirs::Outcome::kUnanswered) {}
    DeferredDirs::Batch batch;
    std::vector<DeferredDirs::Outcome> outcomes;
    std::vector<InodeId> unleased;
    bool answered = false;
  };

  // One call; what the shard is owed (DeferredDirs) goes first on the same connection.
  // The call's own result stands whether or not the shard answered for those.
  template <typename T, typename Send>
  Result<T> call(bool idempotent, Send&& send) {
    DeferredDirs& owed = cluster_.deferredDirs();
    if (!owed.owes(index_)) return callOnly<T>(idempotent, send);
    OwedBatch b(owed.batch(index_));
    auto owedFirst = [&](Connection& c) -> kj::Promise<Result<T>> {
      b.unleased.clear();
      b.batch.files = owed.takeFiles(index_, c.id(), DeferredDirs::Which::kNotOnConn);
      kj::Promise<void> owedSent = sendOwed(cluster_, index_, c, b.batch, b.outcomes, b.unleased, b.answered)
                                       .catch_([](kj::Exception&&) {})
                                       .eagerlyEvaluate(nullptr);
      return send(c).then([owedSent = kj::mv(owedSent)](Result<T>&& r) mutable {
        return owedSent.then([r = kj::mv(r)]() mutable { return kj::mv(r); });
      });
    };
    Result<T> out = callOnly<T>(idempotent, owedFirst);
    finish(b);
    return out;
  }

  void finish(const OwedBatch& b) {
    if (!b.answered) return;
    logRefused(b.batch, b.outcomes);
    cluster_.deferredDirs().done(index_, b.batch, b.outcomes);
    // A directory the shard did not lease to us: whatever we cached of it (from
    // mkdirRemote) is not covered by a lease any more.
    if (LeaseListener* l = cluster_.leaseListener(); l != nullptr && !b.unleased.empty()) {
      (void)l->recall(index_, b.unleased);
    }
  }

  template <typename T, typename Send>
  Result<T> callOnly(bool idempotent, Send&& send) {
    return withLoop(cluster_, [&](auto& loop, auto& meta, auto&) {
      return callWithRetry<T>(loop, *meta[index_], retry_, idempotent, send);
    });
  }

  // Calls sent ahead (pushFiles) one thread may have unanswered before it waits.
  static constexpr std::size_t kMaxCallsAhead = 16;

  RpcCluster& cluster_;
  const std::uint32_t index_;
  const RetryPolicy retry_;
};

// The outcome of one attempt as the caller's result: a request that never left is made
// again the usual way (with retries); any other transport failure is EIO (neither call
// is idempotent).
template <typename T, typename Retry>
Result<T> settle(Outcome<T>& o, const std::string& address, Retry&& again) {
  if (o.transport == Transport::kOk) return std::move(*o.result);
  if (o.transport == Transport::kNotSent) return again();
  logTransportFailure(address, o.detail, 1);
  return Errno(EIO);
}

// How long a thread that has one of two parallel answers polls for the other before
// sleeping: about a server's time for a metadata change on a loaded machine.
constexpr std::chrono::microseconds kSecondAnswerSpin{50};

// Two calls on (possibly) two shards, both in flight at once on this thread's loop; each
// settled on its own (a call that never left is made again the usual way).
template <typename A, typename B, typename SendA, typename SendB, typename AgainA, typename AgainB>
std::pair<Result<A>, Result<B>> inParallel(RpcCluster& cluster, const RetryPolicy& retry, std::uint32_t shardA,
                                           SendA&& sendA, AgainA&& againA, std::uint32_t shardB, SendB&& sendB,
                                           AgainB&& againB) {
  // These calls go straight to the connections: what either shard is owed goes first.
  for (std::uint32_t shard : {shardA, shardB}) {
    if (cluster.deferredDirs().owes(shard)) settleOwed(cluster, shard);
  }
  Outcome<A> a;
  Outcome<B> b;
  std::string addressA, addressB;
  const bool ran = withLoop(cluster, [&](auto& loop, auto& meta, auto&) {
    Connection& connA = *meta[shardA];
    Connection& connB = *meta[shardB];
    addressA = connA.address();
    addressB = connB.address();
    auto callA = [&] {
      return attempt<A>(loop, connA, retry.callTimeoutMs, sendA).then([&a](Outcome<A>&& o) { a = std::move(o); });
    };
    auto callB = [&] {
      return attempt<B>(loop, connB, retry.callTimeoutMs, sendB).then([&b](Outcome<B>&& o) { b = std::move(o); });
    };
    try {
      if constexpr (std::is_same_v<std::decay_t<decltype(loop)>, DirectLoop>) {
        loop.runBoth(callA, callB, kSecondAnswerSpin);
      } else {
        loop.run([&]() {
          auto first = callA().eagerlyEvaluate(nullptr);
          return callB().then([first = kj::mv(first)]() mutable { return kj::mv(first); }).then([] { return true; });
        });
      }
      return true;
    } catch (const kj::Exception& e) {
      logTransportFailure(addressA, e.getDescription().cStr(), 1);
      return false;
    }
  });
  if (!ran) return {Errno(EIO), Errno(EIO)};
  Result<A> ra = settle(a, addressA, againA);
  Result<B> rb = settle(b, addressB, againB);
  return {std::move(ra), std::move(rb)};
}

}  // namespace

Cluster::EntryAndLink addEntryAndLinkInParallel(RpcCluster& cluster, const RetryPolicy& retry, const Cred& cred,
                                                InodeId parent, std::string_view name, InodeId ino,
                                                std::uint32_t mode) {
  const std::uint32_t entryShard = shardOfInode(parent);
  const std::uint32_t linkShard = shardOfInode(ino);
  auto [entry, link] = inParallel<AddEntryResult, LinkCountResult>(
      cluster, retry, entryShard,
      [&](Connection& c) { return sendAddEntry(c, cred, parent, name, ino, mode, false); },
      [&] { return cluster.shard(entryShard).addEntry(cred, parent, name, ino, mode, false); }, linkShard,
      [&](Connection& c) { return sendLinkCount(c, ino, +1, 0); },
      [&] { return cluster.shard(linkShard).linkCount(ino, +1, 0); });
  return Cluster::EntryAndLink{std::move(entry), std::move(link)};
}

Result<Attr> mkdirRemoteCall(RpcCluster& cluster, const Cred& cred, InodeId parent, std::string_view name,
                             InodeId ino, std::uint32_t mode, std::uint64_t leaseTo) {
  auto& shard = static_cast<RpcMetaShard&>(cluster.shardOf(parent));
  return shard.mkdirRemote(cred, parent, name, ino, mode, leaseTo);
}

void settleOwed(RpcCluster& cluster, std::uint32_t shard) { static_cast<RpcMetaShard&>(cluster.shard(shard)).settle(); }

void pushOwedFiles(RpcCluster& cluster, std::uint32_t shard) {
  static_cast<RpcMetaShard&>(cluster.shard(shard)).pushFiles();
}

std::unique_ptr<MetaShard> makeRpcMetaShard(RpcCluster& cluster, std::uint32_t index, const RetryPolicy& retry) {
  return std::make_unique<RpcMetaShard>(cluster, index, retry);
}

}  // namespace myfs::rpc
