// Directory delegation on one metadata shard (server/meta/ops_delegate.cc) and the write
// generations it hands out (LeaseTable), against the contract of schema/meta.capnp
// (delegateDir @33, makeFiles @34):
// - MetaStore::delegation: the directory's attributes, every name in it and numbers
//   reserved for the session; ENOTDIR, ENOENT, EACCES (read, write and search needed),
//   E2BIG (more than maxEntries names), EINVAL/EAGAIN (the reservation).
// - MetaStore::makeFiles: regular files made exactly as the session stamped them
//   (newInodeAttr's owner, group and mode, the intent's times), each number once,
//   idempotent, errors per file with the rest of the batch made, a setgid directory's
//   group, two intents for one name, and what a reopen keeps (the files) and drops
//   (the reservations).
// - LeaseTable::grantWrite(session, ino, asGen) and writeGen(session, ino).
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/meta/lease_table.h"
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

using MadeFiles = std::vector<Result<MetaStore::MadeFile>>;

constexpr std::uint64_t kSession = 7;  // the session a directory is delegated to
constexpr std::uint64_t kOther = 8;    // another session

class DelegateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reopen();
    // Everybody may make things in the root, so that Alice owns her directories.
    ASSERT_OK(store().setattr(kRoot, kRootIno, SetAttr{.setMode = true, .mode = 0777}));
  }
  // Opens the store (again: a restart of the server; in-memory state goes).
  void reopen() {
    store_.reset();
    MetaStoreOptions o;
    o.dir = tmp_.sub("s0");
    o.shardIndex = 0;
    o.shardCount = 1;
    std::string error;
    store_ = MetaStore::open(o, &error);
    ASSERT_TRUE(store_) << error;
  }
  MetaStore& store() { return *store_; }

  // A directory `name` in the root made by `cred` with permission bits `mode`.
  InodeId mkdirAs(const Cred& cred, const std::string& name, std::uint32_t mode) {
    Result<Attr> a = store().mkdir(cred, kRootIno, name, mode);
    EXPECT_OK(a);
    if (!a) return 0;
    // mkdir applies no umask here, but set the bits anyway: the tests depend on them.
    EXPECT_OK(store().setattr(kRoot, a->ino, SetAttr{.setMode = true, .mode = mode}));
    return a->ino;
  }
  InodeId createAs(const Cred& cred, InodeId parent, const std::string& name) {
    Result<CreateResult> r = store().create(cred, parent, name, S_IFREG | 0644, true, 0);
    EXPECT_OK(r);
    return r ? r->attr.ino : 0;
  }
  // `count` numbers reserved for `owner`, as a delegation of a directory hands them out.
  InodeRange reserve(std::uint64_t owner, std::uint32_t count) {
    Result<InodeRange> r = store().reserveInodes(owner, count);
    EXPECT_OK(r);
    return r ? *r : InodeRange{};
  }
  Attr attrOf(InodeId ino) {
    Result<Attr> a = store().getattr(ino);
    EXPECT_OK(a) << ino;
    return a ? *a : Attr{};
  }

  // The intent a client makes for a create of `name` in `parent` by `cred`: attributes
  // by newInodeAttr (the shared rule) from the parent as it is now, nlink 1.
  FileIntent intent(const Cred& cred, InodeId parent, const std::string& name, InodeId ino,
                    std::uint32_t perm = 0644, std::int64_t stamp = nowNs()) {
    FileIntent f;
    f.cred = cred;
    f.parent = parent;
    f.name = name;
    Result<Attr> dir = store().getattr(parent);
    f.attr = newInodeAttr(cred, dir ? &*dir : nullptr, S_IFREG | perm, ino, stamp);
    f.attr.nlink = 1;
    f.gen = 1;
    return f;
  }
  MadeFiles make(std::uint64_t owner, const std::vector<FileIntent>& files) {
    return store().makeFiles(owner, files);
  }
  Result<MetaStore::MadeFile> makeOne(std::uint64_t owner, const FileIntent& f) {
    return make(owner, {f}).front();
  }

  // Every entry of directory `dir`, name -> (ino, DT type), read as root page by page.
  std::map<std::string, std::pair<InodeId, std::uint8_t>> listing(InodeId dir) {
    std::map<std::string, std::pair<InodeId, std::uint8_t>> out;
    std::string cookie;
    for (;;) {
      Result<DirPage> page = store().readdir(kRoot, dir, cookie, 0);
      EXPECT_OK(page);
      if (!page) return out;
      for (const DirEntry& e : page->entries) out[e.name] = {e.ino, e.type};
      if (page->eof || page->entries.empty()) return out;
      cookie = page->nextCookie;
    }
  }
  static std::map<std::string, std::pair<InodeId, std::uint8_t>> entriesOf(const DirDelegation& d) {
    std::map<std::string, std::pair<InodeId, std::uint8_t>> out;
    for (const DirEntry& e : d.entries) out[e.name] = {e.ino, e.type};
    return out;
  }

  TempDir tmp_;
  std::unique_ptr<MetaStore> store_;
};

