// PageCache against an in-memory data plane: dirty ranges, write-back batching,
// truncation of dirty data, eviction.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>

#include <dlfcn.h>

#include <thread>

#include "core/page_cache.h"
#include "core/page_memory.h"
#include "core/writeback.h"

namespace myfs {
namespace {

// Chunks in memory, keyed by index (one inode).
class MemoryData final : public DataPlane {
 public:
  std::uint32_t serverCount() const override { return 1; }
  Result<void> write(std::span<const ChunkWrite> writes, bool) override {
    std::unique_lock lock(mu);
    opened.wait(lock, [&] { return !gateClosed; });
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
      if (std::this_thread::get_id() != owner) fetchedInBackground.insert(r.chunk);
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

  void setGate(bool closed) {
    std::lock_guard lock(mu);
    gateClosed = closed;
    opened.notify_all();
  }

  std::mutex mu;  // the background queue writes from its own thread
  std::condition_variable opened;
  bool gateClosed = false;  // writes wait while closed (a slow data server)
  int failWrites = 0;
  std::map<std::uint64_t, std::vector<std::byte>> chunks;
  std::vector<std::pair<std::uint64_t, size_t>> ranges;
  int batches = 0, readCalls = 0, fsyncs = 0;
  std::thread::id owner = std::this_thread::get_id();  // reads from other threads are readahead
  std::set<std::uint64_t> fetchedInBackground;
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
  std::uint64_t lastReadEnd = 0;
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::uint64_t off = rng() % (40 * kChunk);
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
        if (rng() % 2 == 0) off = lastReadEnd;  // a sequential run: readahead comes into play
        std::string got(len, '?');
        auto n = pc.read(got.data(), len, off, model.size());
        ASSERT_TRUE(n.ok());
        const size_t want = off >= model.size() ? 0 : std::min<size_t>(len, model.size() - off);
        ASSERT_EQ(want, *n) << i;
        ASSERT_EQ(model.substr(off < model.size() ? off : 0, want), got.substr(0, want)) << "op " << i;
        lastReadEnd = off + want;
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

// The kernel's dirty_ratio: a writer fills the cache ahead of a slow write-back until
// its dirty data passes half the budget, and only then waits for batches to finish.
TEST(PageCacheTest, AWriterRunsAheadOfTheWriteBackUpToTheDirtyLimit) {
  MemoryData data;
  std::atomic<std::int64_t> cached{0};
  WritebackQueue queue(data);
  const int budgetChunks = 8 * PageCache::kWritebackChunks;
  PageCache pc(1, kChunk, data, cached, budgetChunks * static_cast<std::int64_t>(kChunk), &queue);
  std::vector<char> block(kChunk, 'w');
  data.setGate(true);
  const int underLimit = budgetChunks / PageCache::kDirtyLimitDivisor;
  auto ahead = std::async(std::launch::async, [&] {
    for (int i = 0; i < underLimit; ++i) {
      if (!pc.write(block.data(), kChunk, static_cast<std::uint64_t>(i) * kChunk).ok()) return false;
    }
    return true;
  });
  const bool ranAhead = ahead.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  auto past = std::async(std::launch::async, [&] {
    for (int i = underLimit; i < underLimit + 2 * PageCache::kWritebackChunks; ++i) {
      if (!pc.write(block.data(), kChunk, static_cast<std::uint64_t>(i) * kChunk).ok()) return false;
    }
    return true;
  });
  // Past the limit the writer waits while the data servers do not answer.
  const bool waited = past.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout;
  data.setGate(false);
  EXPECT_TRUE(ranAhead);
  EXPECT_TRUE(ahead.get());
  EXPECT_TRUE(waited);
  EXPECT_TRUE(past.get());
  ASSERT_TRUE(pc.flush(false).ok());
  std::lock_guard lock(data.mu);
  ASSERT_EQ(static_cast<size_t>(underLimit + 2 * PageCache::kWritebackChunks), data.chunks.size());
  for (auto& [idx, c] : data.chunks) {
    ASSERT_EQ(kChunk, c.size());
    EXPECT_EQ(std::byte{'w'}, c[kChunk - 1]) << idx;
  }
}

// A sequential reader gets the window ahead of it from the background thread and reads
// the same bytes as without readahead.
// Also when the file is larger than the budget: the window about to be read is never
// what eviction takes (each chunk is fetched once).
class SequentialReadTest : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(SequentialReadTest, FetchesTheWindowAheadInTheBackground) {
  MemoryData data;
  constexpr int kChunks = 48;
  for (int i = 0; i < kChunks; ++i) data.chunks[i].assign(kChunk, std::byte(i));
  std::atomic<std::int64_t> cached{0};
  WritebackQueue queue(data);
  PageCache pc(1, kChunk, data, cached, GetParam(), &queue);
  // Chunks cached from before, past the reader: stale ones eviction may take.
  for (int i = kChunks - 10; i < kChunks; ++i) {
    std::vector<char> tail(kChunk);
    ASSERT_TRUE(pc.read(tail.data(), kChunk, static_cast<std::uint64_t>(i) * kChunk, kChunks * std::uint64_t{kChunk}).ok());
  }
  {
    std::lock_guard lock(data.mu);
    data.readCalls = 0;
    data.fetchedInBackground.clear();
  }
  std::vector<char> buf(kChunk);
  for (int i = 0; i < kChunks; ++i) {
    auto n = pc.read(buf.data(), kChunk, static_cast<std::uint64_t>(i) * kChunk, kChunks * std::uint64_t{kChunk});
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(size_t{kChunk}, *n);
    ASSERT_EQ(static_cast<char>(i), buf[0]) << i;
    ASSERT_EQ(static_cast<char>(i), buf[kChunk - 1]) << i;
  }
  std::lock_guard lock(data.mu);
  EXPECT_GE(data.fetchedInBackground.size(), size_t{kChunks / 2});
  EXPECT_LE(data.readCalls, kChunks + 1);  // each chunk fetched once (the tail again, if evicted)
}

INSTANTIATE_TEST_SUITE_P(Budget, SequentialReadTest,
                         ::testing::Values(std::int64_t{1} << 30, std::int64_t{16} * kChunk),
                         [](const auto& p) { return p.param > (1 << 29) ? "FileFitsTheCache" : "FileLargerThanTheCache"; });

// Cached bytes live in mimalloc heaps of their own (libmimalloc is loaded privately, so
// the application's malloc is untouched); blocks may move between threads.
TEST(PageMemoryTest, PagesComeFromAPrivateMimallocHeap) {
  EXPECT_STREQ("mimalloc", pageAllocatorName());
  Dl_info info{};
  ASSERT_NE(0, dladdr(dlsym(RTLD_DEFAULT, "malloc"), &info));
  EXPECT_EQ(nullptr, std::strstr(info.dli_fname, "mimalloc")) << info.dli_fname;
  auto* p = static_cast<char*>(pageAllocate(3000));
  ASSERT_NE(nullptr, p);
  std::memset(p, 'a', 3000);
  std::thread([&] {
    p = static_cast<char*>(pageReallocate(p, 2u << 20));  // grown on another thread
    std::memset(p + 3000, 'b', (2u << 20) - 3000);
  }).join();
  ASSERT_NE(nullptr, p);
  EXPECT_EQ('a', p[2999]);
  EXPECT_EQ('b', p[3000]);
  pageFree(p);
}

}  // namespace
}  // namespace myfs
