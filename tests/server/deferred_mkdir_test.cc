// The mkdir across shards whose directory is made after its entry (mkdirRemote,
// makeDir, confirmDir): two real stores, shard 0 holding the parent, shard 1 the
// directory, reopened where a restart matters.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "server/meta/meta_store.h"
#include "tests/server/store_test_util.h"
#include "tests/server/temp_dir.h"

namespace myfs::server {
namespace {

using testing::TempDir;

using testing::kAlice;
using testing::kBob;
using testing::kRoot;
using testing::user;

class DeferredMkdirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::uint32_t i = 0; i < 2; ++i) open(i);
  }
  void open(std::uint32_t i) {
    shards_[i].reset();
    MetaStoreOptions o;
    o.dir = tmp_.sub("s" + std::to_string(i));
    o.shardIndex = i;
    o.shardCount = 2;
    std::string error;
    shards_[i] = MetaStore::open(o, &error);
    ASSERT_TRUE(shards_[i]) << error;
  }
  MetaStore& parentShard() { return *shards_[0]; }
  MetaStore& dirShard() { return *shards_[1]; }

  // A number shard 1 set aside for session 7.
  InodeId reserved() {
    Result<InodeRange> r = dirShard().reserveInodes(7, 1);
    EXPECT_TRUE(r.ok());
    return r ? r->first : 0;
  }

  // The intent the parent's shard hands to a lookup of `name` in the root.
  std::optional<DirIntent> intentOf(const std::string& name) {
    std::optional<DirIntent> intent;
    Result<Attr> r = parentShard().lookup(kRoot, kRootIno, name, &intent);
    EXPECT_TRUE(r.ok()) << name;
    return intent;
  }

  TempDir tmp_;
  std::unique_ptr<MetaStore> shards_[2];
};

TEST_F(DeferredMkdirTest, TheEntryKeepsTheDirectoryUntilItsShardHasMadeIt) {
  ASSERT_OK(parentShard().setattr(kRoot, kRootIno, SetAttr{.setMode = true, .mode = 0777}));
  const InodeId ino = reserved();
  Result<Attr> a = parentShard().mkdirRemote(kAlice, kRootIno, "later", ino, 0750, 99);
  ASSERT_OK(a);
  EXPECT_EQ(a->ino, ino);
  EXPECT_EQ(a->mode, S_IFDIR | 0750u);
  EXPECT_EQ(a->uid, kAlice.uid);
  EXPECT_EQ(a->gid, kAlice.gid);
  EXPECT_EQ(a->nlink, 2u);
  EXPECT_EQ(a->parent, kRootIno);
  EXPECT_EQ(parentShard().getattr(kRootIno)->nlink, 3u);  // the new directory's ".."

  // The name is there at once; its lookup says the directory may still be to make.
  std::optional<DirIntent> intent = intentOf("later");
  ASSERT_TRUE(intent);
  EXPECT_EQ(intent->attr, *a);
  EXPECT_EQ(intent->leaseTo, 99u);
  Result<Attr> entry = parentShard().lookup(kRoot, kRootIno, "later");
  EXPECT_EQ(entry->nlink, 0u);  // as any entry of a directory on another shard
  EXPECT_ERRNO(dirShard().getattr(ino), ENOENT);

  // Made from the intent, exactly as the parent's shard stamped it.
  bool made = false;
  Result<Attr> d = dirShard().makeDir(*intent, &made);
  ASSERT_OK(d);
  EXPECT_TRUE(made);
  EXPECT_EQ(*d, *a);
  EXPECT_EQ(*dirShard().getattr(ino), *a);
  EXPECT_EQ(dirShard().statfs().directories, 1u);

  // Again (the creator and a reader both sending it): the directory as it is now.
  ASSERT_OK(dirShard().setattr(kAlice, ino, SetAttr{.setMode = true, .mode = 0700}));
  d = dirShard().makeDir(*intent, &made);
  ASSERT_OK(d);
  EXPECT_FALSE(made);
  EXPECT_EQ(d->mode, S_IFDIR | 0700u);

  ASSERT_OK(parentShard().confirmDir(kRootIno, "later", ino));
  EXPECT_FALSE(intentOf("later"));
  EXPECT_EQ(parentShard().lookup(kRoot, kRootIno, "later")->ino, ino);
  ASSERT_OK(parentShard().confirmDir(kRootIno, "later", ino));   // idempotent
  ASSERT_OK(parentShard().confirmDir(kRootIno, "absent", ino));  // nothing to do
}

