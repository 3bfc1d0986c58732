// Open files: open, close, read, write, seek, truncate, fsync, directory streams.
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <random>
#include <cstddef>
#include <cstring>

#include "core/vfs_impl.h"

namespace myfs {

namespace {

// The layout getdents64(2) fills in.
struct LinuxDirent64 {
  std::uint64_t d_ino;
  std::int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

// The most one read or write transfers (the kernel's MAX_RW_COUNT: INT_MAX rounded down
// to a page); longer calls are short, as on Linux.
constexpr size_t kMaxRwCount = 0x7ffff000;

// O_DIRECT transfers: the buffer's address, the offset and the length must be multiples of
// the logical block size of the device (512 for the disks ext4 usually sits on), else EINVAL.
constexpr std::uint64_t kDirectIoAlign = 512;
bool directAligned(const void* buf, size_t n, std::uint64_t off) {
  return ((reinterpret_cast<std::uintptr_t>(buf) | n | off) & (kDirectIoAlign - 1)) == 0;
}

// rw_verify_area: a count over SSIZE_MAX, or a range ending past 2^63 - 1, is EINVAL.
bool validRange(std::uint64_t off, size_t n) {
  return n <= static_cast<size_t>(SSIZE_MAX) && off <= static_cast<std::uint64_t>(INT64_MAX) &&
         n <= static_cast<std::uint64_t>(INT64_MAX) - off;
}

// This process's RLIMIT_FSIZE (~0: none), read when the Vfs starts and when the front end
// reports a change (Vfs::resourceLimitsChanged): writes do not pay a system call for it.
std::uint64_t readFileSizeLimit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return ~0ull;
  return rl.rlim_cur;
}

// A write of *n bytes at pos, as generic_write_check_limits: at or past RLIMIT_FSIZE it
// fails with EFBIG and SIGXFSZ, at or past kMaxFileSize with EFBIG; a write crossing
// either is shortened to end there. (The signal is raised in the calling thread, as the
// kernel sends it, possibly while the inode is locked: a handler's own calls on myfs files
// go to the kernel, as any call made inside the library.)
Result<void> checkWriteLimits(std::uint64_t limit, std::uint64_t pos, size_t* n) {
  if (pos >= limit) {
    ::raise(SIGXFSZ);
    return Errno(EFBIG);
  }
  *n = static_cast<size_t>(std::min<std::uint64_t>(*n, limit - pos));
  if (pos >= kMaxFileSize) return Errno(EFBIG);
  *n = static_cast<size_t>(std::min<std::uint64_t>(*n, kMaxFileSize - pos));
  return okResult();
}

// Growing a file to `size` (truncate, fallocate), as inode_newsize_ok.
Result<void> checkNewSize(std::uint64_t limit, std::uint64_t size) {
  if (size > limit) {
    ::raise(SIGXFSZ);
    return Errno(EFBIG);
  }
  if (size > kMaxFileSize) return Errno(EFBIG);
  return okResult();
}

}  // namespace

VfsImpl::VfsImpl(Cluster& cluster, VfsOptions options, MountInfo mount)
    : cluster_(cluster),
      options_(std::move(options)),
      mount_(mount),
      leases_(std::make_unique<ShardLeases[]>(mount.shardCount)),
      lockSeed_((static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}() ^
                static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())),
      fileSizeLimit_(readFileSizeLimit()) {
  cluster_.setLeaseListener(this);
}

VfsImpl::~VfsImpl() {
  cluster_.setLeaseListener(nullptr);
  stopLockRenewer();
}

Result<std::unique_ptr<Vfs>> makeVfs(Cluster& cluster, const VfsOptions& options) {
  if (cluster.shardCount() == 0) return Errno(EINVAL);
  MYFS_ASSIGN_OR_RETURN(mount, cluster.shard(0).mountInfo());
  if (mount.shardCount != cluster.shardCount() || mount.chunkSize == 0) return Errno(EINVAL);
  // The page allocator (a dlopen) is set up now, at client start, not at the first
  // write of some thread in some state (a forked child, a signal handler's caller).
  (void)pageAllocatorName();
  return std::unique_ptr<Vfs>(std::make_unique<VfsImpl>(cluster, options, mount));
}

PageCache& VfsImpl::pagesOf(Inode& inode) {
  if (!inode.pages) {
    WritebackQueue* background = nullptr;
    {
      std::lock_guard lock(writebackMu_);
      if (!writeback_) writeback_ = std::make_unique<WritebackQueue>(cluster_.data());
      background = writeback_.get();
    }
    inode.pages = std::make_unique<PageCache>(inode.ino, mount_.chunkSize, cluster_.data(), cachedBytes_,
                                              static_cast<std::int64_t>(options_.pageCacheBytes), background);
  }
  return *inode.pages;
}

