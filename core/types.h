// Plain value types shared by the client core and the servers.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/placement.h"

namespace myfs {

// The identity an operation runs as (the calling process's fsuid/fsgid and groups).
struct Cred {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> groups;

  bool inGroup(std::uint32_t g) const;
  bool operator==(const Cred&) const = default;
};

// The attributes of one inode, as stat(2) reports them (mirror of schema Attr).
struct Attr {
  InodeId ino = 0;
  std::uint32_t mode = 0;  // S_IFMT type bits | permission bits
  std::uint32_t nlink = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t size = 0;
  std::int64_t atimeNs = 0;
  std::int64_t mtimeNs = 0;
  std::int64_t ctimeNs = 0;
  std::uint64_t rdev = 0;
  std::uint64_t version = 0;
  InodeId parent = 0;  // directories: the inode of ".."
  // Not an attribute: the reply that carried these attributes granted the calling
  // session a lease on the inode (see schema/meta.capnp, openSession).
  bool leased = false;

  bool isDir() const { return S_ISDIR(mode); }
  bool isReg() const { return S_ISREG(mode); }
  bool isLink() const { return S_ISLNK(mode); }
  bool operator==(const Attr&) const = default;
};

// The most links a directory may have (its subdirectories + 2): EMLINK past it.
inline constexpr std::uint32_t kDirLinkMax = 0xfffffff0u;

// Access bits as access(2) takes them.
inline constexpr int kMayRead = 4;
inline constexpr int kMayWrite = 2;
inline constexpr int kMayExec = 1;

// Whether `cred` may access an inode with `attr` for `mask` (kMay* bits), by Linux's
// rules: owner, then group, then other bits; uid 0 may read and write anything and may
// execute when any execute bit is set or the inode is a directory.
bool mayAccess(const Attr& attr, const Cred& cred, int mask);

// The attributes of an inode `cred` makes in directory `parent` (nullptr: none known)
// with type and permission bits `mode` and number `ino`, before the link count: owner
// and group by Linux's rules (a setgid directory hands down its group, to directories
// its setgid bit; a file's setgid bit goes when its maker is not in that group), all
// three times `now`, version 1. The servers make inodes by it, and a client that makes
// files on its own (a delegated directory) predicts them by it.
Attr newInodeAttr(const Cred& cred, const Attr* parent, std::uint32_t mode, InodeId ino, std::int64_t now);

// The DT_* value for a mode's type bits.
std::uint8_t direntType(std::uint32_t mode);

// Nanoseconds since the epoch, from CLOCK_REALTIME.
std::int64_t nowNs();

}  // namespace myfs
