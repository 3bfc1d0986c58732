// The shim's state: starting the client, routing paths, the current directory, fork.
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>

#include "preload/client_api.h"
#include "preload/inherit.h"
#include "preload/mmap_shared.h"
#include "preload/path_routing.h"
#include "preload/shadow.h"
#include "preload/shim.h"
#include "preload/user_memory.h"

namespace myfs::preload {

namespace {

// Constant-initialized (no constructor runs), so usable before static initializers.
constinit std::atomic<ClientApi*> gApi{nullptr};
constinit std::atomic<bool> gStartFailed{false};
constinit std::mutex gStartMu;
// initial-exec: the shim is loaded at start-up (LD_PRELOAD), so its TLS is static and
// reading it costs no __tls_get_addr call on every interposed call.
__attribute__((tls_model("initial-exec"))) thread_local int tlsDepth = 0;
constinit std::atomic<mode_t> gUmask{0};
constinit pid_t gPid = 0;

std::string& prefixStorage() {
  static std::string* p = [] {
    const char* env = getenv("MYFS_PREFIX");
    std::string s = env && *env == '/' ? env : "/myfs";
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return new std::string(s);
  }();
  return *p;
}

// The current directory: inside myfs (mount-relative) or the kernel's. Built on first
// use: interposers can run before this file's static initializers.
struct CwdState {
  std::mutex mu;
  bool isVirtual = false;
  std::string rel;   // when virtual
  std::uint64_t ino = 0;  // when virtual: the inode the Vfs holds (0: none yet)
  std::string real;  // when known and not virtual ("" = ask the kernel)
};
CwdState& cwdState() {
  static CwdState* state = new CwdState;
  return *state;
}

// The inode the Vfs holds as the current directory (0: none), also for exec'd programs
// (MYFS_CWD_INO). cwd.mu held.
void noteHeldCwd(CwdState& cwd, std::uint64_t ino) {
  const bool exported = getenv("MYFS_CWD_INO") != nullptr;
  if (ino == cwd.ino && exported == (ino != 0)) return;  // no setenv racing other threads' getenv
  cwd.ino = ino;
  if (ino == 0) {
    unsetenv("MYFS_CWD_INO");
  } else {
    setenv("MYFS_CWD_INO", std::to_string(ino).c_str(), 1);
  }
}

// A vfork()ed child shares the parent's memory (and environ): its chdir must leave the
// parent's state alone. It records its own directory here, tagged with its pid, without
// allocating; the parent, resumed after the child's exec or exit, sees another pid.
struct VforkCwd {
  pid_t pid;
  bool isVirtual;
  char rel[PATH_MAX];
};
constinit VforkCwd gVforkCwd{0, false, {}};

pid_t currentPid() { return static_cast<pid_t>(syscall(SYS_getpid)); }

// The vfork child's own directory, if this process is a vfork child that changed it.
const VforkCwd* vforkCwd() {
  if (gVforkCwd.pid == 0) return nullptr;
  if (gVforkCwd.pid != currentPid()) {
    if (!inVforkChild()) gVforkCwd.pid = 0;  // left over from a child that has exec'd
    return nullptr;
  }
  return &gVforkCwd;
}

std::string libraryDir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&libraryDir), &info) == 0 || info.dli_fname == nullptr) return ".";
  std::string p = info.dli_fname;
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

void childAfterFork() {
  gPid = static_cast<pid_t>(syscall(SYS_getpid));
  ClientApi* api = gApi.load();
  if (api != nullptr) {
    closeParentConnectionsInChild();
    api->afterFork();
  }
  new (&gStartMu) std::mutex();
  new (&cwdState().mu) std::mutex();
  resetDescriptionLockInChild();
}

void beforeFork() {
  if (!inShim() && !inVforkChild()) prepareFork();
}

// Writes back what this process wrote (shadows, dirty pages); `stdio` also flushes
// stdio streams first (exit(), not _exit()).
void flushAtExit(bool stdio) {
  if (inVforkChild()) return;
  if (stdio) fflush(nullptr);  // stdio streams over myfs files and shadows write first
  (void)writeBackSharedMaps();  // stores in MAP_SHARED mappings of myfs files
  syncAllShadows();
  ClientApi* api = gApi.load();
  if (api == nullptr) return;
  Guard g;
  (void)api->vfs->syncAll();
  api->vfs->releaseLocksAtExit();  // the kernel drops a dying process's locks
}

