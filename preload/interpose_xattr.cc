// The extended attribute calls: getxattr, setxattr, listxattr, removexattr in their
// path, l- (no symlink following) and f- forms. A myfs path or fd is served by the Vfs
// (core/vfs_xattr.cc); a path that escapes the mount goes to the kernel by its real path;
// a shadow fd (a myfs file on fd 0-2) acts on its file.
#include <fcntl.h>
#include <string.h>
#include <sys/xattr.h>

#include <string>
#include <type_traits>

#include "core/fs_types.h"
#include "preload/shim.h"

namespace myfs::preload {
namespace {

// A name as the kernel copies it: at most 256 bytes are looked at (longer is ERANGE).
__attribute__((noinline)) bool nullName(const char* name) { return name == nullptr; }
std::string_view nameOf(const char* name) { return std::string_view(name, strnlen(name, kXattrNameMax + 1)); }

// Runs op on a routed path; an escape reruns `kernel` with the real path.
template <typename Op, typename Kernel>
ssize_t onXattrPath(Op op, Kernel kernel) {
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  int err;
  ssize_t n = 0;
  {
    Guard g;
    auto res = op(*vfs);
    err = res.err();
    if constexpr (!std::is_same_v<decltype(res), Result<void>>) {
      if (res) n = static_cast<ssize_t>(*res);
    }
  }
  if (err != 0 && isEscape(err)) {
    std::string real = loadedVfs()->takeEscapedPath();
    return kernel(real.c_str());
  }
  return err != 0 ? failWith(err) : n;
}

template <typename T>
ssize_t onFd(const Result<T>& res) {
  if (!res) return failWith(res.err());
  if constexpr (std::is_same_v<T, void>) {
    return 0;
  } else {
    return static_cast<ssize_t>(*res);
  }
}

ssize_t getAt(const char* path, const char* name, void* value, size_t size, bool follow) {
  auto kernel = [&](const char* p) {
    return follow ? MYFS_REAL(getxattr)(p, name, value, size) : MYFS_REAL(lgetxattr)(p, name, value, size);
  };
  Routed r = route(path);
  if (!r.myfs) return kernel(path);
  if (nullName(name)) return failWith(EFAULT);
  return onXattrPath([&](Vfs& v) { return v.getxattr(r.at, r.rel, follow, nameOf(name), value, size); }, kernel);
}

ssize_t setAt(const char* path, const char* name, const void* value, size_t size, int flags, bool follow) {
  auto kernel = [&](const char* p) -> ssize_t {
    return follow ? MYFS_REAL(setxattr)(p, name, value, size, flags)
                  : MYFS_REAL(lsetxattr)(p, name, value, size, flags);
  };
  Routed r = route(path);
  if (!r.myfs) return kernel(path);
  if (nullName(name)) return failWith(EFAULT);
  return onXattrPath([&](Vfs& v) { return v.setxattr(r.at, r.rel, follow, nameOf(name), value, size, flags); },
                     kernel);
}

ssize_t listAt(const char* path, char* list, size_t size, bool follow) {
  auto kernel = [&](const char* p) {
    return follow ? MYFS_REAL(listxattr)(p, list, size) : MYFS_REAL(llistxattr)(p, list, size);
  };
  Routed r = route(path);
  if (!r.myfs) return kernel(path);
  return onXattrPath([&](Vfs& v) { return v.listxattr(r.at, r.rel, follow, list, size); }, kernel);
}

ssize_t removeAt(const char* path, const char* name, bool follow) {
  auto kernel = [&](const char* p) -> ssize_t {
    return follow ? MYFS_REAL(removexattr)(p, name) : MYFS_REAL(lremovexattr)(p, name);
  };
  Routed r = route(path);
  if (!r.myfs) return kernel(path);
  if (nullName(name)) return failWith(EFAULT);
  return onXattrPath([&](Vfs& v) { return v.removexattr(r.at, r.rel, follow, nameOf(name)); }, kernel);
}

}  // namespace
}  // namespace myfs::preload

using namespace myfs;           // NOLINT
using namespace myfs::preload;  // NOLINT

MYFS_EXPORT ssize_t getxattr(const char* path, const char* name, void* value, size_t size) noexcept {
  return getAt(path, name, value, size, true);
}
MYFS_EXPORT ssize_t lgetxattr(const char* path, const char* name, void* value, size_t size) noexcept {
  return getAt(path, name, value, size, false);
}
MYFS_EXPORT ssize_t fgetxattr(int fd, const char* name, void* value, size_t size) noexcept {
  if (std::string abs; shadowFile(fd, &abs)) return getAt(abs.c_str(), name, value, size, true);
  if (!isMyfsFd(fd)) return MYFS_REAL(fgetxattr)(fd, name, value, size);
  if (nullName(name)) return failWith(EFAULT);
  Guard g;
  return onFd(loadedVfs()->fgetxattr(fd, nameOf(name), value, size));
}
MYFS_EXPORT ssize_t listxattr(const char* path, char* list, size_t size) noexcept {
  return listAt(path, list, size, true);
}
MYFS_EXPORT ssize_t llistxattr(const char* path, char* list, size_t size) noexcept {
  return listAt(path, list, size, false);
}
MYFS_EXPORT ssize_t flistxattr(int fd, char* list, size_t size) noexcept {
  if (std::string abs; shadowFile(fd, &abs)) return listAt(abs.c_str(), list, size, true);
  if (!isMyfsFd(fd)) return MYFS_REAL(flistxattr)(fd, list, size);
  Guard g;
  return onFd(loadedVfs()->flistxattr(fd, list, size));
}
MYFS_EXPORT int setxattr(const char* path, const char* name, const void* value, size_t size, int flags) noexcept {
  return static_cast<int>(setAt(path, name, value, size, flags, true));
}
MYFS_EXPORT int lsetxattr(const char* path, const char* name, const void* value, size_t size, int flags) noexcept {
  return static_cast<int>(setAt(path, name, value, size, flags, false));
}
MYFS_EXPORT int fsetxattr(int fd, const char* name, const void* value, size_t size, int flags) noexcept {
  if (std::string abs; shadowFile(fd, &abs)) return static_cast<int>(setAt(abs.c_str(), name, value, size, flags, true));
  if (!isMyfsFd(fd)) return MYFS_REAL(fsetxattr)(fd, name, value, size, flags);
  if (nullName(name)) return failWith(EFAULT);
  Guard g;
  return static_cast<int>(onFd(loadedVfs()->fsetxattr(fd, nameOf(name), value, size, flags)));
}
MYFS_EXPORT int removexattr(const char* path, const char* name) noexcept {
  return static_cast<int>(removeAt(path, name, true));
}
MYFS_EXPORT int lremovexattr(const char* path, const char* name) noexcept {
  return static_cast<int>(removeAt(path, name, false));
}
MYFS_EXPORT int fremovexattr(int fd, const char* name) noexcept {
  if (std::string abs; shadowFile(fd, &abs)) return static_cast<int>(removeAt(abs.c_str(), name, true));
  if (!isMyfsFd(fd)) return MYFS_REAL(fremovexattr)(fd, name);
  if (nullName(name)) return failWith(EFAULT);
  Guard g;
  return static_cast<int>(onFd(loadedVfs()->fremovexattr(fd, nameOf(name))));
}