Result<void> VfsImpl::flushInode(Inode& inode, bool sync) {
  if (inode.lost.load() != 0) return Errno(EIO);  // its server refused to make it
  if (inode.pages) MYFS_TRY(inode.pages->flush(sync));
  if (!inode.sizeDirty && !inode.mtimeDirty) return okResult();
  SetAttr req;
  if (inode.sizeDirty) {
    req.setSize = true;
    req.size = inode.attr.size;
    req.growOnly = true;
  }
  if (inode.mtimeDirty) {
    req.setMtime = true;
    req.mtimeNs = kSetAttrTimeNow;
  }
  MYFS_ASSIGN_OR_RETURN(attr, cluster_.shardOf(inode.ino).setattr(credentials(), inode.ino, req));
  inode.sizeDirty = inode.mtimeDirty = false;
  inode.attr = attr;  // our own change: the cached pages stay valid
  return okResult();
}

Result<void> VfsImpl::truncateInode(Inode& inode, std::uint64_t size, const Cred& cred) {
  const std::uint64_t oldSize = inode.attr.size;
  if (size > oldSize) MYFS_TRY(checkNewSize(fileSizeLimit_.load(std::memory_order_relaxed), size));
  pagesOf(inode).truncate(size);
  SetAttr req;
  req.setSize = true;
  req.size = size;
  MYFS_ASSIGN_OR_RETURN(attr, cluster_.shardOf(inode.ino).setattr(cred, inode.ino, req));
  inode.sizeDirty = false;
  inode.attr = attr;
  if (oldSize > size) MYFS_TRY(cluster_.data().truncate(inode.ino, size, mount_.chunkSize));
  return okResult();
}

Result<void> VfsImpl::open(int fd, At at, std::string_view path, int flags, mode_t mode) {
  const Cred& cred = credentials();
  const bool follow = !(flags & O_NOFOLLOW);
  if ((flags & O_TMPFILE) == O_TMPFILE) return openTmpfile(fd, at, path, flags, mode, cred);
  if (!(flags & O_CREAT)) {
    if (at.dirFd < 0) {
      std::string canon;
      if (auto hit = cachedWalk(path, follow, &canon)) {
        if (hit->attr.isLink() && !(flags & O_PATH)) return Errno((flags & O_DIRECTORY) ? ENOTDIR : ELOOP);
        return openNode(fd, *hit, std::move(canon), flags, false, cred);
      }
    }
    MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, follow, cred));
    if (w.node.attr.isLink() && !(flags & O_PATH)) return Errno((flags & O_DIRECTORY) ? ENOTDIR : ELOOP);
    return openNode(fd, w.node, joinComponents(w.canon), flags, false, cred);
  }
  if (flags & O_DIRECTORY) return Errno(EINVAL);  // O_CREAT|O_DIRECTORY: EINVAL since Linux 6.4
  std::string current(path);
  At base = at;
  for (int hops = 0;; ++hops) {
    if (hops > 40) return Errno(ELOOP);
    MYFS_ASSIGN_OR_RETURN(w, walkParent(base, current, cred));
    if (w.last.empty() || w.last == "." || w.last == ".." || w.trailingSlash) return Errno(EISDIR);
    const InodeId p = w.node.inode->ino;
    if (auto made = createDelegated(fd, w, flags, mode, cred)) return *made;
    NameChange change = nameChanging(p);  // the server may make the name: a delegation's list would miss it
    const std::uint64_t mark = recallMark(p);  // a file made here lives on p's shard
    Result<CreateResult> made = cluster_.shardOf(p).create(cred, p, w.last, S_IFREG | (mode & 07777),
                                                          (flags & O_EXCL) != 0, 0);
    // Made, or there already (EEXIST, an existing file opened): the name is in it.
    if (made || made.err() == EEXIST) change.finishMade(w.last);
    MYFS_ASSIGN_OR_RETURN(cr, std::move(made));
    std::vector<std::string> canon = w.canon;
    canon.push_back(w.last);
    if (cr.created) {
      Attr attr = learnMade(cr.attr, mark);
      learnEntry(p, w.last, attr.ino);
      touched(p);
      if (cr.writeLease != 0) inodeObject(attr.ino)->writeLease.store(cr.writeLease);
      noteNameChange(p, cred);
      return openNode(fd, Node{inodeObject(attr.ino), attr}, joinComponents(canon), flags, true, cred);
    }
    Node existing;
    if (cr.attr.nlink == 0) {
      MYFS_ASSIGN_OR_RETURN(n, loadInode(cr.attr.ino));
      existing = n;
    } else {
      existing = Node{inodeObject(cr.attr.ino), learn(cr.attr)};
    }
    if (!existing.attr.isLink()) {
      if (existing.attr.isDir()) return Errno(EISDIR);
      return openNode(fd, existing, joinComponents(canon), flags, false, cred);
    }
    if (!follow) return Errno(ELOOP);
    // O_CREAT through a symlink creates or opens its target.
    MYFS_ASSIGN_OR_RETURN(target, cluster_.shardOf(existing.inode->ino).readlink(existing.inode->ino));
    if (target.empty()) return Errno(ENOENT);
    if (target.front() == '/') {
      const std::string& prefix = options_.prefix;
      if (target.compare(0, prefix.size(), prefix) != 0 ||
          (target.size() > prefix.size() && target[prefix.size()] != '/')) {
        return escapeTo(target);  // the kernel creates or opens it
      }
      current = target.substr(prefix.size());
      base = At::root();
    } else {
      current = joinComponents(w.canon) + "/" + target;
      base = At::root();
    }
  }
}