// ---- delegation ----------------------------------------------------------------------

TEST_F(DelegateTest, DelegationHandsOutTheDirectoryEveryNameAndFreshNumbersForTheOwner) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  const InodeId file = createAs(kAlice, dir, "f");
  Result<Attr> sub = store().mkdir(kAlice, dir, "sub", 0755);
  ASSERT_OK(sub);
  Result<Attr> link = store().symlink(kAlice, dir, "link", "target");
  ASSERT_OK(link);

  Result<DirDelegation> d = store().delegation(kAlice, kSession, dir, 16, 5);
  ASSERT_OK(d);
  EXPECT_EQ(d->gen, 0u);  // the lease table's to set
  EXPECT_EQ(d->attr, attrOf(dir));
  const std::map<std::string, std::pair<InodeId, std::uint8_t>> want{
      {"f", {file, DT_REG}}, {"sub", {sub->ino, DT_DIR}}, {"link", {link->ino, DT_LNK}}};
  EXPECT_EQ(entriesOf(*d), want);

  // Five numbers of this shard, none of them an inode yet nor handed out again.
  EXPECT_EQ(d->numbers.count, 5u);
  EXPECT_EQ(shardOfInode(d->numbers.first), 0u);
  EXPECT_GT(d->numbers.first, link->ino);
  EXPECT_ERRNO(store().getattr(d->numbers.first), ENOENT);
  EXPECT_GE(createAs(kAlice, dir, "later"), d->numbers.first + d->numbers.count);
  Result<DirDelegation> again = store().delegation(kAlice, kSession, dir, 16, 2);
  ASSERT_OK(again);
  EXPECT_GE(again->numbers.first, d->numbers.first + d->numbers.count);

  // They are the owner's: the last of them names a file of kSession, not of another session.
  const InodeId last = d->numbers.first + d->numbers.count - 1;
  EXPECT_ERRNO(makeOne(kOther, intent(kAlice, dir, "new", last)), EINVAL);
  ASSERT_OK(makeOne(kSession, intent(kAlice, dir, "new", last)));
}

TEST_F(DelegateTest, DelegationOfAnEmptyDirectoryListsNothing) {
  const InodeId dir = mkdirAs(kAlice, "empty", 0700);
  Result<DirDelegation> d = store().delegation(kAlice, kSession, dir, 4, 1);
  ASSERT_OK(d);
  EXPECT_TRUE(d->entries.empty());
  EXPECT_EQ(d->numbers.count, 1u);
}

TEST_F(DelegateTest, DelegationNeedsAnExistingDirectory) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  const InodeId file = createAs(kAlice, dir, "f");
  EXPECT_ERRNO(store().delegation(kAlice, kSession, file, 16, 1), ENOTDIR);
  EXPECT_ERRNO(store().delegation(kAlice, kSession, makeInodeId(0, 99999), 16, 1), ENOENT);
}

TEST_F(DelegateTest, DelegationNeedsReadWriteAndSearchPermission) {
  const InodeId alices = mkdirAs(kAlice, "alices", 0755);
  EXPECT_ERRNO(store().delegation(kBob, kSession, alices, 16, 1), EACCES);  // r-x for Bob
  EXPECT_OK(store().delegation(kAlice, kSession, alices, 16, 1));

  const InodeId noRead = mkdirAs(kAlice, "noread", 0333);
  EXPECT_ERRNO(store().delegation(kAlice, kSession, noRead, 16, 1), EACCES);
  const InodeId noWrite = mkdirAs(kAlice, "nowrite", 0555);
  EXPECT_ERRNO(store().delegation(kAlice, kSession, noWrite, 16, 1), EACCES);
  const InodeId noSearch = mkdirAs(kAlice, "nosearch", 0666);
  EXPECT_ERRNO(store().delegation(kAlice, kSession, noSearch, 16, 1), EACCES);

  const InodeId open = mkdirAs(kAlice, "open", 0777);
  EXPECT_OK(store().delegation(kBob, kSession, open, 16, 1));  // others' rwx is enough
}

