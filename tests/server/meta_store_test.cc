// MetaStore: every operation and every errno of schema/meta.capnp, on real RocksDB stores.
#include "server/meta/meta_store.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <set>

#include "tests/server/store_test_util.h"
#include "tests/server/temp_dir.h"

namespace myfs::server {
namespace {

using testing::TempDir;

using testing::kAlice;
using testing::kBob;
using testing::kRoot;
using testing::user;

class MetaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { open(0, 1); }

  void open(std::uint32_t shard, std::uint32_t shards, std::uint32_t chunkSize = kDefaultChunkSize) {
    store_.reset();
    MetaStoreOptions o;
    o.dir = tmp_.sub("shard" + std::to_string(shard));
    o.shardIndex = shard;
    o.shardCount = shards;
    o.chunkSize = chunkSize;
    std::string error;
    store_ = MetaStore::open(o, &error);
    ASSERT_TRUE(store_) << error;
  }

  MetaStore& s() { return *store_; }

  // A directory under root owned by `owner` with `mode`.
  InodeId dirOf(const Cred& owner, const std::string& name, std::uint32_t mode = 0755) {
    Result<Attr> d = s().mkdir(kRoot, kRootIno, name, mode);
    EXPECT_TRUE(d.ok());
    SetAttr r;
    r.setUid = r.setGid = true;
    r.uid = owner.uid;
    r.gid = owner.gid;
    EXPECT_TRUE(s().setattr(kRoot, d->ino, r).ok());
    return d->ino;
  }

  InodeId file(const Cred& c, InodeId parent, const std::string& name, std::uint32_t mode = 0644) {
    Result<CreateResult> r = s().create(c, parent, name, S_IFREG | mode, true, 0);
    EXPECT_TRUE(r.ok()) << name << ": " << errnoName(r.err());
    return r.ok() ? r->attr.ino : 0;
  }

  std::set<std::string> names(InodeId dir) {
    std::set<std::string> out;
    std::string cookie;
    for (;;) {
      Result<DirPage> p = s().readdir(kRoot, dir, cookie, 0);
      EXPECT_TRUE(p.ok());
      if (!p.ok()) break;
      for (const DirEntry& e : p->entries) out.insert(e.name);
      cookie = p->nextCookie;
      if (p->eof) break;
    }
    return out;
  }

  TempDir tmp_;
  std::unique_ptr<MetaStore> store_;
};

// ---- format, reopen

TEST_F(MetaStoreTest, FormatMakesRootDirectory) {
  Result<Attr> root = s().getattr(kRootIno);
  ASSERT_OK(root);
  EXPECT_EQ(root->mode, static_cast<std::uint32_t>(S_IFDIR | 0755));
  EXPECT_EQ(root->nlink, 2u);
  EXPECT_EQ(root->parent, kRootIno);
  EXPECT_EQ(root->uid, 0u);
  EXPECT_GT(root->ctimeNs, 0);
  MountInfo m = s().mountInfo();
  EXPECT_EQ(m.chunkSize, kDefaultChunkSize);
  EXPECT_EQ(m.shardIndex, 0u);
  EXPECT_EQ(m.shardCount, 1u);
  EXPECT_EQ(m.rootIno, kRootIno);
  ShardStats st = s().statfs();
  EXPECT_EQ(st.inodes, 1u);
  EXPECT_EQ(st.directories, 1u);
  EXPECT_EQ(st.dentries, 0u);
}

TEST_F(MetaStoreTest, RootOwnerComesFromOptions) {
  store_.reset();
  MetaStoreOptions o;
  o.dir = tmp_.sub("owned");
  o.rootUid = 1234;
  o.rootGid = 567;
  std::string error;
  auto st = MetaStore::open(o, &error);
  ASSERT_TRUE(st) << error;
  EXPECT_EQ(st->getattr(kRootIno)->uid, 1234u);
  EXPECT_EQ(st->getattr(kRootIno)->gid, 567u);
}

TEST_F(MetaStoreTest, StatePersistsAcrossReopen) {
  Result<Attr> d = s().mkdir(kRoot, kRootIno, "d", 0755);
  ASSERT_OK(d);
  InodeId f = file(kRoot, d->ino, "f");
  ASSERT_OK(s().symlink(kRoot, kRootIno, "l", "d/f"));
  SetAttr grow;
  grow.setSize = true;
  grow.size = 4096;
  ASSERT_OK(s().setattr(kRoot, f, grow));
  ShardStats before = s().statfs();

  open(0, 1, 1u << 16);  // a different chunk size: the stored one wins
  EXPECT_EQ(s().mountInfo().chunkSize, kDefaultChunkSize);
  Result<Attr> d2 = s().lookup(kRoot, kRootIno, "d");
  ASSERT_OK(d2);
  EXPECT_EQ(d2->ino, d->ino);
  EXPECT_EQ(d2->nlink, 2u);
  Result<Attr> f2 = s().lookup(kRoot, d->ino, "f");
  ASSERT_OK(f2);
  EXPECT_EQ(f2->size, 4096u);
  EXPECT_EQ(*s().readlink(s().lookup(kRoot, kRootIno, "l")->ino), "d/f");
  ShardStats after = s().statfs();
  EXPECT_EQ(after.inodes, before.inodes);
  EXPECT_EQ(after.dentries, before.dentries);
  EXPECT_EQ(after.bytes, 4096u);
  // The inode counter survived: new inodes do not reuse numbers.
  InodeId g = file(kRoot, kRootIno, "g");
  EXPECT_GT(g, f);
  // Also across the blocks numbers are reserved in, with restarts in between.
  InodeId last = g;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 700; ++i) {
      InodeId n = file(kRoot, d->ino, "r" + std::to_string(round) + "_" + std::to_string(i));
      ASSERT_GT(n, last);
      last = n;
    }
    open(0, 1, 1u << 16);
  }
  EXPECT_GT(file(kRoot, kRootIno, "h"), last);
}

// The counters live in memory while the store is open; a store that was not closed (its
// files copied while open, as a kill -9 leaves them) is recounted to the same figures.
TEST_F(MetaStoreTest, CountersAreExactAfterAStopWithoutClose) {
  Result<Attr> d = s().mkdir(kRoot, kRootIno, "d", 0755);
  ASSERT_OK(d);
  for (int i = 0; i < 20; ++i) file(kRoot, d->ino, "f" + std::to_string(i));
  SetAttr grow;
  grow.setSize = true;
  grow.size = 12345;
  ASSERT_OK(s().setattr(kRoot, s().lookup(kRoot, d->ino, "f3")->ino, grow));
  ASSERT_OK(s().symlink(kRoot, kRootIno, "l", "d/f"));
  ASSERT_OK(s().unlink(kRoot, d->ino, "f7", false));
  ASSERT_OK(s().makeInode(kRoot, kRootIno, S_IFREG | 0644, ""));  // pending: counted too
  const ShardStats counted = s().statfs();
  EXPECT_EQ(counted.inodes, 1u + 1u + 19u + 1u + 1u);
  EXPECT_EQ(counted.dentries, 1u + 19u + 1u);
  EXPECT_EQ(counted.bytes, 12345u);

  const std::string copy = tmp_.sub("copy");
  ASSERT_EQ(0, std::system(("cp -r " + tmp_.sub("shard0") + " " + copy).c_str()));
  MetaStoreOptions o;
  o.dir = copy;
  std::string error;
  std::unique_ptr<MetaStore> recovered = MetaStore::open(o, &error);
  ASSERT_TRUE(recovered) << error;
  const ShardStats again = recovered->statfs();
  EXPECT_EQ(again.inodes, counted.inodes);
  EXPECT_EQ(again.dentries, counted.dentries);
  EXPECT_EQ(again.directories, counted.directories);
  EXPECT_EQ(again.files, counted.files);
  EXPECT_EQ(again.bytes, counted.bytes);
  recovered.reset();

  file(kRoot, kRootIno, "after");  // and a clean close keeps what came after
  open(0, 1);
  EXPECT_EQ(s().statfs().inodes, counted.inodes + 1);
  EXPECT_EQ(s().statfs().files, counted.files + 1);
}

// The writer of KilledServerLosesNothingAcknowledged, run in a fresh process of this test
// binary (RocksDB's thread pools do not survive a fork): with memtables of 64 KiB (a new
// WAL file every ~280 operations), makes kKilledFiles files in "d", removes every tenth,
// then kills itself with SIGKILL right after the last acknowledgement.
constexpr int kKilledFiles = 3000;
constexpr const char* kKilledDirEnv = "MYFS_TEST_KILLED_STORE";

