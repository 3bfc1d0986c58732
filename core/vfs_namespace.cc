// Operations on names: stat, mkdir, unlink, rename, link, symlink, chmod, ...
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/statvfs.h>

#include "core/vfs_impl.h"

namespace myfs {

namespace {

SetAttr timesRequest(std::int64_t atimeNs, std::int64_t mtimeNs) {
  SetAttr req;
  if (atimeNs != kTimeOmit) {
    req.setAtime = true;
    req.atimeNs = atimeNs == kTimeNow ? kSetAttrTimeNow : atimeNs;
  }
  if (mtimeNs != kTimeOmit) {
    req.setMtime = true;
    req.mtimeNs = mtimeNs == kTimeNow ? kSetAttrTimeNow : mtimeNs;
  }
  return req;
}

}  // namespace

Result<Attr> VfsImpl::stat(At at, std::string_view path, bool follow) {
  if (at.dirFd < 0) {
    if (auto hit = cachedWalk(path, follow)) return hit->attr;
  }
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, follow, credentials()));
  return w.node.attr;
}

Result<void> VfsImpl::access(At at, std::string_view path, int mask, bool effective) {
  const Cred& cred = credentials(effective);
  if (at.dirFd < 0 && effective) {
    if (auto hit = cachedWalk(path, true)) {
      if (mask != F_OK && !mayAccess(hit->attr, cred, mask & 7)) return Errno(EACCES);
      return okResult();
    }
  }
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, true, cred));
  if (mask != F_OK && !mayAccess(w.node.attr, cred, mask & 7)) return Errno(EACCES);
  return okResult();
}

Result<void> VfsImpl::mkdirIn(const Node& parent, std::string_view name, mode_t mode, const Cred& cred) {
  if (auto done = mkdirDelegated(parent, name, mode, cred)) return *done;
  NameChange change = nameChanging(parent.inode->ino);  // before the change: see vfs_delegate.cc
  const InodeId p = parent.inode->ino;
  const std::uint32_t target = shardForNewDirectory(p, name, cluster_.shardCount());
  const std::uint32_t dirMode = S_IFDIR | (mode & 07777);
  InodeId made = 0;
  if (target == shardOfInode(p)) {
    const std::uint64_t mark = recallMark(p);
    MYFS_ASSIGN_OR_RETURN(attr, cluster_.shardOf(p).mkdir(cred, p, name, dirMode));
    learnMade(attr, mark);
    made = attr.ino;
  } else if (auto one = mkdirReserved(target, p, name, dirMode, cred)) {
    MYFS_ASSIGN_OR_RETURN(ino, *one);
    made = ino;
  } else {
    // Two shards: the inode first (pending: unreferenced if we stop here), then the
    // entry (whose shard checks write permission on the parent) and the inode's link
    // together.
    MYFS_ASSIGN_OR_RETURN(attr, cluster_.shard(target).makeInode(cred, p, dirMode, ""));
    Cluster::EntryAndLink both = cluster_.addEntryAndLink(cred, p, name, attr.ino, dirMode);
    if (!both.entry) {
      (void)cluster_.shard(target).linkCount(attr.ino, -1, 0);  // frees it, pending or linked
      return both.entry.error();
    }
    if (!both.link) return both.link.error();
    made = attr.ino;
  }
  change.finishMade(std::string(name));
  learnEntry(p, name, made);
  touched(p);  // the parent's nlink and times changed
  noteNameChange(p, cred);
  return okResult();
}

std::optional<InodeId> VfsImpl::takeReservedInode(std::uint32_t shard) {
  {
    std::lock_guard lock(reservedMu_);
    if (reserved_.size() < cluster_.shardCount()) reserved_.resize(cluster_.shardCount());
    if (!reserved_[shard].empty()) {
      InodeId ino = reserved_[shard].back();
      reserved_[shard].pop_back();
      return ino;
    }
  }
  Result<InodeRange> got = cluster_.shard(shard).reserveInodes(kReserveInodes);
  if (!got || got->count == 0) return std::nullopt;
  std::lock_guard lock(reservedMu_);
  for (std::uint32_t i = got->count; i-- > 1;) reserved_[shard].push_back(got->first + i);
  return got->first;
}

