// Vfs: the in-process file system that front ends (the LD_PRELOAD shim, tests, a future
// FUSE mount) drive. Paths are relative to the mount root or to an open myfs directory,
// fds are numbers the front end owns (the shim backs each one with a real kernel fd).
//
// Thread-safety: every method may be called from any thread concurrently.
// Errors: each method returns the errno Linux's own file systems return for the same
// call, e.g. open() of a missing file under O_CREAT-less flags yields ENOENT.
//
// Escapes: a path that leaves the mount (".." above the root, or a symlink to an
// absolute path outside the prefix) fails with kEscapeErrno; takeEscapedPath() then gives
// the real path the front end should hand to the kernel instead.
//
// Vfs is an interface so that the shim can drive a Vfs that lives in another shared
// object (libmyfs_client.so) without linking it.
//
//   Vfs& vfs = ...;
//   if (auto r = vfs.open(fd, At::root(), "dir/file", O_RDONLY, 0); !r) return r.error();
//   Result<size_t> n = vfs.read(fd, buf, sizeof buf);
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/fs_types.h"
#include "core/result.h"
#include "core/types.h"

namespace myfs {

class Cluster;

// Not a real errno: the path left the mount; see takeEscapedPath().
inline constexpr int kEscapeErrno = 0x4d59;


// Where a relative path starts: the mount root or an open myfs directory.
struct At {
  int dirFd = -1;  // -1: the mount root
  // With dirFd -1: the path is the process's current directory (see Vfs::holdCwd) joined
  // with a relative path; a walk that fails that way is tried again from the held
  // directory itself (renamed or removed meanwhile, as the kernel resolves from the
  // cwd's inode, not its name).
  bool fromCwd = false;
  static At root() { return At{}; }
  static At dir(int fd) { return At{fd}; }
  static At cwd() { return At{-1, true}; }
};

// A time to set with utimens: nanoseconds since the epoch, or one of these.
inline constexpr std::int64_t kTimeNow = -1;
inline constexpr std::int64_t kTimeOmit = -2;

struct VfsOptions {
  std::string prefix = "/myfs";            // the mount point, for realpath and escapes
  std::uint64_t pageCacheBytes = 256u << 20;  // bound of cached file data per process
  // Consistency across clients. false (the default): close-to-open: a client sees what
  // another wrote once the writer closed (or fsync'ed) and the reader opened after that.
  // true (strict): file data bypasses the page cache: every write reaches the data
  // servers, and the size the metadata server, before write() returns; every read fetches
  // from the data servers; so every read sees every write completed before it started.
  bool strict = false;
  // Directory delegation: after a few creates in one directory, this client asks its
  // server for the directory (schema delegateDir) and then makes new files there on its
  // own, each sent to the server at once without waiting for the answer; another
  // client's look at the directory first has them all made. false: every create waits.
  bool delegateDirs = true;
};

// An open file description as another process needs it (Vfs::describe).
struct OpenFileInfo {
  std::uintptr_t description = 0;  // equal for fds that share one description
  InodeId ino = 0;
  std::string path;                // mount-relative path it was opened by
  int flags = 0;
  bool isDir = false;
  bool offsetInKernel = false;     // shareOffset() was done
};

class Vfs {
 public:
  virtual ~Vfs() = default;