TEST_F(DelegateTest, DelegationIsRefusedForMoreThanMaxEntriesNames) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  for (const char* name : {"a", "b", "c"}) createAs(kAlice, dir, name);
  EXPECT_ERRNO(store().delegation(kAlice, kSession, dir, 2, 1), E2BIG);
  Result<DirDelegation> d = store().delegation(kAlice, kSession, dir, 3, 1);
  ASSERT_OK(d);
  EXPECT_EQ(d->entries.size(), 3u);
  EXPECT_EQ(entriesOf(*d), listing(dir));
}

// The client asks with maxEntries 4096 (kDelegateMaxEntries), which is also the cap of
// one readdir page: a directory with more names than that is still too big, and one
// allowed is listed whole.
TEST_F(DelegateTest, DelegationOfADirectoryBiggerThanOneReaddirPage) {
  const InodeId dir = mkdirAs(kAlice, "big", 0755);
  constexpr std::uint32_t kNames = kReaddirMaxEntries + 1;
  for (std::uint32_t i = 0; i < kNames; ++i) {
    ASSERT_OK(store().create(kAlice, dir, "n" + std::to_string(i), S_IFREG | 0644, true, 0));
  }
  EXPECT_ERRNO(store().delegation(kAlice, kSession, dir, kReaddirMaxEntries, 1), E2BIG);
  // With room for them all: every name, or refused (E2BIG), never part of the listing.
  for (std::uint32_t maxEntries : {2 * kNames, UINT32_MAX}) {
    Result<DirDelegation> d = store().delegation(kAlice, kSession, dir, maxEntries, 1);
    ASSERT_TRUE(d.ok() || d.err() == E2BIG) << maxEntries << ": " << errnoName(d.err());
    if (d) {
      EXPECT_EQ(d->entries.size(), kNames) << maxEntries;
    }
  }
}

TEST_F(DelegateTest, DelegationReservesZeroToMaxReservationNumbers) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  Result<DirDelegation> none = store().delegation(kAlice, kSession, dir, 16, 0);  // numbers it has already
  ASSERT_OK(none);
  EXPECT_EQ(none->numbers.count, 0u);
  EXPECT_ERRNO(store().delegation(kAlice, kSession, dir, 16, MetaStore::kMaxReservation + 1), EINVAL);
  Result<DirDelegation> d = store().delegation(kAlice, kSession, dir, 16, MetaStore::kMaxReservation);
  ASSERT_OK(d);
  EXPECT_EQ(d->numbers.count, MetaStore::kMaxReservation);
  // An owner holds at most kMaxUnusedReserved unused (reserveInodes' EAGAIN); another session not.
  for (std::uint32_t held = MetaStore::kMaxReservation; held < MetaStore::kMaxUnusedReserved;
       held += MetaStore::kMaxReservation) {
    ASSERT_OK(store().delegation(kAlice, kSession, dir, 16, MetaStore::kMaxReservation));
  }
  EXPECT_ERRNO(store().delegation(kAlice, kSession, dir, 16, 1), EAGAIN);
  EXPECT_OK(store().delegation(kAlice, kOther, dir, 16, 1));
}

// ---- makeFiles: what is made ---------------------------------------------------------

TEST_F(DelegateTest, MakeFilesMakesEachFileAsStamped) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  const InodeRange n = reserve(kSession, 2);
  const Attr dirBefore = attrOf(dir);
  const ShardStats statsBefore = store().statfs();

  const std::int64_t stamp = dirBefore.ctimeNs + 1'000'000;
  FileIntent f1 = intent(kAlice, dir, "one", n.first, 0644, stamp);
  FileIntent f2 = intent(kAlice, dir, "two", n.first + 1, 0600, stamp + 10);
  f2.attr.atimeNs = stamp + 20;  // the client's own times stand, each on its own
  f2.attr.mtimeNs = stamp + 30;

  MadeFiles made = make(kSession, {f1, f2});
  ASSERT_EQ(made.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const FileIntent& f = i == 0 ? f1 : f2;
    ASSERT_OK(made[i]);
    EXPECT_TRUE(made[i]->made) << i;
    const Attr a = attrOf(f.attr.ino);
    EXPECT_EQ(made[i]->attr, a) << i;
    EXPECT_EQ(a.ino, f.attr.ino) << i;
    EXPECT_EQ(a.mode, f.attr.mode) << i;
    EXPECT_EQ(a.uid, kAlice.uid) << i;
    EXPECT_EQ(a.gid, kAlice.gid) << i;
    EXPECT_EQ(a.nlink, 1u) << i;
    EXPECT_EQ(a.size, 0u) << i;
    EXPECT_EQ(a.atimeNs, f.attr.atimeNs) << i;
    EXPECT_EQ(a.mtimeNs, f.attr.mtimeNs) << i;
    EXPECT_EQ(a.ctimeNs, f.attr.ctimeNs) << i;
    Result<Attr> looked = store().lookup(kAlice, dir, f.name);
    ASSERT_OK(looked);
    EXPECT_EQ(looked->ino, f.attr.ino) << i;
  }
  EXPECT_EQ(attrOf(n.first).mode, S_IFREG | 0644u);
  EXPECT_EQ(attrOf(n.first + 1).mode, S_IFREG | 0600u);
  const std::map<std::string, std::pair<InodeId, std::uint8_t>> want{{"one", {n.first, DT_REG}},
                                                                      {"two", {n.first + 1, DT_REG}}};
  EXPECT_EQ(listing(dir), want);

  // The directory's entries changed: its times move on (to the latest file's) and its
  // version grows.
  const Attr dirAfter = attrOf(dir);
  EXPECT_GT(dirAfter.mtimeNs, dirBefore.mtimeNs);
  EXPECT_GT(dirAfter.ctimeNs, dirBefore.ctimeNs);
  EXPECT_GE(dirAfter.mtimeNs, f2.attr.ctimeNs);
  EXPECT_GE(dirAfter.ctimeNs, f2.attr.ctimeNs);
  EXPECT_GT(dirAfter.version, dirBefore.version);

  const ShardStats stats = store().statfs();
  EXPECT_EQ(stats.files, statsBefore.files + 2);
  EXPECT_EQ(stats.dentries, statsBefore.dentries + 2);
  EXPECT_EQ(stats.inodes, statsBefore.inodes + 2);
  EXPECT_EQ(stats.directories, statsBefore.directories);
}

