// The servers as the client core sees them: one MetaShard per metadata shard and a
// data plane over all data servers.
//
// rpc/ implements these over Cap'n Proto; tests implement them in-process over the
// servers' stores. Every method is synchronous and thread-safe. A transport failure
// that outlives the retry budget is returned as EIO; POSIX outcomes as their errno.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/fs_types.h"
#include "core/result.h"
#include "core/types.h"

namespace myfs {

// One metadata shard. Method contracts: schema/meta.capnp.
class MetaShard {
 public:
  virtual ~MetaShard() = default;
  virtual Result<MountInfo> mountInfo() = 0;
  // *parentLeased: the reply leased the names in `parent` (also when it is ENOENT).
  virtual Result<Attr> lookup(const Cred& cred, InodeId parent, std::string_view name, bool* parentLeased) = 0;
  virtual Result<Attr> getattr(InodeId ino) = 0;
  virtual Result<Attr> setattr(const Cred& cred, InodeId ino, const SetAttr& req) = 0;
  virtual Result<CreateResult> create(const Cred& cred, InodeId parent, std::string_view name,
                                      std::uint32_t mode, bool exclusive, std::uint64_t rdev) = 0;
  virtual Result<Attr> mkdir(const Cred& cred, InodeId parent, std::string_view name,
                             std::uint32_t mode) = 0;
  virtual Result<Attr> symlink(const Cred& cred, InodeId parent, std::string_view name,
                               std::string_view target) = 0;
  virtual Result<std::string> readlink(InodeId ino) = 0;
  virtual Result<DirPage> readdir(const Cred& cred, InodeId ino, std::string_view cookie,
                                  std::uint32_t maxEntries) = 0;
  virtual Result<UnlinkResult> unlink(const Cred& cred, InodeId parent, std::string_view name,
                                      bool isDir) = 0;
  virtual Result<RenameResult> rename(const Cred& cred, InodeId srcParent, std::string_view srcName,
                                      InodeId dstParent, std::string_view dstName,
                                      std::uint32_t flags) = 0;
  virtual Result<ShardStats> statfs() = 0;
  // The calls this shard served since it started, per method (schema callCounts).
  virtual Result<std::vector<MethodCalls>> callCounts() { return Errno(ENOSYS); }
  virtual Result<Attr> makeInode(const Cred& cred, InodeId parentHint, std::uint32_t mode,
                                 std::string_view target) = 0;
  virtual Result<AddEntryResult> addEntry(const Cred& cred, InodeId parent, std::string_view name,
                                          InodeId ino, std::uint32_t mode, bool replace) = 0;
  virtual Result<void> removeEntry(const Cred& cred, InodeId parent, std::string_view name,
                                   InodeId expectIno) = 0;
  virtual Result<LinkCountResult> linkCount(InodeId ino, std::int32_t delta, InodeId newParent) = 0;
  // Inode numbers of this shard set aside for this client's makeReservedDir.
  virtual Result<InodeRange> reserveInodes(std::uint32_t count) = 0;
  virtual Result<Attr> makeReservedDir(const Cred& cred, InodeId ino, InodeId parent, std::uint32_t mode) = 0;
  virtual Result<void> prepareRmdir(const Cred& cred, InodeId ino, bool undo) = 0;
  // Extended attributes of an inode of this shard (flags: kXattrCreate, kXattrReplace).
  virtual Result<std::string> getxattr(const Cred& cred, InodeId ino, std::string_view name) = 0;
  virtual Result<Attr> setxattr(const Cred& cred, InodeId ino, std::string_view name, std::string_view value,
                                std::uint32_t flags) = 0;
  virtual Result<std::vector<std::string>> listxattr(const Cred& cred, InodeId ino) = 0;
  virtual Result<Attr> removexattr(const Cred& cred, InodeId ino, std::string_view name) = 0;
  // File locks. test = false: sets req (nullopt) or EAGAIN; test = true: the first
  // conflicting lock, if any.
  virtual Result<std::optional<FileLock>> lock(InodeId ino, const FileLock& req, bool test) = 0;
  // Keeps the client's locks alive; returns the lease time in milliseconds.
  virtual Result<std::uint32_t> renewLocks(std::uint64_t client) = 0;
  // The client closed an inode it reported open to a recall (LeaseListener::recall);
  // `freed`: it was an orphan and is gone, its data is the caller's to remove.
  virtual Result<LinkCountResult> releaseOpen(InodeId /*ino*/) { return LinkCountResult{}; }
  // The write lease on a file this client is about to write (see schema writeLease):
  // the grant's generation; 0: not granted (the client then keeps nothing to itself for
  // long: it writes back at close as always).
  virtual Result<std::uint64_t> writeLease(InodeId /*ino*/) { return std::uint64_t{0}; }
  // Delegates directory `dir` to this client's session (schema delegateDir): the names in
  // it (at most maxEntries: E2BIG, or with orUnlisted none) and `reserve` numbers for
  // files made on our own (Cluster::oweFile). ENOSYS: this cluster does not delegate.
  virtual Result<DirDelegation> delegateDir(const Cred& /*cred*/, InodeId /*dir*/, std::uint32_t /*maxEntries*/,
                                            std::uint32_t /*reserve*/, bool /*orUnlisted*/ = false) {
    return Errno(ENOSYS);
  }
};

// The client's side of metadata leases (schema/meta.capnp, openSession). A Cluster whose
// servers grant leases calls these from its own thread; none may block.
class LeaseListener {
 public:
  virtual ~LeaseListener() = default;
  // The server took back the leases on these inodes of `shard`: their cached attributes
  // and the cached names in them are no longer to be trusted. Answers with the inodes
  // among them this client holds open (they keep an open reference on the server) and
  // those whose write lease it held: flushRecalled() must write those back before the
  // server gets its answer.
  struct RecallAnswer {
    std::vector<InodeId> open;
    std::vector<InodeId> flush;
  };
  // writesOnly: only the write leases (and delegations) are taken back; the read leases,
  // and what is cached under them, stay.
  virtual RecallAnswer recall(std::uint32_t shard, std::span<const InodeId> inos, bool writesOnly = false) = 0;
  // Writes back what this client kept to itself under the write leases of `inos`. Called
  // on a thread of the Cluster's that may block (not the one that called recall()).
  virtual void flushRecalled(std::span<const InodeId> inos) = 0;
  // A session with `shard` began (sentMs: steady-clock ms when it was asked for): every
  // lease from an earlier session is void; the new session's leases hold until
  // sentMs + leaseMs unless renewed.
  virtual void sessionStarted(std::uint32_t shard, std::int64_t sentMs, std::uint32_t leaseMs) = 0;
  // A renewal sent at sentMs was answered: leases hold until sentMs + leaseMs. valid =
  // false: the server had revoked them, every lease granted before this answer is void.
  virtual void renewed(std::uint32_t shard, std::int64_t sentMs, std::uint32_t leaseMs, bool valid) = 0;
  // Inodes of `shard` the client stopped caching since the last call (sent with the next
  // renewal so the server forgets their leases).
  virtual std::vector<InodeId> forgotten(std::uint32_t shard) = 0;
  // Write leases of `shard` the client gives back (files no longer open for writing
  // here, written back), since the last call: sent with the next renewal.
  struct WriteGrant {
    InodeId ino = 0;
    std::uint64_t gen = 0;
  };
  virtual std::vector<WriteGrant> releasedWrites(std::uint32_t /*shard*/) { return {}; }
  // A renewal carrying these (as the two calls above returned them) failed while its
  // session lives on: the next renewal is to carry them again.
  virtual void renewalFailed(std::uint32_t /*shard*/, std::vector<InodeId> /*forgotten*/,
                             std::vector<WriteGrant> /*released*/) {}
  // The server refused to make a file this client made under a delegation (oweFile):
  // it is gone (err: why); or refused a removal: the name stays.
  virtual void fileLost(const FileIntent& /*file*/, int /*err*/) {}
  // The server made a removal this client decided under a delegation (oweFile with
  // `remove`): lastLink, the inode was freed, with `size` bytes of data to remove from
  // the data servers. Called on a thread of the Cluster's that may block and call servers
  // (not the one that answered the call).
  virtual void removedAhead(const FileIntent& /*removal*/, bool /*lastLink*/, std::uint64_t /*size*/) {}
};

// One chunk-range write or read, addressed by file and chunk.
struct ChunkWrite {
  InodeId ino = 0;
  std::uint64_t chunk = 0;
  std::uint32_t offset = 0;
  std::span<const std::byte> data;
};

struct ChunkRead {
  InodeId ino = 0;
  std::uint64_t chunk = 0;
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
  std::byte* out = nullptr;  // receives up to length bytes
  std::uint32_t got = 0;     // filled in: bytes stored (the rest is a hole)
};

// The data servers together. Batches are sent in parallel to the servers that own each
// chunk (dataServerForChunk) and complete when every part has; the first error wins.
class DataPlane {
 public:
  virtual ~DataPlane() = default;
  virtual std::uint32_t serverCount() const = 0;
  virtual Result<void> write(std::span<const ChunkWrite> writes, bool sync) = 0;
  virtual Result<void> read(std::span<ChunkRead> reads) = 0;
  // Applies to every data server.
  virtual Result<void> truncate(InodeId ino, std::uint64_t size, std::uint32_t chunkSize) = 0;
  virtual Result<void> remove(InodeId ino) = 0;
  virtual Result<void> fsync(InodeId ino) = 0;
  virtual Result<DataStats> stats(std::uint32_t server) = 0;
  // Every stored chunk of ino: index -> bytes held from the chunk's start (past them, a
  // hole). ENOSYS: the data plane cannot tell (callers treat the whole file as data).
  virtual Result<std::map<std::uint64_t, std::uint32_t>> extents(InodeId /*ino*/) { return Errno(ENOSYS); }
};

// All servers of one file system.
class Cluster {
 public:
  virtual ~Cluster() = default;
  virtual std::uint32_t shardCount() const = 0;
  virtual MetaShard& shard(std::uint32_t index) = 0;
  virtual DataPlane& data() = 0;