Result<void> VfsImpl::openTmpfile(int fd, At at, std::string_view path, int flags, mode_t mode, const Cred& cred) {
  const int acc = flags & O_ACCMODE;
  if (acc != O_WRONLY && acc != O_RDWR) return Errno(EINVAL);
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, true, cred));
  if (!w.node.attr.isDir()) return Errno(ENOTDIR);
  if (!mayAccess(w.node.attr, cred, kMayWrite | kMayExec)) return Errno(EACCES);
  // An inode of the directory's shard with no name (pending: nlink 0) until linkat.
  const InodeId dir = w.node.inode->ino;
  MYFS_ASSIGN_OR_RETURN(attr, cluster_.shardOf(dir).makeInode(cred, dir, S_IFREG | (mode & 07777), ""));
  auto inode = inodeObject(attr.ino);
  {
    std::lock_guard lock(inode->mu);
    learnLocked(*inode, attr);
    inode->anonymous = true;
    inode->linkable = !(flags & O_EXCL);
  }
  std::string where = joinComponents(w.canon);
  const int openFlags = (flags & ~O_TMPFILE) | O_CREAT;  // O_CREAT: created, no permission check on the file
  return openNode(fd, Node{inode, attr}, where.empty() ? "#tmpfile" : where + "/#tmpfile", openFlags, true, cred);
}

Result<void> VfsImpl::openNode(int fd, Node node, std::string path, int flags, bool created, const Cred& cred) {
  const Attr& attr = node.attr;
  const int acc = flags & O_ACCMODE;
  if (acc == O_ACCMODE) return Errno(EINVAL);
  if ((flags & O_DIRECTORY) && !attr.isDir()) return Errno(ENOTDIR);
  if (!(flags & O_PATH)) {
    if (attr.isDir() && (acc != O_RDONLY || (flags & O_TRUNC))) return Errno(EISDIR);
    if (!created) {
      int want = 0;
      if (acc == O_RDONLY || acc == O_RDWR) want |= kMayRead;
      if (acc == O_WRONLY || acc == O_RDWR || (flags & O_TRUNC)) want |= kMayWrite;
      if (want != 0 && !mayAccess(attr, cred, want)) return Errno(EACCES);
    }
    if (!attr.isDir() && !attr.isReg()) return Errno(ENXIO);  // fifos, sockets, devices
  }
  if ((flags & O_NOATIME) && cred.uid != 0 && cred.uid != attr.uid) return Errno(EPERM);
  Inode& inode = *node.inode;
  {
    std::lock_guard lock(inode.mu);
    if ((flags & O_TRUNC) && attr.isReg() && !(flags & O_PATH) && (inode.attr.size > 0 || attr.size > 0)) {
      MYFS_TRY(truncateInode(inode, 0, cred));
    }
    ++inode.openCount;
  }
  auto file = std::make_shared<File>(node.inode, std::move(path), flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC));
  file->fdRefs = 1;
  file->lockOwner = newDescriptionOwner();
  MYFS_ASSIGN_OR_RETURN(old, files_.put(fd, file));
  if (old) (void)release(std::move(old));
  return okResult();
}

Result<void> VfsImpl::release(std::shared_ptr<File> file) {
  if (--file->fdRefs > 0) return releaseLocksOnClose(*file, false);
  Inode& inode = *file->inode;
  bool dropData = false;
  bool lastOpen = false;
  bool freeAnonymous = false;
  Result<void> flushed;
  {
    std::lock_guard lock(inode.mu);
    lastOpen = --inode.openCount == 0;
    freeAnonymous = lastOpen && inode.anonymous;
    if (!inode.unlinked && !freeAnonymous) flushed = flushInode(inode, false);
    if (lastOpen && flushed && !inode.sizeDirty && !inode.mtimeDirty && !(inode.pages && inode.pages->hasDirty())) {
      // Not open for writing here any more, nothing kept back. Under inode.mu: a write
      // that opens the file again then finds no lease and asks for a new one.
      giveBackWriteLease(inode);
    }
    if (lastOpen && (inode.unlinked || inode.anonymous)) {
      dropData = true;
      inode.anonymous = false;
      if (inode.pages) inode.pages->truncate(0);
      inode.sizeDirty = inode.mtimeDirty = false;
    }
  }
  if (freeAnonymous) (void)cluster_.shardOf(inode.ino).linkCount(inode.ino, -1, 0);  // frees the pending inode
  Result<void> unlocked = releaseLocksOnClose(*file, true);  // after the write-back
  if (lastOpen) releaseServerOpen(inode);
  if (dropData) MYFS_TRY(cluster_.data().remove(inode.ino));
  return flushed ? unlocked : flushed;
}