TEST_F(DelegateTest, MakeFilesTwiceMakesNothingNew) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  const InodeRange n = reserve(kSession, 2);
  const std::vector<FileIntent> batch{intent(kAlice, dir, "one", n.first), intent(kAlice, dir, "two", n.first + 1)};
  MadeFiles first = make(kSession, batch);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_OK(first[0]);
  ASSERT_OK(first[1]);
  const ShardStats stats = store().statfs();
  const Attr dirAttr = attrOf(dir);

  MadeFiles second = make(kSession, batch);  // the answer was lost: sent again
  ASSERT_EQ(second.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    ASSERT_OK(second[i]);
    EXPECT_FALSE(second[i]->made) << i;
    EXPECT_EQ(second[i]->attr, first[i]->attr) << i;
  }
  EXPECT_EQ(store().statfs(), stats);
  EXPECT_EQ(attrOf(dir), dirAttr);
  EXPECT_EQ(listing(dir).size(), 2u);
}

// A file that stands is answered as it is now, not as first made.
TEST_F(DelegateTest, MakeFilesOfAFileThatStandsAnswersItsAttributesNow) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  const FileIntent f = intent(kAlice, dir, "one", reserve(kSession, 1).first);
  ASSERT_OK(makeOne(kSession, f));
  ASSERT_OK(store().setattr(kAlice, f.attr.ino, SetAttr{.setMode = true, .mode = 0600}));
  Result<MetaStore::MadeFile> again = makeOne(kSession, f);
  ASSERT_OK(again);
  EXPECT_FALSE(again->made);
  EXPECT_EQ(again->attr.mode, S_IFREG | 0600u);
}

TEST_F(DelegateTest, ANumberNamesOneFileOnly) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  const InodeRange n = reserve(kSession, 2);
  ASSERT_OK(makeOne(kSession, intent(kAlice, dir, "one", n.first)));
  // Taken out of the reservation: not again under another name, later or in one batch.
  EXPECT_ERRNO(makeOne(kSession, intent(kAlice, dir, "other", n.first)), EINVAL);
  MadeFiles both = make(kSession, {intent(kAlice, dir, "two", n.first + 1), intent(kAlice, dir, "three", n.first + 1)});
  ASSERT_EQ(both.size(), 2u);
  EXPECT_OK(both[0]);
  EXPECT_ERRNO(both[1], EINVAL);
  EXPECT_ERRNO(store().lookup(kAlice, dir, "other"), ENOENT);
  EXPECT_ERRNO(store().lookup(kAlice, dir, "three"), ENOENT);
  EXPECT_EQ(store().statfs().files, 2u);
}

TEST_F(DelegateTest, OnlyNumbersReservedForTheOwnerAreMade) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  const InodeRange others = reserve(kOther, 1);
  const InodeRange mine = reserve(kSession, 1);
  EXPECT_ERRNO(makeOne(kSession, intent(kAlice, dir, "a", others.first)), EINVAL);     // another session's
  EXPECT_ERRNO(makeOne(kSession, intent(kAlice, dir, "b", mine.first + 1000)), EINVAL);  // never handed out
  EXPECT_ERRNO(makeOne(kSession, intent(kAlice, dir, "c", makeInodeId(1, mine.first & 0xffff))), EINVAL);  // no shard's
  const InodeId existing = createAs(kAlice, dir, "existing");
  EXPECT_ERRNO(makeOne(kSession, intent(kAlice, dir, "d", existing)), EINVAL);  // an inode already
  EXPECT_EQ(listing(dir).size(), 1u);
  // Each number by its owner.
  EXPECT_OK(makeOne(kOther, intent(kAlice, dir, "a", others.first)));
  EXPECT_OK(makeOne(kSession, intent(kAlice, dir, "b", mine.first)));
}