TEST(MetaStoreKilledWriter, Run) {
  const char* dir = getenv(kKilledDirEnv);
  if (dir == nullptr) GTEST_SKIP() << "run by MetaStoreTest.KilledServerLosesNothingAcknowledged";
  MetaStoreOptions o;
  o.dir = dir;
  o.memtableBytes = 64 << 10;
  std::string error;
  std::unique_ptr<MetaStore> store = MetaStore::open(o, &error);
  ASSERT_TRUE(store) << error;
  Result<Attr> d = store->mkdir(kRoot, kRootIno, "d", 0755);
  ASSERT_OK(d);
  for (int i = 0; i < kKilledFiles; ++i) {
    ASSERT_OK(store->create(kRoot, d->ino, "f" + std::to_string(i), S_IFREG | 0644, true, 0));
  }
  for (int i = 0; i < kKilledFiles; i += 10) ASSERT_OK(store->unlink(kRoot, d->ino, "f" + std::to_string(i), false));
  raise(SIGKILL);
}

// A server killed with SIGKILL keeps every acknowledged change, across WAL files switched
// while it ran: the WAL is written through a shared mapping grown ahead in zeroed regions
// (mapped_wal.h), so the killed process leaves WAL files with zero tails behind.
TEST_F(MetaStoreTest, KilledServerLosesNothingAcknowledged) {
  const std::string dir = tmp_.sub("killed");
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  self[n] = '\0';
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setenv(kKilledDirEnv, dir.c_str(), 1);
    execl(self, self, "--gtest_filter=MetaStoreKilledWriter.Run", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "writer status " << status;

  MetaStoreOptions o;
  o.dir = dir;
  std::string error;
  std::unique_ptr<MetaStore> store = MetaStore::open(o, &error);
  ASSERT_TRUE(store) << error;
  Result<Attr> d = store->lookup(kRoot, kRootIno, "d");
  ASSERT_OK(d);
  int present = 0;
  for (int i = 0; i < kKilledFiles; ++i) {
    Result<Attr> f = store->lookup(kRoot, d->ino, "f" + std::to_string(i));
    if (i % 10 == 0) {
      EXPECT_ERRNO(f, ENOENT);
    } else {
      EXPECT_OK(f);
      present += f.ok();
    }
  }
  EXPECT_EQ(present, kKilledFiles - kKilledFiles / 10);
  const ShardStats st = store->statfs();
  EXPECT_EQ(st.inodes, 2u + static_cast<unsigned>(present));
  EXPECT_EQ(st.dentries, 1u + static_cast<unsigned>(present));
  // New numbers do not collide with those handed out before the kill.
  Result<CreateResult> again = store->create(kRoot, d->ino, "after", S_IFREG | 0644, true, 0);
  ASSERT_OK(again);
  EXPECT_GT(again->attr.ino, store->lookup(kRoot, d->ino, "f" + std::to_string(kKilledFiles - 1))->ino);
}

TEST_F(MetaStoreTest, ReopenRefusesOtherShardLayout) {
  store_.reset();
  MetaStoreOptions o;
  o.dir = tmp_.sub("shard0");
  o.shardIndex = 1;
  o.shardCount = 2;
  std::string error;
  EXPECT_FALSE(MetaStore::open(o, &error));
  EXPECT_NE(error.find("belongs to shard 0 of 1"), std::string::npos) << error;
}

TEST_F(MetaStoreTest, FormatRejectsBadChunkSizeAndShard) {
  MetaStoreOptions o;
  o.dir = tmp_.sub("bad");
  o.chunkSize = 3u << 16;
  std::string error;
  EXPECT_FALSE(MetaStore::open(o, &error));
  EXPECT_NE(error.find("power of two"), std::string::npos) << error;
  o.chunkSize = 1u << 16;
  o.shardIndex = 2;
  o.shardCount = 2;
  EXPECT_FALSE(MetaStore::open(o, &error));
}

// ---- lookup, getattr

TEST_F(MetaStoreTest, LookupErrors) {
  InodeId f = file(kRoot, kRootIno, "f");
  EXPECT_ERRNO(s().lookup(kRoot, kRootIno, "missing"), ENOENT);
  EXPECT_ERRNO(s().lookup(kRoot, kRootIno, ""), ENOENT);
  EXPECT_ERRNO(s().lookup(kRoot, f, "x"), ENOTDIR);
  EXPECT_ERRNO(s().lookup(kRoot, 999999, "x"), ENOENT);
  EXPECT_ERRNO(s().lookup(kRoot, kRootIno, std::string(256, 'a')), ENAMETOOLONG);
  EXPECT_ERRNO(s().lookup(kRoot, kRootIno, "a/b"), EINVAL);
  InodeId noSearch = dirOf(kAlice, "nosearch", 0666);
  file(kRoot, noSearch, "inside");
  EXPECT_ERRNO(s().lookup(kBob, noSearch, "inside"), EACCES);
  EXPECT_ERRNO(s().lookup(kAlice, noSearch, "inside"), EACCES);
  ASSERT_OK(s().lookup(kRoot, noSearch, "inside"));  // root may search anything
}

TEST_F(MetaStoreTest, LookupDotAndDotDot) {
  Result<Attr> d = s().mkdir(kRoot, kRootIno, "d", 0755);
  ASSERT_OK(d);
  EXPECT_EQ(s().lookup(kRoot, d->ino, ".")->ino, d->ino);
  EXPECT_EQ(s().lookup(kRoot, d->ino, "..")->ino, kRootIno);
  EXPECT_EQ(s().lookup(kRoot, kRootIno, "..")->ino, kRootIno);
  EXPECT_ERRNO(s().getattr(d->ino + 1000), ENOENT);
  EXPECT_ERRNO(s().getattr(0), ENOENT);
}

// ---- create, mkdir, symlink

TEST_F(MetaStoreTest, CreateMakesFileAndTouchesParent) {
  Attr root = *s().getattr(kRootIno);
  InodeId dir = dirOf(kAlice, "home");
  Attr before = *s().getattr(dir);
  Result<CreateResult> r = s().create(kAlice, dir, "f", S_IFREG | 0640, true, 0);
  ASSERT_OK(r);
  EXPECT_TRUE(r->created);
  EXPECT_EQ(r->attr.mode, static_cast<std::uint32_t>(S_IFREG | 0640));
  EXPECT_EQ(r->attr.nlink, 1u);
  EXPECT_EQ(r->attr.uid, 1000u);
  EXPECT_EQ(r->attr.gid, 1000u);
  EXPECT_EQ(r->attr.size, 0u);
  EXPECT_EQ(r->attr.version, 1u);
  EXPECT_EQ(shardOfInode(r->attr.ino), 0u);
  Attr after = *s().getattr(dir);
  EXPECT_GT(after.version, before.version);
  EXPECT_GE(after.mtimeNs, before.mtimeNs);
  EXPECT_EQ(after.mtimeNs, after.ctimeNs);
  EXPECT_EQ(after.nlink, 2u);  // files do not count
  EXPECT_EQ(s().lookup(kAlice, dir, "f")->ino, r->attr.ino);
  EXPECT_GT(s().getattr(kRootIno)->version, root.version);

  // Mode type 0 means a regular file.
  Result<CreateResult> plain = s().create(kAlice, dir, "plain", 0600, true, 0);
  ASSERT_OK(plain);
  EXPECT_EQ(plain->attr.mode, static_cast<std::uint32_t>(S_IFREG | 0600));
}

TEST_F(MetaStoreTest, CreateExistingAndErrors) {
  InodeId dir = dirOf(kAlice, "home");
  InodeId f = file(kAlice, dir, "f");
  ASSERT_OK(s().mkdir(kAlice, dir, "sub", 0755));

  EXPECT_ERRNO(s().create(kAlice, dir, "f", S_IFREG | 0644, true, 0), EEXIST);
  Result<CreateResult> again = s().create(kAlice, dir, "f", S_IFREG | 0644, false, 0);
  ASSERT_OK(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->attr.ino, f);
  EXPECT_ERRNO(s().create(kAlice, dir, "sub", S_IFREG | 0644, false, 0), EISDIR);
  EXPECT_ERRNO(s().create(kAlice, dir, "sub", S_IFREG | 0644, true, 0), EEXIST);
  EXPECT_ERRNO(s().create(kAlice, dir, ".", S_IFREG | 0644, true, 0), EEXIST);
  EXPECT_ERRNO(s().create(kAlice, dir, ".", S_IFREG | 0644, false, 0), EISDIR);
  EXPECT_ERRNO(s().create(kAlice, dir, "..", S_IFREG | 0644, false, 0), EISDIR);
  EXPECT_ERRNO(s().create(kAlice, dir, "", S_IFREG | 0644, true, 0), ENOENT);
  EXPECT_ERRNO(s().create(kAlice, dir, std::string(256, 'x'), S_IFREG | 0644, true, 0), ENAMETOOLONG);
  ASSERT_OK(s().create(kAlice, dir, std::string(255, 'x'), S_IFREG | 0644, true, 0));
  EXPECT_ERRNO(s().create(kAlice, f, "x", S_IFREG | 0644, true, 0), ENOTDIR);
  EXPECT_ERRNO(s().create(kAlice, 424242, "x", S_IFREG | 0644, true, 0), ENOENT);
  // No write permission on the parent: EACCES for a new name, but an existing name opens.
  EXPECT_ERRNO(s().create(kBob, dir, "bobs", S_IFREG | 0644, true, 0), EACCES);
  Result<CreateResult> existing = s().create(kBob, dir, "f", S_IFREG | 0644, false, 0);
  ASSERT_OK(existing);
  EXPECT_FALSE(existing->created);
  // Types: a directory is EPERM (mknod), a symlink type EINVAL, devices need root.
  EXPECT_ERRNO(s().create(kAlice, dir, "d", S_IFDIR | 0755, true, 0), EPERM);
  EXPECT_ERRNO(s().create(kAlice, dir, "l", S_IFLNK | 0777, true, 0), EINVAL);
  EXPECT_ERRNO(s().create(kAlice, dir, "dev", S_IFCHR | 0600, true, 0x0103), EPERM);
  Result<CreateResult> dev = s().create(kRoot, dir, "dev", S_IFCHR | 0600, true, 0x0103);
  ASSERT_OK(dev);
  EXPECT_EQ(dev->attr.rdev, 0x0103u);
  Result<CreateResult> fifo = s().create(kAlice, dir, "fifo", S_IFIFO | 0600, true, 0);
  ASSERT_OK(fifo);
  EXPECT_TRUE(S_ISFIFO(fifo->attr.mode));
  EXPECT_EQ(fifo->attr.rdev, 0u);
}

TEST_F(MetaStoreTest, SetgidDirectoryPassesGroupOn) {
  InodeId shared = dirOf(kAlice, "shared", 0777);
  SetAttr r;
  r.setMode = true;
  r.mode = 02777;
  r.setGid = true;
  r.gid = 50;
  ASSERT_OK(s().setattr(kRoot, shared, r));
  Result<CreateResult> f = s().create(kBob, shared, "f", S_IFREG | 02755, true, 0);
  ASSERT_OK(f);
  EXPECT_EQ(f->attr.gid, 50u);
  EXPECT_EQ(f->attr.uid, 1001u);
  EXPECT_FALSE(f->attr.mode & S_ISGID);  // bob is not in group 50: stripped
  Result<CreateResult> member = s().create(user(1001, 1001, {50}), shared, "g", S_IFREG | 02755, true, 0);
  ASSERT_OK(member);
  EXPECT_TRUE(member->attr.mode & S_ISGID);
  Result<Attr> sub = s().mkdir(kBob, shared, "sub", 0755);
  ASSERT_OK(sub);
  EXPECT_EQ(sub->gid, 50u);
  EXPECT_TRUE(sub->mode & S_ISGID);
  // Without setgid on the parent, the creator's gid.
  Result<CreateResult> plain = s().create(kBob, dirOf(kBob, "bobs"), "p", S_IFREG | 0644, true, 0);
  ASSERT_OK(plain);
  EXPECT_EQ(plain->attr.gid, 1001u);
}

TEST_F(MetaStoreTest, MkdirCountsLinks) {
  Result<Attr> a = s().mkdir(kRoot, kRootIno, "a", 0755);
  ASSERT_OK(a);
  EXPECT_EQ(a->nlink, 2u);
  EXPECT_EQ(a->parent, kRootIno);
  EXPECT_EQ(s().getattr(kRootIno)->nlink, 3u);
  Result<Attr> b = s().mkdir(kRoot, a->ino, "b", 07777);
  ASSERT_OK(b);
  EXPECT_EQ(b->mode, static_cast<std::uint32_t>(S_IFDIR | 01777));  // setuid/setgid not taken from mode
  EXPECT_EQ(s().getattr(a->ino)->nlink, 3u);
  EXPECT_EQ(s().getattr(kRootIno)->nlink, 3u);
  EXPECT_EQ(s().lookup(kRoot, b->ino, "..")->ino, a->ino);
}

TEST_F(MetaStoreTest, MkdirErrors) {
  InodeId dir = dirOf(kAlice, "home");
  InodeId f = file(kAlice, dir, "f");
  ASSERT_OK(s().mkdir(kAlice, dir, "d", 0755));
  EXPECT_ERRNO(s().mkdir(kAlice, dir, "d", 0755), EEXIST);
  EXPECT_ERRNO(s().mkdir(kAlice, dir, "f", 0755), EEXIST);
  EXPECT_ERRNO(s().mkdir(kAlice, dir, ".", 0755), EEXIST);
  EXPECT_ERRNO(s().mkdir(kAlice, dir, "..", 0755), EEXIST);
  EXPECT_ERRNO(s().mkdir(kAlice, dir, "", 0755), ENOENT);
  EXPECT_ERRNO(s().mkdir(kAlice, f, "x", 0755), ENOTDIR);
  EXPECT_ERRNO(s().mkdir(kAlice, 77777, "x", 0755), ENOENT);
  EXPECT_ERRNO(s().mkdir(kBob, dir, "x", 0755), EACCES);
  EXPECT_ERRNO(s().mkdir(kAlice, dir, std::string(300, 'n'), 0755), ENAMETOOLONG);
}

TEST_F(MetaStoreTest, SymlinkAndReadlink) {
  Result<Attr> l = s().symlink(kAlice, dirOf(kAlice, "home"), "l", "../target/path");
  ASSERT_OK(l);
  EXPECT_EQ(l->mode, static_cast<std::uint32_t>(S_IFLNK | 0777));
  EXPECT_EQ(l->size, 14u);
  EXPECT_EQ(l->nlink, 1u);
  Result<std::string> t = s().readlink(l->ino);
  ASSERT_OK(t);
  EXPECT_EQ(*t, "../target/path");
  EXPECT_ERRNO(s().readlink(kRootIno), EINVAL);
  EXPECT_ERRNO(s().readlink(l->ino + 100), ENOENT);
  EXPECT_ERRNO(s().symlink(kRoot, kRootIno, "e", ""), ENOENT);
  EXPECT_ERRNO(s().symlink(kRoot, kRootIno, "e", std::string(4096, 'p')), ENAMETOOLONG);
  ASSERT_OK(s().symlink(kRoot, kRootIno, "long", std::string(4095, 'p')));
  EXPECT_ERRNO(s().symlink(kRoot, kRootIno, "long", "x"), EEXIST);
  EXPECT_ERRNO(s().symlink(kRoot, kRootIno, "..", "x"), EEXIST);
  EXPECT_ERRNO(s().symlink(kBob, kRootIno, "b", "x"), EACCES);
  EXPECT_ERRNO(s().symlink(kRoot, l->ino, "b", "x"), ENOTDIR);
}

// ---- readdir

TEST_F(MetaStoreTest, ReaddirPagesEveryEntryExactlyOnce) {
  InodeId dir = dirOf(kRoot, "big");
  std::set<std::string> expected;
  for (int i = 0; i < 1000; ++i) {
    std::string name = "entry-" + std::to_string(i);
    if (i % 10 == 0) {
      ASSERT_OK(s().mkdir(kRoot, dir, name, 0755));
    } else {
      file(kRoot, dir, name);
    }
    expected.insert(name);
  }
  std::multiset<std::string> seen;
  std::string cookie;
  int pages = 0;
  for (;;) {
    Result<DirPage> p = s().readdir(kRoot, dir, cookie, 100);
    ASSERT_OK(p);
    ++pages;
    ASSERT_LE(p->entries.size(), 100u);
    for (const DirEntry& e : p->entries) {
      seen.insert(e.name);
      EXPECT_EQ(e.type, e.name.ends_with("0") ? DT_DIR : DT_REG) << e.name;
      EXPECT_EQ(s().lookup(kRoot, dir, e.name)->ino, e.ino);
    }
    cookie = p->nextCookie;
    if (p->eof) break;
    ASSERT_LT(pages, 20);
  }
  EXPECT_EQ(pages, 10);
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), expected);
}

