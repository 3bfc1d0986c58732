// stdio streams over myfs files: fopen/fdopen return a genuine FILE* (fopencookie)
// whose reads and writes go through the Vfs; fileno() on it gives the myfs fd. freopen
// onto a myfs file keeps the caller's FILE* (stdout, ...) and makes its fd a shadow.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mutex>
#include <unordered_map>

#include "preload/shadow.h"
#include "preload/shim.h"

namespace myfs::preload {
namespace {

struct Cookie {
  int fd;
};

constinit std::mutex gStreamsMu;
// FILE* -> myfs fd of the streams the shim made (built on first use).
std::unordered_map<FILE*, int>& myfsStreams() {
  static auto* streams = new std::unordered_map<FILE*, int>;
  return *streams;
}

// open(2) flags for an fopen mode string, or -1 (EINVAL).
int flagsForMode(const char* mode) {
  int flags;
  switch (mode[0]) {
    case 'r': flags = O_RDONLY; break;
    case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
    default: return -1;
  }
  for (const char* m = mode + 1; *m != '\0' && *m != ','; ++m) {
    switch (*m) {
      case '+': flags = (flags & ~O_ACCMODE) | O_RDWR; break;
      case 'x': flags |= O_EXCL; break;
      case 'e': flags |= O_CLOEXEC; break;
      default: break;  // 'b', 'm', 'c' have no meaning here
    }
  }
  return flags;
}

ssize_t cookieRead(void* c, char* buf, size_t n) {
  Guard g;
  auto r = loadedVfs()->read(static_cast<Cookie*>(c)->fd, buf, n);
  if (!r) {
    errno = r.err();
    return -1;
  }
  return static_cast<ssize_t>(*r);
}

ssize_t cookieWrite(void* c, const char* buf, size_t n) {
  Guard g;
  auto r = loadedVfs()->write(static_cast<Cookie*>(c)->fd, buf, n);
  if (!r) {
    errno = r.err();
    return 0;  // fopencookie's contract: 0 on error
  }
  return static_cast<ssize_t>(*r);
}

int cookieSeek(void* c, off64_t* off, int whence) {
  Guard g;
  auto r = loadedVfs()->lseek(static_cast<Cookie*>(c)->fd, *off, whence);
  if (!r) {
    errno = r.err();
    return -1;
  }
  *off = *r;
  return 0;
}

int cookieClose(void* c) {
  auto* cookie = static_cast<Cookie*>(c);
  int rc = ::close(cookie->fd);
  delete cookie;
  return rc;
}

FILE* streamOver(int fd, const char* mode) {
  auto* cookie = new Cookie{fd};
  FILE* f = fopencookie(cookie, mode, cookie_io_functions_t{cookieRead, cookieWrite, cookieSeek, cookieClose});
  if (f == nullptr) {
    delete cookie;
    return nullptr;
  }
  std::lock_guard lock(gStreamsMu);
  myfsStreams()[f] = fd;
  return f;
}

int streamFd(FILE* f) {
  if (loadedVfs() == nullptr) return -1;
  std::lock_guard lock(gStreamsMu);
  auto it = myfsStreams().find(f);
  return it == myfsStreams().end() ? -1 : it->second;
}

FILE* fopenMyfs(const char* path, const char* mode) {
  int flags = mode ? flagsForMode(mode) : -1;
  if (flags < 0) {
    errno = EINVAL;
    return nullptr;
  }
  int fd = ::open(path, flags, 0666);
  if (fd < 0) return nullptr;
  if (!isMyfsFd(fd)) return MYFS_REAL(fdopen)(fd, mode);  // escaped to a kernel file
  FILE* f = streamOver(fd, mode);
  if (f == nullptr) ::close(fd);
  return f;
}

}  // namespace
}  // namespace myfs::preload

using namespace myfs;           // NOLINT
using namespace myfs::preload;  // NOLINT