std::optional<Result<InodeId>> VfsImpl::mkdirReserved(std::uint32_t shard, InodeId parent, std::string_view name,
                                                      std::uint32_t mode, const Cred& cred) {
  std::optional<InodeId> ino = takeReservedInode(shard);
  if (!ino) return std::nullopt;
  const std::uint64_t mark = recallMark(*ino);
  Result<Attr> later = cluster_.mkdirRemote(cred, parent, name, *ino, mode);
  if (later) {
    learnMade(*later, mark);
    return Result<InodeId>(*ino);
  }
  if (later.err() != ENOSYS) {
    // Refused, so the number is unused and ours again; after EIO the entry may exist.
    if (later.err() != EIO) {
      std::lock_guard lock(reservedMu_);
      reserved_[shard].push_back(*ino);
    }
    return Result<InodeId>(later.error());
  }
  Cluster::DirAndEntry both = cluster_.makeDirAndEntry(cred, parent, name, *ino, mode);
  if (both.dir && both.entry) {
    learnMade(*both.dir, mark);
    return Result<InodeId>(*ino);
  }
  if (both.dir) {
    (void)cluster_.shard(shard).linkCount(*ino, -1, 0);  // the entry failed: the directory goes
    return Result<InodeId>(both.entry.error());
  }
  if (both.entry) (void)cluster_.shardOf(parent).removeEntry(cred, parent, name, *ino);
  if (both.dir.err() == EINVAL) {
    // The shard no longer holds our numbers (it restarted, or our session changed).
    std::lock_guard lock(reservedMu_);
    reserved_[shard].clear();
    return std::nullopt;
  }
  if (!both.entry && both.entry.err() != ECANCELED) return Result<InodeId>(both.entry.error());
  return Result<InodeId>(both.dir.error());
}

Result<void> VfsImpl::mkdir(At at, std::string_view path, mode_t mode) {
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkParent(at, path, cred));
  if (w.last.empty() || w.last == "." || w.last == "..") return Errno(EEXIST);
  return mkdirIn(w.node, w.last, mode, cred);
}

Result<void> VfsImpl::mknod(At at, std::string_view path, mode_t mode, dev_t rdev) {
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkParent(at, path, cred));
  if (w.last.empty() || w.last == "." || w.last == "..") return Errno(EEXIST);
  if ((mode & S_IFMT) == 0) mode |= S_IFREG;
  if (S_ISDIR(mode) || S_ISLNK(mode)) return Errno(EINVAL);
  if ((S_ISCHR(mode) || S_ISBLK(mode)) && cred.uid != 0) return Errno(EPERM);
  const InodeId p = w.node.inode->ino;
  const std::uint64_t mark = recallMark(p);
  NameChange change = nameChanging(p);
  MYFS_ASSIGN_OR_RETURN(cr, cluster_.shardOf(p).create(cred, p, w.last, mode, true, rdev));
  learnMade(cr.attr, mark);
  learnEntry(p, w.last, cr.attr.ino);
  touched(p);
  return okResult();
}

Result<void> VfsImpl::dropLink(const UnlinkResult& r) {
  std::uint64_t size = r.size;
  bool last = r.lastLink;
  if (r.remoteInode) {
    MYFS_ASSIGN_OR_RETURN(lc, cluster_.shardOf(r.ino).linkCount(r.ino, -1, 0));
    last = lc.freed;  // nlink 0 but not freed: another client holds it open
    size = lc.size;
  }
  if (!last) {
    touched(r.ino);  // nlink and ctime changed
    return okResult();
  }
  auto inode = inodeObject(r.ino);
  {
    std::lock_guard lock(inode->mu);
    inode->attr.nlink = 0;
    if (inode->openCount > 0) {
      inode->unlinked = true;  // data stays readable through open fds until the last close
      return okResult();
    }
    if (inode->pages) inode->pages->truncate(0);
    inode->sizeDirty = inode->mtimeDirty = false;
  }
  if (size > 0) MYFS_TRY(cluster_.data().remove(r.ino));
  return okResult();
}

bool VfsImpl::stickyMatters(const Attr& dir, const Cred& cred) {
  // Without w+x on the directory the shard answers EACCES first, as Linux does.
  return (dir.mode & S_ISVTX) && cred.uid != 0 && cred.uid != dir.uid && mayAccess(dir, cred, kMayWrite | kMayExec);
}