TEST_F(DelegateTest, OnlyFilesAndDirectoriesWithTheAttributesCreateOrMkdirWouldGiveAreMade) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  const InodeRange two = reserve(kSession, 2);
  const InodeId ino = two.first;

  // A directory asking for setuid or setgid (mkdir(2) gives neither unless inherited).
  FileIntent asDir = intent(kAlice, dir, "f", ino);
  asDir.attr.mode = S_IFDIR | 04755;
  EXPECT_ERRNO(makeOne(kSession, asDir), EINVAL);
  FileIntent fifo = intent(kAlice, dir, "f", ino);
  fifo.attr.mode = S_IFIFO | 0644;
  EXPECT_ERRNO(makeOne(kSession, fifo), EINVAL);
  FileIntent noType = intent(kAlice, dir, "f", ino);
  noType.attr.mode = 0644;
  EXPECT_ERRNO(makeOne(kSession, noType), EINVAL);

  FileIntent otherUid = intent(kAlice, dir, "f", ino);
  otherUid.attr.uid = kBob.uid;
  EXPECT_ERRNO(makeOne(kSession, otherUid), EINVAL);
  FileIntent otherGid = intent(kAlice, dir, "f", ino);
  otherGid.attr.gid = 4321;
  EXPECT_ERRNO(makeOne(kSession, otherGid), EINVAL);
  FileIntent asRoot = intent(kRoot, dir, "f", ino);  // root's create, attributes Alice's
  asRoot.attr.uid = kAlice.uid;
  asRoot.attr.gid = kAlice.gid;
  EXPECT_ERRNO(makeOne(kSession, asRoot), EINVAL);

  EXPECT_ERRNO(store().lookup(kAlice, dir, "f"), ENOENT);
  EXPECT_EQ(store().statfs().files, 0u);
  // None of those used the number up.
  Result<MetaStore::MadeFile> ok = makeOne(kSession, intent(kAlice, dir, "f", ino));
  ASSERT_OK(ok);
  EXPECT_TRUE(ok->made);
  // A directory as mkdir makes it: two links, its parent one more.
  FileIntent sub = intent(kAlice, dir, "sub", two.first + 1);
  sub.attr.mode = S_IFDIR | 0750;
  Result<MetaStore::MadeFile> made = makeOne(kSession, sub);
  ASSERT_OK(made);
  EXPECT_TRUE(made->made);
  Result<Attr> seen = store().lookup(kAlice, dir, "sub");
  ASSERT_OK(seen);
  EXPECT_EQ(seen->mode, static_cast<std::uint32_t>(S_IFDIR | 0750));
  EXPECT_EQ(seen->nlink, 2u);
  EXPECT_EQ(seen->parent, dir);
  Result<Attr> parent = store().getattr(dir);
  ASSERT_OK(parent);
  EXPECT_EQ(parent->nlink, 3u);
}

// ---- makeFiles: errors one by one ----------------------------------------------------

