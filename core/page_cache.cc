#include "core/page_cache.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace myfs {

namespace {

// Freed buffers of one size (the first whole-chunk size seen), for PageBuffer.
struct BufferPool {
  static constexpr std::size_t kKept = 16;
  std::mutex mu;
  std::size_t size = 0;
  std::vector<std::byte*> free;
};

BufferPool& bufferPool() {
  static auto* pool = new BufferPool;  // never destroyed: buffers may outlive static destructors
  return *pool;
}

}  // namespace

std::byte* PageBuffer::reuse(std::size_t cap) {
  BufferPool& pool = bufferPool();
  std::lock_guard lock(pool.mu);
  if (cap != pool.size || pool.free.empty()) return nullptr;
  std::byte* p = pool.free.back();
  pool.free.pop_back();
  return p;
}

void PageBuffer::release(std::byte* data, std::size_t cap) {
  if (data == nullptr) return;
  BufferPool& pool = bufferPool();
  {
    std::lock_guard lock(pool.mu);
    if (pool.size == 0 && cap >= 256 * 1024) pool.size = cap;
    if (cap == pool.size && pool.free.size() < BufferPool::kKept) {
      pool.free.push_back(data);
      return;
    }
  }
  pageFree(data);
}

PageCache::PageCache(InodeId ino, std::uint32_t chunkSize, DataPlane& data,
                     std::atomic<std::int64_t>& cached, std::int64_t budget, WritebackQueue* background)
    : ino_(ino),
      chunkSize_(chunkSize),
      pageSize_(std::max<std::uint32_t>(4096, chunkSize / 64)),
      data_(data),
      cached_(cached),
      budget_(budget),
      background_(background) {}

std::uint64_t PageCache::pageBits(std::uint32_t lo, std::uint32_t hi, bool whole) const {
  if (hi <= lo) return 0;
  std::uint32_t first = whole ? (lo + pageSize_ - 1) / pageSize_ : lo / pageSize_;
  std::uint32_t last = whole ? hi / pageSize_ : (hi + pageSize_ - 1) / pageSize_;  // exclusive
  if (whole && hi == chunkSize_) last = (hi + pageSize_ - 1) / pageSize_;
  if (last <= first) return 0;
  const std::uint32_t count = last - first;
  const std::uint64_t ones = count >= 64 ? ~0ull : ((1ull << count) - 1);
  return ones << first;
}

PageCache::~PageCache() {
  waitForBatches();  // they point into chunks_
  cached_ -= static_cast<std::int64_t>(cachedBytes());
}

void PageCache::writeBackInBackground() {
  auto ready = [this](const Chunk& c) { return c.dirty() && !c.writing && c.dirtyLo == 0 && c.dirtyHi == chunkSize_; };
  int count = 0;
  for (const auto& [idx, c] : chunks_) count += ready(c) ? 1 : 0;
  if (count < kWritebackChunks) return;
  // The writer runs ahead of the write-back while this file's dirty data stays under the
  // dirty limit; past it, it waits for a batch on its way to finish.
  if (overDirtyLimit()) {
    waitForBatches(kBatchesInFlight);
  } else if (batchesInFlight() >= kBatchesInFlight) {
    return;  // the chunks stay ready for the next write to submit
  }
  auto it = chunks_.begin();
  while (batchesInFlight() < kBatchesInFlight) {
    std::vector<ChunkWrite> writes;
    std::vector<std::uint64_t> indexes;
    for (; it != chunks_.end() && writes.size() < static_cast<size_t>(kWritebackChunks); ++it) {
      auto& [idx, c] = *it;
      if (!ready(c)) continue;
      c.writing = true;
      writes.push_back(ChunkWrite{ino_, idx, c.dirtyLo,
                                  std::span<const std::byte>(c.bytes.data() + c.dirtyLo, c.dirtyHi - c.dirtyLo)});
      indexes.push_back(idx);
    }
    if (writes.empty()) return;
    {
      std::lock_guard lock(flight_->mu);
      ++flight_->batches;
    }
    background_->submit(std::move(writes), [flight = flight_, indexes = std::move(indexes)](Result<void> r) {
      std::lock_guard lock(flight->mu);
      auto& to = r ? flight->written : flight->failed;
      to.insert(to.end(), indexes.begin(), indexes.end());
      if (!r && flight->err == 0) flight->err = r.err();
      --flight->batches;
      flight->idle.notify_all();
    });
  }
}

