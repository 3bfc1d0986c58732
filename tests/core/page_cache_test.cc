// PageCache against an in-memory data plane: dirty ranges, write-back batching,
// truncation of dirty data, eviction.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>

#include "core/page_cache.h"
#include "core/writeback.h"

namespace myfs {
namespace {

// Chunks in memory, keyed by index (one inode).
class MemoryData final : public DataPlane {
 public:
  std::uint32_t serverCount() const override { return 1; }
  Result<void> write(std::span<const ChunkWrite> writes, bool) override {
    std::lock_guard lock(mu);
    if (failWrites != 0) return Errno(failWrites);
    ++batches;
    for (const auto& w : writes) {
      auto& c = chunks[w.chunk];
      if (c.size() < w.offset + w.data.size()) c.resize(w.offset + w.data.size());
      std::memcpy(c.data() + w.offset, w.data.data(), w.data.size());
      ranges.emplace_back(w.chunk * 1000000 + w.offset, w.data.size());
    }
    return okResult();
  }
  Result<void> read(std::span<ChunkRead> reads) override {
    std::lock_guard lock(mu);
    for (auto& r : reads) {
      ++readCalls;
      auto& c = chunks[r.chunk];
      r.got = c.size() > r.offset ? std::min<std::uint32_t>(r.length, static_cast<std::uint32_t>(c.size() - r.offset)) : 0;
      if (r.got > 0) std::memcpy(r.out, c.data() + r.offset, r.got);
    }
    return okResult();
  }
  Result<void> truncate(InodeId, std::uint64_t, std::uint32_t) override { return okResult(); }
  Result<void> remove(InodeId) override { return okResult(); }
  Result<void> fsync(InodeId) override {
    ++fsyncs;
    return okResult();
  }
  Result<DataStats> stats(std::uint32_t) override { return DataStats{}; }

