// The requests and results of the metadata and data services as plain C++ values, one
// set for both sides: the client core passes them through MetaShard and DataPlane
// (core/cluster.h), the servers return them from MetaStore and ChunkStore. Each mirrors
// a struct or method result of schema/*.capnp, whose comments give the fields' meaning;
// rpc/convert.h converts between the two forms.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/types.h"

namespace myfs {

// SetAttr::atimeNs / mtimeNs: the server's clock at the time of the change.
inline constexpr std::int64_t kSetAttrTimeNow = -1;

// Which attributes setattr changes (schema SetAttrRequest): each set* flag says whether
// the field after it is to be set.
struct SetAttr {
  bool setMode = false;
  std::uint32_t mode = 0;  // permission bits (07777); the type bits are kept
  bool setUid = false;
  std::uint32_t uid = 0;
  bool setGid = false;
  std::uint32_t gid = 0;
  bool setSize = false;
  std::uint64_t size = 0;
  bool growOnly = false;  // with setSize: only grow (a writer reporting its end of file)
  bool setAtime = false;
  std::int64_t atimeNs = 0;  // or kSetAttrTimeNow
  bool setMtime = false;
  std::int64_t mtimeNs = 0;  // or kSetAttrTimeNow

  bool operator==(const SetAttr&) const = default;
};

// create: the file's attributes, and whether this call made it (false: it existed).
struct CreateResult {
  Attr attr;
  bool created = false;
  // The calling session holds the new file's write lease under this grant (0: not).
  std::uint64_t writeLease = 0;

  bool operator==(const CreateResult&) const = default;
};

// One entry of a directory listing (never "." or "..").
struct DirEntry {
  std::string name;
  InodeId ino = 0;
  std::uint8_t type = 0;  // DT_*

  bool operator==(const DirEntry&) const = default;
};

// One page of a directory listing. nextCookie continues the listing after the last entry
// of this page; eof: there is nothing after it.
struct DirPage {
  std::vector<DirEntry> entries;
  std::string nextCookie;
  bool eof = false;

  bool operator==(const DirPage&) const = default;
};

// What removing a dentry did to the inode it named.
struct UnlinkResult {
  InodeId ino = 0;
  bool remoteInode = false;  // the inode is on another shard: drop a link there
  bool lastLink = false;     // the inode is gone: its data chunks must be removed
  std::uint64_t size = 0;    // with lastLink: the file's size (whether chunks exist)

  bool operator==(const UnlinkResult&) const = default;
};

// rename within one shard: the inode a replaced target left behind, and the inode moved.
struct RenameResult {
  UnlinkResult replaced;  // ino == 0: nothing was replaced
  InodeId movedIno = 0;

  bool operator==(const RenameResult&) const = default;
};

// addEntry: the entry it overwrote (replacedIno == 0: none).
struct AddEntryResult {
  InodeId replacedIno = 0;
  std::uint32_t replacedMode = 0;  // S_IFMT bits of the overwritten entry

  bool operator==(const AddEntryResult&) const = default;
};

// linkCount: the inode's link count after the change (0: freed), and its size.
struct LinkCountResult {
  std::uint32_t nlink = 0;
  std::uint64_t size = 0;
  bool freed = false;  // the inode is gone: its data is the caller's to remove

  bool operator==(const LinkCountResult&) const = default;
};

// Inode numbers [first, first + count) set aside on one shard (MetaShard::reserveInodes).
struct InodeRange {
  InodeId first = 0;
  std::uint32_t count = 0;

  bool operator==(const InodeRange&) const = default;
};

// A directory whose entry is on its parent's shard and whose inode, on another shard, is
// made after the entry (mkdirRemote): the parent's shard keeps this in the entry until
// the directory's own shard has made it (makeDirs), and hands it to every lookup of the
// name meanwhile, so that whoever needs the directory first makes it.
struct DirIntent {
  Attr attr;                  // the directory as it is to be made (nlink 2, parent: "..")
  std::uint64_t leaseTo = 0;  // the creator's session on the directory's shard: leased when made

