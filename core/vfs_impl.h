// VfsImpl: the Vfs over a Cluster. Split over namei.cc (path walk and caches),
// vfs_namespace.cc (operations on names) and vfs_io.cc (open files and data).
#pragma once

#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/cluster.h"
#include "core/dentry_cache.h"
#include "core/walk_cache.h"
#include "core/file_table.h"
#include "core/inode.h"
#include "core/vfs.h"
#include "core/writeback.h"

namespace myfs {

class VfsImpl final : public Vfs, public LeaseListener {
 public:
  VfsImpl(Cluster& cluster, VfsOptions options, MountInfo mount);
  ~VfsImpl() override;

  Result<void> open(int fd, At at, std::string_view path, int flags, mode_t mode) override;
  Result<void> close(int fd) override;
  Result<void> dup(int oldFd, int newFd) override;
  bool isOpen(int fd) const override { return files_.isOpen(fd); }
  Result<size_t> read(int fd, void* buf, size_t n) override;
  Result<size_t> write(int fd, const void* buf, size_t n) override;
  Result<size_t> pread(int fd, void* buf, size_t n, off_t off) override;
  Result<size_t> pwrite(int fd, const void* buf, size_t n, off_t off) override;
  Result<off_t> lseek(int fd, off_t off, int whence) override;
  Result<Attr> fstat(int fd) override;
  Result<void> ftruncate(int fd, off_t size) override;
  Result<void> fsync(int fd, bool dataOnly) override;
  Result<void> allocate(int fd, std::uint64_t off, std::uint64_t len, bool keepSize) override;
  Result<void> fallocate(int fd, int mode, std::uint64_t off, std::uint64_t len) override;
  Result<int> getFlags(int fd) override;
  Result<void> setFlags(int fd, int flags) override;
  Result<size_t> getdents(int fd, void* buf, size_t n) override;
  Result<void> dirSeek(int fd, std::uint64_t pos) override;
  Result<std::uint64_t> dirTell(int fd) override;
  Result<std::string> fdPath(int fd) override;
  InodeId holdCwd(std::string_view rel, InodeId ino) override;
  Result<std::string> cwdPath() override;
  void releaseCwd() override;
  Result<void> fchmod(int fd, mode_t mode) override;
  Result<void> fchown(int fd, uid_t uid, gid_t gid) override;
  Result<void> futimens(int fd, std::int64_t atimeNs, std::int64_t mtimeNs) override;

  Result<Attr> stat(At at, std::string_view path, bool follow) override;
  Result<void> access(At at, std::string_view path, int mask, bool effective) override;
  Result<void> mkdir(At at, std::string_view path, mode_t mode) override;
  Result<void> mknod(At at, std::string_view path, mode_t mode, dev_t rdev) override;
  Result<void> rmdir(At at, std::string_view path) override;
  Result<void> unlink(At at, std::string_view path) override;
  Result<void> rename(At from, std::string_view fromPath, At to, std::string_view toPath,
                      unsigned flags) override;
  Result<void> link(At from, std::string_view fromPath, At to, std::string_view toPath,
                    bool follow) override;
  Result<void> symlink(std::string_view target, At at, std::string_view path) override;
  Result<std::string> readlink(At at, std::string_view path) override;
  Result<void> truncate(At at, std::string_view path, off_t size) override;
  Result<void> chmod(At at, std::string_view path, mode_t mode, bool follow) override;
  Result<void> chown(At at, std::string_view path, uid_t uid, gid_t gid, bool follow) override;
  Result<void> utimens(At at, std::string_view path, std::int64_t atimeNs, std::int64_t mtimeNs,
                       bool follow) override;
  Result<std::string> resolveDirectory(At at, std::string_view path) override;
  Result<std::string> realpath(At at, std::string_view path) override;
  Result<struct statvfs> statfs() override;
  Result<size_t> getxattr(At at, std::string_view path, bool follow, std::string_view name, void* value,
                          size_t size) override;
  Result<size_t> fgetxattr(int fd, std::string_view name, void* value, size_t size) override;
  Result<void> setxattr(At at, std::string_view path, bool follow, std::string_view name, const void* value,
                        size_t size, int flags) override;
  Result<void> fsetxattr(int fd, std::string_view name, const void* value, size_t size, int flags) override;
  Result<size_t> listxattr(At at, std::string_view path, bool follow, char* list, size_t size) override;
  Result<size_t> flistxattr(int fd, char* list, size_t size) override;
  Result<void> removexattr(At at, std::string_view path, bool follow, std::string_view name) override;
  Result<void> fremovexattr(int fd, std::string_view name) override;
  Result<void> syncAll() override;
  std::string takeEscapedPath() override;
  Result<void> setLock(int fd, LockKind kind, int type, std::uint64_t start, std::uint64_t end, bool wait) override;
  Result<FileLock> getLock(int fd, LockKind kind, int type, std::uint64_t start, std::uint64_t end) override;
  void releaseLocksAtExit() override;
  std::vector<int> openFds() const override;
  void afterForkInChild() override;
  void resourceLimitsChanged() override;
  void credentialsChanged() override { credGeneration_.fetch_add(1, std::memory_order_acq_rel); }
  Result<OpenFileInfo> describe(int fd) override;
  Result<void> shareOffset(int fd, const std::function<Result<void>(std::uint64_t)>& install) override;
  Result<void> adopt(int fd, InodeId ino, std::string path, int flags) override;

