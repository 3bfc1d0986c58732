// Directory streams (opendir, readdir, scandir, getdents64) and the current directory
// (chdir, fchdir, getcwd).
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <unordered_set>

#include "preload/shim.h"
#include "preload/user_memory.h"

namespace myfs::preload {
namespace {

// A DIR* the shim made for a myfs directory. Apps only hand it back to us.
struct MyfsDir {
  int fd = -1;
  size_t pos = 0, len = 0;
  long lastOff = 0;  // d_off of the entry returned last (telldir)
  alignas(8) char buf[32768];
};

constinit std::mutex gDirsMu;
// How many DIR*s the shim made are open: none (most programs, most of the time) means a
// stream is the kernel's without taking the lock.
constinit std::atomic<long> gOpenDirs{0};
// The DIR*s the shim made (built on first use: see cwdState()).
std::unordered_set<void*>& myfsDirs() {
  static auto* dirs = new std::unordered_set<void*>;
  return *dirs;
}

MyfsDir* asMyfs(DIR* d) {
  if (d == nullptr || gOpenDirs.load(std::memory_order_acquire) == 0 || loadedVfs() == nullptr) return nullptr;
  std::lock_guard lock(gDirsMu);
  return myfsDirs().count(d) ? reinterpret_cast<MyfsDir*>(d) : nullptr;
}

DIR* wrapFd(int fd) {
  auto* d = new (std::nothrow) MyfsDir;
  if (d != nullptr) d->fd = fd;
  if (d == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  std::lock_guard lock(gDirsMu);
  myfsDirs().insert(d);
  gOpenDirs.fetch_add(1, std::memory_order_release);
  return reinterpret_cast<DIR*>(d);
}

// The next entry, or null at the end (errno untouched) or on error (errno set).
struct dirent64* nextEntry(MyfsDir* d) {
  if (d->pos >= d->len) {
    const int saved = errno;  // the client's calls may leave theirs (EAGAIN)
    Guard g;
    auto r = loadedVfs()->getdents(d->fd, d->buf, sizeof d->buf);
    if (!r && r.err() == ENOENT) {
      errno = saved;  // a removed directory: the end, as glibc's readdir says
      return nullptr;
    }
    if (!r) {
      errno = r.err();
      return nullptr;
    }
    errno = saved;
    d->pos = 0;
    d->len = *r;
    if (d->len == 0) return nullptr;
  }
  auto* e = reinterpret_cast<struct dirent64*>(d->buf + d->pos);
  d->pos += e->d_reclen;
  d->lastOff = e->d_off;
  return e;
}

// Whether the current directory's name `rel` (inside myfs) no longer leads to the
// directory held as it (`ino`, 0: none): ENOENT, or another directory now. Asked only of
// a started client (never in a vfork child).
bool cwdNameGone(const std::string& rel, std::uint64_t ino) {
  Vfs* vfs = loadedVfs();
  if (vfs == nullptr || rel.empty() || inVforkChild()) return false;
  const int saved = errno;
  Guard g;
  auto a = vfs->stat(At::root(), rel, true);
  errno = saved;
  return a ? ino != 0 && a->ino != ino : a.err() == ENOENT;
}

// getcwd of the current directory inside myfs (`rel`, held as `ino`): ENOENT when it was
// removed, as the kernel answers for an unlinked cwd; its new name when it was renamed.
int getcwdVirtual(std::string rel, std::uint64_t ino, char* buf, size_t size, char** out) {
  if (cwdNameGone(rel, ino)) {
    Vfs* vfs = loadedVfs();
    const int saved = errno;
    Result<std::string> now = [&] {
      Guard g;
      return vfs->cwdPath();
    }();
    errno = saved;
    if (!now) return ENOENT;
    rel = *now;
    setVirtualCwd(rel, ino);  // MYFS_CWD follows, for the programs this one starts
  }
  std::string full = prefix() + (rel.empty() ? "" : "/" + rel);
  if (buf == nullptr) {
    size_t n = size == 0 ? full.size() + 1 : size;
    if (n < full.size() + 1) return ERANGE;
    buf = static_cast<char*>(malloc(n));
    if (buf == nullptr) return ENOMEM;
    memcpy(buf, full.c_str(), full.size() + 1);
  } else if (size == 0) {
    return EINVAL;
  } else if (size < full.size() + 1) {
    return ERANGE;
  } else if (int err = copyToUser(buf, full.c_str(), full.size() + 1); err != 0) {
    return err;
  }
  *out = buf;
  return 0;
}

}  // namespace
}  // namespace myfs::preload

using namespace myfs;           // NOLINT
using namespace myfs::preload;  // NOLINT

MYFS_EXPORT DIR* opendir(const char* path) {
  if (!route(path).myfs) return MYFS_REAL(opendir)(path);
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  if (!isMyfsFd(fd)) return MYFS_REAL(fdopendir)(fd);  // escaped to the kernel
  DIR* d = wrapFd(fd);
  if (d == nullptr) close(fd);
  return d;
}

MYFS_EXPORT DIR* fdopendir(int fd) {
  if (!isMyfsFd(fd)) return MYFS_REAL(fdopendir)(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return nullptr;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return nullptr;
  }
  return wrapFd(fd);
}

MYFS_EXPORT int closedir(DIR* dir) {
  MyfsDir* d = asMyfs(dir);
  if (d == nullptr) return MYFS_REAL(closedir)(dir);
  {
    std::lock_guard lock(gDirsMu);
    if (myfsDirs().erase(dir) != 0) gOpenDirs.fetch_sub(1, std::memory_order_release);
  }
  int rc = close(d->fd);
  delete d;
  return rc;
}

MYFS_EXPORT struct dirent* readdir(DIR* dir) {
  MyfsDir* d = asMyfs(dir);
  if (d == nullptr) return MYFS_REAL(readdir)(dir);
  return reinterpret_cast<struct dirent*>(nextEntry(d));
}
MYFS_EXPORT struct dirent64* readdir64(DIR* dir) {
  MyfsDir* d = asMyfs(dir);
  if (d == nullptr) return MYFS_REAL(readdir64)(dir);
  return nextEntry(d);
}
MYFS_EXPORT int readdir_r(DIR* dir, struct dirent* entry, struct dirent** result) {
  MyfsDir* d = asMyfs(dir);
  if (d == nullptr) return MYFS_REAL(readdir_r)(dir, entry, result);
  int saved = errno;
  errno = 0;
  struct dirent64* e = nextEntry(d);
  int err = errno;
  errno = saved;
  if (e == nullptr) {
    *result = nullptr;
    return err;
  }
  memcpy(entry, e, std::min<size_t>(e->d_reclen, sizeof *entry));
  *result = entry;
  return 0;
}
MYFS_EXPORT int readdir64_r(DIR* dir, struct dirent64* entry, struct dirent64** result) {
  return readdir_r(dir, reinterpret_cast<struct dirent*>(entry), reinterpret_cast<struct dirent**>(result));
}
MYFS_EXPORT int dirfd(DIR* dir) noexcept {
  MyfsDir* d = asMyfs(dir);
  return d ? d->fd : MYFS_REAL(dirfd)(dir);
}
MYFS_EXPORT void seekdir(DIR* dir, long pos) noexcept {
  MyfsDir* d = asMyfs(dir);
  if (d == nullptr) return MYFS_REAL(seekdir)(dir, pos);
  Guard g;
  if (loadedVfs()->dirSeek(d->fd, static_cast<std::uint64_t>(pos))) {
    d->pos = d->len = 0;
    d->lastOff = pos;
  }
}
MYFS_EXPORT void rewinddir(DIR* dir) noexcept {
  if (asMyfs(dir) == nullptr) return MYFS_REAL(rewinddir)(dir);
  seekdir(dir, 0);
}
MYFS_EXPORT long telldir(DIR* dir) noexcept {
  MyfsDir* d = asMyfs(dir);
  return d ? d->lastOff : MYFS_REAL(telldir)(dir);
}

MYFS_EXPORT ssize_t getdents64(int fd, void* buf, size_t n) {
  if (!isMyfsFd(fd)) return MYFS_REAL(getdents64)(fd, buf, n);
  Guard g;
  auto r = loadedVfs()->getdents(fd, buf, n);
  return r ? static_cast<ssize_t>(*r) : failWith(r.err());
}

namespace {

template <typename Dirent>
int scanMyfs(const char* path, Dirent*** out, int (*filter)(const Dirent*),
             int (*compar)(const Dirent**, const Dirent**)) {
  DIR* dir = opendir(path);
  if (dir == nullptr) return -1;
  size_t count = 0, cap = 16;
  auto** list = static_cast<Dirent**>(malloc(cap * sizeof(Dirent*)));
  int saved = errno;
  errno = 0;
  while (true) {
    auto* e = reinterpret_cast<Dirent*>(readdir64(dir));
    if (e == nullptr) break;
    if (filter != nullptr && !filter(e)) continue;
    if (count == cap) {
      cap *= 2;
      list = static_cast<Dirent**>(realloc(list, cap * sizeof(Dirent*)));
    }
    auto* copy = static_cast<Dirent*>(malloc(e->d_reclen));
    memcpy(copy, e, e->d_reclen);
    list[count++] = copy;
  }
  int err = errno;
  closedir(dir);
  if (err != 0) {
    for (size_t i = 0; i < count; ++i) free(list[i]);
    free(list);
    errno = err;
    return -1;
  }
  errno = saved;
  if (compar != nullptr) {
    qsort(list, count, sizeof(Dirent*), reinterpret_cast<int (*)(const void*, const void*)>(compar));
  }
  *out = list;
  return static_cast<int>(count);
}

}  // namespace

MYFS_EXPORT int scandir(const char* path, struct dirent*** out, int (*filter)(const struct dirent*),
                        int (*compar)(const struct dirent**, const struct dirent**)) {
  if (!route(path).myfs) return MYFS_REAL(scandir)(path, out, filter, compar);
  return scanMyfs(path, out, filter, compar);
}
MYFS_EXPORT int scandir64(const char* path, struct dirent64*** out, int (*filter)(const struct dirent64*),
                          int (*compar)(const struct dirent64**, const struct dirent64**)) {
  if (!route(path).myfs) return MYFS_REAL(scandir64)(path, out, filter, compar);
  return scanMyfs(path, out, filter, compar);
}

MYFS_EXPORT int chdir(const char* path) noexcept {
  Routed r = route(path);
  if (!r.myfs) {
    int rc = MYFS_REAL(chdir)(path);
    if (rc == 0) clearVirtualCwd(path);
    return rc;
  }
  if (inVforkChild()) {
    // Shares the parent's client: no calls. The program it execs checks the directory.
    setVirtualCwd(lexicalMyfsDirectory(r));
    return 0;
  }
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  Result<std::string> canon = Errno(EIO);
  {
    Guard g;
    canon = vfs->resolveDirectory(r.at, r.rel);
  }
  if (!canon) {
    if (isEscape(canon.err())) {
      std::string real = loadedVfs()->takeEscapedPath();
      int rc = MYFS_REAL(chdir)(real.c_str());
      if (rc == 0) clearVirtualCwd(real.c_str());
      return rc;
    }
    return failWith(canon.err());
  }
  setVirtualCwd(*canon);
  return 0;
}

MYFS_EXPORT int fchdir(int fd) noexcept {
  if (!isMyfsFd(fd)) {
    int rc = MYFS_REAL(fchdir)(fd);
    if (rc == 0) clearVirtualCwd(nullptr);
    return rc;
  }
  Guard g;
  auto path = loadedVfs()->fdPath(fd);
  if (!path) return failWith(path.err());
  auto attr = loadedVfs()->fstat(fd);
  if (!attr) return failWith(attr.err());
  if (!attr->isDir()) return failWith(ENOTDIR);
  // Search permission on the directory itself ("" is the fd's file: AT_EMPTY_PATH).
  if (auto ok = loadedVfs()->access(At::dir(fd), "", X_OK, true); !ok) return failWith(ok.err());
  setVirtualCwd(*path, attr->ino);  // the fd's directory, even if renamed since it was opened
  return 0;
}

MYFS_EXPORT char* getcwd(char* buf, size_t size) noexcept {
  std::string rel;
  std::uint64_t ino = 0;
  if (!virtualCwd(&rel, &ino)) return MYFS_REAL(getcwd)(buf, size);
  char* out = nullptr;
  if (int err = getcwdVirtual(rel, ino, buf, size, &out); err != 0) {
    errno = err;
    return nullptr;
  }
  return out;
}
MYFS_EXPORT char* __getcwd_chk(char* buf, size_t size, size_t buflen) noexcept {
  if (size > buflen) abort();
  return getcwd(buf, size);
}
MYFS_EXPORT char* get_current_dir_name() noexcept {
  if (std::string rel; !virtualCwd(&rel)) return MYFS_REAL(get_current_dir_name)();
  return getcwd(nullptr, 0);
}
