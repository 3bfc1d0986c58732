// Shared mappings of myfs files (mmap_shared.h): page memfds per inode, write-back of
// the pages that differ from the clean copy, and the msync/munmap/mremap interposers.
#include "preload/mmap_shared.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "preload/shim.h"

namespace myfs::preload {
namespace {

constexpr size_t kChunk = 1 << 20;

std::uint64_t pageSize() {
  static const std::uint64_t ps = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  return ps;
}
std::uint64_t pagesUp(std::uint64_t bytes) { return (bytes + pageSize() - 1) / pageSize(); }
size_t roundUp(size_t len) { return static_cast<size_t>(pagesUp(len) * pageSize()); }

// Which pages (half-open intervals of page numbers) are in some state.
using PageSet = std::map<std::uint64_t, std::uint64_t>;  // first page -> end page

void addPages(PageSet& s, std::uint64_t a, std::uint64_t b) {
  if (a >= b) return;
  auto it = s.upper_bound(a);
  if (it != s.begin() && std::prev(it)->second >= a) --it;
  while (it != s.end() && it->first <= b) {
    a = std::min(a, it->first);
    b = std::max(b, it->second);
    it = s.erase(it);
  }
  s[a] = b;
}

void removePagesFrom(PageSet& s, std::uint64_t a) {
  auto it = s.lower_bound(a);
  if (it != s.begin() && std::prev(it)->second > a) std::prev(it)->second = a;
  s.erase(s.lower_bound(a), s.end());
}

// The parts of [a, b) in s (`in`), or not in s.
std::vector<std::pair<std::uint64_t, std::uint64_t>> pagesOf(const PageSet& s, std::uint64_t a, std::uint64_t b,
                                                             bool in) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  std::uint64_t pos = a;
  auto it = s.upper_bound(a);
  if (it != s.begin()) --it;
  for (; it != s.end() && pos < b; ++it) {
    if (it->second <= pos) continue;
    const std::uint64_t from = std::max(pos, it->first), to = std::min(b, it->second);
    if (from >= b) break;
    if (!in && from > pos) out.emplace_back(pos, from);
    if (in && from < to) out.emplace_back(from, to);
    pos = std::max(pos, to);
  }
  if (!in && pos < b) out.emplace_back(pos, b);
  return out;
}

// A kernel file's identity: notices an fd number the application closed and reused.
struct FdId {
  dev_t dev = 0;
  ino_t ino = 0;
};
FdId idOf(int fd) {
  struct stat st {};
  if (fd < 0 || MYFS_REAL(fstat)(fd, &st) != 0) return {};
  return FdId{st.st_dev, st.st_ino};
}
bool same(int fd, FdId id) {
  FdId now = idOf(fd);
  return id.ino != 0 && now.dev == id.dev && now.ino == id.ino;
}

// Moves an fd of the shim's out of the application's way (close-on-exec).
int moveHigh(int fd) {
  static const int floor = [] {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 512) return 100;
    rlim_t f = rl.rlim_cur / 2;
    return static_cast<int>(f > 3000 ? 3000 : f);
  }();
  if (fd < 0) return fd;
  int high = MYFS_REAL(fcntl)(fd, F_DUPFD_CLOEXEC, floor);
  if (high < 0) return fd;
  MYFS_REAL(close)(fd);
  return high;
}

// One inode's pages in this process.
struct Entry {
  int data = -1;   // memfd: the pages every mapping maps (offset = file offset)
  int clean = -1;  // memfd: the same pages as the file holds them, as far as we know
  int ro = -1;     // `data` reopened read-only, for mappings through read-only fds
  FdId dataId, cleanId, roId;
  int handle = -1;  // the entry's own myfs fd (reads pages in, writes them back)
  std::uintptr_t handleDesc = 0;
  bool writable = false;  // handle is O_RDWR
  std::string path;       // mount-relative, to open the handle again
  PageSet loaded;         // pages of `data` that hold the file's content (plus stores)
};

// A recorded MAP_SHARED mapping of a myfs file.
struct Mapping {
  size_t len = 0;  // page multiple
  std::uint64_t off = 0;
  InodeId ino = 0;
};

// gMu guards the entries and is held across Vfs calls; gMapMu guards the mappings, is
// never held across a Vfs call, and is taken after gMu.
constinit std::mutex gMu;
constinit std::mutex gMapMu;
constinit std::atomic<size_t> gEntryCount{0};
constinit std::atomic<size_t> gMapCount{0};

