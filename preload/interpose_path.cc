// Calls that act on names: mkdir, rmdir, unlink, rename, link, symlink, readlink,
// truncate, chmod, chown, utimes, mknod, remove, realpath.
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

#include "preload/empty_path.h"
#include "preload/shim.h"
#include "preload/user_memory.h"

namespace myfs::preload {
namespace {

// Runs op on a routed path; an escape reruns `kernel` with the real path.
template <typename Op, typename Kernel>
int onPath(Op op, Kernel kernel) {
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  Result<void> res;
  {
    Guard g;
    res = op(*vfs);
  }
  if (!res && isEscape(res.err())) {
    std::string real = loadedVfs()->takeEscapedPath();
    return kernel(real.c_str());
  }
  return toInt(res);
}

int mkdirAt(int dirfd, const char* path, mode_t mode) {
  Routed r = route(dirfd, path);
  if (!r.myfs) return MYFS_REAL(mkdirat)(dirfd, path, mode);
  const mode_t mask = currentUmask();
  return onPath(
      [&](Vfs& v) { return v.mkdir(r.at, r.rel, mode & ~mask & 07777); },
      [&](const char* p) { return MYFS_REAL(mkdirat)(AT_FDCWD, p, mode); });
}

int unlinkAt(int dirfd, const char* path, int flags) {
  Routed r = route(dirfd, path);
  if (!r.myfs) return MYFS_REAL(unlinkat)(dirfd, path, flags);
  if (flags & ~AT_REMOVEDIR) return failWith(EINVAL);
  return onPath(
      [&](Vfs& v) { return (flags & AT_REMOVEDIR) ? v.rmdir(r.at, r.rel) : v.unlink(r.at, r.rel); },
      [&](const char* p) { return MYFS_REAL(unlinkat)(AT_FDCWD, p, flags); });
}

// A two-name call (rename, link) with one name inside myfs and the other outside: the
// kernel's answer, in its order: each name read (EFAULT, "" ENOENT), each dirfd checked
// (EBADF), and only then EXDEV, as between any two file systems.
int acrossMount(int oldDir, const char* oldPath, int newDir, const char* newPath) {
  const char* paths[2] = {oldPath, newPath};
  const int dirs[2] = {oldDir, newDir};
  for (const char* p : paths) {
    if (badUserAddress(p)) return failWith(EFAULT);
    if (p[0] == '\0') return failWith(ENOENT);
  }
  for (int i = 0; i < 2; ++i) {
    if (paths[i][0] != '/' && dirs[i] != AT_FDCWD && !isMyfsFd(dirs[i]) &&
        MYFS_REAL(fcntl)(dirs[i], F_GETFD) < 0) {
      return failWith(EBADF);
    }
  }
  return failWith(EXDEV);
}

int renameAt(int oldDir, const char* oldPath, int newDir, const char* newPath, unsigned flags) {
  Routed from = route(oldDir, oldPath);
  Routed to = route(newDir, newPath);
  if (!from.myfs && !to.myfs) return MYFS_REAL(renameat2)(oldDir, oldPath, newDir, newPath, flags);
  if (from.myfs != to.myfs) return acrossMount(oldDir, oldPath, newDir, newPath);
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  Guard g;
  auto res = vfs->rename(from.at, from.rel, to.at, to.rel, flags);
  if (!res && isEscape(res.err())) return failWith(EXDEV);
  if (res) followRenamedCwd(lexicalMyfsDirectory(from), lexicalMyfsDirectory(to), (flags & RENAME_EXCHANGE) != 0);
  return toInt(res);
}

// N when path is "/proc/self/fd/N" (or /proc/<own pid>/fd/N) and N is a myfs fd; else -1.
int procSelfFd(const char* path) {
  if (path == nullptr || badUserAddress(path)) return -1;
  std::string_view p(path);
  std::string own = "/proc/" + std::to_string(getpid()) + "/fd/";
  std::string_view rest;
  if (p.starts_with("/proc/self/fd/")) {
    rest = p.substr(14);
  } else if (p.starts_with(own)) {
    rest = p.substr(own.size());
  } else {
    return -1;
  }
  if (rest.empty() || rest.size() > 9 || rest.find_first_not_of("0123456789") != std::string_view::npos) return -1;
  const int fd = std::stoi(std::string(rest));
  return isMyfsFd(fd) ? fd : -1;
}

int linkAt(int oldDir, const char* oldPath, int newDir, const char* newPath, int flags) {
  // linkat(fd, "", AT_EMPTY_PATH) links the open file itself.
  // Without CAP_DAC_READ_SEARCH (taken as: not root) Linux ignores AT_EMPTY_PATH here.
  const bool self = (flags & AT_EMPTY_PATH) && isEmptyString(oldPath) && geteuid() == 0;
  // linkat(AT_FDCWD, "/proc/self/fd/N", ..., AT_SYMLINK_FOLLOW) of a myfs fd: how programs
  // without privileges give an O_TMPFILE file its name.
  const int procFd = (flags & AT_SYMLINK_FOLLOW) && !self ? procSelfFd(oldPath) : -1;
  Routed from = self ? routeEmptyPath(oldDir) : procFd >= 0 ? routeEmptyPath(procFd) : route(oldDir, oldPath);
  Routed to = route(newDir, newPath);
  if (!from.myfs && !to.myfs) return MYFS_REAL(linkat)(oldDir, oldPath, newDir, newPath, flags);
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return failWith(EINVAL);
  if (from.myfs != to.myfs) {
    if (self) {
      if (badUserAddress(newPath)) return failWith(EFAULT);
      return failWith(newPath[0] == '\0' ? ENOENT : EXDEV);
    }
    return acrossMount(oldDir, oldPath, newDir, newPath);
  }
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  Guard g;
  auto res = vfs->link(from.at, from.rel, to.at, to.rel, (flags & AT_SYMLINK_FOLLOW) != 0);
  if (!res && isEscape(res.err())) return failWith(EXDEV);
  return toInt(res);
}

int symlinkAt(const char* target, int dirfd, const char* path) {
  Routed r = route(dirfd, path);
  if (!r.myfs) return MYFS_REAL(symlinkat)(target, dirfd, path);
  if (badUserAddress(target)) return failWith(EFAULT);
  return onPath(
      [&](Vfs& v) { return v.symlink(target, r.at, r.rel); },
      [&](const char* p) { return MYFS_REAL(symlinkat)(target, AT_FDCWD, p); });
}

ssize_t readlinkAt(int dirfd, const char* path, char* buf, size_t size) {
  // readlinkat(fd, "") reads the symlink fd refers to (opened O_PATH|O_NOFOLLOW).
  const bool empty = isEmptyString(path) && dirfd != AT_FDCWD;
  Routed r = empty ? routeEmptyPath(dirfd) : route(dirfd, path);
  if (!r.myfs) return MYFS_REAL(readlinkat)(dirfd, path, buf, size);
  // The kernel takes bufsiz as an int: 0, negative or (size_t)-1 is EINVAL.
  if (static_cast<int>(size) <= 0) return failWith(EINVAL);
  size = static_cast<size_t>(static_cast<int>(size));
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  Guard g;
  auto res = vfs->readlink(r.at, r.rel);
  if (!res) {
    if (isEscape(res.err())) {
      std::string real = loadedVfs()->takeEscapedPath();
      return MYFS_REAL(readlinkat)(AT_FDCWD, real.c_str(), buf, size);
    }
    return failWith(empty && res.err() == EINVAL ? ENOENT : res.err());  // "" and not a symlink
  }
  size_t n = std::min(size, res->size());
  if (int err = copyToUser(buf, res->data(), n); err != 0) return failWith(err);
  return static_cast<ssize_t>(n);
}

int chmodAt(int dirfd, const char* path, mode_t mode, int flags) {
  Routed r = route(dirfd, path);
  if (!r.myfs) return MYFS_REAL(fchmodat)(dirfd, path, mode, flags);
  if (flags & ~AT_SYMLINK_NOFOLLOW) return failWith(EINVAL);  // as glibc's fchmodat
  return onPath(
      [&](Vfs& v) { return v.chmod(r.at, r.rel, mode, !(flags & AT_SYMLINK_NOFOLLOW)); },
      [&](const char* p) { return MYFS_REAL(fchmodat)(AT_FDCWD, p, mode, flags); });
}

int chownAt(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) {
  Routed r = route(dirfd, path);
  if (!r.myfs) return MYFS_REAL(fchownat)(dirfd, path, uid, gid, flags);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return failWith(EINVAL);
  return onPath(
      [&](Vfs& v) { return v.chown(r.at, r.rel, uid, gid, !(flags & AT_SYMLINK_NOFOLLOW)); },
      [&](const char* p) { return MYFS_REAL(fchownat)(AT_FDCWD, p, uid, gid, flags); });
}

__attribute__((noinline)) bool isNull(const char* p) { return p == nullptr; }
__attribute__((noinline)) bool emptyPath(const char* p) { return p == nullptr || isEmptyString(p); }

std::int64_t toNs(const timespec& t) {
  if (t.tv_nsec == UTIME_NOW) return kTimeNow;
  if (t.tv_nsec == UTIME_OMIT) return kTimeOmit;
  return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

bool validTimes(const timespec* times) {
  if (times == nullptr) return true;
  for (int i = 0; i < 2; ++i) {
    if (times[i].tv_nsec != UTIME_NOW && times[i].tv_nsec != UTIME_OMIT &&
        (times[i].tv_nsec < 0 || times[i].tv_nsec >= 1000000000)) {
      return false;
    }
  }
  return true;
}

int futimensMyfs(int fd, const timespec* times) {
  if (!validTimes(times)) return failWith(EINVAL);
  Guard g;
  std::int64_t a = times ? toNs(times[0]) : kTimeNow;
  std::int64_t m = times ? toNs(times[1]) : kTimeNow;
  return toInt(loadedVfs()->futimens(fd, a, m));
}

int utimensAt(int dirfd, const char* path, const timespec* times, int flags) {
  if (isNull(path)) return failWith(EINVAL);  // glibc's utimensat (futimens calls the kernel itself)
  if ((flags & AT_EMPTY_PATH) && isEmptyString(path)) {  // the file dirfd refers to
    if (std::string abs; shadowFile(dirfd, &abs)) return utimensAt(AT_FDCWD, abs.c_str(), times, flags);
    Routed self = routeEmptyPath(dirfd);
    if (!self.myfs) return MYFS_REAL(utimensat)(dirfd, path, times, flags);
    if (!validTimes(times)) return failWith(EINVAL);
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return failWith(EINVAL);
    if (dirfd != AT_FDCWD) return futimensMyfs(dirfd, times);
    std::int64_t a = times ? toNs(times[0]) : kTimeNow;
    std::int64_t m = times ? toNs(times[1]) : kTimeNow;
    return onPath([&](Vfs& v) { return v.utimens(self.at, self.rel, a, m, false); },
                  [&](const char* p) { return MYFS_REAL(utimensat)(AT_FDCWD, p, times, flags); });
  }
  Routed r = route(dirfd, path);
  if (!r.myfs) return MYFS_REAL(utimensat)(dirfd, path, times, flags);
  if (!validTimes(times)) return failWith(EINVAL);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return failWith(EINVAL);
  std::int64_t a = times ? toNs(times[0]) : kTimeNow;
  std::int64_t m = times ? toNs(times[1]) : kTimeNow;
  return onPath(
      [&](Vfs& v) { return v.utimens(r.at, r.rel, a, m, !(flags & AT_SYMLINK_NOFOLLOW)); },
      [&](const char* p) { return MYFS_REAL(utimensat)(AT_FDCWD, p, times, flags); });
}

int timevalsToTimespecs(const timeval* tv, timespec* ts) {
  for (int i = 0; i < 2; ++i) {
    if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000) return failWith(EINVAL);
    ts[i].tv_sec = tv[i].tv_sec;
    ts[i].tv_nsec = tv[i].tv_usec * 1000;
  }
  return 0;
}

int mknodAt(int dirfd, const char* path, mode_t mode, dev_t dev) {
  Routed r = route(dirfd, path);
  if (!r.myfs) return MYFS_REAL(mknodat)(dirfd, path, mode, dev);
  const mode_t mask = currentUmask();
  return onPath(
      [&](Vfs& v) { return v.mknod(r.at, r.rel, (mode & S_IFMT) | (mode & ~mask & 07777), dev); },
      [&](const char* p) { return MYFS_REAL(mknodat)(AT_FDCWD, p, mode, dev); });
}

char* realpathMyfs(const Routed& r, const char* path, char* resolved) {
  Vfs* vfs = startVfs();
  if (vfs == nullptr) {
    errno = EIO;
    return nullptr;
  }
  Result<std::string> res = Errno(EIO);
  {
    Guard g;
    res = vfs->realpath(r.at, r.rel);
  }
  if (!res) {
    if (isEscape(res.err())) {
      std::string real = loadedVfs()->takeEscapedPath();
      return MYFS_REAL(realpath)(real.c_str(), resolved);
    }
    errno = res.err();
    return nullptr;
  }
  std::string full = prefix() + (res->empty() ? "" : "/" + *res);
  if (full.size() >= PATH_MAX) {
    errno = ENAMETOOLONG;
    return nullptr;
  }
  (void)path;
  if (resolved == nullptr) return strdup(full.c_str());
  memcpy(resolved, full.c_str(), full.size() + 1);
  return resolved;
}

}  // namespace
}  // namespace myfs::preload

