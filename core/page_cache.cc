#include "core/page_cache.h"

#include <algorithm>
#include <cstring>

namespace myfs {

PageCache::PageCache(InodeId ino, std::uint32_t chunkSize, DataPlane& data,
                     std::atomic<std::int64_t>& cached, std::int64_t budget)
    : ino_(ino), chunkSize_(chunkSize), data_(data), cached_(cached), budget_(budget) {}

PageCache::~PageCache() { cached_ -= static_cast<std::int64_t>(cachedBytes()); }

std::uint64_t PageCache::cachedBytes() const {
  std::uint64_t total = 0;
  for (const auto& [idx, c] : chunks_) total += c.bytes.size();
  return total;
}

void PageCache::resize(Chunk& c, size_t newSize) {
  cached_ += static_cast<std::int64_t>(newSize) - static_cast<std::int64_t>(c.bytes.size());
  c.bytes.resize(newSize);
}

Result<size_t> PageCache::read(void* buf, size_t n, std::uint64_t off, std::uint64_t size) {
  if (off >= size || n == 0) return size_t{0};
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
  const std::uint64_t fetchTo = std::min(last + readahead_, lastChunkOfFile);

  bool needFlush = false;
  for (std::uint64_t i = first; i <= fetchTo; ++i) {
    auto it = chunks_.find(i);
    if (it != chunks_.end() && !it->second.loaded && it->second.dirty()) needFlush = true;
  }
  if (needFlush) MYFS_TRY(writeBack(false));

  std::vector<ChunkRead> reads;
  for (std::uint64_t i = first; i <= fetchTo; ++i) {
    Chunk& c = chunks_[i];
    if (c.loaded) continue;
    const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunkSize_, size - i * chunkSize_));
    resize(c, len);
    reads.push_back(ChunkRead{ino_, i, 0, len, c.bytes.data(), 0});
  }
  if (!reads.empty()) {
    if (auto r = data_.read(reads); !r) {
      for (const auto& rd : reads) {
        auto it = chunks_.find(rd.chunk);
        cached_ -= static_cast<std::int64_t>(it->second.bytes.size());
        chunks_.erase(it);
      }
      return r.error();
    }
    for (const auto& rd : reads) {
      std::memset(rd.out + rd.got, 0, rd.length - rd.got);  // a hole or past the stored end
      chunks_[rd.chunk].loaded = true;
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
  MYFS_TRY(evictIfOverBudget(first, fetchTo));
  return n;
}

Result<void> PageCache::write(const void* buf, size_t n, std::uint64_t off) {
  const auto* in = static_cast<const std::byte*>(buf);
  std::uint64_t pos = off;
  const std::uint64_t end = off + n;
  int fullDirty = 0;
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
    if (c.bytes.size() < hi) resize(c, hi);
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
  if (fullDirty > 0 && dirtyChunks_ >= kWritebackChunks) MYFS_TRY(writeBack(true));
  return evictIfOverBudget(off / chunkSize_, (end - 1) / chunkSize_);
}

Result<void> PageCache::writeBack(bool onlyFull) {
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
    const bool whole = c.dirtyLo == 0 && c.dirtyHi == chunkSize_;
    c.dirtyLo = c.dirtyHi = 0;
    --dirtyChunks_;
    if (whole) {
      c.loaded = true;  // every byte of the chunk is known
    } else if (!c.loaded) {
      cached_ -= static_cast<std::int64_t>(c.bytes.size());  // bytes outside the range are unknown
      chunks_.erase(it);
    }
  }
  return okResult();
}

Result<void> PageCache::flush(bool sync) {
  MYFS_TRY(writeBack(false));
  if (sync) MYFS_TRY(data_.fsync(ino_));
  return okResult();
}

void PageCache::truncate(std::uint64_t size) {
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
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    if (!it->second.dirty()) {
      cached_ -= static_cast<std::int64_t>(it->second.bytes.size());
      it = chunks_.erase(it);
    } else {
      it->second.loaded = false;
      ++it;
    }
  }
}

Result<void> PageCache::evictIfOverBudget(std::uint64_t keepFrom, std::uint64_t keepTo) {
  auto over = [&] { return cached_.load(std::memory_order_relaxed) > budget_; };
  if (!over()) return okResult();
  auto evictClean = [&] {
    for (auto it = chunks_.begin(); it != chunks_.end() && over();) {
      if (it->second.dirty() || (it->first >= keepFrom && it->first <= keepTo)) {
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
