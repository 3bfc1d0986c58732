// Inode: the client's in-memory copy of one file's attributes and data (the kernel's
// struct inode with its address_space).
//
// Thread-safety: every member after `mu` is guarded by it; those before are atomic.
#pragma once

#include <atomic>
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
  // Leases (vfs_lease.cc), readable without `mu` (a recall clears them from the RPC
  // thread): the token of the lease under which `attr` (attrLease) and the names cached
  // in this directory (nameLease) were learned; 0: none.
  std::atomic<std::uint64_t> attrLease{0};
  std::atomic<std::uint64_t> nameLease{0};
  // This process changed the inode's times, link count or size on the server (a name
  // added in it, a link removed): `attr` is still right for walking through it (type,
  // mode, owner), not for stat.
  std::atomic<bool> timesStale{false};
  std::atomic<int> openCount{0};  // open file descriptions in this process (changed under mu)
  // A recall found it open here: the server keeps it (even unlinked) until releaseOpen.
  std::atomic<bool> serverHoldsOpen{false};
  // The generation of the write lease this client holds (schema writeLease), 0: none.
  // Others' reads of the attributes recall it, and we write back before answering; it
  // is given back once the file is no longer open here and nothing is kept back.
  std::atomic<std::uint64_t> writeLease{0};
  // A file this client made under a delegation that its server then refused to make
  // (LeaseListener::fileLost): the errno it refused with; writing back is EIO.
  std::atomic<int> lost{0};

  std::mutex mu;
  Attr attr;                       // as last seen on the server, plus local changes below
  std::unique_ptr<PageCache> pages;  // regular files, created on first data access
  bool sizeDirty = false;   // attr.size grew locally and is not on the server yet
  bool mtimeDirty = false;  // data changed locally: mtime to be set on the server
  bool unlinked = false;    // last link removed while open: drop data at last close
  bool anonymous = false;   // an O_TMPFILE inode never linked: freed at last close
  bool linkable = true;     // false for O_TMPFILE|O_EXCL: linkat refuses it
  bool posixLocked = false;  // this process took a kPosix lock on it (released on close)
};

}  // namespace myfs