using namespace myfs;           // NOLINT
using namespace myfs::preload;  // NOLINT

MYFS_EXPORT int mkdir(const char* path, mode_t mode) noexcept { return mkdirAt(AT_FDCWD, path, mode); }
MYFS_EXPORT int mkdirat(int dirfd, const char* path, mode_t mode) noexcept { return mkdirAt(dirfd, path, mode); }
MYFS_EXPORT int rmdir(const char* path) noexcept { return unlinkAt(AT_FDCWD, path, AT_REMOVEDIR); }
MYFS_EXPORT int unlink(const char* path) noexcept { return unlinkAt(AT_FDCWD, path, 0); }
MYFS_EXPORT int unlinkat(int dirfd, const char* path, int flags) noexcept { return unlinkAt(dirfd, path, flags); }
MYFS_EXPORT int remove(const char* path) noexcept {
  Routed r = route(path);
  if (!r.myfs) return MYFS_REAL(remove)(path);
  int rc = unlinkAt(AT_FDCWD, path, 0);
  if (rc != 0 && errno == EISDIR) rc = unlinkAt(AT_FDCWD, path, AT_REMOVEDIR);
  return rc;
}
MYFS_EXPORT int rename(const char* from, const char* to) noexcept { return renameAt(AT_FDCWD, from, AT_FDCWD, to, 0); }
MYFS_EXPORT int renameat(int fromDir, const char* from, int toDir, const char* to) noexcept {
  return renameAt(fromDir, from, toDir, to, 0);
}
MYFS_EXPORT int renameat2(int fromDir, const char* from, int toDir, const char* to, unsigned flags) noexcept {
  return renameAt(fromDir, from, toDir, to, flags);
}
MYFS_EXPORT int link(const char* from, const char* to) noexcept { return linkAt(AT_FDCWD, from, AT_FDCWD, to, 0); }
MYFS_EXPORT int linkat(int fromDir, const char* from, int toDir, const char* to, int flags) noexcept {
  return linkAt(fromDir, from, toDir, to, flags);
}
MYFS_EXPORT int symlink(const char* target, const char* path) noexcept { return symlinkAt(target, AT_FDCWD, path); }
MYFS_EXPORT int symlinkat(const char* target, int dirfd, const char* path) noexcept {
  return symlinkAt(target, dirfd, path);
}
MYFS_EXPORT ssize_t readlink(const char* path, char* buf, size_t size) noexcept {
  return readlinkAt(AT_FDCWD, path, buf, size);
}
MYFS_EXPORT ssize_t readlinkat(int dirfd, const char* path, char* buf, size_t size) noexcept {
  return readlinkAt(dirfd, path, buf, size);
}
MYFS_EXPORT int truncate(const char* path, off_t len) noexcept {
  Routed r = route(path);
  if (!r.myfs) return MYFS_REAL(truncate)(path, len);
  return onPath(
      [&](Vfs& v) { return v.truncate(r.at, r.rel, len); },
      [&](const char* p) { return MYFS_REAL(truncate)(p, len); });
}
MYFS_EXPORT int truncate64(const char* path, off_t len) noexcept { return truncate(path, len); }

