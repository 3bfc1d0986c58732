// ChunkStore: round trips, holes, partial blocks against a model, corruption, truncate,
// remove, fsync and stats, on real files.
#include "server/data/chunk_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "server/data/crc32c.h"
#include "tests/server/temp_dir.h"

namespace myfs::server {
namespace {

using testing::TempDir;

#define ASSERT_OK(expr) ASSERT_EQ((expr).err(), 0) << #expr << ": " << errnoName((expr).err())

constexpr InodeId kIno = 0x0001000000000042ull;

std::string pattern(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

class ChunkStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    store_ = ChunkStore::open(tmp_.sub("data"), &error);
    ASSERT_TRUE(store_) << error;
  }

  std::string chunkFile(InodeId ino, std::uint64_t chunk) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(ino));
    return tmp_.sub("data") + "/chunks/" + buf + "/" + std::to_string(chunk);
  }

  // Overwrites one byte of a file on disk, behind the store's back.
  void flipByte(const std::string& path, off_t at) {
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    char c = 0;
    ASSERT_EQ(::pread(fd, &c, 1, at), 1);
    c = static_cast<char>(c ^ 0x5a);
    ASSERT_EQ(::pwrite(fd, &c, 1, at), 1);
    ::close(fd);
  }

  std::string readAll(InodeId ino, std::uint64_t chunk) {
    Result<std::string> r = store_->read(ino, chunk, 0, kMaxChunkSize);
    EXPECT_TRUE(r.ok()) << errnoName(r.err());
    return r.ok() ? *r : std::string("<error>");
  }

  TempDir tmp_;
  std::unique_ptr<ChunkStore> store_;
};

TEST_F(ChunkStoreTest, WriteReadRoundTrip) {
  ASSERT_OK(store_->write(kIno, 3, 0, "hello, chunk", false));
  Result<std::string> r = store_->read(kIno, 3, 0, 100);
  ASSERT_OK(r);
  EXPECT_EQ(*r, "hello, chunk");
  EXPECT_EQ(*store_->read(kIno, 3, 7, 5), "chunk");
  EXPECT_EQ(*store_->read(kIno, 3, 7, 2), "ch");
  EXPECT_EQ(*store_->read(kIno, 3, 12, 10), "");  // at the end
  EXPECT_EQ(*store_->read(kIno, 3, 500, 10), "");  // past the end
  EXPECT_EQ(*store_->read(kIno, 3, 0, 0), "");
  // A large write spanning many blocks, synchronously.
  std::string big = pattern(3 * kCrcBlockSize + 123, 1);
  ASSERT_OK(store_->write(kIno, 4, 0, big, true));
  EXPECT_EQ(readAll(kIno, 4), big);
  EXPECT_EQ(*store_->read(kIno, 4, kCrcBlockSize - 10, 20), big.substr(kCrcBlockSize - 10, 20));
}

TEST_F(ChunkStoreTest, MissingChunkReadsEmpty) {
  Result<std::string> r = store_->read(kIno, 9, 0, 4096);
  ASSERT_OK(r);
  EXPECT_TRUE(r->empty());
}

TEST_F(ChunkStoreTest, HolesReadAsZeros) {
  ASSERT_OK(store_->write(kIno, 0, 200000, "tail", false));
  std::string all = readAll(kIno, 0);
  ASSERT_EQ(all.size(), 200004u);
  EXPECT_EQ(all.substr(0, 200000), std::string(200000, '\0'));
  EXPECT_EQ(all.substr(200000), "tail");
  // Filling part of the hole later keeps the rest zero.
  ASSERT_OK(store_->write(kIno, 0, 70000, "mid", false));
  all = readAll(kIno, 0);
  EXPECT_EQ(all.substr(70000, 3), "mid");
  EXPECT_EQ(all.substr(69990, 10), std::string(10, '\0'));
  EXPECT_EQ(all.substr(70003, 100), std::string(100, '\0'));
}

TEST_F(ChunkStoreTest, RandomPartialWritesMatchModel) {
  std::mt19937 rng(7);
  std::string model;
  const std::uint32_t span = 5 * kCrcBlockSize;
  for (int i = 0; i < 300; ++i) {
    std::uint32_t off = rng() % span;
    std::uint32_t len = 1 + rng() % (i % 10 == 0 ? 2 * kCrcBlockSize : 3000);
    std::string data = pattern(len, static_cast<unsigned>(i));
    ASSERT_OK(store_->write(kIno, 1, off, data, false));
    if (model.size() < off + len) model.resize(off + len, '\0');
    model.replace(off, len, data);
    if (i % 25 == 0) ASSERT_EQ(readAll(kIno, 1), model) << "after write " << i;
    std::uint32_t roff = rng() % (model.size() + 10);
    std::uint32_t rlen = rng() % 100000;
    Result<std::string> r = store_->read(kIno, 1, roff, rlen);
    ASSERT_OK(r);
    std::string expect = roff < model.size() ? model.substr(roff, rlen) : std::string();
    ASSERT_EQ(*r, expect) << "read " << roff << "+" << rlen;
  }
  EXPECT_EQ(readAll(kIno, 1), model);
}