__attribute__((constructor)) void shimInit() {
  int saved = errno;
  gPid = static_cast<pid_t>(syscall(SYS_getpid));
  (void)prefixStorage();
  mode_t m = MYFS_REAL(umask)(022);
  MYFS_REAL(umask)(m);
  gUmask = m;
  pthread_atfork(&beforeFork, nullptr, &childAfterFork);
  prepareVfork();
  adoptInheritedShadows();
  findInheritedFds();
  if (const char* cwd = getenv("MYFS_CWD"); cwd != nullptr && *cwd != '\0') {
    // Started by a process whose current directory was inside myfs.
    cwdState().isVirtual = true;
    cwdState().rel = strcmp(cwd, "/") == 0 ? "" : cwd;
    if (const char* ino = getenv("MYFS_CWD_INO"); ino != nullptr) cwdState().ino = strtoull(ino, nullptr, 10);
  }
  errno = saved;
}

__attribute__((destructor)) void shimFini() {
  int saved = errno;
  flushAtExit(true);
  errno = saved;
}

}  // namespace

void flushBeforeExit() { flushAtExit(false); }

void* resolveNext(const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  if (p == nullptr) {
    fprintf(stderr, "myfs: libc has no %s\n", name);
    abort();
  }
  return p;
}

bool inShim() { return tlsDepth > 0; }

bool isMyfsFd(int fd) {
  if (tlsDepth > 0) return false;
  ClientApi* api = gApi.load(std::memory_order_acquire);
  if (api != nullptr && api->vfs->isOpen(fd)) return true;
  return anyInheritedPending() && inheritedMyfsFd(fd);
}
Guard::Guard() { ++tlsDepth; }
Guard::~Guard() { --tlsDepth; }

bool inVforkChild() { return memorySharingChildMayExist() && static_cast<pid_t>(syscall(SYS_getpid)) != gPid; }

const std::string& prefix() { return prefixStorage(); }

mode_t currentUmask() { return gUmask.load(std::memory_order_relaxed); }
void setCurrentUmask(mode_t mask) { gUmask.store(mask, std::memory_order_relaxed); }

Vfs* loadedVfs() {
  ClientApi* api = gApi.load(std::memory_order_acquire);
  return api ? api->vfs : nullptr;
}

Vfs* startVfs() {
  if (ClientApi* api = gApi.load(std::memory_order_acquire)) return api->vfs;
  if (gStartFailed.load()) return nullptr;
  Guard g;
  int saved = errno;
  std::lock_guard lock(gStartMu);
  if (ClientApi* api = gApi.load()) return api->vfs;
  const char* override = getenv("MYFS_CLIENT_LIB");
  std::string lib = override && *override ? override : libraryDir() + "/libmyfs_client.so";
  void* handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  char error[512] = {};
  ClientApi* api = nullptr;
  if (handle == nullptr) {
    snprintf(error, sizeof error, "cannot load %s: %s", lib.c_str(), dlerror());
  } else {
    using Start = ClientApi* (*)(const ShimHooks*, char*, unsigned long);
    auto start = reinterpret_cast<Start>(dlsym(handle, "myfs_client_start"));
    static const ShimHooks hooks{&enterInternalThread, &internalScope};
    if (start == nullptr) {
      snprintf(error, sizeof error, "%s has no myfs_client_start", lib.c_str());
    } else {
      api = start(&hooks, error, sizeof error);
    }
  }
  errno = saved;
  if (api == nullptr) {
    fprintf(stderr, "myfs: %s; operations under %s fail with EIO\n", error, prefix().c_str());
    gStartFailed = true;
    return nullptr;
  }
  gApi.store(api, std::memory_order_release);
  vforkBecomesFork();
  // A current directory inherited in MYFS_CWD is held from now on, as chdir holds it.
  if (!inVforkChild()) {
    CwdState& cwd = cwdState();
    std::lock_guard cwdLock(cwd.mu);
    if (cwd.isVirtual) noteHeldCwd(cwd, api->vfs->holdCwd(cwd.rel, cwd.ino));
  }
  return api->vfs;
}

