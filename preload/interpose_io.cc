// Data calls on fds: read/write in every form, seek, sync, truncate, copy helpers.
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <vector>

#include "preload/mmap_shared.h"
#include "preload/shadow.h"
#include "preload/shim.h"
#include "preload/user_memory.h"

namespace myfs::preload {
namespace {

ssize_t toSsize(const Result<size_t>& r) {
  if (!r) return failWith(r.err());
  return static_cast<ssize_t>(*r);
}

// The most one call transfers (the kernel's MAX_RW_COUNT).
constexpr size_t kMaxRwCount = 0x7ffff000;
// O_DIRECT's alignment of buffers and lengths (the Vfs checks it on the gathered buffer).
constexpr std::uintptr_t kDirectIoAlign = 512;

// One vectored call's data gathered in one buffer, as the kernel takes the iovecs: an
// iov_len over SSIZE_MAX is EINVAL, the total is cut at kMaxRwCount. The buffer is
// aligned for O_DIRECT when every iovec is, and misaligned when one is not, so that the
// Vfs answers as it does for a plain read or write.
class Gathered {
 public:
  int init(const iovec* iov, int cnt) {
    if (cnt < 0 || cnt > IOV_MAX) return EINVAL;
    bool misaligned = false;
    for (int i = 0; i < cnt; ++i) {
      if (iov[i].iov_len > static_cast<size_t>(SSIZE_MAX)) return EINVAL;
      total_ = std::min(kMaxRwCount, total_ + std::min(iov[i].iov_len, kMaxRwCount));
      if ((reinterpret_cast<std::uintptr_t>(iov[i].iov_base) | iov[i].iov_len) & (kDirectIoAlign - 1)) misaligned = true;
    }
    storage_.resize(total_ + kDirectIoAlign);
    const auto base = reinterpret_cast<std::uintptr_t>(storage_.data());
    data_ = storage_.data() + ((kDirectIoAlign - base % kDirectIoAlign) % kDirectIoAlign) + (misaligned ? 1 : 0);
    return 0;
  }
  char* data() { return data_; }
  size_t size() const { return total_; }

