// Path walk, the inode cache and the dentry cache of VfsImpl.
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <deque>

#include "core/vfs_impl.h"

namespace myfs {

namespace {

constexpr int kMaxSymlinks = 40;  // Linux's MAXSYMLINKS
thread_local std::string tlsEscapedPath;

// `path` as the front end built it from the held cwd's name `named` (At::cwd): the rest,
// relative to the cwd ("." for the cwd itself); nullopt when it does not start so.
std::optional<std::string_view> pathInCwd(std::string_view path, std::string_view named) {
  std::string_view rest = path;
  if (rest.compare(0, named.size(), named) != 0) return std::nullopt;
  rest.remove_prefix(named.size());
  if (!rest.empty() && rest.front() != '/') return std::nullopt;
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  return rest.empty() ? std::string_view(".") : rest;
}

}  // namespace

std::string VfsImpl::takeEscapedPath() { return std::exchange(tlsEscapedPath, std::string()); }

Errno VfsImpl::escapeTo(std::string realPath) {
  tlsEscapedPath = std::move(realPath);
  return Errno(kEscapeErrno);
}

template <typename Components>
std::string joinComponents(const Components& comps) {
  std::string out;
  for (const auto& c : comps) {
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}
template std::string joinComponents(const std::vector<std::string>&);
template std::string joinComponents(const std::deque<std::string>&);

Result<std::vector<std::string>> splitPath(std::string_view path) {
  if (path.size() >= PATH_MAX) return Errno(ENAMETOOLONG);
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = i;
    while (j < path.size() && path[j] != '/') ++j;
    if (j > i) {
      std::string_view c = path.substr(i, j - i);  // over NAME_MAX: the walk's ENAMETOOLONG
      const bool isLast = path.find_first_not_of('/', j) == std::string_view::npos;
      if (c != "." || isLast) out.emplace_back(c);
    }
    i = j;
  }
  return out;
}

std::int64_t VfsImpl::clockMs() const {
  // The coarse clock (a few ms of resolution, no system call): leases keep a margin far
  // larger than that.
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

const Cred& VfsImpl::credentials(bool effective) const {
  std::atomic<const CredSnapshot*>& slot = creds_[effective ? 0 : 1];
  const std::uint64_t generation = credGeneration_.load(std::memory_order_acquire);
  const CredSnapshot* cached = slot.load(std::memory_order_acquire);
  if (cached != nullptr && cached->generation == generation) return cached->cred;
  auto snap = std::make_unique<CredSnapshot>();
  snap->generation = generation;
  snap->cred.uid = effective ? geteuid() : getuid();
  snap->cred.gid = effective ? getegid() : getgid();
  gid_t groups[64];
  int n = getgroups(64, groups);
  for (int i = 0; i < n; ++i) snap->cred.groups.push_back(groups[i]);
  std::lock_guard lock(credMu_);
  slot.store(snap.get(), std::memory_order_release);
  credSnapshots_.push_back(std::move(snap));  // kept: callers may still hold older ones
  return credSnapshots_.back()->cred;
}

std::shared_ptr<Inode> VfsImpl::inodeObject(InodeId ino) {
  std::lock_guard lock(inodesMu_);
  auto& slot = inodes_[ino];
  if (!slot) {
    slot = std::make_shared<Inode>(ino);
    if (inodes_.size() > inodeSweepAt_) {
      // Drop cache objects nobody uses (no open file, no dirty data); if most are in
      // use, sweep again only when the table has doubled (amortized O(1) per insert).
      for (auto it = inodes_.begin(); it != inodes_.end();) {
        if (it->second.use_count() == 1 && it->second != slot) {
          std::unique_lock il(it->second->mu, std::try_to_lock);
          if (il && it->second->openCount == 0 && !(it->second->pages && it->second->pages->hasDirty())) {
            il.unlock();
            noteForgotten(*it->second);
            it = inodes_.erase(it);
            continue;
          }
        }
        ++it;
      }
      inodeSweepAt_ = std::max(kInodeCacheObjects, inodes_.size() * 2);
    }
  }
  return slot;
}

Attr VfsImpl::learn(const Attr& fresh) {
  auto inode = inodeObject(fresh.ino);
  std::lock_guard lock(inode->mu);
  return learnLocked(*inode, fresh);
}

Attr VfsImpl::learnMade(const Attr& fresh, std::uint64_t mark) {
  auto inode = inodeObject(fresh.ino);
  std::lock_guard lock(inode->mu);
  Attr merged = learnLocked(*inode, fresh);
  if (fresh.leased) {
    installLease(fresh.ino, inode->attrLease, mark);
    // A lease on a directory covers its names too: the entries we make in the new
    // directory are cached under it.
    if (fresh.isDir()) installLease(fresh.ino, inode->nameLease, mark);
  }
  return merged;
}

Attr VfsImpl::learnLocked(Inode& in, const Attr& fresh) {
  Inode* inode = &in;
  const std::uint64_t oldVersion = inode->attr.version;
  // A reply that was overtaken by a newer one (versions only grow) teaches nothing.
  if (inode->attr.ino == fresh.ino && fresh.version < oldVersion) return inode->attr;
  Attr merged = fresh;
  merged.leased = false;
  if (inode->sizeDirty) merged.size = std::max(merged.size, inode->attr.size);
  if (inode->mtimeDirty) merged.mtimeNs = inode->attr.mtimeNs;
  if (inode->pages && oldVersion != 0 && fresh.version != oldVersion && !inode->sizeDirty &&
      !inode->mtimeDirty) {
    inode->pages->invalidateClean();  // changed elsewhere since we cached it
  }
  inode->attr = merged;
  return merged;
}

Result<VfsImpl::Node> VfsImpl::loadInode(InodeId ino, bool forStat) {
  auto inode = inodeObject(ino);
  {
    std::lock_guard lock(inode->mu);
    const std::uint64_t token = inode->attrLease.load();
    if (leaseLive(ino, token) && !(forStat && inode->timesStale.load())) return Node{inode, inode->attr, true, token};
  }
  inode->timesStale.store(false);
  const std::uint64_t mark = recallMark(ino);
  MYFS_ASSIGN_OR_RETURN(attr, cluster_.shardOf(ino).getattr(ino));
  std::lock_guard lock(inode->mu);
  Attr merged = learnLocked(*inode, attr);
  const std::uint64_t token = attr.leased ? installLease(ino, inode->attrLease, mark) : 0;
  return Node{inode, merged, true, token};
}

VfsImpl::Node VfsImpl::cachedOrIncomplete(InodeId ino, std::uint32_t type) {
  auto inode = inodeObject(ino);
  std::lock_guard lock(inode->mu);
  const std::uint64_t token = inode->attrLease.load();
  if (leaseLive(ino, token)) return Node{inode, inode->attr, true, token};
  Attr a;
  a.ino = ino;
  a.mode = type & S_IFMT;
  return Node{inode, a, false};
}

void VfsImpl::stale(InodeId ino) {
  if (std::shared_ptr<Inode> inode = findInode(ino)) inode->attrLease.store(0);
}

void VfsImpl::touched(InodeId ino) {
  if (std::shared_ptr<Inode> inode = findInode(ino)) inode->timesStale.store(true);
}

Result<VfsImpl::Node> VfsImpl::lookupChild(const Node& dir, std::string_view name, const Cred& cred,
                                           std::uint64_t* nameToken) {
  Inode& d = *dir.inode;
  const std::uint64_t lease = d.nameLease.load();
  if (leaseLive(d.ino, lease)) {
    if (auto hit = dentries_.lookup(d.ino, name, lease)) {
      if (nameToken != nullptr) *nameToken = lease;
      if (hit->ino == 0) return Errno(ENOENT);
      return loadInode(hit->ino);
    }
  }
  const std::uint64_t mark = recallMark(d.ino);  // the child, when complete, is on the same shard
  bool parentLeased = false;
  auto r = cluster_.shardOf(d.ino).lookup(cred, d.ino, name, &parentLeased);
  const std::uint64_t token = parentLeased ? installLease(d.ino, d.nameLease, mark) : 0;
  if (nameToken != nullptr) *nameToken = token;
  if (!r) {
    if (r.err() == ENOENT) dentries_.insert(d.ino, name, 0, token);
    return r.error();
  }
  dentries_.insert(d.ino, name, r->ino, token);
  if (r->nlink == 0) return cachedOrIncomplete(r->ino, r->mode);  // its inode lives on another shard
  auto inode = inodeObject(r->ino);
  std::lock_guard lock(inode->mu);
  Attr merged = learnLocked(*inode, *r);
  const std::uint64_t attrToken = r->leased ? installLease(r->ino, inode->attrLease, mark) : 0;
  return Node{inode, merged, true, attrToken};
}

void VfsImpl::forget(InodeId parent, std::string_view name) {
  namespaceGeneration_.fetch_add(1);
  dentries_.erase(parent, name);
}

void VfsImpl::learnEntry(InodeId parent, std::string_view name, InodeId child) {
  namespaceGeneration_.fetch_add(1);
  std::shared_ptr<Inode> dir = findInode(parent);
  const std::uint64_t lease = dir ? dir->nameLease.load() : 0;
  if (leaseLive(parent, lease)) {
    dentries_.insert(parent, name, child, lease);
  } else {
    dentries_.erase(parent, name);
  }
}

Result<VfsImpl::Walk> VfsImpl::walkFull(At at, std::string_view path, bool followLast, const Cred& cred) {
  return walk(at, path, false, followLast, cred);
}

Result<VfsImpl::Walk> VfsImpl::walkParent(At at, std::string_view path, const Cred& cred) {
  return walk(at, path, true, false, cred);
}

Result<VfsImpl::Walk> VfsImpl::walk(At at, std::string_view path, bool parentOnly, bool followLast,
                                    const Cred& cred) {
  const bool fromCwd = at.fromCwd && at.dirFd < 0;
  if (fromCwd && cwdRemoved_.load(std::memory_order_acquire)) {
    // We removed the current directory: its name may lead to another directory now.
    std::optional<StartDir> cwd = heldCwd();
    std::optional<std::string_view> rest = cwd && cwd->removed ? pathInCwd(path, cwd->named) : std::nullopt;
    if (rest) return walkFrom(at, &*cwd, *rest, parentOnly, followLast, cred);
  }
  Result<Walk> w = walkFrom(at, nullptr, path, parentOnly, followLast, cred);
  if (w || !fromCwd || (w.err() != ENOENT && w.err() != ENOTDIR)) return w;
  // The current directory's name may no longer lead to it: try from the directory,
  // under its name of now (the canonical paths of what the walk finds start there).
  std::optional<StartDir> cwd = heldCwd();
  if (!cwd || cwd->named.empty()) return w;  // the mount root is never renamed or removed
  std::optional<std::string_view> rest = pathInCwd(path, cwd->named);
  if (!rest) return w;
  if (auto byName = cachedWalk(cwd->named, true); byName && byName->inode == cwd->inode) return w;  // a real ENOENT
  if (auto now = cwdPath(); now) cwd->path = *now;
  return walkFrom(at, &*cwd, *rest, parentOnly, followLast, cred);
}

std::optional<VfsImpl::StartDir> VfsImpl::heldCwd() {
  std::lock_guard lock(cwdMu_);
  return cwd_;
}

void VfsImpl::cwdRemovedIf(InodeId ino) {
  std::lock_guard lock(cwdMu_);
  if (!cwd_ || cwd_->inode->ino != ino) return;
  cwd_->removed = true;
  cwdRemoved_.store(true, std::memory_order_release);
}

InodeId VfsImpl::holdCwd(std::string_view rel, InodeId ino) {
  const Cred& cred = credentials();
  auto w = walkFrom(At::root(), nullptr, rel.empty() ? std::string_view(".") : rel, false, true, cred);
  std::optional<StartDir> held;
  if (w && w->node.attr.isDir() && (ino == 0 || w->node.inode->ino == ino)) {
    held = StartDir{w->node.inode, joinComponents(w->canon), std::string(rel)};
  } else if (ino != 0) {
    // Renamed or replaced since it was handed over: the inode is the current directory.
    held = cwdByInode(rel, ino);
  }
  std::lock_guard lock(cwdMu_);
  cwd_ = std::move(held);
  cwdRemoved_.store(cwd_ && cwd_->removed, std::memory_order_release);
  return cwd_ ? cwd_->inode->ino : 0;
}

std::optional<VfsImpl::StartDir> VfsImpl::cwdByInode(std::string_view rel, InodeId ino) {
  if (std::optional<StartDir> cwd = heldCwd(); cwd && cwd->inode->ino == ino) {
    cwd->named = rel;  // held already, possibly removed (then the server has forgotten it)
    return cwd;
  }
  auto dir = loadInode(ino);
  if (!dir || !dir->attr.isDir()) return std::nullopt;
  return StartDir{dir->inode, std::string(rel), std::string(rel)};
}

Result<std::string> VfsImpl::cwdPath() {
  std::optional<StartDir> cwd = heldCwd();
  if (!cwd || cwd->removed) return Errno(ENOENT);
  const Cred& cred = credentials();
  const InodeId ino = cwd->inode->ino;
  auto w = walkFrom(At::root(), nullptr, cwd->path.empty() ? std::string_view(".") : cwd->path, false, true, cred);
  if (w && w->node.inode->ino == ino) return cwd->path;
  // Renamed: the names from the directory up to the root, each found in its parent.
  std::vector<std::string> names;
  for (InodeId cur = ino; cur != mount_.rootIno;) {
    if (names.size() > 4096) return Errno(ENOENT);  // a cycle: the tree is changing under us
    MYFS_ASSIGN_OR_RETURN(node, loadInode(cur));
    if (node.attr.nlink == 0) return Errno(ENOENT);
    const InodeId parent = node.attr.parent;
    std::optional<std::string> name;
    std::string cookie;
    while (!name) {
      MYFS_ASSIGN_OR_RETURN(page, cluster_.shardOf(parent).readdir(cred, parent, cookie, 1024));
      for (const DirEntry& e : page.entries) {
        if (e.ino == cur && e.name != "." && e.name != "..") name = e.name;
      }
      if (page.eof || page.entries.empty()) break;
      cookie = page.nextCookie;
    }
    if (!name) return Errno(ENOENT);
    names.push_back(std::move(*name));
    cur = parent;
  }
  std::reverse(names.begin(), names.end());
  std::string path = joinComponents(names);
  std::lock_guard lock(cwdMu_);
  if (cwd_ && cwd_->inode->ino == ino) cwd_->path = path;
  return path;
}

void VfsImpl::releaseCwd() {
  std::lock_guard lock(cwdMu_);
  cwd_.reset();
  cwdRemoved_.store(false, std::memory_order_release);
}

Result<VfsImpl::Walk> VfsImpl::walkFrom(At at, const StartDir* from, std::string_view path, bool parentOnly,
                                        bool followLast, const Cred& cred) {
  // "" names nothing, except relative to an open file, where it is that file itself
  // (AT_EMPTY_PATH: front ends pass "" with a dirfd only for that flag).
  if (path.empty() && (at.dirFd < 0 || parentOnly)) return Errno(ENOENT);
  MYFS_ASSIGN_OR_RETURN(comps, splitPath(path));
  std::reverse(comps.begin(), comps.end());  // a stack: the next component at the back
  Walk w;
  w.trailingSlash = !path.empty() && path.back() == '/';
  // A plain walk from the root (no symlink, no ".."), all under leases, is recorded.
  const std::uint64_t credGeneration = credGeneration_.load();
  const std::uint64_t nsGeneration = namespaceGeneration_.load();
  bool recordable = at.dirFd < 0 && from == nullptr && !parentOnly;
  WalkRecord record;

  Node cur;
  // The start directory, when not the root: `from`, or the open directory at.dirFd
  // (referred to in place: no copy of its path per call).
  std::shared_ptr<File> file;  // keeps the directory fd's file alive during the walk
  const std::shared_ptr<Inode>* startInode = from != nullptr ? &from->inode : nullptr;
  std::string_view startPath = from != nullptr ? std::string_view(from->path) : std::string_view();
  if (from == nullptr && at.dirFd >= 0) {
    MYFS_ASSIGN_OR_RETURN(opened, files_.get(at.dirFd));
    file = std::move(opened);
    startInode = &file->inode;
    startPath = file->path;
  }
  if (startInode != nullptr) {
    const std::shared_ptr<Inode>& dir = *startInode;
    auto start = loadInode(dir->ino);
    if (!start && (start.err() == ENOENT || start.err() == ESTALE) && dir->attr.isDir()) {
      // A directory removed while open: "." still names it (nlink 0), nothing in it exists.
      std::lock_guard lock(dir->mu);
      Attr gone = dir->attr;
      gone.nlink = 0;
      start = Node{dir, gone};
    }
    if (!start) return start.error();
    MYFS_ASSIGN_OR_RETURN(base, splitPath(startPath));
    w.canon = std::move(base);
    if (path.empty()) {
      w.node = *start;
      return w;
    }
    if (!start->attr.isDir()) return Errno(ENOTDIR);
    cur = *start;
  } else {
    // The root's attributes, leased: every walk starts there, and a recorded walk needs them.
    MYFS_ASSIGN_OR_RETURN(root, loadInode(mount_.rootIno));
    cur = root;
  }

  int symlinks = 0;
  while (!comps.empty()) {
    std::string c = std::move(comps.back());
    comps.pop_back();
    const bool isLast = comps.empty();
    if (!cur.attr.isDir()) return Errno(ENOTDIR);
    if (parentOnly && isLast) {
      // A name over NAME_MAX fails when it would be looked up: after its directory.
      if (c.size() > NAME_MAX) return Errno(ENAMETOOLONG);
      w.node = cur;
      w.last = std::move(c);
      return w;
    }
    // Search permission: checked here when the attributes are at hand, and always by
    // the server that answers the lookup.
    if (cur.complete && !mayAccess(cur.attr, cred, kMayExec)) return Errno(EACCES);
    if (c == ".") continue;
    if (c == "..") {
      recordable = false;
      if (cur.inode->ino == mount_.rootIno) {
        // Above the mount: the rest of the walk belongs to the kernel.
        std::string parent = options_.prefix.substr(0, options_.prefix.rfind('/'));
        std::string rest = joinComponents(std::vector<std::string>(comps.rbegin(), comps.rend()));
        std::string real = (parent.empty() ? "/" : parent + "/") + rest;
        if (w.trailingSlash && !rest.empty()) real += '/';
        return escapeTo(std::move(real));
      }
      if (!cur.complete) {
        MYFS_ASSIGN_OR_RETURN(full, loadInode(cur.inode->ino));
        cur = full;
      }
      MYFS_ASSIGN_OR_RETURN(up, loadInode(cur.attr.parent));
      cur = up;
      if (!w.canon.empty()) w.canon.pop_back();
      continue;
    }
    if (c.size() > NAME_MAX) return Errno(ENAMETOOLONG);
    std::uint64_t nameToken = 0;
    MYFS_ASSIGN_OR_RETURN(child, lookupChild(cur, c, cred, recordable ? &nameToken : nullptr));
    if (recordable) {
      if (nameToken == 0 || cur.attrToken == 0) {
        recordable = false;
      } else {
        record.steps.push_back(WalkRecord::Step{cur.inode, cur.attrToken, nameToken});
      }
    }
    if (child.attr.isLink() && (!isLast || followLast || w.trailingSlash)) {
      recordable = false;
      if (++symlinks > kMaxSymlinks) return Errno(ELOOP);
      MYFS_ASSIGN_OR_RETURN(target, cluster_.shardOf(child.inode->ino).readlink(child.inode->ino));
      if (target.empty()) return Errno(ENOENT);
      MYFS_ASSIGN_OR_RETURN(targetComps, splitPath(target));
      if (target.front() == '/') {
        const std::string& prefix = options_.prefix;
        const bool inside = target.compare(0, prefix.size(), prefix) == 0 &&
                            (target.size() == prefix.size() || target[prefix.size()] == '/');
        if (!inside) {
          std::string rest = joinComponents(std::vector<std::string>(comps.rbegin(), comps.rend()));
          return escapeTo(rest.empty() ? target : target + "/" + rest);
        }
        MYFS_ASSIGN_OR_RETURN(inner, splitPath(std::string_view(target).substr(prefix.size())));
        targetComps = std::move(inner);
        cur = cachedOrIncomplete(mount_.rootIno, S_IFDIR);
        w.canon.clear();
      }
      if (targetComps.empty() && isLast && parentOnly) targetComps.push_back(".");
      comps.insert(comps.end(), targetComps.rbegin(), targetComps.rend());
      continue;
    }
    cur = child;
    w.canon.push_back(std::move(c));
  }
  if (parentOnly) {
    // The path named the start directory itself ("/", ".", "a/..").
    w.node = cur;
    w.last.clear();
    return w;
  }
  if (w.trailingSlash && !cur.attr.isDir()) return Errno(ENOTDIR);
  if (!cur.complete || cur.inode->timesStale.load()) {
    MYFS_ASSIGN_OR_RETURN(full, loadInode(cur.inode->ino, true));
    cur = full;
  }
  w.node = cur;
  if (recordable && cur.attrToken != 0 && !record.steps.empty()) {
    record.target = cur.inode;
    record.targetToken = cur.attrToken;
    record.credGeneration = credGeneration;
    record.namespaceGeneration = nsGeneration;
    record.canon = joinComponents(w.canon);
    walks_.insert(path, followLast, std::move(record));
  }
  return w;
}

std::optional<VfsImpl::Node> VfsImpl::cachedWalk(std::string_view path, bool follow, std::string* canon) {
  std::optional<Node> out;
  (void)credentials();  // brings credGeneration_'s snapshot up to date
  const std::uint64_t credGeneration = credGeneration_.load();
  const std::uint64_t nsGeneration = namespaceGeneration_.load();
  walks_.with(path, follow, [&](const WalkRecord& r) {
    if (r.credGeneration != credGeneration || r.namespaceGeneration != nsGeneration) return false;
    for (const WalkRecord::Step& step : r.steps) {
      const InodeId ino = step.dir->ino;
      if (step.dir->attrLease.load() != step.attrToken || step.dir->nameLease.load() != step.nameToken ||
          !leaseLive(ino, step.attrToken) || !leaseLive(ino, step.nameToken)) {
        return false;
      }
    }
    Inode& target = *r.target;
    if (target.timesStale.load()) return false;
    std::lock_guard lock(target.mu);
    if (target.attrLease.load() != r.targetToken || !leaseLive(target.ino, r.targetToken)) return false;
    out = Node{r.target, target.attr, true, r.targetToken};
    if (canon != nullptr) *canon = r.canon;
    return true;
  });
  return out;
}

Result<std::string> VfsImpl::resolveDirectory(At at, std::string_view path) {
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, true, cred));
  if (!w.node.attr.isDir()) return Errno(ENOTDIR);
  if (!mayAccess(w.node.attr, cred, kMayExec)) return Errno(EACCES);
  return joinComponents(w.canon);
}

Result<std::string> VfsImpl::realpath(At at, std::string_view path) {
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, true, credentials()));
  return joinComponents(w.canon);
}

}  // namespace myfs
