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

#include "preload/mmap_shared.h"
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
  sharedMapsAfterRead(fd, buf.data(), *r, positioned ? off : -1);
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
  auto r = positioned ? vfs->pwrite(fd, buf.data(), buf.size(), off) : vfs->write(fd, buf.data(), buf.size());
  if (r) sharedMapsAfterWrite(fd, buf.data(), *r, positioned ? off : -1);
  return toSsize(r);
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
  auto r = loadedVfs()->read(fd, buf, n);
  if (r) sharedMapsAfterRead(fd, buf, *r, -1);
  return toSsize(r);
}
MYFS_EXPORT ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (n > buflen) abort();
  return read(fd, buf, n);
}
MYFS_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  if (!isMyfsFd(fd)) return MYFS_REAL(write)(fd, buf, n);
  Guard g;
  auto r = loadedVfs()->write(fd, buf, n);
  if (r) sharedMapsAfterWrite(fd, buf, *r, -1);
  return toSsize(r);
}
MYFS_EXPORT ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  if (!isMyfsFd(fd)) return MYFS_REAL(pread)(fd, buf, n, off);
  Guard g;
  auto r = loadedVfs()->pread(fd, buf, n, off);
  if (r) sharedMapsAfterRead(fd, buf, *r, off);
  return toSsize(r);
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
  auto r = loadedVfs()->pwrite(fd, buf, n, off);
  if (r) sharedMapsAfterWrite(fd, buf, *r, off);
  return toSsize(r);
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
  if (int err = sharedMapsSyncFd(fd); err != 0) return failWith(err);
  return toInt(loadedVfs()->fsync(fd, false));
}
MYFS_EXPORT int fdatasync(int fd) {
  if (isShadow(fd)) {
    if (syncShadow(fd, false) != 0) return -1;
    return MYFS_REAL(fdatasync)(fd);
  }
  if (!isMyfsFd(fd)) return MYFS_REAL(fdatasync)(fd);
  Guard g;
  if (int err = sharedMapsSyncFd(fd); err != 0) return failWith(err);
  return toInt(loadedVfs()->fsync(fd, true));
}
MYFS_EXPORT int syncfs(int fd) noexcept {
  if (!isMyfsFd(fd)) return MYFS_REAL(syncfs)(fd);
  Guard g;
  if (int err = writeBackSharedMaps(); err != 0) return failWith(err);
  return toInt(loadedVfs()->syncAll());
}
MYFS_EXPORT int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags) {
  if (!isMyfsFd(fd)) return MYFS_REAL(sync_file_range)(fd, off, n, flags);
  if (off < 0 || n < 0) return failWith(EINVAL);
  Guard g;
  if (int err = sharedMapsSyncFd(fd); err != 0) return failWith(err);
  return toInt(loadedVfs()->fsync(fd, true));  // the whole file: a superset of the range
}
MYFS_EXPORT void sync() noexcept {
  if (Vfs* vfs = loadedVfs(); vfs && !inShim()) {
    Guard g;
    (void)writeBackSharedMaps();
    (void)vfs->syncAll();
  }
  MYFS_REAL(sync)();
}

MYFS_EXPORT int ftruncate(int fd, off_t size) noexcept {
  if (!isMyfsFd(fd)) return MYFS_REAL(ftruncate)(fd, size);
  Guard g;
  auto r = loadedVfs()->ftruncate(fd, size);
  if (r) sharedMapsAfterResize(fd, size);
  return toInt(r);
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
  auto r = loadedVfs()->allocate(fd, static_cast<std::uint64_t>(off), static_cast<std::uint64_t>(len),
                                 (mode & FALLOC_FL_KEEP_SIZE) != 0);
  if (r && !(mode & FALLOC_FL_KEEP_SIZE)) sharedMapsAfterResize(fd, -1);
  return toInt(r);
}
MYFS_EXPORT int fallocate64(int fd, int mode, off_t off, off_t len) { return fallocate(fd, mode, off, len); }
MYFS_EXPORT int posix_fallocate(int fd, off_t off, off_t len) {
  if (!isMyfsFd(fd)) return MYFS_REAL(posix_fallocate)(fd, off, len);
  if (off < 0 || len <= 0) return EINVAL;
  Guard g;
  auto r = loadedVfs()->allocate(fd, static_cast<std::uint64_t>(off), static_cast<std::uint64_t>(len), false);
  if (r) sharedMapsAfterResize(fd, -1);
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

// Shared mappings of a myfs file (writable or not) map the inode's page memfd and are
// written back on msync, munmap, fsync and exit (mmap_shared.h says exactly what is
// guaranteed). Private mappings are filled from the file at mapping time (from the page
// memfd when the inode is mapped shared in this process): what git and compilers need.
MYFS_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
  if (fd < 0 || (flags & MAP_ANONYMOUS) || !isMyfsFd(fd)) {
    void* p = MYFS_REAL(mmap)(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED && (flags & MAP_FIXED)) sharedMapsReplaced(p, len);
    return p;
  }
  const int type = flags & MAP_TYPE;
  if (len == 0 || off < 0 || (off % sysconf(_SC_PAGESIZE)) != 0 ||
      (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)) {
    errno = EINVAL;
    return MAP_FAILED;
  }
  const bool shared = type != MAP_PRIVATE;
  {
    Guard g;
    auto flagsOf = loadedVfs()->getFlags(fd);
    if (!flagsOf) {
      errno = flagsOf.err();
      return MAP_FAILED;
    }
    if (*flagsOf & O_PATH) {
      errno = EBADF;
      return MAP_FAILED;
    }
    const int acc = *flagsOf & O_ACCMODE;
    if (acc == O_WRONLY || (shared && (prot & PROT_WRITE) && acc != O_RDWR)) {
      errno = EACCES;  // a mapping needs a readable fd, a writable shared one a read-write fd
      return MAP_FAILED;
    }
  }
  bool handled = false;
  void* mapped = mapThroughMemfd(addr, len, prot, flags, fd, off, &handled);
  if (handled) return mapped;
  void* p = MYFS_REAL(mmap)(addr, len, PROT_READ | PROT_WRITE, (flags & ~MAP_TYPE) | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return p;
  int err = 0;
  {
    Guard g;
    Vfs* vfs = loadedVfs();
    size_t done = 0;
    while (done < len && err == 0) {
      auto n = vfs->pread(fd, static_cast<char*>(p) + done, len - done, off + static_cast<off_t>(done));
      if (!n) err = n.err();
      else if (*n == 0) break;  // past the end of the file: zeros
      else done += *n;
    }
    if (err == 0 && prot != (PROT_READ | PROT_WRITE) && mprotect(p, len, prot) != 0) err = errno;
  }
  if (err != 0) {
    MYFS_REAL(munmap)(p, len);
    errno = err;
    return MAP_FAILED;
  }
  if (flags & MAP_FIXED) sharedMapsReplaced(p, len);
  return p;
}
MYFS_EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
  return mmap(addr, len, prot, flags, fd, off);
}
