// LeaseTable: grants, recalls, revocation, open references.
#include "server/meta/lease_table.h"

#include <gtest/gtest.h>

namespace myfs::server {
namespace {

using namespace std::chrono_literals;

class LeaseTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_.addSession(kA, now_);
    table_.addSession(kB, now_);
  }
  static constexpr std::uint64_t kA = 1, kB = 2, kUnknown = 3;
  LeaseTable table_{10s};
  LeaseTable::Clock::time_point now_ = LeaseTable::Clock::now();
};

TEST_F(LeaseTableTest, GrantsOnlyToKnownSessionsAndNotDuringARecall) {
  const InodeId both[] = {10, 11};
  EXPECT_TRUE(table_.grant(kA, both));
  EXPECT_FALSE(table_.grant(kUnknown, both));
  EXPECT_EQ(table_.leaseCount(kA), 2u);

  const InodeId ten[] = {10};
  auto holders = table_.takeForRecall(ten, kB);
  ASSERT_EQ(holders.size(), 1u);
  EXPECT_EQ(holders[kA], std::vector<InodeId>{10});
  EXPECT_EQ(table_.leaseCount(kA), 1u);  // 11 is still leased
  // While the recall is in flight nobody gets inode 10 (the service makes changes wait
  // for the recall itself); nobody holds it any more.
  EXPECT_FALSE(table_.grant(kB, ten));
  EXPECT_FALSE(table_.grantWrite(kB, 10));
  EXPECT_FALSE(table_.contended(ten, kB));
  table_.recallDone(ten);
  EXPECT_TRUE(table_.grant(kB, ten));
}

TEST_F(LeaseTableTest, AWriteLeaseExcludesOtherSessionsReadLeasesUntilRecalled) {
  const InodeId f[] = {20};
  ASSERT_TRUE(table_.grantWrite(kA, 20));
  EXPECT_EQ(table_.writer(20), kA);
  EXPECT_TRUE(table_.grant(kA, f));   // the writer may also read-lease it
  EXPECT_FALSE(table_.grant(kB, f));  // nobody else
  EXPECT_FALSE(table_.grantWrite(kB, 20));
  EXPECT_TRUE(table_.contended(f, kB, true));
  EXPECT_FALSE(table_.contended(f, kA, true));
  // A reader recalls the write lease only: A keeps its read lease.
  auto writers = table_.takeForRecall(f, kB, true);
  ASSERT_EQ(writers.size(), 1u);
  EXPECT_EQ(writers[kA], std::vector<InodeId>{20});
  table_.recallDone(f);
  EXPECT_EQ(table_.writer(20), 0u);
  EXPECT_EQ(table_.leaseCount(kA), 1u);
  EXPECT_TRUE(table_.grant(kB, f));
  // Revocation and the end of a session drop write leases too.
  ASSERT_TRUE(table_.grantWrite(kB, 21));
  table_.revoke(kB);
  EXPECT_EQ(table_.writer(21), 0u);
  ASSERT_TRUE(table_.grantWrite(kA, 22));
  table_.removeSession(kA);
  EXPECT_EQ(table_.writer(22), 0u);
}

TEST_F(LeaseTableTest, AWriteLeaseGoesBackOnlyUnderTheGrantItWasGivenWith) {
  const InodeId f[] = {30};
  ASSERT_TRUE(table_.grant(kA, f));
  const std::uint64_t first = table_.grantWrite(kA, 30);
  ASSERT_NE(first, 0u);
  const std::uint64_t again = table_.grantWrite(kA, 30);  // the holder asks again: a new grant
  ASSERT_NE(again, 0u);
  EXPECT_NE(again, first);
  // A release that crossed the newer grant on the wire leaves it in place.
  const LeaseTable::WriteGrant stale[] = {{30, first}};
  table_.releaseWrites(kA, stale);
  EXPECT_EQ(table_.writer(30), kA);
  // Another session cannot give back A's lease, nor a session an inode it does not hold.
  const LeaseTable::WriteGrant current[] = {{30, again}};
  table_.releaseWrites(kB, current);
  EXPECT_EQ(table_.writer(30), kA);
  table_.releaseWrites(kA, current);
  EXPECT_EQ(table_.writer(30), 0u);
  EXPECT_FALSE(table_.contended(f, kB, true));  // B's lookups recall nothing now
  EXPECT_EQ(table_.leaseCount(kA), 1u);         // A's read lease stays
}

