// MetaStore: one metadata shard of the inode-based namespace, over RocksDB.
//
// Implements the semantics of every schema::MetaService method (schema/meta.capnp) as a
// C++ call returning Result<...> of the value types the client's MetaShard uses
// (core/fs_types.h): Linux's rules and errnos for one shard. Every mutation
// is one atomic rocksdb::WriteBatch through the write-ahead log; mutations are serialized
// by one mutex (reads are lock-free). Key layout: server/meta/meta_format.h and
// docs/server.md.
//
// Conventions of every method below:
// - `name` is one path component. "" is ENOENT, longer than 255 bytes ENAMETOOLONG, a
//   '/' in it EINVAL; "." and ".." get the errno Linux gives for that call.
// - A directory argument that is not an inode of this shard is ENOENT; not a directory,
//   ENOTDIR. Search (x) permission on it is checked first (EACCES), as a path walk does.
// - Every change of an inode increments its version; entry changes set the parent's
//   mtime and ctime; attribute changes set ctime.
// - A RocksDB failure is EIO (logged to stderr).
#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/fs_types.h"
#include "core/result.h"
#include "core/types.h"
#include "server/meta/inode_cache.h"
#include "server/meta/meta_format.h"
#include "server/meta/meta_txn.h"

namespace myfs::server {

// Limits and flags of the calls below.
inline constexpr std::size_t kNameMax = 255;               // NAME_MAX
inline constexpr std::size_t kSymlinkMax = 4095;           // PATH_MAX - 1: longest symlink target
inline constexpr std::uint32_t kLinkMax = 65000;           // hard links of a non-directory (ext4's)
inline constexpr std::uint32_t kRenameNoReplace = 1;       // renameat2 RENAME_NOREPLACE
inline constexpr std::uint32_t kRenameExchange = 2;        // renameat2 RENAME_EXCHANGE
inline constexpr std::uint32_t kReaddirMaxEntries = 4096;  // cap of one readdir page

struct MetaStoreOptions {
  std::string dir;                  // RocksDB directory (created if missing)
  std::uint32_t shardIndex = 0;
  std::uint32_t shardCount = 1;
  std::uint32_t chunkSize = kDefaultChunkSize;  // used only when formatting
  std::uint32_t rootUid = 0;        // owner of the root directory made at format time
  std::uint32_t rootGid = 0;
  // Size of a RocksDB memtable (each has its own WAL file); 0: RocksDB's default (64 MiB).
  // Tests make it small to have the store switch memtables and WAL files often.
  std::size_t memtableBytes = 0;
};

class MetaStore {
 public:
  // Opens the shard in opts.dir, formatting it when empty (superblock; shard 0 also makes
  // the root directory, ino 1, S_IFDIR|0755, nlink 2, parent 1, owned by rootUid/rootGid).
  // An existing store keeps its chunk size; a stored shard index or count different from
  // opts is refused. On failure returns nullptr and sets *error to a one-line reason.
  static std::unique_ptr<MetaStore> open(const MetaStoreOptions& opts, std::string* error);

  ~MetaStore();
  MetaStore(const MetaStore&) = delete;
  MetaStore& operator=(const MetaStore&) = delete;

  // Cluster constants (chunk size from the superblock).
  MountInfo mountInfo() const;

  // The child `name` of `parent` ("." is parent itself, ".." its parent). Complete attr if
  // the child's inode is on this shard; otherwise only ino and type bits, nlink 0.
  // `intent`, when given, receives the entry's DirIntent if its directory may not be
  // made yet on its own shard (mkdirRemote).
  // Errors: ENOENT, ENOTDIR, EACCES, ENAMETOOLONG.
  Result<Attr> lookup(const Cred& cred, InodeId parent, std::string_view name,
                      std::optional<DirIntent>* intent = nullptr);

  // Errors: ENOENT.
  Result<Attr> getattr(InodeId ino);