Result<void> VfsImpl::checkSticky(const Attr& dir, const Node& victim, const Cred& cred) {
  if (!stickyMatters(dir, cred)) return okResult();
  std::uint32_t owner = victim.attr.uid;
  if (!victim.complete) {  // an inode of another shard, not cached
    MYFS_ASSIGN_OR_RETURN(full, loadInode(victim.inode->ino));
    owner = full.attr.uid;
  }
  return owner == cred.uid ? okResult() : Result<void>(Errno(EPERM));
}

Result<void> VfsImpl::unlink(At at, std::string_view path) {
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkParent(at, path, cred));
  if (w.last.empty() || w.last == "." || w.last == "..") return Errno(w.last.empty() ? EISDIR : EISDIR);
  const InodeId p = w.node.inode->ino;
  if (w.trailingSlash) {
    // "name/" must be a directory, which unlink refuses.
    MYFS_ASSIGN_OR_RETURN(child, lookupChild(w.node, w.last, cred));
    return Errno(child.attr.isDir() ? EISDIR : ENOTDIR);
  }
  if (stickyMatters(w.node.attr, cred)) {
    // The entry may name an inode of another shard, whose owner the parent's shard
    // cannot see: the client checks it.
    auto child = lookupChild(w.node, w.last, cred);
    if (child) MYFS_TRY(checkSticky(w.node.attr, *child, cred));
  }
  if (auto done = unlinkDelegated(w, cred)) return *done;
  forget(p, w.last);
  NameChange change = nameChanging(p);
  MYFS_ASSIGN_OR_RETURN(r, cluster_.shardOf(p).unlink(cred, p, w.last, false));
  change.finishRemoved(w.last);
  learnEntry(p, w.last, 0);
  touched(p);
  noteNameChange(p, cred, true);
  return dropLink(r);
}

Result<void> VfsImpl::rmdir(At at, std::string_view path) {
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkParent(at, path, cred));
  if (w.last.empty()) return Errno(EBUSY);
  if (w.last == ".") return Errno(EINVAL);
  if (w.last == "..") return Errno(ENOTEMPTY);
  const InodeId p = w.node.inode->ino;
  forget(p, w.last);
  NameChange change = nameChanging(p);
  auto r = cluster_.shardOf(p).unlink(cred, p, w.last, true);
  if (r.ok()) {
    change.finishRemoved(w.last);
    touched(p);
    removedDirectory(r->ino);
    return okResult();
  }
  if (r.err() != EXDEV) return r.error();
  // The directory's inode lives on another shard: mark it, unlink it, free it.
  MYFS_ASSIGN_OR_RETURN(child, lookupChild(w.node, w.last, cred));
  if (!child.attr.isDir()) return Errno(ENOTDIR);
  MYFS_TRY(checkSticky(w.node.attr, child, cred));
  MetaShard& owner = cluster_.shardOf(child.inode->ino);
  if (auto prepared = owner.prepareRmdir(cred, child.inode->ino, false); !prepared) {
    if (prepared.err() != ENOENT) return prepared.error();
    // An entry whose directory was never made (its shard refused the intent, or a
    // makeDirAndEntry whose client died halfway, see docs/design.md): removing the name
    // is all there is to do.
    MYFS_TRY(cluster_.shardOf(p).removeEntry(cred, p, w.last, child.inode->ino));
    forget(p, w.last);
    touched(p);
    return okResult();
  }
  if (auto removed = cluster_.shardOf(p).removeEntry(cred, p, w.last, child.inode->ino); !removed) {
    (void)owner.prepareRmdir(cred, child.inode->ino, true);
    return removed.error();
  }
  forget(p, w.last);
  MYFS_TRY(owner.linkCount(child.inode->ino, -1, 0));  // frees the (empty) directory
  touched(p);
  removedDirectory(child.inode->ino);
  return okResult();
}

void VfsImpl::removedDirectory(InodeId ino) {
  cwdRemovedIf(ino);
  delegationNameChanged(ino);
  std::shared_ptr<Inode> dir = findInode(ino);
  if (!dir) return;
  {
    std::lock_guard lock(dir->mu);
    dir->attr.nlink = 0;  // an open fd or the current directory still names it
  }
  stale(ino);
}

