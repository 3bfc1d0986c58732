// File locks: fcntl (process and OFD) and flock locks, arbitrated by the metadata server
// of each file's inode and kept alive by a background renewer while any is held.
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <set>
#include <thread>

#include "core/placement.h"
#include "core/vfs_impl.h"

namespace myfs {

namespace {

// A 64-bit mix (splitmix64's finalizer): distinct inputs give unrelated outputs.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

constexpr std::int64_t kFirstRetryNs = 1'000'000;   // blocking waits poll from 1 ms
constexpr std::int64_t kMaxRetryNs = 50'000'000;    // up to every 50 ms

}  // namespace

// Renews this process's locks on the shards where it took any, every third of the lease.
struct VfsImpl::LockRenewer {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  pid_t pid = 0;
  std::set<std::uint32_t> shards;  // GUARDED_BY(mu)
  std::thread thread;
};

std::uint64_t VfsImpl::processLockOwner() const {
  return mix(lockSeed_ ^ (static_cast<std::uint64_t>(processId()) << 1));
}

std::uint64_t VfsImpl::newDescriptionOwner() {
  return mix(lockSeed_ + (static_cast<std::uint64_t>(processId()) << 32) + descriptions_.fetch_add(1) + 1);
}

FileLock VfsImpl::lockRequest(const File& f, LockKind kind, int type, std::uint64_t start, std::uint64_t end) const {
  FileLock req;
  req.kind = kind;
  req.type = type;
  req.start = kind == LockKind::kFlock ? 0 : start;
  req.end = kind == LockKind::kFlock ? kLockToEof : end;
  req.owner = kind == LockKind::kPosix ? processLockOwner() : f.lockOwner;
  req.client = processLockOwner();
  req.pid = kind == LockKind::kPosix ? static_cast<std::int32_t>(processId()) : -1;
  return req;
}

Result<void> VfsImpl::setLock(int fd, LockKind kind, int type, std::uint64_t start, std::uint64_t end, bool wait) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  if (f->flags & O_PATH) return Errno(EBADF);
  if (type != F_RDLCK && type != F_WRLCK && type != F_UNLCK) return Errno(EINVAL);
  if (start > end) return Errno(EINVAL);
  const int acc = f->flags & O_ACCMODE;
  if (kind != LockKind::kFlock) {
    if (type == F_RDLCK && acc == O_WRONLY) return Errno(EBADF);
    if (type == F_WRLCK && acc == O_RDONLY) return Errno(EBADF);
  }
  Inode& inode = *f->inode;
  const InodeId ino = inode.ino;
  if (type == F_UNLCK) {
    std::lock_guard lock(inode.mu);
    if (!inode.unlinked) MYFS_TRY(flushInode(inode, false));  // what the next holder reads
  }
  const FileLock req = lockRequest(*f, kind, type, start, end);
  MetaShard& shard = cluster_.shardOf(ino);
  for (std::int64_t pauseNs = kFirstRetryNs;;) {
    auto r = shard.lock(ino, req, false);
    if (r) break;
    if (r.err() != EAGAIN || !wait) return r.error();
    timespec pause{0, pauseNs};
    if (::nanosleep(&pause, nullptr) != 0 && errno == EINTR) return Errno(EINTR);
    pauseNs = std::min(pauseNs * 2, kMaxRetryNs);
  }
  if (type == F_UNLCK) return okResult();
  if (kind == LockKind::kPosix) {
    std::lock_guard lock(inode.mu);
    inode.posixLocked = true;
  } else {
    std::lock_guard lock(f->mu);
    f->descriptionLockPid = processId();
  }
  keepLocksAlive(shardOfInode(ino));
  // What the previous holder wrote is on the servers: cached pages may be stale.
  MYFS_ASSIGN_OR_RETURN(attr, shard.getattr(ino));
  (void)learn(attr);
  return okResult();
}

