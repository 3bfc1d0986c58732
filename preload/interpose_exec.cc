// Programs started from a process whose current directory is inside myfs start there
// too: the directory travels in MYFS_CWD, which execve and posix_spawn add to the
// environment they pass on (callers such as bash and make build their own envp).
// Likewise MYFS_SHADOWS tells a program that it may inherit shadow files (shadow.h).
#include <spawn.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "preload/shadow.h"
#include "preload/shim.h"

namespace myfs::preload {
namespace {

constexpr char kCwdVar[] = "MYFS_CWD=";
constexpr char kShadowsVar[] = "MYFS_SHADOWS=1";

// envp with MYFS_CWD set to the current myfs directory (or removed when the current
// directory is the kernel's), and MYFS_SHADOWS when shadow files may be inherited.
// `storage` keeps the new strings alive.
std::vector<char*> withCwd(char* const envp[], std::string* storage) {
  std::vector<char*> out;
  for (char* const* e = envp; e != nullptr && *e != nullptr; ++e) {
    if (strncmp(*e, kCwdVar, sizeof kCwdVar - 1) != 0 && strncmp(*e, "MYFS_SHADOWS=", 13) != 0) out.push_back(*e);
  }
  if (anyShadows()) out.push_back(const_cast<char*>(kShadowsVar));
  std::string rel;
  if (virtualCwd(&rel)) {
    *storage = std::string(kCwdVar) + (rel.empty() ? "/" : rel);
    out.push_back(storage->data());
  }
  out.push_back(nullptr);
  return out;
}

}  // namespace
}  // namespace myfs::preload

using namespace myfs;           // NOLINT
using namespace myfs::preload;  // NOLINT

MYFS_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  std::string storage;
  std::vector<char*> env = withCwd(envp, &storage);
  if (!inVforkChild()) syncAllShadows();  // the new program sees, and later writes back, all of it
  return MYFS_REAL(execve)(path, argv, env.data());
}

// The exec wrappers call glibc's internal execve, never ours: each gets the same
// environment treatment here.
MYFS_EXPORT int execv(const char* path, char* const argv[]) noexcept { return execve(path, argv, environ); }

MYFS_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  std::string storage;
  std::vector<char*> env = withCwd(envp, &storage);
  if (!inVforkChild()) syncAllShadows();
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
  std::string storage;
  std::vector<char*> env = withCwd(envp, &storage);
  if (!inVforkChild()) syncAllShadows();  // the new program sees, and later writes back, all of it
  return MYFS_REAL(posix_spawn)(pid, path, actions, attr, argv, env.data());
}

MYFS_EXPORT int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                             const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  std::string storage;
  std::vector<char*> env = withCwd(envp, &storage);
  if (!inVforkChild()) syncAllShadows();  // the new program sees, and later writes back, all of it
  return MYFS_REAL(posix_spawnp)(pid, file, actions, attr, argv, env.data());
}
