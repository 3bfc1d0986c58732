// mkstemp and friends, which open through glibc's internal open(): for templates under
// the mount, the name is made here and created with O_EXCL through the Vfs.
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "preload/shim.h"

namespace myfs::preload {
namespace {

constexpr int kAttempts = 100;

// Replaces the six X's before `suffixLen` trailing characters; EINVAL if absent.
bool fillTemplate(char* tmpl, int suffixLen, std::mt19937_64& rng) {
  const size_t len = strlen(tmpl);
  if (suffixLen < 0 || len < 6 + static_cast<size_t>(suffixLen)) return false;
  char* x = tmpl + len - suffixLen - 6;
  if (strncmp(x, "XXXXXX", 6) != 0) return false;
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (int i = 0; i < 6; ++i) x[i] = kChars[rng() % (sizeof kChars - 1)];
  return true;
}

std::mt19937_64& nameRandom() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^ static_cast<std::uint64_t>(getpid())};
  return rng;
}

int makeTempFile(char* tmpl, int suffixLen, int flags) {
  const std::string original = tmpl;
  for (int i = 0; i < kAttempts; ++i) {
    if (!fillTemplate(tmpl, suffixLen, nameRandom())) return failWith(EINVAL);
    int fd = ::open(tmpl, (flags & ~O_ACCMODE) | O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd >= 0 || errno != EEXIST) return fd;
    memcpy(tmpl, original.c_str(), original.size());
  }
  return failWith(EEXIST);
}

}  // namespace
}  // namespace myfs::preload

using namespace myfs::preload;  // NOLINT

MYFS_EXPORT int mkstemp(char* tmpl) {
  if (!route(tmpl).myfs) return MYFS_REAL(mkstemp)(tmpl);
  return makeTempFile(tmpl, 0, 0);
}
MYFS_EXPORT int mkstemp64(char* tmpl) { return mkstemp(tmpl); }
MYFS_EXPORT int mkostemp(char* tmpl, int flags) {
  if (!route(tmpl).myfs) return MYFS_REAL(mkostemp)(tmpl, flags);
  return makeTempFile(tmpl, 0, flags);
}
MYFS_EXPORT int mkostemp64(char* tmpl, int flags) { return mkostemp(tmpl, flags); }
MYFS_EXPORT int mkstemps(char* tmpl, int suffixLen) {
  if (!route(tmpl).myfs) return MYFS_REAL(mkstemps)(tmpl, suffixLen);
  return makeTempFile(tmpl, suffixLen, 0);
}
MYFS_EXPORT int mkstemps64(char* tmpl, int suffixLen) { return mkstemps(tmpl, suffixLen); }
MYFS_EXPORT int mkostemps(char* tmpl, int suffixLen, int flags) {
  if (!route(tmpl).myfs) return MYFS_REAL(mkostemps)(tmpl, suffixLen, flags);
  return makeTempFile(tmpl, suffixLen, flags);
}
MYFS_EXPORT int mkostemps64(char* tmpl, int suffixLen, int flags) { return mkostemps(tmpl, suffixLen, flags); }

MYFS_EXPORT char* mkdtemp(char* tmpl) noexcept {
  if (!route(tmpl).myfs) return MYFS_REAL(mkdtemp)(tmpl);
  const std::string original = tmpl;
  for (int i = 0; i < kAttempts; ++i) {
    if (!fillTemplate(tmpl, 0, nameRandom())) {
      errno = EINVAL;
      return nullptr;
    }
    if (::mkdir(tmpl, 0700) == 0) return tmpl;
    if (errno != EEXIST) return nullptr;
    memcpy(tmpl, original.c_str(), original.size());
  }
  errno = EEXIST;
  return nullptr;
}
