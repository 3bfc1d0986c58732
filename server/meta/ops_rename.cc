// MetaStore: operations that move or add entries (rename, addEntry).
#include <sys/stat.h>

#include "server/log.h"
#include "server/meta/meta_store.h"

namespace myfs::server {
namespace {

// Adds `delta` (-1, 0, +1, ...) to a directory's link count.
void addLinks(InodeRecord& dir, int delta) {
  dir.attr.nlink = static_cast<std::uint32_t>(static_cast<std::int64_t>(dir.attr.nlink) + delta);
}

}  // namespace

Result<RenameResult> MetaStore::rename(const Cred& cred, InodeId srcParent, std::string_view srcName,
                                       InodeId dstParent, std::string_view dstName, std::uint32_t flags) {
  if ((flags & ~(kRenameNoReplace | kRenameExchange)) != 0 ||
      flags == (kRenameNoReplace | kRenameExchange)) {
    return Errno(EINVAL);
  }
  const bool exchange = flags & kRenameExchange;
  const bool noReplace = flags & kRenameNoReplace;
  std::lock_guard<std::mutex> lock(mu_);
  MYFS_ASSIGN_OR_RETURN(srcDir, loadSearchableDir(cred, srcParent));
  const bool sameDir = srcParent == dstParent;
  InodeRecord dstDirStorage;
  if (!sameDir) {
    MYFS_ASSIGN_OR_RETURN(d, loadSearchableDir(cred, dstParent));
    dstDirStorage = d;
  }
  InodeRecord& dstDir = sameDir ? srcDir : dstDirStorage;

  for (std::string_view n : {srcName, dstName}) {
    if (n.empty()) return Errno(ENOENT);
    if (n.size() > kNameMax) return Errno(ENAMETOOLONG);
  }
  if (srcName == "." || srcName == "..") return Errno(EBUSY);
  if (dstName == "." || dstName == "..") return Errno(noReplace ? EEXIST : EBUSY);
  MYFS_TRY(checkName(srcName));
  MYFS_TRY(checkName(dstName));

  MYFS_ASSIGN_OR_RETURN(src, loadDentry(srcParent, srcName));
  if (!src) return Errno(ENOENT);
  MYFS_ASSIGN_OR_RETURN(dst, loadDentry(dstParent, dstName));
  if (dst && noReplace) return Errno(EEXIST);
  if (!dst && exchange) return Errno(ENOENT);
  if (!dst && (dstDir.flags & kInodeRmdirPrepared)) return Errno(ENOENT);
  const bool srcIsDir = S_ISDIR(src->type);
  const bool dstIsDir = dst && S_ISDIR(dst->type);

  // Loops: the source may not be an ancestor of the destination directory, nor the
  // target an ancestor of the source directory (as far as this shard can see).
  if (srcIsDir) {
    MYFS_ASSIGN_OR_RETURN(loop, isAncestorOrSelf(src->ino, dstParent));
    if (loop) return Errno(EINVAL);
  }
  if (dstIsDir) {
    MYFS_ASSIGN_OR_RETURN(loop, isAncestorOrSelf(dst->ino, srcParent));
    if (loop) return Errno(exchange ? EINVAL : ENOTEMPTY);
  }

  RenameResult out;
  out.movedIno = src->ino;
  if (dst && dst->ino == src->ino) return out;  // the same inode: nothing to do

  std::optional<InodeRecord> srcInode;
  std::optional<InodeRecord> dstInode;
  for (auto [entry, slot] : {std::pair{&*src, &srcInode}, std::pair{dst ? &*dst : nullptr, &dstInode}}) {
    if (!entry || !isLocal(entry->ino)) continue;
    Result<InodeRecord> rec = loadInode(entry->ino);
    if (!rec) {
      if (rec.err() == ENOENT) {
        logLine("metadata store: rename: entry points to missing inode %#llx",
                static_cast<unsigned long long>(entry->ino));
        return Errno(EIO);
      }
      return rec.error();
    }
    *slot = *rec;
  }
  auto uidOf = [](const std::optional<InodeRecord>& r) {
    return r ? std::optional<std::uint32_t>(r->attr.uid) : std::nullopt;
  };

  // may_delete on the source.
  if (!mayAccess(srcDir.attr, cred, kMayWrite | kMayExec)) return Errno(EACCES);
  if (!stickyAllows(cred, srcDir.attr, uidOf(srcInode))) return Errno(EPERM);
  if (!dst) {
    if (!mayAccess(dstDir.attr, cred, kMayWrite | kMayExec)) return Errno(EACCES);
  } else {
    if (!mayAccess(dstDir.attr, cred, kMayWrite | kMayExec)) return Errno(EACCES);
    if (!stickyAllows(cred, dstDir.attr, uidOf(dstInode))) return Errno(EPERM);
    if (!exchange) {
      if (srcIsDir && !dstIsDir) return Errno(ENOTDIR);
      if (!srcIsDir && dstIsDir) return Errno(EISDIR);
    }
    if (dst->ino == kRootIno) return Errno(EBUSY);
  }
  // A directory changing parent rewrites its "..": needs write permission on it.
  if (!sameDir) {
    if (srcIsDir && srcInode && !mayAccess(srcInode->attr, cred, kMayWrite)) return Errno(EACCES);
    if (exchange && dstIsDir && dstInode && !mayAccess(dstInode->attr, cred, kMayWrite)) return Errno(EACCES);
  }
  // A directory whose inode is on another shard cannot get its new ".." in this batch:
  // the client takes the two-shard path (which sets it with linkCount).
  if (!sameDir && ((srcIsDir && !srcInode) || (exchange && dstIsDir && !dstInode))) return Errno(EXDEV);
  if (!exchange && dstIsDir) {
    if (!dstInode) return Errno(EXDEV);
    MYFS_ASSIGN_OR_RETURN(nonEmpty, hasEntries(dst->ino));
    if (nonEmpty) return Errno(ENOTEMPTY);
  }

  // Link counts of the parents: each gains the directories it receives, loses those it gives.
  int srcDirDelta = 0;
  int dstDirDelta = 0;
  if (exchange) {
    if (!sameDir) {
      srcDirDelta = (dstIsDir ? 1 : 0) - (srcIsDir ? 1 : 0);
      dstDirDelta = -srcDirDelta;
    }
  } else {
    srcDirDelta = srcIsDir ? -1 : 0;
    dstDirDelta = (srcIsDir ? 1 : 0) - (dstIsDir ? 1 : 0);
  }
  if (sameDir) {
    srcDirDelta += dstDirDelta;
    dstDirDelta = 0;
  }
  if ((srcDirDelta > 0 && srcDir.attr.nlink >= kDirLinkMax) || (dstDirDelta > 0 && dstDir.attr.nlink >= kDirLinkMax)) {
    return Errno(EMLINK);
  }

  const std::int64_t now = nowNs();
  MetaTxn txn = beginTxn();
  if (exchange) {
    txn.putDentry(srcParent, srcName, *dst, false);
    txn.putDentry(dstParent, dstName, *src, false);
  } else {
    txn.removeDentry(srcParent, srcName);
    txn.putDentry(dstParent, dstName, *src, !dst);
  }
  // The moved inode(s): ctime, and ".." of a directory changing parent.
  auto moveInode = [&](const std::optional<InodeRecord>& rec, InodeId newParent) {
    if (!rec) return;
    InodeRecord after = *rec;
    after.attr.ctimeNs = now;
    ++after.attr.version;
    if (after.attr.isDir() && !sameDir) after.attr.parent = newParent;
    txn.updateInode(*rec, after);
  };
  moveInode(srcInode, dstParent);
  if (exchange) {
    moveInode(dstInode, srcParent);
  } else if (dst) {
    out.replaced = unlinkInode(txn, *dst, dstInode, now);
  }
  InodeRecord srcDirBefore = srcDir;
  addLinks(srcDir, srcDirDelta);
  touchDir(srcDir, now);
  txn.updateInode(srcDirBefore, srcDir);
  if (!sameDir) {
    InodeRecord dstDirBefore = dstDir;
    addLinks(dstDir, dstDirDelta);
    touchDir(dstDir, now);
    txn.updateInode(dstDirBefore, dstDir);
  }
  MYFS_TRY(commit(txn));
  return out;
}

Result<AddEntryResult> MetaStore::addEntry(const Cred& cred, InodeId parent, std::string_view name, InodeId ino,
                                           std::uint32_t mode, bool replace) {
  const std::uint32_t type = mode & S_IFMT;
  if (type == 0 || ino == 0) return Errno(EINVAL);
  std::lock_guard<std::mutex> lock(mu_);
  MYFS_ASSIGN_OR_RETURN(dir, loadSearchableDir(cred, parent));
  MYFS_TRY(checkEntryName(name, EEXIST));
  if (dir.flags & kInodeRmdirPrepared) return Errno(ENOENT);
  MYFS_ASSIGN_OR_RETURN(old, loadDentry(parent, name));
  if (old && !replace) return Errno(EEXIST);
  if (!mayAccess(dir.attr, cred, kMayWrite | kMayExec)) return Errno(EACCES);
  AddEntryResult out;
  if (old && old->ino == ino) return out;  // already in place: nothing replaced
  if (old) {
    std::optional<std::uint32_t> victimUid;
    if (isLocal(old->ino)) {
      Result<InodeRecord> v = loadInode(old->ino);
      if (v) victimUid = v->attr.uid;
    }
    if (!stickyAllows(cred, dir.attr, victimUid)) return Errno(EPERM);
  }
  const int delta = (S_ISDIR(type) ? 1 : 0) - (old && S_ISDIR(old->type) ? 1 : 0);
  if (delta > 0 && dir.attr.nlink >= kDirLinkMax) return Errno(EMLINK);

  MetaTxn txn = beginTxn();
  txn.putDentry(parent, name, DentryRecord{ino, type}, !old);
  InodeRecord before = dir;
  addLinks(dir, delta);
  touchDir(dir, nowNs());
  txn.updateInode(before, dir);
  MYFS_TRY(commit(txn));
  if (old) {
    out.replacedIno = old->ino;
    out.replacedMode = old->type;
  }
  return out;
}

}  // namespace myfs::server
