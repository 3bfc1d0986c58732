// Programs started from a process whose current directory is inside myfs start there
// too: the directory travels in MYFS_CWD, which execve and posix_spawn add to the
// environment they pass on (callers such as bash and make build their own envp).
// Likewise MYFS_SHADOWS tells a program that it may inherit shadow files (shadow.h).
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "preload/inherit.h"
#include "preload/mmap_shared.h"
#include "preload/shadow.h"
#include "preload/shim.h"

namespace myfs::preload {
namespace {

constexpr char kCwdVar[] = "MYFS_CWD=";
constexpr char kCwdInoVar[] = "MYFS_CWD_INO=";
constexpr char kShadowsVar[] = "MYFS_SHADOWS=1";

constexpr char kFdsVar[] = "MYFS_FDS=1";

bool startsWith(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

// Everything an exec needs first: dirty data written back, shadows written back, open
// myfs files shared (inherit.h). Returns whether the new program inherits myfs fds.
bool prepareForExec() {
  if (inVforkChild()) return false;  // nothing of the parent's may change
  syncAllShadows();  // the new program sees, and later writes back, all of it
  (void)writeBackSharedMaps();  // the new image has no mappings left to write back
  return prepareExec();
}

// envp with MYFS_CWD set to the current myfs directory (or removed when the current
// directory is the kernel's), MYFS_SHADOWS when shadow files may be inherited and
// MYFS_FDS when myfs fds are. `storage` (two strings) keeps the new strings alive.
std::vector<char*> withCwd(char* const envp[], std::string* storage, bool inheritsFds) {
  std::vector<char*> out;
  for (char* const* e = envp; e != nullptr && *e != nullptr; ++e) {
    if (!startsWith(*e, kCwdVar) && !startsWith(*e, kCwdInoVar) && !startsWith(*e, "MYFS_SHADOWS=") &&
        !startsWith(*e, "MYFS_FDS=")) {
      out.push_back(*e);
    }
  }
  if (anyShadows()) out.push_back(const_cast<char*>(kShadowsVar));
  if (inheritsFds) out.push_back(const_cast<char*>(kFdsVar));
  std::string rel;
  std::uint64_t ino = 0;
  if (virtualCwd(&rel, &ino)) {
    storage[0] = std::string(kCwdVar) + (rel.empty() ? "/" : rel);
    out.push_back(storage[0].data());
    if (ino != 0) {
      storage[1] = std::string(kCwdInoVar) + std::to_string(ino);
      out.push_back(storage[1].data());
    }
  }
  out.push_back(nullptr);
  return out;
}

// Executes a program stored in myfs: the kernel needs a real file, so its content is
// copied into a memfd and run from there (fexecve). For a `#!` script the memfd is not
// close-on-exec, so that its interpreter can open it (as /dev/fd/N, which is also what
// the script sees as $0). Returns -1 with errno set (on success it does not return).
int execFromMyfs(const Routed& r, char* const argv[], char* const envp[]) {
  if (inVforkChild()) return failWith(ENOEXEC);  // would need the parent's client
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  int memfd = -1;
  {
    Guard g;
    auto attr = vfs->stat(r.at, r.rel, true);
    if (!attr) return failWith(isEscape(attr.err()) ? ENOENT : attr.err());
    if (attr->isDir()) return failWith(EACCES);
    if (auto x = vfs->access(r.at, r.rel, X_OK, true); !x) return failWith(x.err());
    int ph = newPlaceholder(true, false);
    if (ph < 0) return -1;
    if (auto o = vfs->open(ph, r.at, r.rel, O_RDONLY, 0); !o) {
      MYFS_REAL(close)(ph);
      return failWith(o.err());
    }
    std::vector<char> buf(1 << 20);
    auto head = vfs->pread(ph, buf.data(), 2, 0);
    const bool script = head && *head == 2 && buf[0] == '#' && buf[1] == '!';
    memfd = memfd_create("myfs-exec", script ? 0 : MFD_CLOEXEC);
    off_t off = 0;
    while (memfd >= 0) {
      auto n = vfs->pread(ph, buf.data(), buf.size(), off);
      if (!n || *n == 0) break;
      if (MYFS_REAL(write)(memfd, buf.data(), *n) != static_cast<ssize_t>(*n)) break;
      off += static_cast<off_t>(*n);
    }
    (void)vfs->close(ph);
    MYFS_REAL(close)(ph);
    if (memfd < 0 || static_cast<std::uint64_t>(off) != attr->size) {
      if (memfd >= 0) MYFS_REAL(close)(memfd);
      return failWith(EIO);
    }
  }
  fexecve(memfd, argv, envp);
  int err = errno;
  MYFS_REAL(close)(memfd);
  return failWith(err);
}

}  // namespace
}  // namespace myfs::preload

using namespace myfs;           // NOLINT
using namespace myfs::preload;  // NOLINT

MYFS_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  std::string storage[2];
  std::vector<char*> env = withCwd(envp, storage, prepareForExec());
  if (Routed r = route(path); r.myfs) return execFromMyfs(r, argv, env.data());
  return MYFS_REAL(execve)(path, argv, env.data());
}

