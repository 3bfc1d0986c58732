// Data calls on fds: read/write in every form, seek, sync, truncate, copy helpers.
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <vector>

#include "preload/shadow.h"
#include "preload/shim.h"

namespace myfs::preload {
namespace {

ssize_t toSsize(const Result<size_t>& r) {
  if (!r) return failWith(r.err());
  return static_cast<ssize_t>(*r);
}

// Gathers iovecs for one vectored call (myfs transfers are whole buffers).
ssize_t readvMyfs(int fd, const iovec* iov, int cnt, off_t off, bool positioned) {
  if (cnt < 0 || cnt > IOV_MAX) return failWith(EINVAL);
  Guard g;
  Vfs* vfs = loadedVfs();
  size_t total = 0;
  for (int i = 0; i < cnt; ++i) total += iov[i].iov_len;
  std::vector<char> buf(total);
  auto r = positioned ? vfs->pread(fd, buf.data(), total, off) : vfs->read(fd, buf.data(), total);
  if (!r) return failWith(r.err());
  size_t left = *r, pos = 0;
  for (int i = 0; i < cnt && left > 0; ++i) {
    size_t n = std::min(left, iov[i].iov_len);
    std::memcpy(iov[i].iov_base, buf.data() + pos, n);
    pos += n;
    left -= n;
  }
  return static_cast<ssize_t>(*r);
}

ssize_t writevMyfs(int fd, const iovec* iov, int cnt, off_t off, bool positioned) {
  if (cnt < 0 || cnt > IOV_MAX) return failWith(EINVAL);
  Guard g;
  Vfs* vfs = loadedVfs();
  std::vector<char> buf;
  for (int i = 0; i < cnt; ++i) {
    const char* b = static_cast<const char*>(iov[i].iov_base);
    buf.insert(buf.end(), b, b + iov[i].iov_len);
  }
  return toSsize(positioned ? vfs->pwrite(fd, buf.data(), buf.size(), off) : vfs->write(fd, buf.data(), buf.size()));
}

// Copies between two fds of which at least one is myfs, through a buffer.
ssize_t copyThrough(int in, off_t* inOff, int out, off_t* outOff, size_t len) {
  std::vector<char> buf(std::min<size_t>(len, 1 << 20));
  size_t done = 0;
  while (done < len) {
    size_t want = std::min(buf.size(), len - done);
    ssize_t got = inOff ? ::pread(in, buf.data(), want, *inOff) : ::read(in, buf.data(), want);
    if (got < 0) return done > 0 ? static_cast<ssize_t>(done) : -1;
    if (got == 0) break;
    ssize_t put = 0;
    while (put < got) {
      ssize_t w = outOff ? ::pwrite(out, buf.data() + put, static_cast<size_t>(got - put), *outOff + put)
                         : ::write(out, buf.data() + put, static_cast<size_t>(got - put));
      if (w < 0) return done > 0 ? static_cast<ssize_t>(done) : -1;
      put += w;
    }
    if (inOff) *inOff += got;
    if (outOff) *outOff += got;
    done += static_cast<size_t>(got);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace
}  // namespace myfs::preload

using namespace myfs;           // NOLINT
using namespace myfs::preload;  // NOLINT

MYFS_EXPORT ssize_t read(int fd, void* buf, size_t n) {
  if (!isMyfsFd(fd)) return MYFS_REAL(read)(fd, buf, n);
  Guard g;
  return toSsize(loadedVfs()->read(fd, buf, n));
}
MYFS_EXPORT ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (n > buflen) abort();
  return read(fd, buf, n);
}
MYFS_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  if (!isMyfsFd(fd)) return MYFS_REAL(write)(fd, buf, n);
  Guard g;
  return toSsize(loadedVfs()->write(fd, buf, n));
}
MYFS_EXPORT ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  if (!isMyfsFd(fd)) return MYFS_REAL(pread)(fd, buf, n, off);
  Guard g;
  return toSsize(loadedVfs()->pread(fd, buf, n, off));
}
MYFS_EXPORT ssize_t pread64(int fd, void* buf, size_t n, off_t off) { return pread(fd, buf, n, off); }
MYFS_EXPORT ssize_t __pread_chk(int fd, void* buf, size_t n, off_t off, size_t buflen) {
  if (n > buflen) abort();
  return pread(fd, buf, n, off);
}
MYFS_EXPORT ssize_t __pread64_chk(int fd, void* buf, size_t n, off_t off, size_t buflen) {
  return __pread_chk(fd, buf, n, off, buflen);
}
MYFS_EXPORT ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  if (!isMyfsFd(fd)) return MYFS_REAL(pwrite)(fd, buf, n, off);
  Guard g;
  return toSsize(loadedVfs()->pwrite(fd, buf, n, off));
}
MYFS_EXPORT ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) { return pwrite(fd, buf, n, off); }