Result<void> VfsImpl::rename(At from, std::string_view fromPath, At to, std::string_view toPath,
                             unsigned flags) {
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) != 0 ||
      ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) ||
      ((flags & RENAME_WHITEOUT) && (flags & RENAME_EXCHANGE))) {
    return Errno(EINVAL);
  }
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(src, walkParent(from, fromPath, cred));
  MYFS_ASSIGN_OR_RETURN(dst, walkParent(to, toPath, cred));
  if (src.last.empty() || dst.last.empty()) return Errno(EBUSY);
  if (src.last == "." || src.last == ".." || dst.last == "." || dst.last == "..") {
    return Errno(src.last == "." || dst.last == "." ? EINVAL : EBUSY);
  }
  if (flags & RENAME_WHITEOUT) {
    // Whiteouts are for overlay file systems: unsupported (EINVAL) once the source exists.
    MYFS_ASSIGN_OR_RETURN(source, lookupChild(src.node, src.last, cred));
    (void)source;
    return Errno(EINVAL);
  }
  // The sticky rule for entries whose inodes live on another shard (see checkSticky).
  for (const Walk* w : {&src, &dst}) {
    if (!stickyMatters(w->node.attr, cred)) continue;
    auto victim = lookupChild(w->node, w->last, cred);
    if (victim) MYFS_TRY(checkSticky(w->node.attr, *victim, cred));
  }
  const InodeId sp = src.node.inode->ino;
  const InodeId dp = dst.node.inode->ino;
  NameChange changeSrc = nameChanging(sp);
  NameChange changeDst = nameChanging(dp);
  forget(sp, src.last);
  forget(dp, dst.last);
  if (src.trailingSlash || dst.trailingSlash) {
    MYFS_ASSIGN_OR_RETURN(moved, lookupChild(src.node, src.last, cred));
    if (!moved.attr.isDir()) return Errno(ENOTDIR);
  }
  if (shardOfInode(sp) == shardOfInode(dp)) {
    auto renamed = cluster_.shardOf(sp).rename(cred, sp, src.last, dp, dst.last, flags);
    if (!renamed && renamed.err() == EXDEV) {
      // A directory it replaces lives on another shard: take the two-shard path.
      return renameAcrossShards(cred, src.node, src.last, dst.node, dst.last, flags);
    }
    MYFS_ASSIGN_OR_RETURN(r, std::move(renamed));
    if (r.movedIno != 0) stale(r.movedIno);
    touched(sp);
    if (dp != sp) touched(dp);
    if (r.replaced.ino != 0) {
      cwdRemovedIf(r.replaced.ino);  // a directory replaced loses its only name
      return dropLink(r.replaced);
    }
    return okResult();
  }
  return renameAcrossShards(cred, src.node, src.last, dst.node, dst.last, flags);
}

Result<void> VfsImpl::renameAcrossShards(const Cred& cred, const Node& srcDir, std::string_view srcName,
                                         const Node& dstDir, std::string_view dstName, unsigned flags) {
  if (flags & RENAME_EXCHANGE) return exchangeAcrossShards(cred, srcDir, srcName, dstDir, dstName);
  MYFS_ASSIGN_OR_RETURN(moved, lookupChild(srcDir, srcName, cred));
  const InodeId ino = moved.inode->ino;
  // A directory made by mkdirRemote is made on its shard before its entry moves: until
  // then the entry (with its intent) is its only record.
  MYFS_TRY(cluster_.settleDir(ino));
  // Write permission on both parents: checked by addEntry and removeEntry on their shards.
  if (moved.attr.isDir()) MYFS_TRY(refuseMoveUnder(ino, dstDir.inode->ino));  // not under itself
  auto existing = lookupChild(dstDir, dstName, cred);
  if (existing.ok()) {
    if (existing->inode->ino == ino) return okResult();
    MYFS_TRY(cluster_.settleDir(existing->inode->ino));
    if (flags & RENAME_NOREPLACE) return Errno(EEXIST);
    if (moved.attr.isDir() && !existing->attr.isDir()) return Errno(ENOTDIR);
    if (!moved.attr.isDir() && existing->attr.isDir()) return Errno(EISDIR);
    if (existing->attr.isDir()) {
      MYFS_ASSIGN_OR_RETURN(page, cluster_.shardOf(existing->inode->ino).readdir(cred, existing->inode->ino, "", 1));
      if (!page.entries.empty()) return Errno(ENOTEMPTY);
    }
  } else if (existing.err() != ENOENT) {
    return existing.error();
  }
  MYFS_ASSIGN_OR_RETURN(added, cluster_.shardOf(dstDir.inode->ino)
                                   .addEntry(cred, dstDir.inode->ino, dstName, ino, moved.attr.mode, true));
  if (auto removed = cluster_.shardOf(srcDir.inode->ino).removeEntry(cred, srcDir.inode->ino, srcName, ino); !removed) {
    return removed.error();  // the entry was changed under us; the new name stands
  }
  forget(srcDir.inode->ino, srcName);
  forget(dstDir.inode->ino, dstName);
  if (moved.attr.isDir()) MYFS_TRY(cluster_.shardOf(ino).linkCount(ino, 0, dstDir.inode->ino));
  stale(ino);
  touched(srcDir.inode->ino);
  touched(dstDir.inode->ino);
  if (added.replacedIno != 0) {
    cwdRemovedIf(added.replacedIno);  // a directory replaced loses its only name
    MetaShard& owner = cluster_.shardOf(added.replacedIno);
    MYFS_ASSIGN_OR_RETURN(lc, owner.linkCount(added.replacedIno, -1, 0));
    if (lc.freed) {
      UnlinkResult gone{added.replacedIno, false, true, lc.size};
      return dropLink(gone);
    }
  }
  return okResult();
}