std::map<InodeId, Entry>& entries() {
  static auto* m = new std::map<InodeId, Entry>;
  return *m;
}
std::map<std::uintptr_t, Mapping>& mappings() {
  static auto* m = new std::map<std::uintptr_t, Mapping>;
  return *m;
}

// ---- Mappings (gMapMu held).

// Cuts [a, b) out of the recorded mappings; the inodes that lost some.
std::vector<InodeId> cutMappings(std::uintptr_t a, std::uintptr_t b) {
  auto& m = mappings();
  std::vector<InodeId> hit;
  auto it = m.upper_bound(a);
  if (it != m.begin()) --it;
  while (it != m.end() && it->first < b) {
    const std::uintptr_t s = it->first, e = s + it->second.len;
    if (e <= a) {
      ++it;
      continue;
    }
    const Mapping rec = it->second;
    it = m.erase(it);
    hit.push_back(rec.ino);
    if (s < a) m[s] = Mapping{a - s, rec.off, rec.ino};
    if (e > b) {
      m[b] = Mapping{e - b, rec.off + (b - s), rec.ino};
      break;
    }
  }
  gMapCount = m.size();
  std::sort(hit.begin(), hit.end());
  hit.erase(std::unique(hit.begin(), hit.end()), hit.end());
  return hit;
}