TEST_F(DelegateTest, EachFileFailsOnItsOwnAndTheRestOfTheBatchIsMade) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  const InodeId taken = createAs(kAlice, dir, "taken");
  const InodeId plainFile = createAs(kAlice, dir, "plain");
  const InodeRange n = reserve(kSession, 8);
  const Attr dirBefore = attrOf(dir);

  FileIntent missingParent = intent(kAlice, dir, "x", n.first + 5);
  missingParent.parent = makeInodeId(0, 99999);
  FileIntent fileParent = intent(kAlice, dir, "x", n.first + 6);
  fileParent.parent = plainFile;
  const std::vector<FileIntent> batch{
      intent(kAlice, dir, "first", n.first),
      intent(kAlice, dir, "taken", n.first + 1),               // EEXIST: names another inode
      intent(kAlice, dir, "unreserved", n.first + 100),        // EINVAL
      intent(kBob, dir, "bobs", n.first + 2),                  // EACCES: r-x for Bob
      intent(kAlice, dir, std::string(256, 'x'), n.first + 3), // ENAMETOOLONG
      missingParent,                                           // ENOENT
      fileParent,                                              // ENOTDIR
      intent(kAlice, dir, "..", n.first + 4),                  // EEXIST, as every create
      intent(kAlice, dir, "last", n.first + 7),
  };
  MadeFiles made = make(kSession, batch);
  ASSERT_EQ(made.size(), batch.size());
  ASSERT_OK(made[0]);
  EXPECT_TRUE(made[0]->made);
  EXPECT_ERRNO(made[1], EEXIST);
  EXPECT_ERRNO(made[2], EINVAL);
  EXPECT_ERRNO(made[3], EACCES);
  EXPECT_ERRNO(made[4], ENAMETOOLONG);
  EXPECT_ERRNO(made[5], ENOENT);
  EXPECT_ERRNO(made[6], ENOTDIR);
  EXPECT_ERRNO(made[7], EEXIST);
  ASSERT_OK(made[8]);
  EXPECT_TRUE(made[8]->made);

  const std::map<std::string, std::pair<InodeId, std::uint8_t>> want{{"first", {n.first, DT_REG}},
                                                                      {"last", {n.first + 7, DT_REG}},
                                                                      {"plain", {plainFile, DT_REG}},
                                                                      {"taken", {taken, DT_REG}}};
  EXPECT_EQ(listing(dir), want);
  EXPECT_EQ(attrOf(taken).nlink, 1u);
  EXPECT_GT(attrOf(dir).version, dirBefore.version);
  EXPECT_EQ(store().statfs().files, 4u);
  // The numbers of the files refused are still reserved.
  EXPECT_OK(makeOne(kSession, intent(kAlice, dir, "again", n.first + 1)));
}

TEST_F(DelegateTest, AParentWithoutSearchPermissionIsEACCES) {
  const InodeId dir = mkdirAs(kAlice, "d", 0766);  // rw- for Bob's group and others
  const InodeRange n = reserve(kSession, 1);
  EXPECT_ERRNO(makeOne(kSession, intent(kBob, dir, "f", n.first)), EACCES);
  EXPECT_TRUE(listing(dir).empty());
}

// prepareRmdir marks an empty directory for its removal: nothing is delegated or made in it.
TEST_F(DelegateTest, ADirectoryBeingRemovedIsENOENT) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  const InodeRange n = reserve(kSession, 1);
  ASSERT_OK(store().prepareRmdir(kRoot, dir, false));
  EXPECT_ERRNO(store().delegation(kAlice, kSession, dir, 16, 1), ENOENT);
  EXPECT_ERRNO(makeOne(kSession, intent(kAlice, dir, "f", n.first)), ENOENT);
  ASSERT_OK(store().prepareRmdir(kRoot, dir, true));  // the rmdir gave up
  EXPECT_OK(store().delegation(kAlice, kSession, dir, 16, 1));
  EXPECT_OK(makeOne(kSession, intent(kAlice, dir, "f", n.first)));
}

// ---- makeFiles: a setgid directory ---------------------------------------------------

class SetgidDirTest : public DelegateTest {
 protected:
  static constexpr std::uint32_t kGroup = 1234;  // Alice is not in it
  void SetUp() override {
    DelegateTest::SetUp();
    dir_ = mkdirAs(kAlice, "shared", 0755);
    Result<Attr> a =
        store().setattr(kRoot, dir_, SetAttr{.setMode = true, .mode = 02775, .setGid = true, .gid = kGroup});
    ASSERT_OK(a);
    ASSERT_EQ(a->mode, S_IFDIR | 02775u);
    ASSERT_EQ(a->gid, kGroup);
    ASSERT_FALSE(kAlice.inGroup(kGroup));
  }
  InodeId dir_ = 0;
};

TEST_F(SetgidDirTest, AFileTakesTheDirectorysGroupAndLosesSetgidWhenItsMakerIsNotInIt) {
  const InodeRange n = reserve(kSession, 2);
  const FileIntent plain = intent(kAlice, dir_, "plain", n.first, 0644);
  const FileIntent sgid = intent(kAlice, dir_, "sgid", n.first + 1, 02750);
  ASSERT_EQ(plain.attr.gid, kGroup);                  // what newInodeAttr predicts...
  ASSERT_EQ(sgid.attr.mode, S_IFREG | 0750u);         // ...setgid and group-x: the bit goes
  MadeFiles made = make(kSession, {plain, sgid});
  ASSERT_EQ(made.size(), 2u);
  ASSERT_OK(made[0]);
  ASSERT_OK(made[1]);
  EXPECT_EQ(attrOf(n.first).gid, kGroup);             // ...is what the store makes
  EXPECT_EQ(attrOf(n.first).mode, S_IFREG | 0644u);
  EXPECT_EQ(attrOf(n.first + 1).gid, kGroup);
  EXPECT_EQ(attrOf(n.first + 1).mode, S_IFREG | 0750u);
  EXPECT_EQ(attrOf(n.first + 1).uid, kAlice.uid);
}