Result<void> VfsImpl::close(int fd) {
  MYFS_ASSIGN_OR_RETURN(file, files_.remove(fd));
  return release(std::move(file));
}

Result<void> VfsImpl::dup(int oldFd, int newFd) {
  MYFS_ASSIGN_OR_RETURN(file, files_.get(oldFd));
  if (oldFd == newFd) return okResult();
  ++file->fdRefs;
  auto old = files_.put(newFd, file);
  if (!old) {
    --file->fdRefs;
    return old.error();
  }
  if (*old) (void)release(std::move(*old));
  return okResult();
}

Result<size_t> VfsImpl::readAt(File& f, void* buf, size_t n, std::uint64_t off) {
  const int acc = f.flags & O_ACCMODE;
  if ((f.flags & O_PATH) || acc == O_WRONLY) return Errno(EBADF);
  if (!validRange(off, n)) return Errno(EINVAL);
  n = std::min(n, kMaxRwCount);
  Inode& inode = *f.inode;
  if (options_.strict) MYFS_TRY(loadInode(inode.ino));  // the size as of now
  std::unique_lock lock(inode.mu);
  if (inode.attr.isDir()) return Errno(EISDIR);
  if (n == 0) return size_t{0};
  // ext4 answers a direct read at or past the end with 0 before looking at alignment.
  if ((f.flags & O_DIRECT) && off < inode.attr.size && !directAligned(buf, n, off)) return Errno(EINVAL);
  if (options_.strict || (f.flags & O_DIRECT)) return pagesOf(inode).readDirect(buf, n, off, inode.attr.size);
  Result<size_t> got = pagesOf(inode).read(buf, n, off, inode.attr.size);
  lock.unlock();
  reclaimPages(inode);
  return got;
}

void VfsImpl::reclaimPages(const Inode& busy) {
  const auto budget = static_cast<std::int64_t>(options_.pageCacheBytes);
  if (cachedBytes_.load(std::memory_order_relaxed) <= budget) return;
  std::vector<std::pair<std::int64_t, std::shared_ptr<Inode>>> lru;
  {
    std::lock_guard lock(inodesMu_);
    for (auto& [ino, inode] : inodes_) {
      if (inode.get() == &busy) continue;
      std::unique_lock il(inode->mu, std::try_to_lock);
      if (il && inode->pages && inode->pages->cachedBytes() > 0) lru.emplace_back(inode->pages->lastUse(), inode);
    }
  }
  std::sort(lru.begin(), lru.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [when, inode] : lru) {
    if (cachedBytes_.load(std::memory_order_relaxed) <= budget) break;
    std::unique_lock il(inode->mu, std::try_to_lock);
    if (il && inode->pages) inode->pages->dropClean();
  }
}

Result<size_t> VfsImpl::writeAt(File& f, const void* buf, size_t n, std::uint64_t* off, bool append) {
  const int acc = f.flags & O_ACCMODE;
  if ((f.flags & O_PATH) || acc == O_RDONLY) return Errno(EBADF);
  if (!validRange(*off, n)) return Errno(EINVAL);
  n = std::min(n, kMaxRwCount);
  Inode& inode = *f.inode;
  if (options_.strict && append) MYFS_TRY(loadInode(inode.ino));  // the end of file as of now
  std::unique_lock lock(inode.mu);
  if (append) *off = inode.attr.size;
  if (n == 0) return size_t{0};
  MYFS_TRY(checkWriteLimits(fileSizeLimit_.load(std::memory_order_relaxed), *off, &n));
  if ((f.flags & O_DIRECT) && !directAligned(buf, n, *off)) return Errno(EINVAL);
  const bool sync = (f.flags & (O_SYNC | O_DSYNC)) != 0;
  if (!inode.sizeDirty && !inode.mtimeDirty && inode.writeLease.load() == 0 && !options_.strict) {
    // About to keep a new size and mtime to ourselves: others' stat then asks us first.
    auto granted = cluster_.shardOf(inode.ino).writeLease(inode.ino);
    if (granted && *granted != 0) inode.writeLease.store(*granted);
  }
  if (options_.strict || (f.flags & O_DIRECT)) {
    MYFS_TRY(pagesOf(inode).writeDirect(buf, n, *off, sync));
  } else {
    MYFS_TRY(pagesOf(inode).write(buf, n, *off));
  }
  if (*off + n > inode.attr.size) {
    inode.attr.size = *off + n;
    inode.sizeDirty = true;
  }
  inode.mtimeDirty = true;
  inode.attr.mtimeNs = inode.attr.ctimeNs = nowNs();
  if (sync || (options_.strict && inode.sizeDirty)) MYFS_TRY(flushInode(inode, sync));
  lock.unlock();
  reclaimPages(inode);
  return n;
}