MYFS_EXPORT FILE* fopen(const char* path, const char* mode) {
  if (!route(path).myfs) return MYFS_REAL(fopen)(path, mode);
  return fopenMyfs(path, mode);
}
MYFS_EXPORT FILE* fopen64(const char* path, const char* mode) {
  if (!route(path).myfs) return MYFS_REAL(fopen64)(path, mode);
  return fopenMyfs(path, mode);
}
MYFS_EXPORT FILE* fdopen(int fd, const char* mode) noexcept {
  if (!isMyfsFd(fd)) return MYFS_REAL(fdopen)(fd, mode);
  return streamOver(fd, mode);
}
namespace myfs::preload {
namespace {

// freopen onto a myfs file: glibc's freopen opens through its internal open, so the
// stream is reopened on /dev/null (its FILE state and mode reset by glibc) and its fd
// then made a shadow of the myfs file (shadow.h): stdio's own reads and writes reach
// the file through the kernel, and fclose or exit writes it back.
FILE* freopenMyfs(const char* path, const char* mode, FILE* stream) {
  const int flags = mode ? flagsForMode(mode) : -1;
  if (flags < 0) return errno = EINVAL, nullptr;
  const int myfsFd = ::open(path, flags, 0666);
  if (myfsFd < 0) return nullptr;
  if (!isMyfsFd(myfsFd)) {  // escaped to a kernel file: let glibc open it
    ::close(myfsFd);
    return MYFS_REAL(freopen)(path, mode, stream);
  }
  const int old = MYFS_REAL(fileno)(stream);
  if (old >= 0 && isShadow(old)) {
    MYFS_REAL(fflush)(stream);
    (void)syncShadow(old, true);
  }
  FILE* f = MYFS_REAL(freopen)("/dev/null", mode, stream);
  if (f == nullptr) {
    int err = errno;
    ::close(myfsFd);
    return errno = err, nullptr;
  }
  const int target = MYFS_REAL(fileno)(f);
  const int rc = installShadow(myfsFd, target);
  const int err = errno;
  ::close(myfsFd);
  if (rc < 0) {
    MYFS_REAL(fclose)(f);
    return errno = err, nullptr;
  }
  return f;
}

}  // namespace
}  // namespace myfs::preload

MYFS_EXPORT FILE* freopen(const char* path, const char* mode, FILE* stream) {
  if (stream != nullptr && streamFd(stream) >= 0) {
    // A stream over a myfs file (fopencookie): glibc cannot reopen those.
    logOnce("freopen of a stream opened on a myfs file is not supported: EOPNOTSUPP");
    return errno = EOPNOTSUPP, nullptr;
  }
  if (path != nullptr && route(path).myfs) return freopenMyfs(path, mode, stream);
  if (stream != nullptr && anyShadows()) {
    const int old = MYFS_REAL(fileno)(stream);
    if (old >= 0 && isShadow(old)) {  // closed inside libc: write it back first
      MYFS_REAL(fflush)(stream);
      if (path != nullptr) (void)syncShadow(old, true);
    }
  }
  return MYFS_REAL(freopen)(path, mode, stream);
}
MYFS_EXPORT FILE* freopen64(const char* path, const char* mode, FILE* stream) { return freopen(path, mode, stream); }

MYFS_EXPORT int fclose(FILE* f) {
  if (streamFd(f) >= 0) {
    std::lock_guard lock(gStreamsMu);
    myfsStreams().erase(f);
  } else if (f != nullptr && anyShadows()) {
    // fclose(stdout) closes fd 1 inside libc: write the shadow back before that.
    int fd = MYFS_REAL(fileno)(f);
    if (isShadow(fd)) {
      int flushed = MYFS_REAL(fflush)(f);
      int synced = syncShadow(fd, true);
      int err = errno;
      int rc = MYFS_REAL(fclose)(f);
      if (flushed != 0 || synced != 0) return failWith(err);
      return rc;
    }
  }
  return MYFS_REAL(fclose)(f);
}
MYFS_EXPORT int fileno(FILE* f) noexcept {
  int fd = streamFd(f);
  return fd >= 0 ? fd : MYFS_REAL(fileno)(f);
}
MYFS_EXPORT int fileno_unlocked(FILE* f) noexcept {
  int fd = streamFd(f);
  return fd >= 0 ? fd : MYFS_REAL(fileno_unlocked)(f);
}
