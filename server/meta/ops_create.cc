// MetaStore: operations that make new inodes (create, mkdir, symlink, makeInode).
#include <sys/stat.h>

#include <algorithm>

#include "server/meta/meta_store.h"

namespace myfs::server {
namespace {

Result<void> checkSymlinkTarget(std::string_view target) {
  if (target.empty()) return Errno(ENOENT);
  if (target.size() > kSymlinkMax) return Errno(ENAMETOOLONG);
  return okResult();
}

}  // namespace

Result<CreateResult> MetaStore::create(const Cred& cred, InodeId parent, std::string_view name, std::uint32_t mode,
                                       bool exclusive, std::uint64_t rdev) {
  std::uint32_t type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  switch (type) {  // may_mknod's rules
    case S_IFREG: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK: break;
    case S_IFDIR: return Errno(EPERM);
    default: return Errno(EINVAL);
  }
  std::lock_guard<std::mutex> lock(mu_);
  MYFS_ASSIGN_OR_RETURN(dir, loadSearchableDir(cred, parent));
  MYFS_TRY(checkEntryName(name, exclusive ? EEXIST : EISDIR));
  if (dir.flags & kInodeRmdirPrepared) return Errno(ENOENT);
  MYFS_ASSIGN_OR_RETURN(existing, loadDentry(parent, name));
  if (existing) {
    if (exclusive) return Errno(EEXIST);
    if (S_ISDIR(existing->type)) return Errno(EISDIR);
    MYFS_ASSIGN_OR_RETURN(attr, attrOfEntry(*existing));
    return CreateResult{attr, false};
  }
  if (!mayAccess(dir.attr, cred, kMayWrite | kMayExec)) return Errno(EACCES);
  if ((type == S_IFCHR || type == S_IFBLK) && cred.uid != 0) return Errno(EPERM);

  MetaTxn txn = beginTxn();
  MYFS_ASSIGN_OR_RETURN(rec, newInode(txn, cred, &dir, type | (mode & 07777)));
  rec.attr.nlink = 1;
  if (type == S_IFCHR || type == S_IFBLK) rec.attr.rdev = rdev;
  txn.createInode(rec);
  txn.putDentry(parent, name, DentryRecord{rec.attr.ino, type}, true);
  InodeRecord before = dir;
  touchDir(dir, rec.attr.ctimeNs);
  txn.updateInode(before, dir);
  MYFS_TRY(commit(txn));
  return CreateResult{rec.attr, true};
}

Result<InodeRecord> MetaStore::loadDirForNewEntry(const Cred& cred, InodeId parent, std::string_view name) const {
  MYFS_ASSIGN_OR_RETURN(dir, loadSearchableDir(cred, parent));
  MYFS_TRY(checkEntryName(name, EEXIST));
  if (dir.flags & kInodeRmdirPrepared) return Errno(ENOENT);
  MYFS_ASSIGN_OR_RETURN(existing, loadDentry(parent, name));
  if (existing) return Errno(EEXIST);
  if (!mayAccess(dir.attr, cred, kMayWrite | kMayExec)) return Errno(EACCES);
  return dir;
}

Result<Attr> MetaStore::mkdir(const Cred& cred, InodeId parent, std::string_view name, std::uint32_t mode) {
  return makeDirectory(cred, parent, name, mode, 0, 0);
}

Result<Attr> MetaStore::makeDirectory(const Cred& cred, InodeId parent, std::string_view name, std::uint32_t mode,
                                      InodeId remoteIno, std::uint64_t leaseTo, std::int64_t stampNs) {
  std::lock_guard<std::mutex> lock(mu_);
  MYFS_ASSIGN_OR_RETURN(dir, loadDirForNewEntry(cred, parent, name));
  if (dir.attr.nlink >= kDirLinkMax) return Errno(EMLINK);

  MetaTxn txn = beginTxn();
  MYFS_ASSIGN_OR_RETURN(rec, newInode(txn, cred, &dir, S_IFDIR | (mode & 01777), remoteIno, stampNs));
  rec.attr.nlink = 2;
  rec.attr.parent = parent;
  if (remoteIno == 0) {
    txn.createInode(rec);
    txn.putDentry(parent, name, DentryRecord{rec.attr.ino, S_IFDIR}, true);
  } else {
    txn.putDentry(parent, name, DentryRecord{remoteIno, S_IFDIR, DirIntent{rec.attr, leaseTo}}, true);
  }
  InodeRecord before = dir;
  ++dir.attr.nlink;
  touchDir(dir, rec.attr.ctimeNs);
  txn.updateInode(before, dir);
  MYFS_TRY(commit(txn));
  return rec.attr;
}

Result<Attr> MetaStore::symlink(const Cred& cred, InodeId parent, std::string_view name, std::string_view target) {
  MYFS_TRY(checkSymlinkTarget(target));
  std::lock_guard<std::mutex> lock(mu_);
  MYFS_ASSIGN_OR_RETURN(dir, loadDirForNewEntry(cred, parent, name));

  MetaTxn txn = beginTxn();
  MYFS_ASSIGN_OR_RETURN(rec, newInode(txn, cred, &dir, S_IFLNK | 0777));
  rec.attr.nlink = 1;
  rec.attr.size = target.size();
  txn.createInode(rec);
  txn.putLinkTarget(rec.attr.ino, target);
  txn.putDentry(parent, name, DentryRecord{rec.attr.ino, S_IFLNK}, true);
  InodeRecord before = dir;
  touchDir(dir, rec.attr.ctimeNs);
  txn.updateInode(before, dir);
  MYFS_TRY(commit(txn));
  return rec.attr;
}

Result<InodeRange> MetaStore::reserveInodes(std::uint64_t owner, std::uint32_t count) {
  if (count == 0 || count > kMaxReservation) return Errno(EINVAL);
  std::lock_guard<std::mutex> lock(mu_);
  std::unordered_set<std::uint64_t>& mine = reservations_[owner];
  if (mine.size() + count > kMaxUnusedReserved) return Errno(EAGAIN);
  MetaTxn txn = beginTxn();
  const std::uint64_t first = txn.nextSeq();
  if (first + count - 1 > kMaxSeq) return Errno(ENOSPC);
  for (std::uint32_t i = 0; i < count; ++i) txn.takeSeq();
  MYFS_TRY(commit(txn));  // moves the stored counter past them when they cross a block
  for (std::uint32_t i = 0; i < count; ++i) mine.insert(first + i);
  return InodeRange{makeInodeId(sb_.shardIndex, first), count};
}

void MetaStore::forgetReservations(std::uint64_t owner) {
  std::lock_guard<std::mutex> lock(mu_);
  reservations_.erase(owner);
}

Result<Attr> MetaStore::makeReservedDir(const Cred& cred, std::uint64_t owner, InodeId ino, InodeId parent,
                                        std::uint32_t mode) {
  if ((mode & S_IFMT) != S_IFDIR) return Errno(EINVAL);
  std::lock_guard<std::mutex> lock(mu_);
  auto mine = reservations_.find(owner);
  const std::uint64_t seq = ino & kMaxSeq;
  if (!isLocal(ino) || mine == reservations_.end() || mine->second.erase(seq) == 0) return Errno(EINVAL);
  MetaTxn txn = beginTxn();
  MYFS_ASSIGN_OR_RETURN(rec, newInode(txn, cred, nullptr, S_IFDIR | (mode & 07777), ino));
  rec.attr.nlink = 2;
  rec.attr.parent = parent;
  txn.createInode(rec);
  MYFS_TRY(commit(txn));
  return rec.attr;
}

Result<Attr> MetaStore::mkdirRemote(const Cred& cred, InodeId parent, std::string_view name, InodeId ino,
                                    std::uint32_t mode, std::uint64_t leaseTo, std::int64_t stampNs) {
  if (ino == 0 || isLocal(ino) || shardOfInode(ino) >= sb_.shardCount) return Errno(EINVAL);
  return makeDirectory(cred, parent, name, mode, ino, leaseTo, stampNs);
}

Result<void> MetaStore::confirmDirs(std::span<const DirEntryRef> entries) {
  std::lock_guard<std::mutex> lock(mu_);
  MetaTxn txn = beginTxn();
  bool any = false;
  for (const DirEntryRef& e : entries) {
    if (e.name.empty() || e.name.size() > kNameMax) continue;
    MYFS_ASSIGN_OR_RETURN(entry, loadDentry(e.parent, e.name));
    if (!entry || entry->ino != e.ino || !entry->intent) continue;
    txn.putDentry(e.parent, e.name, DentryRecord{entry->ino, entry->type}, false);
    any = true;
  }
  return any ? commit(txn) : okResult();
}

std::vector<Result<MetaStore::MadeDir>> MetaStore::makeDirs(std::span<const DirIntent> intents) {
  std::vector<Result<MadeDir>> out;
  out.reserve(intents.size());
  std::lock_guard<std::mutex> lock(mu_);
  MetaTxn txn = beginTxn();
  std::vector<std::size_t> madeHere;  // indexes into out of the directories this batch makes
  for (const DirIntent& intent : intents) {
    const Attr& want = intent.attr;
    const std::uint64_t seq = want.ino & kMaxSeq;
    if (!isLocal(want.ino) || seq == 0 || !S_ISDIR(want.mode) || seq >= nextSeq_) {
      out.push_back(Errno(EINVAL));  // beyond nextSeq_: never handed out, it would meet a later inode
      continue;
    }
    auto earlier = std::find_if(madeHere.begin(), madeHere.end(),
                                [&](std::size_t i) { return out[i]->attr.ino == want.ino; });
    if (earlier != madeHere.end()) {  // named twice in one batch
      out.push_back(MadeDir{out[*earlier]->attr, false});
      continue;
    }
    Result<InodeRecord> existing = loadInode(want.ino);
    if (existing) {
      if (!existing->attr.isDir()) {
        out.push_back(Errno(EEXIST));
      } else {
        out.push_back(MadeDir{existing->attr, false});
      }
      continue;
    }
    if (existing.err() != ENOENT) {
      out.push_back(existing.error());
      continue;
    }
    for (auto& [owner, numbers] : reservations_) numbers.erase(seq);
    InodeRecord rec;
    rec.attr = want;
    rec.attr.mode = S_IFDIR | (want.mode & 07777);
    rec.attr.nlink = 2;
    rec.attr.size = 0;
    rec.attr.rdev = 0;
    rec.attr.version = std::max<std::uint64_t>(want.version, 1);
    rec.attr.leased = false;
    txn.createInode(rec);
    madeHere.push_back(out.size());
    out.push_back(MadeDir{rec.attr, true});
  }
  if (!madeHere.empty()) {
    if (Result<void> c = commit(txn); !c) {
      for (std::size_t i : madeHere) out[i] = c.error();
    }
  }
  return out;
}

Result<Attr> MetaStore::makeInode(const Cred& cred, InodeId parentHint, std::uint32_t mode, std::string_view target) {
  std::uint32_t type = mode & S_IFMT;
  switch (type) {
    case S_IFDIR: case S_IFREG: case S_IFLNK: case S_IFIFO: case S_IFSOCK: break;
    default: return Errno(EINVAL);
  }
  if (type == S_IFLNK) MYFS_TRY(checkSymlinkTarget(target));
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<InodeRecord> parent;
  if (isLocal(parentHint)) {
    Result<InodeRecord> p = loadInode(parentHint);
    if (p && p->attr.isDir()) parent = *p;
  }
  MetaTxn txn = beginTxn();
  std::uint32_t perm = type == S_IFLNK ? 0777 : (mode & 07777);
  MYFS_ASSIGN_OR_RETURN(rec, newInode(txn, cred, parent ? &*parent : nullptr, type | perm));
  rec.attr.nlink = 0;
  rec.flags = kInodePending;
  if (type == S_IFDIR) rec.attr.parent = parentHint;
  if (type == S_IFLNK) {
    rec.attr.size = target.size();
    txn.putLinkTarget(rec.attr.ino, target);
  }
  txn.createInode(rec);
  MYFS_TRY(commit(txn));
  return rec.attr;
}

}  // namespace myfs::server