std::vector<InodeId> inodesIn(std::uintptr_t a, std::uintptr_t b) {
  std::vector<InodeId> out;
  auto& m = mappings();
  auto it = m.upper_bound(a);
  if (it != m.begin()) --it;
  for (; it != m.end() && it->first < b; ++it) {
    if (it->first + it->second.len > a) out.push_back(it->second.ino);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool isMapped(InodeId ino) {
  for (auto& [addr, m] : mappings()) {
    if (m.ino == ino) return true;
  }
  return false;
}

// ---- Entries (gMu held, inside a Guard).

off_t memfdSize(const Entry& e) {
  struct stat st {};
  if (MYFS_REAL(fstat)(e.data, &st) != 0) return -1;
  return st.st_size;
}

bool intact(const Entry& e) {
  if (same(e.data, e.dataId) && same(e.clean, e.cleanId)) return true;
  logOnce("the memfd behind a shared mapping of a myfs file was closed by the application: its stores are not written back");
  return false;
}

bool handleValid(Vfs& vfs, const Entry& e) {
  if (e.handle < 0) return false;
  auto d = vfs.describe(e.handle);
  return d && d->description == e.handleDesc;
}

void closeHandle(Vfs& vfs, Entry& e) {
  if (handleValid(vfs, e)) {
    (void)vfs.close(e.handle);
    MYFS_REAL(close)(e.handle);
  }
  e.handle = -1;
  e.handleDesc = 0;
}

// (Re)opens the entry's own myfs fd on inode `ino`: by its path when that still names
// the inode, else by inode number (renamed or removed since).
Result<void> openHandle(Vfs& vfs, Entry& e, InodeId ino, bool writable) {
  int ph = moveHigh(newPlaceholder(true, false));
  if (ph < 0) return Errno(errno);
  const int flags = writable ? O_RDWR : O_RDONLY;
  bool opened = false;
  if (vfs.open(ph, At::root(), e.path, flags, 0)) {
    auto d = vfs.describe(ph);
    opened = d && d->ino == ino;
    if (!opened) (void)vfs.close(ph);
  }
  if (!opened) {
    if (auto r = vfs.adopt(ph, ino, e.path, flags); !r) {
      MYFS_REAL(close)(ph);
      return r.error();
    }
  }
  auto d = vfs.describe(ph);
  if (!d) {
    (void)vfs.close(ph);
    MYFS_REAL(close)(ph);
    return d.error();
  }
  closeHandle(vfs, e);
  e.handle = ph;
  e.handleDesc = d->description;
  e.writable = writable;
  return okResult();
}

Result<void> ensureHandle(Vfs& vfs, Entry& e, InodeId ino, bool writable) {
  if (handleValid(vfs, e) && (e.writable || !writable)) return okResult();
  return openHandle(vfs, e, ino, writable || e.writable);
}

void closeIfOurs(int fd, FdId id) {
  if (fd >= 0 && same(fd, id)) MYFS_REAL(close)(fd);
}

void dropEntry(Vfs& vfs, InodeId ino) {
  auto it = entries().find(ino);
  if (it == entries().end()) return;
  Entry& e = it->second;
  closeHandle(vfs, e);
  closeIfOurs(e.data, e.dataId);
  closeIfOurs(e.clean, e.cleanId);
  closeIfOurs(e.ro, e.roId);
  entries().erase(it);
  gEntryCount = entries().size();
}

// Sets both memfds' size; pages that appear are `markLoaded` (the file has zeros there too).
void resize(Entry& e, off_t size, bool markLoaded) {
  const off_t old = memfdSize(e);
  if (old < 0 || size == old) return;
  MYFS_REAL(ftruncate)(e.data, size);
  MYFS_REAL(ftruncate)(e.clean, size);
  const auto oldPages = pagesUp(static_cast<std::uint64_t>(old)), newPages = pagesUp(static_cast<std::uint64_t>(size));
  if (size < old) {
    removePagesFrom(e.loaded, newPages);
  } else if (markLoaded) {
    addPages(e.loaded, oldPages, newPages);
  }
}

Result<void> fillPages(Vfs& vfs, Entry& e, std::uint64_t from, std::uint64_t to, std::vector<char>& buf) {
  std::uint64_t pos = from;
  while (pos < to) {
    const size_t want = static_cast<size_t>(std::min<std::uint64_t>(buf.size(), to - pos));
    auto n = vfs.pread(e.handle, buf.data(), want, static_cast<off_t>(pos));
    if (!n) return n.error();
    if (*n == 0) break;  // the file is shorter than we thought: the rest stays zeros
    if (MYFS_REAL(pwrite)(e.data, buf.data(), *n, static_cast<off_t>(pos)) != static_cast<ssize_t>(*n) ||
        MYFS_REAL(pwrite)(e.clean, buf.data(), *n, static_cast<off_t>(pos)) != static_cast<ssize_t>(*n)) {
      return Errno(errno == 0 ? ENOMEM : errno);
    }
    pos += *n;
  }
  return okResult();
}

// Fills the pages of [off, end) (file offsets) not loaded yet from the file.
Result<void> loadRange(Vfs& vfs, Entry& e, std::uint64_t off, std::uint64_t end) {
  const off_t size = memfdSize(e);
  if (size < 0) return Errno(EIO);
  end = std::min<std::uint64_t>(end, static_cast<std::uint64_t>(size));
  if (off >= end) return okResult();
  const auto gaps = pagesOf(e.loaded, off / pageSize(), pagesUp(end), false);
  if (gaps.empty()) return okResult();
  std::vector<char> buf(kChunk);
  for (auto [a, b] : gaps) {
    const std::uint64_t from = a * pageSize(), to = std::min<std::uint64_t>(b * pageSize(), static_cast<std::uint64_t>(size));
    MYFS_TRY(fillPages(vfs, e, from, to, buf));
    addPages(e.loaded, a, b);
  }
  return okResult();
}

// Writes `n` bytes at file offset `off` through the handle, then records them as clean.
Result<void> writeRun(Vfs& vfs, Entry& e, InodeId ino, std::uint64_t off, const char* p, size_t n) {
  MYFS_TRY(ensureHandle(vfs, e, ino, true));
  size_t done = 0;
  while (done < n) {
    auto w = vfs.pwrite(e.handle, p + done, n - done, static_cast<off_t>(off + done));
    if (!w) return w.error();
    if (*w == 0) return Errno(EIO);
    done += *w;
  }
  if (MYFS_REAL(pwrite)(e.clean, p, n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) return Errno(EIO);
  return okResult();
}

int writeBackPages(Vfs& vfs, InodeId ino, Entry& e, bool flush);

// Writes back the pages that differ from the clean copy; `flush`: then to the servers.
// Returns 0 or an errno. A file removed since (sqlite unlinks its -shm before munmap)
// cannot be flushed and no longer needs it: what the Vfs holds is what its fds read.
int writeBack(Vfs& vfs, InodeId ino, Entry& e, bool flush) {
  int err = writeBackPages(vfs, ino, e, flush);
  if (err == ENOENT || err == ESTALE) return 0;  // the inode is gone on the servers
  return err;
}

int writeBackPages(Vfs& vfs, InodeId ino, Entry& e, bool flush) {
  if (!e.writable || !intact(e)) return 0;  // never mapped writable: no stores
  const off_t size = memfdSize(e);
  if (size <= 0) return 0;
  const std::uint64_t ps = pageSize();
  std::vector<char> a(kChunk), b(kChunk);
  bool wrote = false;
  off_t pos = 0;
  while (pos < size) {
    off_t d = MYFS_REAL(lseek)(e.data, pos, SEEK_DATA);
    off_t h = size;
    if (d < 0) {
      if (errno == ENXIO) break;  // only holes from here: never touched
      d = pos;                    // no SEEK_DATA: compare everything
    } else {
      h = MYFS_REAL(lseek)(e.data, d, SEEK_HOLE);
      if (h < 0 || h > size) h = size;
    }
    for (off_t c = d; c < h;) {
      const size_t n = static_cast<size_t>(std::min<off_t>(static_cast<off_t>(kChunk), h - c));
      const ssize_t got = MYFS_REAL(pread)(e.data, a.data(), n, c);
      if (got <= 0) break;
      const ssize_t gotClean = MYFS_REAL(pread)(e.clean, b.data(), static_cast<size_t>(got), c);
      if (gotClean < got) std::memset(b.data() + std::max<ssize_t>(gotClean, 0), 0, static_cast<size_t>(got - std::max<ssize_t>(gotClean, 0)));
      const size_t g = static_cast<size_t>(got);
      auto differs = [&](size_t p) {
        return std::memcmp(a.data() + p, b.data() + p, std::min<size_t>(ps, g - p)) != 0;
      };
      for (size_t p = 0; p < g;) {
        if (!differs(p)) {
          p += std::min<size_t>(ps, g - p);
          continue;
        }
        size_t q = p;
        while (q < g && differs(q)) q += std::min<size_t>(ps, g - q);
        if (auto r = writeRun(vfs, e, ino, static_cast<std::uint64_t>(c) + p, a.data() + p, q - p); !r) {
          return r.err();
        }
        wrote = true;
        p = q;
      }
      c += got;
    }
    pos = h;
  }
  if (wrote && flush) {
    if (auto r = vfs.fsync(e.handle, false); !r) return r.err();
  }
  return 0;
}

// Writes back and, when no mapping of it is left, drops the entry of each inode.
void afterUnmap(Vfs* vfs, const std::vector<InodeId>& hit) {
  if (vfs == nullptr) return;
  for (InodeId ino : hit) {
    auto it = entries().find(ino);
    if (it == entries().end()) continue;
    if (writeBack(*vfs, ino, it->second, true) != 0) {
      logOnce("writing back a shared mapping of a myfs file failed at munmap: its stores are lost");
    }
    bool mapped;
    {
      std::lock_guard lock(gMapMu);
      mapped = isMapped(ino);
    }
    if (!mapped) dropEntry(*vfs, ino);
  }
}

// The entry of the inode of fd (`info`), made or brought up to date for a mapping.
Result<Entry*> entryFor(Vfs& vfs, int fd, const OpenFileInfo& info, bool writable) {
  auto attr = vfs.fstat(fd);
  if (!attr) return attr.error();
  auto it = entries().find(info.ino);
  if (it != entries().end()) {
    Entry& e = it->second;
    if (!intact(e)) return Errno(EIO);
    if (static_cast<off_t>(attr->size) > memfdSize(e)) resize(e, static_cast<off_t>(attr->size), false);
    MYFS_TRY(ensureHandle(vfs, e, info.ino, writable));
    return &e;
  }
  Entry e;
  e.path = info.path;
  char name[64];
  snprintf(name, sizeof name, "myfs-map:%llx", static_cast<unsigned long long>(info.ino));
  e.data = moveHigh(memfd_create(name, MFD_CLOEXEC));
  snprintf(name, sizeof name, "myfs-map-clean:%llx", static_cast<unsigned long long>(info.ino));
  e.clean = moveHigh(memfd_create(name, MFD_CLOEXEC));
  e.dataId = idOf(e.data);
  e.cleanId = idOf(e.clean);
  auto fail = [&](int err) -> Result<Entry*> {
    closeIfOurs(e.data, e.dataId);
    closeIfOurs(e.clean, e.cleanId);
    return Errno(err);
  };
  if (e.data < 0 || e.clean < 0) return fail(errno);
  if (MYFS_REAL(ftruncate)(e.data, static_cast<off_t>(attr->size)) != 0 ||
      MYFS_REAL(ftruncate)(e.clean, static_cast<off_t>(attr->size)) != 0) {
    return fail(errno);
  }
  if (auto r = openHandle(vfs, e, info.ino, writable); !r) return fail(r.err());
  auto [slot, inserted] = entries().emplace(info.ino, std::move(e));
  gEntryCount = entries().size();
  return &slot->second;
}

int readOnlyFd(Entry& e) {
  if (e.ro >= 0 && same(e.ro, e.roId)) return e.ro;
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", e.data);
  e.ro = moveHigh(MYFS_REAL(open)(path, O_RDONLY | O_CLOEXEC));
  e.roId = idOf(e.ro);
  return e.ro;
}

// The entry of fd's inode, or null; `info` filled.
Entry* existingEntry(Vfs& vfs, int fd, OpenFileInfo* info) {
  auto d = vfs.describe(fd);
  if (!d) return nullptr;
  *info = std::move(*d);
  auto it = entries().find(info->ino);
  if (it == entries().end() || !intact(it->second)) return nullptr;
  return &it->second;
}

void forkPrepare() {
  gMu.lock();
  gMapMu.lock();
}
void forkParent() {
  gMapMu.unlock();
  gMu.unlock();
}
void forkChild() {
  new (&gMapMu) std::mutex();
  new (&gMu) std::mutex();
}
__attribute__((constructor)) void registerForkHandlers() { pthread_atfork(&forkPrepare, &forkParent, &forkChild); }

bool skip() { return inShim() || inVforkChild(); }

}  // namespace

bool sharedMapsExist() { return gEntryCount.load(std::memory_order_relaxed) != 0; }

void* mapThroughMemfd(void* addr, size_t len, int prot, int flags, int fd, off_t off, bool* handled) {
  *handled = false;
  const bool shared = (flags & MAP_SHARED) != 0;  // MAP_SHARED_VALIDATE too
  if ((!shared && !sharedMapsExist()) || inVforkChild()) return MAP_FAILED;
  Guard g;
  Vfs* vfs = loadedVfs();
  auto info = vfs->describe(fd);
  if (!info) {
    *handled = true;
    errno = info.err();
    return MAP_FAILED;
  }
  std::lock_guard lock(gMu);
  if (!shared && entries().count(info->ino) == 0) return MAP_FAILED;
  *handled = true;
  if (info->isDir) {
    errno = ENODEV;
    return MAP_FAILED;
  }
  const bool rw = (info->flags & O_ACCMODE) == O_RDWR;
  auto entry = entryFor(*vfs, fd, *info, rw);
  if (!entry) {
    errno = entry.err();
    return MAP_FAILED;
  }
  Entry& e = **entry;
  auto dropIfUnused = [&] {
    std::lock_guard ml(gMapMu);
    if (!isMapped(info->ino)) dropEntry(*vfs, info->ino);
  };
  if (auto r = loadRange(*vfs, e, static_cast<std::uint64_t>(off), static_cast<std::uint64_t>(off) + len); !r) {
    dropIfUnused();
    errno = r.err();
    return MAP_FAILED;
  }
  const int mapFd = shared && !rw ? readOnlyFd(e) : e.data;
  void* p = MYFS_REAL(mmap)(addr, len, prot, flags, mapFd, off);
  if (p == MAP_FAILED) {
    int err = errno;
    dropIfUnused();
    errno = err;
    return p;
  }
  std::vector<InodeId> replaced;
  {
    std::lock_guard ml(gMapMu);
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    if (flags & MAP_FIXED) replaced = cutMappings(a, a + roundUp(len));
    if (shared) mappings()[a] = Mapping{roundUp(len), static_cast<std::uint64_t>(off), info->ino};
    gMapCount = mappings().size();
  }
  afterUnmap(vfs, replaced);
  return p;
}

void sharedMapsReplaced(void* addr, size_t len) {
  if (skip() || gMapCount.load() == 0) return;
  const auto a = reinterpret_cast<std::uintptr_t>(addr), b = a + roundUp(len);
  {
    std::lock_guard ml(gMapMu);
    if (inodesIn(a, b).empty()) return;
  }
  Guard g;
  std::lock_guard lock(gMu);
  std::vector<InodeId> hit;
  {
    std::lock_guard ml(gMapMu);
    hit = cutMappings(a, b);
  }
  afterUnmap(loadedVfs(), hit);
}

void sharedMapsAfterRead(int fd, void* buf, size_t n, off_t off) {
  if (n == 0 || !sharedMapsExist() || inVforkChild()) return;
  Guard g;
  Vfs* vfs = loadedVfs();
  std::lock_guard lock(gMu);
  OpenFileInfo info;
  Entry* e = existingEntry(*vfs, fd, &info);
  if (e == nullptr) return;
  if (off < 0) {
    auto cur = vfs->lseek(fd, 0, SEEK_CUR);
    if (!cur || *cur < static_cast<off_t>(n)) return;
    off = *cur - static_cast<off_t>(n);
  }
  const off_t size = memfdSize(*e);
  const std::uint64_t start = static_cast<std::uint64_t>(off);
  const std::uint64_t end = std::min<std::uint64_t>(start + n, static_cast<std::uint64_t>(std::max<off_t>(size, 0)));
  if (start >= end) return;
  for (auto [a, b] : pagesOf(e->loaded, start / pageSize(), pagesUp(end), true)) {
    const std::uint64_t from = std::max(start, a * pageSize()), to = std::min(end, b * pageSize());
    if (from < to) {
      (void)MYFS_REAL(pread)(e->data, static_cast<char*>(buf) + (from - start), to - from, static_cast<off_t>(from));
    }
  }
}

void sharedMapsAfterWrite(int fd, const void* buf, size_t n, off_t off) {
  if (n == 0 || !sharedMapsExist() || inVforkChild()) return;
  Guard g;
  Vfs* vfs = loadedVfs();
  std::lock_guard lock(gMu);
  OpenFileInfo info;
  Entry* e = existingEntry(*vfs, fd, &info);
  if (e == nullptr) return;
  if (info.flags & O_APPEND) {
    auto attr = vfs->fstat(fd);
    if (!attr || attr->size < n) return;
    off = static_cast<off_t>(attr->size - n);
  } else if (off < 0) {
    auto cur = vfs->lseek(fd, 0, SEEK_CUR);
    if (!cur || *cur < static_cast<off_t>(n)) return;
    off = *cur - static_cast<off_t>(n);
  }
  const std::uint64_t start = static_cast<std::uint64_t>(off), end = start + n;
  if (static_cast<off_t>(end) > memfdSize(*e)) resize(*e, static_cast<off_t>(end), true);
  for (auto [a, b] : pagesOf(e->loaded, start / pageSize(), pagesUp(end), true)) {
    const std::uint64_t from = std::max(start, a * pageSize()), to = std::min(end, b * pageSize());
    if (from >= to) continue;
    const char* p = static_cast<const char*>(buf) + (from - start);
    (void)MYFS_REAL(pwrite)(e->data, p, to - from, static_cast<off_t>(from));
    (void)MYFS_REAL(pwrite)(e->clean, p, to - from, static_cast<off_t>(from));
  }
}

void sharedMapsAfterResize(int fd, off_t size) {
  if (!sharedMapsExist() || inVforkChild()) return;
  Guard g;
  Vfs* vfs = loadedVfs();
  std::lock_guard lock(gMu);
  OpenFileInfo info;
  Entry* e = existingEntry(*vfs, fd, &info);
  if (e == nullptr) return;
  if (size < 0) {
    auto attr = vfs->fstat(fd);
    if (!attr) return;
    size = static_cast<off_t>(attr->size);
  }
  resize(*e, size, true);
}

int sharedMapsSyncFd(int fd) {
  if (!sharedMapsExist() || inVforkChild()) return 0;
  Guard g;
  Vfs* vfs = loadedVfs();
  std::lock_guard lock(gMu);
  OpenFileInfo info;
  Entry* e = existingEntry(*vfs, fd, &info);
  return e == nullptr ? 0 : writeBack(*vfs, info.ino, *e, false);
}

int writeBackSharedMaps() {
  if (!sharedMapsExist() || inVforkChild()) return 0;
  Guard g;
  Vfs* vfs = loadedVfs();
  if (vfs == nullptr) return 0;
  std::lock_guard lock(gMu);
  int first = 0;
  for (auto& [ino, e] : entries()) {
    int err = writeBack(*vfs, ino, e, false);
    if (err != 0 && first == 0) first = err;
  }
  return first;
}

}  // namespace myfs::preload

using namespace myfs;           // NOLINT
using namespace myfs::preload;  // NOLINT

// munmap of (part of) a myfs shared mapping writes its inode's stores back; the last one
// of an inode releases its memfds.
MYFS_EXPORT int munmap(void* addr, size_t len) noexcept {
  if (skip() || gMapCount.load() == 0) return MYFS_REAL(munmap)(addr, len);
  Guard g;
  std::lock_guard lock(gMu);
  if (MYFS_REAL(munmap)(addr, len) != 0) return -1;
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  std::vector<InodeId> hit;
  {
    std::lock_guard ml(gMapMu);
    hit = cutMappings(a, a + roundUp(len));
  }
  afterUnmap(loadedVfs(), hit);
  return 0;
}

// msync (MS_SYNC or MS_ASYNC) of any part of a myfs shared mapping writes back every
// store to its inode and flushes it to the servers.
MYFS_EXPORT int msync(void* addr, size_t len, int flags) {
  if (MYFS_REAL(msync)(addr, len, flags) != 0) return -1;
  if (skip() || gMapCount.load() == 0 || !(flags & (MS_SYNC | MS_ASYNC))) return 0;
  Guard g;
  std::lock_guard lock(gMu);
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  std::vector<InodeId> inos;
  {
    std::lock_guard ml(gMapMu);
    inos = inodesIn(a, a + roundUp(len));
  }
  Vfs* vfs = loadedVfs();
  int first = 0;
  for (InodeId ino : inos) {
    auto it = entries().find(ino);
    if (it == entries().end() || vfs == nullptr) continue;
    int err = writeBack(*vfs, ino, it->second, true);
    if (err != 0 && first == 0) first = err;
  }
  return first == 0 ? 0 : failWith(first);
}

// mremap of a myfs shared mapping: growing fills the new pages from the file first;
// moving, shrinking and growing keep the mapping's record (and its write-back).
MYFS_EXPORT void* mremap(void* old, size_t oldLen, size_t newLen, int flags, ...) noexcept {
  void* want = nullptr;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    want = va_arg(ap, void*);
    va_end(ap);
  }
  if (skip() || gMapCount.load() == 0) return MYFS_REAL(mremap)(old, oldLen, newLen, flags, want);
  Guard g;
  std::lock_guard lock(gMu);
  const auto a = reinterpret_cast<std::uintptr_t>(old);
  Mapping found;
  bool ours = false;
  {
    std::lock_guard ml(gMapMu);
    auto& m = mappings();
    auto it = m.upper_bound(a);
    if (it != m.begin() && (--it)->first <= a && a < it->first + it->second.len) {
      found = it->second;
      found.off += a - it->first;
      ours = true;
    }
  }
  Vfs* vfs = loadedVfs();
  if (ours && newLen > oldLen && vfs != nullptr) {
    auto it = entries().find(found.ino);
    if (it == entries().end()) {
      errno = EINVAL;
      return MAP_FAILED;
    }
    if (auto r = loadRange(*vfs, it->second, found.off + oldLen, found.off + newLen); !r) {
      errno = r.err() == EIO ? ENOMEM : r.err();  // mremap's errnos: the pages cannot be provided
      return MAP_FAILED;
    }
  }
  void* p = MYFS_REAL(mremap)(old, oldLen, newLen, flags, want);
  if (p == MAP_FAILED) return p;
  const auto np = reinterpret_cast<std::uintptr_t>(p);
  std::vector<InodeId> hit;
  {
    std::lock_guard ml(gMapMu);
    if (ours && oldLen != 0) hit = cutMappings(a, a + roundUp(oldLen));
    if (flags & MREMAP_FIXED) {
      auto more = cutMappings(np, np + roundUp(newLen));
      hit.insert(hit.end(), more.begin(), more.end());
    }
    if (ours) mappings()[np] = Mapping{roundUp(newLen), found.off, found.ino};
    gMapCount = mappings().size();
  }
  std::sort(hit.begin(), hit.end());
  hit.erase(std::unique(hit.begin(), hit.end()), hit.end());
  afterUnmap(vfs, hit);
  return p;
}