TEST_F(LeaseTableTest, TellsWhetherAnyOtherSessionHoldsAnything) {
  EXPECT_FALSE(table_.othersHoldAny(kA));
  const InodeId mine[] = {40}, theirs[] = {41};
  ASSERT_TRUE(table_.grant(kA, mine));
  ASSERT_TRUE(table_.grantWrite(kA, 42));
  EXPECT_FALSE(table_.othersHoldAny(kA));  // only A's own
  EXPECT_TRUE(table_.othersHoldAny(kB));
  ASSERT_TRUE(table_.grant(kB, theirs));
  EXPECT_TRUE(table_.othersHoldAny(kA));
  EXPECT_FALSE(table_.othersHoldAny(kA, true));  // B holds no write lease
  table_.forget(kB, theirs);
  EXPECT_FALSE(table_.othersHoldAny(kA));
  // A recall in flight counts: its holder may still be answering for the inode.
  auto taken = table_.takeForRecall(mine, kB);
  EXPECT_EQ(taken.size(), 1u);
  EXPECT_TRUE(table_.othersHoldAny(kB));
  EXPECT_TRUE(table_.othersHoldAny(kA));
  table_.recallDone(mine);
  EXPECT_TRUE(table_.othersHoldAny(kB));  // A's write lease on 42
  table_.revoke(kA);
  EXPECT_FALSE(table_.othersHoldAny(kB));
  ASSERT_TRUE(table_.grant(kB, theirs));
  table_.removeSession(kB);
  EXPECT_FALSE(table_.othersHoldAny(kA));
}

TEST_F(LeaseTableTest, TheChangingSessionKeepsItsOwnLeases) {
  const InodeId dir[] = {7};
  ASSERT_TRUE(table_.grant(kA, dir));
  ASSERT_TRUE(table_.grant(kB, dir));
  EXPECT_TRUE(table_.contended(dir, kA));  // B holds it
  auto holders = table_.takeForRecall(dir, kA);
  EXPECT_EQ(holders.size(), 1u);
  EXPECT_EQ(holders.count(kB), 1u);
  table_.recallDone(dir);
  EXPECT_EQ(table_.leaseCount(kA), 1u);
  EXPECT_FALSE(table_.contended(dir, kA));
}

TEST_F(LeaseTableTest, ForgottenInodesAreNoLongerRecalled) {
  const InodeId ino[] = {5};
  ASSERT_TRUE(table_.grant(kA, ino));
  table_.forget(kA, ino);
  EXPECT_FALSE(table_.contended(ino, kB));
  EXPECT_TRUE(table_.takeForRecall(ino, kB).empty());
  table_.recallDone(ino);
}

TEST_F(LeaseTableTest, RevocationDropsLeasesUntilTheClientHearsOfIt) {
  const InodeId ino[] = {5, 6};
  ASSERT_TRUE(table_.grant(kA, ino));
  ASSERT_TRUE(table_.renew(kA, now_ + 1s));
  const auto deadline = table_.revoke(kA);
  EXPECT_EQ(deadline, now_ + 1s + 10s);  // the client trusts its leases until then at most
  EXPECT_EQ(table_.leaseCount(kA), 0u);
  EXPECT_FALSE(table_.contended(ino, kB));
  EXPECT_FALSE(table_.grant(kA, ino));    // until it renews
  EXPECT_FALSE(table_.renew(kA, now_ + 2s));  // told once: drop everything
  EXPECT_TRUE(table_.renew(kA, now_ + 3s));
  EXPECT_TRUE(table_.grant(kA, ino));
  EXPECT_FALSE(table_.renew(kUnknown, now_));
}

TEST_F(LeaseTableTest, OpenReferencesOfOtherSessionsOnly) {
  table_.addOpen(kA, 9);
  EXPECT_TRUE(table_.heldOpen(9));
  EXPECT_TRUE(table_.heldOpen(9, kB));
  EXPECT_FALSE(table_.heldOpen(9, kA));
  table_.addOpen(kB, 9);
  EXPECT_TRUE(table_.heldOpen(9, kA));
  EXPECT_TRUE(table_.releaseOpen(kB, 9));
  EXPECT_FALSE(table_.releaseOpen(kB, 9));
  EXPECT_EQ(table_.removeSession(kA), std::vector<InodeId>{9});
  EXPECT_FALSE(table_.heldOpen(9));
  EXPECT_FALSE(table_.hasSession(kA));
}

TEST_F(LeaseTableTest, ASessionHoldsABoundedNumberOfLeases) {
  std::vector<InodeId> many(LeaseTable::kMaxLeasesPerSession);
  for (std::size_t i = 0; i < many.size(); ++i) many[i] = 1000 + i;
  EXPECT_TRUE(table_.grant(kA, many));
  const InodeId one[] = {1};
  EXPECT_FALSE(table_.grant(kA, one));
  table_.forget(kA, std::span<const InodeId>(many.data(), 1));
  EXPECT_TRUE(table_.grant(kA, one));
}

}  // namespace
}  // namespace myfs::server