int PageCache::batchesInFlight() const {
  std::lock_guard lock(flight_->mu);
  return flight_->batches;
}

bool PageCache::overDirtyLimit() const {
  return static_cast<std::int64_t>(dirtyChunks_) * chunkSize_ > budget_ / kDirtyLimitDivisor;
}

void PageCache::waitForBatches(int below) {
  {
    std::unique_lock lock(flight_->mu);
    flight_->idle.wait(lock, [&] { return flight_->batches < below; });
  }
  (void)reap();
}

int PageCache::reap() {
  std::vector<std::uint64_t> written, failed;
  std::vector<ChunkRead> fetched;
  int err = 0;
  {
    std::lock_guard lock(flight_->mu);
    written.swap(flight_->written);
    failed.swap(flight_->failed);
    fetched.swap(flight_->fetched);
    err = std::exchange(flight_->err, 0);
  }
  for (const ChunkRead& rd : fetched) {
    auto it = chunks_.find(rd.chunk);
    if (it == chunks_.end()) continue;
    it->second.fetching = false;
    if (rd.got != ~0u) it->second.valid |= pageBits(rd.offset, rd.offset + rd.length, false);
  }
  for (std::uint64_t idx : written) {
    auto it = chunks_.find(idx);
    if (it == chunks_.end()) continue;
    Chunk& c = it->second;
    c.writing = false;
    c.valid |= pageBits(c.dirtyLo, c.dirtyHi, true);
    c.dirtyLo = c.dirtyHi = 0;
    --dirtyChunks_;
  }
  for (std::uint64_t idx : failed) {
    auto it = chunks_.find(idx);
    if (it != chunks_.end()) it->second.writing = false;  // still dirty: the next flush retries
  }
  if (err != 0) pendingError_ = err;
  return err;
}

void PageCache::afterForkInChild() {
  new (&flight_->mu) std::mutex();
  new (&flight_->idle) std::condition_variable();
  flight_->batches = 0;
  flight_->written.clear();
  flight_->failed.clear();
  flight_->fetched.clear();
  for (auto& [idx, c] : chunks_) c.writing = c.fetching = false;  // readahead never arrives: nothing valid
  background_ = nullptr;
}

std::uint64_t PageCache::cachedBytes() const {
  std::uint64_t total = 0;
  for (const auto& [idx, c] : chunks_) total += c.bytes.size();
  return total;
}

void PageCache::resize(Chunk& c, size_t newSize, size_t overwrittenFrom) {
  cached_ += static_cast<std::int64_t>(newSize) - static_cast<std::int64_t>(c.bytes.size());
  c.bytes.resize(newSize, chunkSize_, overwrittenFrom);
}

void PageCache::touch() {
  lastUse_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
}

std::uint64_t PageCache::dropClean() {
  std::uint64_t freed = 0;
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    if (it->second.dirty() || it->second.fetching) {
      ++it;
      continue;
    }
    freed += it->second.bytes.size();
    cached_ -= static_cast<std::int64_t>(it->second.bytes.size());
    it = chunks_.erase(it);
  }
  return freed;
}