  // chmod (owner or root, else EPERM; S_ISGID dropped when a non-root caller is not in
  // the file's group), chown (root; the owner may change the group to one of its groups;
  // else EPERM; on a non-directory clears S_ISUID, and S_ISGID when group-executable),
  // size (EISDIR for a directory, EINVAL for other non-regular files or size > 2^63-1;
  // no permission check: the client checked write access at open; sets mtime and ctime
  // unless growOnly; growOnly only grows and sets mtime and ctime: a write happened),
  // times (only kSetAttrTimeNow values, one or both: owner, root or write permission,
  // else EACCES; any explicit time: owner or root, else EPERM). Changing anything sets
  // ctime.
  // Errors: ENOENT, EPERM, EACCES, EISDIR, EINVAL.
  Result<Attr> setattr(const Cred& cred, InodeId ino, const SetAttr& req);

  // Makes a regular file (mode type 0 or S_IFREG), fifo, socket or device (root only,
  // else EPERM) in `parent` with a new inode here; S_IFDIR/S_IFLNK types are EINVAL.
  // An existing name with !exclusive returns its attr (as lookup) and created=false; a
  // directory there is EISDIR. "." / "..": EEXIST if exclusive, else EISDIR.
  // Errors: EEXIST, EISDIR, EACCES, ENOENT, ENOTDIR, ENAMETOOLONG, EPERM, EINVAL.
  Result<CreateResult> create(const Cred& cred, InodeId parent, std::string_view name, std::uint32_t mode,
                              bool exclusive, std::uint64_t rdev);

  // A directory with its inode on this shard in `parent` (mode & 01777, setgid inherited).
  // Errors: EEXIST (also "." and ".."), EACCES, ENOENT, ENOTDIR, EMLINK, ENAMETOOLONG.
  Result<Attr> mkdir(const Cred& cred, InodeId parent, std::string_view name, std::uint32_t mode);

  // A symlink (mode S_IFLNK|0777, size = target length). Errors: EEXIST, EACCES, ENOENT
  // (also an empty target), ENOTDIR, ENAMETOOLONG (name, or target over 4095 bytes).
  Result<Attr> symlink(const Cred& cred, InodeId parent, std::string_view name, std::string_view target);

  // Errors: ENOENT, EINVAL (not a symlink).
  Result<std::string> readlink(InodeId ino);

  // Up to maxEntries (0 or more than 4096: 4096) entries after `cookie` (empty: from the
  // start), in name-hash order, without "." and "..". nextCookie is the key suffix of the
  // last entry returned; entries added or removed meanwhile never make a page repeat or
  // skip another entry. Needs read permission. Errors: ENOENT, ENOTDIR, EACCES, EINVAL
  // (malformed cookie).
  Result<DirPage> readdir(const Cred& cred, InodeId ino, std::string_view cookie, std::uint32_t maxEntries);

  // unlink(2) (isDir=false; a directory is EISDIR) or rmdir(2) (isDir=true; a
  // non-directory is ENOTDIR, entries ENOTEMPTY, root EBUSY, a directory inode on another
  // shard EXDEV). Needs w+x on parent and the sticky-directory rule (EPERM). A local inode
  // loses the link in the same batch (freed at 0: lastLink, size); a remote one is
  // reported with remoteInode=true for linkCount(-1) on its shard. For a remote victim in
  // a sticky directory the server cannot see the victim's owner: it allows the caller
  // that owns the directory or is root, and otherwise trusts the client's check of the
  // victim's owner (done with the attr it fetched from the owning shard).
  // "." is EISDIR (unlink) / EINVAL (rmdir); ".." is EISDIR / ENOTEMPTY.
  // Errors: ENOENT, ENOTDIR, EISDIR, ENOTEMPTY, EACCES, EPERM, EBUSY, EXDEV, EINVAL.
  Result<UnlinkResult> unlink(const Cred& cred, InodeId parent, std::string_view name, bool isDir);