Result<std::uint64_t> VfsImpl::positionOf(const File& f, int fd) const {
  if (!f.offsetInKernel) return f.offset;
  // A raw system call: the front end may interpose lseek itself.
  const long pos = ::syscall(SYS_lseek, fd, 0L, SEEK_CUR);
  if (pos < 0) return Errno(errno);
  return static_cast<std::uint64_t>(pos);
}

void VfsImpl::setPosition(File& f, int fd, std::uint64_t pos) {
  f.offset = pos;
  if (f.offsetInKernel) (void)::syscall(SYS_lseek, fd, static_cast<long>(pos), SEEK_SET);
}

Result<void> VfsImpl::revalidateShared(const File& f) {
  if (!f.offsetInKernel) return okResult();
  const InodeId ino = f.inode->ino;
  auto attr = cluster_.shardOf(ino).getattr(ino);
  // Removed by a process that still holds it open (it keeps the data until its last
  // close): go on with what is known.
  if (!attr && attr.err() == ENOENT) return okResult();
  if (!attr) return attr.error();
  (void)learn(*attr);
  return okResult();
}

Result<size_t> VfsImpl::read(int fd, void* buf, size_t n) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  std::lock_guard lock(f->mu);
  MYFS_ASSIGN_OR_RETURN(pos, positionOf(*f, fd));
  MYFS_TRY(revalidateShared(*f));
  MYFS_ASSIGN_OR_RETURN(got, readAt(*f, buf, n, pos));
  setPosition(*f, fd, pos + got);
  return got;
}

Result<size_t> VfsImpl::write(int fd, const void* buf, size_t n) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  std::lock_guard lock(f->mu);
  MYFS_ASSIGN_OR_RETURN(off, positionOf(*f, fd));
  const bool append = (f->flags & O_APPEND) != 0;
  MYFS_TRY(revalidateShared(*f));
  MYFS_ASSIGN_OR_RETURN(done, writeAt(*f, buf, n, &off, append));
  setPosition(*f, fd, off + done);
  return done;
}

Result<size_t> VfsImpl::pread(int fd, void* buf, size_t n, off_t off) {
  if (off < 0) return Errno(EINVAL);
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  MYFS_TRY(revalidateShared(*f));
  return readAt(*f, buf, n, static_cast<std::uint64_t>(off));
}

Result<size_t> VfsImpl::pwrite(int fd, const void* buf, size_t n, off_t off) {
  if (off < 0) return Errno(EINVAL);
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  std::uint64_t pos = static_cast<std::uint64_t>(off);
  MYFS_TRY(revalidateShared(*f));
  // Linux: pwrite on an O_APPEND file appends.
  return writeAt(*f, buf, n, &pos, (f->flags & O_APPEND) != 0);
}

Result<off_t> VfsImpl::lseek(int fd, off_t off, int whence) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  if (f->flags & O_PATH) return Errno(EBADF);
  std::lock_guard lock(f->mu);
  if (f->inode->attr.isDir()) {
    if (whence != SEEK_SET || off < 0) return Errno(EINVAL);
    f->dirBuf.clear();
    f->dirBufPos = 0;
    f->dirCookie.clear();
    f->dirEof = false;
    f->dirPos = 0;
    const auto target = static_cast<std::uint64_t>(off);
    // Skip forward entry by entry (positions are entry counts).
    std::vector<char> scratch(4096);
    while (f->dirPos < target) {
      const std::uint64_t before = f->dirPos;
      MYFS_ASSIGN_OR_RETURN(got, fillDirents(*f, scratch.data(), scratch.size(), target - f->dirPos));
      if (got == 0 || f->dirPos == before) break;
    }
    return off;
  }
  if (whence == SEEK_END || whence == SEEK_DATA || whence == SEEK_HOLE) MYFS_TRY(revalidateShared(*f));
  MYFS_ASSIGN_OR_RETURN(current, positionOf(*f, fd));
  std::int64_t base = 0;
  std::uint64_t size;
  {
    std::lock_guard il(f->inode->mu);
    size = f->inode->attr.size;
  }
  switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = static_cast<std::int64_t>(current); break;
    case SEEK_END: base = static_cast<std::int64_t>(size); break;
    case SEEK_DATA:
    case SEEK_HOLE: {
      if (off < 0 || static_cast<std::uint64_t>(off) >= size) return Errno(ENXIO);
      MYFS_ASSIGN_OR_RETURN(found, seekDataOrHole(*f->inode, static_cast<std::uint64_t>(off), size,
                                                  whence == SEEK_DATA));
      setPosition(*f, fd, found);
      return static_cast<off_t>(found);
    }
    default: return Errno(EINVAL);
  }
  // As ext4 (generic_file_llseek_size): a position below 0 or past the maximum file size
  // is EINVAL.
  std::int64_t pos = 0;
  if (__builtin_add_overflow(base, static_cast<std::int64_t>(off), &pos) || pos < 0 ||
      static_cast<std::uint64_t>(pos) > kMaxFileSize) {
    return Errno(EINVAL);
  }
  setPosition(*f, fd, static_cast<std::uint64_t>(pos));
  return static_cast<off_t>(pos);
}