void PageCache::fetchInBackground(std::uint64_t from, std::uint64_t to, std::uint64_t size) {
  std::vector<ChunkRead> reads;
  for (std::uint64_t i = from + 1; i <= to; ++i) {
    Chunk& c = chunks_[i];
    if (c.fetching || c.writing || c.dirty()) continue;  // on its way, or ours to keep
    const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunkSize_, size - i * chunkSize_));
    std::uint32_t lo = 0, hi = 0;
    if (!missingSpan(c, pageBits(0, len, false), len, &lo, &hi)) continue;
    if (c.bytes.size() < hi) resize(c, hi, lo);
    c.fetching = true;
    reads.push_back(ChunkRead{ino_, i, lo, hi - lo, c.bytes.data() + lo, 0});
  }
  if (reads.empty()) return;
  {
    std::lock_guard lock(flight_->mu);
    ++flight_->batches;
  }
  background_->fetch(std::move(reads), [flight = flight_](std::vector<ChunkRead>& done, Result<void> r) {
    for (auto& rd : done) {
      if (r) {
        std::memset(rd.out + rd.got, 0, rd.length - rd.got);  // a hole or past the stored end
      } else {
        rd.got = ~0u;  // nothing known: the reader fetches it itself
      }
    }
    std::lock_guard lock(flight->mu);
    flight->fetched.insert(flight->fetched.end(), done.begin(), done.end());
    --flight->batches;
    flight->idle.notify_all();
  });
}

bool PageCache::missingSpan(const Chunk& c, std::uint64_t want, std::uint32_t len, std::uint32_t* lo,
                            std::uint32_t* hi) const {
  const std::uint64_t missing = want & ~c.valid;
  if (missing == 0) return false;
  const auto firstPage = static_cast<std::uint32_t>(__builtin_ctzll(missing));
  const auto lastPage = static_cast<std::uint32_t>(63 - __builtin_clzll(missing));
  *lo = firstPage * pageSize_;
  *hi = std::min<std::uint32_t>((lastPage + 1) * pageSize_, len);
  return true;
}

bool PageCache::cachedOrComing(std::uint64_t idx, std::uint64_t size) const {
  auto it = chunks_.find(idx);
  if (it == chunks_.end()) return false;
  if (it->second.fetching || idx * chunkSize_ >= size) return true;
  const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunkSize_, size - idx * chunkSize_));
  return (pageBits(0, len, false) & ~it->second.valid) == 0;
}