// The exec wrappers call glibc's internal execve, never ours: each gets the same
// environment treatment here.
MYFS_EXPORT int execv(const char* path, char* const argv[]) noexcept { return execve(path, argv, environ); }

MYFS_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  std::string storage[2];
  std::vector<char*> env = withCwd(envp, storage, prepareForExec());
  if (file != nullptr && strchr(file, '/') != nullptr) {
    if (Routed r = route(file); r.myfs) return execFromMyfs(r, argv, env.data());
  }
  return MYFS_REAL(execvpe)(file, argv, env.data());
}

MYFS_EXPORT int execvp(const char* file, char* const argv[]) noexcept { return execvpe(file, argv, environ); }

namespace {

// The arguments of an execl-style call, up to the terminating null; `envp` receives the
// pointer after it when `withEnv`.
std::vector<char*> collectArgs(const char* arg0, va_list ap, char* const** envp) {
  std::vector<char*> args{const_cast<char*>(arg0)};
  while (char* a = va_arg(ap, char*)) args.push_back(a);
  args.push_back(nullptr);
  if (envp != nullptr) *envp = va_arg(ap, char* const*);
  return args;
}

}  // namespace

MYFS_EXPORT int execl(const char* path, const char* arg0, ...) noexcept {
  va_list ap;
  va_start(ap, arg0);
  std::vector<char*> args = collectArgs(arg0, ap, nullptr);
  va_end(ap);
  return execve(path, args.data(), environ);
}

MYFS_EXPORT int execlp(const char* file, const char* arg0, ...) noexcept {
  va_list ap;
  va_start(ap, arg0);
  std::vector<char*> args = collectArgs(arg0, ap, nullptr);
  va_end(ap);
  return execvpe(file, args.data(), environ);
}

MYFS_EXPORT int execle(const char* path, const char* arg0, ...) noexcept {
  va_list ap;
  va_start(ap, arg0);
  char* const* envp = nullptr;
  std::vector<char*> args = collectArgs(arg0, ap, &envp);
  va_end(ap);
  return execve(path, args.data(), envp);
}

MYFS_EXPORT int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                            const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  std::string storage[2];
  std::vector<char*> env = withCwd(envp, storage, prepareForExec());
  return MYFS_REAL(posix_spawn)(pid, path, actions, attr, argv, env.data());
}

MYFS_EXPORT int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                             const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  std::string storage[2];
  std::vector<char*> env = withCwd(envp, storage, prepareForExec());
  return MYFS_REAL(posix_spawnp)(pid, file, actions, attr, argv, env.data());
}

// glibc's system() and popen() spawn /bin/sh through its internal posix_spawn, with
// `environ`: the preparations happen here and MYFS_FDS goes into the environment.
MYFS_EXPORT int system(const char* command) {
  if (prepareForExec()) setenv("MYFS_FDS", "1", 1);
  return MYFS_REAL(system)(command);
}