TEST_F(SetgidDirTest, AnIntentIgnoringTheSetgidRuleIsRefused) {
  const InodeId ino = reserve(kSession, 1).first;
  FileIntent ownGroup = intent(kAlice, dir_, "f", ino);
  ownGroup.attr.gid = kAlice.gid;  // as if the directory were not setgid
  EXPECT_ERRNO(makeOne(kSession, ownGroup), EINVAL);
  FileIntent keptBit = intent(kAlice, dir_, "f", ino, 02750);
  keptBit.attr.mode = S_IFREG | 02750;  // the setgid bit Alice may not keep
  EXPECT_ERRNO(makeOne(kSession, keptBit), EINVAL);
  EXPECT_ERRNO(store().lookup(kAlice, dir_, "f"), ENOENT);
  EXPECT_OK(makeOne(kSession, intent(kAlice, dir_, "f", ino, 02750)));
}

TEST_F(SetgidDirTest, AMemberOfTheGroupKeepsTheSetgidBit) {
  const Cred member = user(1002, 1002, {kGroup});
  const InodeId ino = reserve(kSession, 1).first;
  const FileIntent f = intent(member, dir_, "m", ino, 02750);
  ASSERT_EQ(f.attr.mode, S_IFREG | 02750u);
  ASSERT_OK(makeOne(kSession, f));
  EXPECT_EQ(attrOf(ino).mode, S_IFREG | 02750u);
  EXPECT_EQ(attrOf(ino).gid, kGroup);
  EXPECT_EQ(attrOf(ino).uid, member.uid);
}

// ---- makeFiles: one name twice in a batch --------------------------------------------

TEST_F(DelegateTest, ANameTwiceInOneBatchStandsForTheSameNumberAndIsEEXISTForAnother) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  const InodeRange n = reserve(kSession, 3);
  const FileIntent a = intent(kAlice, dir, "a", n.first);
  MadeFiles made = make(kSession, {a, a, intent(kAlice, dir, "b", n.first + 1), intent(kAlice, dir, "b", n.first + 2)});
  ASSERT_EQ(made.size(), 4u);
  ASSERT_OK(made[0]);
  EXPECT_TRUE(made[0]->made);
  ASSERT_OK(made[1]);
  EXPECT_FALSE(made[1]->made);
  EXPECT_EQ(made[1]->attr, made[0]->attr);
  ASSERT_OK(made[2]);
  EXPECT_TRUE(made[2]->made);
  EXPECT_ERRNO(made[3], EEXIST);

  EXPECT_EQ(store().lookup(kAlice, dir, "a")->ino, n.first);
  EXPECT_EQ(store().lookup(kAlice, dir, "b")->ino, n.first + 1);
  EXPECT_EQ(store().statfs().files, 2u);
  EXPECT_ERRNO(store().getattr(n.first + 2), ENOENT);
  EXPECT_OK(makeOne(kSession, intent(kAlice, dir, "c", n.first + 2)));  // still reserved
}

// ---- makeFiles and a restart ---------------------------------------------------------

TEST_F(DelegateTest, MadeFilesSurviveAReopen) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  FileIntent f = intent(kAlice, dir, "kept", reserve(kSession, 1).first, 0640);
  f.attr.atimeNs += 111;
  f.attr.mtimeNs += 222;
  Result<MetaStore::MadeFile> made = makeOne(kSession, f);
  ASSERT_OK(made);
  const Attr dirAttr = attrOf(dir);
  const ShardStats stats = store().statfs();

  reopen();
  const Attr a = attrOf(f.attr.ino);
  EXPECT_EQ(a, made->attr);
  EXPECT_EQ(a.atimeNs, f.attr.atimeNs);
  EXPECT_EQ(a.mtimeNs, f.attr.mtimeNs);
  EXPECT_EQ(a.ctimeNs, f.attr.ctimeNs);
  EXPECT_EQ(a.mode, S_IFREG | 0640u);
  EXPECT_EQ(store().lookup(kAlice, dir, "kept")->ino, f.attr.ino);
  EXPECT_EQ(attrOf(dir), dirAttr);
  EXPECT_EQ(store().statfs().files, stats.files);
  EXPECT_EQ(store().statfs().dentries, stats.dentries);
  EXPECT_EQ(store().statfs().inodes, stats.inodes);
}

