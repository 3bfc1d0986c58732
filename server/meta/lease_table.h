// LeaseTable: which client sessions may cache which inodes of one metadata shard, and
// which inodes a session holds open.
//
// A read lease on an inode lets its session cache the inode's attributes and, for a
// directory, the names in it (positive and negative dentries). Leases do not expire one
// by one: all leases of a session live while the session renews within the lease time.
// Before a change to an inode commits, the server takes the leases of every other session
// on it (takeForRecall) and calls those sessions back; while a recall is in flight no new
// lease on the inode is granted, so a reply that raced the recall is never cached.
//
// A session that does not answer a recall is revoked: its leases go, and the server waits
// until the session's last renewal has run out (revocationDeadline) before committing;
// the next renewal tells the client its leases are gone (renew returns false).
//
// Write leases: a session that writes a file asks for one (grantWrite) and may then keep
// the file's new size and mtime to itself; a reader from another session first recalls
// it (takeWritersForRecall), and the holder writes back before answering. A write lease
// excludes read leases of other sessions on the inode.
//
// Open references: a session that answers a recall with "I have it open" keeps the inode
// from being freed when its last link goes (an orphan), until it releases the reference
// or the session ends.
//
// Thread-safety: none; used on the server's event-loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/types.h"

namespace myfs::server {

class LeaseTable {
 public:
  using Clock = std::chrono::steady_clock;
  // Leases one session may hold at once; past it, grants are refused (the client then
  // asks the server each time) until the client forgets some.
  static constexpr std::size_t kMaxLeasesPerSession = 1u << 18;

  explicit LeaseTable(std::chrono::milliseconds lease) : lease_(lease) {}
  std::chrono::milliseconds lease() const { return lease_; }

  void addSession(std::uint64_t session, Clock::time_point now);
  // Forgets the session; returns the inodes it held open (orphans may now be freed).
  std::vector<InodeId> removeSession(std::uint64_t session);
  bool hasSession(std::uint64_t session) const { return sessions_.count(session) != 0; }
  // Extends the session's leases. false: the session is unknown, or was revoked since
  // its last renewal (its client must drop every cached lease of this shard); the
  // session is usable again from this renewal on.
  bool renew(std::uint64_t session, Clock::time_point now);

  // Grants `session` a lease on each inode; false (nothing granted) if the session is
  // unknown, any inode is being recalled or write-leased by another session, or the
  // session holds too many leases.
  bool grant(std::uint64_t session, std::span<const InodeId> inos);
  // Grants the write lease on ino (call once takeForRecall has cleared other sessions'
  // leases); returns the grant's generation (each grant a new one, > 0), or 0 if the
  // session is unknown or revoked, or a recall is in flight.
  // asGen != 0: the grant takes that generation (one this table handed out before: the
  // files a session makes under a directory's delegation share the delegation's).
  std::uint64_t grantWrite(std::uint64_t session, InodeId ino, std::uint64_t asGen = 0);
  // The session gives back write leases it holds under these grants; one granted again
  // since (another generation) stays. Its read leases are untouched.
  struct WriteGrant {
    InodeId ino = 0;
    std::uint64_t gen = 0;
  };
  void releaseWrites(std::uint64_t session, std::span<const WriteGrant> grants);
  // The session holding the write lease on ino, or 0.
  std::uint64_t writer(InodeId ino) const;
  // The generation of `session`'s write lease on ino, or 0 if it holds none.
  std::uint64_t writeGen(std::uint64_t session, InodeId ino) const;
  // The client dropped these inodes from its cache.
  void forget(std::uint64_t session, std::span<const InodeId> inos);

  // Sessions other than `except` holding a lease (read or write) on any of `inos`, with
  // the inodes each must drop; writersOnly: only write leases. Those leases are removed
  // and each inode counts one recall in flight until recallDone(inos).
  std::map<std::uint64_t, std::vector<InodeId>> takeForRecall(std::span<const InodeId> inos,
                                                               std::uint64_t except, bool writersOnly = false);
  void recallDone(std::span<const InodeId> inos);
  // Whether any session other than `except` holds a lease (writersOnly: a write lease)
  // on one of inos.
  bool contended(std::span<const InodeId> inos, std::uint64_t except, bool writersOnly = false) const;

  // Whether any session other than `session` holds a lease (writersOnly: a write lease)
  // on any inode of the shard, or a recall is in flight. O(1): lets a change skip
  // finding out which inodes it touches when nobody else could have them cached or be
  // answering for them.
  bool othersHoldAny(std::uint64_t session, bool writersOnly = false) const;

  // A session did not answer a recall: drops all its leases. Returns the time after
  // which its client has stopped trusting them (last renewal + lease).
  Clock::time_point revoke(std::uint64_t session);

  void addOpen(std::uint64_t session, InodeId ino);
  // Drops the session's open reference; true if it had one.
  bool releaseOpen(std::uint64_t session, InodeId ino);
  // Whether a session other than `except` holds the inode open.
  bool heldOpen(InodeId ino, std::uint64_t except = 0) const;

  std::size_t leaseCount(std::uint64_t session) const;

 private:
  struct Session {
    Clock::time_point lastRenewal;
    bool revoked = false;
    std::unordered_set<InodeId> leases;
    std::unordered_set<InodeId> writes;  // write leases
    std::unordered_set<InodeId> opens;
  };

  const std::chrono::milliseconds lease_;
  std::unordered_map<std::uint64_t, Session> sessions_;
  std::unordered_map<InodeId, std::unordered_set<std::uint64_t>> holders_;
  struct Writer {
    std::uint64_t session = 0;
    std::uint64_t gen = 0;
  };
  std::unordered_map<InodeId, Writer> writers_;
  std::uint64_t writeGens_ = 0;
  std::size_t readLeases_ = 0;  // every session's read leases together
  std::unordered_map<InodeId, int> recalling_;
  std::unordered_map<InodeId, std::unordered_set<std::uint64_t>> openers_;
};

}  // namespace myfs::server