  // ---- LeaseListener (vfs_lease.cc), called from the RPC thread.
  RecallAnswer recall(std::uint32_t shard, std::span<const InodeId> inos, bool writesOnly = false) override;
  void flushRecalled(std::span<const InodeId> inos) override;
  void sessionStarted(std::uint32_t shard, std::int64_t sentMs, std::uint32_t leaseMs) override;
  void renewed(std::uint32_t shard, std::int64_t sentMs, std::uint32_t leaseMs, bool valid) override;
  std::vector<InodeId> forgotten(std::uint32_t shard) override;
  std::vector<WriteGrant> releasedWrites(std::uint32_t shard) override;
  void renewalFailed(std::uint32_t shard, std::vector<InodeId> forgotten, std::vector<WriteGrant> released) override;
  void fileLost(const FileIntent& file, int err) override;
  void removedAhead(const FileIntent& removal, bool lastLink, std::uint64_t size) override;

 private:
  // An inode reached by a walk, with the attributes the walk saw. An incomplete node
  // knows only its number and type (a lookup answered by the parent's shard for an inode
  // on another one): the servers check permissions on it when the walk goes on.
  struct Node {
    std::shared_ptr<Inode> inode;
    Attr attr;
    bool complete = true;
    std::uint64_t attrToken = 0;  // the lease token `attr` was read under (0: none)
  };
  // The result of walking a path.
  struct Walk {
    Node node;                       // the final object (walkFull) or the parent (walkParent)
    std::string last;                // walkParent: the final name ("" when the path names "/")
    bool trailingSlash = false;      // the path ended in '/'
    std::vector<std::string> canon;  // canonical components of `node`
  };

  // ---- vfs_lease.cc helpers. A lease token (Inode::attrLease, nameLease) is live while
  // its shard's session holds: issued after the session began, renewed in time.
  struct ShardLeases {
    std::atomic<std::int64_t> validUntilMs{0};  // steady-clock ms
    std::atomic<std::uint64_t> floor{0};        // tokens up to this one are void
    std::atomic<std::uint64_t> recalls{0};      // recalls received so far (and sessions replaced)
    std::atomic<std::uint64_t> anyRecalls{0};   // also those of write leases only
    std::atomic<bool> hadSession{false};        // a session with the shard began before
    std::mutex forgetMu;
    std::vector<InodeId> forgotten;  // GUARDED_BY(forgetMu)
    std::vector<WriteGrant> releasedWrites;  // GUARDED_BY(forgetMu)
  };
  bool leaseLive(InodeId ino, std::uint64_t token) const;
  // Read before a request whose reply may grant a lease on an inode of ino's shard.
  std::uint64_t recallMark(InodeId ino) const;
  // Installs a granted lease in `slot` (of ino's Inode), unless a recall from its shard
  // arrived since `mark`; a live token already there is kept. Returns the slot's token
  // (0: none).
  std::uint64_t installLease(InodeId ino, std::atomic<std::uint64_t>& slot, std::uint64_t mark);
  // The cached inode object for ino, or null.
  std::shared_ptr<Inode> findInode(InodeId ino);
  // An inode object dropped from the cache: the server may forget its leases.
  void noteForgotten(const Inode& inode);
  // Every lease of every shard is void (a forked child has sessions of its own).
  void voidAllLeases();
  // The shard's write leases are gone (a new session, or revoked).
  void dropWriteLeases(std::uint32_t shard);
  // The file is no longer open here and nothing of it is kept back: its write lease, if
  // held, goes back to the server with the next renewal (asked for soon).
  void giveBackWriteLease(Inode& inode);
  // At the last close of an inode a recall found open: the server drops the open
  // reference and, if the inode was unlinked meanwhile, its data is ours to remove.
  void releaseServerOpen(Inode& inode);