TEST_F(MetaStoreTest, ReaddirSurvivesChangesBetweenPages) {
  InodeId dir = dirOf(kRoot, "d");
  for (int i = 0; i < 50; ++i) file(kRoot, dir, "f" + std::to_string(i));
  Result<DirPage> first = s().readdir(kRoot, dir, "", 20);
  ASSERT_OK(first);
  ASSERT_FALSE(first->eof);
  std::set<std::string> seen;
  for (const DirEntry& e : first->entries) seen.insert(e.name);
  // Remove one already returned and one not yet returned; add nothing.
  ASSERT_OK(s().unlink(kRoot, dir, first->entries[0].name, false));
  std::string notYet;
  for (int i = 0; i < 50 && notYet.empty(); ++i) {
    if (!seen.count("f" + std::to_string(i))) notYet = "f" + std::to_string(i);
  }
  ASSERT_OK(s().unlink(kRoot, dir, notYet, false));
  std::string cookie = first->nextCookie;
  for (;;) {
    Result<DirPage> p = s().readdir(kRoot, dir, cookie, 20);
    ASSERT_OK(p);
    for (const DirEntry& e : p->entries) EXPECT_TRUE(seen.insert(e.name).second) << "repeated " << e.name;
    cookie = p->nextCookie;
    if (p->eof) break;
  }
  EXPECT_EQ(seen.size(), 49u);
  EXPECT_FALSE(seen.count(notYet));
}

