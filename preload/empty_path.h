// AT_EMPTY_PATH: "" names the file dirfd refers to (or the current directory for
// AT_FDCWD). route() sends "" to the kernel (ENOENT); the calls that take the flag ask
// here first.
#pragma once

#include <fcntl.h>

#include <string>

#include "preload/shim.h"
#include "preload/user_memory.h"

namespace myfs::preload {

inline bool isEmptyString(const char* path) { return !badUserAddress(path) && path[0] == '\0'; }

// Where ("" with AT_EMPTY_PATH, dirfd) leads: a myfs fd (At::dir(fd), rel ""), which the
// Vfs walk takes as the file itself, or the current directory inside myfs.
inline Routed routeEmptyPath(int dirfd) {
  Routed r;
  if (inShim()) return r;
  if (dirfd == AT_FDCWD) {
    std::string cwd;
    if (virtualCwd(&cwd)) {
      r.myfs = true;
      r.rel = cwd.empty() ? "." : cwd;
    }
    return r;
  }
  if (isMyfsFd(dirfd)) {
    r.myfs = true;
    r.at = At::dir(dirfd);
  }
  return r;
}

}  // namespace myfs::preload