  // ---- namei.cc
  Result<Walk> walkFull(At at, std::string_view path, bool followLast, const Cred& cred);
  Result<Walk> walkParent(At at, std::string_view path, const Cred& cred);
  Result<Walk> walk(At at, std::string_view path, bool parentOnly, bool followLast, const Cred& cred);
  // A directory a walk starts from: an open directory's, or the held current directory.
  struct StartDir {
    std::shared_ptr<Inode> inode;
    std::string path;   // mount-relative, where it is (as far as known)
    std::string named;  // the held cwd: the name the front end builds paths from (holdCwd)
    bool removed = false;  // the held cwd: this Vfs removed it (rmdir, renamed over)
  };
  // walk() from `from` (null: as `at` says).
  Result<Walk> walkFrom(At at, const StartDir* from, std::string_view path, bool parentOnly, bool followLast,
                        const Cred& cred);
  // A copy of the held current directory (nullopt: none held).
  std::optional<StartDir> heldCwd();
  // The directory ino as the current directory named `rel` (which does not lead to it):
  // the one held now if it is ino (even removed), else ino loaded (nullopt: gone).
  std::optional<StartDir> cwdByInode(std::string_view rel, InodeId ino);
  // After this Vfs removed the directory ino (rmdir, a rename over it): if it is the held
  // current directory, relative paths (At::cwd) start from it, no longer from its name,
  // which a directory made since may have taken.
  void cwdRemovedIf(InodeId ino);
  // The child `name` of directory `dir` (ENOENT when absent), from the dentry cache or server.
  // *nameToken: the lease token of dir's names the answer relied on (0: none).
  Result<Node> lookupChild(const Node& dir, std::string_view name, const Cred& cred,
                           std::uint64_t* nameToken = nullptr);
  // A walk from the root of `path` recorded in walks_ and still good under its leases:
  // the target (attributes copied now) and, when canon is given, its path.
  std::optional<Node> cachedWalk(std::string_view path, bool follow, std::string* canon = nullptr);
  // The inode with attributes the server vouches for: cached under a live lease, else
  // fetched. forStat: times and link count must be current too (see Inode::timesStale).
  Result<Node> loadInode(InodeId ino, bool forStat = false);
  // The cached inode if its attributes are fresh, else an incomplete node of `type`.
  Node cachedOrIncomplete(InodeId ino, std::uint32_t type);
  // Marks cached attributes out of date (after a change made through another inode).
  void stale(InodeId ino);
  // After our rmdir: the directory's cached inode says nlink 0 and is fetched again
  // (the server no longer knows it: "." of an open fd or the cwd then has nlink 0).
  void removedDirectory(InodeId ino);
  // Marks cached times and link count out of date (our own change to a name in a
  // directory, or to a link count): walks still use the attributes, stat fetches them.
  void touched(InodeId ino);
  // The cache object for ino, created empty if absent.
  std::shared_ptr<Inode> inodeObject(InodeId ino);
  // Records attributes fresh from the server; returns them merged with local changes.
  Attr learn(const Attr& fresh);
  // learn() for a reply about an inode made by our own call (create, mkdir, symlink):
  // also caches the attributes (and a directory's names) under the lease the reply
  // carries. `mark` is recallMark(ino) taken before the call was sent.
  Attr learnMade(const Attr& fresh, std::uint64_t mark);
  Attr learnLocked(Inode& inode, const Attr& fresh);  // requires inode.mu held
  void forget(InodeId parent, std::string_view name);
  // Our own change made `name` in `parent` name `child` (0: nothing): cached under the
  // parent's lease when it holds one (the server recalls other clients', not ours).
  void learnEntry(InodeId parent, std::string_view name, InodeId child);
  // kEscapeErrno, with realPath for takeEscapedPath().
  Errno escapeTo(std::string realPath);
  // The process's ids as last read (credentialsChanged), valid as long as the Vfs.
  const Cred& credentials(bool effective = true) const;
  struct CredSnapshot {
    std::uint64_t generation = 0;
    Cred cred;
  };
  std::int64_t clockMs() const;
  // This process's id, as read at start and after fork (no system call).
  pid_t processId() const { return pid_.load(std::memory_order_relaxed); }

