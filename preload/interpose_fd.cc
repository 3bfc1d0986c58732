// The open family, close, dup, fcntl and umask.
#include <fcntl.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preload/fifo.h"
#include "preload/inherit.h"
#include "preload/shadow.h"
#include "preload/shim.h"

namespace myfs::preload {
namespace {

// An open that landed on fd 0..2 (the app closed a standard stream first): the fd
// becomes a shadow, like a dup2 onto a standard stream.
int becomeStandardStream(int fd) {
  Vfs* vfs = loadedVfs();
  int spare = MYFS_REAL(fcntl)(fd, F_DUPFD_CLOEXEC, 3);
  if (spare < 0) return -1;
  (void)vfs->dup(fd, spare);
  (void)vfs->close(fd);
  int rc = installShadow(spare, fd);
  int err = errno;
  (void)vfs->close(spare);
  MYFS_REAL(close)(spare);
  if (rc < 0) {
    MYFS_REAL(close)(fd);
    return failWith(err);
  }
  return fd;
}

int openMyfs(const Routed& r, int flags, mode_t mode) {
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  Guard g;
  int fd = newPlaceholder((flags & O_CLOEXEC) != 0, (flags & O_DIRECTORY) != 0);
  if (fd < 0) return -1;
  Result<void> res = vfs->open(fd, r.at, r.rel, flags, mode & ~currentUmask());
  if (res) {
    // Only a regular file on 0..2 needs a shadow (stdio reaches it through the kernel);
    // a directory or O_PATH fd there stays a plain myfs fd.
    if (fd > 2 || (flags & O_PATH)) return fd;
    auto info = vfs->describe(fd);
    return info && !info->isDir ? becomeStandardStream(fd) : fd;
  }
  MYFS_REAL(close)(fd);
  if (isEscape(res.err())) {
    std::string real = loadedVfs()->takeEscapedPath();
    return MYFS_REAL(openat)(AT_FDCWD, real.c_str(), flags, mode);
  }
  if (res.err() == ENXIO) {
    if (int fifo = openMyfsFifo(*vfs, r.at, r.rel, flags); fifo != -2) return fifo;
  }
  return failWith(res.err());
}

mode_t modeArg(int flags, va_list ap) {
  return ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? static_cast<mode_t>(va_arg(ap, int)) : 0;
}

int openAt(int dirfd, const char* path, int flags, mode_t mode) {
  Routed r = route(dirfd, path);
  if (r.myfs) return openMyfs(r, flags, mode);
  return MYFS_REAL(openat)(dirfd, path, flags, mode);
}

// After the kernel made newFd a copy of oldFd: mirror it in the Vfs.
int mirrorDup(int oldFd, int newFd) {
  if (newFd < 0) return newFd;
  if (newFd <= 2) return installShadow(oldFd, newFd);  // dup() onto a closed standard stream
  Guard g;
  if (auto r = loadedVfs()->dup(oldFd, newFd); !r) {
    MYFS_REAL(close)(newFd);
    return failWith(r.err());
  }
  return newFd;
}

// newFd is about to be replaced by a kernel-only fd: release its myfs description.
void forgetReplaced(int newFd) {
  if (isMyfsFd(newFd) && !inVforkChild()) {
    Guard g;
    (void)loadedVfs()->close(newFd);
  }
}

}  // namespace
}  // namespace myfs::preload

using namespace myfs;           // NOLINT
using namespace myfs::preload;  // NOLINT