  // rename(2)/renameat2 with both parents on this shard. Same inode → success, no change.
  // Directory over non-directory ENOTDIR, non-directory over directory EISDIR, over a
  // non-empty directory ENOTEMPTY, over a directory whose inode is remote EXDEV; source
  // an ancestor of the destination (as far as parent pointers on this shard show) EINVAL,
  // destination an ancestor of the source ENOTEMPTY (EINVAL with EXCHANGE);
  // NOREPLACE with an existing target EEXIST; EXCHANGE swaps (ENOENT without target);
  // other flags EINVAL. "." or ".." as source EBUSY, as target EBUSY (EEXIST with
  // NOREPLACE). Moving a directory to a new parent needs write permission on it and
  // updates its ".."; if its inode is on another shard that cannot be one batch: EXDEV (the
  // client takes the two-shard path). movedIno is the source inode.
  // Errors: ENOENT, EEXIST, EISDIR, ENOTDIR, ENOTEMPTY, EINVAL, EACCES, EPERM, EXDEV,
  // EBUSY, EMLINK, ENAMETOOLONG.
  Result<RenameResult> rename(const Cred& cred, InodeId srcParent, std::string_view srcName, InodeId dstParent,
                              std::string_view dstName, std::uint32_t flags);

  // Counters of this shard.
  ShardStats statfs() const;

  // Step 1 of a cross-shard mkdir (or symlink): a new inode here with nlink 0 and the
  // pending flag; directories get parent = parentHint. uid = cred.uid; gid = cred.gid,
  // or the parent's gid (and S_ISGID for directories) when parentHint is a setgid
  // directory of this shard (for a remote parent the client passes the inherited gid in
  // cred.gid and S_ISGID in mode). Symlinks store `target`.
  // Errors: EINVAL (type not dir/reg/symlink/fifo/socket), ENOENT (empty symlink target),
  // ENAMETOOLONG, ENOSPC (inode numbers exhausted).
  Result<Attr> makeInode(const Cred& cred, InodeId parentHint, std::uint32_t mode, std::string_view target);

  // Sets aside `count` (1..kMaxReservation) new inode numbers of this shard for `owner` (a
  // client session) to name in makeReservedDir or makeFiles, each once; those still
  // unused go with forgetReservations(owner). Errors: EINVAL (count), EAGAIN (owner would
  // hold more than kMaxUnusedReserved unused), ENOSPC.
  Result<InodeRange> reserveInodes(std::uint64_t owner, std::uint32_t count);
  void forgetReservations(std::uint64_t owner);
  static constexpr std::uint32_t kMaxReservation = 1024;
  static constexpr std::uint32_t kMaxUnusedReserved = 4 * kMaxReservation;
  // A directory numbered `ino` (reserved by `owner`), linked from the start (nlink 2,
  // ".." = parent): the inode of an entry the parent's shard adds at the same moment, so
  // that a mkdir across shards takes one round trip. The caller undoes it with
  // linkCount(ino, -1) if that entry fails. uid/gid/mode as makeInode for a remote parent.
  // Errors: EINVAL (ino not reserved by owner, or used; mode not a directory), ENOSPC.
  Result<Attr> makeReservedDir(const Cred& cred, std::uint64_t owner, InodeId ino, InodeId parent,
                               std::uint32_t mode);

