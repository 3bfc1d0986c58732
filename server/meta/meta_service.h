// MetaServiceImpl: schema::MetaService served from a MetaStore.
//
// Each method decodes its parameters, calls the MetaStore method of the same name (whose
// contract is the schema's, see meta_store.h), and encodes the result; POSIX failures
// travel as `err`, never as exceptions. Calls run on the event-loop thread, inline.
//
// Leases: one object serves the bootstrap capability (no session) and one each session's
// `service` (openSession, attach); they share one MetaShardState. A change first recalls
// the leases other sessions hold on the inodes it touches (recallThenCommit): each such
// session is called back and answers, or is revoked after the recall timeout and waited
// out until its last renewal has expired; only then does the change commit. Replies that
// carry attributes grant the calling session a lease when no recall is in flight.
// TODO(perf): run store calls on a worker pool so a slow RocksDB read does not stall the
// loop (Boost.Asio thread pool), keeping the capability table on the loop thread.
#pragma once

#include <kj/timer.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "schema/meta.capnp.h"
#include "server/meta/lease_table.h"
#include "server/meta/lock_table.h"
#include "server/meta/meta_store.h"
#include "server/meta/session_table.h"

namespace myfs::server {

// The state every MetaServiceImpl of one shard shares.
struct MetaShardState {
  MetaShardState(MetaStore& store, SessionTable& sessions, std::chrono::milliseconds lease, kj::Timer* timer);
  MetaStore& store;
  SessionTable& sessions;
  LockTable locks;
  LeaseTable leases;
  kj::Timer* timer;                     // null: recalls wait for answers without limit (tests)
  std::chrono::milliseconds recallTimeout;
  std::uint32_t shardIndex;
  std::uint64_t requester = 0;          // the session whose change the store is making
  struct InFlight {
    std::uint64_t batch;
    kj::ForkedPromise<void> done;
    std::vector<std::uint64_t> targets;  // the sessions called back
  };
  std::unordered_map<InodeId, std::vector<InFlight>> recalls;  // per inode: recalls in flight
  std::uint64_t nextBatch = 1;
  // Directories delegated (delegateDir): the holder and grant. Outlasts the write lease
  // while its recall is in flight: files the holder sent before it saw the recall are
  // still made; gone once the holder answered (it had them all answered for first), or
  // the session ended or was revoked.
  //
  // A session that ends (its owner connection closed: the client is gone) leaves its
  // delegations draining until its other connections are closed too: the files it sent
  // on them before it went are still made, and anyone else's use of such a directory
  // waits for that (bounded by the recall timeout).
  struct Delegation {
    std::uint64_t session = 0;
    std::uint64_t gen = 0;
    bool draining = false;
    // What makeFiles did under it, so that a copy the holder sent again (on another
    // connection) is answered as the first was: the numbers made, and the removals (by
    // the intent's seq) with what they did. At most kMaxRemembered of both.
    struct Removed {
      bool lastLink = false;
      std::uint64_t size = 0;
    };
    std::unordered_set<InodeId> made;
    std::unordered_map<std::uint64_t, Removed> removed;
    static constexpr std::size_t kMaxRemembered = 1u << 16;
    bool mayRemember() const { return made.size() + removed.size() < kMaxRemembered; }
  };
  std::unordered_map<InodeId, Delegation> delegations;
  std::vector<std::uint64_t> calls;  // per MetaService method ordinal: calls served (any session)
  std::unordered_map<std::uint64_t, int> attached;  // per session: its services on other connections
  std::unordered_map<std::uint64_t, std::vector<kj::Own<kj::PromiseFulfiller<void>>>> drainWaiters;
  // Forgets the session's delegations (of `inos` only, when given).
  void endDelegations(std::uint64_t session, const std::vector<InodeId>* inos = nullptr);
  // The session ended: its delegations drain while it has connections left, else go.
  void drainDelegations(std::uint64_t session);
  // One of the session's other connections closed.
  void detached(std::uint64_t session);
  // Whether a recall of `ino` aimed at a session other than `except` is in flight.
  bool recallInFlight(InodeId ino, std::uint64_t except) const;
  // Whether `dir` is delegated to an ended session other than `except` still draining.
  bool drainingDelegation(InodeId dir, std::uint64_t except) const;
  // Resolves once dir's draining delegation is gone (drained, or the recall timeout).
  kj::Promise<void> waitDrained(InodeId dir);
};

class MetaServiceImpl final : public schema::MetaService::Server {
 public:
  // The bootstrap service. `store` and `sessions` must outlive every capability to it;
  // `timer` (the loop's) bounds recalls; `lease` is the lease of locks and caches.
  MetaServiceImpl(MetaStore& store, SessionTable& sessions, std::chrono::milliseconds lease = kDefaultLease,
                  kj::Timer* timer = nullptr);
  // A session's service; the owner's destruction ends the session.
  MetaServiceImpl(std::shared_ptr<MetaShardState> state, std::uint64_t session, bool owner);
  ~MetaServiceImpl() noexcept(false);
  static constexpr std::chrono::milliseconds kDefaultLease{10000};
  // Bounds of what a client may ask of a delegation: names listed, files per makeFiles,
  // how far ahead of this server's clock its files' times may be.
  static constexpr std::uint32_t kMaxDelegatedEntries = 4096;
  static constexpr unsigned kMaxFilesPerCall = 4096;
  static constexpr std::int64_t kClockSkewNs = 1000000000;