 private:
  std::vector<char> storage_;
  char* data_ = nullptr;
  size_t total_ = 0;
};

// Gathers iovecs for one vectored call (myfs transfers are whole buffers).
ssize_t readvMyfs(int fd, const iovec* iov, int cnt, off_t off, bool positioned) {
  Gathered buf;
  if (int err = buf.init(iov, cnt); err != 0) return failWith(err);
  Guard g;
  Vfs* vfs = loadedVfs();
  const size_t total = buf.size();
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
  Gathered buf;
  if (int err = buf.init(iov, cnt); err != 0) return failWith(err);
  Guard g;
  Vfs* vfs = loadedVfs();
  size_t pos = 0;
  for (int i = 0; i < cnt && pos < buf.size(); ++i) {
    const size_t n = std::min(iov[i].iov_len, buf.size() - pos);
    if (n > 0) std::memcpy(buf.data() + pos, iov[i].iov_base, n);
    pos += n;
  }
  auto r = positioned ? vfs->pwrite(fd, buf.data(), buf.size(), off) : vfs->write(fd, buf.data(), buf.size());
  if (r) sharedMapsAfterWrite(fd, buf.data(), *r, positioned ? off : -1);
  return toSsize(r);
}

// One end of a copy (copy_file_range, sendfile) as the kernel sees its file.
struct CopyEnd {
  bool myfs = false;
  int flags = 0;  // status flags (F_GETFL)
  mode_t mode = 0;
  dev_t dev = 0;
  ino_t ino = 0;
  std::uint64_t size = 0;
  bool readable() const { return (flags & O_ACCMODE) != O_WRONLY; }
  bool writable() const { return (flags & O_ACCMODE) != O_RDONLY; }
};

// Describes fd: 0, or EBADF when it is not an open fd (an O_PATH fd is not one for these
// calls).
int describeEnd(int fd, CopyEnd* e) {
  if (isMyfsFd(fd)) {
    Guard g;
    Vfs* vfs = loadedVfs();
    auto flags = vfs->getFlags(fd);
    if (!flags || (*flags & O_PATH)) return EBADF;
    auto attr = vfs->fstat(fd);
    if (!attr) return attr.err();
    e->myfs = true;
    e->flags = *flags;
    e->mode = attr->mode;
    e->dev = kMyfsDev;
    e->ino = attr->ino;
    e->size = attr->size;
    return 0;
  }
  const int flags = MYFS_REAL(fcntl)(fd, F_GETFL);
  if (flags < 0 || (flags & O_PATH)) return EBADF;
  struct stat st;
  if (MYFS_REAL(fstat)(fd, &st) != 0) return errno;
  e->flags = flags;
  e->mode = st.st_mode;
  e->dev = st.st_dev;
  e->ino = st.st_ino;
  e->size = static_cast<std::uint64_t>(st.st_size);
  return 0;
}

// generic_write_check_limits for a copy of *count bytes to position pos of a myfs file:
// 0, or EFBIG (SIGXFSZ raised at RLIMIT_FSIZE); *count shortened to the limit.
int copyWriteLimits(std::uint64_t pos, std::uint64_t* count) {
  struct rlimit rl {};
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    if (pos >= rl.rlim_cur) {
      raise(SIGXFSZ);
      return EFBIG;
    }
    *count = std::min<std::uint64_t>(*count, rl.rlim_cur - pos);
  }
  if (pos >= kMaxFileSize) return EFBIG;
  *count = std::min<std::uint64_t>(*count, kMaxFileSize - pos);
  return 0;
}

// Copies `len` bytes from in (at *inPos, or its offset when inPos is null) to out (at
// *outPos, or its offset), through a buffer and the interposed calls, as far as out takes
// them: a short or failing write ends the copy, and in's offset then covers only what was
// written. `nonblockingPipe`: out is a pipe that must not block (RWF_NOWAIT). Returns the
// bytes copied, or -1 with errno when nothing was.
ssize_t copyThrough(int in, std::uint64_t* inPos, int out, std::uint64_t* outPos, size_t len, bool nonblockingPipe) {
  std::vector<char> storage(std::min<size_t>(len, 1 << 20) + 4096);
  char* buf = storage.data() + (4096 - reinterpret_cast<std::uintptr_t>(storage.data()) % 4096) % 4096;
  const size_t bufSize = storage.size() - 4096;
  size_t done = 0;
  int err = 0;
  while (done < len) {
    const size_t want = std::min(bufSize, len - done);
    ssize_t got = inPos ? ::pread(in, buf, want, static_cast<off_t>(*inPos)) : ::read(in, buf, want);
    if (got < 0) {
      err = errno;
      break;
    }
    if (got == 0) break;
    ssize_t put = 0;
    while (put < got) {
      ssize_t w;
      if (nonblockingPipe) {
        iovec v{buf + put, static_cast<size_t>(got - put)};
        w = MYFS_REAL(pwritev2)(out, &v, 1, -1, RWF_NOWAIT);
      } else if (outPos) {
        w = ::pwrite(out, buf + put, static_cast<size_t>(got - put), static_cast<off_t>(*outPos + put));
      } else {
        w = ::write(out, buf + put, static_cast<size_t>(got - put));
      }
      if (w <= 0) {
        err = w < 0 ? errno : EIO;
        break;
      }
      put += w;
    }
    if (inPos) *inPos += static_cast<std::uint64_t>(put);
    else if (put < got) (void)::lseek(in, put - got, SEEK_CUR);  // give back what out did not take
    if (outPos) *outPos += static_cast<std::uint64_t>(put);
    done += static_cast<size_t>(put);
    if (put < got) break;
  }
  if (done == 0 && err != 0) return failWith(err);
  return static_cast<ssize_t>(done);
}

// copy_file_range(2) with a myfs end, checked as vfs_copy_file_range does: both ends
// regular files of the same file system (a myfs file and another is EXDEV, as between any
// two file systems), fd_out not O_APPEND, no overlap within one file.
ssize_t copyFileRangeMyfs(int in, off64_t* inOff, int out, off64_t* outOff, size_t len, unsigned flags) {
  CopyEnd a, b;
  if (int err = describeEnd(in, &a); err != 0) return failWith(err);
  if (int err = describeEnd(out, &b); err != 0) return failWith(err);
  if (flags != 0) return failWith(EINVAL);
  if (S_ISDIR(a.mode) || S_ISDIR(b.mode)) return failWith(EISDIR);
  if (!S_ISREG(a.mode) || !S_ISREG(b.mode)) return failWith(EINVAL);
  if (!a.readable() || !b.writable() || (b.flags & O_APPEND)) return failWith(EBADF);
  if (!a.myfs || !b.myfs) return failWith(EXDEV);
  std::uint64_t posIn = 0, posOut = 0;
  if (inOff) {
    posIn = static_cast<std::uint64_t>(*inOff);
  } else {
    off_t cur = ::lseek(in, 0, SEEK_CUR);
    if (cur < 0) return -1;
    posIn = static_cast<std::uint64_t>(cur);
  }
  if (outOff) {
    posOut = static_cast<std::uint64_t>(*outOff);
  } else {
    off_t cur = ::lseek(out, 0, SEEK_CUR);
    if (cur < 0) return -1;
    posOut = static_cast<std::uint64_t>(cur);
  }
  if (posIn + len < posIn || posOut + len < posOut) return failWith(EOVERFLOW);
  std::uint64_t count = posIn >= a.size ? 0 : std::min<std::uint64_t>(len, a.size - posIn);
  if (int err = copyWriteLimits(posOut, &count); err != 0) return failWith(err);
  if (a.ino == b.ino && posOut + count > posIn && posOut < posIn + count) return failWith(EINVAL);
  // rw_verify_area of both ranges.
  for (std::uint64_t pos : {posIn, posOut}) {
    if (pos > static_cast<std::uint64_t>(INT64_MAX) || len > static_cast<std::uint64_t>(INT64_MAX) - pos) {
      return failWith(EINVAL);
    }
  }
  if (count == 0) return 0;
  std::uint64_t from = posIn, to = posOut;
  ssize_t done = copyThrough(in, &from, out, &to, static_cast<size_t>(count), false);
  if (done <= 0) return done;
  if (inOff) *inOff = static_cast<off64_t>(from);
  else (void)::lseek(in, static_cast<off_t>(from), SEEK_SET);
  if (outOff) *outOff = static_cast<off64_t>(to);
  else (void)::lseek(out, static_cast<off_t>(to), SEEK_SET);
  return done;
}

// sendfile(2) with a myfs end, checked as do_sendfile and the splice it runs do: in_fd
// readable (with an offset, seekable: ESPIPE), its range valid (EINVAL), out_fd writable;
// in_fd must be splice-readable (a pipe or a directory is EINVAL); a file out_fd must not
// be O_APPEND (EINVAL); a non-blocking pipe out_fd takes what fits, then EAGAIN.
ssize_t sendfileMyfs(int out, int in, off_t* off, size_t count) {
  CopyEnd a, b;
  if (int err = describeEnd(in, &a); err != 0) return failWith(err);
  if (!a.readable()) return failWith(EBADF);
  const bool inSeekable = !S_ISFIFO(a.mode) && !S_ISSOCK(a.mode);
  std::uint64_t pos = 0;
  if (off) {
    if (!inSeekable) return failWith(ESPIPE);
    pos = static_cast<std::uint64_t>(*off);
  } else if (inSeekable) {
    off_t cur = ::lseek(in, 0, SEEK_CUR);
    if (cur < 0) return -1;
    pos = static_cast<std::uint64_t>(cur);
  }
  if (count > static_cast<size_t>(SSIZE_MAX) || pos > static_cast<std::uint64_t>(INT64_MAX) ||
      count > static_cast<std::uint64_t>(INT64_MAX) - pos) {
    return failWith(EINVAL);
  }
  count = std::min(count, kMaxRwCount);
  if (int err = describeEnd(out, &b); err != 0) return failWith(err);
  if (!b.writable()) return failWith(EBADF);
  if (pos + count > kMaxFileSize) {
    if (pos >= kMaxFileSize) return failWith(EOVERFLOW);
    count = static_cast<size_t>(kMaxFileSize - pos);
  }
  const bool outPipe = S_ISFIFO(b.mode);
  if (!outPipe && (b.flags & O_APPEND)) return failWith(EINVAL);
  if (S_ISDIR(a.mode) || S_ISFIFO(a.mode)) return failWith(EINVAL);  // no splice_read
  if (count == 0) return 0;
  const bool regularIn = S_ISREG(a.mode) || S_ISBLK(a.mode);
  std::uint64_t from = pos;
  ssize_t done = copyThrough(in, regularIn ? &from : nullptr, out, nullptr, count, outPipe && (b.flags & O_NONBLOCK));
  if (done <= 0 || !regularIn) return done;
  if (off) *off = static_cast<off_t>(from);
  else (void)::lseek(in, static_cast<off_t>(from), SEEK_SET);
  return done;
}

}  // namespace
}  // namespace myfs::preload