TEST_F(MetaStoreTest, ReaddirErrorsAndEmpty) {
  InodeId dir = dirOf(kAlice, "private", 0300);
  Result<DirPage> empty = s().readdir(kRoot, dir, "", 10);
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->entries.empty());
  EXPECT_TRUE(empty->eof);
  EXPECT_ERRNO(s().readdir(kAlice, dir, "", 10), EACCES);  // no read bit, even for the owner
  EXPECT_ERRNO(s().readdir(kRoot, file(kRoot, kRootIno, "f"), "", 10), ENOTDIR);
  EXPECT_ERRNO(s().readdir(kRoot, 31337, "", 10), ENOENT);
  EXPECT_ERRNO(s().readdir(kRoot, dir, "ab", 10), EINVAL);
}

// ---- unlink, rmdir

TEST_F(MetaStoreTest, UnlinkLastLinkFreesInode) {
  InodeId f = file(kRoot, kRootIno, "f");
  SetAttr sz;
  sz.setSize = true;
  sz.size = 12345;
  ASSERT_OK(s().setattr(kRoot, f, sz));
  std::uint64_t rootVersion = s().getattr(kRootIno)->version;
  Result<UnlinkResult> u = s().unlink(kRoot, kRootIno, "f", false);
  ASSERT_OK(u);
  EXPECT_EQ(u->ino, f);
  EXPECT_FALSE(u->remoteInode);
  EXPECT_TRUE(u->lastLink);
  EXPECT_EQ(u->size, 12345u);
  EXPECT_ERRNO(s().getattr(f), ENOENT);
  EXPECT_ERRNO(s().lookup(kRoot, kRootIno, "f"), ENOENT);
  EXPECT_GT(s().getattr(kRootIno)->version, rootVersion);
  EXPECT_EQ(s().statfs().inodes, 1u);
  EXPECT_EQ(s().statfs().bytes, 0u);
}

TEST_F(MetaStoreTest, AnInodeHeldOpenElsewhereOutlivesItsLastLinkUntilReleased) {
  InodeId f = file(kRoot, kRootIno, "f");
  InodeId g = file(kRoot, kRootIno, "g");
  ASSERT_OK(s().linkCount(g, +1, 0));  // g has two links
  std::set<InodeId> held{f, g};
  s().setHeldOpen([&held](InodeId ino) { return held.count(ino) != 0; });
  Result<UnlinkResult> u = s().unlink(kRoot, kRootIno, "f", false);
  ASSERT_OK(u);
  EXPECT_FALSE(u->lastLink);  // the holder's data must stay
  ASSERT_OK(s().getattr(f));
  EXPECT_EQ(s().getattr(f)->nlink, 0u);
  EXPECT_ERRNO(s().lookup(kRoot, kRootIno, "f"), ENOENT);
  // The last link through linkCount: kept too, and not reported freed.
  ASSERT_OK(s().unlink(kRoot, kRootIno, "g", false));
  Result<LinkCountResult> lc = s().linkCount(g, -1, 0);
  ASSERT_OK(lc);
  EXPECT_EQ(lc->nlink, 0u);
  EXPECT_FALSE(lc->freed);
  // Released while still held elsewhere: nothing happens to a linked inode.
  InodeId h = file(kRoot, kRootIno, "h");
  EXPECT_FALSE(s().releaseOrphan(h)->freed);
  ASSERT_OK(s().getattr(h));
  // The last holder lets go: freed, with the size that tells whether data exists.
  held.clear();
  Result<LinkCountResult> r = s().releaseOrphan(f);
  ASSERT_OK(r);
  EXPECT_TRUE(r->freed);
  EXPECT_ERRNO(s().getattr(f), ENOENT);
  EXPECT_TRUE(s().releaseOrphan(g)->freed);
  EXPECT_ERRNO(s().releaseOrphan(g), ENOENT);
  s().setHeldOpen(nullptr);
}

TEST_F(MetaStoreTest, UnlinkAndRmdirErrors) {
  InodeId dir = dirOf(kAlice, "home");
  file(kAlice, dir, "f");
  Result<Attr> sub = s().mkdir(kAlice, dir, "sub", 0755);
  ASSERT_OK(sub);
  file(kAlice, sub->ino, "inner");
  EXPECT_ERRNO(s().unlink(kAlice, dir, "missing", false), ENOENT);
  EXPECT_ERRNO(s().unlink(kAlice, dir, "", false), ENOENT);
  EXPECT_ERRNO(s().unlink(kAlice, dir, "sub", false), EISDIR);
  EXPECT_ERRNO(s().unlink(kAlice, dir, "f", true), ENOTDIR);
  EXPECT_ERRNO(s().unlink(kAlice, dir, "sub", true), ENOTEMPTY);
  EXPECT_ERRNO(s().unlink(kAlice, dir, ".", false), EISDIR);
  EXPECT_ERRNO(s().unlink(kAlice, dir, "..", false), EISDIR);
  EXPECT_ERRNO(s().unlink(kAlice, dir, ".", true), EINVAL);
  EXPECT_ERRNO(s().unlink(kAlice, dir, "..", true), ENOTEMPTY);
  EXPECT_ERRNO(s().unlink(kBob, dir, "f", false), EACCES);
  EXPECT_ERRNO(s().unlink(kAlice, sub->ino + 5000, "f", false), ENOENT);
  EXPECT_ERRNO(s().unlink(kAlice, dir, std::string(256, 'q'), false), ENAMETOOLONG);
  // rmdir succeeds once empty, and the parent loses the subdirectory's link.
  EXPECT_EQ(s().getattr(dir)->nlink, 3u);
  ASSERT_OK(s().unlink(kAlice, sub->ino, "inner", false));
  Result<UnlinkResult> r = s().unlink(kAlice, dir, "sub", true);
  ASSERT_OK(r);
  EXPECT_TRUE(r->lastLink);
  EXPECT_EQ(s().getattr(dir)->nlink, 2u);
  EXPECT_ERRNO(s().getattr(sub->ino), ENOENT);
}

TEST_F(MetaStoreTest, StickyDirectoryRule) {
  InodeId tmp = dirOf(kRoot, "tmp", 01777);
  file(kAlice, tmp, "alices");
  file(kAlice, tmp, "alices2");
  file(kBob, tmp, "bobs");
  EXPECT_ERRNO(s().unlink(kBob, tmp, "alices", false), EPERM);
  EXPECT_ERRNO(s().rename(kBob, tmp, "alices", tmp, "stolen", 0), EPERM);
  EXPECT_ERRNO(s().rename(kBob, tmp, "bobs", tmp, "alices", 0), EPERM);  // may not replace hers
  ASSERT_OK(s().unlink(kBob, tmp, "bobs", false));
  ASSERT_OK(s().unlink(kAlice, tmp, "alices", false));
  // The directory's owner (here root) may remove anything; so may a directory owner.
  InodeId own = dirOf(kAlice, "own", 01777);
  file(kBob, own, "b");
  ASSERT_OK(s().unlink(kAlice, own, "b", false));
  ASSERT_OK(s().unlink(kRoot, tmp, "alices2", false));
}

// ---- rename

TEST_F(MetaStoreTest, RenameWithinAndAcrossDirectories) {
  Result<Attr> a = s().mkdir(kRoot, kRootIno, "a", 0755);
  Result<Attr> b = s().mkdir(kRoot, kRootIno, "b", 0755);
  ASSERT_OK(a);
  ASSERT_OK(b);
  InodeId f = file(kRoot, a->ino, "f");
  Result<RenameResult> r = s().rename(kRoot, a->ino, "f", a->ino, "g", 0);
  ASSERT_OK(r);
  EXPECT_EQ(r->movedIno, f);
  EXPECT_EQ(r->replaced.ino, 0u);
  EXPECT_ERRNO(s().lookup(kRoot, a->ino, "f"), ENOENT);
  EXPECT_EQ(s().lookup(kRoot, a->ino, "g")->ino, f);
  ASSERT_OK(s().rename(kRoot, a->ino, "g", b->ino, "h", 0));
  EXPECT_EQ(s().lookup(kRoot, b->ino, "h")->ino, f);
  // A directory moving to another parent: link counts and "..".
  Result<Attr> sub = s().mkdir(kRoot, a->ino, "sub", 0755);
  ASSERT_OK(sub);
  EXPECT_EQ(s().getattr(a->ino)->nlink, 3u);
  ASSERT_OK(s().rename(kRoot, a->ino, "sub", b->ino, "sub2", 0));
  EXPECT_EQ(s().getattr(a->ino)->nlink, 2u);
  EXPECT_EQ(s().getattr(b->ino)->nlink, 3u);
  EXPECT_EQ(s().getattr(sub->ino)->parent, b->ino);
  EXPECT_EQ(s().lookup(kRoot, sub->ino, "..")->ino, b->ino);
  EXPECT_EQ(s().statfs().dentries, 4u);  // a, b, b/h, b/sub2
}