  // ---- vfs_namespace.cc helpers
  Result<void> dropLink(const UnlinkResult& r);
  // Linux's sticky-directory rule (only the owner of the entry or of the directory, or
  // root, removes or replaces an entry), for victims on another shard than the directory's:
  // that shard cannot see their owner. stickyMatters: the rule applies to this caller;
  // checkSticky: EPERM when it forbids removing `victim` from `dir`.
  static bool stickyMatters(const Attr& dir, const Cred& cred);
  Result<void> checkSticky(const Attr& dir, const Node& victim, const Cred& cred);
  Result<void> mkdirIn(const Node& parent, std::string_view name, mode_t mode, const Cred& cred);
  // A cross-shard mkdir in one round trip with a number reserved on `shard`; nullopt when
  // none could be had or the shard no longer knows it (the caller takes the two-step way).
  std::optional<Result<InodeId>> mkdirReserved(std::uint32_t shard, InodeId parent, std::string_view name,
                                               std::uint32_t mode, const Cred& cred);
  // A number reserved on `shard` for this process (nullopt: none could be had).
  std::optional<InodeId> takeReservedInode(std::uint32_t shard);
  Result<void> renameAcrossShards(const Cred& cred, const Node& srcDir, std::string_view srcName,
                                  const Node& dstDir, std::string_view dstName, unsigned flags);
  Result<void> exchangeAcrossShards(const Cred& cred, const Node& srcDir, std::string_view srcName,
                                    const Node& dstDir, std::string_view dstName);
  // EINVAL if directory `dir` is newParent or one of its ancestors (a move under itself).
  Result<void> refuseMoveUnder(InodeId dir, InodeId newParent);
  Result<void> setattrNode(const Node& node, const SetAttr& req, const Cred& cred);

  // ---- vfs_xattr.cc helpers
  // The inode an fd names, for the f*xattr calls (EBADF for an O_PATH fd).
  Result<InodeId> xattrInodeOf(int fd);
  Result<size_t> getxattrIno(InodeId ino, std::string_view name, void* value, size_t size, const Cred& cred);
  Result<void> setxattrIno(InodeId ino, std::string_view name, const void* value, size_t size, int flags,
                           const Cred& cred);
  Result<size_t> listxattrIno(InodeId ino, char* list, size_t size, const Cred& cred);
  Result<void> removexattrIno(InodeId ino, std::string_view name, const Cred& cred);

  // ---- vfs_lock.cc helpers
  struct LockRenewer;
  // This process's lock owner and client id (changes in a forked child).
  std::uint64_t processLockOwner() const;
  // A lock request of fd's description or this process.
  FileLock lockRequest(const File& f, LockKind kind, int type, std::uint64_t start, std::uint64_t end) const;
  // Releases the owner's locks of `kind` on the inode, after writing back its changes.
  Result<void> unlockAll(File& f, LockKind kind);
  // Called when a lock was granted on `shard`: renews it in the background from now on.
  void keepLocksAlive(std::uint32_t shard);
  void stopLockRenewer();
  // A fresh owner for a new open file description.
  std::uint64_t newDescriptionOwner();
  // On close: the process's kPosix locks on the file (any fd) and, at the description's
  // last fd, its kOfd and kFlock locks.
  Result<void> releaseLocksOnClose(File& f, bool lastReference);