Result<size_t> PageCache::read(void* buf, size_t n, std::uint64_t off, std::uint64_t size) {
  if (off >= size || n == 0) return size_t{0};
  touch();
  n = static_cast<size_t>(std::min<std::uint64_t>(n, size - off));
  const std::uint64_t first = off / chunkSize_;
  const std::uint64_t last = (off + n - 1) / chunkSize_;
  const std::uint64_t lastChunkOfFile = (size - 1) / chunkSize_;

  // Sequential access grows the readahead window; a jump resets it.
  if (off == lastReadEnd_) {
    readahead_ = std::min<std::uint64_t>(readahead_ == 0 ? 1 : readahead_ * 2, kMaxReadaheadChunks);
  } else {
    readahead_ = 0;
  }
  lastReadEnd_ = off + n;
  if (background_ != nullptr) {
    (void)reap();  // readahead that arrived
    for (auto it = chunks_.lower_bound(first); it != chunks_.end() && it->first <= last; ++it) {
      if (it->second.fetching) {
        waitForBatches();  // the chunks asked for are on their way
        break;
      }
    }
  }
  std::uint64_t fetchTo = std::min(last + readahead_, lastChunkOfFile);
  const std::uint64_t windowEnd = fetchTo;  // kept through eviction: about to be read
  if (readahead_ > 1) {
    // The window is refilled in batches (in parallel across data servers): nothing past
    // the requested chunks is fetched while the window is cached up to its middle.
    const std::uint64_t mark = std::min(last + readahead_ / 2, lastChunkOfFile);
    bool cached = true;
    for (std::uint64_t i = first; i <= mark && cached; ++i) cached = cachedOrComing(i, size);
    if (cached) fetchTo = last;
  }

  // The window ahead of the chunks asked for comes in the background when it can.
  if (background_ != nullptr && fetchTo > last) {
    fetchInBackground(last, fetchTo, size);
    fetchTo = last;
  }

  // What each chunk needs: whole chunks when sequential, else the pages touched.
  struct Need {
    std::uint64_t idx;
    std::uint32_t lo, hi;  // byte range within the chunk, clipped to the file
  };
  std::vector<Need> needs;
  const bool sequential = readahead_ > 0;
  for (std::uint64_t i = first; i <= fetchTo; ++i) {
    const std::uint64_t start = i * chunkSize_;
    const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunkSize_, size - start));
    std::uint32_t lo = 0, hi = len;
    if (!sequential) {
      lo = static_cast<std::uint32_t>(std::max<std::uint64_t>(off, start) - start);
      hi = static_cast<std::uint32_t>(std::min<std::uint64_t>(off + n, start + len) - start);
    }
    needs.push_back(Need{i, lo, hi});
  }

  std::vector<ChunkRead> reads;
  for (int pass = 0; pass < 2; ++pass) {
    bool mustFlush = false;
    reads.clear();
    for (const Need& need : needs) {
      Chunk& c = chunks_[need.idx];
      const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunkSize_, size - need.idx * chunkSize_));
      std::uint32_t fLo = 0, fHi = 0;
      if (!missingSpan(c, pageBits(need.lo, need.hi, false), len, &fLo, &fHi)) continue;
      if (c.dirty() && c.dirtyLo < fHi && fLo < c.dirtyHi) mustFlush = true;  // would overwrite it
      if (c.bytes.size() < fHi) resize(c, fHi, fLo);
      reads.push_back(ChunkRead{ino_, need.idx, fLo, fHi - fLo, c.bytes.data() + fLo, 0});
    }
    if (!mustFlush) break;
    MYFS_TRY(writeBack(false));  // then plan again: the data servers now hold it
  }
  if (!reads.empty()) {
    MYFS_TRY(data_.read(reads));
    for (const auto& rd : reads) {
      std::memset(rd.out + rd.got, 0, rd.length - rd.got);  // a hole or past the stored end
      Chunk& c = chunks_[rd.chunk];
      c.valid |= pageBits(rd.offset, rd.offset + rd.length, false);
    }
  }

  auto* out = static_cast<std::byte*>(buf);
  std::uint64_t pos = off;
  const std::uint64_t end = off + n;
  while (pos < end) {
    const std::uint64_t idx = pos / chunkSize_;
    const std::uint64_t inChunk = pos - idx * chunkSize_;
    const std::uint64_t take = std::min<std::uint64_t>(chunkSize_ - inChunk, end - pos);
    const Chunk& c = chunks_[idx];
    const std::uint64_t have = c.bytes.size() > inChunk ? std::min<std::uint64_t>(take, c.bytes.size() - inChunk) : 0;
    if (have > 0) std::memcpy(out, c.bytes.data() + inChunk, have);
    if (have < take) std::memset(out + have, 0, take - have);  // grown since loaded: zeros
    out += take;
    pos += take;
  }
  MYFS_TRY(evictIfOverBudget(first, windowEnd));
  return n;
}