TEST_F(MetaStoreTest, RenameReplacesFile) {
  InodeId f = file(kRoot, kRootIno, "f");
  InodeId g = file(kRoot, kRootIno, "g");
  SetAttr sz;
  sz.setSize = true;
  sz.size = 77;
  ASSERT_OK(s().setattr(kRoot, g, sz));
  Result<RenameResult> r = s().rename(kRoot, kRootIno, "f", kRootIno, "g", 0);
  ASSERT_OK(r);
  EXPECT_EQ(r->replaced.ino, g);
  EXPECT_FALSE(r->replaced.remoteInode);
  EXPECT_TRUE(r->replaced.lastLink);
  EXPECT_EQ(r->replaced.size, 77u);
  EXPECT_ERRNO(s().getattr(g), ENOENT);
  EXPECT_EQ(s().lookup(kRoot, kRootIno, "g")->ino, f);
  EXPECT_EQ(s().statfs().dentries, 1u);
  EXPECT_EQ(s().statfs().files, 1u);
}

TEST_F(MetaStoreTest, RenameTypeRules) {
  Result<Attr> d = s().mkdir(kRoot, kRootIno, "d", 0755);
  Result<Attr> empty = s().mkdir(kRoot, kRootIno, "empty", 0755);
  Result<Attr> full = s().mkdir(kRoot, kRootIno, "full", 0755);
  ASSERT_OK(d);
  ASSERT_OK(empty);
  ASSERT_OK(full);
  file(kRoot, full->ino, "x");
  file(kRoot, kRootIno, "f");
  EXPECT_ERRNO(s().rename(kRoot, kRootIno, "d", kRootIno, "f", 0), ENOTDIR);
  EXPECT_ERRNO(s().rename(kRoot, kRootIno, "f", kRootIno, "d", 0), EISDIR);
  EXPECT_ERRNO(s().rename(kRoot, kRootIno, "d", kRootIno, "full", 0), ENOTEMPTY);
  EXPECT_ERRNO(s().rename(kRoot, kRootIno, "missing", kRootIno, "x", 0), ENOENT);
  EXPECT_EQ(s().getattr(kRootIno)->nlink, 5u);
  // Directory over an empty directory: replaced and freed; root loses one link.
  Result<RenameResult> r = s().rename(kRoot, kRootIno, "d", kRootIno, "empty", 0);
  ASSERT_OK(r);
  EXPECT_EQ(r->replaced.ino, empty->ino);
  EXPECT_TRUE(r->replaced.lastLink);
  EXPECT_ERRNO(s().getattr(empty->ino), ENOENT);
  EXPECT_EQ(s().getattr(kRootIno)->nlink, 4u);
  EXPECT_EQ(s().lookup(kRoot, kRootIno, "empty")->ino, d->ino);
}

TEST_F(MetaStoreTest, RenameLoopsAndDots) {
  Result<Attr> a = s().mkdir(kRoot, kRootIno, "a", 0755);
  ASSERT_OK(a);
  Result<Attr> b = s().mkdir(kRoot, a->ino, "b", 0755);
  ASSERT_OK(b);
  Result<Attr> c = s().mkdir(kRoot, b->ino, "c", 0755);
  ASSERT_OK(c);
  EXPECT_ERRNO(s().rename(kRoot, kRootIno, "a", c->ino, "a", 0), EINVAL);   // into its own subtree
  EXPECT_ERRNO(s().rename(kRoot, kRootIno, "a", a->ino, "x", 0), EINVAL);   // into itself
  EXPECT_ERRNO(s().rename(kRoot, b->ino, "c", kRootIno, "a", 0), ENOTEMPTY);  // over its ancestor
  EXPECT_ERRNO(s().rename(kRoot, b->ino, "c", kRootIno, "a", kRenameExchange), EINVAL);
  EXPECT_ERRNO(s().rename(kRoot, kRootIno, ".", kRootIno, "x", 0), EBUSY);
  EXPECT_ERRNO(s().rename(kRoot, kRootIno, "a", kRootIno, "..", 0), EBUSY);
  EXPECT_ERRNO(s().rename(kRoot, kRootIno, "a", kRootIno, ".", kRenameNoReplace), EEXIST);
  EXPECT_ERRNO(s().rename(kRoot, kRootIno, "a", kRootIno, "x", 4), EINVAL);
  EXPECT_ERRNO(s().rename(kRoot, kRootIno, "a", kRootIno, "x", kRenameExchange | kRenameNoReplace), EINVAL);
  EXPECT_ERRNO(s().rename(kRoot, kRootIno, "", kRootIno, "x", 0), ENOENT);
  EXPECT_ERRNO(s().rename(kRoot, kRootIno, "a", kRootIno, std::string(256, 'z'), 0), ENAMETOOLONG);
}

TEST_F(MetaStoreTest, RenameNoReplaceAndExchange) {
  Result<Attr> p = s().mkdir(kRoot, kRootIno, "p", 0755);
  Result<Attr> q = s().mkdir(kRoot, kRootIno, "q", 0755);
  ASSERT_OK(p);
  ASSERT_OK(q);
  InodeId f = file(kRoot, p->ino, "f");
  Result<Attr> d = s().mkdir(kRoot, q->ino, "d", 0755);
  ASSERT_OK(d);
  EXPECT_ERRNO(s().rename(kRoot, p->ino, "f", q->ino, "d", kRenameNoReplace), EEXIST);
  ASSERT_OK(s().rename(kRoot, p->ino, "f", p->ino, "f2", kRenameNoReplace));
  EXPECT_ERRNO(s().rename(kRoot, p->ino, "f2", q->ino, "none", kRenameExchange), ENOENT);
  // Exchange a file in p with a directory in q: link counts and ".." follow.
  EXPECT_EQ(s().getattr(p->ino)->nlink, 2u);
  EXPECT_EQ(s().getattr(q->ino)->nlink, 3u);
  Result<RenameResult> x = s().rename(kRoot, p->ino, "f2", q->ino, "d", kRenameExchange);
  ASSERT_OK(x);
  EXPECT_EQ(x->replaced.ino, 0u);
  EXPECT_EQ(s().lookup(kRoot, p->ino, "f2")->ino, d->ino);
  EXPECT_EQ(s().lookup(kRoot, q->ino, "d")->ino, f);
  EXPECT_EQ(s().getattr(p->ino)->nlink, 3u);
  EXPECT_EQ(s().getattr(q->ino)->nlink, 2u);
  EXPECT_EQ(s().getattr(d->ino)->parent, p->ino);
  EXPECT_TRUE(s().getattr(f).ok());
  EXPECT_TRUE(s().getattr(d->ino).ok());
}

TEST_F(MetaStoreTest, RenameSameInodeIsNoOp) {
  InodeId f = file(kRoot, kRootIno, "f");
  ASSERT_OK(s().linkCount(f, 1, 0));
  ASSERT_OK(s().addEntry(kRoot, kRootIno, "hard", f, S_IFREG, false));
  std::uint64_t version = s().getattr(kRootIno)->version;
  Result<RenameResult> r = s().rename(kRoot, kRootIno, "f", kRootIno, "hard", 0);
  ASSERT_OK(r);
  EXPECT_EQ(r->replaced.ino, 0u);
  EXPECT_EQ(s().lookup(kRoot, kRootIno, "f")->ino, f);
  EXPECT_EQ(s().lookup(kRoot, kRootIno, "hard")->ino, f);
  EXPECT_EQ(s().getattr(f)->nlink, 2u);
  EXPECT_EQ(s().getattr(kRootIno)->version, version);
}

TEST_F(MetaStoreTest, RenamePermissions) {
  InodeId mine = dirOf(kAlice, "mine");
  InodeId theirs = dirOf(kBob, "theirs");
  file(kAlice, mine, "f");
  EXPECT_ERRNO(s().rename(kAlice, mine, "f", theirs, "f", 0), EACCES);  // no w on target dir
  EXPECT_ERRNO(s().rename(kBob, mine, "f", theirs, "f", 0), EACCES);    // no w on source dir
  // Moving a directory to a new parent needs write permission on it (to rewrite "..").
  InodeId open = dirOf(kRoot, "open", 0777);
  ASSERT_OK(s().mkdir(kRoot, open, "rootdir", 0755));
  InodeId open2 = dirOf(kRoot, "open2", 0777);
  EXPECT_ERRNO(s().rename(kAlice, open, "rootdir", open2, "x", 0), EACCES);
  ASSERT_OK(s().rename(kAlice, open, "rootdir", open, "renamed", 0));  // same parent: fine
}