MYFS_EXPORT ssize_t readv(int fd, const struct iovec* iov, int cnt) {
  if (!isMyfsFd(fd)) return MYFS_REAL(readv)(fd, iov, cnt);
  return readvMyfs(fd, iov, cnt, 0, false);
}
MYFS_EXPORT ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  if (!isMyfsFd(fd)) return MYFS_REAL(writev)(fd, iov, cnt);
  return writevMyfs(fd, iov, cnt, 0, false);
}
MYFS_EXPORT ssize_t preadv(int fd, const struct iovec* iov, int cnt, off_t off) {
  if (!isMyfsFd(fd)) return MYFS_REAL(preadv)(fd, iov, cnt, off);
  return readvMyfs(fd, iov, cnt, off, true);
}
MYFS_EXPORT ssize_t preadv64(int fd, const struct iovec* iov, int cnt, off_t off) { return preadv(fd, iov, cnt, off); }
MYFS_EXPORT ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off) {
  if (!isMyfsFd(fd)) return MYFS_REAL(pwritev)(fd, iov, cnt, off);
  return writevMyfs(fd, iov, cnt, off, true);
}
MYFS_EXPORT ssize_t pwritev64(int fd, const struct iovec* iov, int cnt, off_t off) {
  return pwritev(fd, iov, cnt, off);
}

MYFS_EXPORT off_t lseek(int fd, off_t off, int whence) noexcept {
  if (!isMyfsFd(fd)) return MYFS_REAL(lseek)(fd, off, whence);
  Guard g;
  auto r = loadedVfs()->lseek(fd, off, whence);
  return r ? *r : failWith(r.err());
}
MYFS_EXPORT off_t lseek64(int fd, off_t off, int whence) noexcept { return lseek(fd, off, whence); }

MYFS_EXPORT int fsync(int fd) {
  if (isShadow(fd)) {
    if (syncShadow(fd, false) != 0) return -1;
    return MYFS_REAL(fsync)(fd);
  }
  if (!isMyfsFd(fd)) return MYFS_REAL(fsync)(fd);
  Guard g;
  return toInt(loadedVfs()->fsync(fd, false));
}
MYFS_EXPORT int fdatasync(int fd) {
  if (isShadow(fd)) {
    if (syncShadow(fd, false) != 0) return -1;
    return MYFS_REAL(fdatasync)(fd);
  }
  if (!isMyfsFd(fd)) return MYFS_REAL(fdatasync)(fd);
  Guard g;
  return toInt(loadedVfs()->fsync(fd, true));
}
MYFS_EXPORT int syncfs(int fd) noexcept {
  if (!isMyfsFd(fd)) return MYFS_REAL(syncfs)(fd);
  Guard g;
  return toInt(loadedVfs()->syncAll());
}
MYFS_EXPORT int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags) {
  if (!isMyfsFd(fd)) return MYFS_REAL(sync_file_range)(fd, off, n, flags);
  if (off < 0 || n < 0) return failWith(EINVAL);
  Guard g;
  return toInt(loadedVfs()->fsync(fd, true));  // the whole file: a superset of the range
}
MYFS_EXPORT void sync() noexcept {
  if (Vfs* vfs = loadedVfs(); vfs && !inShim()) {
    Guard g;
    (void)vfs->syncAll();
  }
  MYFS_REAL(sync)();
}

MYFS_EXPORT int ftruncate(int fd, off_t size) noexcept {
  if (!isMyfsFd(fd)) return MYFS_REAL(ftruncate)(fd, size);
  Guard g;
  return toInt(loadedVfs()->ftruncate(fd, size));
}
MYFS_EXPORT int ftruncate64(int fd, off_t size) noexcept { return ftruncate(fd, size); }

MYFS_EXPORT int posix_fadvise(int fd, off_t off, off_t len, int advice) noexcept {
  if (!isMyfsFd(fd)) return MYFS_REAL(posix_fadvise)(fd, off, len, advice);
  if (advice < POSIX_FADV_NORMAL || advice > POSIX_FADV_NOREUSE || len < 0) return EINVAL;
  return 0;  // advice only: the page cache's own readahead decides
}
MYFS_EXPORT int posix_fadvise64(int fd, off_t off, off_t len, int advice) noexcept {
  return posix_fadvise(fd, off, len, advice);
}

