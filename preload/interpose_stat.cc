// stat in all its names, statx, access, statfs/statvfs (xattrs: interpose_xattr.cc).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>

#include "preload/empty_path.h"
#include "preload/shadow.h"
#include "preload/shim.h"
#include "preload/user_memory.h"

namespace myfs::preload {
namespace {

// stat/lstat/fstatat on a routed path; falls back to the kernel for escapes.
int statMyfs(const Routed& r, struct stat* st, bool follow) {
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  Guard g;
  auto a = vfs->stat(r.at, r.rel, follow);
  if (!a) {
    if (isEscape(a.err())) {
      std::string real = loadedVfs()->takeEscapedPath();
      return MYFS_REAL(fstatat)(AT_FDCWD, real.c_str(), st, follow ? 0 : AT_SYMLINK_NOFOLLOW);
    }
    return failWith(a.err());
  }
  struct stat out;
  toStat(*a, &out);
  if (int err = copyToUser(st, &out, sizeof out); err != 0) return failWith(err);
  return 0;
}

int fstatMyfs(int fd, struct stat* st) {
  Guard g;
  auto a = loadedVfs()->fstat(fd);
  if (!a) return failWith(a.err());
  struct stat out;
  toStat(*a, &out);
  if (int err = copyToUser(st, &out, sizeof out); err != 0) return failWith(err);
  return 0;
}

// The flags fstatat(2) takes (the kernel's vfs_fstatat also lets the statx sync bits by).
constexpr int kFstatatFlags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE;
constexpr int kStatxFlags = kFstatatFlags;

// "" (or null, which newer kernels accept with AT_EMPTY_PATH).
__attribute__((noinline)) bool isEmptyPath(const char* path) {
  return path == nullptr || (!badUserAddress(path) && path[0] == '\0');
}

int fstatatAny(int dirfd, const char* path, struct stat* st, int flags) {
  if (isEmptyPath(path) && (flags & AT_EMPTY_PATH)) {
    if (isMyfsFd(dirfd)) {
      if (flags & ~kFstatatFlags) return failWith(EINVAL);
      return fstatMyfs(dirfd, st);
    }
    Routed cwd = routeEmptyPath(dirfd);
    if (!cwd.myfs) return MYFS_REAL(fstatat)(dirfd, path, st, flags);
    if (flags & ~kFstatatFlags) return failWith(EINVAL);
    return statMyfs(cwd, st, false);
  }
  Routed r = route(dirfd, path);
  if (!r.myfs) return MYFS_REAL(fstatat)(dirfd, path, st, flags);
  if (flags & ~kFstatatFlags) return failWith(EINVAL);
  return statMyfs(r, st, !(flags & AT_SYMLINK_NOFOLLOW));
}

void fillStatx(const Attr& a, struct statx* sx) {
  struct stat st;
  toStat(a, &st);
  std::memset(sx, 0, sizeof *sx);
  sx->stx_mask = STATX_BASIC_STATS;
  sx->stx_blksize = static_cast<std::uint32_t>(st.st_blksize);
  sx->stx_nlink = static_cast<std::uint32_t>(st.st_nlink);
  sx->stx_uid = st.st_uid;
  sx->stx_gid = st.st_gid;
  sx->stx_mode = static_cast<std::uint16_t>(st.st_mode);
  sx->stx_ino = st.st_ino;
  sx->stx_size = static_cast<std::uint64_t>(st.st_size);
  sx->stx_blocks = static_cast<std::uint64_t>(st.st_blocks);
  sx->stx_atime = {st.st_atim.tv_sec, static_cast<std::uint32_t>(st.st_atim.tv_nsec), 0};
  sx->stx_mtime = {st.st_mtim.tv_sec, static_cast<std::uint32_t>(st.st_mtim.tv_nsec), 0};
  sx->stx_ctime = {st.st_ctim.tv_sec, static_cast<std::uint32_t>(st.st_ctim.tv_nsec), 0};
  sx->stx_rdev_major = major(a.rdev);
  sx->stx_rdev_minor = minor(a.rdev);
  sx->stx_dev_major = major(kMyfsDev);
  sx->stx_dev_minor = minor(kMyfsDev);
}

void fillStatfs(const struct statvfs& v, struct statfs* s) {
  std::memset(s, 0, sizeof *s);
  s->f_type = 0x6d796673;  // "myfs"
  s->f_bsize = static_cast<long>(v.f_bsize);
  s->f_frsize = static_cast<long>(v.f_frsize);
  s->f_blocks = v.f_blocks;
  s->f_bfree = v.f_bfree;
  s->f_bavail = v.f_bavail;
  s->f_files = v.f_files;
  s->f_ffree = v.f_ffree;
  s->f_namelen = static_cast<long>(v.f_namemax);
  std::memcpy(&s->f_fsid, &v.f_fsid, std::min(sizeof s->f_fsid, sizeof v.f_fsid));
}

int statvfsMyfs(struct statvfs* out) {
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  Guard g;
  auto r = vfs->statfs();
  if (!r) return failWith(r.err());
  if (int err = copyToUser(out, &*r, sizeof *out); err != 0) return failWith(err);
  return 0;
}

int accessAt(int dirfd, const char* path, int mode, int flags) {
  Routed r = isEmptyString(path) && (flags & AT_EMPTY_PATH) ? routeEmptyPath(dirfd) : route(dirfd, path);
  if (!r.myfs) return MYFS_REAL(faccessat)(dirfd, path, mode, flags);
  if (mode & ~(R_OK | W_OK | X_OK)) return failWith(EINVAL);
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return failWith(EINVAL);
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  Guard g;
  if (flags & AT_SYMLINK_NOFOLLOW) {
    // A symlink named last (not followed) grants every access, as its mode 0777 does.
    auto a = vfs->stat(r.at, r.rel, false);
    if (a && a->isLink()) return 0;
    if (!a && !isEscape(a.err())) return failWith(a.err());
  }
  auto res = vfs->access(r.at, r.rel, mode, (flags & AT_EACCESS) != 0);
  if (!res && isEscape(res.err())) {
    std::string real = loadedVfs()->takeEscapedPath();
    return MYFS_REAL(faccessat)(AT_FDCWD, real.c_str(), mode, flags);
  }
  return toInt(res);
}

}  // namespace
}  // namespace myfs::preload