Result<void> PageCache::write(const void* buf, size_t n, std::uint64_t off) {
  touch();
  const auto* in = static_cast<const std::byte*>(buf);
  std::uint64_t pos = off;
  const std::uint64_t end = off + n;
  int fullDirty = 0;
  if (background_ != nullptr) {
    (void)reap();
    for (auto it = chunks_.lower_bound(off / chunkSize_); it != chunks_.end() && it->first <= (end - 1) / chunkSize_;
         ++it) {
      if (it->second.writing || it->second.fetching) {
        waitForBatches();  // its bytes are on their way: not to be changed meanwhile
        break;
      }
    }
  }
  while (pos < end) {
    const std::uint64_t idx = pos / chunkSize_;
    const auto lo = static_cast<std::uint32_t>(pos - idx * chunkSize_);
    const auto hi = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunkSize_, end - idx * chunkSize_));
    Chunk& c = chunks_[idx];
    if (c.dirty() && (hi < c.dirtyLo || lo > c.dirtyHi)) {
      // One dirty range per chunk: write the old one back before starting another.
      ChunkWrite w{ino_, idx, c.dirtyLo,
                   std::span<const std::byte>(c.bytes.data() + c.dirtyLo, c.dirtyHi - c.dirtyLo)};
      MYFS_TRY(data_.write(std::span<const ChunkWrite>(&w, 1), false));
      c.dirtyLo = c.dirtyHi = 0;
      --dirtyChunks_;
    }
    if (c.bytes.size() < hi) resize(c, hi, lo);
    std::memcpy(c.bytes.data() + lo, in, hi - lo);
    if (!c.dirty()) {
      c.dirtyLo = lo;
      c.dirtyHi = hi;
      ++dirtyChunks_;
    } else {
      c.dirtyLo = std::min(c.dirtyLo, lo);
      c.dirtyHi = std::max(c.dirtyHi, hi);
    }
    if (c.dirtyLo == 0 && c.dirtyHi == chunkSize_) ++fullDirty;
    in += hi - lo;
    pos = idx * chunkSize_ + hi;
  }
  if (fullDirty > 0 && dirtyChunks_ >= kWritebackChunks) {
    if (background_ != nullptr) {
      writeBackInBackground();
    } else {
      MYFS_TRY(writeBack(true));
    }
  }
  return evictIfOverBudget(off / chunkSize_, (end - 1) / chunkSize_);
}

Result<size_t> PageCache::readDirect(void* buf, size_t n, std::uint64_t off, std::uint64_t size) {
  if (off >= size || n == 0) return size_t{0};
  n = static_cast<size_t>(std::min<std::uint64_t>(n, size - off));
  waitForBatches();
  if (dirtyChunks_ > 0) MYFS_TRY(writeBack(false));
  std::vector<ChunkRead> reads;
  auto* out = static_cast<std::byte*>(buf);
  for (std::uint64_t pos = off, end = off + n; pos < end;) {
    const std::uint64_t idx = pos / chunkSize_;
    const auto lo = static_cast<std::uint32_t>(pos - idx * chunkSize_);
    const auto hi = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunkSize_, end - idx * chunkSize_));
    reads.push_back(ChunkRead{ino_, idx, lo, hi - lo, out + (pos - off), 0});
    pos = idx * chunkSize_ + hi;
  }
  MYFS_TRY(data_.read(reads));
  for (const auto& rd : reads) std::memset(rd.out + rd.got, 0, rd.length - rd.got);  // holes
  lastReadEnd_ = ~0ull;
  return n;
}

Result<void> PageCache::writeDirect(const void* buf, size_t n, std::uint64_t off, bool sync) {
  if (n == 0) return okResult();
  waitForBatches();
  if (dirtyChunks_ > 0) MYFS_TRY(writeBack(false));
  std::vector<ChunkWrite> writes;
  const auto* in = static_cast<const std::byte*>(buf);
  const std::uint64_t end = off + n;
  for (std::uint64_t pos = off; pos < end;) {
    const std::uint64_t idx = pos / chunkSize_;
    const auto lo = static_cast<std::uint32_t>(pos - idx * chunkSize_);
    const auto hi = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunkSize_, end - idx * chunkSize_));
    writes.push_back(ChunkWrite{ino_, idx, lo, std::span<const std::byte>(in + (pos - off), hi - lo)});
    pos = idx * chunkSize_ + hi;
  }
  MYFS_TRY(data_.write(writes, sync));
  for (auto it = chunks_.lower_bound(off / chunkSize_); it != chunks_.end() && it->first <= (end - 1) / chunkSize_;) {
    cached_ -= static_cast<std::int64_t>(it->second.bytes.size());  // clean now: the copy is stale
    it = chunks_.erase(it);
  }
  return okResult();
}

