// The Vfs used by many threads at once: namespace operations in private and shared
// directories, disjoint writes to one file, and fd-table churn. Run under
// ThreadSanitizer by scripts/sanitize.sh.
#include <fcntl.h>

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/vfs.h"
#include "tests/core/local_cluster.h"

namespace myfs {
namespace {

using testing::LocalCluster;

constexpr int kThreads = 4;

class VfsThreadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<LocalCluster>(2, 2, 1 << 16);
    auto v = makeVfs(*cluster_, VfsOptions{});
    ASSERT_TRUE(v.ok());
    vfs_ = std::move(*v);
  }
  template <typename Fn>
  void inThreads(Fn fn) {
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) ts.emplace_back(fn, t);
    for (auto& t : ts) t.join();
  }
  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<Vfs> vfs_;
};

TEST_F(VfsThreadsTest, NamespaceOperationsFromManyThreads) {
  ASSERT_TRUE(vfs_->mkdir(At::root(), "shared", 0755).ok());
  std::atomic<int> failures{0};
  inThreads([&](int t) {
    const std::string mine = "t" + std::to_string(t);
    if (!vfs_->mkdir(At::root(), mine, 0755)) ++failures;
    for (int i = 0; i < 60; ++i) {
      const int fd = 1000 + t * 1000 + i;
      const std::string f = mine + "/f" + std::to_string(i);
      if (!vfs_->open(fd, At::root(), f, O_CREAT | O_EXCL | O_RDWR, 0644)) {
        ++failures;
        continue;
      }
      const std::string data = f + " payload";
      if (!vfs_->write(fd, data.data(), data.size()) || !vfs_->close(fd)) ++failures;
      const std::string s = "shared/" + mine + "-" + std::to_string(i);
      if (!vfs_->rename(At::root(), f, At::root(), s, 0)) ++failures;
      if (i % 2 == 0 && !vfs_->unlink(At::root(), s)) ++failures;
      if (!vfs_->stat(At::root(), "shared", true)) ++failures;
    }
  });
  EXPECT_EQ(0, failures.load());
  // Every thread's odd-numbered files remain, with their data.
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 1; i < 60; i += 2) {
      const std::string s = "shared/t" + std::to_string(t) + "-" + std::to_string(i);
      auto a = vfs_->stat(At::root(), s, true);
      ASSERT_TRUE(a.ok()) << s;
      EXPECT_EQ(("t" + std::to_string(t) + "/f" + std::to_string(i) + " payload").size(), a->size);
    }
  }
}

TEST_F(VfsThreadsTest, DisjointWritesToOneFileFromManyThreads) {
  ASSERT_TRUE(vfs_->open(10, At::root(), "one", O_CREAT | O_RDWR, 0644).ok());
  constexpr int kBlock = 5000;  // not aligned to pages or chunks
  inThreads([&](int t) {
    for (int i = t; i < 64; i += kThreads) {
      std::string block(kBlock, static_cast<char>('a' + i % 26));
      EXPECT_TRUE(vfs_->pwrite(10, block.data(), block.size(), static_cast<off_t>(i) * kBlock).ok());
    }
  });
  ASSERT_TRUE(vfs_->close(10).ok());
  ASSERT_TRUE(vfs_->open(11, At::root(), "one", O_RDONLY, 0).ok());
  std::string all(64 * kBlock, '?');
  ASSERT_EQ(all.size(), *vfs_->pread(11, all.data(), all.size(), 0));
  for (int i = 0; i < 64; ++i) {
    ASSERT_EQ(std::string(kBlock, static_cast<char>('a' + i % 26)), all.substr(static_cast<size_t>(i) * kBlock, kBlock))
        << "block " << i;
  }
  ASSERT_TRUE(vfs_->close(11).ok());
}

TEST_F(VfsThreadsTest, FdTableChurn) {
  ASSERT_TRUE(vfs_->open(5, At::root(), "churn", O_CREAT | O_RDWR, 0644).ok());
  inThreads([&](int t) {
    for (int i = 0; i < 200; ++i) {
      const int fd = 100 + t;
      EXPECT_TRUE(vfs_->dup(5, fd).ok());
      char c = 'x';
      EXPECT_TRUE(vfs_->pwrite(fd, &c, 1, t).ok());
      EXPECT_TRUE(vfs_->close(fd).ok());
    }
  });
  EXPECT_EQ(4u, vfs_->fstat(5)->size);
  ASSERT_TRUE(vfs_->close(5).ok());
}

}  // namespace
}  // namespace myfs