TEST_F(ChunkStoreTest, CorruptionIsDetected) {
  std::string data = pattern(3 * kCrcBlockSize, 3);
  ASSERT_OK(store_->write(kIno, 0, 0, data, false));
  flipByte(chunkFile(kIno, 0), kCrcBlockSize + 100);  // in block 1
  EXPECT_EQ(store_->read(kIno, 0, 0, 3 * kCrcBlockSize).err(), EIO);
  EXPECT_EQ(store_->read(kIno, 0, kCrcBlockSize + 5000, 10).err(), EIO);
  // Blocks 0 and 2 still read.
  EXPECT_EQ(*store_->read(kIno, 0, 0, kCrcBlockSize), data.substr(0, kCrcBlockSize));
  EXPECT_EQ(*store_->read(kIno, 0, 2 * kCrcBlockSize, 100), data.substr(2 * kCrcBlockSize, 100));
  // A partial rewrite of the bad block is refused (it would bless the corruption)...
  EXPECT_EQ(store_->write(kIno, 0, kCrcBlockSize + 10, "x", false).err(), EIO);
  // ...and so is truncating inside it.
  EXPECT_EQ(store_->truncate(kIno, kCrcBlockSize + 10, 1u << 20).err(), EIO);
  // A whole-block rewrite replaces it.
  std::string fresh = pattern(kCrcBlockSize, 4);
  ASSERT_OK(store_->write(kIno, 0, kCrcBlockSize, fresh, false));
  EXPECT_EQ(*store_->read(kIno, 0, kCrcBlockSize, kCrcBlockSize), fresh);
}

TEST_F(ChunkStoreTest, CorruptOrMissingChecksumsAreDetected) {
  ASSERT_OK(store_->write(kIno, 5, 0, pattern(1000, 5), false));
  // Either of a block's two CRCs matching is enough (a damaged spare is harmless)...
  flipByte(chunkFile(kIno, 5) + ".crc", 1);
  ASSERT_OK(store_->read(kIno, 5, 0, 10));
  // ...both damaged is EIO.
  flipByte(chunkFile(kIno, 5) + ".crc", 5);
  EXPECT_EQ(store_->read(kIno, 5, 0, 10).err(), EIO);
  ASSERT_OK(store_->write(kIno, 6, 0, pattern(1000, 6), false));
  ASSERT_EQ(::truncate((chunkFile(kIno, 6) + ".crc").c_str(), 0), 0);
  EXPECT_EQ(store_->read(kIno, 6, 0, 10).err(), EIO);
  EXPECT_EQ(store_->write(kIno, 6, 10, "z", false).err(), EIO);
  ASSERT_EQ(::unlink((chunkFile(kIno, 6) + ".crc").c_str()), 0);
  EXPECT_EQ(store_->read(kIno, 6, 0, 10).err(), EIO);
}

TEST_F(ChunkStoreTest, UnfinishedWriteLeavesOldBytesReadable) {
  // The state a kill between the sidecar update and the data write leaves: the sidecar
  // holds the new CRC as current and the old one as previous, the file the old bytes.
  std::string oldData = pattern(1000, 8);
  ASSERT_OK(store_->write(kIno, 7, 0, oldData, false));
  std::string newData = pattern(1000, 9);
  std::uint32_t entry[2] = {crc32c(0, newData.data(), newData.size()), crc32c(0, oldData.data(), oldData.size())};
  int fd = ::open((chunkFile(kIno, 7) + ".crc").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, entry, sizeof entry, 0), static_cast<ssize_t>(sizeof entry));
  ::close(fd);
  EXPECT_EQ(readAll(kIno, 7), oldData);
  // The retried write then succeeds and reads back.
  ASSERT_OK(store_->write(kIno, 7, 500, newData.substr(500), false));
  ASSERT_OK(store_->write(kIno, 7, 0, newData.substr(0, 500), false));
  EXPECT_EQ(readAll(kIno, 7), newData);
}