Result<void> VfsImpl::refuseMoveUnder(InodeId dir, InodeId newParent) {
  InodeId up = newParent;
  for (int depth = 0; depth < 4096; ++depth) {
    if (up == dir) return Errno(EINVAL);
    if (up == mount_.rootIno) break;
    MYFS_ASSIGN_OR_RETURN(n, loadInode(up));
    up = n.attr.parent;
  }
  return okResult();
}

// RENAME_EXCHANGE between directories on two shards: each name is pointed at the other's
// inode (addEntry with replace, which keeps the parents' link counts right), then moved
// directories get their new "..". A crash between the two steps leaves one inode with
// two names and the other with none (collectable), never a name without an inode.
Result<void> VfsImpl::exchangeAcrossShards(const Cred& cred, const Node& srcDir, std::string_view srcName,
                                           const Node& dstDir, std::string_view dstName) {
  MYFS_ASSIGN_OR_RETURN(a, lookupChild(srcDir, srcName, cred));
  MYFS_ASSIGN_OR_RETURN(b, lookupChild(dstDir, dstName, cred));
  const InodeId ia = a.inode->ino;
  const InodeId ib = b.inode->ino;
  if (ia == ib) return okResult();
  MYFS_TRY(cluster_.settleDir(ia));
  MYFS_TRY(cluster_.settleDir(ib));
  if (a.attr.isDir()) MYFS_TRY(refuseMoveUnder(ia, dstDir.inode->ino));
  if (b.attr.isDir()) MYFS_TRY(refuseMoveUnder(ib, srcDir.inode->ino));
  const InodeId sp = srcDir.inode->ino;
  const InodeId dp = dstDir.inode->ino;
  MYFS_ASSIGN_OR_RETURN(first, cluster_.shardOf(dp).addEntry(cred, dp, dstName, ia, a.attr.mode, true));
  if (first.replacedIno != ib) {
    // Changed under us: put back what we replaced.
    if (first.replacedIno != 0) {
      (void)cluster_.shardOf(dp).addEntry(cred, dp, dstName, first.replacedIno, first.replacedMode, true);
    }
    return Errno(ENOENT);
  }
  auto second = cluster_.shardOf(sp).addEntry(cred, sp, srcName, ib, b.attr.mode, true);
  if (!second) {
    (void)cluster_.shardOf(dp).addEntry(cred, dp, dstName, ib, b.attr.mode, true);  // undo step 1
    return second.error();
  }
  forget(sp, srcName);
  forget(dp, dstName);
  if (a.attr.isDir()) MYFS_TRY(cluster_.shardOf(ia).linkCount(ia, 0, dp));
  if (b.attr.isDir()) MYFS_TRY(cluster_.shardOf(ib).linkCount(ib, 0, sp));
  stale(ia);
  stale(ib);
  touched(sp);
  touched(dp);
  return okResult();
}

