// LockTable: the file locks of one metadata shard's inodes (fcntl and flock locks of
// every client), in memory: locks do not survive a server restart, as they do not
// survive a reboot.
//
// A lock belongs to an owner (a process for kPosix, an open file description for kOfd and
// kFlock) and is kept alive by its client, which renews its locks within the lease time.
// A conflicting lock whose client has not been heard of for longer than the lease is
// dropped (the client died or lost the network), with every other lock of that client.
//
// Thread-safety: none; used on the server's event-loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/fs_types.h"
#include "core/result.h"
#include "core/types.h"

namespace myfs::server {

class LockTable {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LockTable(std::chrono::milliseconds lease) : lease_(lease) {}

  // F_SETLK: sets, changes (splitting and merging the owner's ranges as Linux does) or
  // releases (type F_UNLCK) the owner's lock on [start, end]. EAGAIN when a lock of
  // another owner conflicts; EINVAL for a bad type or range. Renews req.client.
  Result<void> set(InodeId ino, const FileLock& req, Clock::time_point now);
  // F_GETLK: the first lock of another owner that conflicts with req, if any.
  std::optional<FileLock> test(InodeId ino, const FileLock& req, Clock::time_point now);
  // Keeps the client's locks alive for another lease.
  void renew(std::uint64_t client, Clock::time_point now);
  // Locks held on ino (for tests and status).
  std::vector<FileLock> held(InodeId ino) const;
  std::chrono::milliseconds lease() const { return lease_; }

 private:
  bool expired(std::uint64_t client, Clock::time_point now) const;
  // Drops every lock of the client.
  void dropClient(std::uint64_t client);
  // The first conflicting lock of a live client; expired clients met on the way are dropped.
  std::optional<FileLock> conflict(InodeId ino, const FileLock& req, Clock::time_point now);

  const std::chrono::milliseconds lease_;
  std::map<InodeId, std::vector<FileLock>> locks_;  // per inode, in no particular order
  std::unordered_map<std::uint64_t, Clock::time_point> lastSeen_;
};

}  // namespace myfs::server
