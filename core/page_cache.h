// PageCache: the cached data of one regular file (the kernel's address_space): chunks,
// each tracked in pages (1/64 of a chunk, at least 4 KiB).
//
// Sequential reads fetch whole chunks plus a readahead window that doubles up to
// kMaxReadaheadChunks, refilled in batches once the reader passes its middle (in the
// background when the cache has a WritebackQueue: the reader waits only for chunks it
// asks for); other reads fetch only the pages they touch. Each call's fetches go out in
// one batch, in parallel to the data servers. Writes land in the cache; each chunk
// keeps one contiguous dirty range,
// and dirty chunks are written back in parallel batches once kWritebackChunks are full
// (in the background when the cache has a WritebackQueue: at most kBatchesInFlight
// batches at once, a write to a chunk on its way waits for it; a writer waits for the
// write-back only once the file's dirty data passes half the budget; a failure is
// reported by the next flush), on flush() (fsync, close), under memory pressure (the process-wide
// budget) and before any read that needs the chunk from the server.
//
// Thread-safety: none; the owning Inode's mutex guards every call (background batches
// report through Flight, reaped under that mutex).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/cluster.h"
#include "core/page_memory.h"
#include "core/writeback.h"
#include "core/result.h"

namespace myfs {

// The bytes of one cached chunk: grows in place when it can, zeroing only the added
// bytes the caller will not overwrite at once (a hole between the old end and a write
// past it reads as zeros).
class PageBuffer {
 public:
  PageBuffer() = default;
  ~PageBuffer() { release(data_, cap_); }
  PageBuffer(PageBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), cap_(std::exchange(o.cap_, 0)) {}
  PageBuffer& operator=(PageBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(cap_, o.cap_);
    return *this;
  }
  std::byte* data() { return data_; }
  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  // Added bytes before `overwrittenFrom` are zeroed, the others left for the caller to
  // fill; capacity grows by half at least, up to `limit`.
  void resize(std::size_t n, std::size_t limit, std::size_t overwrittenFrom) {
    if (n > cap_) {
      const std::size_t cap = std::max(n, std::min(limit, cap_ + cap_ / 2));
      std::byte* p = data_ == nullptr ? reuse(cap) : nullptr;
      if (p == nullptr) p = static_cast<std::byte*>(pageReallocate(data_, cap));
      if (p == nullptr) throw std::bad_alloc();
      data_ = p;
      cap_ = cap;
    }
    if (n > size_ && overwrittenFrom > size_) std::memset(data_ + size_, 0, std::min(n, overwrittenFrom) - size_);
    size_ = n;
  }

 private:
  // Whole-chunk buffers freed recently are kept (a few dozen) and handed out again:
  // fresh memory costs a page fault per page, more than filling it.
  static std::byte* reuse(std::size_t cap);
  static void release(std::byte* data, std::size_t cap);

  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t cap_ = 0;
};

class PageCache {
 public:
  // `budget` is shared by every PageCache of one process: bytes cached in total.
  // `background` (may be null: write-back happens in the caller) writes full chunks back.
  PageCache(InodeId ino, std::uint32_t chunkSize, DataPlane& data, std::atomic<std::int64_t>& cached,
            std::int64_t budget, WritebackQueue* background = nullptr);
  ~PageCache();
  PageCache(const PageCache&) = delete;
  PageCache& operator=(const PageCache&) = delete;

  // Copies up to n bytes at off into buf, for a file of `size` bytes; returns the count.
  Result<size_t> read(void* buf, size_t n, std::uint64_t off, std::uint64_t size);
  // Caches n bytes at off as dirty; may write back full chunks.
  Result<void> write(const void* buf, size_t n, std::uint64_t off);
  // Bypassing the cache (O_DIRECT, strict consistency): dirty data is written back first
  // (so that it cannot land later over what follows); reads come from the data servers,
  // writes go to them before returning (sync: durably) and drop the cached copy.
  Result<size_t> readDirect(void* buf, size_t n, std::uint64_t off, std::uint64_t size);
  Result<void> writeDirect(const void* buf, size_t n, std::uint64_t off, bool sync);
  // Writes every dirty range back (sync: durable on the data servers).
  Result<void> flush(bool sync);
  // Forgets cached data past `size` (after a truncate); dirty data before it stays.
  void truncate(std::uint64_t size);
  // Drops all clean chunks (another client changed the file).
  void invalidateClean();
  // Drops the clean chunks (memory pressure from other files); returns the bytes freed.
  std::uint64_t dropClean();
  // Steady-clock time of the last read or write (for the process-wide LRU; readable
  // without the owner's lock).
  std::int64_t lastUse() const { return lastUse_.load(std::memory_order_relaxed); }
  bool hasDirty() const { return dirtyChunks_ > 0; }
  // In a forked child: background batches of the parent never finish here; their chunks
  // are dirty again, and this cache writes back in the caller from now on.
  void afterForkInChild();
  std::uint64_t cachedBytes() const;