  // ---- Open files. `fd` is the front end's number for the new open file description.
  virtual Result<void> open(int fd, At at, std::string_view path, int flags, mode_t mode) = 0;
  // Drops fd; when it was the last reference to its description, flushes dirty data.
  virtual Result<void> close(int fd) = 0;
  // newFd shares oldFd's description (offset, flags), as dup2 does.
  virtual Result<void> dup(int oldFd, int newFd) = 0;
  virtual bool isOpen(int fd) const = 0;
  virtual Result<size_t> read(int fd, void* buf, size_t n) = 0;
  virtual Result<size_t> write(int fd, const void* buf, size_t n) = 0;
  virtual Result<size_t> pread(int fd, void* buf, size_t n, off_t off) = 0;
  virtual Result<size_t> pwrite(int fd, const void* buf, size_t n, off_t off) = 0;
  virtual Result<off_t> lseek(int fd, off_t off, int whence) = 0;
  virtual Result<Attr> fstat(int fd) = 0;
  virtual Result<void> ftruncate(int fd, off_t size) = 0;
  virtual Result<void> fsync(int fd, bool dataOnly) = 0;
  // fallocate(2) mode 0 (or FALLOC_FL_KEEP_SIZE): the file grows to off + len if shorter
  // (the new range reads as zeros). Space is not reserved ahead on the data servers.
  // EBADF (not open for writing), EINVAL, ENODEV (not a regular file), EFBIG.
  virtual Result<void> allocate(int fd, std::uint64_t off, std::uint64_t len, bool keepSize) = 0;
  // fallocate(2) with its mode bits, checked as Linux (vfs_fallocate) and ext4 check them:
  // 0 and FALLOC_FL_KEEP_SIZE as allocate(); FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE and
  // FALLOC_FL_ZERO_RANGE (optionally KEEP_SIZE) make [off, off + len) read as zeros
  // (zeros written through the page cache: no space is freed), ZERO_RANGE without
  // KEEP_SIZE growing the file; COLLAPSE_RANGE and INSERT_RANGE are checked (EINVAL for
  // unaligned or past-the-end ranges) then refused with EOPNOTSUPP. Errors: EBADF, EINVAL,
  // EISDIR, ENODEV, EFBIG (past kMaxFileSize or RLIMIT_FSIZE: SIGXFSZ is raised),
  // EOPNOTSUPP.
  virtual Result<void> fallocate(int fd, int mode, std::uint64_t off, std::uint64_t len) = 0;
  virtual Result<int> getFlags(int fd) = 0;               // F_GETFL
  virtual Result<void> setFlags(int fd, int flags) = 0;   // F_SETFL (O_APPEND, O_NONBLOCK)
  // Fills buf with struct linux_dirent64 records, as getdents64(2).
  virtual Result<size_t> getdents(int fd, void* buf, size_t n) = 0;
  // Positions the directory stream: 0 rewinds; other values come from dirTell.
  virtual Result<void> dirSeek(int fd, std::uint64_t pos) = 0;
  virtual Result<std::uint64_t> dirTell(int fd) = 0;
  // The mount-relative path the file was opened by ("" for the root).
  virtual Result<std::string> fdPath(int fd) = 0;
  // The process's current directory is `rel` (mount-relative): the Vfs holds its inode,
  // so that "." still names it after it was removed and relative paths follow it when
  // it was renamed (At::cwd). `ino` (0: unknown) is the inode it was when another
  // process handed it over (exec): held even if `rel` leads elsewhere now. Returns the
  // inode held, 0 if none could be (rel does not resolve and ino is gone). releaseCwd:
  // the current directory left myfs.
  virtual InodeId holdCwd(std::string_view rel, InodeId ino) = 0;
  // Where the held current directory is now (mount-relative): its path, or, when that no
  // longer leads to it (renamed), the names found going up its parents. Errors: ENOENT
  // (removed, or nothing held), and the errors of the lookups.
  virtual Result<std::string> cwdPath() = 0;
  virtual void releaseCwd() = 0;
  virtual Result<void> fchmod(int fd, mode_t mode) = 0;
  virtual Result<void> fchown(int fd, uid_t uid, gid_t gid) = 0;
  virtual Result<void> futimens(int fd, std::int64_t atimeNs, std::int64_t mtimeNs) = 0;