MYFS_EXPORT int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = modeArg(flags, ap);
  va_end(ap);
  return openAt(AT_FDCWD, path, flags, mode);
}
MYFS_EXPORT int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = modeArg(flags, ap);
  va_end(ap);
  return openAt(AT_FDCWD, path, flags, mode);
}
MYFS_EXPORT int __open_2(const char* path, int flags) { return openAt(AT_FDCWD, path, flags, 0); }
MYFS_EXPORT int __open64_2(const char* path, int flags) { return openAt(AT_FDCWD, path, flags, 0); }
MYFS_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = modeArg(flags, ap);
  va_end(ap);
  return openAt(dirfd, path, flags, mode);
}
MYFS_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = modeArg(flags, ap);
  va_end(ap);
  return openAt(dirfd, path, flags, mode);
}
MYFS_EXPORT int __openat_2(int dirfd, const char* path, int flags) { return openAt(dirfd, path, flags, 0); }
MYFS_EXPORT int __openat64_2(int dirfd, const char* path, int flags) { return openAt(dirfd, path, flags, 0); }
MYFS_EXPORT int creat(const char* path, mode_t mode) {
  return openAt(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
MYFS_EXPORT int creat64(const char* path, mode_t mode) {
  return openAt(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

MYFS_EXPORT mode_t umask(mode_t mask) noexcept {
  mode_t old = MYFS_REAL(umask)(mask);
  setCurrentUmask(mask & 0777);
  return old;
}

MYFS_EXPORT int close(int fd) {
  if (isInternalFd(fd)) return 0;  // never the application's: it did not open it
  forgetInternalFd(fd);            // the client closing its own: the number is free again
  if (dropInheritedPending(fd)) return MYFS_REAL(close)(fd);
  if (isShadow(fd) && !inVforkChild()) {
    int synced = syncShadow(fd, true);
    int err = errno;
    int rc = MYFS_REAL(close)(fd);
    if (synced != 0) return failWith(err);
    return rc;
  }
  if (isMyfsFd(fd) && !inVforkChild()) {
    auto closing = closingDescription();
    Result<void> flushed;
    {
      Guard g;
      flushed = loadedVfs()->close(fd);
    }
    int rc = MYFS_REAL(close)(fd);
    if (!flushed) return failWith(flushed.err());  // e.g. EIO: written data did not reach the servers
    return rc;
  }
  return MYFS_REAL(close)(fd);
}

MYFS_EXPORT int dup(int fd) noexcept {
  if (isShadow(fd) && !inVforkChild()) {
    int rc = MYFS_REAL(dup)(fd);
    if (rc >= 0) copyShadow(fd, rc);
    return rc;
  }
  if (!isMyfsFd(fd) || inVforkChild()) return MYFS_REAL(dup)(fd);
  return mirrorDup(fd, MYFS_REAL(dup)(fd));
}

namespace myfs::preload {
namespace {

// dup2/dup3 where either fd is myfs's (a myfs fd or a shadow).
int dupOnto(int oldFd, int newFd, int flags, bool isDup3) {
  if (oldFd == newFd) return isDup3 ? failWith(EINVAL) : MYFS_REAL(dup2)(oldFd, newFd);
  const bool fromMyfs = isMyfsFd(oldFd);
  const bool fromShadow = isShadow(oldFd);
  if (isShadow(newFd)) (void)syncShadow(newFd, true);
  if (fromMyfs && newFd >= 0 && newFd <= 2) {
    // A standard stream: stdio and exec'd programs write it through the kernel.
    forgetReplaced(newFd);
    return installShadow(oldFd, newFd);
  }
  if (!fromMyfs) forgetReplaced(newFd);
  int rc = MYFS_REAL(dup3)(oldFd, newFd, flags);
  if (rc < 0) return rc;
  if (fromShadow) copyShadow(oldFd, rc);
  if (!fromMyfs) return rc;
  return mirrorDup(oldFd, rc);
}

bool involvesMyfs(int oldFd, int newFd) {
  return isMyfsFd(oldFd) || isMyfsFd(newFd) || isShadow(oldFd) || isShadow(newFd);
}

}  // namespace
}  // namespace myfs::preload

MYFS_EXPORT int dup2(int oldFd, int newFd) noexcept {
  if (inVforkChild() || !involvesMyfs(oldFd, newFd)) return MYFS_REAL(dup2)(oldFd, newFd);
  return dupOnto(oldFd, newFd, 0, false);
}

MYFS_EXPORT int dup3(int oldFd, int newFd, int flags) noexcept {
  if (inVforkChild() || !involvesMyfs(oldFd, newFd)) return MYFS_REAL(dup3)(oldFd, newFd, flags);
  return dupOnto(oldFd, newFd, flags, true);
}

namespace {

// The absolute byte range [*start, *end] a struct flock names (end inclusive,
// kLockToEof: to the end of the file), as fcntl(2) computes it; an errno on failure.
int lockRange(Vfs& vfs, int fd, const struct flock& fl, std::uint64_t* start, std::uint64_t* end) {
  std::int64_t base = 0;
  if (fl.l_whence == SEEK_CUR) {
    auto pos = vfs.lseek(fd, 0, SEEK_CUR);
    if (!pos) return pos.err();
    base = *pos;
  } else if (fl.l_whence == SEEK_END) {
    auto attr = vfs.fstat(fd);
    if (!attr) return attr.err();
    base = static_cast<std::int64_t>(attr->size);
  } else if (fl.l_whence != SEEK_SET) {
    return EINVAL;
  }
  std::int64_t first = 0;
  if (__builtin_add_overflow(base, static_cast<std::int64_t>(fl.l_start), &first)) return EOVERFLOW;
  if (fl.l_len == 0) {
    if (first < 0) return EINVAL;
    *start = static_cast<std::uint64_t>(first);
    *end = kLockToEof;
    return 0;
  }
  std::int64_t last = 0;
  if (fl.l_len > 0) {
    if (__builtin_add_overflow(first, static_cast<std::int64_t>(fl.l_len) - 1, &last)) return EOVERFLOW;
  } else {
    last = first - 1;
    first += fl.l_len;
  }
  if (first < 0) return EINVAL;
  *start = static_cast<std::uint64_t>(first);
  *end = static_cast<std::uint64_t>(last);
  return 0;
}

// fcntl's lock commands on a myfs fd.
int fcntlLock(Vfs& vfs, int fd, int cmd, struct flock* fl) {
  if (fl == nullptr) return failWith(EFAULT);
  const bool ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
  if (ofd && fl->l_pid != 0) return failWith(EINVAL);
  const LockKind kind = ofd ? LockKind::kOfd : LockKind::kPosix;
  std::uint64_t start = 0, end = 0;
  if (int err = lockRange(vfs, fd, *fl, &start, &end); err != 0) return failWith(err);
  if (cmd == F_GETLK || cmd == F_OFD_GETLK) {
    if (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK) return failWith(EINVAL);
    auto got = vfs.getLock(fd, kind, fl->l_type, start, end);
    if (!got) return failWith(got.err());
    fl->l_type = static_cast<short>(got->type);
    if (got->type != F_UNLCK) {
      fl->l_whence = SEEK_SET;
      fl->l_start = static_cast<off_t>(got->start);
      fl->l_len = got->end == kLockToEof ? 0 : static_cast<off_t>(got->end - got->start + 1);
      fl->l_pid = got->kind == LockKind::kPosix ? got->pid : -1;
    }
    return 0;
  }
  const bool wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
  return toInt(vfs.setLock(fd, kind, fl->l_type, start, end, wait));
}

// The kernel's O_LARGEFILE: glibc defines O_LARGEFILE as 0 on 64-bit targets, but Linux
// forces it into every open file's flags there (not O_PATH ones) and F_GETFL reports it.
constexpr int kKernelLargefile = 0100000;

// F_SET_RW_HINT's values (RWH_WRITE_LIFE_NOT_SET .. RWH_WRITE_LIFE_EXTREME); the hint
// itself is not kept (myfs has no use for it): F_GET_RW_HINT answers "not set".
constexpr int kGetRwHint = 1035, kSetRwHint = 1036;
constexpr std::uint64_t kMaxRwHint = 5;

int fcntlMyfs(int fd, int cmd, long arg) {
  Vfs* vfs = loadedVfs();
  Guard g;
  auto flags = vfs->getFlags(fd);
  if (!flags) return failWith(flags.err());
  // An O_PATH fd allows only these (check_fcntl_cmd).
  if ((*flags & O_PATH) && cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC && cmd != F_GETFD && cmd != F_SETFD &&
      cmd != F_GETFL) {
    return failWith(EBADF);
  }
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
      return mirrorDup(fd, MYFS_REAL(fcntl)(fd, cmd, arg));
    case F_GETFL:
      // O_CLOEXEC belongs to the fd, not to the description's flags.
      return (*flags & ~O_CLOEXEC) | ((*flags & O_PATH) ? 0 : kKernelLargefile);
    case F_GETOWN:
    case F_SETOWN:
    case F_GETOWN_EX:
    case F_SETOWN_EX:
    case F_GETSIG:
    case F_SETSIG:
      // Owner and signal of the description: kept (and checked) by the placeholder's
      // kernel description, which dup and fork share as they share the myfs one. No
      // SIGIO is ever sent for a myfs file.
      return MYFS_REAL(fcntl)(fd, cmd, arg);
    case F_GETLEASE:
      return F_UNLCK;  // no lease is ever granted
    case F_SETLEASE: {
      // Leases would need the servers to break them: refused as when another process has
      // the file open in a conflicting mode. Checks as fcntl_setlease (regular file, owner).
      auto attr = vfs->fstat(fd);
      if (!attr) return failWith(attr.err());
      if (arg != F_RDLCK && arg != F_WRLCK && arg != F_UNLCK) return failWith(EINVAL);
      if (!S_ISREG(attr->mode)) return failWith(EINVAL);
      if (geteuid() != 0 && geteuid() != attr->uid) return failWith(EACCES);
      return arg == F_UNLCK ? 0 : failWith(EAGAIN);
    }
    case F_NOTIFY: {
      // dnotify: arg 0 clears (nothing to clear); a regular file is ENOTDIR; directory
      // notifications are not offered (EINVAL, as with dnotify disabled).
      if (arg == 0) return 0;
      auto attr = vfs->fstat(fd);
      if (!attr) return failWith(attr.err());
      return failWith(S_ISDIR(attr->mode) ? EINVAL : ENOTDIR);
    }
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ:
      return failWith(EBADF);  // not a pipe
    case F_ADD_SEALS:
      // memfd_add_seals: a fd not open for writing is EPERM, any other file than a memfd EINVAL.
      return failWith((*flags & O_ACCMODE) == O_RDONLY ? EPERM : EINVAL);
    case kGetRwHint: {
      if (arg == 0) return failWith(EFAULT);
      *reinterpret_cast<std::uint64_t*>(arg) = 0;  // RWH_WRITE_LIFE_NOT_SET
      return 0;
    }
    case kSetRwHint: {
      if (arg == 0) return failWith(EFAULT);
      if (*reinterpret_cast<const std::uint64_t*>(arg) > kMaxRwHint) return failWith(EINVAL);
      auto attr = vfs->fstat(fd);
      if (!attr) return failWith(attr.err());
      if (geteuid() != 0 && geteuid() != attr->uid) return failWith(EPERM);
      return 0;
    }
    case F_SETFL: {
      auto r = vfs->setFlags(fd, static_cast<int>(arg));
      return r ? 0 : failWith(r.err());
    }
    case F_GETFD:
    case F_SETFD:
      return MYFS_REAL(fcntl)(fd, cmd, arg);  // the placeholder carries FD_CLOEXEC
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      return fcntlLock(*vfs, fd, cmd, reinterpret_cast<struct flock*>(arg));
    default:
      return failWith(EINVAL);
  }
}

}  // namespace

namespace myfs::preload {
namespace {

// fcntl and fcntl64 (the same on x86_64): myfs fds are served, shadows follow F_DUPFD.
int fcntlAny(int fd, int cmd, long arg, int (*real)(int, int, ...)) {
  if (isMyfsFd(fd) && !inVforkChild()) return fcntlMyfs(fd, cmd, arg);
  int rc = real(fd, cmd, arg);
  if (rc < 0 || (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)) return rc;
  rc = relocateIfInternal(rc);
  if (isShadow(fd)) copyShadow(fd, rc);
  return rc;
}

}  // namespace
}  // namespace myfs::preload

MYFS_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  return fcntlAny(fd, cmd, arg, MYFS_REAL(fcntl));
}
MYFS_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  return fcntlAny(fd, cmd, arg, MYFS_REAL(fcntl64));
}

MYFS_EXPORT int flock(int fd, int op) noexcept {
  if (!isMyfsFd(fd) || inVforkChild()) return MYFS_REAL(flock)(fd, op);
  int type;
  switch (op & ~LOCK_NB) {
    case LOCK_SH: type = F_RDLCK; break;
    case LOCK_EX: type = F_WRLCK; break;
    case LOCK_UN: type = F_UNLCK; break;
    default: return failWith(EINVAL);
  }
  Guard g;
  return toInt(loadedVfs()->setLock(fd, LockKind::kFlock, type, 0, kLockToEof, (op & LOCK_NB) == 0));
}

// glibc's lockf calls its internal fcntl: served here for myfs fds, as glibc defines it
// (a write lock over [offset, offset + len) from the current offset).
MYFS_EXPORT int lockf(int fd, int cmd, off_t len) {
  if (!isMyfsFd(fd) || inVforkChild()) return MYFS_REAL(lockf)(fd, cmd, len);
  struct flock fl {};
  fl.l_whence = SEEK_CUR;
  fl.l_len = len;
  switch (cmd) {
    case F_TEST:
      fl.l_type = F_RDLCK;
      if (fcntl(fd, F_GETLK, &fl) < 0) return -1;
      if (fl.l_type == F_UNLCK || fl.l_pid == getpid()) return 0;
      return failWith(EACCES);
    case F_ULOCK:
      fl.l_type = F_UNLCK;
      return fcntl(fd, F_SETLK, &fl);
    case F_TLOCK:
      fl.l_type = F_WRLCK;
      return fcntl(fd, F_SETLK, &fl);
    case F_LOCK:
      fl.l_type = F_WRLCK;
      return fcntl(fd, F_SETLKW, &fl);
    default:
      return failWith(EINVAL);
  }
}
MYFS_EXPORT int lockf64(int fd, int cmd, off_t len) { return lockf(fd, cmd, len); }