using namespace myfs;           // NOLINT
using namespace myfs::preload;  // NOLINT

MYFS_EXPORT ssize_t read(int fd, void* buf, size_t n) {
  if (!isMyfsFd(fd)) return MYFS_REAL(read)(fd, buf, n);
  if (n > 0 && badUserAddress(buf)) return failWith(EFAULT);
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
  if (n > 0 && badUserAddress(buf)) return failWith(EFAULT);
  Guard g;
  auto r = loadedVfs()->write(fd, buf, n);
  if (r) sharedMapsAfterWrite(fd, buf, *r, -1);
  return toSsize(r);
}
MYFS_EXPORT ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  if (!isMyfsFd(fd)) return MYFS_REAL(pread)(fd, buf, n, off);
  if (n > 0 && badUserAddress(buf)) return failWith(EFAULT);
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
  if (n > 0 && badUserAddress(buf)) return failWith(EFAULT);
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
  constexpr unsigned kValid = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
  Guard g;
  auto status = loadedVfs()->getFlags(fd);
  if (!status || (*status & O_PATH)) return failWith(EBADF);
  if ((flags & ~kValid) || off < 0 || n < 0 || n > INT64_MAX - off) return failWith(EINVAL);
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
  Guard g;
  Vfs* vfs = loadedVfs();
  auto r = vfs->fallocate(fd, mode, static_cast<std::uint64_t>(off), static_cast<std::uint64_t>(len));
  const int kind = mode & ~FALLOC_FL_KEEP_SIZE;
  if (!r) {
    if (r.err() == EOPNOTSUPP && (kind == FALLOC_FL_COLLAPSE_RANGE || kind == FALLOC_FL_INSERT_RANGE)) {
      logOnce("fallocate COLLAPSE_RANGE and INSERT_RANGE on myfs files are not supported: EOPNOTSUPP");
    }
    return failWith(r.err());
  }
  if ((kind == FALLOC_FL_PUNCH_HOLE || kind == FALLOC_FL_ZERO_RANGE) && sharedMapsExist()) {
    // The mappings see the zeros (not through an O_APPEND fd: the mappings take its
    // writes as appends).
    auto flags = vfs->getFlags(fd);
    auto attr = vfs->fstat(fd);
    if (flags && attr && !(*flags & O_APPEND)) {
      static const std::vector<char> zeros(1 << 16, '\0');
      const std::uint64_t end = std::min<std::uint64_t>(attr->size, static_cast<std::uint64_t>(off) + len);
      for (std::uint64_t at = static_cast<std::uint64_t>(off); at < end;) {
        const size_t n = static_cast<size_t>(std::min<std::uint64_t>(zeros.size(), end - at));
        sharedMapsAfterWrite(fd, zeros.data(), n, static_cast<off_t>(at));
        at += n;
      }
    }
  }
  if (!(mode & FALLOC_FL_KEEP_SIZE)) sharedMapsAfterResize(fd, -1);
  return 0;
}
MYFS_EXPORT int fallocate64(int fd, int mode, off_t off, off_t len) { return fallocate(fd, mode, off, len); }
MYFS_EXPORT int posix_fallocate(int fd, off_t off, off_t len) {
  if (!isMyfsFd(fd)) return MYFS_REAL(posix_fallocate)(fd, off, len);
  if (off < 0 || len <= 0) return EINVAL;
  Guard g;
  auto r = loadedVfs()->fallocate(fd, 0, static_cast<std::uint64_t>(off), static_cast<std::uint64_t>(len));
  if (r) sharedMapsAfterResize(fd, -1);
  return r.err();  // posix_fallocate returns the error number
}
MYFS_EXPORT int posix_fallocate64(int fd, off_t off, off_t len) { return posix_fallocate(fd, off, len); }

MYFS_EXPORT ssize_t copy_file_range(int in, off64_t* inOff, int out, off64_t* outOff, size_t len,
                                    unsigned flags) {
  if (!isMyfsFd(in) && !isMyfsFd(out)) return MYFS_REAL(copy_file_range)(in, inOff, out, outOff, len, flags);
  return copyFileRangeMyfs(in, inOff, out, outOff, len, flags);
}

MYFS_EXPORT ssize_t sendfile(int out, int in, off_t* off, size_t count) noexcept {
  if (!isMyfsFd(in) && !isMyfsFd(out)) return MYFS_REAL(sendfile)(out, in, off, count);
  return sendfileMyfs(out, in, off, count);
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
    // Whole pages (the mapping's last page shows the file past len, as the kernel maps
    // it), which also keeps the reads of an O_DIRECT fd aligned.
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t whole = (len + page - 1) / page * page;
    while (done < whole && err == 0) {
      auto n = vfs->pread(fd, static_cast<char*>(p) + done, whole - done, off + static_cast<off_t>(done));
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