Result<void> PageCache::writeBack(bool onlyFull) {
  waitForBatches();
  std::vector<ChunkWrite> writes;
  for (auto& [idx, c] : chunks_) {
    if (!c.dirty()) continue;
    if (onlyFull && !(c.dirtyLo == 0 && c.dirtyHi == chunkSize_)) continue;
    writes.push_back(ChunkWrite{ino_, idx, c.dirtyLo,
                                std::span<const std::byte>(c.bytes.data() + c.dirtyLo, c.dirtyHi - c.dirtyLo)});
  }
  if (writes.empty()) return okResult();
  MYFS_TRY(data_.write(writes, false));
  for (const auto& w : writes) {
    auto it = chunks_.find(w.chunk);
    Chunk& c = it->second;
    c.valid |= pageBits(c.dirtyLo, c.dirtyHi, true);  // pages written whole are now known
    c.dirtyLo = c.dirtyHi = 0;
    --dirtyChunks_;
    if (c.valid == 0) {
      cached_ -= static_cast<std::int64_t>(c.bytes.size());  // nothing known: drop it
      chunks_.erase(it);
    }
  }
  return okResult();
}

Result<void> PageCache::flush(bool sync) {
  MYFS_TRY(writeBack(false));
  if (const int err = std::exchange(pendingError_, 0); err != 0) return Errno(err);  // a background batch failed
  if (sync) MYFS_TRY(data_.fsync(ino_));
  return okResult();
}

void PageCache::truncate(std::uint64_t size) {
  waitForBatches();
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    const std::uint64_t start = it->first * chunkSize_;
    Chunk& c = it->second;
    if (start >= size) {
      if (c.dirty()) --dirtyChunks_;
      cached_ -= static_cast<std::int64_t>(c.bytes.size());
      it = chunks_.erase(it);
      continue;
    }
    const std::uint64_t keep = size - start;
    if (keep < chunkSize_) c.valid &= pageBits(0, static_cast<std::uint32_t>(keep), false);
    if (keep < c.bytes.size()) {
      const bool wasDirty = c.dirty();
      resize(c, keep);
      if (wasDirty) {
        c.dirtyHi = std::min<std::uint32_t>(c.dirtyHi, static_cast<std::uint32_t>(keep));
        if (c.dirtyHi <= c.dirtyLo) {
          c.dirtyLo = c.dirtyHi = 0;
          --dirtyChunks_;
        }
      }
    }
    ++it;
  }
  lastReadEnd_ = ~0ull;
}

void PageCache::invalidateClean() {
  waitForBatches();
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    if (!it->second.dirty()) {
      cached_ -= static_cast<std::int64_t>(it->second.bytes.size());
      it = chunks_.erase(it);
    } else {
      it->second.valid = 0;
      ++it;
    }
  }
}

Result<void> PageCache::evictIfOverBudget(std::uint64_t keepFrom, std::uint64_t keepTo) {
  // Other files' caches go first (the Vfs evicts the least recently used ones after each
  // read and write); a file evicts its own chunks only past a margin over the budget.
  auto over = [&] { return cached_.load(std::memory_order_relaxed) > budget_ + budget_ / 8; };
  if (!over()) return okResult();
  (void)reap();  // chunks written in the background are clean now
  auto evictClean = [&] {
    for (auto it = chunks_.begin(); it != chunks_.end() && over();) {
      if (it->second.dirty() || it->second.fetching || (it->first >= keepFrom && it->first <= keepTo)) {
        ++it;
        continue;
      }
      cached_ -= static_cast<std::int64_t>(it->second.bytes.size());
      it = chunks_.erase(it);
    }
  };
  evictClean();
  if (over() && dirtyChunks_ > 0) {
    // Memory pressure: write dirty data back so that it can be dropped too.
    MYFS_TRY(writeBack(false));
    evictClean();
  }
  return okResult();
}

}  // namespace myfs
