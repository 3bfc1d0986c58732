// File: one open file description (offset, status flags, directory stream), shared by
// every fd that dup() or fork() derived from the same open().
//
// Thread-safety: members after `mu` are guarded by it; `inode` and `path` are immutable.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/cluster.h"
#include "core/inode.h"

namespace myfs {

struct File {
  File(std::shared_ptr<Inode> in, std::string p, int f) : inode(std::move(in)), path(std::move(p)), flags(f) {}

  const std::shared_ptr<Inode> inode;
  const std::string path;  // mount-relative path it was opened by
  std::atomic<int> fdRefs{0};  // fds that refer to this description

  std::mutex mu;
  int flags;               // O_ACCMODE | O_APPEND | O_NONBLOCK | ...
  std::uint64_t offset = 0;
  // The offset lives in the kernel file behind the fd (shared with other processes after
  // fork or exec; Vfs::shareOffset); `offset` is then unused for regular files.
  std::atomic<bool> offsetInKernel{false};
  // Lock owner of this description (kOfd, kFlock): random, kept by fork's copy.
  std::uint64_t lockOwner = 0;
  // The process that took a kOfd or kFlock lock through it (0: none): it releases them at
  // its last close of the description or its exit (it is the one renewing them).
  int descriptionLockPid = 0;

  // Directory stream: entries buffered from the server, position counted in entries
  // (0 and 1 are "." and "..").
  std::vector<DirEntry> dirBuf;
  size_t dirBufPos = 0;
  std::string dirCookie;
  bool dirEof = false;
  std::uint64_t dirPos = 0;
};

}  // namespace myfs