// ---- setattr

TEST_F(MetaStoreTest, ChmodRules) {
  InodeId f = file(kAlice, dirOf(kAlice, "home"), "f");
  Attr before = *s().getattr(f);
  SetAttr r;
  r.setMode = true;
  r.mode = 0600;
  EXPECT_ERRNO(s().setattr(kBob, f, r), EPERM);
  Result<Attr> a = s().setattr(kAlice, f, r);
  ASSERT_OK(a);
  EXPECT_EQ(a->mode, static_cast<std::uint32_t>(S_IFREG | 0600));
  EXPECT_GT(a->version, before.version);
  EXPECT_GE(a->ctimeNs, before.ctimeNs);
  EXPECT_EQ(a->mtimeNs, before.mtimeNs);
  // Setting setgid on a file of a group the caller is not in drops it silently.
  SetAttr g;
  g.setGid = true;
  g.gid = 77;
  ASSERT_OK(s().setattr(kRoot, f, g));
  r.mode = 02755;
  EXPECT_EQ(s().setattr(kAlice, f, r)->mode, static_cast<std::uint32_t>(S_IFREG | 0755));
  EXPECT_EQ(s().setattr(user(1000, 1000, {77}), f, r)->mode, static_cast<std::uint32_t>(S_IFREG | 02755));
  EXPECT_EQ(s().setattr(kRoot, f, r)->mode, static_cast<std::uint32_t>(S_IFREG | 02755));
  EXPECT_ERRNO(s().setattr(kAlice, f + 999, r), ENOENT);
}

TEST_F(MetaStoreTest, ChownRules) {
  InodeId f = file(kAlice, dirOf(kAlice, "home"), "f", 06755);
  SetAttr u;
  u.setUid = true;
  u.uid = 1001;
  EXPECT_ERRNO(s().setattr(kAlice, f, u), EPERM);  // giving away: root only
  EXPECT_ERRNO(s().setattr(kBob, f, u), EPERM);
  u.uid = 1000;
  ASSERT_OK(s().setattr(kAlice, f, u));  // "changing" to the same owner is allowed
  SetAttr g;
  g.setGid = true;
  g.gid = 2000;
  EXPECT_ERRNO(s().setattr(kAlice, f, g), EPERM);  // not a group of hers
  EXPECT_ERRNO(s().setattr(user(1001, 1001, {2000}), f, g), EPERM);  // not the owner
  Result<Attr> a = s().setattr(user(1000, 1000, {2000}), f, g);
  ASSERT_OK(a);
  EXPECT_EQ(a->gid, 2000u);
  EXPECT_EQ(a->mode & 07777, 0755u);  // chown cleared setuid and (group-executable) setgid
  // Root chown of a setuid file clears setuid too (Linux), but directories keep theirs.
  SetAttr m;
  m.setMode = true;
  m.mode = 04755;
  ASSERT_OK(s().setattr(kRoot, f, m));
  u.uid = 1234;
  EXPECT_EQ(s().setattr(kRoot, f, u)->mode & 07777, 0755u);
  EXPECT_EQ(s().getattr(f)->uid, 1234u);
  InodeId d = dirOf(kAlice, "sgid");
  m.mode = 02755;
  ASSERT_OK(s().setattr(kRoot, d, m));
  EXPECT_EQ(s().setattr(kRoot, d, u)->mode & 07777, 02755u);
}

TEST_F(MetaStoreTest, TruncateRules) {
  InodeId f = file(kAlice, dirOf(kAlice, "home"), "f");
  SetAttr r;
  r.setSize = true;
  r.size = 1000;
  Attr before = *s().getattr(f);
  Result<Attr> a = s().setattr(kBob, f, r);  // the client checked write access at open
  ASSERT_OK(a);
  EXPECT_EQ(a->size, 1000u);
  EXPECT_GE(a->mtimeNs, before.mtimeNs);
  EXPECT_EQ(a->mtimeNs, a->ctimeNs);
  EXPECT_EQ(s().statfs().bytes, 1000u);
  r.size = 10;
  EXPECT_EQ(s().setattr(kAlice, f, r)->size, 10u);
  r.growOnly = true;
  r.size = 5;
  EXPECT_EQ(s().setattr(kAlice, f, r)->size, 10u);
  r.size = 50;
  EXPECT_EQ(s().setattr(kAlice, f, r)->size, 50u);
  EXPECT_EQ(s().statfs().bytes, 50u);
  r.growOnly = false;
  EXPECT_ERRNO(s().setattr(kRoot, kRootIno, r), EISDIR);
  Result<Attr> l = s().symlink(kRoot, kRootIno, "l", "f");
  ASSERT_OK(l);
  EXPECT_ERRNO(s().setattr(kRoot, l->ino, r), EINVAL);
  r.size = std::uint64_t{1} << 63;
  EXPECT_ERRNO(s().setattr(kRoot, f, r), EINVAL);
}

TEST_F(MetaStoreTest, UtimensRules) {
  InodeId f = file(kAlice, dirOf(kRoot, "open", 0777), "f", 0644);
  InodeId shared = file(kAlice, dirOf(kRoot, "open2", 0777), "shared", 0666);
  SetAttr exact;
  exact.setAtime = exact.setMtime = true;
  exact.atimeNs = 1000000000;
  exact.mtimeNs = 2000000000;
  EXPECT_ERRNO(s().setattr(kBob, shared, exact), EPERM);  // explicit times: owner only
  Result<Attr> a = s().setattr(kAlice, f, exact);
  ASSERT_OK(a);
  EXPECT_EQ(a->atimeNs, 1000000000);
  EXPECT_EQ(a->mtimeNs, 2000000000);
  EXPECT_GT(a->ctimeNs, 2000000000);
  SetAttr now;
  now.setAtime = now.setMtime = true;
  now.atimeNs = now.mtimeNs = kSetAttrTimeNow;
  EXPECT_ERRNO(s().setattr(kBob, f, now), EACCES);  // no write permission
  Result<Attr> b = s().setattr(kBob, shared, now);  // write permission suffices for "now"
  ASSERT_OK(b);
  EXPECT_GT(b->mtimeNs, 2000000000);
  // mtime alone set to now (what a writer reports): write permission suffices too.
  SetAttr halfNow;
  halfNow.setMtime = true;
  halfNow.mtimeNs = kSetAttrTimeNow;
  std::int64_t atime = s().getattr(shared)->atimeNs;
  Result<Attr> c = s().setattr(kBob, shared, halfNow);
  ASSERT_OK(c);
  EXPECT_EQ(c->atimeNs, atime);
  EXPECT_ERRNO(s().setattr(kBob, f, halfNow), EACCES);
  SetAttr mixed = halfNow;
  mixed.setAtime = true;
  mixed.atimeNs = 5;
  EXPECT_ERRNO(s().setattr(kBob, shared, mixed), EPERM);
  ASSERT_OK(s().setattr(kRoot, f, exact));
  SetAttr nothing;
  std::uint64_t v = s().getattr(f)->version;
  EXPECT_EQ(s().setattr(kBob, f, nothing)->version, v);
}

// ---- names with a slash, statfs

TEST_F(MetaStoreTest, SlashInNameIsInvalid) {
  EXPECT_ERRNO(s().create(kRoot, kRootIno, "a/b", S_IFREG | 0644, true, 0), EINVAL);
  EXPECT_ERRNO(s().mkdir(kRoot, kRootIno, "a/b", 0755), EINVAL);
}

TEST_F(MetaStoreTest, StatfsCounts) {
  Result<Attr> d = s().mkdir(kRoot, kRootIno, "d", 0755);
  ASSERT_OK(d);
  InodeId f = file(kRoot, d->ino, "f");
  file(kRoot, d->ino, "g");
  ASSERT_OK(s().symlink(kRoot, kRootIno, "l", "d"));
  SetAttr r;
  r.setSize = true;
  r.size = 300;
  ASSERT_OK(s().setattr(kRoot, f, r));
  ShardStats st = s().statfs();
  EXPECT_EQ(st.shard, 0u);
  EXPECT_EQ(st.inodes, 5u);
  EXPECT_EQ(st.directories, 2u);
  EXPECT_EQ(st.files, 2u);
  EXPECT_EQ(st.dentries, 4u);
  EXPECT_EQ(st.bytes, 300u);
  ASSERT_OK(s().unlink(kRoot, d->ino, "f", false));
  st = s().statfs();
  EXPECT_EQ(st.inodes, 4u);
  EXPECT_EQ(st.files, 1u);
  EXPECT_EQ(st.dentries, 3u);
  EXPECT_EQ(st.bytes, 0u);
}