  static constexpr int kWritebackChunks = 16;
  static constexpr int kBatchesInFlight = 2;
  static constexpr int kDirtyLimitDivisor = 2;  // dirty limit: half the budget
  static constexpr std::uint64_t kMaxReadaheadChunks = 16;

 private:
  struct Chunk {
    PageBuffer bytes;  // content where `valid` says so, plus the dirty range
    std::uint64_t valid = 0;       // bit p: page p mirrors the server (with dirty bytes on top)
    std::uint32_t dirtyLo = 0, dirtyHi = 0;  // dirty range, empty when equal
    bool writing = false;   // the dirty range is on its way in a background batch
    bool fetching = false;  // readahead into it is on its way: its bytes are the batch's
    bool dirty() const { return dirtyHi > dirtyLo; }
  };
  // Background batches of this cache; shared with their completion callbacks.
  struct Flight {
    std::mutex mu;
    std::condition_variable idle;
    int batches = 0;                     // in flight
    std::vector<std::uint64_t> written;  // chunks whose batch succeeded, to reap
    std::vector<std::uint64_t> failed;   // chunks whose batch failed (dirty again)
    std::vector<ChunkRead> fetched;      // readahead done (got: bytes stored); failed ones have got = ~0
    int err = 0;                         // the first failure, for the next flush
  };
  // Fetches the missing pages of chunks (from, to] in the background (readahead).
  void fetchInBackground(std::uint64_t from, std::uint64_t to, std::uint64_t size);
  // Submits the full dirty chunks not on their way yet, in batches of kWritebackChunks,
  // at most kBatchesInFlight at once.
  void writeBackInBackground();
  int batchesInFlight() const;
  // This file's dirty bytes exceed the share of the budget a writer may fill ahead of
  // the write-back (the kernel's dirty_ratio).
  bool overDirtyLimit() const;
  // Waits until no batch is in flight (all: 0, else fewer than `below`), then reaps.
  void waitForBatches(int below = 1);
  // Marks the chunks of finished batches clean (or dirty again); returns a failure not
  // reported yet.
  int reap();

  // Every page of chunk idx (of a file of `size` bytes) is cached, or readahead into it
  // is on its way.
  bool cachedOrComing(std::uint64_t idx, std::uint64_t size) const;
  // The span [*lo, *hi) from the first to the last page of `want` (page bits) that c does
  // not hold, clipped to the chunk's length `len`; false when it holds them all.
  bool missingSpan(const Chunk& c, std::uint64_t want, std::uint32_t len, std::uint32_t* lo,
                   std::uint32_t* hi) const;
  // Bits of the pages that [lo, hi) overlaps (or lies wholly in, when `whole`).
  std::uint64_t pageBits(std::uint32_t lo, std::uint32_t hi, bool whole) const;

  Result<void> writeBack(bool onlyFull);
  // Grows or shrinks c's bytes; the caller fills [overwrittenFrom, newSize) at once.
  void resize(Chunk& c, size_t newSize, size_t overwrittenFrom = ~size_t{0});
  // Drops clean chunks outside [keepFrom, keepTo] while over budget; then writes dirty
  // ones back and drops them too.
  Result<void> evictIfOverBudget(std::uint64_t keepFrom, std::uint64_t keepTo);

  const InodeId ino_;
  const std::uint32_t chunkSize_;
  const std::uint32_t pageSize_;
  DataPlane& data_;
  std::atomic<std::int64_t>& cached_;
  const std::int64_t budget_;
  WritebackQueue* background_;  // null after fork: the parent's queue has no thread here
  std::shared_ptr<Flight> flight_ = std::make_shared<Flight>();
  std::map<std::uint64_t, Chunk> chunks_;
  int dirtyChunks_ = 0;
  int pendingError_ = 0;  // a background batch failed: the next flush reports it
  std::atomic<std::int64_t> lastUse_{0};
  void touch();
  std::uint64_t lastReadEnd_ = ~0ull;  // where the previous read ended (sequential detection)
  std::uint64_t readahead_ = 0;        // chunks fetched past the requested range
};

}  // namespace myfs
