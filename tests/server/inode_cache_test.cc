// InodeCache (server/meta/inode_cache.h): bounded, least recently used first out, written
// through by commits, and never filled with a value read before a commit applied.
#include "server/meta/inode_cache.h"

#include <gtest/gtest.h>

namespace myfs::server {
namespace {

InodeRecord record(InodeId ino, std::uint64_t size) {
  InodeRecord r;
  r.attr.ino = ino;
  r.attr.size = size;
  return r;
}

TEST(InodeCacheTest, HoldsAtMostItsCapacityAndDropsTheLeastRecentlyUsed) {
  InodeCache c(3);
  c.put(record(1, 10));
  c.put(record(2, 20));
  c.put(record(3, 30));
  ASSERT_TRUE(c.get(1));  // 1 is now the most recent; 2 the least
  c.put(record(4, 40));
  EXPECT_EQ(c.size(), 3u);
  EXPECT_FALSE(c.get(2));
  EXPECT_EQ(c.get(1)->attr.size, 10u);
  EXPECT_EQ(c.get(3)->attr.size, 30u);
  EXPECT_EQ(c.get(4)->attr.size, 40u);
}

TEST(InodeCacheTest, CommitsWriteThrough) {
  InodeCache c(8);
  c.put(record(5, 1));
  c.put(record(5, 2));
  EXPECT_EQ(c.get(5)->attr.size, 2u);
  c.erase(5);
  EXPECT_FALSE(c.get(5));
  c.erase(6);  // not cached: nothing to do
  EXPECT_EQ(c.size(), 0u);
}

TEST(InodeCacheTest, AReadThatACommitOvertookIsNotCached) {
  InodeCache c(8);
  const std::uint64_t before = c.generation();
  c.put(record(7, 100));  // a commit lands while a reader holds the older value
  c.erase(7);
  c.fill(record(7, 50), before);
  EXPECT_FALSE(c.get(7)) << "a stale read must not come back after the commit";
  c.fill(record(8, 1), c.generation());  // no commit in between: cached
  EXPECT_EQ(c.get(8)->attr.size, 1u);
}

TEST(InodeCacheTest, ZeroCapacityCachesNothing) {
  InodeCache c(0);
  c.put(record(1, 1));
  c.fill(record(2, 1), c.generation());
  EXPECT_EQ(c.size(), 0u);
}

}  // namespace
}  // namespace myfs::server