// ---- cross-shard steps, two stores

class CrossShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::uint32_t i = 0; i < 2; ++i) {
      MetaStoreOptions o;
      o.dir = tmp_.sub("s" + std::to_string(i));
      o.shardIndex = i;
      o.shardCount = 2;
      std::string error;
      shards_[i] = MetaStore::open(o, &error);
      ASSERT_TRUE(shards_[i]) << error;
    }
  }
  MetaStore& a() { return *shards_[0]; }
  MetaStore& b() { return *shards_[1]; }

  // mkdir of `name` in a's root with the inode on b, as the client does it.
  InodeId remoteMkdir(const Cred& c, const std::string& name) {
    Result<Attr> made = b().makeInode(c, kRootIno, S_IFDIR | 0755, "");
    EXPECT_TRUE(made.ok());
    EXPECT_TRUE(a().addEntry(c, kRootIno, name, made->ino, S_IFDIR, false).ok());
    EXPECT_TRUE(b().linkCount(made->ino, 1, 0).ok());
    return made->ino;
  }

  TempDir tmp_;
  std::unique_ptr<MetaStore> shards_[2];
};

TEST_F(CrossShardTest, ShardOneHasNoRootAndItsOwnInodes) {
  EXPECT_ERRNO(b().getattr(kRootIno), ENOENT);
  EXPECT_EQ(b().statfs().inodes, 0u);
  Result<Attr> made = b().makeInode(kRoot, kRootIno, S_IFREG | 0644, "");
  ASSERT_OK(made);
  EXPECT_EQ(shardOfInode(made->ino), 1u);
  EXPECT_ERRNO(a().getattr(made->ino), ENOENT);  // not shard 0's
}

// The one-round-trip mkdir: numbers set aside for one owner, each usable once, by that
// owner only, and only while the store runs; numbers are never handed out twice.
TEST_F(CrossShardTest, ReservedNumbersMakeADirectoryLinkedFromTheStart) {
  Result<InodeRange> r = b().reserveInodes(7, 3);
  ASSERT_OK(r);
  EXPECT_EQ(r->count, 3u);
  EXPECT_EQ(shardOfInode(r->first), 1u);
  const InodeId ino = r->first + 1;
  EXPECT_ERRNO(b().makeReservedDir(kRoot, 8, ino, kRootIno, S_IFDIR | 0755), EINVAL);  // another owner's
  EXPECT_ERRNO(b().makeReservedDir(kRoot, 7, ino, kRootIno, S_IFREG | 0644), EINVAL);  // directories only
  Result<Attr> d = b().makeReservedDir(kAlice, 7, ino, kRootIno, S_IFDIR | 0750);
  ASSERT_OK(d);
  EXPECT_EQ(d->ino, ino);
  EXPECT_EQ(d->nlink, 2u);
  EXPECT_EQ(d->parent, kRootIno);
  EXPECT_EQ(d->uid, kAlice.uid);
  EXPECT_EQ(d->mode, S_IFDIR | 0750u);
  ASSERT_OK(a().addEntry(kRoot, kRootIno, "one-trip", ino, S_IFDIR, false));
  EXPECT_EQ(a().lookup(kRoot, kRootIno, "one-trip")->ino, ino);
  EXPECT_ERRNO(b().makeReservedDir(kRoot, 7, ino, kRootIno, S_IFDIR | 0755), EINVAL);  // used
  EXPECT_ERRNO(b().makeReservedDir(kRoot, 7, r->first + 3, kRootIno, S_IFDIR | 0755), EINVAL);  // not reserved
  EXPECT_ERRNO(b().makeReservedDir(kRoot, 7, makeInodeId(0, 5), kRootIno, S_IFDIR | 0755), EINVAL);  // shard 0's

  // Undone as the client undoes it when its entry fails: the directory goes.
  Result<Attr> undo = b().makeReservedDir(kRoot, 7, r->first, kRootIno, S_IFDIR | 0755);
  ASSERT_OK(undo);
  ASSERT_OK(b().linkCount(r->first, -1, 0));
  EXPECT_ERRNO(b().getattr(r->first), ENOENT);

  b().forgetReservations(7);  // the session ended
  EXPECT_ERRNO(b().makeReservedDir(kRoot, 7, r->first + 2, kRootIno, S_IFDIR | 0755), EINVAL);
  EXPECT_GT(b().makeInode(kRoot, kRootIno, S_IFREG | 0644, "")->ino, r->first + 2);  // never reused

  EXPECT_ERRNO(b().reserveInodes(7, 0), EINVAL);
  EXPECT_ERRNO(b().reserveInodes(7, MetaStore::kMaxReservation + 1), EINVAL);
  for (std::uint32_t held = 0; held < MetaStore::kMaxUnusedReserved; held += MetaStore::kMaxReservation) {
    ASSERT_OK(b().reserveInodes(9, MetaStore::kMaxReservation));
  }
  EXPECT_ERRNO(b().reserveInodes(9, 1), EAGAIN);  // bounded per owner
}

TEST_F(CrossShardTest, MkdirAndRmdirAcrossShards) {
  Result<Attr> made = b().makeInode(kRoot, kRootIno, S_IFDIR | 0755, "");
  ASSERT_OK(made);
  EXPECT_EQ(made->nlink, 0u);
  EXPECT_EQ(made->parent, kRootIno);
  ASSERT_OK(a().addEntry(kRoot, kRootIno, "remote", made->ino, S_IFDIR | 0755, false));
  EXPECT_EQ(a().getattr(kRootIno)->nlink, 3u);
  Result<LinkCountResult> lc = b().linkCount(made->ino, 1, 0);
  ASSERT_OK(lc);
  EXPECT_EQ(lc->nlink, 2u);
  EXPECT_EQ(b().getattr(made->ino)->nlink, 2u);
  // Lookup on the parent's shard gives the type only; nlink 0 says "ask the owner".
  Result<Attr> partial = a().lookup(kRoot, kRootIno, "remote");
  ASSERT_OK(partial);
  EXPECT_EQ(partial->ino, made->ino);
  EXPECT_TRUE(S_ISDIR(partial->mode));
  EXPECT_EQ(partial->nlink, 0u);
  Result<DirPage> page = a().readdir(kRoot, kRootIno, "", 10);
  ASSERT_OK(page);
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_EQ(page->entries[0].type, DT_DIR);
  EXPECT_ERRNO(a().addEntry(kRoot, kRootIno, "remote", made->ino, S_IFDIR, false), EEXIST);

  // Files inside the remote directory live on its shard.
  Result<CreateResult> f = b().create(kRoot, made->ino, "f", S_IFREG | 0644, true, 0);
  ASSERT_OK(f);
  EXPECT_EQ(shardOfInode(f->attr.ino), 1u);
  EXPECT_EQ(b().lookup(kRoot, made->ino, "..")->nlink, 0u);  // parent is on shard 0

  // rmdir: the parent's shard defers to the cross-shard path.
  EXPECT_ERRNO(a().unlink(kRoot, kRootIno, "remote", true), EXDEV);
  EXPECT_ERRNO(a().unlink(kRoot, kRootIno, "remote", false), EISDIR);
  EXPECT_ERRNO(b().prepareRmdir(kRoot, made->ino, false), ENOTEMPTY);
  ASSERT_OK(b().unlink(kRoot, made->ino, "f", false));
  ASSERT_OK(b().prepareRmdir(kRoot, made->ino, false));
  EXPECT_ERRNO(b().create(kRoot, made->ino, "late", S_IFREG | 0644, true, 0), ENOENT);
  EXPECT_ERRNO(b().mkdir(kRoot, made->ino, "late", 0755), ENOENT);
  // Undo reopens it; prepare again.
  ASSERT_OK(b().prepareRmdir(kRoot, made->ino, true));
  ASSERT_OK(b().create(kRoot, made->ino, "late", S_IFREG | 0644, true, 0));
  ASSERT_OK(b().unlink(kRoot, made->ino, "late", false));
  ASSERT_OK(b().prepareRmdir(kRoot, made->ino, false));
  EXPECT_ERRNO(a().removeEntry(kRoot, kRootIno, "remote", made->ino + 1), ENOENT);
  EXPECT_ERRNO(a().removeEntry(kBob, kRootIno, "remote", made->ino), EACCES);
  ASSERT_OK(a().removeEntry(kRoot, kRootIno, "remote", made->ino));
  EXPECT_EQ(a().getattr(kRootIno)->nlink, 2u);
  Result<LinkCountResult> gone = b().linkCount(made->ino, -1, 0);
  ASSERT_OK(gone);
  EXPECT_EQ(gone->nlink, 0u);
  EXPECT_ERRNO(b().getattr(made->ino), ENOENT);
  EXPECT_EQ(b().statfs().inodes, 0u);
}