// Reservations live in memory: a restart drops them, but a file made before it still
// stands when its batch is sent again.
TEST_F(DelegateTest, AReopenDropsTheReservationsButNotWhatWasMade) {
  const InodeId dir = mkdirAs(kAlice, "d", 0755);
  const InodeRange n = reserve(kSession, 2);
  const FileIntent made = intent(kAlice, dir, "made", n.first);
  const FileIntent unmade = intent(kAlice, dir, "unmade", n.first + 1);
  Result<MetaStore::MadeFile> first = makeOne(kSession, made);
  ASSERT_OK(first);

  reopen();
  MadeFiles again = make(kSession, {made, unmade});
  ASSERT_EQ(again.size(), 2u);
  ASSERT_OK(again[0]);
  EXPECT_FALSE(again[0]->made);
  EXPECT_EQ(again[0]->attr, first->attr);
  EXPECT_ERRNO(again[1], EINVAL);
  EXPECT_ERRNO(store().lookup(kAlice, dir, "unmade"), ENOENT);
  EXPECT_EQ(store().statfs().files, 1u);
  // The number stays handed out: the next inode is a later one.
  EXPECT_GT(createAs(kAlice, dir, "new"), n.first + 1);
}

// ---- LeaseTable: write generations shared with a delegation --------------------------

TEST(LeaseTableWriteGenTest, AGrantTakesAGenerationHandedOutBefore) {
  using namespace std::chrono_literals;
  constexpr std::uint64_t kA = 1, kB = 2;
  constexpr InodeId kDir = 100, kFile = 200, kOtherFile = 300;
  LeaseTable table{10s};
  table.addSession(kA, LeaseTable::Clock::now());
  table.addSession(kB, LeaseTable::Clock::now());

  const std::uint64_t gen = table.grantWrite(kA, kDir);  // the delegation
  ASSERT_NE(gen, 0u);
  const std::uint64_t later = table.grantWrite(kB, 150);  // another generation since
  ASSERT_NE(later, 0u);
  ASSERT_NE(later, gen);

  EXPECT_EQ(table.grantWrite(kA, kFile, gen), gen);  // a file made under it
  EXPECT_EQ(table.writeGen(kA, kFile), gen);
  EXPECT_EQ(table.writer(kFile), kA);
  EXPECT_EQ(table.writeGen(kA, kDir), gen);
  EXPECT_EQ(table.writeGen(kB, 150), later);

  // Nobody else's, and nothing for an inode without a write lease.
  EXPECT_EQ(table.writeGen(kB, kFile), 0u);
  EXPECT_EQ(table.writeGen(kA, kOtherFile), 0u);
  EXPECT_EQ(table.writeGen(kA, 150), 0u);
  EXPECT_EQ(table.grantWrite(kB, kFile, gen), 0u);  // A holds it

  // Released under that generation, it goes; the delegation's own lease stays.
  const LeaseTable::WriteGrant fileGrant{kFile, gen};
  table.releaseWrites(kA, std::span<const LeaseTable::WriteGrant>(&fileGrant, 1));
  EXPECT_EQ(table.writeGen(kA, kFile), 0u);
  EXPECT_EQ(table.writer(kFile), 0u);
  EXPECT_EQ(table.writeGen(kA, kDir), gen);
}

TEST(LeaseTableWriteGenTest, AGenerationNeverHandedOutGetsAFreshOne) {
  using namespace std::chrono_literals;
  constexpr std::uint64_t kA = 1;
  LeaseTable table{10s};
  table.addSession(kA, LeaseTable::Clock::now());
  const std::uint64_t gen = table.grantWrite(kA, 100);
  ASSERT_NE(gen, 0u);

  const std::uint64_t beyond = gen + 1000;
  const std::uint64_t fresh = table.grantWrite(kA, 200, beyond);
  EXPECT_NE(fresh, 0u);
  EXPECT_NE(fresh, beyond);
  EXPECT_NE(fresh, gen);
  EXPECT_EQ(table.writeGen(kA, 200), fresh);
  // Fresh generations stay unique: the next grant's is yet another.
  const std::uint64_t next = table.grantWrite(kA, 300);
  EXPECT_NE(next, 0u);
  EXPECT_NE(next, fresh);
  EXPECT_NE(next, gen);

  // A release naming another generation leaves the lease alone; its own releases it.
  const LeaseTable::WriteGrant wrong{200, gen};
  table.releaseWrites(kA, std::span<const LeaseTable::WriteGrant>(&wrong, 1));
  EXPECT_EQ(table.writeGen(kA, 200), fresh);
  const LeaseTable::WriteGrant right{200, fresh};
  table.releaseWrites(kA, std::span<const LeaseTable::WriteGrant>(&right, 1));
  EXPECT_EQ(table.writeGen(kA, 200), 0u);
}

}  // namespace
}  // namespace myfs::server
