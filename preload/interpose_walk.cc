// glob(3), nftw(3) and ftw(3) over myfs. glibc's glob reads directories through its
// internal opendir, which the shim cannot see: for a pattern under the mount it is run
// with GLOB_ALTDIRFUNC and the shim's own directory and stat calls.
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <glob.h>
#include <string.h>
#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

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

// nftw(3) and ftw(3) over myfs: glibc's walk also uses its internal opendir and stat, so
// for a start under the mount the walk is done here with the shim's calls, in the same
// order and with the same type flags and FTW_ACTIONRETVAL/FTW_DEPTH/FTW_PHYS/FTW_CHDIR
// handling as glibc's.
namespace {

using NftwFn = int (*)(const char*, const struct stat*, int, struct FTW*);

struct Walker {
  NftwFn fn;
  int flags;
  bool ftw;  // ftw(3): a dangling symlink is FTW_NS, not FTW_SLN
  // Directories visited: without FTW_PHYS each is walked once, however many symlinks lead
  // to it (glibc keeps the same record).
  std::vector<std::pair<dev_t, ino_t>> seen;
  bool actionRetval() const { return (flags & FTW_ACTIONRETVAL) != 0; }
};

// Visits `path` (base: offset of its last component) at `level`. Returns the callback's
// verdict: 0 to go on, else what nftw returns (with FTW_ACTIONRETVAL: FTW_SKIP_SIBLINGS
// is passed up to the caller's loop).
int visit(Walker& w, std::string& path, int base, int level) {
  struct stat st {};
  int type;
  const bool phys = (w.flags & FTW_PHYS) != 0;
  if ((phys ? lstat(path.c_str(), &st) : stat(path.c_str(), &st)) != 0) {
    if (level == 0 || (errno != EACCES && errno != ENOENT)) return -1;  // errno set
    if (!phys && !w.ftw && lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      type = FTW_SLN;
    } else {
      type = FTW_NS;
    }
  } else if (S_ISDIR(st.st_mode)) {
    type = FTW_D;
  } else if (S_ISLNK(st.st_mode)) {
    type = FTW_SL;
  } else {
    type = FTW_F;
  }
  FTW ftw{base, level};
  if (type != FTW_D) return w.fn(path.c_str(), &st, type, &ftw);
  for (const auto& [dev, ino] : w.seen) {
    if (dev == st.st_dev && ino == st.st_ino) return 0;  // reached again through a symlink
  }
  if (!phys) w.seen.emplace_back(st.st_dev, st.st_ino);
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return w.fn(path.c_str(), &st, FTW_DNR, &ftw);
  const bool depth = (w.flags & FTW_DEPTH) != 0;
  if (!depth) {
    int r = w.fn(path.c_str(), &st, FTW_D, &ftw);
    if (r != 0 && !(w.actionRetval() && r == FTW_SKIP_SUBTREE)) {
      closedir(dir);
      return r;
    }
    if (r == FTW_SKIP_SUBTREE) {
      closedir(dir);
      return 0;
    }
  }
  std::vector<std::string> names;
  while (struct dirent* e = readdir(dir)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  }
  closedir(dir);
  int result = 0;
  const size_t keep = path.size();
  for (const std::string& name : names) {
    if (path.back() != '/') path += '/';
    const int childBase = static_cast<int>(path.size());
    path += name;
    int r = visit(w, path, childBase, level + 1);
    path.resize(keep);
    if (r == 0) continue;
    if (w.actionRetval() && r == FTW_SKIP_SIBLINGS) break;
    result = r;
    break;
  }
  if (result != 0) return result;
  if (depth) return w.fn(path.c_str(), &st, FTW_DP, &ftw);
  return 0;
}

int walkMyfs(const char* dirpath, NftwFn fn, int flags, bool ftw) {
  Walker w{fn, flags, ftw, {}};
  std::string path = dirpath;
  // The start's base: after its last '/', ignoring trailing slashes as glibc does.
  size_t end = path.size();
  while (end > 1 && path[end - 1] == '/') --end;
  size_t slash = path.rfind('/', end - 1);
  const int base = slash == std::string::npos ? 0 : static_cast<int>(slash + 1);
  int r = visit(w, path, base, 0);
  if (w.actionRetval() && (r == FTW_SKIP_SIBLINGS || r == FTW_SKIP_SUBTREE)) return 0;
  return r;
}

thread_local int (*tlsFtwFn)(const char*, const struct stat*, int) = nullptr;
int ftwAdapter(const char* path, const struct stat* st, int type, struct FTW*) { return tlsFtwFn(path, st, type); }

}  // namespace

MYFS_EXPORT int nftw(const char* dirpath, NftwFn fn, int nopenfd, int flags) {
  if (dirpath == nullptr || !route(dirpath).myfs) return MYFS_REAL(nftw)(dirpath, fn, nopenfd, flags);
  if (flags & FTW_CHDIR) {
    logOnce("nftw with FTW_CHDIR on myfs is not supported: ENOTSUP");
    return failWith(ENOTSUP);
  }
  if (*dirpath == '\0') return failWith(ENOENT);
  return walkMyfs(dirpath, fn, flags, false);
}

// struct stat64 is struct stat on 64-bit Linux.
MYFS_EXPORT int nftw64(const char* dirpath, __nftw64_func_t fn, int nopenfd, int flags) {
  return nftw(dirpath, reinterpret_cast<NftwFn>(fn), nopenfd, flags);
}

MYFS_EXPORT int ftw(const char* dirpath, int (*fn)(const char*, const struct stat*, int), int nopenfd) {
  if (dirpath == nullptr || !route(dirpath).myfs) return MYFS_REAL(ftw)(dirpath, fn, nopenfd);
  if (*dirpath == '\0') return failWith(ENOENT);
  auto* saved = tlsFtwFn;
  tlsFtwFn = fn;
  int r = walkMyfs(dirpath, &ftwAdapter, 0, true);
  tlsFtwFn = saved;
  return r;
}

MYFS_EXPORT int ftw64(const char* dirpath, __ftw64_func_t fn, int nopenfd) {
  return ftw(dirpath, reinterpret_cast<int (*)(const char*, const struct stat*, int)>(fn), nopenfd);
}