  // ---- File locks, arbitrated by the metadata server of the file's inode: fcntl
  // F_SETLK/F_SETLKW (kPosix, owned by this process), F_OFD_SETLK (kOfd) and flock
  // (kFlock, whole file), both owned by fd's description. [start, end] is absolute, end
  // inclusive (kLockToEof: to the end of the file, always). `wait` retries until the lock
  // is granted, EINTR if a signal handler ran meanwhile. Taking a lock fetches the file's
  // attributes again (dropping cached pages another client changed); releasing one
  // writes this process's changes back first. Locks go when released, when their owner
  // closes the file (kPosix: any fd of the file; the others: the taking process's last
  // fd of the description), at process exit (releaseLocksAtExit), or when the process
  // stops renewing them (dies).
  // Errors: EBADF (a kPosix/kOfd read lock without read access, write lock without write
  // access, O_PATH), EAGAIN (held by another owner, !wait), EINVAL, EINTR, EIO.
  virtual Result<void> setLock(int fd, LockKind kind, int type, std::uint64_t start, std::uint64_t end,
                               bool wait) = 0;
  // F_GETLK: the first lock of another owner that conflicts with the one described, or a
  // lock of type F_UNLCK when none does.
  virtual Result<FileLock> getLock(int fd, LockKind kind, int type, std::uint64_t start, std::uint64_t end) = 0;
  // Process exit: releases this process's kPosix locks and the kOfd/kFlock locks it
  // took (a description shared with another process keeps no lock its taker dropped:
  // the taker is the one renewing it).
  virtual void releaseLocksAtExit() = 0;

  // In a forked child, before any other call: the locks that other threads of the parent
  // held at fork() (they do not exist in the child) are made free again.
  virtual void afterForkInChild() = 0;
  // The process's RLIMIT_FSIZE changed (setrlimit, prlimit): read it again. Writes and
  // size changes check the limit as last read (EFBIG and SIGXFSZ past it).
  virtual void resourceLimitsChanged() = 0;
  // The process's user or group ids changed (setuid, setgroups, ...): read them again.
  // Calls use the ids as last read, so that a cached path walk needs no system call.
  virtual void credentialsChanged() = 0;

  // ---- Descriptions shared with other processes (fork, exec).
  virtual std::vector<int> openFds() const = 0;
  virtual Result<OpenFileInfo> describe(int fd) = 0;
  // Moves the offset of fd's description into the kernel. `install(offset)` must make
  // every fd of the description refer to one kernel file description whose file offset
  // is `offset`; it runs with the description locked. From then on read, write and lseek
  // use the kernel offset of the fd they are given, and the file's attributes are
  // fetched again before every read, write and SEEK_END/DATA/HOLE (another process may
  // have changed it; its writes are seen once it flushed them: close, exit, fsync, fork).
  // Idempotent: does nothing for a description already moved.
  virtual Result<void> shareOffset(int fd, const std::function<Result<void>(std::uint64_t offset)>& install) = 0;
  // Installs at fd a description inherited from another process (across exec): inode
  // `ino`, opened by `path` with `flags`, its offset in the kernel file at fd.
  // ENOENT/ESTALE when the inode is gone.
  virtual Result<void> adopt(int fd, InodeId ino, std::string path, int flags) = 0;

  // ---- Paths.
  virtual Result<Attr> stat(At at, std::string_view path, bool follow) = 0;
  virtual Result<void> access(At at, std::string_view path, int mask, bool effective) = 0;
  virtual Result<void> mkdir(At at, std::string_view path, mode_t mode) = 0;
  virtual Result<void> mknod(At at, std::string_view path, mode_t mode, dev_t rdev) = 0;
  virtual Result<void> rmdir(At at, std::string_view path) = 0;
  virtual Result<void> unlink(At at, std::string_view path) = 0;
  virtual Result<void> rename(At from, std::string_view fromPath, At to, std::string_view toPath,
                              unsigned flags) = 0;
  virtual Result<void> link(At from, std::string_view fromPath, At to, std::string_view toPath,
                            bool follow) = 0;
  virtual Result<void> symlink(std::string_view target, At at, std::string_view path) = 0;
  virtual Result<std::string> readlink(At at, std::string_view path) = 0;
  virtual Result<void> truncate(At at, std::string_view path, off_t size) = 0;
  virtual Result<void> chmod(At at, std::string_view path, mode_t mode, bool follow) = 0;
  virtual Result<void> chown(At at, std::string_view path, uid_t uid, gid_t gid, bool follow) = 0;
  virtual Result<void> utimens(At at, std::string_view path, std::int64_t atimeNs,
                               std::int64_t mtimeNs, bool follow) = 0;
  // The canonical mount-relative path of a directory the caller may search (for chdir).
  virtual Result<std::string> resolveDirectory(At at, std::string_view path) = 0;
  // The canonical mount-relative path of any existing file (realpath).
  virtual Result<std::string> realpath(At at, std::string_view path) = 0;
  virtual Result<struct statvfs> statfs() = 0;

