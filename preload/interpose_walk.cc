// glob(3) over myfs: glibc's glob reads directories through its internal opendir, which
// the shim cannot see; for a pattern under the mount it is run with GLOB_ALTDIRFUNC and
// the shim's own directory and stat calls.
#include <dirent.h>
#include <glob.h>
#include <sys/stat.h>

#include "preload/shim.h"

using namespace myfs;           // NOLINT
using namespace myfs::preload;  // NOLINT

namespace {

void* openDirectory(const char* path) { return opendir(path); }
struct dirent* readDirectory(void* dir) { return readdir(static_cast<DIR*>(dir)); }
void closeDirectory(void* dir) { closedir(static_cast<DIR*>(dir)); }
int statPath(const char* path, struct stat* st) { return stat(path, st); }
int lstatPath(const char* path, struct stat* st) { return lstat(path, st); }

}  // namespace

MYFS_EXPORT int glob(const char* pattern, int flags, int (*errfunc)(const char*, int), glob_t* pglob) {
  if ((flags & GLOB_ALTDIRFUNC) || pglob == nullptr || !route(pattern).myfs) {
    return MYFS_REAL(glob)(pattern, flags, errfunc, pglob);
  }
  pglob->gl_opendir = &openDirectory;
  pglob->gl_readdir = &readDirectory;
  pglob->gl_closedir = &closeDirectory;
  pglob->gl_stat = &statPath;
  pglob->gl_lstat = &lstatPath;
  return MYFS_REAL(glob)(pattern, flags | GLOB_ALTDIRFUNC, errfunc, pglob);
}

// glob64 is glob on 64-bit Linux (same glob_t layout).
MYFS_EXPORT int glob64(const char* pattern, int flags, int (*errfunc)(const char*, int), glob64_t* pglob) {
  return glob(pattern, flags, errfunc, reinterpret_cast<glob_t*>(pglob));
}