TEST_F(DeferredMkdirTest, RefusesWhatAMkdirOnTheParentsShardWould) {
  const InodeId ino = reserved();
  EXPECT_ERRNO(parentShard().mkdirRemote(kRoot, kRootIno, "x", makeInodeId(0, 50), 0755, 0), EINVAL);  // local
  EXPECT_ERRNO(parentShard().mkdirRemote(kRoot, kRootIno, "x", 0, 0755, 0), EINVAL);
  EXPECT_ERRNO(parentShard().mkdirRemote(kAlice, kRootIno, "x", ino, 0755, 0), EACCES);  // root's 0755
  EXPECT_ERRNO(parentShard().mkdirRemote(kRoot, kRootIno, "..", ino, 0755, 0), EEXIST);
  EXPECT_ERRNO(parentShard().mkdirRemote(kRoot, 12345, "x", ino, 0755, 0), ENOENT);
  ASSERT_OK(parentShard().mkdirRemote(kRoot, kRootIno, "x", ino, 0755, 0));
  EXPECT_ERRNO(parentShard().mkdirRemote(kRoot, kRootIno, "x", ino, 0755, 0), EEXIST);
}

TEST_F(DeferredMkdirTest, ASetgidParentsGroupIsInheritedByTheDirectory) {
  Result<Attr> shared = parentShard().mkdir(kRoot, kRootIno, "shared", 02777);
  ASSERT_OK(shared);
  ASSERT_OK(parentShard().setattr(kRoot, shared->ino, SetAttr{.setMode = true, .mode = 02777, .setGid = true,
                                                                  .gid = 500}));
  Result<Attr> a = parentShard().mkdirRemote(kBob, shared->ino, "sub", reserved(), 0755, 0);
  ASSERT_OK(a);
  EXPECT_EQ(a->gid, 500u);
  EXPECT_EQ(a->mode, S_IFDIR | S_ISGID | 0755u);
}

TEST_F(DeferredMkdirTest, OnlyNumbersTheShardHandedOutAreMade) {
  bool made = false;
  DirIntent intent;
  intent.attr.mode = S_IFDIR | 0755;
  intent.attr.parent = kRootIno;
  intent.attr.ino = makeInodeId(1, 1u << 20);  // far beyond what shard 1 handed out
  EXPECT_ERRNO(dirShard().makeDir(intent, &made), EINVAL);
  intent.attr.ino = makeInodeId(0, 1);  // another shard's
  EXPECT_ERRNO(dirShard().makeDir(intent, &made), EINVAL);
  intent.attr.ino = reserved();
  intent.attr.mode = S_IFREG | 0644;
  EXPECT_ERRNO(dirShard().makeDir(intent, &made), EINVAL);  // directories only

  Result<Attr> file = dirShard().makeInode(kRoot, kRootIno, S_IFREG | 0644, "");
  ASSERT_OK(file);
  intent.attr.ino = file->ino;
  intent.attr.mode = S_IFDIR | 0755;
  EXPECT_ERRNO(dirShard().makeDir(intent, &made), EEXIST);  // a file has that number
  EXPECT_FALSE(made);
}

// The number is the creator's reservation; made by anyone, it is no longer reserved.
TEST_F(DeferredMkdirTest, MakingTakesTheNumberOutOfItsReservation) {
  const InodeId ino = reserved();
  ASSERT_OK(parentShard().mkdirRemote(kRoot, kRootIno, "d", ino, 0755, 7));
  bool made = false;
  ASSERT_OK(dirShard().makeDir(*intentOf("d"), &made));
  EXPECT_ERRNO(dirShard().makeReservedDir(kRoot, 7, ino, kRootIno, S_IFDIR | 0755), EINVAL);
}