  std::mutex mu;  // the background queue writes from its own thread
  int failWrites = 0;
  std::map<std::uint64_t, std::vector<std::byte>> chunks;
  std::vector<std::pair<std::uint64_t, size_t>> ranges;
  int batches = 0, readCalls = 0, fsyncs = 0;
};

constexpr std::uint32_t kChunk = 4096;

TEST(PageCacheTest, NonAdjacentWritesToOneChunkKeepBothRanges) {
  MemoryData data;
  std::atomic<std::int64_t> cached{0};
  PageCache pc(1, kChunk, data, cached, 1 << 20);
  ASSERT_TRUE(pc.write("aaaa", 4, 0).ok());
  ASSERT_TRUE(pc.write("bbbb", 4, 100).ok());  // not adjacent: the first range goes out
  EXPECT_EQ(1u, data.ranges.size());
  ASSERT_TRUE(pc.flush(true).ok());
  EXPECT_EQ(2u, data.ranges.size());
  EXPECT_EQ(1, data.fsyncs);
  char buf[104];
  ASSERT_EQ(104u, *pc.read(buf, 104, 0, 104));
  EXPECT_EQ(0, std::memcmp(buf, "aaaa", 4));
  EXPECT_EQ(0, std::memcmp(buf + 100, "bbbb", 4));
  EXPECT_EQ(std::string(96, '\0'), std::string(buf + 4, 96));
}

TEST(PageCacheTest, FullChunksGoOutInBatches) {
  MemoryData data;
  std::atomic<std::int64_t> cached{0};
  PageCache pc(1, kChunk, data, cached, 1 << 20);
  std::vector<char> block(kChunk, 'x');
  for (int i = 0; i < PageCache::kWritebackChunks; ++i) ASSERT_TRUE(pc.write(block.data(), kChunk, i * kChunk).ok());
  EXPECT_EQ(1, data.batches);
  EXPECT_EQ(static_cast<size_t>(PageCache::kWritebackChunks), data.ranges.size());
  EXPECT_FALSE(pc.hasDirty());
}

TEST(PageCacheTest, TruncateDropsDirtyDataPastTheEnd) {
  MemoryData data;
  std::atomic<std::int64_t> cached{0};
  PageCache pc(1, kChunk, data, cached, 1 << 20);
  std::vector<char> block(3 * kChunk, 'y');
  ASSERT_TRUE(pc.write(block.data(), block.size(), 0).ok());
  pc.truncate(kChunk + 10);
  ASSERT_TRUE(pc.flush(false).ok());
  std::uint64_t written = 0;
  for (auto& r : data.ranges) written += r.second;
  EXPECT_EQ(kChunk + 10u, written);
}

class PageCacheModelTest : public ::testing::TestWithParam<bool> {};

// With and without background write-back (a budget of 40 chunks lets batches of 16 go
// out in the background; 6 keeps evicting).
TEST_P(PageCacheModelTest, RandomOperationsMatchAModel) {
  MemoryData data;
  std::atomic<std::int64_t> cached{0};
  std::unique_ptr<WritebackQueue> queue;
  if (GetParam()) queue = std::make_unique<WritebackQueue>(data);
  const std::int64_t budget = (GetParam() ? 40 : 6) * static_cast<std::int64_t>(kChunk);
  PageCache pc(1, kChunk, data, cached, budget, queue.get());
  std::string model;
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t off = rng() % (40 * kChunk);
    const size_t len = 1 + rng() % (GetParam() ? 20 * kChunk : 2 * kChunk);
    switch (rng() % 4) {
      case 0:
      case 1: {
        std::string piece(len, static_cast<char>('A' + i % 50));
        ASSERT_TRUE(pc.write(piece.data(), len, off).ok());
        if (model.size() < off + len) model.resize(off + len, '\0');
        model.replace(off, len, piece);
        break;
      }
      case 2: {
        std::string got(len, '?');
        auto n = pc.read(got.data(), len, off, model.size());
        ASSERT_TRUE(n.ok());
        const size_t want = off >= model.size() ? 0 : std::min<size_t>(len, model.size() - off);
        ASSERT_EQ(want, *n) << i;
        ASSERT_EQ(model.substr(off < model.size() ? off : 0, want), got.substr(0, want)) << "op " << i;
        break;
      }
      default:
        if (rng() % 8 == 0) {
          const std::uint64_t size = rng() % (16 * kChunk);
          ASSERT_TRUE(pc.flush(false).ok());  // the servers' truncate follows a flush in Vfs
          pc.truncate(size);
          model.resize(std::min<std::uint64_t>(size, model.size()));
          std::lock_guard lock(data.mu);
          for (auto& [idx, c] : data.chunks) {
            const std::uint64_t start = idx * kChunk;
            if (start >= size) c.clear();
            else if (c.size() > size - start) c.resize(size - start);
          }
        }
    }
    ASSERT_LE(cached.load(), budget + 21 * static_cast<std::int64_t>(kChunk)) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(WriteBack, PageCacheModelTest, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "InTheBackground" : "InTheCaller"; });

TEST(PageCacheTest, FullChunksGoOutInTheBackgroundAndAFailureSurfacesAtFlush) {
  MemoryData data;
  std::atomic<std::int64_t> cached{0};
  WritebackQueue queue(data);
  PageCache pc(1, kChunk, data, cached, 1 << 20, &queue);
  std::vector<char> block(kChunk, 'x');
  for (int i = 0; i < 3 * PageCache::kWritebackChunks; ++i) {
    ASSERT_TRUE(pc.write(block.data(), kChunk, i * kChunk).ok());
  }
  ASSERT_TRUE(pc.flush(false).ok());
  {
    std::lock_guard lock(data.mu);
    EXPECT_EQ(3 * PageCache::kWritebackChunks, static_cast<int>(data.ranges.size()));
    EXPECT_EQ(3, data.batches);  // two in the background, the last at flush
  }
  EXPECT_FALSE(pc.hasDirty());
  {
    std::lock_guard lock(data.mu);
    data.failWrites = EIO;
  }
  for (int i = 0; i < PageCache::kWritebackChunks; ++i) ASSERT_TRUE(pc.write(block.data(), kChunk, i * kChunk).ok());
  {
    std::unique_lock lock(data.mu);
    data.failWrites = 0;  // may or may not have hit the background batch: flush tells
  }
  Result<void> first = pc.flush(false);
  Result<void> second = pc.flush(false);
  EXPECT_TRUE(second.ok());  // the retry at flush wrote what the failed batch held
  EXPECT_FALSE(pc.hasDirty());
  (void)first;
}

}  // namespace
}  // namespace myfs
