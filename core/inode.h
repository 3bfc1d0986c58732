// Inode: the client's in-memory copy of one file's attributes and data (the kernel's
// struct inode with its address_space).
//
// Thread-safety: every member after `mu` is guarded by it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "core/page_cache.h"
#include "core/types.h"

namespace myfs {

struct Inode {
  explicit Inode(InodeId id) : ino(id) {}

  const InodeId ino;
  std::mutex mu;
  Attr attr;                       // as last seen on the server, plus local changes below
  std::int64_t attrFetchedMs = -1;  // steady-clock ms when attr came from the server
  std::unique_ptr<PageCache> pages;  // regular files, created on first data access
  bool sizeDirty = false;   // attr.size grew locally and is not on the server yet
  bool mtimeDirty = false;  // data changed locally: mtime to be set on the server
  int openCount = 0;        // open file descriptions in this process
  bool unlinked = false;    // last link removed while open: drop data at last close
  bool posixLocked = false;  // this process took a kPosix lock on it (released on close)
};

}  // namespace myfs
