// MetaStore: operations that remove entries or links (unlink, removeEntry, prepareRmdir,
// linkCount).
#include <sys/stat.h>

#include "server/log.h"
#include "server/meta/meta_store.h"

namespace myfs::server {

Result<UnlinkResult> MetaStore::unlink(const Cred& cred, InodeId parent, std::string_view name, bool isDir) {
  std::lock_guard<std::mutex> lock(mu_);
  MYFS_ASSIGN_OR_RETURN(dir, loadSearchableDir(cred, parent));
  if (name.empty()) return Errno(ENOENT);
  if (name.size() > kNameMax) return Errno(ENAMETOOLONG);
  if (name == ".") return Errno(isDir ? EINVAL : EISDIR);
  if (name == "..") return Errno(isDir ? ENOTEMPTY : EISDIR);
  MYFS_TRY(checkName(name));
  MYFS_ASSIGN_OR_RETURN(entry, loadDentry(parent, name));
  if (!entry) return Errno(ENOENT);
  if (!mayAccess(dir.attr, cred, kMayWrite | kMayExec)) return Errno(EACCES);

  std::optional<InodeRecord> victim;
  if (isLocal(entry->ino)) {
    Result<InodeRecord> v = loadInode(entry->ino);
    if (!v) {
      if (v.err() == ENOENT) {
        logLine("metadata store: entry in %#llx points to missing inode %#llx",
                static_cast<unsigned long long>(parent), static_cast<unsigned long long>(entry->ino));
        return Errno(EIO);
      }
      return v.error();
    }
    victim = *v;
  }
  if (!stickyAllows(cred, dir.attr, victim ? std::optional<std::uint32_t>(victim->attr.uid) : std::nullopt)) {
    return Errno(EPERM);
  }
  bool victimIsDir = S_ISDIR(entry->type);
  if (isDir) {
    if (!victimIsDir) return Errno(ENOTDIR);
    if (entry->ino == kRootIno) return Errno(EBUSY);
    if (!victim) return Errno(EXDEV);
    MYFS_ASSIGN_OR_RETURN(nonEmpty, hasEntries(entry->ino));
    if (nonEmpty) return Errno(ENOTEMPTY);
  } else if (victimIsDir) {
    return Errno(EISDIR);
  }

  std::int64_t now = nowNs();
  MetaTxn txn = beginTxn();
  txn.removeDentry(parent, name);
  InodeRecord dirBefore = dir;
  if (victimIsDir) --dir.attr.nlink;
  touchDir(dir, now);
  txn.updateInode(dirBefore, dir);
  UnlinkResult out = unlinkInode(txn, *entry, victim, now);
  MYFS_TRY(commit(txn));
  return out;
}

Result<void> MetaStore::removeEntry(const Cred& cred, InodeId parent, std::string_view name, InodeId expectIno) {
  std::lock_guard<std::mutex> lock(mu_);
  MYFS_ASSIGN_OR_RETURN(dir, loadSearchableDir(cred, parent));
  MYFS_TRY(checkEntryName(name, EINVAL));
  MYFS_ASSIGN_OR_RETURN(entry, loadDentry(parent, name));
  if (!entry || entry->ino != expectIno) return Errno(ENOENT);
  if (!mayAccess(dir.attr, cred, kMayWrite | kMayExec)) return Errno(EACCES);
  std::optional<std::uint32_t> victimUid;
  if (isLocal(entry->ino)) {
    Result<InodeRecord> v = loadInode(entry->ino);
    if (v) victimUid = v->attr.uid;
  }
  if (!stickyAllows(cred, dir.attr, victimUid)) return Errno(EPERM);

  MetaTxn txn = beginTxn();
  txn.removeDentry(parent, name);
  InodeRecord before = dir;
  if (S_ISDIR(entry->type)) --dir.attr.nlink;
  touchDir(dir, nowNs());
  txn.updateInode(before, dir);
  return commit(txn);
}

Result<void> MetaStore::prepareRmdir(const Cred& /*cred*/, InodeId ino, bool undo) {
  std::lock_guard<std::mutex> lock(mu_);
  MYFS_ASSIGN_OR_RETURN(rec, loadInode(ino));
  if (!rec.attr.isDir()) return Errno(ENOTDIR);
  if (ino == kRootIno) return Errno(EBUSY);
  InodeRecord after = rec;
  if (undo) {
    after.flags &= ~kInodeRmdirPrepared;
  } else {
    MYFS_ASSIGN_OR_RETURN(nonEmpty, hasEntries(ino));
    if (nonEmpty) return Errno(ENOTEMPTY);
    after.flags |= kInodeRmdirPrepared;
  }
  if (after.flags == rec.flags) return okResult();
  MetaTxn txn = beginTxn();
  txn.updateInode(rec, after);
  return commit(txn);
}

Result<LinkCountResult> MetaStore::linkCount(InodeId ino, std::int32_t delta, InodeId newParent) {
  std::lock_guard<std::mutex> lock(mu_);
  MYFS_ASSIGN_OR_RETURN(rec, loadInode(ino));
  const bool isDir = rec.attr.isDir();
  if (newParent != 0 && !isDir) return Errno(EINVAL);

  bool free = false;
  InodeRecord after = rec;
  if (rec.flags & kInodePending) {
    if (delta < 0) {
      free = true;
    } else if (delta > 0) {
      if (isDir && delta != 1) return Errno(EINVAL);
      if (!isDir && static_cast<std::uint32_t>(delta) > kLinkMax) return Errno(EMLINK);
      after.attr.nlink = isDir ? 2 : static_cast<std::uint32_t>(delta);
      after.flags &= ~kInodePending;
    }
  } else if (isDir) {
    if (delta > 0) return Errno(EPERM);
    if (delta < -1) return Errno(EINVAL);
    if (delta == -1) {
      MYFS_ASSIGN_OR_RETURN(nonEmpty, hasEntries(ino));
      if (nonEmpty) return Errno(ENOTEMPTY);
      free = true;
    }
  } else {
    std::int64_t n = static_cast<std::int64_t>(rec.attr.nlink) + delta;
    if (n < 0) return Errno(EINVAL);
    if (n > kLinkMax) return Errno(EMLINK);
    if (n == 0 && heldOpen_ && heldOpen_(ino)) {
      after.flags |= kInodeOrphan;
    } else if (n == 0) {
      free = true;
    }
    after.attr.nlink = static_cast<std::uint32_t>(n);
    if (n > 0) after.flags &= ~kInodeOrphan;
  }

  MetaTxn txn = beginTxn();
  LinkCountResult out;
  out.size = rec.attr.size;
  if (free) {
    txn.removeInode(rec);
    out.nlink = 0;
    out.freed = true;
  } else {
    if (newParent != 0) after.attr.parent = newParent;
    if (delta == 0 && newParent == 0) {
      out.nlink = rec.attr.nlink;  // nothing to change
      return out;
    }
    after.attr.ctimeNs = nowNs();
    ++after.attr.version;
    txn.updateInode(rec, after);
    out.nlink = after.attr.nlink;
  }
  MYFS_TRY(commit(txn));
  return out;
}

Result<LinkCountResult> MetaStore::releaseOrphan(InodeId ino) {
  std::lock_guard<std::mutex> lock(mu_);
  MYFS_ASSIGN_OR_RETURN(rec, loadInode(ino));
  LinkCountResult out;
  out.nlink = rec.attr.nlink;
  out.size = rec.attr.size;
  if (!(rec.flags & kInodeOrphan) || rec.attr.nlink != 0) return out;
  MetaTxn txn = beginTxn();
  txn.removeInode(rec);
  MYFS_TRY(commit(txn));
  out.freed = true;
  return out;
}

}  // namespace myfs::server