namespace {

// Whether the path contains "/.." (a ".." component after some directory), in one pass.
bool hasDotDotComponent(const char* path) {
  for (const char* c = path; *c != '\0'; ++c) {
    if (c[0] == '/' && c[1] == '.' && c[2] == '.') return true;
  }
  return false;
}

// Whether a relative path taken from some kernel directory could end in the mount: it
// climbs with "..", or its first component is one of the mount point's (for "/myfs":
// "myfs", from "/").
bool mayLeadIntoMount(const char* path) {
  if (strstr(path, "..") != nullptr) return true;
  const char* slash = strchr(path, '/');
  const std::string_view first(path, slash != nullptr ? static_cast<size_t>(slash - path) : strlen(path));
  if (first.empty()) return false;
  const std::string& p = prefixStorage();
  for (size_t at = p.find(first); at != std::string::npos; at = p.find(first, at + 1)) {
    const bool starts = at > 0 && p[at - 1] == '/';
    const bool ends = at + first.size() == p.size() || p[at + first.size()] == '/';
    if (starts && ends) return true;
  }
  return false;
}

}  // namespace

Routed route(int dirfd, const char* path) {
  Routed r;
  // A bad pointer goes to the kernel, which answers EFAULT; so does "" (ENOENT), which
  // names nothing, not the current directory: a call that takes AT_EMPTY_PATH handles
  // that case before asking here.
  if (inShim() || badUserAddress(path) || path[0] == '\0') return r;
  if (path[0] == '/') {
    // Fast path for kernel paths (every call of every program pays it): neither the
    // prefix at the start (after any extra leading slashes) nor a "/.." anywhere.
    const std::string& p = prefixStorage();
    const char* start = path;
    while (start[0] == '/' && start[1] == '/') ++start;
    if (strncmp(start, p.data(), p.size()) != 0 && !hasDotDotComponent(path)) return r;
    if (underPrefix(path, p, &r.rel)) {
      r.myfs = true;
      return r;
    }
    if (hasDotDotComponent(path)) {
      std::string norm = lexicalNormalize(path);
      if (underPrefix(norm, prefixStorage(), &r.rel)) r.myfs = true;
    }
    return r;
  }
  if (dirfd != AT_FDCWD) {
    if (isMyfsFd(dirfd)) {
      r.myfs = true;
      r.at = At::dir(dirfd);
      r.rel = path;
    } else if (mayLeadIntoMount(path)) {
      // A kernel directory fd: the mount is reached from an ancestor of the mount point
      // (rsync opens "/" and then walks "myfs/...") or through "..".
      char proc[64], dir[PATH_MAX];
      snprintf(proc, sizeof proc, "/proc/self/fd/%d", dirfd);
      ssize_t n = MYFS_REAL(readlink)(proc, dir, sizeof dir - 1);
      if (n > 0 && dir[0] == '/') {
        dir[n] = '\0';
        std::string joined = lexicalNormalize(std::string(dir) + "/" + path);
        if (underPrefix(joined, prefixStorage(), &r.rel)) r.myfs = true;
      }
    }
    return r;
  }
  if (const VforkCwd* v = vforkCwd()) {
    if (!v->isVirtual) return r;  // the child moved to a kernel directory
    r.myfs = true;
    r.rel = v->rel[0] == '\0' ? std::string(path) : std::string(v->rel) + "/" + path;
    return r;
  }
  CwdState& cwd = cwdState();
  std::lock_guard lock(cwd.mu);
  if (cwd.isVirtual) {
    r.myfs = true;
    r.at = At::cwd();
    r.rel = cwd.rel.empty() ? std::string(path) : cwd.rel + "/" + path;
    return r;
  }
  // A relative path from a kernel directory reaches the mount only through ".." or
  // from an ancestor of the mount point.
  if (cwd.real.empty()) {
    char buf[PATH_MAX];
    if (MYFS_REAL(getcwd)(buf, sizeof buf) == nullptr) return r;
    cwd.real = buf;
  }
  const std::string& p = prefixStorage();
  const bool ancestor = cwd.real == "/" || (p.compare(0, cwd.real.size(), cwd.real) == 0 && p[cwd.real.size()] == '/');
  if (!ancestor && strstr(path, "..") == nullptr) return r;
  std::string joined = lexicalNormalize(cwd.real + "/" + path);
  if (underPrefix(joined, prefixStorage(), &r.rel)) r.myfs = true;
  return r;
}