Result<void> VfsImpl::link(At from, std::string_view fromPath, At to, std::string_view toPath, bool follow) {
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(src, walkFull(from, fromPath, follow, cred));
  if (src.node.attr.isDir()) return Errno(EPERM);
  // fs.protected_hardlinks (on in every distribution): only the owner, or whoever may
  // read and write a regular file, links to it.
  Attr a = src.node.attr;
  if (!src.node.complete) {
    MYFS_ASSIGN_OR_RETURN(full, loadInode(src.node.inode->ino));
    a = full.attr;
  }
  if (cred.uid != 0 && cred.uid != a.uid && !(a.isReg() && mayAccess(a, cred, kMayRead | kMayWrite) &&
                                              !(a.mode & S_ISUID) && (a.mode & (S_ISGID | S_IXGRP)) != (S_ISGID | S_IXGRP))) {
    return Errno(EPERM);
  }
  MYFS_ASSIGN_OR_RETURN(dst, walkParent(to, toPath, cred));
  if (dst.last.empty() || dst.last == "." || dst.last == "..") return Errno(EEXIST);
  if (dst.trailingSlash) return Errno(ENOENT);
  const InodeId ino = src.node.inode->ino;
  const InodeId dp = dst.node.inode->ino;
  bool anonymous = false;
  {
    std::lock_guard lock(src.node.inode->mu);
    if (src.node.inode->anonymous && !src.node.inode->linkable) return Errno(ENOENT);  // O_TMPFILE|O_EXCL
    anonymous = src.node.inode->anonymous;
  }
  if (!anonymous && src.node.attr.nlink == 0) return Errno(ENOENT);  // removed: no name to add
  // The link count first: a crash in between leaves a count one too high, never an
  // entry to a freed inode. (An O_TMPFILE inode is pending: +1 makes it linked.)
  MYFS_TRY(cluster_.shardOf(ino).linkCount(ino, +1, 0));
  NameChange change = nameChanging(dp);
  auto added = cluster_.shardOf(dp).addEntry(cred, dp, dst.last, ino, src.node.attr.mode, false);
  if (!added) {
    // An O_TMPFILE inode keeps its count: its last close drops it, freeing the inode.
    if (!anonymous) (void)cluster_.shardOf(ino).linkCount(ino, -1, 0);
    return added.error();
  }
  forget(dp, dst.last);
  touched(ino);
  touched(dp);
  if (anonymous) {
    std::lock_guard lock(src.node.inode->mu);
    src.node.inode->anonymous = false;  // named now: an ordinary file
  }
  return okResult();
}

Result<void> VfsImpl::symlink(std::string_view target, At at, std::string_view path) {
  if (target.empty()) return Errno(ENOENT);
  if (target.size() >= PATH_MAX) return Errno(ENAMETOOLONG);
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkParent(at, path, cred));
  if (w.last.empty() || w.last == "." || w.last == "..") return Errno(EEXIST);
  const InodeId p = w.node.inode->ino;
  const std::uint64_t mark = recallMark(p);
  NameChange change = nameChanging(p);
  MYFS_ASSIGN_OR_RETURN(attr, cluster_.shardOf(p).symlink(cred, p, w.last, target));
  learnMade(attr, mark);
  learnEntry(p, w.last, attr.ino);
  touched(p);
  return okResult();
}

Result<std::string> VfsImpl::readlink(At at, std::string_view path) {
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, false, credentials()));
  if (!w.node.attr.isLink()) return Errno(EINVAL);
  return cluster_.shardOf(w.node.inode->ino).readlink(w.node.inode->ino);
}

Result<void> VfsImpl::setattrNode(const Node& node, const SetAttr& req, const Cred& cred) {
  Inode& inode = *node.inode;
  std::lock_guard lock(inode.mu);
  // Times set explicitly win over this process's earlier writes: write those back first.
  if ((req.setMtime || req.setAtime) && (inode.sizeDirty || inode.mtimeDirty || (inode.pages && inode.pages->hasDirty()))) {
    MYFS_TRY(flushInode(inode, false));
  }
  MYFS_ASSIGN_OR_RETURN(attr, cluster_.shardOf(inode.ino).setattr(cred, inode.ino, req));
  (void)learnLocked(inode, attr);
  return okResult();
}

