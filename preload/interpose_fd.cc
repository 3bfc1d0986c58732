// The open family, close, dup, fcntl and umask.
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preload/shim.h"

namespace myfs::preload {
namespace {

int openMyfs(const Routed& r, int flags, mode_t mode) {
  if ((flags & O_TMPFILE) == O_TMPFILE) return failWith(EOPNOTSUPP);
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  Guard g;
  int fd = newPlaceholder((flags & O_CLOEXEC) != 0, (flags & O_DIRECTORY) != 0);
  if (fd < 0) return -1;
  Result<void> res = vfs->open(fd, r.at, r.rel, flags, mode & ~currentUmask());
  if (res) return fd;
  MYFS_REAL(close)(fd);
  if (isEscape(res.err())) {
    std::string real = loadedVfs()->takeEscapedPath();
    return MYFS_REAL(openat)(AT_FDCWD, real.c_str(), flags, mode);
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
  if (isMyfsFd(fd) && !inVforkChild()) {
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
  if (!isMyfsFd(fd) || inVforkChild()) return MYFS_REAL(dup)(fd);
  return mirrorDup(fd, MYFS_REAL(dup)(fd));
}

MYFS_EXPORT int dup2(int oldFd, int newFd) noexcept {
  if (inVforkChild() || (!isMyfsFd(oldFd) && !isMyfsFd(newFd))) return MYFS_REAL(dup2)(oldFd, newFd);
  if (oldFd == newFd) return MYFS_REAL(dup2)(oldFd, newFd);
  const bool fromMyfs = isMyfsFd(oldFd);
  if (!fromMyfs) forgetReplaced(newFd);
  int rc = MYFS_REAL(dup2)(oldFd, newFd);
  if (rc < 0 || !fromMyfs) return rc;
  return mirrorDup(oldFd, rc);
}

MYFS_EXPORT int dup3(int oldFd, int newFd, int flags) noexcept {
  if (inVforkChild() || (!isMyfsFd(oldFd) && !isMyfsFd(newFd))) return MYFS_REAL(dup3)(oldFd, newFd, flags);
  const bool fromMyfs = isMyfsFd(oldFd);
  if (oldFd == newFd) return failWith(EINVAL);
  if (!fromMyfs) forgetReplaced(newFd);
  int rc = MYFS_REAL(dup3)(oldFd, newFd, flags);
  if (rc < 0 || !fromMyfs) return rc;
  return mirrorDup(oldFd, rc);
}

namespace {

int fcntlMyfs(int fd, int cmd, long arg) {
  Vfs* vfs = loadedVfs();
  Guard g;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
      return mirrorDup(fd, MYFS_REAL(fcntl)(fd, cmd, arg));
    case F_GETFL: {
      auto r = vfs->getFlags(fd);
      return r ? (*r | O_LARGEFILE) : failWith(r.err());
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
      logOnce("byte-range locks on myfs files are not supported yet: ENOLCK");
      return failWith(ENOLCK);
    default:
      return failWith(EINVAL);
  }
}

}  // namespace

MYFS_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  if (isMyfsFd(fd) && !inVforkChild()) return fcntlMyfs(fd, cmd, arg);
  return MYFS_REAL(fcntl)(fd, cmd, arg);
}
MYFS_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  if (isMyfsFd(fd) && !inVforkChild()) return fcntlMyfs(fd, cmd, arg);
  return MYFS_REAL(fcntl64)(fd, cmd, arg);
}

MYFS_EXPORT int flock(int fd, int op) noexcept {
  if (isMyfsFd(fd)) {
    logOnce("flock on myfs files is not supported yet: ENOLCK");
    return failWith(ENOLCK);
  }
  return MYFS_REAL(flock)(fd, op);
}
