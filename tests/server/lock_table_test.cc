// LockTable: fcntl and flock lock rules (conflicts, splitting, merging, expiry).
#include "server/meta/lock_table.h"

#include <fcntl.h>

#include <gtest/gtest.h>

namespace myfs::server {
namespace {

using namespace std::chrono_literals;

constexpr InodeId kIno = 42;

FileLock lockOf(std::uint64_t owner, int type, std::uint64_t start, std::uint64_t end, LockKind kind = LockKind::kPosix) {
  FileLock l;
  l.kind = kind;
  l.type = type;
  l.start = start;
  l.end = end;
  l.owner = owner;
  l.client = owner;  // one process per owner here
  l.pid = static_cast<std::int32_t>(owner);
  return l;
}

class LockTableTest : public ::testing::Test {
 protected:
  LockTable table_{10s};
  LockTable::Clock::time_point now_ = LockTable::Clock::now();

  int set(const FileLock& l) { return table_.set(kIno, l, now_).err(); }
  // "start-end:type" for every lock held, in order.
  std::string held() {
    std::string out;
    for (const FileLock& l : table_.held(kIno)) {
      out += std::to_string(l.start) + "-" + (l.end == kLockToEof ? std::string("eof") : std::to_string(l.end)) + ":" +
             (l.type == F_RDLCK ? "r" : "w") + std::to_string(l.owner) + " ";
    }
    return out;
  }
};

TEST_F(LockTableTest, ReadersShareWritersExclude) {
  EXPECT_EQ(0, set(lockOf(1, F_RDLCK, 0, 99)));
  EXPECT_EQ(0, set(lockOf(2, F_RDLCK, 50, 149)));
  EXPECT_EQ(EAGAIN, set(lockOf(3, F_WRLCK, 90, 95)));
  EXPECT_EQ(0, set(lockOf(3, F_WRLCK, 150, kLockToEof)));
  EXPECT_EQ(EAGAIN, set(lockOf(1, F_RDLCK, 1000, 1000)));
  auto c = table_.test(kIno, lockOf(4, F_WRLCK, 0, 10), now_);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(1u, c->owner);
  EXPECT_FALSE(table_.test(kIno, lockOf(4, F_RDLCK, 0, 10), now_).has_value());
  EXPECT_FALSE(table_.test(kIno, lockOf(1, F_WRLCK, 0, 10), now_).has_value());  // its own lock
}

TEST_F(LockTableTest, OwnLocksSplitConvertAndMerge) {
  EXPECT_EQ(0, set(lockOf(1, F_WRLCK, 0, 99)));
  EXPECT_EQ(0, set(lockOf(1, F_UNLCK, 40, 59)));
  EXPECT_EQ("0-39:w1 60-99:w1 ", held());
  EXPECT_EQ(0, set(lockOf(1, F_RDLCK, 30, 69)));
  EXPECT_EQ("0-29:w1 30-69:r1 70-99:w1 ", held());
  EXPECT_EQ(0, set(lockOf(1, F_WRLCK, 30, 69)));
  EXPECT_EQ("0-99:w1 ", held());  // merged back into one
  EXPECT_EQ(0, set(lockOf(1, F_WRLCK, 100, 199)));
  EXPECT_EQ("0-199:w1 ", held());  // adjacent ranges merge
  EXPECT_EQ(0, set(lockOf(1, F_UNLCK, 0, kLockToEof)));
  EXPECT_EQ("", held());
}

TEST_F(LockTableTest, FlockAndFcntlLocksAreSeparate) {
  EXPECT_EQ(0, set(lockOf(1, F_WRLCK, 0, kLockToEof, LockKind::kFlock)));
  EXPECT_EQ(0, set(lockOf(2, F_WRLCK, 0, kLockToEof, LockKind::kPosix)));
  EXPECT_EQ(EAGAIN, set(lockOf(3, F_RDLCK, 0, 0, LockKind::kFlock)));
  EXPECT_EQ(EAGAIN, set(lockOf(3, F_RDLCK, 0, 0, LockKind::kOfd)));  // OFD meets POSIX
  EXPECT_EQ(0, set(lockOf(1, F_RDLCK, 0, 0, LockKind::kFlock)));    // converts, whole file
  EXPECT_EQ(0, set(lockOf(3, F_RDLCK, 0, 0, LockKind::kFlock)));
}

TEST_F(LockTableTest, LocksOfAClientThatStopsRenewingExpire) {
  EXPECT_EQ(0, set(lockOf(1, F_WRLCK, 0, kLockToEof)));
  now_ += 6s;
  table_.renew(1, now_);
  now_ += 6s;
  EXPECT_EQ(EAGAIN, set(lockOf(2, F_WRLCK, 0, 0)));  // renewed 6 s ago: still alive
  now_ += 11s;
  EXPECT_EQ(0, set(lockOf(2, F_WRLCK, 0, 0)));
  EXPECT_EQ("0-0:w2 ", held());
}

TEST_F(LockTableTest, BadRequests) {
  EXPECT_EQ(EINVAL, set(lockOf(1, 77, 0, 1)));
  EXPECT_EQ(EINVAL, set(lockOf(1, F_WRLCK, 5, 4)));
}

}  // namespace
}  // namespace myfs::server
