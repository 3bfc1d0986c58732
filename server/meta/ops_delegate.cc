// MetaStore: directories delegated to one client session (delegation) and the files that
// session makes in them on its own (makeFiles).
#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "server/meta/meta_store.h"

namespace myfs::server {

Result<DirDelegation> MetaStore::delegation(const Cred& cred, std::uint64_t owner, InodeId dir,
                                            std::uint32_t maxEntries, std::uint32_t reserve, bool orUnlisted) {
  if (reserve > kMaxReservation) return Errno(EINVAL);
  DirDelegation out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    MYFS_ASSIGN_OR_RETURN(rec, loadInode(dir));
    if (!rec.attr.isDir()) return Errno(ENOTDIR);
    if (rec.flags & kInodeRmdirPrepared) return Errno(ENOENT);
    if (!mayAccess(rec.attr, cred, kMayRead | kMayWrite | kMayExec)) return Errno(EACCES);
    out.attr = rec.attr;
  }
  // Page after page (each at most kReaddirMaxEntries): a directory with more names than
  // maxEntries is not delegated, or (orUnlisted) delegated without its names.
  std::string cookie;
  for (;;) {
    const std::uint64_t room = std::uint64_t{maxEntries} + 1 - out.entries.size();
    MYFS_ASSIGN_OR_RETURN(page, readdir(cred, dir, cookie,
                                        static_cast<std::uint32_t>(std::min<std::uint64_t>(room, kReaddirMaxEntries))));
    if (out.entries.size() + page.entries.size() > maxEntries) {
      if (!orUnlisted) return Errno(E2BIG);
      out.entries.clear();
      out.listed = false;
      break;
    }
    for (DirEntry& e : page.entries) out.entries.push_back(std::move(e));
    if (page.eof || page.entries.empty()) break;
    cookie = std::move(page.nextCookie);
  }
  if (reserve > 0) {
    MYFS_ASSIGN_OR_RETURN(numbers, reserveInodes(owner, reserve));
    out.numbers = numbers;
  }
  return out;
}

std::vector<Result<MetaStore::MadeFile>> MetaStore::makeFiles(std::uint64_t owner, std::span<const FileIntent> files) {
  std::vector<Result<MadeFile>> out;
  out.reserve(files.size());
  std::lock_guard<std::mutex> lock(mu_);
  MetaTxn txn = beginTxn();
  struct DirState {
    InodeRecord before;
    InodeRecord now;
    bool touched = false;
  };
  std::map<InodeId, DirState> dirs;  // each directory this batch adds to, as the batch leaves it
  std::vector<std::size_t> madeHere;
  std::vector<std::uint64_t> taken;  // reserved numbers this batch uses
  auto reserved = reservations_.find(owner);
  for (const FileIntent& f : files) {
    const Attr& want = f.attr;
    const std::uint64_t seq = want.ino & kMaxSeq;
    if (Result<void> n = checkEntryName(f.name, EEXIST); !n) {
      out.push_back(n.error());
      continue;
    }
    auto sameName = std::find_if(madeHere.begin(), madeHere.end(), [&](std::size_t i) {
      return files[i].parent == f.parent && files[i].name == f.name;
    });
    if (sameName != madeHere.end()) {  // named twice in one batch
      if (out[*sameName]->attr.ino == want.ino) {
        out.push_back(MadeFile{out[*sameName]->attr, false});
      } else {
        out.push_back(Errno(EEXIST));
      }
      continue;
    }
    auto d = dirs.find(f.parent);
    if (d == dirs.end()) {
      Result<InodeRecord> dir = loadSearchableDir(f.cred, f.parent);
      if (!dir) {
        out.push_back(dir.error());
        continue;
      }
      d = dirs.emplace(f.parent, DirState{*dir, *dir}).first;
    } else if (!mayAccess(d->second.now.attr, f.cred, kMayExec)) {
      out.push_back(Errno(EACCES));
      continue;
    }
    const InodeRecord& dir = d->second.now;
    if (dir.flags & kInodeRmdirPrepared) {
      out.push_back(Errno(ENOENT));
      continue;
    }
    Result<std::optional<DentryRecord>> existing = loadDentry(f.parent, f.name);
    if (!existing) {
      out.push_back(existing.error());
      continue;
    }
    if (*existing) {
      if ((*existing)->ino != want.ino) {
        out.push_back(Errno(EEXIST));
        continue;
      }
      Result<InodeRecord> made = loadInode(want.ino);
      out.push_back(made ? Result<MadeFile>(MadeFile{made->attr, false}) : Result<MadeFile>(made.error()));
      continue;
    }
    if (!mayAccess(dir.attr, f.cred, kMayWrite | kMayExec)) {
      out.push_back(Errno(EACCES));
      continue;
    }
    const bool isReserved = reserved != reservations_.end() && reserved->second.count(seq) != 0 &&
                            std::find(taken.begin(), taken.end(), seq) == taken.end();
    const bool isDir = S_ISDIR(want.mode);
    const std::uint32_t type = isDir ? S_IFDIR : S_IFREG;
    // A directory as mkdir(2) makes it: setgid only inherited, never asked for.
    Attr expect =
        newInodeAttr(f.cred, &dir.attr, type | (want.mode & (isDir ? 01777u : 07777u)), want.ino, want.ctimeNs);
    if (!isLocal(want.ino) || !isReserved || !(S_ISREG(want.mode) || isDir) || expect.mode != want.mode ||
        expect.uid != want.uid || expect.gid != want.gid) {
      out.push_back(Errno(EINVAL));
      continue;
    }
    if (isDir && dir.attr.nlink >= kDirLinkMax) {
      out.push_back(Errno(EMLINK));
      continue;
    }
    InodeRecord rec;
    rec.attr = expect;
    rec.attr.atimeNs = want.atimeNs;
    rec.attr.mtimeNs = want.mtimeNs;
    rec.attr.nlink = isDir ? 2 : 1;
    if (isDir) {
      rec.attr.parent = f.parent;
      ++d->second.now.attr.nlink;
    }
    txn.createInode(rec);
    txn.putDentry(f.parent, f.name, DentryRecord{rec.attr.ino, type}, true);
    touchDir(d->second.now, std::max(d->second.now.attr.ctimeNs, rec.attr.ctimeNs));
    d->second.touched = true;
    taken.push_back(seq);
    madeHere.push_back(out.size());
    out.push_back(MadeFile{rec.attr, true});
  }
  if (madeHere.empty()) return out;
  for (auto& [ino, d] : dirs) {
    if (d.touched) txn.updateInode(d.before, d.now);
  }
  if (Result<void> c = commit(txn); !c) {
    for (std::size_t i : madeHere) out[i] = c.error();
    return out;
  }
  for (std::uint64_t seq : taken) reserved->second.erase(seq);
  return out;
}

}  // namespace myfs::server
