// The client's own fds (event loops, sockets) live at high numbers, out of the way of
// applications that manage low fds themselves (shells dup2 onto 3..9, daemons close all
// inherited fds). Creations on the client's threads, and on application threads while
// they run client code that makes connections, are moved up; a close() of one by the
// application is refused silently (it never opened it).
#include <linux/close_range.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>

#include "preload/shim.h"

namespace myfs::preload {
namespace {

__attribute__((tls_model("initial-exec"))) thread_local bool tlsInternal = false;  // see tlsDepth
constexpr int kMaxTracked = 1 << 16;
std::atomic<bool> gInternal[kMaxTracked];
std::atomic<int> gHighestInternal{-1};

// Moves fd to a high number (close-on-exec) and records it.
int relocate(int fd) {
  if (fd < 0 || !tlsInternal) return fd;
  static const int floor = [] {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 256) return 64;
    rlim_t f = rl.rlim_cur - 160;
    return static_cast<int>(f > 4000 ? 4000 : f);
  }();
  int high = MYFS_REAL(fcntl)(fd, F_DUPFD_CLOEXEC, floor);
  if (high < 0) high = fd;  // no room up there: keep it where it is
  else MYFS_REAL(close)(fd);
  if (high < kMaxTracked) {
    gInternal[high].store(true, std::memory_order_relaxed);
    int seen = gHighestInternal.load(std::memory_order_relaxed);
    while (seen < high && !gHighestInternal.compare_exchange_weak(seen, high)) {
    }
  }
  return high;
}

}  // namespace

void enterInternalThread() { tlsInternal = true; }
void internalScope(bool inside) { tlsInternal = inside; }

bool isInternalFd(int fd) {
  return fd >= 0 && fd < kMaxTracked && !tlsInternal && gInternal[fd].load(std::memory_order_relaxed);
}

void forgetInternalFd(int fd) {
  if (fd >= 0 && fd < kMaxTracked) gInternal[fd].store(false, std::memory_order_relaxed);
}

int relocateIfInternal(int fd) { return relocate(fd); }

int keepInternal(int fd) {
  const bool was = tlsInternal;
  tlsInternal = true;
  fd = relocate(fd);
  tlsInternal = was;
  return fd;
}

void closeParentConnectionsInChild() {
  const int highest = gHighestInternal.load(std::memory_order_relaxed);
  for (int fd = 0; fd <= highest && fd < kMaxTracked; ++fd) {
    if (!gInternal[fd].load(std::memory_order_relaxed)) continue;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;  // event loop fds stay
    MYFS_REAL(close)(fd);
    gInternal[fd].store(false, std::memory_order_relaxed);
  }
}

}  // namespace myfs::preload

using namespace myfs::preload;  // NOLINT

MYFS_EXPORT int epoll_create(int size) noexcept { return relocate(MYFS_REAL(epoll_create)(size)); }
MYFS_EXPORT int epoll_create1(int flags) noexcept { return relocate(MYFS_REAL(epoll_create1)(flags)); }
MYFS_EXPORT int eventfd(unsigned int count, int flags) noexcept { return relocate(MYFS_REAL(eventfd)(count, flags)); }
MYFS_EXPORT int signalfd(int fd, const sigset_t* mask, int flags) noexcept {
  return fd >= 0 ? MYFS_REAL(signalfd)(fd, mask, flags) : relocate(MYFS_REAL(signalfd)(fd, mask, flags));
}
MYFS_EXPORT int timerfd_create(int clock, int flags) noexcept { return relocate(MYFS_REAL(timerfd_create)(clock, flags)); }
MYFS_EXPORT int socket(int domain, int type, int protocol) noexcept {
  return relocate(MYFS_REAL(socket)(domain, type, protocol));
}

namespace myfs::preload {
namespace {

// close_range(2) that spares the client's own fds and releases the myfs fds it closes.
int closeRangeSparing(unsigned first, unsigned last, int flags) {
  Vfs* vfs = loadedVfs();
  const bool justCloexec = (flags & CLOSE_RANGE_CLOEXEC) != 0;
  unsigned from = first;
  const unsigned end = last < static_cast<unsigned>(kMaxTracked) ? last : static_cast<unsigned>(kMaxTracked) - 1;
  for (unsigned fd = first; fd <= end && fd >= first; ++fd) {
    const int f = static_cast<int>(fd);
    if (!justCloexec && vfs != nullptr && !inVforkChild() && vfs->isOpen(f)) {
      Guard g;
      (void)vfs->close(f);  // its placeholder goes with the range below
    }
    if (justCloexec || !gInternal[fd].load(std::memory_order_relaxed)) continue;
    if (fd > from && MYFS_REAL(close_range)(from, fd - 1, flags) != 0) return -1;
    from = fd + 1;
  }
  if (from > last || from < first) return 0;
  return MYFS_REAL(close_range)(from, last, flags);
}

}  // namespace
}  // namespace myfs::preload

MYFS_EXPORT int close_range(unsigned int first, unsigned int last, int flags) noexcept {
  if (loadedVfs() == nullptr || first > last) return MYFS_REAL(close_range)(first, last, flags);
  return closeRangeSparing(first, last, flags);
}

MYFS_EXPORT void closefrom(int lowfd) noexcept {
  if (loadedVfs() == nullptr || lowfd < 0) return MYFS_REAL(closefrom)(lowfd);
  (void)closeRangeSparing(static_cast<unsigned>(lowfd), ~0u, 0);
}
