#include "preload/shadow.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "preload/inherit.h"
#include "preload/shim.h"

namespace myfs::preload {
namespace {

constexpr char kNamePrefix[] = "myfs:";
constexpr size_t kCopyBlock = 1 << 20;

struct Shadow {
  std::string rel;    // mount-relative path of the myfs file
  bool writable = false;
  int origin = -1;    // the myfs fd it was made from (its offset follows the shadow's)
  timespec seenMtime{};  // the memfd's mtime and size when last in step with the file:
  off_t seenSize = -1;   // unchanged means nothing to write back
};

// Records the memfd's current state as written back.
void markClean(Shadow& s, int memfd) {
  struct stat st;
  if (MYFS_REAL(fstat)(memfd, &st) == 0) {
    s.seenMtime = st.st_mtim;
    s.seenSize = st.st_size;
  }
}

bool changedSince(const Shadow& s, int memfd) {
  struct stat st;
  if (MYFS_REAL(fstat)(memfd, &st) != 0) return false;
  return st.st_size != s.seenSize || st.st_mtim.tv_sec != s.seenMtime.tv_sec ||
         st.st_mtim.tv_nsec != s.seenMtime.tv_nsec;
}

constinit std::mutex gMu;
constinit std::atomic<bool> gAny{false};
std::map<int, Shadow>& shadows() {
  static auto* m = new std::map<int, Shadow>;
  return *m;
}

// Opens the myfs file for internal use on a private placeholder fd.
int openInternal(Vfs& vfs, const std::string& rel, int flags) {
  int ph = newPlaceholder(true, false);
  if (ph < 0) return -1;
  if (auto r = vfs.open(ph, At::root(), rel, flags, 0); !r) {
    MYFS_REAL(close)(ph);
    errno = r.err();
    return -1;
  }
  return ph;
}

void closeInternal(Vfs& vfs, int fd) {
  (void)vfs.close(fd);
  MYFS_REAL(close)(fd);
}

// Copies the myfs file into memfd (whole content).
int fillFrom(Vfs& vfs, const std::string& rel, int memfd) {
  int in = openInternal(vfs, rel, O_RDONLY);
  if (in < 0) return -1;
  std::vector<char> buf(kCopyBlock);
  off_t off = 0;
  while (true) {
    auto n = vfs.pread(in, buf.data(), buf.size(), off);
    if (!n) {
      closeInternal(vfs, in);
      errno = n.err();
      return -1;
    }
    if (*n == 0) break;
    if (MYFS_REAL(pwrite)(memfd, buf.data(), *n, off) != static_cast<ssize_t>(*n)) {
      closeInternal(vfs, in);
      return -1;
    }
    off += static_cast<off_t>(*n);
  }
  closeInternal(vfs, in);
  return 0;
}

// Writes memfd's whole content to the myfs file (then its exact size).
int writeBack(Vfs& vfs, const Shadow& s, int memfd) {
  struct stat st;
  if (MYFS_REAL(fstat)(memfd, &st) != 0) return -1;
  int out = openInternal(vfs, s.rel, O_WRONLY);
  if (out < 0) return -1;
  std::vector<char> buf(kCopyBlock);
  for (off_t off = 0; off < st.st_size;) {
    ssize_t n = MYFS_REAL(pread)(memfd, buf.data(), buf.size(), off);
    if (n <= 0) break;
    if (auto w = vfs.pwrite(out, buf.data(), static_cast<size_t>(n), off); !w) {
      closeInternal(vfs, out);
      errno = w.err();
      return -1;
    }
    off += n;
  }
  Result<void> t;
  if (auto a = vfs.fstat(out); a && a->size > static_cast<std::uint64_t>(st.st_size)) t = vfs.ftruncate(out, st.st_size);
  auto c = vfs.close(out);
  MYFS_REAL(close)(out);
  if (!t || !c) {
    errno = !t ? t.err() : c.err();
    return -1;
  }
  return 0;
}

}  // namespace

bool anyShadows() { return gAny.load(std::memory_order_relaxed); }

bool shadowPath(int fd, std::string* rel) {
  if (!anyShadows() || fd < 0) return false;
  std::lock_guard lock(gMu);
  auto it = shadows().find(fd);
  if (it == shadows().end()) return false;
  *rel = it->second.rel;
  return true;
}

bool isShadow(int fd) {
  if (!anyShadows() || fd < 0) return false;
  std::lock_guard lock(gMu);
  return shadows().count(fd) != 0;
}

int installShadow(int myfsFd, int target) {
  Vfs* vfs = loadedVfs();
  Guard g;
  auto rel = vfs->fdPath(myfsFd);
  auto flags = vfs->getFlags(myfsFd);
  auto offset = vfs->lseek(myfsFd, 0, SEEK_CUR);
  auto attr = vfs->fstat(myfsFd);
  if (!rel || !flags || !offset || !attr) return failWith(EBADF);
  if (!attr->isReg()) return failWith(EINVAL);
  const int acc = *flags & O_ACCMODE;
  Shadow s{*rel, acc != O_RDONLY, myfsFd};
  std::string name = std::string(kNamePrefix) + (s.writable ? "w:" : "r:") + std::to_string(myfsFd) + ":" + s.rel;
  if (name.size() > 249) return failWith(ENAMETOOLONG);
  // Unflushed writes through the myfs fd must be in what we copy.
  if (auto r = vfs->fsync(myfsFd, true); !r) return failWith(r.err());
  int memfd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (memfd < 0) return -1;
  if (attr->size > 0 && fillFrom(*vfs, s.rel, memfd) != 0) {
    int err = errno;
    MYFS_REAL(close)(memfd);
    return failWith(err);
  }
  if (*flags & O_APPEND) MYFS_REAL(fcntl)(memfd, F_SETFL, O_APPEND);
  MYFS_REAL(lseek)(memfd, *offset, SEEK_SET);
  markClean(s, memfd);
  int rc;
  if (memfd == target) {  // target was free: the memfd took its number
    rc = MYFS_REAL(fcntl)(memfd, F_SETFD, 0);
  } else {
    rc = MYFS_REAL(dup3)(memfd, target, 0);
    MYFS_REAL(close)(memfd);
  }
  if (rc < 0) return -1;
  {
    std::lock_guard lock(gMu);
    shadows()[target] = s;
  }
  if (!gAny.exchange(true)) setenv("MYFS_SHADOWS", "1", 1);
  return target;
}

void copyShadow(int from, int to) {
  std::lock_guard lock(gMu);
  auto it = shadows().find(from);
  if (it != shadows().end()) shadows()[to] = it->second;
}

int syncShadow(int fd, bool forget) {
  Shadow s;
  {
    std::lock_guard lock(gMu);
    auto it = shadows().find(fd);
    if (it == shadows().end()) return 0;
    s = it->second;
    if (forget) shadows().erase(it);
  }
  const bool dirty = s.writable && changedSince(s, fd);
  if (!dirty && s.origin < 0) return 0;
  if (!dirty && inheritedPendingIs(s.origin, s.rel)) {
    // An inherited fd this program never used: its offset is only the kernel's.
    off_t pos = MYFS_REAL(lseek)(fd, 0, SEEK_CUR);
    if (pos >= 0) MYFS_REAL(lseek)(s.origin, pos, SEEK_SET);
    return 0;
  }
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return failWith(EIO);
  Guard g;
  if (dirty) {
    if (writeBack(*vfs, s, fd) != 0) return -1;
    if (!forget) {
      std::lock_guard lock(gMu);
      if (auto it = shadows().find(fd); it != shadows().end()) markClean(it->second, fd);
    }
  }
  // The fd it came from continues where the shadow's reads or writes ended.
  const bool originOpen = s.origin >= 0 && (vfs->isOpen(s.origin) || (inheritedPendingIs(s.origin, s.rel) &&
                                                                       adoptInheritedFds() != nullptr));
  if (originOpen) {
    auto path = vfs->fdPath(s.origin);
    off_t pos = MYFS_REAL(lseek)(fd, 0, SEEK_CUR);
    if (path && *path == s.rel && pos >= 0) (void)vfs->lseek(s.origin, pos, SEEK_SET);
  }
  return 0;
}

bool shadowFile(int fd, std::string* abs) {
  std::string rel;
  if (!shadowPath(fd, &rel)) return false;
  (void)syncShadow(fd, false);
  *abs = prefix() + "/" + rel;
  return true;
}

void syncAllShadows() {
  if (!anyShadows()) return;
  std::vector<int> fds;
  {
    std::lock_guard lock(gMu);
    for (const auto& [fd, s] : shadows()) {
      if (s.writable || s.origin >= 0) fds.push_back(fd);
    }
  }
  for (int fd : fds) (void)syncShadow(fd, false);
}

void adoptInheritedShadows() {
  if (getenv("MYFS_SHADOWS") == nullptr) return;
  DIR* d = MYFS_REAL(opendir)("/proc/self/fd");
  if (d == nullptr) return;
  const std::string prefix = std::string("/memfd:") + kNamePrefix;
  while (struct dirent* e = MYFS_REAL(readdir)(d)) {
    char link[512];
    std::string path = std::string("/proc/self/fd/") + e->d_name;
    ssize_t n = MYFS_REAL(readlink)(path.c_str(), link, sizeof link - 1);
    if (n <= 0) continue;
    std::string target(link, static_cast<size_t>(n));
    if (target.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string deleted = " (deleted)";
    if (target.size() > deleted.size() && target.compare(target.size() - deleted.size(), deleted.size(), deleted) == 0) {
      target.resize(target.size() - deleted.size());
    }
    // "w:<origin fd>:<path>" or "r:<origin fd>:<path>"
    std::string rest = target.substr(prefix.size());
    const size_t colon = rest.find(':', 2);
    if (rest.size() < 2 || colon == std::string::npos) continue;
    // The origin fd came along only if it has no close-on-exec; syncShadow checks that
    // it is the same file before moving its offset.
    Shadow s{rest.substr(colon + 1), rest[0] == 'w', atoi(rest.c_str() + 2)};
    int fd = atoi(e->d_name);
    markClean(s, fd);  // the parent wrote back what it wrote before the exec
    std::lock_guard lock(gMu);
    shadows()[fd] = s;
    gAny = true;
  }
  MYFS_REAL(closedir)(d);
}

}  // namespace myfs::preload