Result<std::uint64_t> VfsImpl::seekDataOrHole(Inode& inode, std::uint64_t off, std::uint64_t size, bool data) {
  {
    std::lock_guard lock(inode.mu);
    MYFS_TRY(flushInode(inode, false));  // what the data servers hold is the file
  }
  auto extents = cluster_.data().extents(inode.ino);
  if (!extents) {
    if (extents.err() != ENOSYS) return extents.error();
    return data ? off : size;  // no extents to ask: all data, one hole at the end
  }
  // Data: [chunk start, chunk start + length) of each stored chunk, below the size.
  const std::uint64_t cs = mount_.chunkSize;
  auto inData = [&](std::uint64_t pos) {
    auto it = extents->find(pos / cs);
    return it != extents->end() && pos - (pos / cs) * cs < it->second;
  };
  if (!data) {
    std::uint64_t pos = off;
    while (pos < size && inData(pos)) pos = (pos / cs) * cs + (*extents)[pos / cs];
    return std::min(pos, size);
  }
  if (inData(off)) return off;
  for (auto it = extents->upper_bound(off / cs); it != extents->end(); ++it) {
    const std::uint64_t start = it->first * cs;
    if (start >= size) break;
    if (it->second > 0) return start;
  }
  return Errno(ENXIO);
}

Result<Attr> VfsImpl::fstat(int fd) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  auto n = loadInode(f->inode->ino, true);
  if (n) return n->attr;
  std::lock_guard lock(f->inode->mu);
  if (!f->inode->unlinked) return n.error();
  Attr attr = f->inode->attr;  // removed while open here: what is left of it
  attr.nlink = 0;
  return attr;
}

Result<void> VfsImpl::ftruncate(int fd, off_t size) {
  if (size < 0) return Errno(EINVAL);
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  if (f->flags & O_PATH) return Errno(EBADF);
  if ((f->flags & O_ACCMODE) == O_RDONLY || !f->inode->attr.isReg()) return Errno(EINVAL);
  std::lock_guard lock(f->inode->mu);
  return truncateInode(*f->inode, static_cast<std::uint64_t>(size), credentials());
}

Result<void> VfsImpl::fsync(int fd, bool /*dataOnly*/) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  if (f->flags & O_PATH) return Errno(EBADF);
  // The file itself (and for a directory, those made in it under a delegation) made on
  // its server, not only sent: fsync's promise covers the name too.
  if (f->inode->attr.isDir()) {
    for (std::uint32_t shard = 0; shard < mount_.shardCount; ++shard) MYFS_TRY(cluster_.settleShard(shard));
    return okResult();
  }
  MYFS_TRY(cluster_.settleDir(f->inode->ino));
  std::lock_guard lock(f->inode->mu);
  if (!f->inode->attr.isReg()) return okResult();
  if (f->inode->pages) MYFS_TRY(f->inode->pages->flush(true));
  else MYFS_TRY(cluster_.data().fsync(f->inode->ino));
  if (f->inode->unlinked) return okResult();  // no attributes left on the server
  return flushInode(*f->inode, false);
}

Result<void> VfsImpl::allocate(int fd, std::uint64_t off, std::uint64_t len, bool keepSize) {
  return fallocate(fd, keepSize ? FALLOC_FL_KEEP_SIZE : 0, off, len);
}