  // ---- Extended attributes, as getxattr(2) and its family: the path forms (follow:
  // getxattr, else lgetxattr) and the fd forms. `name` is the full name ("user.x").
  // get copies the value into value[0, size) and returns its length (size 0: only the
  // length; too small: ERANGE); list fills NUL-terminated names likewise. Errors besides
  // the walk's: ENODATA, EEXIST (kXattrCreate), ERANGE (name "" or over 255 bytes), E2BIG
  // (value over 64 KiB), EINVAL (flags, "user."), EOPNOTSUPP (unknown or system.
  // namespace), EACCES, EPERM (user.* on a symlink or special file, trusted./security.
  // writes by non-root), EBADF (an O_PATH fd).
  virtual Result<size_t> getxattr(At at, std::string_view path, bool follow, std::string_view name, void* value,
                                  size_t size) = 0;
  virtual Result<size_t> fgetxattr(int fd, std::string_view name, void* value, size_t size) = 0;
  virtual Result<void> setxattr(At at, std::string_view path, bool follow, std::string_view name,
                                const void* value, size_t size, int flags) = 0;
  virtual Result<void> fsetxattr(int fd, std::string_view name, const void* value, size_t size, int flags) = 0;
  virtual Result<size_t> listxattr(At at, std::string_view path, bool follow, char* list, size_t size) = 0;
  virtual Result<size_t> flistxattr(int fd, char* list, size_t size) = 0;
  virtual Result<void> removexattr(At at, std::string_view path, bool follow, std::string_view name) = 0;
  virtual Result<void> fremovexattr(int fd, std::string_view name) = 0;

  // Writes back every open file's dirty data and attributes (process exit, sync(2)).
  virtual Result<void> syncAll() = 0;

  // The real path of the last escape (kEscapeErrno) this thread was told of.
  virtual std::string takeEscapedPath() = 0;
};

// Builds a Vfs over `cluster`, which must outlive it. Fails with EIO when the cluster
// cannot be reached.
Result<std::unique_ptr<Vfs>> makeVfs(Cluster& cluster, const VfsOptions& options);

// The largest file myfs stores: that of ext4 with 4 KiB blocks (2^32 - 1 blocks, i.e.
// 16 TiB - 4 KiB), so that programs see the limits of the most common Linux file system:
// lseek past it is EINVAL, a write starting at it EFBIG (one crossing it is short),
// truncate/fallocate beyond it EFBIG. (tmpfs, xfs and btrfs allow up to 2^63 - 1.)
inline constexpr std::uint64_t kMaxFileSize = (std::uint64_t{1} << 44) - 4096;

// The st_dev every myfs inode reports.
inline constexpr dev_t kMyfsDev = 0x6d79;

// Fills a struct stat from attributes.
inline void toStat(const Attr& a, struct stat* st) {
  *st = {};
  st->st_dev = kMyfsDev;
  st->st_ino = a.ino;
  st->st_mode = a.mode;
  st->st_nlink = a.nlink;
  st->st_uid = a.uid;
  st->st_gid = a.gid;
  st->st_rdev = a.rdev;
  // Directories report one 4 KiB block, as ext4 and xfs do for small ones.
  const std::uint64_t size = S_ISDIR(a.mode) ? 4096 : a.size;
  st->st_size = static_cast<off_t>(size);
  st->st_blksize = 65536;
  st->st_blocks = static_cast<blkcnt_t>((size + 511) / 512);
  st->st_atim = timespec{a.atimeNs / 1000000000, a.atimeNs % 1000000000};
  st->st_mtim = timespec{a.mtimeNs / 1000000000, a.mtimeNs % 1000000000};
  st->st_ctim = timespec{a.ctimeNs / 1000000000, a.ctimeNs % 1000000000};
}

}  // namespace myfs