TEST_F(ChunkStoreTest, TruncateDropsAndCutsChunks) {
  const std::uint32_t chunkSize = 2 * kCrcBlockSize;
  std::string full = pattern(chunkSize, 10);
  for (std::uint64_t c = 0; c < 4; ++c) ASSERT_OK(store_->write(kIno, c, 0, full, false));
  // Cut inside block 0 of chunk 1 (size = 1 chunk + 1000 bytes).
  ASSERT_OK(store_->truncate(kIno, chunkSize + 1000, chunkSize));
  EXPECT_EQ(readAll(kIno, 0), full);
  EXPECT_EQ(readAll(kIno, 1), full.substr(0, 1000));
  EXPECT_EQ(readAll(kIno, 2), "");
  EXPECT_EQ(readAll(kIno, 3), "");
  EXPECT_FALSE(std::filesystem::exists(chunkFile(kIno, 2)));
  EXPECT_FALSE(std::filesystem::exists(chunkFile(kIno, 3) + ".crc"));
  // Writing past the cut leaves zeros between, all verifiable.
  ASSERT_OK(store_->write(kIno, 1, 5000, "after", false));
  std::string c1 = readAll(kIno, 1);
  EXPECT_EQ(c1.substr(0, 1000), full.substr(0, 1000));
  EXPECT_EQ(c1.substr(1000, 4000), std::string(4000, '\0'));
  EXPECT_EQ(c1.substr(5000), "after");
  // A size on a chunk boundary drops that chunk entirely; size 0 drops everything.
  ASSERT_OK(store_->truncate(kIno, chunkSize, chunkSize));
  EXPECT_EQ(readAll(kIno, 1), "");
  EXPECT_EQ(readAll(kIno, 0), full);
  ASSERT_OK(store_->truncate(kIno, 0, chunkSize));
  EXPECT_EQ(readAll(kIno, 0), "");
  EXPECT_EQ(store_->stats()->chunks, 0u);
  // Truncating a file with no chunks here is fine; a bad chunk size is not.
  ASSERT_OK(store_->truncate(kIno + 1, 10, chunkSize));
  EXPECT_EQ(store_->truncate(kIno, 10, 3000).err(), EINVAL);
  EXPECT_EQ(store_->truncate(kIno, 10, 128u << 20).err(), EINVAL);
}

TEST_F(ChunkStoreTest, RemoveDropsEveryChunk) {
  ASSERT_OK(store_->write(kIno, 0, 0, "a", false));
  ASSERT_OK(store_->write(kIno, 17, 0, "b", false));
  ASSERT_OK(store_->write(kIno + 1, 0, 0, "other", false));
  ASSERT_OK(store_->remove(kIno));
  EXPECT_EQ(readAll(kIno, 0), "");
  EXPECT_EQ(readAll(kIno, 17), "");
  EXPECT_EQ(readAll(kIno + 1, 0), "other");
  ASSERT_OK(store_->remove(kIno));  // idempotent
  Result<DataStats> st = store_->stats();
  ASSERT_OK(st);
  EXPECT_EQ(st->chunks, 1u);
  EXPECT_EQ(st->inodes, 1u);
}

TEST_F(ChunkStoreTest, FsyncAndStats) {
  ASSERT_OK(store_->fsync(kIno));  // nothing stored: fine
  ASSERT_OK(store_->write(kIno, 0, 0, std::string(1000, 'a'), false));
  ASSERT_OK(store_->write(kIno, 1, 100, std::string(50, 'b'), false));
  ASSERT_OK(store_->write(kIno + 7, 0, 0, std::string(10, 'c'), true));
  ASSERT_OK(store_->fsync(kIno));
  Result<DataStats> st = store_->stats();
  ASSERT_OK(st);
  EXPECT_EQ(st->chunks, 3u);
  EXPECT_EQ(st->bytes, 1000u + 150u + 10u);
  EXPECT_EQ(st->inodes, 2u);
  EXPECT_GT(st->diskTotal, 0u);
  EXPECT_LE(st->diskFree, st->diskTotal);
}

TEST_F(ChunkStoreTest, RangeLimits) {
  EXPECT_EQ(store_->write(kIno, 0, kMaxChunkSize - 1, "ab", false).err(), EINVAL);
  ASSERT_OK(store_->write(kIno, 0, kMaxChunkSize - 2, "ab", false));
  EXPECT_EQ(store_->read(kIno, 0, kMaxChunkSize, 1).err(), EINVAL);
  EXPECT_EQ(*store_->read(kIno, 0, kMaxChunkSize - 2, 2), "ab");
  ASSERT_OK(store_->write(kIno, 1, 0, "", false));  // empty write: nothing made
  EXPECT_FALSE(std::filesystem::exists(chunkFile(kIno, 1)));
}

TEST_F(ChunkStoreTest, OpenFailsOnUnwritableDir) {
  std::string error;
  std::string file = tmp_.sub("plainfile");
  int fd = ::open(file.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ::close(fd);
  EXPECT_FALSE(ChunkStore::open(file + "/sub", &error));
  EXPECT_FALSE(error.empty());
}

TEST_F(ChunkStoreTest, ReopenKeepsChunks) {
  std::string data = pattern(100000, 11);
  ASSERT_OK(store_->write(kIno, 2, 10, data, true));
  store_.reset();
  std::string error;
  store_ = ChunkStore::open(tmp_.sub("data"), &error);
  ASSERT_TRUE(store_) << error;
  EXPECT_EQ(*store_->read(kIno, 2, 10, 100000), data);
}

}  // namespace
}  // namespace myfs::server