  MetaShard& shardOf(InodeId ino) { return shard(shardOfInode(ino)); }

  // Steps 2 and 3 of a cross-shard mkdir: the entry name -> ino (mode) in parent, on the
  // parent's shard, and the link (+1) of the pending inode ino, on its own shard. Each
  // result is its call's. This one runs them in turn (the link only once the entry is
  // made; ECANCELED otherwise); an RPC cluster sends both at once.
  struct EntryAndLink {
    Result<AddEntryResult> entry;
    Result<LinkCountResult> link;
  };
  virtual EntryAndLink addEntryAndLink(const Cred& cred, InodeId parent, std::string_view name, InodeId ino,
                                       std::uint32_t mode) {
    EntryAndLink out{shardOf(parent).addEntry(cred, parent, name, ino, mode, false), Errno(ECANCELED)};
    if (out.entry) out.link = shardOf(ino).linkCount(ino, +1, 0);
    return out;
  }
  // A cross-shard mkdir in one step: directory `ino` (reserved on its shard) made linked,
  // and the entry name -> ino in parent on the parent's shard. Each result is its call's.
  // This one runs them in turn (the entry only once the directory is made; ECANCELED
  // otherwise). Used when mkdirRemote is ENOSYS (the tests' in-process clusters).
  struct DirAndEntry {
    Result<Attr> dir;
    Result<AddEntryResult> entry;
  };
  virtual DirAndEntry makeDirAndEntry(const Cred& cred, InodeId parent, std::string_view name, InodeId ino,
                                      std::uint32_t mode) {
    DirAndEntry out{shardOf(ino).makeReservedDir(cred, ino, parent, mode), Errno(ECANCELED)};
    if (out.dir) out.entry = shardOf(parent).addEntry(cred, parent, name, ino, mode, false);
    return out;
  }
  // A mkdir across shards in one call (schema mkdirRemote): the entry name -> ino in
  // parent and the directory's attributes (the result) on the parent's shard; the
  // directory's own shard (where `ino` was reserved for this client) makes it before
  // this client's next call there, or for whoever looks the name up first. leased in the
  // result: that shard leases the directory to this client when it makes it. ENOSYS:
  // this cluster does not do it (the caller takes makeDirAndEntry).
  virtual Result<Attr> mkdirRemote(const Cred& /*cred*/, InodeId /*parent*/, std::string_view /*name*/,
                                   InodeId /*ino*/, std::uint32_t /*mode*/) {
    return Errno(ENOSYS);
  }
  // A file made (or unlinked, or a directory made) on our own under a delegation of its
  // parent (FileIntent): owed to the parent's shard from now on, in order (no call here:
  // cheap, never blocks), sent again ahead of this client's calls there until answered;
  // a directory of another shard is owed to its own shard too (as after mkdirRemote). A
  // refusal reaches LeaseListener::fileLost. ENOSYS: this cluster does not take them.
  virtual Result<void> oweFile(const FileIntent& /*file*/) { return Errno(ENOSYS); }
  // Sends `shard` the files owed to it that were never sent, without waiting for the
  // answer (or waits, when it cannot send that way, or too many are owed).
  virtual void pushOwed(std::uint32_t /*shard*/) {}
  // Sends `shard` all it is owed and waits for the answers: EIO if some stay unanswered.
  virtual Result<void> settleShard(std::uint32_t /*shard*/) { return okResult(); }
  // Whether a file made in directory `dir` (oweFile) is still unanswered for.
  virtual bool owesFilesIn(InodeId /*dir*/) const { return false; }
  // Whether file `ino` made on our own (oweFile) is still unanswered for.
  virtual bool owesFile(InodeId /*ino*/) const { return false; }
  // Whether a removal of `name` in `dir` (any name: empty) is still unanswered for.
  virtual bool owesRemoval(InodeId /*dir*/, std::string_view /*name*/ = {}) const { return false; }
  // Sends now what mkdirRemote and oweFile left owed to the shards, and waits for the
  // answers (at sync, fork, exec, exit, and before answering a delegation's recall).
  virtual void settleDeferred() {}
  // Whether `shard` is owed anything (mkdirRemote, oweFile) not yet answered for.
  // Never blocks.
  virtual bool owes(std::uint32_t /*shard*/) const { return false; }
  // Has what `shard` is owed sent and answered for on a thread of the cluster's, then
  // renews soon (renewSoon). Any thread; never blocks.
  virtual void settleSoon(std::uint32_t /*shard*/) {}
  // Has directory or file `ino` made on its shard if this client still owes it there
  // (made by mkdirRemote or oweFile, or met through a lookup, and not yet answered
  // for): EIO when the shard could not be reached, for the caller to stop before it moves
  // the entry that is the directory's only record (or to fail fsync).
  virtual Result<void> settleDir(InodeId /*ino*/) { return okResult(); }
  // Where lease events go (null: nowhere). Servers grant leases only to a Cluster that
  // keeps sessions; one that does not (tests' in-process clusters) never calls it.
  virtual void setLeaseListener(LeaseListener* /*listener*/) {}
  // The listener has leases of `shard` to give back (releasedWrites): renew within about
  // `delayMs` rather than at the next regular renewal (the earliest such wish counts).
  // Any thread; never blocks.
  virtual void renewSoon(std::uint32_t /*shard*/, std::uint32_t /*delayMs*/ = 2) {}
};

}  // namespace myfs
