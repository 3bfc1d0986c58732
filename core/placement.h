// Placement: which server owns an inode, a directory's dentries, or a data chunk.
//
// Inode numbers carry their metadata shard in the top 16 bits, so the owner of any inode
// is known without a lookup. A directory's dentries live on the shard of its inode. A new
// file's inode is allocated on its parent's shard; a new directory's shard is chosen by a
// hash of (parent, name), which spreads a tree over all shards. Chunk (ino, index) goes to
// data server hash(ino, index) mod N; with replication R (future) the replicas go to the
// next R-1 servers. Nothing here is stored: it is all computed, so every client and
// server agrees as long as they agree on the server counts.
#pragma once

#include <cstdint>
#include <string_view>

namespace myfs {

using InodeId = std::uint64_t;

inline constexpr int kShardShift = 48;
inline constexpr InodeId kRootIno = 1;  // on shard 0
inline constexpr std::uint32_t kDefaultChunkSize = 1u << 20;

// The metadata shard that stores inode `ino`.
inline std::uint32_t shardOfInode(InodeId ino) { return static_cast<std::uint32_t>(ino >> kShardShift); }

// The inode number of the `seq`th inode allocated on `shard`.
inline InodeId makeInodeId(std::uint32_t shard, std::uint64_t seq) {
  return (static_cast<InodeId>(shard) << kShardShift) | seq;
}

// 64-bit mix of two integers (splitmix64 finalizer); stable across releases.
inline std::uint64_t mix64(std::uint64_t a, std::uint64_t b) {
  std::uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull);
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

// FNV-1a of a name: the dentry name hash (also orders dentries within a directory, so a
// directory can later be split over shards by hash range).
inline std::uint32_t nameHash(std::string_view name) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : name) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

// The shard on which a new directory `name` in `parent` gets its inode.
inline std::uint32_t shardForNewDirectory(InodeId parent, std::string_view name, std::uint32_t shards) {
  return static_cast<std::uint32_t>(mix64(parent, nameHash(name)) % shards);
}

// The data server that stores chunk `index` of inode `ino`.
inline std::uint32_t dataServerForChunk(InodeId ino, std::uint64_t index, std::uint32_t servers) {
  return static_cast<std::uint32_t>(mix64(ino, index) % servers);
}

}  // namespace myfs