MYFS_EXPORT int chmod(const char* path, mode_t mode) noexcept { return chmodAt(AT_FDCWD, path, mode, 0); }
MYFS_EXPORT int fchmodat(int dirfd, const char* path, mode_t mode, int flags) noexcept {
  return chmodAt(dirfd, path, mode, flags);
}
MYFS_EXPORT int fchmod(int fd, mode_t mode) noexcept {
  if (std::string abs; shadowFile(fd, &abs)) return chmod(abs.c_str(), mode);
  if (!isMyfsFd(fd)) return MYFS_REAL(fchmod)(fd, mode);
  Guard g;
  if (auto fl = loadedVfs()->getFlags(fd); fl && (*fl & O_PATH)) return failWith(EBADF);
  return toInt(loadedVfs()->fchmod(fd, mode));
}
MYFS_EXPORT int chown(const char* path, uid_t uid, gid_t gid) noexcept { return chownAt(AT_FDCWD, path, uid, gid, 0); }
MYFS_EXPORT int lchown(const char* path, uid_t uid, gid_t gid) noexcept {
  return chownAt(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW);
}
MYFS_EXPORT int fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) noexcept {
  if ((flags & AT_EMPTY_PATH) && isMyfsFd(dirfd) && emptyPath(path)) {
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return failWith(EINVAL);
    Guard g;
    return toInt(loadedVfs()->fchown(dirfd, uid, gid));
  }
  if ((flags & AT_EMPTY_PATH) && dirfd == AT_FDCWD && isEmptyString(path)) {
    if (Routed cwd = routeEmptyPath(dirfd); cwd.myfs) {
      if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return failWith(EINVAL);
      return onPath([&](Vfs& v) { return v.chown(cwd.at, cwd.rel, uid, gid, false); },
                    [&](const char* p) { return MYFS_REAL(fchownat)(AT_FDCWD, p, uid, gid, flags); });
    }
  }
  return chownAt(dirfd, path, uid, gid, flags);
}
MYFS_EXPORT int fchown(int fd, uid_t uid, gid_t gid) noexcept {
  if (std::string abs; shadowFile(fd, &abs)) return chown(abs.c_str(), uid, gid);
  if (!isMyfsFd(fd)) return MYFS_REAL(fchown)(fd, uid, gid);
  Guard g;
  if (auto fl = loadedVfs()->getFlags(fd); fl && (*fl & O_PATH)) return failWith(EBADF);
  return toInt(loadedVfs()->fchown(fd, uid, gid));
}