  // ---- vfs_delegate.cc: directories delegated to this client (schema delegateDir)
  struct Delegation;
  // open(O_CREAT) of w.last in w.node under a live delegation: made here, sent to the
  // server without waiting (Cluster::oweFile, pushOwed). nullopt: not delegated, or a
  // case the server must decide (the name exists and O_EXCL is not set): the caller asks.
  std::optional<Result<void>> createDelegated(int fd, const Walk& w, int flags, mode_t mode, const Cred& cred);
  // A file was made (or, `unlinked`, a name removed) in `dir` by a call to its server:
  // after a few, asks for `dir`.
  void noteNameChange(InodeId dir, const Cred& cred, bool unlinked = false);
  // unlink of w.last in w.node under a live delegation: decided here (a file of the
  // directory's shard, known under its lease), sent to the server without waiting.
  // nullopt: not delegated, or a case the server must decide.
  std::optional<Result<void>> unlinkDelegated(const Walk& w, const Cred& cred);
  // Whether d (of `dir`) may decide now: live under our session's leases, with our own
  // name changes in `dir` folded in. Requires d.mu.
  bool usable(InodeId dir, Delegation& d);
  // mkdir of `name` in `parent` under a live delegation: made here (a number of the
  // delegation, or one reserved on the directory's own shard), sent without waiting.
  std::optional<Result<void>> mkdirDelegated(const Node& parent, std::string_view name, mode_t mode,
                                             const Cred& cred);
  // Whether a new `name` may be made in d (of `dir`) now (`lock` holds d.mu; let go
  // and taken again around a call): kFree, and with needNumber a number at hand; kExists;
  // kAsk: the server's to decide (not usable, not listed, or no number to be had).
  enum class NewName : std::uint8_t { kFree, kExists, kAsk };
  NewName decideNewName(std::unique_lock<std::mutex>& lock, InodeId dir, Delegation& d, std::string_view name,
                        bool needNumber);
  // Our own change to a name in `dir` other than a delegated create, about to be sent to
  // the server: the delegation (if any) makes nothing more (its list would miss it; it
  // stays held until given back or recalled), and a delegation asked for while the
  // change is on its way is not used (the server may list the directory before it makes
  // the change). finish...() (or the end of scope) once the server answered.
  //
  // What one of our own name changes did in a directory, for a delegation's list.
  struct OwnChange {
    enum class Kind : std::uint8_t { kUnknown, kMade, kRemoved };
    Kind kind = Kind::kUnknown;
    std::string name;
  };
  class NameChange {
   public:
    NameChange(VfsImpl& vfs, InodeId dir) : vfs_(&vfs), dir_(dir) {}
    NameChange(NameChange&& o) noexcept : vfs_(std::exchange(o.vfs_, nullptr)), dir_(o.dir_) {}
    NameChange(const NameChange&) = delete;
    NameChange& operator=(const NameChange&) = delete;
    NameChange& operator=(NameChange&&) = delete;
    ~NameChange() { finish(); }
    // The server answered: the change made the entry `name` (finishMade), removed it
    // (finishRemoved), or did anything else, or failed in a way that may have changed
    // names (finish).
    void finish() { done(OwnChange{}); }
    void finishMade(std::string name) { done(OwnChange{OwnChange::Kind::kMade, std::move(name)}); }
    void finishRemoved(std::string name) { done(OwnChange{OwnChange::Kind::kRemoved, std::move(name)}); }