MYFS_EXPORT int fallocate(int fd, int mode, off_t off, off_t len) {
  if (!isMyfsFd(fd)) return MYFS_REAL(fallocate)(fd, mode, off, len);
  if (off < 0 || len <= 0) return failWith(EINVAL);
  if (mode & ~FALLOC_FL_KEEP_SIZE) {
    logOnce("fallocate modes other than 0 and FALLOC_FL_KEEP_SIZE on myfs files are not supported: EOPNOTSUPP");
    return failWith(EOPNOTSUPP);
  }
  Guard g;
  return toInt(loadedVfs()->allocate(fd, static_cast<std::uint64_t>(off), static_cast<std::uint64_t>(len),
                                     (mode & FALLOC_FL_KEEP_SIZE) != 0));
}
MYFS_EXPORT int fallocate64(int fd, int mode, off_t off, off_t len) { return fallocate(fd, mode, off, len); }
MYFS_EXPORT int posix_fallocate(int fd, off_t off, off_t len) {
  if (!isMyfsFd(fd)) return MYFS_REAL(posix_fallocate)(fd, off, len);
  if (off < 0 || len <= 0) return EINVAL;
  Guard g;
  auto r = loadedVfs()->allocate(fd, static_cast<std::uint64_t>(off), static_cast<std::uint64_t>(len), false);
  return r.err();  // posix_fallocate returns the error number
}
MYFS_EXPORT int posix_fallocate64(int fd, off_t off, off_t len) { return posix_fallocate(fd, off, len); }

MYFS_EXPORT ssize_t copy_file_range(int in, off64_t* inOff, int out, off64_t* outOff, size_t len,
                                    unsigned flags) {
  if (!isMyfsFd(in) && !isMyfsFd(out)) return MYFS_REAL(copy_file_range)(in, inOff, out, outOff, len, flags);
  if (flags != 0) return failWith(EINVAL);
  return copyThrough(in, inOff, out, outOff, len);
}

MYFS_EXPORT ssize_t sendfile(int out, int in, off_t* off, size_t count) noexcept {
  if (!isMyfsFd(in) && !isMyfsFd(out)) return MYFS_REAL(sendfile)(out, in, off, count);
  return copyThrough(in, off, out, nullptr, count);
}
MYFS_EXPORT ssize_t sendfile64(int out, int in, off_t* off, size_t count) noexcept {
  return sendfile(out, in, off, count);
}

MYFS_EXPORT int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (!isMyfsFd(fd)) return MYFS_REAL(ioctl)(fd, request, arg);
  return failWith(ENOTTY);  // no device controls (FICLONE, FIONREAD, ...) on myfs files
}

// Private mappings (and read-only shared ones) of a myfs file are filled from the file
// at mapping time: what git and compilers need. A writable shared mapping would have to
// write back on msync/munmap: refused until then.
MYFS_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
  if (fd < 0 || (flags & MAP_ANONYMOUS) || !isMyfsFd(fd)) return MYFS_REAL(mmap)(addr, len, prot, flags, fd, off);
  const bool shared = (flags & MAP_SHARED) != 0;
  if (shared && (prot & PROT_WRITE)) {
    logOnce("writable shared mmap of myfs files is not supported yet: ENODEV");
    errno = ENODEV;
    return MAP_FAILED;
  }
  if (len == 0 || off < 0 || (off % sysconf(_SC_PAGESIZE)) != 0) {
    errno = EINVAL;
    return MAP_FAILED;
  }
  Guard g;
  Vfs* vfs = loadedVfs();
  auto flagsOf = vfs->getFlags(fd);
  if (!flagsOf) {
    errno = flagsOf.err();
    return MAP_FAILED;
  }
  if ((*flagsOf & O_ACCMODE) == O_WRONLY) {
    errno = EACCES;  // a mapping needs a readable fd
    return MAP_FAILED;
  }
  if (shared) logOnce("read-only shared mmap of a myfs file is a snapshot taken at mmap time");
  const int anonFlags = (flags & ~(MAP_SHARED | MAP_SHARED_VALIDATE)) | MAP_PRIVATE | MAP_ANONYMOUS;
  void* p = MYFS_REAL(mmap)(addr, len, PROT_READ | PROT_WRITE, anonFlags, -1, 0);
  if (p == MAP_FAILED) return p;
  size_t done = 0;
  while (done < len) {
    auto n = vfs->pread(fd, static_cast<char*>(p) + done, len - done, off + static_cast<off_t>(done));
    if (!n) {
      munmap(p, len);
      errno = n.err();
      return MAP_FAILED;
    }
    if (*n == 0) break;  // past the end of the file: zeros
    done += *n;
  }
  if (prot != (PROT_READ | PROT_WRITE) && mprotect(p, len, prot) != 0) {
    int err = errno;
    munmap(p, len);
    errno = err;
    return MAP_FAILED;
  }
  return p;
}
MYFS_EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
  return mmap(addr, len, prot, flags, fd, off);
}
