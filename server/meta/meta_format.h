// The on-disk format of a metadata shard: RocksDB keys and fixed binary values.
//
// Keys (integers big-endian, so keys sort numerically; see docs/server.md):
//   "S"                                  superblock (SuperBlockRecord)
//   "C"                                  next inode sequence number (u64)
//   "T"                                  shard counters at the last clean close (ShardCounters);
//                                        absent while open, so a store not closed is recounted
//   "I" ino                              inode record (InodeRecord)
//   "L" ino                              symlink target (raw bytes)
//   "D" parent nameHash(name) name       dentry (DentryRecord; with an intent, longer)
//   "X" ino name                         extended attribute value (raw bytes)
// Values are fixed-width little-endian records, each starting with its own layout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/fs_types.h"
#include "core/types.h"

namespace myfs::server {

inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr char kSuperKey[] = "S";
inline constexpr char kCounterKey[] = "C";
inline constexpr char kStatsKey[] = "T";
inline constexpr char kInodePrefix = 'I';
inline constexpr char kLinkPrefix = 'L';
inline constexpr char kDentryPrefix = 'D';
inline constexpr char kXattrPrefix = 'X';

// Inode flags kept beside the attributes.
inline constexpr std::uint32_t kInodePending = 1;        // made by makeInode, not yet linked
inline constexpr std::uint32_t kInodeRmdirPrepared = 2;  // prepareRmdir: no new entries
inline constexpr std::uint32_t kInodeHasXattrs = 4;      // "X" keys may exist (deleted with it)
inline constexpr std::uint32_t kInodeOrphan = 8;         // no link left, kept while a client holds it open

// Cluster constants fixed at format time.
struct SuperBlockRecord {
  std::uint32_t formatVersion = kFormatVersion;
  std::uint32_t chunkSize = 0;
  std::uint32_t shardIndex = 0;
  std::uint32_t shardCount = 0;
};

// An inode: its attributes (attr.ino is the key, not stored) and flags.
struct InodeRecord {
  Attr attr;
  std::uint32_t flags = 0;
};

// The target of a dentry: the child inode and its type bits (S_IFMT of the mode), and
// for a directory on another shard not yet made there, what it is to be (mkdirRemote).
struct DentryRecord {
  InodeId ino = 0;
  std::uint32_t type = 0;
  std::optional<DirIntent> intent;
};

// Per-shard counters (statfs): in memory while open, moved with each committed change;
// stored only at a clean close, recounted from the records after any other stop (as XFS
// does with its lazy superblock counters), so no operation writes them.
struct ShardCounters {
  std::uint64_t inodes = 0;
  std::uint64_t dentries = 0;
  std::uint64_t directories = 0;
  std::uint64_t files = 0;  // regular files
  std::uint64_t bytes = 0;  // sum of regular file sizes
};

std::string inodeKey(InodeId ino);
std::string linkKey(InodeId ino);
// The key prefix of every dentry of directory `parent`.
std::string dentryPrefix(InodeId parent);
// The cookie-comparable suffix of a dentry key: nameHash (4 bytes BE) + name.
std::string dentrySuffix(std::string_view name);
std::string dentryKey(InodeId parent, std::string_view name);
// The key prefix of every extended attribute of `ino`, and one attribute's key.
std::string xattrPrefix(InodeId ino);
std::string xattrKey(InodeId ino, std::string_view name);

std::string encodeSuperBlock(const SuperBlockRecord& sb);
// Empty when `bytes` is not a superblock of a known format.
std::optional<SuperBlockRecord> decodeSuperBlock(std::string_view bytes);

std::string encodeInode(const InodeRecord& rec);
// Empty when `bytes` is malformed; `ino` fills attr.ino.
std::optional<InodeRecord> decodeInode(InodeId ino, std::string_view bytes);

std::string encodeDentry(const DentryRecord& d);
std::optional<DentryRecord> decodeDentry(std::string_view bytes);

std::string encodeCounters(const ShardCounters& c);
std::optional<ShardCounters> decodeCounters(std::string_view bytes);

std::string encodeU64(std::uint64_t v);
std::optional<std::uint64_t> decodeU64(std::string_view bytes);

}  // namespace myfs::server