   private:
    void done(OwnChange change) {
      if (vfs_ != nullptr) std::exchange(vfs_, nullptr)->nameChanged(dir_, std::move(change));
    }
    VfsImpl* vfs_;
    InodeId dir_;
  };
  [[nodiscard]] NameChange nameChanging(InodeId dir);
  void nameChanged(InodeId dir, OwnChange change);
  // Folds our own changes the server made in `dir` into d's names (one look under
  // delegMu_ per create): kInFlight while one is still on its way (nothing folded),
  // kUnknown if one did what the list cannot follow (a move, a failure). Requires d.mu.
  enum class OwnChangesState : std::uint8_t { kFolded, kInFlight, kUnknown };
  OwnChangesState foldOwnChanges(InodeId dir, Delegation& d);
  void delegationNameChanged(InodeId dir);
  // The delegation of `dir` is recalled: makes nothing more (a create under way finishes
  // first); true if its server lease was held (what it made must be answered for).
  bool endDelegation(InodeId dir);
  // From recall(), never waiting: no create starts in `dir` from now; true if its
  // delegation is held (flushRecalled then ends it and waits for what it made).
  bool delegationRecalled(InodeId dir);
  std::shared_ptr<Delegation> liveDelegation(InodeId dir);
  // Every delegation of `shard` is void (the session ended or was revoked), and the
  // numbers its session reserved; shard ~0: all.
  void endDelegations(std::uint32_t shard);
  // A delegation makes nothing more; its unused numbers go to the spares. Requires d.mu.
  void retire(InodeId dir, Delegation& d);
  // Numbers reserved for this client's session with `shard` (of session epoch `epoch`)
  // and not used: moved to `to` (false: none, or another session's), and back.
  bool takeSpareNumbers(std::uint32_t shard, std::uint64_t epoch, std::vector<InodeId>& to);
  void giveSpareNumbers(std::uint32_t shard, std::uint64_t epoch, std::vector<InodeId>& numbers);
  std::uint64_t& sessionEpoch(std::uint32_t shard);  // requires delegMu_
  // At a renewal with `shard`: retires the delegations idle for kDelegationIdleMs, and
  // returns the held ones no longer used to give back now (every file made under them
  // answered for); the rest wait for a settle (Cluster::settleSoon) and a later renewal.
  std::vector<WriteGrant> idleDelegations(std::uint32_t shard);

  // ---- vfs_io.cc helpers
  Result<std::shared_ptr<File>> fileOf(int fd) const { return files_.get(fd); }
  Result<void> openNode(int fd, Node node, std::string path, int flags, bool created, const Cred& cred);
  // open(O_TMPFILE): an unnamed file in the directory `path`, freed at its last close
  // unless linkat gives it a name.
  Result<void> openTmpfile(int fd, At at, std::string_view path, int flags, mode_t mode, const Cred& cred);
  Result<void> release(std::shared_ptr<File> file);
  Result<void> flushInode(Inode& inode, bool sync);  // requires inode.mu held
  PageCache& pagesOf(Inode& inode);                   // requires inode.mu held
  // Over the page cache budget: drops the clean chunks of the least recently used files
  // other than `busy` until under it (never waits for an inode another thread holds).
  void reclaimPages(const Inode& busy);
  // Up to maxEntries records; requires f.mu held.
  Result<size_t> fillDirents(File& f, void* buf, size_t n, std::uint64_t maxEntries);
  Result<size_t> readAt(File& f, void* buf, size_t n, std::uint64_t off);
  Result<size_t> writeAt(File& f, const void* buf, size_t n, std::uint64_t* off, bool append);
  Result<void> truncateInode(Inode& inode, std::uint64_t size, const Cred& cred);
  // lseek's SEEK_DATA (data = true) or SEEK_HOLE from off < size, from the chunks the data
  // servers hold (a chunk's bytes past its stored length are a hole).
  Result<std::uint64_t> seekDataOrHole(Inode& inode, std::uint64_t off, std::uint64_t size, bool data);
  // The file position of f used through fd, and setting it (the kernel's when the
  // offset is shared with other processes); require f.mu held.
  Result<std::uint64_t> positionOf(const File& f, int fd) const;
  void setPosition(File& f, int fd, std::uint64_t pos);
  // For a description shared with other processes: fetches the file's attributes again
  // (dropping cached pages another process made stale). Called before every read and
  // write through it: processes that share a description see each other's flushed data.
  Result<void> revalidateShared(const File& f);

  Cluster& cluster_;
  const VfsOptions options_;
  const MountInfo mount_;
  std::unique_ptr<ShardLeases[]> leases_;  // one per metadata shard
  std::atomic<std::uint64_t> leaseTokens_{0};
  std::atomic<std::uint64_t> credGeneration_{1};
  std::atomic<pid_t> pid_{::getpid()};
  mutable std::atomic<const CredSnapshot*> creds_[2] = {nullptr, nullptr};  // effective, real
  mutable std::mutex credMu_;
  mutable std::vector<std::unique_ptr<CredSnapshot>> credSnapshots_;  // GUARDED_BY(credMu_)
  DentryCache dentries_;
  WalkCache walks_;
  std::mutex cwdMu_;
  std::optional<StartDir> cwd_;  // the held current directory (holdCwd)
  // cwd_->removed, read without cwdMu_ by every relative walk (set and cleared under it).
  std::atomic<bool> cwdRemoved_{false};
  std::atomic<std::uint64_t> namespaceGeneration_{1};  // bumped by our own name changes
  FileTable files_;
  std::atomic<std::int64_t> cachedBytes_{0};
  std::mutex writebackMu_;
  std::unique_ptr<WritebackQueue> writeback_;  // GUARDED_BY(writebackMu_); made on first use
  const std::uint64_t lockSeed_;  // random: owners and client ids of this Vfs
  std::atomic<std::uint64_t> descriptions_{0};
  std::atomic<std::uint64_t> fileSizeLimit_;  // RLIMIT_FSIZE as last read (~0: none)
  std::mutex renewerMu_;
  LockRenewer* renewer_ = nullptr;  // GUARDED_BY(renewerMu_); a forked child's copy is leaked