bool virtualCwd(std::string* rel, std::uint64_t* ino) {
  if (const VforkCwd* v = vforkCwd()) {
    if (!v->isVirtual) return false;
    *rel = v->rel;
    if (ino != nullptr) *ino = 0;
    return true;
  }
  CwdState& cwd = cwdState();
  std::lock_guard lock(cwd.mu);
  if (!cwd.isVirtual) return false;
  *rel = cwd.rel;
  if (ino != nullptr) *ino = cwd.ino;
  return true;
}

// The environment carries the myfs directory to programs exec'd with `environ`
// (execv, system, popen); execve and posix_spawn add it to explicit envps.
void setVirtualCwd(const std::string& rel, std::uint64_t ino) {
  if (inVforkChild()) {
    if (rel.size() >= sizeof gVforkCwd.rel) return;
    gVforkCwd.isVirtual = true;
    memcpy(gVforkCwd.rel, rel.c_str(), rel.size() + 1);
    gVforkCwd.pid = currentPid();
    return;
  }
  CwdState& cwd = cwdState();
  std::lock_guard lock(cwd.mu);
  cwd.isVirtual = true;
  cwd.rel = rel;
  setenv("MYFS_CWD", rel.empty() ? "/" : rel.c_str(), 1);
  std::uint64_t held = 0;
  if (Vfs* vfs = loadedVfs()) {
    Guard g;
    held = vfs->holdCwd(rel, ino);
  }
  noteHeldCwd(cwd, held);
}

void followRenamedCwd(const std::string& from, const std::string& to, bool exchanged) {
  std::string rel;
  std::uint64_t ino = 0;
  if (!virtualCwd(&rel, &ino)) return;
  auto under = [&rel](const std::string& dir) {
    return rel == dir || (rel.size() > dir.size() && rel.compare(0, dir.size(), dir) == 0 && rel[dir.size()] == '/');
  };
  auto moved = [&rel](const std::string& dir, const std::string& now) {
    std::string rest = rel.substr(dir.size());
    if (now.empty() && !rest.empty()) rest.erase(0, 1);
    return now + rest;
  };
  // The held directory stays held: a rename does not change the inode (or revive a
  // removed current directory whose name a new directory took).
  if (!from.empty() && under(from)) {
    setVirtualCwd(moved(from, to), ino);
  } else if (exchanged && !to.empty() && under(to)) {
    setVirtualCwd(moved(to, from), ino);
  }
}

void clearVirtualCwd(const char* realPath) {
  if (inVforkChild()) {
    gVforkCwd.isVirtual = false;
    gVforkCwd.pid = currentPid();
    return;
  }
  CwdState& cwd = cwdState();
  std::lock_guard lock(cwd.mu);
  if (cwd.isVirtual) {
    unsetenv("MYFS_CWD");
    noteHeldCwd(cwd, 0);
  }
  if (Vfs* vfs = loadedVfs(); vfs != nullptr && cwd.isVirtual) {
    Guard g;
    vfs->releaseCwd();
  }
  cwd.isVirtual = false;
  cwd.real = realPath != nullptr && realPath[0] == '/' ? lexicalNormalize(realPath) : "";
}

std::string lexicalMyfsDirectory(const Routed& r) {
  std::string base;  // route() made r.rel mount-relative unless it is relative to a dir fd
  if (r.at.dirFd >= 0 && loadedVfs() != nullptr) {
    if (auto p = loadedVfs()->fdPath(r.at.dirFd)) base = *p;  // the fd table only, no call
  }
  std::string norm = lexicalNormalize("/" + base + "/" + r.rel);
  while (norm.size() > 1 && norm.back() == '/') norm.pop_back();
  return norm == "/" ? "" : norm.substr(1);
}

int newPlaceholder(bool cloexec, bool directory) {
  (void)directory;
  // A duplicate of one /dev/null kept open (the lowest free number, as open would
  // give): no path lookup per open. /dev/null has no state a duplicate could share.
  static int master = keepInternal(MYFS_REAL(open)("/dev/null", O_RDWR | O_CLOEXEC));
  if (master >= 0) {
    int fd = MYFS_REAL(fcntl)(master, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
    if (fd >= 0) return fd;
  }
  return MYFS_REAL(open)("/dev/null", O_RDWR | (cloexec ? O_CLOEXEC : 0));
}

void logOnce(const char* what) {
  static std::mutex mu;
  static std::set<std::string>* seen = new std::set<std::string>;
  std::lock_guard lock(mu);
  if (seen->insert(what).second) fprintf(stderr, "myfs: %s\n", what);
}

}  // namespace myfs::preload
