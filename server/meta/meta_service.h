// MetaServiceImpl: schema::MetaService served from a MetaStore.
//
// Each method decodes its parameters, calls the MetaStore method of the same name (whose
// contract is the schema's, see meta_store.h), and encodes the result; POSIX failures
// travel as `err`, never as exceptions. Calls run on the event-loop thread, inline.
// TODO(perf): run store calls on a worker pool so a slow RocksDB read does not stall the
// loop (Boost.Asio thread pool), keeping the capability table on the loop thread.
#pragma once

#include "schema/meta.capnp.h"
#include "server/meta/lock_table.h"
#include "server/meta/meta_store.h"
#include "server/meta/session_table.h"

namespace myfs::server {

class MetaServiceImpl final : public schema::MetaService::Server {
 public:
  // `store` and `sessions` must outlive every capability to this object.
  MetaServiceImpl(MetaStore& store, SessionTable& sessions, std::chrono::milliseconds lockLease = kDefaultLockLease)
      : store_(store), sessions_(sessions), locks_(lockLease) {}
  static constexpr std::chrono::milliseconds kDefaultLockLease{10000};

  // Registers the caller's callback in the session table; returns the session id.
  kj::Promise<void> openSession(OpenSessionContext context) override;
  // Cluster constants: chunk size, this shard's index, shard count, root inode.
  kj::Promise<void> mountInfo(MountInfoContext context) override;
  // MetaStore::lookup.
  kj::Promise<void> lookup(LookupContext context) override;
  // MetaStore::getattr.
  kj::Promise<void> getattr(GetattrContext context) override;
  // MetaStore::setattr.
  kj::Promise<void> setattr(SetattrContext context) override;
  // MetaStore::create.
  kj::Promise<void> create(CreateContext context) override;
  // MetaStore::mkdir.
  kj::Promise<void> mkdir(MkdirContext context) override;
  // MetaStore::symlink.
  kj::Promise<void> symlink(SymlinkContext context) override;
  // MetaStore::readlink.
  kj::Promise<void> readlink(ReadlinkContext context) override;
  // MetaStore::readdir.
  kj::Promise<void> readdir(ReaddirContext context) override;
  // MetaStore::unlink.
  kj::Promise<void> unlink(UnlinkContext context) override;
  // MetaStore::rename.
  kj::Promise<void> rename(RenameContext context) override;
  // MetaStore::statfs.
  kj::Promise<void> statfs(StatfsContext context) override;
  // MetaStore::makeInode.
  kj::Promise<void> makeInode(MakeInodeContext context) override;
  // MetaStore::addEntry.
  kj::Promise<void> addEntry(AddEntryContext context) override;
  // MetaStore::removeEntry.
  kj::Promise<void> removeEntry(RemoveEntryContext context) override;
  // MetaStore::linkCount.
  kj::Promise<void> linkCount(LinkCountContext context) override;
  // MetaStore::prepareRmdir.
  kj::Promise<void> prepareRmdir(PrepareRmdirContext context) override;
  // LockTable::set / test (in memory).
  kj::Promise<void> lock(LockContext context) override;
  // LockTable::renew.
  kj::Promise<void> renewLocks(RenewLocksContext context) override;
  // MetaStore::getxattr.
  kj::Promise<void> getxattr(GetxattrContext context) override;
  // MetaStore::setxattr.
  kj::Promise<void> setxattr(SetxattrContext context) override;
  // MetaStore::listxattr.
  kj::Promise<void> listxattr(ListxattrContext context) override;
  // MetaStore::removexattr.
  kj::Promise<void> removexattr(RemovexattrContext context) override;

 private:
  MetaStore& store_;
  SessionTable& sessions_;
  LockTable locks_;
};

}  // namespace myfs::server
