// Plain request and result types of MetaStore (mirrors of schema/meta.capnp structs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/types.h"

namespace myfs::server {

inline constexpr std::size_t kNameMax = 255;          // NAME_MAX
inline constexpr std::size_t kSymlinkMax = 4095;      // PATH_MAX - 1: longest symlink target
inline constexpr std::uint32_t kLinkMax = 65000;      // hard links of a non-directory (ext4's)
inline constexpr std::uint32_t kDirLinkMax = 0xfffffff0u;  // subdirectories + 2 of a directory
inline constexpr std::uint32_t kRenameNoReplace = 1;  // renameat2 RENAME_NOREPLACE
inline constexpr std::uint32_t kRenameExchange = 2;   // renameat2 RENAME_EXCHANGE
inline constexpr std::uint32_t kReaddirMaxEntries = 4096;  // cap of one readdir page
inline constexpr std::int64_t kTimeNow = -1;          // SetAttrRequest: the server's clock

// Cluster constants served by mountInfo.
struct MountInfo {
  std::uint32_t chunkSize = 0;
  std::uint32_t shardIndex = 0;
  std::uint32_t shardCount = 0;
  InodeId rootIno = kRootIno;
};

// Which attributes setattr changes (mirror of schema SetAttrRequest).
struct SetAttrRequest {
  bool setMode = false;
  std::uint32_t mode = 0;
  bool setUid = false;
  std::uint32_t uid = 0;
  bool setGid = false;
  std::uint32_t gid = 0;
  bool setSize = false;
  std::uint64_t size = 0;
  bool setAtime = false;
  std::int64_t atimeNs = 0;  // kTimeNow: now
  bool setMtime = false;
  std::int64_t mtimeNs = 0;  // kTimeNow: now
  bool growOnly = false;
};

struct CreateResult {
  Attr attr;
  bool created = false;
};

struct DirEntry {
  std::string name;
  InodeId ino = 0;
  std::uint8_t type = 0;  // DT_*
};

struct ReaddirPage {
  std::vector<DirEntry> entries;
  std::string nextCookie;
  bool eof = false;
};

struct UnlinkResult {
  InodeId ino = 0;
  bool remoteInode = false;
  bool lastLink = false;
  std::uint64_t size = 0;
};

struct RenameResult {
  InodeId replacedIno = 0;
  bool replacedRemote = false;
  bool replacedLast = false;
  std::uint64_t replacedSize = 0;
  InodeId movedIno = 0;
};

struct AddEntryResult {
  InodeId replacedIno = 0;
  std::uint32_t replacedMode = 0;
};

struct LinkCountResult {
  std::uint32_t nlink = 0;
  std::uint64_t size = 0;
};

struct ShardStats {
  std::uint32_t shard = 0;
  std::uint64_t inodes = 0;
  std::uint64_t dentries = 0;
  std::uint64_t directories = 0;
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};

}  // namespace myfs::server