Result<void> VfsImpl::truncate(At at, std::string_view path, off_t size) {
  if (size < 0) return Errno(EINVAL);
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, true, cred));
  if (w.node.attr.isDir()) return Errno(EISDIR);
  if (!w.node.attr.isReg()) return Errno(EINVAL);
  if (!mayAccess(w.node.attr, cred, kMayWrite)) return Errno(EACCES);
  std::lock_guard lock(w.node.inode->mu);
  return truncateInode(*w.node.inode, static_cast<std::uint64_t>(size), cred);
}

Result<void> VfsImpl::chmod(At at, std::string_view path, mode_t mode, bool follow) {
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, follow, cred));
  if (w.node.attr.isLink()) return Errno(EOPNOTSUPP);  // Linux: fchmodat(AT_SYMLINK_NOFOLLOW)
  SetAttr req;
  req.setMode = true;
  req.mode = mode & 07777;
  return setattrNode(w.node, req, cred);
}

Result<void> VfsImpl::chown(At at, std::string_view path, uid_t uid, gid_t gid, bool follow) {
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, follow, cred));
  SetAttr req;
  req.setUid = uid != static_cast<uid_t>(-1);
  req.uid = uid;
  req.setGid = gid != static_cast<gid_t>(-1);
  req.gid = gid;
  return setattrNode(w.node, req, cred);
}

Result<void> VfsImpl::utimens(At at, std::string_view path, std::int64_t atimeNs, std::int64_t mtimeNs,
                              bool follow) {
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, follow, cred));
  SetAttr req = timesRequest(atimeNs, mtimeNs);
  if (!req.setAtime && !req.setMtime) return okResult();
  return setattrNode(w.node, req, cred);
}

Result<void> VfsImpl::futimens(int fd, std::int64_t atimeNs, std::int64_t mtimeNs) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  SetAttr req = timesRequest(atimeNs, mtimeNs);
  if (!req.setAtime && !req.setMtime) return okResult();
  const Cred& cred = credentials();
  {
    std::lock_guard lock(f->inode->mu);
    if (req.setMtime) {
      MYFS_TRY(flushInode(*f->inode, false));  // pending writes must not move mtime later
      f->inode->mtimeDirty = false;
    }
  }
  MYFS_ASSIGN_OR_RETURN(n, loadInode(f->inode->ino));
  return setattrNode(n, req, cred);
}

Result<void> VfsImpl::fchmod(int fd, mode_t mode) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  MYFS_ASSIGN_OR_RETURN(n, loadInode(f->inode->ino));
  SetAttr req;
  req.setMode = true;
  req.mode = mode & 07777;
  return setattrNode(n, req, credentials());
}

Result<void> VfsImpl::fchown(int fd, uid_t uid, gid_t gid) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  MYFS_ASSIGN_OR_RETURN(n, loadInode(f->inode->ino));
  SetAttr req;
  req.setUid = uid != static_cast<uid_t>(-1);
  req.uid = uid;
  req.setGid = gid != static_cast<gid_t>(-1);
  req.gid = gid;
  return setattrNode(n, req, credentials());
}

Result<struct statvfs> VfsImpl::statfs() {
  struct statvfs s {};
  constexpr std::uint64_t kBlock = 4096;
  s.f_bsize = kBlock;
  s.f_frsize = kBlock;
  s.f_namemax = NAME_MAX;
  std::uint64_t total = 0, free = 0, inodes = 0;
  for (std::uint32_t i = 0; i < cluster_.data().serverCount(); ++i) {
    MYFS_ASSIGN_OR_RETURN(ds, cluster_.data().stats(i));
    total += ds.diskTotal;
    free += ds.diskFree;
  }
  for (std::uint32_t i = 0; i < cluster_.shardCount(); ++i) {
    MYFS_ASSIGN_OR_RETURN(ms, cluster_.shard(i).statfs());
    inodes += ms.inodes;
  }
  s.f_blocks = total / kBlock;
  s.f_bfree = free / kBlock;
  s.f_bavail = free / kBlock;
  constexpr std::uint64_t kInodeSpace = 1ull << 32;  // inode numbers are never the limit
  s.f_files = kInodeSpace;
  s.f_ffree = kInodeSpace > inodes ? kInodeSpace - inodes : 0;
  s.f_favail = s.f_ffree;
  s.f_fsid = kMyfsDev;
  return s;
}

}  // namespace myfs