using namespace myfs;           // NOLINT
using namespace myfs::preload;  // NOLINT

MYFS_EXPORT int stat(const char* path, struct stat* st) noexcept { return fstatatAny(AT_FDCWD, path, st, 0); }
MYFS_EXPORT int stat64(const char* path, struct stat64* st) noexcept {
  return fstatatAny(AT_FDCWD, path, reinterpret_cast<struct stat*>(st), 0);
}
MYFS_EXPORT int lstat(const char* path, struct stat* st) noexcept {
  return fstatatAny(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
MYFS_EXPORT int lstat64(const char* path, struct stat64* st) noexcept {
  return fstatatAny(AT_FDCWD, path, reinterpret_cast<struct stat*>(st), AT_SYMLINK_NOFOLLOW);
}
MYFS_EXPORT int fstat(int fd, struct stat* st) noexcept {
  if (anyShadows()) {
    if (std::string abs; shadowFile(fd, &abs)) return fstatatAny(AT_FDCWD, abs.c_str(), st, 0);
  }
  if (!isMyfsFd(fd)) return MYFS_REAL(fstat)(fd, st);
  return fstatMyfs(fd, st);
}
MYFS_EXPORT int fstat64(int fd, struct stat64* st) noexcept { return fstat(fd, reinterpret_cast<struct stat*>(st)); }
MYFS_EXPORT int fstatat(int dirfd, const char* path, struct stat* st, int flags) noexcept {
  return fstatatAny(dirfd, path, st, flags);
}
MYFS_EXPORT int fstatat64(int dirfd, const char* path, struct stat64* st, int flags) noexcept {
  return fstatatAny(dirfd, path, reinterpret_cast<struct stat*>(st), flags);
}
// The pre-2.33 names that older binaries (make 4.3) still import; glibc 2.36 headers no
// longer declare them.
extern "C" {
int __xstat(int, const char*, struct stat*);
int __xstat64(int, const char*, struct stat64*);
int __lxstat(int, const char*, struct stat*);
int __lxstat64(int, const char*, struct stat64*);
int __fxstat(int, int, struct stat*);
int __fxstat64(int, int, struct stat64*);
int __fxstatat(int, int, const char*, struct stat*, int);
int __fxstatat64(int, int, const char*, struct stat64*, int);
}
MYFS_EXPORT int __xstat(int, const char* path, struct stat* st) { return fstatatAny(AT_FDCWD, path, st, 0); }
MYFS_EXPORT int __xstat64(int, const char* path, struct stat64* st) {
  return fstatatAny(AT_FDCWD, path, reinterpret_cast<struct stat*>(st), 0);
}
MYFS_EXPORT int __lxstat(int, const char* path, struct stat* st) {
  return fstatatAny(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
MYFS_EXPORT int __lxstat64(int, const char* path, struct stat64* st) {
  return fstatatAny(AT_FDCWD, path, reinterpret_cast<struct stat*>(st), AT_SYMLINK_NOFOLLOW);
}
MYFS_EXPORT int __fxstat(int, int fd, struct stat* st) { return fstat(fd, st); }
MYFS_EXPORT int __fxstat64(int, int fd, struct stat64* st) { return fstat(fd, reinterpret_cast<struct stat*>(st)); }
MYFS_EXPORT int __fxstatat(int, int dirfd, const char* path, struct stat* st, int flags) {
  return fstatatAny(dirfd, path, st, flags);
}
MYFS_EXPORT int __fxstatat64(int, int dirfd, const char* path, struct stat64* st, int flags) {
  return fstatatAny(dirfd, path, reinterpret_cast<struct stat*>(st), flags);
}

MYFS_EXPORT int statx(int dirfd, const char* path, int flags, unsigned int mask, struct statx* sx) noexcept {
  int fd = -1;
  Routed r;
  if (isEmptyPath(path) && (flags & AT_EMPTY_PATH)) {
    if (isMyfsFd(dirfd)) {
      fd = dirfd;
    } else {
      r = routeEmptyPath(dirfd);  // the current directory inside myfs
      if (!r.myfs) return MYFS_REAL(statx)(dirfd, path, flags, mask, sx);
      flags |= AT_SYMLINK_NOFOLLOW;
    }
  } else {
    r = route(dirfd, path);
    if (!r.myfs) return MYFS_REAL(statx)(dirfd, path, flags, mask, sx);
  }
  if ((mask & STATX__RESERVED) || (flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE || (flags & ~kStatxFlags)) {
    return failWith(EINVAL);
  }
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  Guard g;
  auto a = fd >= 0 ? vfs->fstat(fd) : vfs->stat(r.at, r.rel, !(flags & AT_SYMLINK_NOFOLLOW));
  if (!a) {
    if (isEscape(a.err())) {
      std::string real = loadedVfs()->takeEscapedPath();
      return MYFS_REAL(statx)(AT_FDCWD, real.c_str(), flags, mask, sx);
    }
    return failWith(a.err());
  }
  struct statx out;
  fillStatx(*a, &out);
  if (int err = copyToUser(sx, &out, sizeof out); err != 0) return failWith(err);
  return 0;
}

MYFS_EXPORT int access(const char* path, int mode) noexcept { return accessAt(AT_FDCWD, path, mode, 0); }
MYFS_EXPORT int faccessat(int dirfd, const char* path, int mode, int flags) noexcept {
  return accessAt(dirfd, path, mode, flags);
}
// glibc's euidaccess stats the file and checks only the R, W and X bits of mode (it never
// answers EINVAL); so does the shim for myfs paths.
MYFS_EXPORT int euidaccess(const char* path, int mode) noexcept {
  if (!route(path).myfs) return MYFS_REAL(euidaccess)(path, mode);
  return accessAt(AT_FDCWD, path, mode & (R_OK | W_OK | X_OK), AT_EACCESS);
}
MYFS_EXPORT int eaccess(const char* path, int mode) noexcept { return euidaccess(path, mode); }

MYFS_EXPORT int statvfs(const char* path, struct statvfs* out) noexcept {
  Routed r = route(path);
  if (!r.myfs) return MYFS_REAL(statvfs)(path, out);
  struct stat st;
  if (statMyfs(r, &st, true) != 0) return -1;
  return statvfsMyfs(out);
}
MYFS_EXPORT int statvfs64(const char* path, struct statvfs64* out) noexcept {
  return statvfs(path, reinterpret_cast<struct statvfs*>(out));
}
MYFS_EXPORT int fstatvfs(int fd, struct statvfs* out) noexcept {
  if (!isMyfsFd(fd)) return MYFS_REAL(fstatvfs)(fd, out);
  return statvfsMyfs(out);
}
MYFS_EXPORT int fstatvfs64(int fd, struct statvfs64* out) noexcept {
  return fstatvfs(fd, reinterpret_cast<struct statvfs*>(out));
}
MYFS_EXPORT int statfs(const char* path, struct statfs* out) noexcept {
  Routed r = route(path);
  if (!r.myfs) return MYFS_REAL(statfs)(path, out);
  struct stat st;
  if (statMyfs(r, &st, true) != 0) return -1;
  struct statvfs v;
  if (statvfsMyfs(&v) != 0) return -1;
  struct statfs s;
  fillStatfs(v, &s);
  if (int err = copyToUser(out, &s, sizeof s); err != 0) return failWith(err);
  return 0;
}
MYFS_EXPORT int statfs64(const char* path, struct statfs64* out) noexcept {
  return statfs(path, reinterpret_cast<struct statfs*>(out));
}
MYFS_EXPORT int fstatfs(int fd, struct statfs* out) noexcept {
  if (!isMyfsFd(fd)) return MYFS_REAL(fstatfs)(fd, out);
  struct statvfs v;
  if (statvfsMyfs(&v) != 0) return -1;
  struct statfs s;
  fillStatfs(v, &s);
  if (int err = copyToUser(out, &s, sizeof s); err != 0) return failWith(err);
  return 0;
}
MYFS_EXPORT int fstatfs64(int fd, struct statfs64* out) noexcept {
  return fstatfs(fd, reinterpret_cast<struct statfs*>(out));
}