  // A mkdir in `parent` whose directory `ino` (a number the directory's shard reserved
  // for the caller) lives on another shard, in one batch here: the entry, and in it the
  // directory's attributes as this shard's mkdir would make them (mode & 01777, setgid
  // inherited, owner cred, times now, nlink 2, ".." = parent) with `leaseTo`, kept as the
  // entry's intent until confirmDir. Returns those attributes. Whoever needs the
  // directory first has its shard make it (makeDir) from the intent.
  // stampNs (when not 0) is the time the attributes carry instead of now (a directory a
  // client made on its own under a delegation, as it stamped it).
  // Errors: EINVAL (ino 0 or of this shard), and those of mkdir.
  Result<Attr> mkdirRemote(const Cred& cred, InodeId parent, std::string_view name, InodeId ino,
                           std::uint32_t mode, std::uint64_t leaseTo, std::int64_t stampNs = 0);
  // The directories of these entries are made on their shards: each entry drops its
  // intent (if it still names that ino), all in one batch. Nothing to do is success.
  struct DirEntryRef {
    InodeId parent = 0;
    std::string_view name;
    InodeId ino = 0;
  };
  Result<void> confirmDirs(std::span<const DirEntryRef> entries);
  Result<void> confirmDir(InodeId parent, std::string_view name, InodeId ino) {
    const DirEntryRef one{parent, name, ino};
    return confirmDirs(std::span<const DirEntryRef>(&one, 1));
  }
  // Makes directory intent.attr.ino of this shard as its parent's shard recorded it
  // (mkdirRemote), unless it exists: then returns it as it is (made false). Takes the
  // number out of any reservation. A number this shard never handed out, or not of this
  // shard, is EINVAL; an existing inode that is not a directory EEXIST. A directory made
  // and removed since is made again (an unreachable inode: a collectable orphan). All
  // the directories made go in one batch (a failed batch fails each with EIO).
  struct MadeDir {
    Attr attr;
    bool made = false;
  };
  std::vector<Result<MadeDir>> makeDirs(std::span<const DirIntent> intents);
  Result<Attr> makeDir(const DirIntent& intent, bool* made) {
    Result<MadeDir> r = makeDirs(std::span<const DirIntent>(&intent, 1)).front();
    if (!r) return r.error();
    *made = r->made;
    return r->attr;
  }

  // Directory `dir` as delegateDir hands it to session `owner` (gen left 0: the lease
  // table's): its attributes, every name in it, and `reserve` (0..kMaxReservation) new
  // numbers set aside for `owner`'s files (makeFiles). Needs read, write and search
  // permission. More than maxEntries names: E2BIG, or with orUnlisted none listed
  // (listed false). Errors: ENOENT (also a directory being removed), ENOTDIR, EACCES, E2BIG,
  // and those of reserveInodes.
  Result<DirDelegation> delegation(const Cred& cred, std::uint64_t owner, InodeId dir, std::uint32_t maxEntries,
                                   std::uint32_t reserve, bool orUnlisted = false);
  // Makes each regular file or directory (of this shard) as its intent says, in one
  // batch, each parent's times moved on once (and its link count, per directory): the
  // number must be one set aside for `owner` (it leaves the reservation), the attributes
  // those newInodeAttr gives the intent's creator in that directory (times as stamped).
  // Whether the caller still holds the delegation is the caller's to check. A name that
  // already names the intent's number stands (made false). Errors per file: EINVAL
  // (number, type or attributes), EEXIST (the name names another inode), EMLINK, EACCES,
  // ENOENT, ENOTDIR, ENAMETOOLONG; a failed batch fails each file it would have made.
  using MadeFile = MadeDir;
  std::vector<Result<MadeFile>> makeFiles(std::uint64_t owner, std::span<const FileIntent> files);

  // Step 2 of cross-shard mkdir/link/rename: name -> ino (type from mode) in `parent`.
  // replace=false: EEXIST if the name exists; replace=true overwrites it and returns the
  // old entry (the target inode itself is not touched: the caller adjusts link counts).
  // Parent nlink follows directory entries. Needs w+x on parent.
  // Errors: EEXIST (also "." and ".."), EACCES, ENOENT (also a parent being removed),
  // ENOTDIR, EMLINK, ENAMETOOLONG.
  Result<AddEntryResult> addEntry(const Cred& cred, InodeId parent, std::string_view name, InodeId ino,
                                  std::uint32_t mode, bool replace);

  // Removes name from parent only if it maps to expectIno (ENOENT otherwise). The target
  // inode is not touched. Permission as unlink (w+x, sticky rule as far as visible).
  // Errors: ENOENT, ENOTDIR, EACCES, EPERM, EINVAL ("." or "..").
  Result<void> removeEntry(const Cred& cred, InodeId parent, std::string_view name, InodeId expectIno);

