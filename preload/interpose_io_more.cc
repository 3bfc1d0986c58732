// Data calls beyond read/write: preadv2/pwritev2 with their RWF_ flags, and splice with
// one end in myfs (the other must be a pipe, as for the kernel).
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "preload/shim.h"

using namespace myfs;           // NOLINT
using namespace myfs::preload;  // NOLINT

namespace {

constexpr int kKnownRwf = RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND;
constexpr size_t kSpliceChunk = 1 << 20;

// RWF_NOWAIT asks for data already cached: like file systems without that support,
// refused (callers then read normally).
int checkRwf(int flags) {
  if (flags & ~kKnownRwf) return EOPNOTSUPP;
  if (flags & RWF_NOWAIT) return EOPNOTSUPP;
  return 0;
}

bool isPipe(int fd) {
  struct stat st;
  return MYFS_REAL(fstat)(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

}  // namespace

MYFS_EXPORT ssize_t preadv2(int fd, const struct iovec* iov, int cnt, off_t off, int flags) {
  if (!isMyfsFd(fd)) return MYFS_REAL(preadv2)(fd, iov, cnt, off, flags);
  if (int err = checkRwf(flags & ~(RWF_DSYNC | RWF_SYNC | RWF_APPEND)); err != 0) return failWith(err);
  return off == -1 ? readv(fd, iov, cnt) : preadv(fd, iov, cnt, off);
}
MYFS_EXPORT ssize_t preadv64v2(int fd, const struct iovec* iov, int cnt, off_t off, int flags) {
  return preadv2(fd, iov, cnt, off, flags);
}

MYFS_EXPORT ssize_t pwritev2(int fd, const struct iovec* iov, int cnt, off_t off, int flags) {
  if (!isMyfsFd(fd)) return MYFS_REAL(pwritev2)(fd, iov, cnt, off, flags);
  if (int err = checkRwf(flags); err != 0) return failWith(err);
  ssize_t n;
  if (flags & RWF_APPEND) {
    // Appends whatever the offset; with -1 the file offset moves past the data.
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    n = pwritev(fd, iov, cnt, st.st_size);
    if (n >= 0 && off == -1) lseek(fd, st.st_size + n, SEEK_SET);
  } else {
    n = off == -1 ? writev(fd, iov, cnt) : pwritev(fd, iov, cnt, off);
  }
  if (n > 0 && (flags & (RWF_DSYNC | RWF_SYNC)) && fdatasync(fd) != 0) return -1;
  return n;
}
MYFS_EXPORT ssize_t pwritev64v2(int fd, const struct iovec* iov, int cnt, off_t off, int flags) {
  return pwritev2(fd, iov, cnt, off, flags);
}

MYFS_EXPORT ssize_t splice(int in, loff_t* offIn, int out, loff_t* offOut, size_t len, unsigned flags) {
  const bool fromMyfs = isMyfsFd(in);
  const bool toMyfs = isMyfsFd(out);
  if (!fromMyfs && !toMyfs) return MYFS_REAL(splice)(in, offIn, out, offOut, len, flags);
  if (fromMyfs == toMyfs) return failWith(EINVAL);  // one end must be a pipe
  if (!isPipe(fromMyfs ? out : in)) return failWith(EINVAL);
  if ((fromMyfs && offOut != nullptr) || (toMyfs && offIn != nullptr)) return failWith(ESPIPE);
  // do_splice: EBADF for ends not open for reading/writing, EINVAL for an O_APPEND file;
  // SPLICE_F_NONBLOCK (or the pipe's O_NONBLOCK): EAGAIN instead of waiting on the pipe.
  int fileFlags, pipeFlags = MYFS_REAL(fcntl)(fromMyfs ? out : in, F_GETFL);
  {
    Guard g;
    auto r = loadedVfs()->getFlags(fromMyfs ? in : out);
    if (!r) return failWith(r.err());
    fileFlags = *r;
  }
  const int fileAcc = fileFlags & O_ACCMODE, pipeAcc = pipeFlags & O_ACCMODE;
  if ((fileFlags & O_PATH) || (fromMyfs ? (fileAcc == O_WRONLY || pipeAcc == O_RDONLY)
                                        : (fileAcc == O_RDONLY || pipeAcc == O_WRONLY))) {
    return failWith(EBADF);
  }
  if (toMyfs && (fileFlags & O_APPEND)) return failWith(EINVAL);
  const bool nonblock = (flags & SPLICE_F_NONBLOCK) || (pipeFlags & O_NONBLOCK);
  std::vector<char> buf(std::min(len, kSpliceChunk));
  if (buf.empty()) return 0;
  if (fromMyfs) {
    if (nonblock) {
      // A full pipe: EAGAIN before reading the file.
      struct pollfd p {out, POLLOUT, 0};
      if (::poll(&p, 1, 0) == 0) return failWith(EAGAIN);
    }
    ssize_t got = offIn != nullptr ? pread(in, buf.data(), buf.size(), *offIn) : read(in, buf.data(), buf.size());
    if (got <= 0) return got;
    ssize_t put;
    if (nonblock) {
      iovec v{buf.data(), static_cast<size_t>(got)};
      put = MYFS_REAL(pwritev2)(out, &v, 1, -1, RWF_NOWAIT);
    } else {
      put = MYFS_REAL(write)(out, buf.data(), static_cast<size_t>(got));
    }
    if (put < 0) put = 0;
    if (offIn != nullptr) {
      *offIn += put;
    } else if (put < got) {
      lseek(in, put - got, SEEK_CUR);  // give back what the pipe did not take
    }
    return put > 0 ? put : (got > 0 ? failWith(EAGAIN) : 0);
  }
  ssize_t got;
  if (nonblock) {
    iovec v{buf.data(), buf.size()};
    got = MYFS_REAL(preadv2)(in, &v, 1, -1, RWF_NOWAIT);  // empty pipe: EAGAIN (0 without writers)
  } else {
    got = MYFS_REAL(read)(in, buf.data(), buf.size());
  }
  if (got <= 0) return got;
  ssize_t put = offOut != nullptr ? pwrite(out, buf.data(), static_cast<size_t>(got), *offOut)
                                  : write(out, buf.data(), static_cast<size_t>(got));
  if (put > 0 && offOut != nullptr) *offOut += put;
  return put;
}