  bool operator==(const DirIntent&) const = default;
};

// A directory delegated to one client session (schema delegateDir): nobody else reads or
// changes its names until the server recalls it (its write lease), so that client knows
// every name in it and makes regular files there on its own (FileIntent, makeFiles).
struct DirDelegation {
  std::uint64_t gen = 0;          // the grant's generation (that of the write lease on it)
  Attr attr;                      // the directory at the grant
  std::vector<DirEntry> entries;  // every name in it at the grant (if listed)
  bool listed = true;             // false: more names than asked for, none listed
  bool removals = false;          // makeFiles takes removals and directories too
  InodeRange numbers;             // set aside on its shard for the files made under it

  bool operator==(const DirDelegation&) const = default;
};

// A regular file or directory a client made on its own in a directory delegated to it:
// what the directory's shard is to make (schema makeFiles); or with `remove`, a name it
// unlinked there on its own: what the shard is to unlink if it still names attr.ino.
struct FileIntent {
  Cred cred;         // whose create (unlink) it was
  InodeId parent = 0;
  std::string name;
  Attr attr;               // as newInodeAttr made it (one of the delegation's numbers); nlink 1.
                           // A removal: only ino
  std::uint64_t gen = 0;   // the delegation it was made under
  bool remove = false;
  std::uint64_t leaseTo = 0;  // a directory of another shard: its shard leases it to this session
  std::uint64_t seq = 0;      // the client's number for this intent (set by Cluster::oweFile)

  bool operator==(const FileIntent&) const = default;
};

// Cluster constants, served by every metadata shard.
struct MountInfo {
  std::uint32_t chunkSize = 0;
  std::uint32_t shardIndex = 0;
  std::uint32_t shardCount = 0;
  InodeId rootIno = kRootIno;

  bool operator==(const MountInfo&) const = default;
};

// Counters of one metadata shard (statfs).
struct ShardStats {
  std::uint32_t shard = 0;
  std::uint64_t inodes = 0;
  std::uint64_t dentries = 0;
  std::uint64_t directories = 0;
  std::uint64_t files = 0;  // regular files
  std::uint64_t bytes = 0;  // sum of regular file sizes

  bool operator==(const ShardStats&) const = default;
};

// How many calls of one metadata method a shard has served (schema callCounts).
struct MethodCalls {
  std::string method;
  std::uint64_t calls = 0;

  bool operator==(const MethodCalls&) const = default;
};

// Usage of one data server (its chunk store and the disk holding it).
struct DataStats {
  std::uint64_t chunks = 0;
  std::uint64_t bytes = 0;      // sum of chunk file sizes
  std::uint64_t diskTotal = 0;  // capacity of the file system holding the store
  std::uint64_t diskFree = 0;   // bytes available to an unprivileged user
  std::uint64_t inodes = 0;     // files with at least one chunk here

  bool operator==(const DataStats&) const = default;
};

// Extended attributes (getxattr(2) family): Linux's limits and setxattr flags.
inline constexpr std::size_t kXattrNameMax = 255;    // XATTR_NAME_MAX: longest full name
inline constexpr std::size_t kXattrSizeMax = 65536;  // XATTR_SIZE_MAX: largest value
inline constexpr std::size_t kXattrListMax = 65536;  // XATTR_LIST_MAX: longest name list
inline constexpr std::uint32_t kXattrCreate = 1;     // XATTR_CREATE
inline constexpr std::uint32_t kXattrReplace = 2;    // XATTR_REPLACE

// A file lock as the metadata server arbitrates it (schema/meta.capnp: lock). kPosix
// are fcntl(2) F_SETLK locks owned by a process, kOfd the F_OFD_SETLK ones owned by an
// open file description; both conflict with each other. kFlock are flock(2) locks (whole
// file, owned by a description), a separate set as on Linux.
enum class LockKind : std::uint8_t { kPosix = 0, kOfd = 1, kFlock = 2 };
inline constexpr std::uint64_t kLockToEof = ~std::uint64_t{0};

struct FileLock {
  LockKind kind = LockKind::kPosix;
  std::int32_t type = 0;        // F_RDLCK, F_WRLCK or F_UNLCK
  std::uint64_t start = 0;      // first byte
  std::uint64_t end = kLockToEof;  // last byte, inclusive (kLockToEof: to the end, always)
  std::uint64_t owner = 0;      // process or description: locks of one owner never conflict
  std::uint64_t client = 0;     // the process that renews it (MetaShard::renewLocks)
  std::int32_t pid = 0;         // reported by F_GETLK (kPosix)
};

}  // namespace myfs