  // Adjusts the link count of an inode of this shard. A pending inode (nlink 0) becomes
  // linked with delta +1 (nlink 1, or 2 for a directory) and freed with delta < 0.
  // Otherwise: a non-directory's nlink moves by delta (EMLINK beyond 65000, EINVAL below
  // 0) and the inode is freed at 0; a directory accepts delta -1 (its one parent entry
  // went away: freed; ENOTEMPTY if it still has entries) and delta 0, and refuses +1
  // (EPERM: no hard links to directories). newParent != 0 sets ".." of a directory
  // (EINVAL on a non-directory). Returns the new nlink (0: freed) and the size.
  // Errors: ENOENT, EINVAL, EMLINK, EPERM, ENOTEMPTY.
  Result<LinkCountResult> linkCount(InodeId ino, std::int32_t delta, InodeId newParent);

  // The inode `name` in `parent` names, if any (no permission check: for the lease
  // bookkeeping of a change about to be made).
  std::optional<InodeId> entryIno(InodeId parent, std::string_view name);

  // Open references. `heldOpen(ino)` tells whether a client other than the caller holds
  // the inode open; a non-directory losing its last link is then kept as an orphan
  // (nlink 0) instead of being freed (unlink, rename over it, linkCount), and the caller
  // is told it was not the last link. Unset: nothing is held open.
  void setHeldOpen(std::function<bool(InodeId)> heldOpen) { heldOpen_ = std::move(heldOpen); }
  // The last open reference to an orphan went away: frees it. Returns whether it was
  // freed (with its size: the caller removes its data); an inode that is not an orphan
  // (linked again, or never orphaned) is left alone.
  Result<LinkCountResult> releaseOrphan(InodeId ino);

  // Step 1 of a cross-shard rmdir: ENOTEMPTY if the directory has entries, else marks it
  // so that nothing can be added to it (ENOENT) until undo or its removal. The caller's
  // permission is checked by removeEntry on the parent's shard (cred is not used).
  // Errors: ENOENT, ENOTDIR, ENOTEMPTY, EBUSY (root).
  Result<void> prepareRmdir(const Cred& cred, InodeId ino, bool undo);

  // ---- Extended attributes (ops_xattr.cc): the rules of schema/meta.capnp (getxattr
  // and the comment above it): namespaces user./trusted./security. stored, system. and
  // unknown ones EOPNOTSUPP; permissions as Linux's xattr_permission.
  // The value. Errors: ENOENT, ENODATA, EACCES, EOPNOTSUPP, EINVAL, ERANGE.
  Result<std::string> getxattr(const Cred& cred, InodeId ino, std::string_view name);
  // flags: kXattrCreate (EEXIST), kXattrReplace (ENODATA). Sets ctime; returns the attr.
  // Errors: ENOENT, EEXIST, ENODATA, EACCES, EPERM, EOPNOTSUPP, EINVAL, ERANGE, E2BIG,
  // ENOSPC (the inode's name list would exceed kXattrListMax).
  Result<Attr> setxattr(const Cred& cred, InodeId ino, std::string_view name, std::string_view value,
                        std::uint32_t flags);
  // The names the caller may see (trusted.* only for uid 0), in key order. Errors: ENOENT.
  Result<std::vector<std::string>> listxattr(const Cred& cred, InodeId ino);
  // Sets ctime; returns the attr. Errors: ENOENT, ENODATA, EACCES, EPERM, EOPNOTSUPP, EINVAL.
  Result<Attr> removexattr(const Cred& cred, InodeId ino, std::string_view name);

 private:
  MetaStore(std::unique_ptr<rocksdb::DB> db, SuperBlockRecord sb, ShardCounters counters, std::uint64_t nextSeq);