// Nothing acknowledged is lost: the entry and its intent are on disk with the mkdir's
// answer, and the directory's shard makes it after a restart of either shard.
TEST_F(DeferredMkdirTest, TheIntentOutlivesRestartsOfBothShards) {
  const InodeId ino = reserved();
  Result<Attr> a = parentShard().mkdirRemote(kRoot, kRootIno, "kept", ino, 0711, 5);
  ASSERT_OK(a);
  open(0);
  open(1);  // the reservation is gone with the restart; the number stays handed out
  std::optional<DirIntent> intent = intentOf("kept");
  ASSERT_TRUE(intent);
  bool made = false;
  Result<Attr> d = dirShard().makeDir(*intent, &made);
  ASSERT_OK(d);
  EXPECT_TRUE(made);
  EXPECT_EQ(*d, *a);
  open(1);
  EXPECT_EQ(*dirShard().getattr(ino), *a);
  EXPECT_GT(dirShard().makeInode(kRoot, kRootIno, S_IFREG | 0644, "")->ino, ino);  // never handed out again
}

// One batch for many directories: each answered on its own, one named twice made once,
// and the confirmations in one batch too.
TEST_F(DeferredMkdirTest, ManyDirectoriesAreMadeAndConfirmedInOneBatchEach) {
  std::vector<DirIntent> intents;
  for (int i = 0; i < 5; ++i) {
    const std::string name = "m" + std::to_string(i);
    ASSERT_OK(parentShard().mkdirRemote(kRoot, kRootIno, name, reserved(), 0755, 0));
    intents.push_back(*intentOf(name));
  }
  intents.push_back(intents[1]);  // sent twice in one batch (a reader's lookup, the creator)
  DirIntent bad = intents[0];
  bad.attr.ino = makeInodeId(1, 1u << 20);
  intents.insert(intents.begin() + 2, bad);
  std::vector<Result<MetaStore::MadeDir>> made = dirShard().makeDirs(intents);
  ASSERT_EQ(made.size(), 7u);
  EXPECT_ERRNO(made[2], EINVAL);
  for (std::size_t i : {0u, 1u, 3u, 4u, 5u}) {
    ASSERT_OK(made[i]);
    EXPECT_TRUE(made[i]->made) << i;
    EXPECT_EQ(made[i]->attr, intents[i].attr) << i;
  }
  ASSERT_OK(made[6]);
  EXPECT_FALSE(made[6]->made);
  EXPECT_EQ(made[6]->attr.ino, intents[1].attr.ino);
  EXPECT_EQ(dirShard().statfs().directories, 5u);

  const std::vector<std::string> names{"m0", "m1", "m2", "m3", "m4"};
  std::vector<MetaStore::DirEntryRef> refs;
  for (int i = 0; i < 5; ++i) refs.push_back({kRootIno, names[i], intents[i < 2 ? i : i + 1].attr.ino});
  refs[4].ino = 12345;  // an entry naming another inode keeps its intent
  ASSERT_OK(parentShard().confirmDirs(refs));
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(intentOf("m" + std::to_string(i))) << i;
  EXPECT_TRUE(intentOf("m4"));
}

// A rename in the parent's shard carries the intent with the entry; removing the entry
// drops it.
TEST_F(DeferredMkdirTest, TheIntentMovesWithItsEntry) {
  const InodeId ino = reserved();
  ASSERT_OK(parentShard().mkdirRemote(kRoot, kRootIno, "old", ino, 0755, 0));
  ASSERT_OK(parentShard().rename(kRoot, kRootIno, "old", kRootIno, "new", 0));
  EXPECT_ERRNO(parentShard().lookup(kRoot, kRootIno, "old"), ENOENT);
  std::optional<DirIntent> intent = intentOf("new");
  ASSERT_TRUE(intent);
  EXPECT_EQ(intent->attr.ino, ino);
  ASSERT_OK(parentShard().removeEntry(kRoot, kRootIno, "new", ino));
  EXPECT_ERRNO(parentShard().lookup(kRoot, kRootIno, "new"), ENOENT);
  EXPECT_EQ(parentShard().getattr(kRootIno)->nlink, 2u);
}

}  // namespace
}  // namespace myfs::server