Result<void> VfsImpl::fallocate(int fd, int mode, std::uint64_t off, std::uint64_t len) {
  constexpr int kWriteZeroes = 0x80;  // FALLOC_FL_WRITE_ZEROES (Linux 6.17)
  constexpr std::uint64_t kBlock = 4096;  // ext4's block: COLLAPSE/INSERT_RANGE alignment
  // vfs_fallocate's checks, in its order.
  if (off > static_cast<std::uint64_t>(INT64_MAX) || len == 0 || len > static_cast<std::uint64_t>(INT64_MAX)) {
    return Errno(EINVAL);
  }
  const bool keepSize = (mode & FALLOC_FL_KEEP_SIZE) != 0;
  const int kind = mode & ~FALLOC_FL_KEEP_SIZE;
  switch (kind) {
    case 0:
    case FALLOC_FL_ZERO_RANGE:
    case FALLOC_FL_UNSHARE_RANGE:
      break;
    case FALLOC_FL_PUNCH_HOLE:
      if (!keepSize) return Errno(EOPNOTSUPP);
      break;
    case FALLOC_FL_COLLAPSE_RANGE:
    case FALLOC_FL_INSERT_RANGE:
    case kWriteZeroes:
      if (keepSize) return Errno(EOPNOTSUPP);
      break;
    default:
      return Errno(EOPNOTSUPP);
  }
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  if ((f->flags & O_PATH) || (f->flags & O_ACCMODE) == O_RDONLY) return Errno(EBADF);
  Inode& inode = *f->inode;
  std::lock_guard lock(inode.mu);
  if (inode.attr.isDir()) return Errno(EISDIR);
  if (!inode.attr.isReg()) return Errno(ENODEV);
  const std::uint64_t end = off + len;  // both below 2^63: no wrap
  if (end > kMaxFileSize) return Errno(EFBIG);
  const std::uint64_t size = inode.attr.size;
  // ext4_fallocate.
  switch (kind) {
    case 0:
      if (keepSize || end <= size) return okResult();
      return truncateInode(inode, end, credentials());
    case FALLOC_FL_COLLAPSE_RANGE:
      if (((off | len) & (kBlock - 1)) != 0 || end >= size) return Errno(EINVAL);
      return Errno(EOPNOTSUPP);
    case FALLOC_FL_INSERT_RANGE:
      if (((off | len) & (kBlock - 1)) != 0 || off >= size) return Errno(EINVAL);
      if (len > kMaxFileSize - size) return Errno(EFBIG);
      return Errno(EOPNOTSUPP);
    case FALLOC_FL_PUNCH_HOLE:
    case FALLOC_FL_ZERO_RANGE:
      break;
    default:  // UNSHARE_RANGE, WRITE_ZEROES: not offered by ext4 here either
      return Errno(EOPNOTSUPP);
  }
  const bool grow = !keepSize && end > size;
  if (grow) MYFS_TRY(checkNewSize(fileSizeLimit_.load(std::memory_order_relaxed), end));
  // The range reads as zeros: zeros written through the page cache (no space is freed).
  static const std::vector<char> zeros(1 << 20, '\0');
  PageCache& pages = pagesOf(inode);
  for (std::uint64_t at = off; at < std::min(end, size);) {
    const size_t n = static_cast<size_t>(std::min<std::uint64_t>(zeros.size(), std::min(end, size) - at));
    MYFS_TRY(pages.write(zeros.data(), n, at));
    at += n;
  }
  inode.mtimeDirty = true;
  inode.attr.mtimeNs = inode.attr.ctimeNs = nowNs();
  if (grow) return truncateInode(inode, end, credentials());
  return okResult();
}

Result<int> VfsImpl::getFlags(int fd) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  std::lock_guard lock(f->mu);
  return f->flags;
}

Result<void> VfsImpl::setFlags(int fd, int flags) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  constexpr int kSettable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
  std::lock_guard lock(f->mu);
  f->flags = (f->flags & ~kSettable) | (flags & kSettable);
  return okResult();
}

Result<size_t> VfsImpl::getdents(int fd, void* buf, size_t n) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  if (f->flags & O_PATH) return Errno(EBADF);
  if (!f->inode->attr.isDir()) return Errno(ENOTDIR);
  std::lock_guard lock(f->mu);
  return fillDirents(*f, buf, n, ~0ull);
}

