#include "preload/inherit.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "preload/shim.h"

namespace myfs::preload {
namespace {

constexpr char kMemfdPrefix[] = "myfs-fd:";
constexpr size_t kMaxPath = 4096;

struct Inherited {
  InodeId ino;
  int flags;
  std::string path;
};

constinit std::mutex gMu;
constinit std::atomic<bool> gPending{false};
std::map<int, Inherited>& pending() {
  static auto* m = new std::map<int, Inherited>;
  return *m;
}

std::shared_mutex*& descriptionMu() {
  static std::shared_mutex* mu = new std::shared_mutex;  // replaced, not destroyed, in a forked child
  return mu;
}

// Turns the placeholders of fd's description (fds `group`) into one memfd holding the
// offset. Returns false (errno set) when the kernel refuses.
bool shareDescription(Vfs& vfs, const OpenFileInfo& info, const std::vector<int>& group) {
  char name[64];
  snprintf(name, sizeof name, "%s%llx:%x", kMemfdPrefix, static_cast<unsigned long long>(info.ino),
           static_cast<unsigned>(info.flags));
  auto r = vfs.shareOffset(group.front(), [&](std::uint64_t offset) -> Result<void> {
    int memfd = memfd_create(name, MFD_CLOEXEC);
    if (memfd < 0) return Errno(errno);
    const std::string path = info.path.substr(0, kMaxPath - 1);
    if (MYFS_REAL(pwrite)(memfd, path.c_str(), path.size() + 1, 0) != static_cast<ssize_t>(path.size() + 1) ||
        MYFS_REAL(lseek)(memfd, static_cast<off_t>(offset), SEEK_SET) < 0) {
      int err = errno;
      MYFS_REAL(close)(memfd);
      return Errno(err);
    }
    for (int fd : group) {
      const int fdFlags = MYFS_REAL(fcntl)(fd, F_GETFD);
      if (fdFlags < 0 || MYFS_REAL(dup3)(memfd, fd, (fdFlags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
        int err = errno;
        MYFS_REAL(close)(memfd);
        return Errno(err);
      }
    }
    MYFS_REAL(close)(memfd);
    return okResult();
  });
  if (!r) errno = r.err();
  return r.ok();
}

// Shares the descriptions of the myfs fds (all of them, or those without close-on-exec);
// true if any such fd exists.
bool shareDescriptions(bool onlyInheritable) {
  Vfs* vfs = loadedVfs();
  if (vfs == nullptr || inVforkChild()) return false;
  Guard g;
  (void)vfs->syncAll();
  std::unique_lock noCloses(*descriptionMu());
  std::map<std::uintptr_t, std::pair<OpenFileInfo, std::vector<int>>> groups;
  bool any = false;
  for (int fd : vfs->openFds()) {
    if (isInternalFd(fd)) continue;
    if (onlyInheritable && (MYFS_REAL(fcntl)(fd, F_GETFD) & FD_CLOEXEC)) continue;
    auto info = vfs->describe(fd);
    if (!info) continue;
    any = true;
    if (info->offsetInKernel) continue;
    auto& slot = groups[info->description];
    slot.first = *info;
    slot.second.push_back(fd);
  }
  for (auto& [id, group] : groups) {
    if (!shareDescription(*vfs, group.first, group.second)) {
      logOnce("cannot hand an open myfs file to another process (memfd_create failed)");
    }
  }
  return any;
}

}  // namespace

std::shared_lock<std::shared_mutex> closingDescription() { return std::shared_lock(*descriptionMu()); }

void resetDescriptionLockInChild() { descriptionMu() = new std::shared_mutex; }

void prepareFork() { (void)shareDescriptions(false); }

bool prepareExec() {
  // Inherited fds this program never used are handed on as they came.
  return shareDescriptions(true) || gPending.load(std::memory_order_acquire);
}

void findInheritedFds() {
  if (getenv("MYFS_FDS") == nullptr) return;
  DIR* d = MYFS_REAL(opendir)("/proc/self/fd");
  if (d == nullptr) return;
  const std::string want = std::string("/memfd:") + kMemfdPrefix;
  std::lock_guard lock(gMu);
  while (struct dirent* e = MYFS_REAL(readdir)(d)) {
    const int fd = atoi(e->d_name);
    if (fd <= 2 || fd == dirfd(d)) continue;  // 0-2 are shadows (shadow.h)
    char link[256];
    std::string proc = std::string("/proc/self/fd/") + e->d_name;
    ssize_t n = MYFS_REAL(readlink)(proc.c_str(), link, sizeof link - 1);
    if (n <= 0) continue;
    link[n] = '\0';
    if (strncmp(link, want.c_str(), want.size()) != 0) continue;
    unsigned long long ino = 0;
    unsigned flags = 0;
    if (sscanf(link + want.size(), "%llx:%x", &ino, &flags) != 2) continue;
    std::vector<char> path(kMaxPath);
    ssize_t got = MYFS_REAL(pread)(fd, path.data(), path.size(), 0);
    if (got <= 0 || memchr(path.data(), '\0', static_cast<size_t>(got)) == nullptr) continue;
    pending()[fd] = Inherited{static_cast<InodeId>(ino), static_cast<int>(flags), std::string(path.data())};
  }
  MYFS_REAL(closedir)(d);
  gPending = !pending().empty();
}

bool anyInheritedPending() { return gPending.load(std::memory_order_acquire); }

bool isInheritedPending(int fd) {
  if (!gPending.load(std::memory_order_acquire)) return false;
  std::lock_guard lock(gMu);
  return pending().count(fd) != 0;
}

bool inheritedPendingIs(int fd, const std::string& path) {
  if (!gPending.load(std::memory_order_acquire)) return false;
  std::lock_guard lock(gMu);
  auto it = pending().find(fd);
  return it != pending().end() && it->second.path == path;
}

bool dropInheritedPending(int fd) {
  if (!gPending.load(std::memory_order_acquire) || loadedVfs() != nullptr) return false;
  std::lock_guard lock(gMu);
  return pending().erase(fd) != 0;
}

bool inheritedMyfsFd(int fd) {
  if (!isInheritedPending(fd) || inVforkChild()) return false;
  Vfs* vfs = adoptInheritedFds();
  return vfs != nullptr && vfs->isOpen(fd);
}

Vfs* adoptInheritedFds() {
  Vfs* vfs = startVfs();
  if (vfs == nullptr) return nullptr;
  std::lock_guard lock(gMu);
  if (!gPending.load()) return vfs;
  Guard g;
  for (auto& [fd, file] : pending()) {
    if (auto r = vfs->adopt(fd, file.ino, file.path, file.flags); !r) {
      logOnce("an inherited open myfs file is gone (removed by another client?)");
    }
  }
  pending().clear();
  gPending = false;
  return vfs;
}

}  // namespace myfs::preload