  // Reads an inode of this shard; ENOENT if absent (or not this shard's), EIO if corrupt.
  Result<InodeRecord> loadInode(InodeId ino) const;
  // Loads a directory for a lookup in it: ENOENT, ENOTDIR, EACCES (no search permission).
  Result<InodeRecord> loadSearchableDir(const Cred& cred, InodeId dir) const;
  // The dentry name -> (ino, type) in parent, or nullopt.
  Result<std::optional<DentryRecord>> loadDentry(InodeId parent, std::string_view name) const;
  // Whether directory `dir` has any entry.
  Result<bool> hasEntries(InodeId dir) const;
  // Whether `ancestor` is `ino` or one of its ancestors, following ".." pointers of
  // directories of this shard (stops, returning false, at the root or a remote inode).
  Result<bool> isAncestorOrSelf(InodeId ancestor, InodeId ino) const;
  // Whether `cred` may remove an entry for `victimUid` from directory `dir` under the
  // sticky rule (victimUid nullopt: the victim's inode is remote).
  static bool stickyAllows(const Cred& cred, const Attr& dir, std::optional<std::uint32_t> victimUid);
  // The attr lookup reports for a dentry: complete when local, else ino + type only.
  Result<Attr> attrOfEntry(const DentryRecord& d) const;
  // A new inode record here (ino allocated from txn) owned by cred in directory parent.
  // `chosen`: a number reserved earlier (0: the next one).
  Result<InodeRecord> newInode(MetaTxn& txn, const Cred& cred, const InodeRecord* parent, std::uint32_t mode,
                               InodeId chosen = 0, std::int64_t stampNs = 0);
  // mkdir (remoteIno 0: the inode here) and mkdirRemote (the entry holds the intent).
  Result<Attr> makeDirectory(const Cred& cred, InodeId parent, std::string_view name, std::uint32_t mode,
                             InodeId remoteIno, std::uint64_t leaseTo, std::int64_t stampNs = 0);
  // Loads directory `parent` for a new entry `name` (mkdir, symlink; mu_ held): EEXIST
  // when the name exists or is "." or "..", ENOENT when parent is being removed, EACCES
  // without w+x, and the errors of loadSearchableDir and checkName.
  Result<InodeRecord> loadDirForNewEntry(const Cred& cred, InodeId parent, std::string_view name) const;
  // Stages the loss of the link a removed dentry `entry` held on its inode (`inode`: the
  // inode's record, empty when it is on another shard): a remote inode is reported
  // (remoteInode) for linkCount(-1) on its shard; a directory, or an inode losing its
  // last link, is freed (lastLink, size) unless another client holds it open (then it
  // becomes an orphan: nlink 0, kInodeOrphan, not lastLink); any other loses one link
  // (ctime `now`).
  UnlinkResult unlinkInode(MetaTxn& txn, const DentryRecord& entry, const std::optional<InodeRecord>& inode,
                                  std::int64_t now);
  // Marks a directory's entries changed (mtime, ctime, version).
  static void touchDir(InodeRecord& dir, std::int64_t now);
  // Writes txn atomically; on success the in-memory counters follow. EIO on failure.
  Result<void> commit(MetaTxn& txn);
  MetaTxn beginTxn() const { return MetaTxn(counters_, nextSeq_); }
  bool isLocal(InodeId ino) const { return shardOfInode(ino) == sb_.shardIndex; }

  std::unique_ptr<rocksdb::DB> db_;
  std::function<bool(InodeId)> heldOpen_;
  SuperBlockRecord sb_;
  mutable std::mutex mu_;  // serializes mutations; guards counters_ and nextSeq_ (read-check-write of one operation)
  ShardCounters counters_;
  std::uint64_t nextSeq_;
  std::uint64_t reservedSeq_;  // stored in kCounterKey: numbers below it may be taken
  static constexpr std::uint64_t kSeqBlock = 1024;
  static constexpr std::uint64_t kMaxSeq = (std::uint64_t{1} << kShardShift) - 1;  // per shard
  // Decoded inodes last used (about 150 bytes each): loadInode reads them from memory.
  static constexpr std::size_t kInodeCacheEntries = 1 << 16;
  mutable InodeCache inodes_{kInodeCacheEntries};
  // Unused reserved sequence numbers per owner (guarded by mu_).
  std::unordered_map<std::uint64_t, std::unordered_set<std::uint64_t>> reservations_;
};

// Validates a path component as every entry-creating call does: "" ENOENT, over 255 bytes
// ENAMETOOLONG, containing '/' or NUL EINVAL. "." and ".." pass (callers decide).
Result<void> checkName(std::string_view name);

// As checkName, for a call that cannot take "." or ".." (creating, adding or removing an
// entry): those fail with `dotsErr`.
Result<void> checkEntryName(std::string_view name, int dotsErr);

}  // namespace myfs::server