Result<size_t> VfsImpl::fillDirents(File& file, void* buf, size_t n, std::uint64_t maxEntries) {
  File* f = &file;
  auto* out = static_cast<char*>(buf);
  size_t used = 0;
  std::uint64_t emitted = 0;
  auto emit = [&](std::uint64_t ino, std::uint8_t type, std::string_view name) -> bool {
    if (emitted == maxEntries) return false;
    ++emitted;
    const size_t reclen = (offsetof(LinuxDirent64, d_name) + name.size() + 1 + 7) & ~size_t{7};
    if (used + reclen > n) {
      --emitted;
      return false;
    }
    auto* d = reinterpret_cast<LinuxDirent64*>(out + used);
    d->d_ino = ino;
    d->d_off = static_cast<std::int64_t>(f->dirPos + 1);
    d->d_reclen = static_cast<unsigned short>(reclen);
    d->d_type = type;
    std::memcpy(d->d_name, name.data(), name.size());
    d->d_name[name.size()] = '\0';
    std::memset(d->d_name + name.size() + 1, 0, reclen - offsetof(LinuxDirent64, d_name) - name.size() - 1);
    used += reclen;
    ++f->dirPos;
    return true;
  };
  const Cred& cred = credentials();
  while (true) {
    if (f->dirPos == 0) {
      if (!emit(f->inode->ino, DT_DIR, ".")) break;
      continue;
    }
    if (f->dirPos == 1) {
      InodeId parent;
      {
        std::lock_guard il(f->inode->mu);
        parent = f->inode->attr.parent != 0 ? f->inode->attr.parent : f->inode->ino;
      }
      if (!emit(parent, DT_DIR, "..")) break;
      continue;
    }
    if (f->dirBufPos == f->dirBuf.size()) {
      if (f->dirEof) break;
      // A first page of 256 names serves most directories in one call; a large one is
      // read on in pages of 2,048 (each page is a round trip).
      const std::uint32_t pageEntries = f->dirCookie.empty() ? 256 : 2048;
      MYFS_ASSIGN_OR_RETURN(page,
                            cluster_.shardOf(f->inode->ino).readdir(cred, f->inode->ino, f->dirCookie, pageEntries));
      f->dirBuf = std::move(page.entries);
      f->dirBufPos = 0;
      f->dirCookie = std::move(page.nextCookie);
      f->dirEof = page.eof || f->dirBuf.empty();
      continue;
    }
    const DirEntry& e = f->dirBuf[f->dirBufPos];
    if (!emit(e.ino, e.type, e.name)) break;
    ++f->dirBufPos;
  }
  if (used == 0 && !(f->dirEof && f->dirBufPos == f->dirBuf.size())) return Errno(EINVAL);  // buffer too small
  return used;
}

Result<void> VfsImpl::dirSeek(int fd, std::uint64_t pos) {
  MYFS_ASSIGN_OR_RETURN(off, lseek(fd, static_cast<off_t>(pos), SEEK_SET));
  (void)off;
  return okResult();
}

Result<std::uint64_t> VfsImpl::dirTell(int fd) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  std::lock_guard lock(f->mu);
  return f->dirPos;
}

Result<void> VfsImpl::syncAll() {
  cluster_.settleDeferred();
  std::vector<std::shared_ptr<Inode>> all;
  {
    std::lock_guard lock(inodesMu_);
    for (auto& [ino, inode] : inodes_) all.push_back(inode);
  }
  Result<void> first;
  for (auto& inode : all) {
    std::lock_guard lock(inode->mu);
    if (inode->unlinked) continue;
    if (auto r = flushInode(*inode, false); !r && first.ok()) first = r;
  }
  return first;
}

std::vector<int> VfsImpl::openFds() const { return files_.openFds(); }

void VfsImpl::resourceLimitsChanged() { fileSizeLimit_.store(readFileSizeLimit(), std::memory_order_relaxed); }

void VfsImpl::afterForkInChild() {
  pid_.store(::getpid());
  new (&inodesMu_) std::mutex();
  new (&renewerMu_) std::mutex();
  new (&credMu_) std::mutex();
  new (&writebackMu_) std::mutex();
  new (&cwdMu_) std::mutex();
  new (&reservedMu_) std::mutex();
  reserved_.clear();  // the parent's session's: this process has a session of its own
  (void)writeback_.release();  // its thread is the parent's: leaked, never joined
  for (auto& [ino, inode] : inodes_) {
    new (&inode->mu) std::mutex();
    if (inode->pages) inode->pages->afterForkInChild();
  }
  files_.afterForkInChild();
  dentries_.afterForkInChild();
  walks_.afterForkInChild();
  voidAllLeases();
}

Result<OpenFileInfo> VfsImpl::describe(int fd) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  std::lock_guard lock(f->mu);
  OpenFileInfo info;
  info.description = reinterpret_cast<std::uintptr_t>(f.get());
  info.ino = f->inode->ino;
  info.path = f->path;
  info.flags = f->flags;
  info.offsetInKernel = f->offsetInKernel;
  std::lock_guard il(f->inode->mu);
  info.isDir = f->inode->attr.isDir();
  return info;
}

Result<void> VfsImpl::shareOffset(int fd, const std::function<Result<void>(std::uint64_t)>& install) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  std::lock_guard lock(f->mu);
  if (f->offsetInKernel) return okResult();
  MYFS_TRY(install(f->offset));
  f->offsetInKernel = true;
  return okResult();
}

Result<void> VfsImpl::adopt(int fd, InodeId ino, std::string path, int flags) {
  MYFS_ASSIGN_OR_RETURN(node, loadInode(ino));
  {
    std::lock_guard lock(node.inode->mu);
    ++node.inode->openCount;
  }
  auto file = std::make_shared<File>(node.inode, std::move(path), flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC));
  file->fdRefs = 1;
  file->offsetInKernel = true;
  file->lockOwner = newDescriptionOwner();
  MYFS_ASSIGN_OR_RETURN(old, files_.put(fd, file));
  if (old) (void)release(std::move(old));
  return okResult();
}

Result<std::string> VfsImpl::fdPath(int fd) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  return f->path;
}

}  // namespace myfs
