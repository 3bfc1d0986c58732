// DeferredDirs: what this client owes the metadata shards after a mkdir across shards
// made in one call to the parent's shard (schema mkdirRemote): per shard, the directories
// it is to make (makeDirs) and the entries whose intents may go because their
// directories are made (confirmDirs).
//
// Both go out ahead of the client's next call to that shard, on the same connection,
// so the shard makes a directory before it serves any call that may name it; a shard
// with nothing owed costs one atomic load per call. Entries stay listed until a batch
// carrying them is answered: a thread that calls the shard meanwhile sends them again
// (both calls are idempotent), so no call of any thread overtakes the making.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>
#include <string>
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
    bool empty() const { return make.empty() && confirm.empty(); }
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

  // The shards owed anything.
  std::vector<std::uint32_t> shardsOwed() const;
  // In a forked child: the lock may have been held by a thread that is gone.
  void afterFork() { new (&mu_) std::mutex(); }

 private:
  void recount(std::uint32_t shard);  // mu_ held

  mutable std::mutex mu_;
  std::vector<Batch> lists_;                        // per shard; GUARDED_BY(mu_)
  std::vector<std::atomic<std::uint32_t>> owed_;  // per shard: entries in lists_ (read without mu_)
};

}  // namespace myfs::rpc