MYFS_EXPORT int utimensat(int dirfd, const char* path, const struct timespec times[2], int flags) noexcept {
  return utimensAt(dirfd, path, times, flags);
}
MYFS_EXPORT int futimens(int fd, const struct timespec times[2]) noexcept {
  if (std::string abs; shadowFile(fd, &abs)) return utimensAt(AT_FDCWD, abs.c_str(), times, 0);
  if (!isMyfsFd(fd)) return MYFS_REAL(futimens)(fd, times);
  return futimensMyfs(fd, times);
}
MYFS_EXPORT int utimes(const char* path, const struct timeval tv[2]) noexcept {
  if (!route(path).myfs) return MYFS_REAL(utimes)(path, tv);
  if (tv == nullptr) return utimensAt(AT_FDCWD, path, nullptr, 0);
  timespec ts[2];
  if (timevalsToTimespecs(tv, ts) != 0) return -1;
  return utimensAt(AT_FDCWD, path, ts, 0);
}
MYFS_EXPORT int lutimes(const char* path, const struct timeval tv[2]) noexcept {
  if (!route(path).myfs) return MYFS_REAL(lutimes)(path, tv);
  if (tv == nullptr) return utimensAt(AT_FDCWD, path, nullptr, AT_SYMLINK_NOFOLLOW);
  timespec ts[2];
  if (timevalsToTimespecs(tv, ts) != 0) return -1;
  return utimensAt(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}
MYFS_EXPORT int futimes(int fd, const struct timeval tv[2]) noexcept {
  if (!isMyfsFd(fd)) return MYFS_REAL(futimes)(fd, tv);
  if (tv == nullptr) return futimensMyfs(fd, nullptr);
  timespec ts[2];
  if (timevalsToTimespecs(tv, ts) != 0) return -1;
  return futimensMyfs(fd, ts);
}
MYFS_EXPORT int utime(const char* path, const struct utimbuf* times) noexcept {
  if (!route(path).myfs) return MYFS_REAL(utime)(path, times);
  if (times == nullptr) return utimensAt(AT_FDCWD, path, nullptr, 0);
  timespec ts[2] = {{times->actime, 0}, {times->modtime, 0}};
  return utimensAt(AT_FDCWD, path, ts, 0);
}

MYFS_EXPORT int mknod(const char* path, mode_t mode, dev_t dev) noexcept { return mknodAt(AT_FDCWD, path, mode, dev); }
MYFS_EXPORT int mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) noexcept {
  return mknodAt(dirfd, path, mode, dev);
}
MYFS_EXPORT int mkfifo(const char* path, mode_t mode) noexcept {
  return mknodAt(AT_FDCWD, path, S_IFIFO | (mode & 07777), 0);
}
MYFS_EXPORT int mkfifoat(int dirfd, const char* path, mode_t mode) noexcept {
  return mknodAt(dirfd, path, S_IFIFO | (mode & 07777), 0);
}

MYFS_EXPORT char* realpath(const char* path, char* resolved) noexcept {
  if (path == nullptr) return MYFS_REAL(realpath)(path, resolved);
  Routed r = route(path);
  if (!r.myfs) return MYFS_REAL(realpath)(path, resolved);
  return realpathMyfs(r, path, resolved);
}
MYFS_EXPORT char* __realpath_chk(const char* path, char* resolved, size_t) noexcept { return realpath(path, resolved); }
MYFS_EXPORT char* canonicalize_file_name(const char* path) noexcept { return realpath(path, nullptr); }