TEST_F(CrossShardTest, PrepareRmdirErrors) {
  EXPECT_ERRNO(a().prepareRmdir(kRoot, kRootIno, false), EBUSY);
  EXPECT_ERRNO(b().prepareRmdir(kRoot, 12345, false), ENOENT);
  Result<CreateResult> f = a().create(kRoot, kRootIno, "f", S_IFREG | 0644, true, 0);
  ASSERT_OK(f);
  EXPECT_ERRNO(a().prepareRmdir(kRoot, f->attr.ino, false), ENOTDIR);
}

TEST_F(CrossShardTest, HardLinkAcrossShards) {
  InodeId dir = remoteMkdir(kRoot, "d");
  Result<CreateResult> f = a().create(kRoot, kRootIno, "f", S_IFREG | 0644, true, 0);
  ASSERT_OK(f);
  // link(2): count first on the inode's shard, then the entry.
  Result<LinkCountResult> up = a().linkCount(f->attr.ino, 1, 0);
  ASSERT_OK(up);
  EXPECT_EQ(up->nlink, 2u);
  ASSERT_OK(b().addEntry(kRoot, dir, "h", f->attr.ino, S_IFREG | 0644, false));
  EXPECT_EQ(b().getattr(dir)->nlink, 2u);  // a file entry does not count
  Result<UnlinkResult> u = b().unlink(kRoot, dir, "h", false);
  ASSERT_OK(u);
  EXPECT_TRUE(u->remoteInode);
  EXPECT_FALSE(u->lastLink);
  EXPECT_EQ(u->ino, f->attr.ino);
  EXPECT_EQ(a().linkCount(f->attr.ino, -1, 0)->nlink, 1u);
  // A remote file replaced by rename is reported for linkCount on its shard.
  ASSERT_OK(b().addEntry(kRoot, dir, "h2", f->attr.ino, S_IFREG, false));
  ASSERT_OK(b().create(kRoot, dir, "other", S_IFREG | 0644, true, 0));
  Result<RenameResult> r = b().rename(kRoot, dir, "other", dir, "h2", 0);
  ASSERT_OK(r);
  EXPECT_EQ(r->replaced.ino, f->attr.ino);
  EXPECT_TRUE(r->replaced.remoteInode);
  EXPECT_FALSE(r->replaced.lastLink);
}

TEST_F(CrossShardTest, RenameOverRemoteDirectoryIsExdev) {
  remoteMkdir(kRoot, "remote");
  ASSERT_OK(a().mkdir(kRoot, kRootIno, "local", 0755));
  EXPECT_ERRNO(a().rename(kRoot, kRootIno, "local", kRootIno, "remote", 0), EXDEV);
  // Exchange in one directory is fine: nothing is removed, no ".." changes.
  ASSERT_OK(a().rename(kRoot, kRootIno, "local", kRootIno, "remote", kRenameExchange));
  // A remote directory may be renamed in its parent, but not moved to another parent here.
  ASSERT_OK(a().rename(kRoot, kRootIno, "local", kRootIno, "renamed", 0));
  Result<Attr> other = a().mkdir(kRoot, kRootIno, "other", 0755);
  ASSERT_OK(other);
  EXPECT_ERRNO(a().rename(kRoot, kRootIno, "renamed", other->ino, "moved", 0), EXDEV);
  ASSERT_OK(a().create(kRoot, other->ino, "f", S_IFREG | 0644, true, 0));
  EXPECT_ERRNO(a().rename(kRoot, other->ino, "f", kRootIno, "renamed", kRenameExchange), EXDEV);
  EXPECT_EQ(a().getattr(kRootIno)->nlink, 5u);  // renamed, remote, other
}

TEST_F(CrossShardTest, AddEntryReplaceAndErrors) {
  Result<CreateResult> f = a().create(kRoot, kRootIno, "f", S_IFREG | 0644, true, 0);
  Result<CreateResult> g = a().create(kRoot, kRootIno, "g", S_IFREG | 0644, true, 0);
  ASSERT_OK(f);
  ASSERT_OK(g);
  Result<AddEntryResult> r = a().addEntry(kRoot, kRootIno, "g", f->attr.ino, S_IFREG, true);
  ASSERT_OK(r);
  EXPECT_EQ(r->replacedIno, g->attr.ino);
  EXPECT_EQ(r->replacedMode, static_cast<std::uint32_t>(S_IFREG));
  EXPECT_TRUE(a().getattr(g->attr.ino).ok());  // the caller drops its link
  EXPECT_EQ(a().lookup(kRoot, kRootIno, "g")->ino, f->attr.ino);
  EXPECT_ERRNO(a().addEntry(kRoot, kRootIno, ".", f->attr.ino, S_IFREG, false), EEXIST);
  EXPECT_ERRNO(a().addEntry(kBob, kRootIno, "x", f->attr.ino, S_IFREG, false), EACCES);
  EXPECT_ERRNO(a().addEntry(kRoot, f->attr.ino, "x", f->attr.ino, S_IFREG, false), ENOTDIR);
  EXPECT_ERRNO(a().addEntry(kRoot, 5555, "x", f->attr.ino, S_IFREG, false), ENOENT);
  EXPECT_ERRNO(a().addEntry(kRoot, kRootIno, std::string(256, 'y'), f->attr.ino, S_IFREG, false), ENAMETOOLONG);
  EXPECT_ERRNO(a().addEntry(kRoot, kRootIno, "x", f->attr.ino, 0, false), EINVAL);
}

TEST_F(CrossShardTest, LinkCountRules) {
  EXPECT_ERRNO(a().linkCount(99999, 1, 0), ENOENT);
  Result<Attr> d = a().mkdir(kRoot, kRootIno, "d", 0755);
  ASSERT_OK(d);
  EXPECT_ERRNO(a().linkCount(d->ino, 1, 0), EPERM);
  Result<CreateResult> f = a().create(kRoot, kRootIno, "f", S_IFREG | 0644, true, 0);
  ASSERT_OK(f);
  EXPECT_ERRNO(a().linkCount(f->attr.ino, 0, kRootIno), EINVAL);
  EXPECT_ERRNO(a().linkCount(f->attr.ino, -2, 0), EINVAL);
  EXPECT_ERRNO(a().linkCount(f->attr.ino, 70000, 0), EMLINK);
  {
    std::uint64_t v = a().getattr(f->attr.ino)->version;
    ASSERT_OK(a().linkCount(f->attr.ino, 1, 0));
    EXPECT_GT(a().getattr(f->attr.ino)->version, v);
  }
  // A directory moved by a cross-shard rename gets its new "..".
  Result<Attr> e = a().mkdir(kRoot, kRootIno, "e", 0755);
  ASSERT_OK(e);
  ASSERT_OK(a().linkCount(d->ino, 0, e->ino));
  EXPECT_EQ(a().getattr(d->ino)->parent, e->ino);
  // A non-empty directory cannot lose its last link.
  ASSERT_OK(a().create(kRoot, d->ino, "x", S_IFREG | 0644, true, 0));
  EXPECT_ERRNO(a().linkCount(d->ino, -1, 0), ENOTEMPTY);
  // A pending inode is freed by a negative delta (an abandoned mkdir).
  Result<Attr> pend = b().makeInode(kRoot, kRootIno, S_IFDIR | 0755, "");
  ASSERT_OK(pend);
  EXPECT_EQ(b().linkCount(pend->ino, -1, 0)->nlink, 0u);
  EXPECT_ERRNO(b().getattr(pend->ino), ENOENT);
}

TEST_F(CrossShardTest, MakeInodeKinds) {
  Result<Attr> l = b().makeInode(kAlice, kRootIno, S_IFLNK | 0777, "some/where");
  ASSERT_OK(l);
  EXPECT_EQ(*b().readlink(l->ino), "some/where");
  EXPECT_EQ(l->size, 10u);
  EXPECT_EQ(l->uid, 1000u);
  EXPECT_ERRNO(b().makeInode(kAlice, kRootIno, S_IFLNK | 0777, ""), ENOENT);
  EXPECT_ERRNO(b().makeInode(kAlice, kRootIno, 0644, ""), EINVAL);
  EXPECT_ERRNO(b().makeInode(kAlice, kRootIno, S_IFBLK | 0644, ""), EINVAL);
  // A remote parent's setgid is passed by the client in the mode and cred.
  Result<Attr> d = b().makeInode(user(1000, 50), kRootIno, S_IFDIR | 02755, "");
  ASSERT_OK(d);
  EXPECT_EQ(d->gid, 50u);
  EXPECT_TRUE(d->mode & S_ISGID);
}

}  // namespace
}  // namespace myfs::server
