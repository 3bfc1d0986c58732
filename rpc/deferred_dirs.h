// DeferredDirs: what this client owes the metadata shards: after a mkdir across shards
// made in one call to the parent's shard (schema mkdirRemote), per shard, the directories
// it is to make (makeDirs) and the entries whose intents may go because their
// directories are made (confirmDirs); and the files made on our own in directories
// delegated to us (makeFiles), each sent at once by the thread that made it without
// waiting for the answer.
//
// All go out ahead of the client's next call to that shard, on the same connection,
// so the shard makes a directory or file before it serves any call that may name it; a
// shard with nothing owed costs one atomic load per call. Entries stay listed until a
// batch carrying them is answered: a thread that calls the shard meanwhile sends them
// again (the calls are idempotent), so no call of any thread overtakes the making; a
// file in flight on the very connection a call goes on is not sent again (the shard
// answers a connection's calls in order).
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>
#include <span>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "core/fs_types.h"

namespace myfs::rpc {

class DeferredDirs {
 public:
  explicit DeferredDirs(std::uint32_t shards);

  struct Dir {
    DirIntent intent;
    std::string name;  // its entry's name (in intent.attr.parent)
  };
  struct Entry {
    InodeId parent = 0;
    std::string name;
    InodeId ino = 0;
  };
  // What one call to a shard sends first.
  struct Batch {
    std::vector<Dir> make;
    std::vector<Entry> confirm;
    std::vector<FileIntent> files;
    bool empty() const { return make.empty() && confirm.empty() && files.empty(); }
  };

  // The directory's shard (shardOfInode(dir.intent.attr.ino)) is to make it. Returns how
  // many directories that shard is owed now.
  std::size_t addMake(Dir dir);
  // The intent of this entry may go (on the parent's shard).
  void addConfirm(Entry entry);

  // Whether anything is owed to `shard`.
  bool owes(std::uint32_t shard) const {
    return shard < owed_.size() && owed_[shard].load(std::memory_order_acquire) != 0;
  }
  // Whether directory `ino` is still to be made by its shard (listed, not answered).
  bool owesDir(InodeId ino) const;
  // A copy of what `shard` is owed (left listed until done()).
  Batch batch(std::uint32_t shard) const;
  // How the shard answered for one directory of a batch.
  enum class Outcome : std::uint8_t {
    kUnanswered,  // stays listed
    kMade,        // made (now or before): leaves; its entry is listed for confirmation
    kRefused,     // refused for good: leaves (the intent stays with the entry)
  };
  // `batch` reached `shard` and was answered: outcomes[i] is batch.make[i]'s; the
  // confirmations sent leave.
  void done(std::uint32_t shard, const Batch& batch, const std::vector<Outcome>& outcomes);

  // A file made under a delegation of its parent, to be made by the parent's shard, or
  // a removal there (FileIntent::remove), in the order given. Returns how many files
  // that shard is owed now.
  std::size_t addFile(FileIntent file);
  // The files owed to `shard` to send on connection `conn` (Connection::id), marked in
  // flight on it: kUnsent, those never sent (or sent on a connection that broke), and
  // when one of those is a removal, all not in flight on `conn` (the removal must not
  // overtake the making of what it removes); kNotOnConn, those not in flight on `conn`
  // (a call on it must not overtake them); kAll, every one.
  enum class Which : std::uint8_t { kUnsent, kNotOnConn, kAll };
  std::vector<FileIntent> takeFiles(std::uint32_t shard, std::uint64_t conn, Which which);
  // How many files `shard` is owed.
  std::size_t filesOwed(std::uint32_t shard) const;
  // Whether any file made in directory `dir` is owed.
  bool owesFilesIn(InodeId dir) const;
  // Whether a removal of `name` in `dir` (any name: empty) is owed.
  bool owesRemoval(InodeId dir, std::string_view name) const;
  // How makeFiles answered for one file: its errno (0: made or there; a removal: done),
  // and for a removal whether it freed the inode, and its size. The server answers a
  // copy sent again as it answered the first (it keeps what it did under the delegation).
  struct FileOutcome {
    int err = 0;
    bool lastLink = false;
    std::uint64_t size = 0;
  };
  // makeFiles answered for these files of `shard` (outcomes[i]: files[i]'s): they leave
  // the list. Returns those that were listed, with their outcomes (the caller reports
  // refusals and removals).
  std::vector<std::pair<FileIntent, FileOutcome>> filesDone(std::uint32_t shard, std::span<const FileIntent> files,
                                                            std::span<const FileOutcome> outcomes);
  // Connection `conn` broke with files of `shard` in flight: they are to be sent again.
  void filesUnsent(std::uint32_t shard, std::uint64_t conn);
  // Whether file `ino` is still to be made by its shard (listed, not answered).
  bool owesFile(InodeId ino) const;

  // The shards owed anything.
  std::vector<std::uint32_t> shardsOwed() const;
  // In a forked child: the lock may have been held by a thread that is gone; the files
  // owed were the parent's session's (it settled them before the fork).
  void afterFork();

 private:
  void recount(std::uint32_t shard);  // mu_ held

  struct OwedFile {
    FileIntent intent;
    std::uint64_t sentOn = 0;  // the connection it is in flight on (0: none)
  };

  mutable std::mutex mu_;
  std::vector<Batch> lists_;                        // per shard, without files; GUARDED_BY(mu_)
  std::vector<std::vector<OwedFile>> files_;        // per shard; GUARDED_BY(mu_)
  std::vector<std::atomic<std::uint32_t>> owed_;  // per shard: entries in lists_ (read without mu_)
  std::vector<std::atomic<std::uint32_t>> removals_;  // per shard: removals in files_ (read without mu_)
};

}  // namespace myfs::rpc
