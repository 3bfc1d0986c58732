// ChunkStore: the chunks of a data server as files on local disk, checksummed.
//
// Layout under <dir>/chunks/:
//   <ino as 16 hex digits>/<chunk index in decimal>        the chunk's bytes
//   <ino as 16 hex digits>/<chunk index in decimal>.crc    its checksum sidecar
// The sidecar has one 8-byte entry per 64 KiB block of the chunk file: the CRC32C of the
// block's current bytes and the CRC32C of its previous bytes (little-endian u32 each). A
// write stores the new entries before the data, and a read accepts either CRC, so a
// server killed between the two steps of an unacknowledged write leaves each block
// wholly old or wholly new, both readable. A block matching neither is EIO (logged).
// The last block covers only the bytes the file holds; bytes never written read as zeros.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "core/fs_types.h"
#include "core/placement.h"
#include "core/result.h"

namespace myfs::server {

inline constexpr std::uint32_t kCrcBlockSize = 64u << 10;
inline constexpr std::uint32_t kMaxChunkSize = 64u << 20;  // largest cluster chunk size

class ChunkStore {
 public:
  // Opens (creating if needed) the store in `dir`. nullptr with *error set on failure.
  static std::unique_ptr<ChunkStore> open(const std::string& dir, std::string* error);

  // Writes `data` at `offset` within chunk (ino, chunk), creating it as needed; the bytes
  // between the old end and `offset` become zeros. sync: data and checksums are made
  // durable (fdatasync, and the directory when the chunk is new) before returning.
  // Errors: EINVAL (offset + size > 64 MiB), ENOSPC, EIO (also: a partially rewritten
  // block failed verification).
  Result<void> write(InodeId ino, std::uint64_t chunk, std::uint32_t offset, std::string_view data, bool sync);

  // Up to `length` bytes from `offset`; fewer when the chunk file ends earlier, none for a
  // chunk never written. Every block read is verified. Errors: EIO (checksum mismatch or
  // missing checksum), EINVAL (offset + length > 64 MiB).
  Result<std::string> read(InodeId ino, std::uint64_t chunk, std::uint32_t offset, std::uint32_t length);
  // The same, into memory `sink(n)` returns once the store knows the n bytes there are
  // (called exactly once on success; n may be 0): a read of whole checksum blocks (or up
  // to the end of the chunk) lands there straight from the file.
  Result<void> read(InodeId ino, std::uint64_t chunk, std::uint32_t offset, std::uint32_t length,
                    const std::function<std::span<std::byte>(std::size_t)>& sink);

  // Drops the chunks of ino wholly at or past `size` and cuts the one containing it.
  // Errors: EINVAL (chunkSize not a power of two in [4 KiB, 64 MiB]), EIO.
  Result<void> truncate(InodeId ino, std::uint64_t size, std::uint32_t chunkSize);

  // Drops every chunk of ino (no chunks: success). Errors: EIO.
  Result<void> remove(InodeId ino);

  // Makes every chunk of ino and the directory entries durable. Errors: EIO, ENOSPC.
  Result<void> fsync(InodeId ino);

  // The chunks of ino held here: index -> bytes the chunk file holds. Errors: EIO.
  Result<std::map<std::uint64_t, std::uint32_t>> extents(InodeId ino);

  // Counts chunks, bytes and inodes by scanning the store, and the disk's capacity.
  Result<DataStats> stats();

  const std::string& dir() const { return dir_; }

 private:
  explicit ChunkStore(std::string dir);

  std::string inodeDir(InodeId ino) const;
  std::string chunkPath(InodeId ino, std::uint64_t chunk) const;
  // The lock of every chunk of ino (striped; serializes sidecar read-modify-write).
  std::mutex& lockFor(InodeId ino);
  // Cuts one chunk file (and its sidecar) to `size` bytes, re-checksumming its last block.
  Result<void> cutChunk(const std::string& path, std::uint64_t size);

  std::string dir_;        // the store's root (as given)
  std::string chunksDir_;  // dir_ + "/chunks"
  std::array<std::mutex, 64> locks_;
};

}  // namespace myfs::server
