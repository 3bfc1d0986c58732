// Shared state of the interposers: the lazily started client, the routing of paths
// and fds, the current directory, and the conversions to libc return conventions.
//
// Every interposer follows one pattern:
//   if (auto r = route(dirfd, path); r.myfs) { ... call client()->vfs ... }
//   return MYFS_REAL(fn)(...);
// and never lets a C++ exception or a recursive call through (Guard).
#pragma once

#include <errno.h>

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "core/result.h"
#include "core/vfs.h"
#include "preload/real_libc.h"

#define MYFS_EXPORT extern "C" __attribute__((visibility("default")))

namespace myfs::preload {

// The Vfs once started, or null: started only by a call that names a myfs path.
Vfs* loadedVfs();
// Starts the client if needed; null (with a message printed once) if it cannot.
Vfs* startVfs();

// True while this thread is inside the shim: nested libc calls go straight to libc.
bool inShim();
class Guard {
 public:
  Guard();
  ~Guard();
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
};

// Whether fd is a myfs fd. An fd inherited across exec is adopted here, on first use
// (inherit.h). Asked on every interposed fd call: one call that reads the shim's state
// directly (shim_state.cc), for a program that never touches myfs a few loads.
bool inheritedMyfsFd(int fd);
bool anyInheritedPending();  // whether inheritedMyfsFd can say yes at all
bool isMyfsFd(int fd);

// Where a path argument leads.
struct Routed {
  bool myfs = false;
  At at;
  std::string rel;  // mount-relative (when myfs)
};
// Classifies (dirfd, path) as the kernel would resolve it: absolute paths by prefix,
// relative ones by the directory fd or the current directory.
Routed route(int dirfd, const char* path);
inline Routed route(const char* path) { return route(-100 /* AT_FDCWD */, path); }

// The mount prefix ("/myfs").
const std::string& prefix();

// The current directory when inside myfs (mount-relative) and, if given, the inode the
// Vfs holds for it (0: none).
bool virtualCwd(std::string* rel, std::uint64_t* ino = nullptr);
// chdir into myfs; `ino` (0: none) is the directory's inode when known (fchdir).
void setVirtualCwd(const std::string& rel, std::uint64_t ino = 0);
// After this process renamed `from` to `to` (mount-relative, lexically normal; swapped
// when `exchanged`): a current directory at or under the renamed name moves with it.
void followRenamedCwd(const std::string& from, const std::string& to, bool exchanged);
void clearVirtualCwd(const char* realPath);  // chdir elsewhere (null: unknown, ask the kernel)
// The mount-relative directory a myfs path names, worked out without asking the servers
// (for vfork children, which must not use the client): ".." and symlinks taken lexically.
std::string lexicalMyfsDirectory(const Routed& r);

// True in a vfork()ed child (shares the parent's memory: the shim must not change state).
// One getpid() per call, but only once such a child may exist (memorySharingChildMayExist).
bool inVforkChild();

// The process's umask as last set (tracked by the umask interposer; read at start).
mode_t currentUmask();
void setCurrentUmask(mode_t mask);

// Gives a myfs fd a kernel fd: a placeholder the shim owns (so numbers never collide).
int newPlaceholder(bool cloexec, bool directory);

// Converts failures to the libc convention: errno set, -1 returned.
inline int failWith(int err) {
  errno = err;
  return -1;
}
template <typename T>
inline int toInt(const Result<T>& r) {
  return r.ok() ? 0 : failWith(r.err());
}
inline bool isEscape(int err) { return err == kEscapeErrno; }

// The client's threads: fds they create are moved high and protected (interpose_internal.cc).
void enterInternalThread();
void internalScope(bool inside);
bool isInternalFd(int fd);     // made by a client thread, asked about by the application
void forgetInternalFd(int fd);
// Makes fd one of the client's own: moved high, close-on-exec, protected from close().
int keepInternal(int fd);
// A new fd (from dup or fcntl F_DUPFD): the client's own, moved high, when client code made it.
int relocateIfInternal(int fd);
// In a forked child: closes the parent's server connections it inherited, so that a
// server sees the parent's sessions end when the parent does (the child opens its own).
void closeParentConnectionsInChild();

// The absolute path ("/myfs/a/b") of a shadow fd's myfs file, written back first so
// that metadata calls on it see its data; false if fd is not a shadow.
bool shadowFile(int fd, std::string* abs);

// vfork() interposition (interpose_vfork.cc): resolve libc's at start-up; after the
// client starts, vfork() runs fork() instead.
void prepareVfork();
void vforkBecomesFork();
// False until a child that shares this process's memory (a real vfork, clone(CLONE_VM))
// may have been made: until then no vfork child can be running this code.
bool memorySharingChildMayExist();

// _exit(): writes back what this process wrote (a write(2) that returned is never lost),
// without flushing stdio buffers.
void flushBeforeExit();

// Logs once per message (stderr), e.g. for refused operations.
void logOnce(const char* what);

}  // namespace myfs::preload