  static constexpr std::uint32_t kDelegateMaxEntries = 4096;  // bigger directories are not asked for
  static constexpr std::uint32_t kDelegateNumbers = 256;      // reserved per request
  static constexpr std::uint32_t kChangesBeforeDelegation = 2;
  // After asking (or a recall), before asking again: from the first, doubling per ask up
  // to the second, until a delegation goes back idle.
  static constexpr std::int64_t kDelegationQuietMinMs = 100;
  static constexpr std::int64_t kDelegationQuietMaxMs = 2000;
  // A delegation with no create for this long goes back to its server at the next
  // renewal (renewals come at half this while one is held): a client that stopped
  // creating there holds nobody up for long, one that pauses briefly keeps it.
  static constexpr std::int64_t kDelegationIdleMs = 50;
  std::mutex delegMu_;
  struct Held {
    std::uint64_t gen = 0;
  };
  std::unordered_map<InodeId, Held> held_;  // GUARDED_BY(delegMu_): server leases on directories we hold
  std::unordered_map<InodeId, std::shared_ptr<Delegation>> delegations_;  // GUARDED_BY(delegMu_): those making files
  struct ChangeCount {
    std::uint32_t changes = 0;  // creates and unlinks through the server
    std::int64_t quietUntilMs = 0;
    std::int64_t quietMs = kDelegationQuietMinMs;
  };
  std::unordered_map<InodeId, ChangeCount> changesIn_;  // GUARDED_BY(delegMu_)
  std::vector<std::vector<InodeId>> spareNumbers_;      // GUARDED_BY(delegMu_): per shard, reserved, unused
  std::vector<std::uint64_t> sessionEpochs_;            // GUARDED_BY(delegMu_): per shard, bumped per session
  std::atomic<std::size_t> delegationCount_{0};          // delegations_.size(), read without delegMu_
  // Our own name changes per directory (nameChanging), for delegations: how many are on
  // their way to the server, and while a delegation of it is being asked for, what those
  // that finished meanwhile did (a name made; nullopt: something else).
  struct OwnChanges {
    int inFlight = 0;
    int granting = 0;
    std::vector<OwnChange> finished;
  };
  std::unordered_map<InodeId, OwnChanges> ownChanges_;  // GUARDED_BY(delegMu_)
  std::atomic<bool> delegationsOff_{false};               // the cluster does not delegate

  // Inode numbers each shard set aside for this process's session (mkdirReserved).
  static constexpr std::uint32_t kReserveInodes = 64;
  std::mutex reservedMu_;
  std::vector<std::vector<InodeId>> reserved_;  // GUARDED_BY(reservedMu_); per shard

  static constexpr std::size_t kInodeCacheObjects = 65536;  // kept before unused ones are swept
  std::mutex inodesMu_;
  std::unordered_map<InodeId, std::shared_ptr<Inode>> inodes_;  // GUARDED_BY(inodesMu_)
  std::size_t inodeSweepAt_ = kInodeCacheObjects;              // GUARDED_BY(inodesMu_)
};

// Splits a path into components, dropping empty ones and "." except a final ".".
// ENAMETOOLONG for a path over PATH_MAX (a component over NAME_MAX: the walk's, when it
// reaches it).
Result<std::vector<std::string>> splitPath(std::string_view path);

// Components joined with '/' ("" for none): a mount-relative path.
template <typename Components>
std::string joinComponents(const Components& comps);

}  // namespace myfs