MYFS_EXPORT FILE* popen(const char* command, const char* type) {
  if (prepareForExec()) setenv("MYFS_FDS", "1", 1);
  return MYFS_REAL(popen)(command, type);
}

// _exit skips destructors: what the process wrote is written back here.
MYFS_EXPORT void _exit(int status) {
  if (!inShim()) flushBeforeExit();
  MYFS_REAL(_exit)(status);
  __builtin_unreachable();
}

MYFS_EXPORT void _Exit(int status) {
  if (!inShim()) flushBeforeExit();
  MYFS_REAL(_Exit)(status);
  __builtin_unreachable();
}

// RLIMIT_FSIZE is read by the Vfs at start and again when it changes here, so that
// writes need no getrlimit call.
namespace {

void noteLimit(int resource, int rc) {
  if (rc == 0 && resource == RLIMIT_FSIZE && !inShim() && !inVforkChild()) {
    if (Vfs* vfs = loadedVfs()) vfs->resourceLimitsChanged();
  }
}

}  // namespace

MYFS_EXPORT int setrlimit(__rlimit_resource_t resource, const struct rlimit* rl) noexcept {
  int rc = MYFS_REAL(setrlimit)(resource, rl);
  noteLimit(resource, rc);
  return rc;
}
MYFS_EXPORT int setrlimit64(__rlimit_resource_t resource, const struct rlimit64* rl) noexcept {
  int rc = MYFS_REAL(setrlimit64)(resource, rl);
  noteLimit(resource, rc);
  return rc;
}
MYFS_EXPORT int prlimit(pid_t pid, enum __rlimit_resource resource, const struct rlimit* rl, struct rlimit* old) noexcept {
  int rc = MYFS_REAL(prlimit)(pid, resource, rl, old);
  if (rl != nullptr && (pid == 0 || pid == getpid())) noteLimit(resource, rc);
  return rc;
}
MYFS_EXPORT int prlimit64(pid_t pid, enum __rlimit_resource resource, const struct rlimit64* rl,
                          struct rlimit64* old) noexcept {
  int rc = MYFS_REAL(prlimit64)(pid, resource, rl, old);
  if (rl != nullptr && (pid == 0 || pid == getpid())) noteLimit(resource, rc);
  return rc;
}

// The Vfs reads the process's ids once and again when they change here, so that a path
// walk through cached directories makes no system call.
namespace {

int noteIds(int rc) {
  if (rc == 0 && !inShim() && !inVforkChild()) {
    if (Vfs* vfs = loadedVfs()) vfs->credentialsChanged();
  }
  return rc;
}

}  // namespace

MYFS_EXPORT int setuid(uid_t uid) noexcept { return noteIds(MYFS_REAL(setuid)(uid)); }
MYFS_EXPORT int setgid(gid_t gid) noexcept { return noteIds(MYFS_REAL(setgid)(gid)); }
MYFS_EXPORT int seteuid(uid_t uid) noexcept { return noteIds(MYFS_REAL(seteuid)(uid)); }
MYFS_EXPORT int setegid(gid_t gid) noexcept { return noteIds(MYFS_REAL(setegid)(gid)); }
MYFS_EXPORT int setreuid(uid_t r, uid_t e) noexcept { return noteIds(MYFS_REAL(setreuid)(r, e)); }
MYFS_EXPORT int setregid(gid_t r, gid_t e) noexcept { return noteIds(MYFS_REAL(setregid)(r, e)); }
MYFS_EXPORT int setresuid(uid_t r, uid_t e, uid_t s) noexcept { return noteIds(MYFS_REAL(setresuid)(r, e, s)); }
MYFS_EXPORT int setresgid(gid_t r, gid_t e, gid_t s) noexcept { return noteIds(MYFS_REAL(setresgid)(r, e, s)); }
MYFS_EXPORT int setgroups(size_t n, const gid_t* groups) noexcept { return noteIds(MYFS_REAL(setgroups)(n, groups)); }
