#include "server/meta/lock_table.h"

#include <fcntl.h>

#include <algorithm>

namespace myfs::server {
namespace {

// kPosix and kOfd locks conflict with each other; flock locks only among themselves.
bool sameSet(LockKind a, LockKind b) { return (a == LockKind::kFlock) == (b == LockKind::kFlock); }

bool overlaps(const FileLock& a, const FileLock& b) { return a.start <= b.end && b.start <= a.end; }

bool mine(const FileLock& held, const FileLock& req) { return held.owner == req.owner && sameSet(held.kind, req.kind); }

// Whether a ends right before b starts (or the other way round).
bool adjacent(const FileLock& a, const FileLock& b) {
  return (a.end != kLockToEof && a.end + 1 == b.start) || (b.end != kLockToEof && b.end + 1 == a.start);
}

}  // namespace

bool LockTable::expired(std::uint64_t client, Clock::time_point now) const {
  auto it = lastSeen_.find(client);
  return it == lastSeen_.end() || now - it->second > lease_;
}

void LockTable::dropClient(std::uint64_t client) {
  for (auto it = locks_.begin(); it != locks_.end();) {
    auto& v = it->second;
    v.erase(std::remove_if(v.begin(), v.end(), [&](const FileLock& l) { return l.client == client; }), v.end());
    it = v.empty() ? locks_.erase(it) : std::next(it);
  }
  lastSeen_.erase(client);
}

std::optional<FileLock> LockTable::conflict(InodeId ino, const FileLock& req, Clock::time_point now) {
  for (bool again = true; again;) {
    again = false;
    auto it = locks_.find(ino);
    if (it == locks_.end()) return std::nullopt;
    for (const FileLock& l : it->second) {
      if (mine(l, req) || !sameSet(l.kind, req.kind) || !overlaps(l, req)) continue;
      if (l.type != F_WRLCK && req.type != F_WRLCK) continue;
      if (!expired(l.client, now)) return l;
      dropClient(l.client);  // its holder stopped renewing: gone
      again = true;
      break;
    }
  }
  return std::nullopt;
}

Result<void> LockTable::set(InodeId ino, const FileLock& reqIn, Clock::time_point now) {
  FileLock req = reqIn;
  if (req.type != F_RDLCK && req.type != F_WRLCK && req.type != F_UNLCK) return Errno(EINVAL);
  if (req.kind == LockKind::kFlock) req.start = 0, req.end = kLockToEof;
  if (req.start > req.end) return Errno(EINVAL);
  renew(req.client, now);
  if (req.type != F_UNLCK && conflict(ino, req, now)) return Errno(EAGAIN);

  std::vector<FileLock>& v = locks_[ino];
  // Cut the owner's own locks out of [start, end].
  std::vector<FileLock> kept;
  kept.reserve(v.size() + 2);
  for (const FileLock& l : v) {
    if (!mine(l, req) || !overlaps(l, req)) {
      kept.push_back(l);
      continue;
    }
    if (l.start < req.start) {
      FileLock left = l;
      left.end = req.start - 1;
      kept.push_back(left);
    }
    if (req.end != kLockToEof && l.end > req.end) {
      FileLock right = l;
      right.start = req.end + 1;
      kept.push_back(right);
    }
  }
  if (req.type != F_UNLCK) {
    // Merge with the owner's touching locks of the same type, as Linux reports them.
    FileLock merged = req;
    for (bool grew = true; grew;) {
      grew = false;
      for (auto it = kept.begin(); it != kept.end(); ++it) {
        if (mine(*it, merged) && it->type == merged.type && (overlaps(*it, merged) || adjacent(*it, merged))) {
          merged.start = std::min(merged.start, it->start);
          merged.end = std::max(merged.end, it->end);
          kept.erase(it);
          grew = true;
          break;
        }
      }
    }
    kept.push_back(merged);
  }
  if (kept.empty()) {
    locks_.erase(ino);
  } else {
    v = std::move(kept);
  }
  return okResult();
}

std::optional<FileLock> LockTable::test(InodeId ino, const FileLock& req, Clock::time_point now) {
  renew(req.client, now);
  return conflict(ino, req, now);
}

void LockTable::renew(std::uint64_t client, Clock::time_point now) { lastSeen_[client] = now; }

std::vector<FileLock> LockTable::held(InodeId ino) const {
  auto it = locks_.find(ino);
  if (it == locks_.end()) return {};
  std::vector<FileLock> out = it->second;
  std::sort(out.begin(), out.end(), [](const FileLock& a, const FileLock& b) { return a.start < b.start; });
  return out;
}

}  // namespace myfs::server