  // Registers the caller's callback and lease session; returns its id and service.
  kj::Promise<void> openSession(OpenSessionContext context) override;
  // Cluster constants: chunk size, this shard's index, shard count, root inode.
  kj::Promise<void> mountInfo(MountInfoContext context) override;
  // MetaStore::lookup; leases the parent (and the child when it is on this shard).
  kj::Promise<void> lookup(LookupContext context) override;
  // MetaStore::getattr; leases the inode.
  kj::Promise<void> getattr(GetattrContext context) override;
  // The methods below recall other sessions' leases, then call the MetaStore method of
  // the same name.
  kj::Promise<void> setattr(SetattrContext context) override;
  kj::Promise<void> create(CreateContext context) override;
  kj::Promise<void> mkdir(MkdirContext context) override;
  kj::Promise<void> symlink(SymlinkContext context) override;
  kj::Promise<void> unlink(UnlinkContext context) override;
  kj::Promise<void> rename(RenameContext context) override;
  kj::Promise<void> addEntry(AddEntryContext context) override;
  kj::Promise<void> removeEntry(RemoveEntryContext context) override;
  kj::Promise<void> linkCount(LinkCountContext context) override;
  kj::Promise<void> prepareRmdir(PrepareRmdirContext context) override;
  kj::Promise<void> setxattr(SetxattrContext context) override;
  kj::Promise<void> removexattr(RemovexattrContext context) override;
  // MetaStore::readlink.
  kj::Promise<void> readlink(ReadlinkContext context) override;
  // MetaStore::readdir.
  kj::Promise<void> readdir(ReaddirContext context) override;
  // MetaStore::statfs.
  kj::Promise<void> statfs(StatfsContext context) override;
  // MetaShardState::calls, by method name.
  kj::Promise<void> callCounts(CallCountsContext context) override;
  // MetaStore::makeInode.
  kj::Promise<void> makeInode(MakeInodeContext context) override;
  // LockTable::set / test (in memory).
  kj::Promise<void> lock(LockContext context) override;
  // LockTable::renew.
  kj::Promise<void> renewLocks(RenewLocksContext context) override;
  // MetaStore::getxattr.
  kj::Promise<void> getxattr(GetxattrContext context) override;
  // MetaStore::listxattr.
  kj::Promise<void> listxattr(ListxattrContext context) override;
  // A service bound to an existing session.
  kj::Promise<void> attach(AttachContext context) override;
  // LeaseTable::renew and forget.
  kj::Promise<void> renewSession(RenewSessionContext context) override;
  // LeaseTable::releaseOpen, then MetaStore::releaseOrphan when nobody holds it open.
  kj::Promise<void> releaseOpen(ReleaseOpenContext context) override;
  // Recalls other sessions' leases on the inode, then LeaseTable::grantWrite.
  kj::Promise<void> writeLease(WriteLeaseContext context) override;
  // Reservations belong to session_ (0 without a session).
  kj::Promise<void> reserveInodes(ReserveInodesContext context) override;
  kj::Promise<void> makeReservedDir(MakeReservedDirContext context) override;
  // MetaStore::mkdirRemote, after recalling the parent's leases.
  kj::Promise<void> mkdirRemote(MkdirRemoteContext context) override;
  // MetaStore::makeDir for each; a directory made is leased to the caller and leaseTo.
  kj::Promise<void> makeDirs(MakeDirsContext context) override;
  // MetaStore::confirmDir for each (no lease changes: nothing visible changes).
  kj::Promise<void> confirmDirs(ConfirmDirsContext context) override;
  // Recalls other sessions' leases on the directory, then grants this session its write
  // lease and answers with MetaStore::delegation.
  kj::Promise<void> delegateDir(DelegateDirContext context) override;
  // In order: MetaStore::makeFiles for each run of files (and directories of this shard)
  // whose delegation this session still holds (the rest ESTALE; each file made is
  // write-leased to it under the delegation's generation, each directory leased),
  // MetaStore::mkdirRemote for a directory of another shard, MetaStore::unlink for each
  // removal whose name still names its inode (others' leases on that inode recalled
  // first; while that recall runs, every later call on this connection waits for it).
  kj::Promise<void> makeFiles(MakeFilesContext context) override;
  // Every call: served at once, or after the calls before it on this connection while a
  // makeFiles among them waits (filesTail_).
  DispatchCallResult dispatchCall(std::uint64_t interfaceId, std::uint16_t methodId,
                                  capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override;

 private:
  // Resolves once no session but this one holds a lease (writersOnly: a write lease) on
  // any of inos, and no recall of them aimed at another session is in flight.
  kj::Promise<void> recall(std::vector<InodeId> inos, bool writersOnly = false);
  // Runs commit() (which fills in the reply) after recall(inos); the store sees this
  // session as the requester.
  template <typename Commit>
  kj::Promise<void> recallThenCommit(std::vector<InodeId> inos, Commit commit);
  // Grants this session a lease on attr.ino (and `also`, when on this shard) and marks it.
  void leaseReply(Result<Attr>& r, InodeId also = 0);
  bool isLocal(InodeId ino) const;
  // Whether `dir` is delegated to another session (held, being recalled, or draining):
  // a change that looks at its names first has that session's files made.
  bool delegatedElsewhere(InodeId dir) const;
  // lookup's answer, once no other session holds a write lease on the child or, a
  // delegation, on the parent.
  kj::Promise<void> answerLookup(LookupContext context);
  // `call` becomes the last call of this connection the next ones wait for (filesTail_).
  kj::Promise<void> holdUpConnection(kj::Promise<void> call);
  // makeFiles from intent `from` on; *waits (if given) is set when it has to wait.
  kj::Promise<void> applyIntents(MakeFilesContext context, unsigned from, bool* waits);
  // makeFiles' files [begin, end), none a removal: one MetaStore::makeFiles batch.
  void makeRun(MakeFilesContext context, unsigned begin, unsigned end);
  // The delegation `f` was made under, if this session still holds it.
  MetaShardState::Delegation* heldDelegation(const FileIntent& f) const;
  // Whether another session may hold a lease on `ino` (or a recall of it is in flight).
  bool othersMayHold(InodeId ino) const;

  std::shared_ptr<MetaShardState> state_;
  const std::uint64_t session_;  // 0: none (the bootstrap)
  const bool owner_;
  // The last call of this connection that the next ones wait for: a makeFiles waiting on
  // a recall, and each call that came after it meanwhile (none: calls run at once).
  kj::Maybe<kj::ForkedPromise<void>> filesTail_;
  std::uint64_t filesTailId_ = 0;
};

// Ends a session: drops its leases and open references, freeing orphans nobody holds.
void closeSession(MetaShardState& state, std::uint64_t session);

}  // namespace myfs::server