Result<FileLock> VfsImpl::getLock(int fd, LockKind kind, int type, std::uint64_t start, std::uint64_t end) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  if (f->flags & O_PATH) return Errno(EBADF);
  if ((type != F_RDLCK && type != F_WRLCK) || start > end) return Errno(EINVAL);
  const FileLock req = lockRequest(*f, kind, type, start, end);
  MYFS_ASSIGN_OR_RETURN(conflict, cluster_.shardOf(f->inode->ino).lock(f->inode->ino, req, true));
  if (conflict) return *conflict;
  FileLock none = req;
  none.type = F_UNLCK;
  return none;
}

Result<void> VfsImpl::unlockAll(File& f, LockKind kind) {
  {
    std::lock_guard lock(f.inode->mu);
    if (!f.inode->unlinked) MYFS_TRY(flushInode(*f.inode, false));
  }
  const FileLock req = lockRequest(f, kind, F_UNLCK, 0, kLockToEof);
  MYFS_ASSIGN_OR_RETURN(r, cluster_.shardOf(f.inode->ino).lock(f.inode->ino, req, false));
  (void)r;
  return okResult();
}

Result<void> VfsImpl::releaseLocksOnClose(File& f, bool lastReference) {
  Result<void> first;
  bool posix;
  {
    std::lock_guard lock(f.inode->mu);
    posix = f.inode->posixLocked;
    f.inode->posixLocked = false;
  }
  if (posix) first = unlockAll(f, LockKind::kPosix);
  bool described;
  {
    std::lock_guard lock(f.mu);
    described = lastReference && f.descriptionLockPid == processId();
    if (described) f.descriptionLockPid = 0;
  }
  if (described) {
    for (LockKind kind : {LockKind::kOfd, LockKind::kFlock}) {
      if (auto r = unlockAll(f, kind); !r && first) first = r;
    }
  }
  return first;
}

void VfsImpl::releaseLocksAtExit() {
  stopLockRenewer();  // not in the middle of a call while the process tears down
  for (int fd : files_.openFds()) {
    auto f = files_.get(fd);
    if (!f) continue;
    bool posix, description;
    {
      std::lock_guard lock((*f)->inode->mu);
      posix = (*f)->inode->posixLocked;
      (*f)->inode->posixLocked = false;
    }
    {
      std::lock_guard lock((*f)->mu);
      description = (*f)->descriptionLockPid == processId();
      if (description) (*f)->descriptionLockPid = 0;
    }
    if (posix) (void)unlockAll(**f, LockKind::kPosix);
    if (description) {
      (void)unlockAll(**f, LockKind::kOfd);
      (void)unlockAll(**f, LockKind::kFlock);
    }
  }
}

void VfsImpl::keepLocksAlive(std::uint32_t shard) {
  std::lock_guard lock(renewerMu_);
  if (renewer_ != nullptr && renewer_->pid != processId()) renewer_ = nullptr;  // the parent's: its thread is gone
  if (renewer_ == nullptr) {
    auto* r = new LockRenewer;
    r->pid = processId();
    const std::uint64_t client = processLockOwner();
    r->thread = std::thread([this, r, client] {
      std::chrono::milliseconds interval(1000);
      std::unique_lock held(r->mu);
      while (!r->stop) {
        r->cv.wait_for(held, interval, [r] { return r->stop; });
        if (r->stop) break;
        std::vector<std::uint32_t> shards(r->shards.begin(), r->shards.end());
        held.unlock();
        for (std::uint32_t s : shards) {
          if (auto lease = cluster_.shard(s).renewLocks(client)) {
            interval = std::max(std::chrono::milliseconds(*lease / 3), std::chrono::milliseconds(10));
          }
        }
        held.lock();
      }
    });
    renewer_ = r;
  }
  std::lock_guard rl(renewer_->mu);
  renewer_->shards.insert(shard);
}

void VfsImpl::stopLockRenewer() {
  std::lock_guard lock(renewerMu_);
  if (renewer_ == nullptr || renewer_->pid != processId()) return;
  {
    std::lock_guard rl(renewer_->mu);
    renewer_->stop = true;
  }
  renewer_->cv.notify_all();
  renewer_->thread.join();
  delete renewer_;
  renewer_ = nullptr;
}

}  // namespace myfs
