// The client VFS driven directly (no shim), over the servers' stores in this process.
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "core/vfs.h"
#include "tests/core/local_cluster.h"

namespace myfs {
namespace {

using testing::LocalCluster;

class VfsTest : public ::testing::Test {
 protected:
  void SetUp() override { start(2, 2, false); }

  // leases: the servers grant leases (nothing recalls them: one client).
  void start(std::uint32_t shards, std::uint32_t data, bool leases, std::uint64_t cacheBytes = 64 << 20) {
    vfs_.reset();
    cluster_ = std::make_unique<LocalCluster>(shards, data, kChunk);
    cluster_->grantLeases(leases);
    newClient(cacheBytes);
  }
  // A fresh client (empty caches) on the same servers.
  void newClient(std::uint64_t cacheBytes = 64 << 20) {
    vfs_.reset();
    VfsOptions o;
    o.pageCacheBytes = cacheBytes;
    auto v = makeVfs(*cluster_, o);
    ASSERT_TRUE(v.ok());
    vfs_ = std::move(*v);
  }

  // Opens on a fresh fd number; returns it (or -errno).
  int open(const std::string& path, int flags, mode_t mode = 0644) {
    int fd = nextFd_++;
    auto r = vfs_->open(fd, At::root(), path, flags, mode);
    return r ? fd : -r.err();
  }
  void writeFile(const std::string& path, const std::string& data) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC);
    ASSERT_GT(fd, 0);
    ASSERT_EQ(data.size(), *vfs_->write(fd, data.data(), data.size()));
    ASSERT_TRUE(vfs_->close(fd).ok());
  }
  std::string readFile(const std::string& path) {
    int fd = open(path, O_RDONLY);
    EXPECT_GT(fd, 0) << path;
    if (fd < 0) return "<" + std::string(errnoName(-fd)) + ">";
    std::string out;
    char buf[70000];
    while (true) {
      auto n = vfs_->read(fd, buf, sizeof buf);
      EXPECT_TRUE(n.ok());
      if (!n.ok() || *n == 0) break;
      out.append(buf, *n);
    }
    EXPECT_TRUE(vfs_->close(fd).ok());
    return out;
  }
  std::set<std::string> list(const std::string& path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    EXPECT_GT(fd, 0);
    std::set<std::string> names;
    char buf[4096];
    while (true) {
      auto n = vfs_->getdents(fd, buf, sizeof buf);
      EXPECT_TRUE(n.ok());
      if (!n.ok() || *n == 0) break;
      for (size_t off = 0; off < *n;) {
        auto* d = reinterpret_cast<dirent64*>(buf + off);
        names.insert(d->d_name);
        off += d->d_reclen;
      }
    }
    EXPECT_TRUE(vfs_->close(fd).ok());
    return names;
  }

  static constexpr std::uint32_t kChunk = 1 << 16;
  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<Vfs> vfs_;
  int nextFd_ = 100;
};

TEST_F(VfsTest, WriteReadRoundTripAcrossChunks) {
  std::string data(5 * kChunk + 123, '\0');
  std::mt19937 rng(1);
  for (auto& c : data) c = static_cast<char>(rng());
  writeFile("f", data);
  EXPECT_TRUE(data == readFile("f"));
  auto st = vfs_->stat(At::root(), "f", true);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(data.size(), st->size);
}

TEST_F(VfsTest, RandomWritesMatchAModelFile) {
  std::string model;
  int fd = open("m", O_CREAT | O_RDWR);
  ASSERT_GT(fd, 0);
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    size_t off = rng() % (4 * kChunk);
    size_t len = 1 + rng() % 9000;
    std::string piece(len, static_cast<char>('a' + i % 26));
    ASSERT_EQ(len, *vfs_->pwrite(fd, piece.data(), len, static_cast<off_t>(off)));
    if (model.size() < off + len) model.resize(off + len, '\0');
    model.replace(off, len, piece);
    if (i % 37 == 0) {  // read back through the cache in between
      std::string got(model.size(), '?');
      ASSERT_EQ(model.size(), *vfs_->pread(fd, got.data(), got.size(), 0));
      ASSERT_TRUE(model == got) << "after write " << i;
    }
  }
  ASSERT_TRUE(vfs_->close(fd).ok());
  newClient();  // everything comes from the servers
  EXPECT_TRUE(model == readFile("m"));
}

TEST_F(VfsTest, SmallSequentialWritesBecomeChunkSizedRpcs) {
  int fd = open("seq", O_CREAT | O_WRONLY);
  ASSERT_GT(fd, 0);
  std::string block(512, 'x');
  for (int i = 0; i < 16 * static_cast<int>(kChunk) / 512; ++i) {
    ASSERT_EQ(512u, *vfs_->write(fd, block.data(), block.size()));
  }
  ASSERT_TRUE(vfs_->close(fd).ok());
  auto& sizes = cluster_->counts().writeSizes;
  EXPECT_EQ(16u, sizes.size());
  for (auto s : sizes) EXPECT_EQ(kChunk, s);
}

TEST_F(VfsTest, ReadsFetchWholeChunksAndReadAhead) {
  writeFile("r", std::string(8 * kChunk, 'r'));
  newClient();
  const int before = cluster_->counts().dataReads.load();
  int fd = open("r", O_RDONLY);
  char buf[100];
  for (std::uint32_t off = 0; off < 8 * kChunk; off += 100) ASSERT_TRUE(vfs_->pread(fd, buf, 100, off).ok());
  // The first read fetches only its page; from the second on the access is sequential:
  // the rest of each chunk comes whole, once.
  EXPECT_EQ(9, cluster_->counts().dataReads.load() - before);
  EXPECT_EQ(8u * kChunk, cluster_->counts().bytesRead.load());
  ASSERT_TRUE(vfs_->close(fd).ok());
}

TEST_F(VfsTest, RandomReadsFetchOnlyTheirPages) {
  writeFile("rand", std::string(32 * kChunk, 'q'));
  newClient();
  int fd = open("rand", O_RDONLY);
  std::mt19937 rng(5);
  char buf[100];
  for (int i = 0; i < 50; ++i) {
    const std::uint64_t off = (rng() % (32 * kChunk / 8192)) * 8192 + 7;  // never adjacent
    ASSERT_EQ(100u, *vfs_->pread(fd, buf, 100, static_cast<off_t>(off)));
    ASSERT_EQ(std::string(100, 'q'), std::string(buf, 100));
  }
  EXPECT_LE(cluster_->counts().bytesRead.load(), 50u * 4096);
  ASSERT_TRUE(vfs_->close(fd).ok());
}

TEST_F(VfsTest, HolesReadAsZerosAndTruncateCuts) {
  int fd = open("h", O_CREAT | O_RDWR);
  ASSERT_EQ(1u, *vfs_->pwrite(fd, "z", 1, 3 * kChunk));
  ASSERT_TRUE(vfs_->close(fd).ok());
  std::string got = readFile("h");
  ASSERT_EQ(3 * kChunk + 1, got.size());
  EXPECT_TRUE(std::string(3 * kChunk, '\0') == got.substr(0, 3 * kChunk));
  ASSERT_TRUE(vfs_->truncate(At::root(), "h", 10).ok());
  EXPECT_EQ(std::string(10, '\0'), readFile("h"));
  ASSERT_TRUE(vfs_->truncate(At::root(), "h", kChunk + 5).ok());
  EXPECT_TRUE(std::string(kChunk + 5, '\0') == readFile("h"));
}

TEST_F(VfsTest, AllocateGrowsTheFileWithZeros) {
  writeFile("alloc", "abc");
  int fd = open("alloc", O_RDWR);
  ASSERT_TRUE(vfs_->allocate(fd, 0, 2, false).ok());  // within the file: no change
  EXPECT_EQ(3u, vfs_->fstat(fd)->size);
  ASSERT_TRUE(vfs_->allocate(fd, 10, 5, true).ok());  // FALLOC_FL_KEEP_SIZE
  EXPECT_EQ(3u, vfs_->fstat(fd)->size);
  ASSERT_TRUE(vfs_->allocate(fd, kChunk, 10, false).ok());
  EXPECT_EQ(kChunk + 10u, vfs_->fstat(fd)->size);
  EXPECT_EQ(EINVAL, vfs_->allocate(fd, 0, 0, false).err());
  ASSERT_TRUE(vfs_->close(fd).ok());
  std::string got = readFile("alloc");
  EXPECT_TRUE(got == "abc" + std::string(kChunk + 7, '\0'));
  fd = open("alloc", O_RDONLY);
  EXPECT_EQ(EBADF, vfs_->allocate(fd, 0, 100000, false).err());
  ASSERT_TRUE(vfs_->close(fd).ok());
}

TEST_F(VfsTest, AppendAndTruncateFlags) {
  writeFile("a", "one");
  int fd = open("a", O_WRONLY | O_APPEND);
  ASSERT_EQ(3u, *vfs_->pwrite(fd, "two", 3, 0));  // Linux: pwrite on O_APPEND appends
  ASSERT_EQ(5u, *vfs_->write(fd, "three", 5));
  ASSERT_TRUE(vfs_->close(fd).ok());
  EXPECT_EQ("onetwothree", readFile("a"));
  fd = open("a", O_WRONLY | O_TRUNC);
  ASSERT_TRUE(vfs_->close(fd).ok());
  EXPECT_EQ("", readFile("a"));
}

TEST_F(VfsTest, UnlinkedFileStaysReadableUntilClose) {
  writeFile("u", "still here");
  int fd = open("u", O_RDONLY);
  ASSERT_TRUE(vfs_->unlink(At::root(), "u").ok());
  EXPECT_EQ(-ENOENT, open("u", O_RDONLY));
  char buf[32] = {};
  ASSERT_EQ(10u, *vfs_->read(fd, buf, sizeof buf));
  EXPECT_STREQ("still here", buf);
  ASSERT_TRUE(vfs_->close(fd).ok());
}

// Directories on another shard than their parent's take numbers the shard reserved for
// this client; when the shard has forgotten them (it restarted, the session changed),
// mkdir still succeeds the two-step way, and an existing name is EEXIST either way.
TEST_F(VfsTest, MkdirAcrossShardsWithReservedNumbersAndWithout) {
  std::vector<std::string> remote;
  for (int i = 0; remote.size() < 6 && i < 200; ++i) {
    const std::string d = "x" + std::to_string(i);
    if (shardForNewDirectory(kRootIno, d, 2) == 1) remote.push_back(d);
  }
  ASSERT_EQ(6u, remote.size());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(vfs_->mkdir(At::root(), remote[i], 0755).ok()) << remote[i];
  EXPECT_EQ(-EEXIST, -vfs_->mkdir(At::root(), remote[0], 0755).err());
  cluster_->store(1).forgetReservations(1);  // the local cluster's one session
  for (int i = 3; i < 6; ++i) ASSERT_TRUE(vfs_->mkdir(At::root(), remote[i], 0755).ok()) << remote[i];
  EXPECT_EQ(-EEXIST, -vfs_->mkdir(At::root(), remote[4], 0755).err());
  for (const std::string& d : remote) {
    auto st = vfs_->stat(At::root(), d, true);
    ASSERT_TRUE(st.ok()) << d;
    EXPECT_EQ(1u, shardOfInode(st->ino));
    EXPECT_EQ(2u, st->nlink);
    writeFile(d + "/f", d);
  }
  EXPECT_EQ(8u, vfs_->stat(At::root(), "/", true)->nlink);
  EXPECT_EQ(6u, cluster_->store(1).statfs().directories);  // the failed tries left nothing
  for (const std::string& d : remote) {
    ASSERT_TRUE(vfs_->unlink(At::root(), d + "/f").ok());
    ASSERT_TRUE(vfs_->rmdir(At::root(), d).ok()) << d;
  }
}

// In a sticky directory only root and the owners of the directory or of an entry remove
// or rename the entry, also when the entry's inode lives on another shard (whose owner
// the directory's shard cannot see: the client checks).
// A directory entry whose inode was never made (a client died halfway through a
// one-round mkdir across shards) does not stick: rmdir removes the name.
TEST_F(VfsTest, RmdirRemovesAnEntryWhoseDirectoryWasNeverMade) {
  Cred root;
  auto range = cluster_->shard(1).reserveInodes(1);  // a number nobody will use
  ASSERT_TRUE(range.ok());
  ASSERT_TRUE(cluster_->shard(0).addEntry(root, kRootIno, "ghost", range->first, S_IFDIR | 0755, false).ok());
  EXPECT_EQ(ENOENT, vfs_->stat(At::root(), "ghost", true).err());
  ASSERT_TRUE(vfs_->rmdir(At::root(), "ghost").ok());
  EXPECT_EQ(ENOENT, vfs_->rmdir(At::root(), "ghost").err());
  EXPECT_EQ((std::set<std::string>{".", ".."}), list("/"));
  EXPECT_EQ(2u, vfs_->stat(At::root(), "/", true)->nlink);
}

// The same entry in a directory the caller may not write: rmdir says EACCES (the
// parent's shard checks that before it looks at the entry) and the entry stays, until
// someone who may removes it.
TEST_F(VfsTest, RmdirOfAnEntryWhoseDirectoryWasNeverMadeNeedsWritePermission) {
  Cred root;
  ASSERT_TRUE(vfs_->mkdir(At::root(), "locked", 0555).ok());
  const InodeId locked = vfs_->stat(At::root(), "locked", true)->ino;
  auto range = cluster_->shard(1 - shardOfInode(locked)).reserveInodes(1);
  ASSERT_TRUE(range.ok());
  ASSERT_TRUE(cluster_->shardOf(locked).addEntry(root, locked, "ghost", range->first, S_IFDIR | 0755, false).ok());
  ASSERT_EQ(0, seteuid(65534));
  vfs_->credentialsChanged();
  EXPECT_EQ(EACCES, vfs_->rmdir(At::root(), "locked/ghost").err());
  ASSERT_EQ(0, seteuid(0));
  vfs_->credentialsChanged();
  EXPECT_EQ((std::set<std::string>{".", "..", "ghost"}), list("/locked"));
  ASSERT_TRUE(vfs_->rmdir(At::root(), "locked/ghost").ok());
  EXPECT_EQ((std::set<std::string>{".", ".."}), list("/locked"));
}

TEST_F(VfsTest, StickyDirectoryGuardsEntriesWhoseInodesLiveOnAnotherShard) {
  ASSERT_TRUE(vfs_->mkdir(At::root(), "s", 0777).ok());
  ASSERT_TRUE(vfs_->chmod(At::root(), "s", 01777, true).ok());
  const InodeId s = vfs_->stat(At::root(), "s", true)->ino;
  std::vector<std::string> remote;
  for (int i = 0; remote.size() < 2 && i < 200; ++i) {
    const std::string d = "r" + std::to_string(i);
    if (shardForNewDirectory(s, d, 2) != shardOfInode(s)) remote.push_back(d);
  }
  ASSERT_EQ(2u, remote.size());
  for (const std::string& d : remote) ASSERT_TRUE(vfs_->mkdir(At::root(), "s/" + d, 0755).ok());
  ASSERT_EQ(0, seteuid(65534));
  vfs_->credentialsChanged();
  EXPECT_EQ(EPERM, vfs_->rmdir(At::root(), "s/" + remote[0]).err());
  EXPECT_EQ(EPERM, vfs_->rename(At::root(), "s/" + remote[0], At::root(), "s/moved", 0).err());
  ASSERT_TRUE(vfs_->mkdir(At::root(), "s/mine", 0755).ok());
  EXPECT_EQ(EPERM, vfs_->rename(At::root(), "s/mine", At::root(), "s/" + remote[1], 0).err());  // replaces root's
  EXPECT_TRUE(vfs_->rename(At::root(), "s/mine", At::root(), "s/mine2", 0).ok());
  EXPECT_TRUE(vfs_->rmdir(At::root(), "s/mine2").ok());
  ASSERT_EQ(0, seteuid(0));
  vfs_->credentialsChanged();
  EXPECT_TRUE(vfs_->rmdir(At::root(), "s/" + remote[0]).ok());  // root may
}

TEST_F(VfsTest, DirectoriesSpreadOverShardsAndListExactly) {
  std::set<std::string> want;
  for (int i = 0; i < 40; ++i) {
    std::string d = "d" + std::to_string(i);
    ASSERT_TRUE(vfs_->mkdir(At::root(), d, 0755).ok()) << d;
    writeFile(d + "/f", d);
    want.insert(d);
  }
  want.insert(".");
  want.insert("..");
  EXPECT_EQ(want, list("/"));
  std::set<std::uint32_t> shards;
  for (int i = 0; i < 40; ++i) shards.insert(shardOfInode(vfs_->stat(At::root(), "d" + std::to_string(i), true)->ino));
  EXPECT_EQ(2u, shards.size());
  EXPECT_EQ(42u, vfs_->stat(At::root(), "/", true)->nlink);
  for (int i = 0; i < 40; ++i) {
    std::string d = "d" + std::to_string(i);
    EXPECT_EQ(-ENOTEMPTY, -vfs_->rmdir(At::root(), d).err());
    ASSERT_TRUE(vfs_->unlink(At::root(), d + "/f").ok());
    ASSERT_TRUE(vfs_->rmdir(At::root(), d).ok()) << d;
  }
  EXPECT_EQ((std::set<std::string>{".", ".."}), list("/"));
  EXPECT_EQ(2u, vfs_->stat(At::root(), "/", true)->nlink);
}

TEST_F(VfsTest, LargeDirectoryPagesAndSeeks) {
  ASSERT_TRUE(vfs_->mkdir(At::root(), "big", 0755).ok());
  std::set<std::string> want;
  for (int i = 0; i < 700; ++i) {
    std::string n = "file-" + std::to_string(i);
    int fd = open("big/" + n, O_CREAT | O_EXCL | O_WRONLY);
    ASSERT_GT(fd, 0);
    ASSERT_TRUE(vfs_->close(fd).ok());
    want.insert(n);
  }
  want.insert(".");
  want.insert("..");
  EXPECT_EQ(want, list("big"));
  int fd = open("big", O_RDONLY | O_DIRECTORY);
  char buf[512];
  ASSERT_TRUE(vfs_->getdents(fd, buf, sizeof buf).ok());
  auto pos = vfs_->dirTell(fd);
  ASSERT_TRUE(pos.ok());
  ASSERT_TRUE(vfs_->getdents(fd, buf, sizeof buf).ok());
  std::string after(reinterpret_cast<dirent64*>(buf)->d_name);
  ASSERT_TRUE(vfs_->dirSeek(fd, *pos).ok());
  ASSERT_TRUE(vfs_->getdents(fd, buf, sizeof buf).ok());
  EXPECT_EQ(after, reinterpret_cast<dirent64*>(buf)->d_name);
  ASSERT_TRUE(vfs_->close(fd).ok());
}

TEST_F(VfsTest, RenameAcrossShardsMovesTreesAndReplaces) {
  // Find two directories on different shards.
  std::map<std::uint32_t, std::string> byShard;
  for (int i = 0; byShard.size() < 2 && i < 64; ++i) {
    std::string d = "p" + std::to_string(i);
    ASSERT_TRUE(vfs_->mkdir(At::root(), d, 0755).ok());
    byShard.emplace(shardOfInode(vfs_->stat(At::root(), d, true)->ino), d);
  }
  ASSERT_EQ(2u, byShard.size());
  const std::string a = byShard[0], b = byShard[1];
  ASSERT_TRUE(vfs_->mkdir(At::root(), a + "/sub", 0755).ok());
  writeFile(a + "/sub/x", "payload");
  writeFile(b + "/victim", "old");
  writeFile(a + "/f", "new");
  ASSERT_TRUE(vfs_->rename(At::root(), a + "/f", At::root(), b + "/victim", 0).ok());
  EXPECT_EQ("new", readFile(b + "/victim"));
  EXPECT_EQ(-ENOENT, open(a + "/f", O_RDONLY));
  ASSERT_TRUE(vfs_->rename(At::root(), a + "/sub", At::root(), b + "/moved", 0).ok());
  EXPECT_EQ("payload", readFile(b + "/moved/x"));
  EXPECT_EQ(EINVAL, vfs_->rename(At::root(), b, At::root(), b + "/moved/inside", 0).err());
  // ".." of the moved directory is its new parent.
  EXPECT_EQ(vfs_->stat(At::root(), b, true)->ino, vfs_->stat(At::root(), b + "/moved/..", true)->ino);
  EXPECT_EQ(3u, vfs_->stat(At::root(), b, true)->nlink);
  EXPECT_EQ(2u, vfs_->stat(At::root(), a, true)->nlink);
  EXPECT_EQ(EEXIST, vfs_->rename(At::root(), b + "/victim", At::root(), b + "/moved/x", RENAME_NOREPLACE).err());
}

TEST_F(VfsTest, ExchangeAcrossShardsSwapsFilesAndDirectories) {
  std::map<std::uint32_t, std::string> byShard;
  for (int i = 0; byShard.size() < 2 && i < 64; ++i) {
    std::string d = "x" + std::to_string(i);
    ASSERT_TRUE(vfs_->mkdir(At::root(), d, 0755).ok());
    byShard.emplace(shardOfInode(vfs_->stat(At::root(), d, true)->ino), d);
  }
  ASSERT_EQ(2u, byShard.size());
  const std::string a = byShard[0], b = byShard[1];
  writeFile(a + "/f", "file in a");
  ASSERT_TRUE(vfs_->mkdir(At::root(), b + "/d", 0755).ok());
  writeFile(b + "/d/inner", "inner");
  ASSERT_TRUE(vfs_->rename(At::root(), a + "/f", At::root(), b + "/d", RENAME_EXCHANGE).ok());
  EXPECT_EQ("file in a", readFile(b + "/d"));
  EXPECT_EQ("inner", readFile(a + "/f/inner"));
  EXPECT_EQ(vfs_->stat(At::root(), a, true)->ino, vfs_->stat(At::root(), a + "/f/..", true)->ino);
  EXPECT_EQ(3u, vfs_->stat(At::root(), a, true)->nlink);  // gained a subdirectory
  EXPECT_EQ(2u, vfs_->stat(At::root(), b, true)->nlink);  // lost one
  EXPECT_EQ(ENOENT, vfs_->rename(At::root(), a + "/f", At::root(), b + "/missing", RENAME_EXCHANGE).err());
  EXPECT_EQ(EINVAL, vfs_->rename(At::root(), a + "/f", At::root(), a + "/f/inner", RENAME_EXCHANGE).err());
}

TEST_F(VfsTest, HardLinksShareDataAndCountLinks) {
  writeFile("orig", "shared");
  ASSERT_TRUE(vfs_->mkdir(At::root(), "d", 0755).ok());
  ASSERT_TRUE(vfs_->link(At::root(), "orig", At::root(), "d/alias", false).ok());
  EXPECT_EQ(2u, vfs_->stat(At::root(), "orig", true)->nlink);
  ASSERT_TRUE(vfs_->unlink(At::root(), "orig").ok());
  EXPECT_EQ("shared", readFile("d/alias"));
  EXPECT_EQ(1u, vfs_->stat(At::root(), "d/alias", true)->nlink);
  EXPECT_EQ(EPERM, vfs_->link(At::root(), "d", At::root(), "dl", false).err());
}

TEST_F(VfsTest, SymlinksLoopsAndEscapes) {
  ASSERT_TRUE(vfs_->mkdir(At::root(), "dir", 0755).ok());
  writeFile("dir/target", "T");
  ASSERT_TRUE(vfs_->symlink("dir/target", At::root(), "rel").ok());
  ASSERT_TRUE(vfs_->symlink("/myfs/dir", At::root(), "abs").ok());
  ASSERT_TRUE(vfs_->symlink("../dir/target", At::root(), "dir/up").ok());
  EXPECT_EQ("T", readFile("rel"));
  EXPECT_EQ("T", readFile("abs/target"));
  EXPECT_EQ("T", readFile("dir/up"));
  EXPECT_EQ("dir/target", *vfs_->readlink(At::root(), "rel"));
  EXPECT_TRUE(vfs_->stat(At::root(), "rel", false)->isLink());
  EXPECT_EQ("dir/target", *vfs_->realpath(At::root(), "abs/../rel"));
  ASSERT_TRUE(vfs_->symlink("loop2", At::root(), "loop1").ok());
  ASSERT_TRUE(vfs_->symlink("loop1", At::root(), "loop2").ok());
  EXPECT_EQ(ELOOP, vfs_->stat(At::root(), "loop1", true).err());
  EXPECT_EQ(-ELOOP, open("rel", O_RDONLY | O_NOFOLLOW));
  // Leaving the mount hands the rest of the path to the kernel.
  ASSERT_TRUE(vfs_->symlink("/etc/hostname", At::root(), "out").ok());
  EXPECT_EQ(kEscapeErrno, vfs_->stat(At::root(), "out", true).err());
  EXPECT_EQ("/etc/hostname", vfs_->takeEscapedPath());
  EXPECT_EQ(kEscapeErrno, vfs_->stat(At::root(), "dir/../../etc", true).err());
  EXPECT_EQ("/etc", vfs_->takeEscapedPath());
  EXPECT_EQ(kEscapeErrno, vfs_->open(nextFd_++, At::root(), "out", O_CREAT | O_WRONLY, 0644).err());
  EXPECT_EQ("/etc/hostname", vfs_->takeEscapedPath());  // the kernel creates or opens it
  // O_CREAT through a dangling symlink creates its target.
  ASSERT_TRUE(vfs_->symlink("dir/made", At::root(), "dangling").ok());
  int fd = open("dangling", O_CREAT | O_WRONLY);
  ASSERT_GT(fd, 0);
  ASSERT_TRUE(vfs_->close(fd).ok());
  EXPECT_TRUE(vfs_->stat(At::root(), "dir/made", false)->isReg());
}

TEST_F(VfsTest, DupSharesOffsetsAndLastCloseFlushes) {
  int fd = open("dup", O_CREAT | O_RDWR);
  ASSERT_TRUE(vfs_->dup(fd, 555).ok());
  ASSERT_EQ(3u, *vfs_->write(fd, "abc", 3));
  ASSERT_EQ(3u, *vfs_->write(555, "def", 3));
  EXPECT_EQ(6, *vfs_->lseek(fd, 0, SEEK_CUR));
  ASSERT_TRUE(vfs_->close(fd).ok());
  EXPECT_EQ(0, cluster_->counts().dataWrites.load());  // still open through 555
  ASSERT_TRUE(vfs_->close(555).ok());
  EXPECT_EQ(1, cluster_->counts().dataWrites.load());
  EXPECT_EQ("abcdef", readFile("dup"));
  EXPECT_EQ(EBADF, vfs_->close(555).err());
}

// Two processes sharing one description (fork, exec): the offset lives in a kernel file
// both hold; each sees the other's writes once they are flushed.
TEST_F(VfsTest, SharedOffsetLivesInTheKernelFile) {
  int kfd = memfd_create("vfs-test", MFD_CLOEXEC);
  ASSERT_GE(kfd, 0);
  ASSERT_TRUE(vfs_->open(kfd, At::root(), "log", O_CREAT | O_RDWR, 0644).ok());
  ASSERT_EQ(3u, *vfs_->write(kfd, "abc", 3));
  auto info = vfs_->describe(kfd);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->offsetInKernel);
  EXPECT_EQ("log", info->path);
  ASSERT_TRUE(vfs_->shareOffset(kfd, [&](std::uint64_t off) -> Result<void> {
                    EXPECT_EQ(3u, off);
                    if (::lseek(kfd, static_cast<off_t>(off), SEEK_SET) < 0) return Errno(errno);
                    return okResult();
                  }).ok());
  EXPECT_TRUE(vfs_->describe(kfd)->offsetInKernel);
  ASSERT_TRUE(vfs_->syncAll().ok());  // what the shim does before fork

  // The "child": another client adopting the same kernel file.
  VfsOptions o;
  auto child = makeVfs(*cluster_, o);
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE((*child)->adopt(kfd, info->ino, info->path, info->flags).ok());
  ASSERT_EQ(3u, *(*child)->write(kfd, "def", 3));
  EXPECT_EQ(6, ::lseek(kfd, 0, SEEK_CUR));
  ASSERT_TRUE((*child)->close(kfd).ok());  // the child exits: flushed

  ASSERT_EQ(3u, *vfs_->write(kfd, "ghi", 3));  // continues where the child stopped
  EXPECT_EQ(9, *vfs_->lseek(kfd, 0, SEEK_CUR));
  ASSERT_EQ(0, *vfs_->lseek(kfd, 0, SEEK_SET));
  char buf[16] = {};
  ASSERT_EQ(9u, *vfs_->read(kfd, buf, sizeof buf));
  EXPECT_EQ("abcdefghi", std::string(buf, 9));
  EXPECT_EQ(9, ::lseek(kfd, 0, SEEK_CUR));
  EXPECT_EQ(EBADF, vfs_->shareOffset(999, [](std::uint64_t) { return okResult(); }).err());
  ASSERT_TRUE(vfs_->close(kfd).ok());
  ::close(kfd);
  EXPECT_EQ("abcdefghi", readFile("log"));
}

// Two clients (processes) contending for fcntl and flock locks on one file.
TEST_F(VfsTest, LocksExcludeOtherClientsAndGoWithClose) {
  writeFile("locked", "0123456789");
  auto other = makeVfs(*cluster_, VfsOptions{});
  ASSERT_TRUE(other.ok());
  Vfs& b = **other;
  int fa = open("locked", O_RDWR);
  ASSERT_TRUE(b.open(900, At::root(), "locked", O_RDWR, 0).ok());

  ASSERT_TRUE(vfs_->setLock(fa, LockKind::kPosix, F_WRLCK, 0, 4, false).ok());
  EXPECT_EQ(EAGAIN, b.setLock(900, LockKind::kPosix, F_RDLCK, 4, 8, false).err());
  EXPECT_TRUE(b.setLock(900, LockKind::kPosix, F_WRLCK, 5, kLockToEof, false).ok());  // disjoint
  EXPECT_EQ(EAGAIN, b.setLock(900, LockKind::kOfd, F_RDLCK, 0, 0, false).err());      // OFD meets POSIX
  EXPECT_TRUE(b.setLock(900, LockKind::kFlock, F_WRLCK, 0, kLockToEof, false).ok());  // a separate set
  auto seen = b.getLock(900, LockKind::kPosix, F_WRLCK, 0, 100);
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(F_WRLCK, seen->type);
  EXPECT_EQ(0u, seen->start);
  EXPECT_EQ(4u, seen->end);
  EXPECT_EQ(getpid(), seen->pid);

  // Changes written under the lock are what the next holder reads.
  ASSERT_EQ(5u, *vfs_->pwrite(fa, "ABCDE", 5, 0));
  char buf[10] = {};
  ASSERT_EQ(10u, *b.pread(900, buf, 10, 0));  // b caches the old content
  ASSERT_TRUE(vfs_->setLock(fa, LockKind::kPosix, F_UNLCK, 0, kLockToEof, false).ok());
  ASSERT_TRUE(b.setLock(900, LockKind::kPosix, F_WRLCK, 0, 4, false).ok());
  ASSERT_EQ(10u, *b.pread(900, buf, 10, 0));
  EXPECT_EQ("ABCDE56789", std::string(buf, 10));

  // A waiter is woken when the holder closes the file.
  int fa2 = open("locked", O_RDONLY);
  EXPECT_EQ(EAGAIN, vfs_->setLock(fa2, LockKind::kFlock, F_RDLCK, 0, kLockToEof, false).err());  // b holds flock
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_TRUE(b.close(900).ok());
  });
  ASSERT_TRUE(vfs_->setLock(fa2, LockKind::kFlock, F_RDLCK, 0, kLockToEof, true).ok());
  closer.join();
  EXPECT_EQ(EBADF, vfs_->setLock(fa2, LockKind::kPosix, F_WRLCK, 0, 1, false).err());  // read-only fd
  ASSERT_TRUE(vfs_->close(fa2).ok());
  ASSERT_TRUE(vfs_->close(fa).ok());
}

TEST_F(VfsTest, DataServerFailureSurfacesAtCloseAndFsync) {
  int fd = open("fail", O_CREAT | O_WRONLY);
  ASSERT_EQ(4u, *vfs_->write(fd, "data", 4));
  cluster_->failData(EIO);
  EXPECT_EQ(EIO, vfs_->fsync(fd, false).err());
  EXPECT_EQ(EIO, vfs_->close(fd).err());
  cluster_->failData(0);
}

TEST_F(VfsTest, LeasedDentriesAndAttributesSaveLookups) {
  start(2, 2, true);
  ASSERT_TRUE(vfs_->mkdir(At::root(), "c", 0755).ok());
  writeFile("c/f", "x");
  ASSERT_TRUE(vfs_->stat(At::root(), "c/f", true).ok());
  const int lookups = cluster_->counts().lookups.load();
  const int getattrs = cluster_->counts().getattrs.load();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(vfs_->stat(At::root(), "c/f", true).ok());
  EXPECT_EQ(lookups, cluster_->counts().lookups.load());
  EXPECT_EQ(getattrs, cluster_->counts().getattrs.load());
  // The process's own changes update the cache: no stale answer.
  ASSERT_TRUE(vfs_->unlink(At::root(), "c/f").ok());
  EXPECT_EQ(ENOENT, vfs_->stat(At::root(), "c/f", true).err());
}

TEST_F(VfsTest, WithoutLeasesEveryWalkAsksTheServers) {
  ASSERT_TRUE(vfs_->mkdir(At::root(), "c", 0755).ok());
  writeFile("c/f", "x");
  const int lookups = cluster_->counts().lookups.load();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(vfs_->stat(At::root(), "c/f", true).ok());
  EXPECT_EQ(lookups + 20, cluster_->counts().lookups.load());
}

TEST_F(VfsTest, StrictClientsSeeEveryCompletedWriteAtOnce) {
  VfsOptions strict;
  strict.strict = true;
  auto a = makeVfs(*cluster_, strict);
  auto b = makeVfs(*cluster_, strict);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->open(3, At::root(), "s", O_CREAT | O_RDWR, 0644).ok());
  ASSERT_EQ(5u, *(*a)->write(3, "hello", 5));
  ASSERT_TRUE((*b)->open(3, At::root(), "s", O_RDONLY, 0).ok());
  char buf[16] = {};
  ASSERT_EQ(5u, *(*b)->pread(3, buf, sizeof buf, 0));  // written, not closed: seen
  EXPECT_EQ(std::string(buf, 5), "hello");
  // An overwrite and an append through A, read again through B's same open file.
  ASSERT_EQ(5u, *(*a)->pwrite(3, "HELLO", 5, 0));
  ASSERT_EQ(3u, *(*a)->pwrite(3, "!!!", 3, 5));
  ASSERT_EQ(8u, *(*b)->pread(3, buf, sizeof buf, 0));
  EXPECT_EQ(std::string(buf, 8), "HELLO!!!");
  EXPECT_EQ(8u, (*b)->fstat(3)->size);
  ASSERT_TRUE((*a)->close(3).ok());
  ASSERT_TRUE((*b)->close(3).ok());
}

TEST_F(VfsTest, CloseToOpenClientsSeeWritesAfterCloseAndReopen) {
  auto b = makeVfs(*cluster_, VfsOptions{});
  ASSERT_TRUE(b.ok());
  writeFile("c2o", "old!");
  ASSERT_TRUE((*b)->open(3, At::root(), "c2o", O_RDONLY, 0).ok());
  char buf[16] = {};
  ASSERT_EQ(4u, *(*b)->pread(3, buf, sizeof buf, 0));
  writeFile("c2o", "new data");  // another client writes and closes
  ASSERT_TRUE((*b)->close(3).ok());
  ASSERT_TRUE((*b)->open(3, At::root(), "c2o", O_RDONLY, 0).ok());
  ASSERT_EQ(8u, *(*b)->pread(3, buf, sizeof buf, 0));
  EXPECT_EQ(std::string(buf, 8), "new data");
  ASSERT_TRUE((*b)->close(3).ok());
}

TEST_F(VfsTest, DirectIoBypassesThePageCache) {
  writeFile("d", std::string(2 * kChunk, 'a'));
  int fd = open("d", O_RDWR | O_DIRECT);
  ASSERT_GT(fd, 0);
  alignas(4096) static char block[4096];
  std::memset(block, 'z', sizeof block);
  const int writes = cluster_->counts().dataWrites.load();
  ASSERT_EQ(4096u, *vfs_->pwrite(fd, block, sizeof block, 4096));
  EXPECT_GT(cluster_->counts().dataWrites.load(), writes);  // on the servers before returning
  const int reads = cluster_->counts().dataReads.load();
  alignas(4096) static char back[4096];
  ASSERT_EQ(4096u, *vfs_->pread(fd, back, sizeof back, 4096));
  ASSERT_EQ(4096u, *vfs_->pread(fd, back, sizeof back, 4096));
  EXPECT_EQ(reads + 2, cluster_->counts().dataReads.load());  // never from the cache
  EXPECT_EQ(std::string(back, 4096), std::string(4096, 'z'));
  ASSERT_TRUE(vfs_->close(fd).ok());
  EXPECT_EQ(readFile("d").substr(4000, 200), std::string(96, 'a') + std::string(104, 'z'));
}

TEST_F(VfsTest, PageCacheStaysWithinItsBudget) {
  start(2, 2, false, 4 * kChunk);
  writeFile("big", std::string(32 * kChunk, 'b'));
  std::string got = readFile("big");
  EXPECT_EQ(32 * kChunk, got.size());
  // Everything was read back, yet the cache never grew past the budget: reading the first
  // chunk again goes to the servers.
  const int reads = cluster_->counts().dataReads.load();
  int fd = open("big", O_RDONLY);
  char c;
  ASSERT_TRUE(vfs_->pread(fd, &c, 1, 0).ok());
  EXPECT_GT(cluster_->counts().dataReads.load(), reads);
  ASSERT_TRUE(vfs_->close(fd).ok());
}

TEST_F(VfsTest, TheLeastRecentlyUsedFileMakesWayForTheOneInUse) {
  start(2, 2, false, 8 * kChunk);
  writeFile("old", std::string(8 * kChunk, 'o'));
  writeFile("hot", std::string(4 * kChunk, 'h'));
  int oldFd = open("old", O_RDONLY);
  int hotFd = open("hot", O_RDONLY);
  std::string buf(8 * kChunk, '\0');
  ASSERT_EQ(8 * kChunk, *vfs_->pread(oldFd, buf.data(), 8 * kChunk, 0));  // the whole budget
  ASSERT_EQ(4 * kChunk, *vfs_->pread(hotFd, buf.data(), 4 * kChunk, 0));  // over it: "old" goes
  const int reads = cluster_->counts().dataReads.load();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(4 * kChunk, *vfs_->pread(hotFd, buf.data(), 4 * kChunk, 0));
  EXPECT_EQ(reads, cluster_->counts().dataReads.load());  // "hot" stayed cached
  ASSERT_EQ(kChunk, *vfs_->pread(oldFd, buf.data(), kChunk, 0));
  EXPECT_GT(cluster_->counts().dataReads.load(), reads);  // "old" was dropped
  ASSERT_TRUE(vfs_->close(oldFd).ok());
  ASSERT_TRUE(vfs_->close(hotFd).ok());
}

TEST_F(VfsTest, ErrnosOfOpen) {
  writeFile("file", "x");
  ASSERT_TRUE(vfs_->mkdir(At::root(), "dir", 0755).ok());
  EXPECT_EQ(-ENOENT, open("missing", O_RDONLY));
  EXPECT_EQ(-EEXIST, open("file", O_CREAT | O_EXCL | O_WRONLY));
  EXPECT_EQ(-ENOTDIR, open("file/x", O_RDONLY));
  EXPECT_EQ(-ENOTDIR, open("file", O_RDONLY | O_DIRECTORY));
  EXPECT_EQ(-EISDIR, open("dir", O_WRONLY));
  EXPECT_EQ(-EISDIR, open("dir", O_CREAT | O_WRONLY));
  EXPECT_EQ(-ENAMETOOLONG, open(std::string(300, 'n'), O_CREAT | O_WRONLY));
  int fd = open("file", O_RDONLY);
  char b;
  EXPECT_EQ(EBADF, vfs_->write(fd, "x", 1).err());
  EXPECT_EQ(EINVAL, vfs_->ftruncate(fd, 0).err());
  EXPECT_EQ(EINVAL, vfs_->lseek(fd, -1, SEEK_SET).err());
  EXPECT_EQ(ENXIO, vfs_->lseek(fd, 5, SEEK_DATA).err());
  ASSERT_TRUE(vfs_->close(fd).ok());
  fd = open("dir", O_RDONLY);
  EXPECT_EQ(EISDIR, vfs_->read(fd, &b, 1).err());
  ASSERT_TRUE(vfs_->close(fd).ok());
}

}  // namespace
}  // namespace myfs

namespace myfs {
namespace {

// The held current directory (Vfs::holdCwd, At::cwd): paths built from its old name
// reach it after a rename, "." names it after its removal, getcwd's name follows it.
class VfsCwdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<LocalCluster>(2, 1, 1u << 16);
    auto v = makeVfs(*cluster_, VfsOptions{});
    ASSERT_TRUE(v.ok());
    vfs_ = std::move(*v);
  }
  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<Vfs> vfs_;
};

TEST_F(VfsCwdTest, RelativePathsFollowTheHeldDirectory) {
  ASSERT_TRUE(vfs_->mkdir(At::root(), "a", 0755).ok());
  ASSERT_TRUE(vfs_->mkdir(At::root(), "a/d", 0755).ok());
  const InodeId d = vfs_->stat(At::root(), "a/d", true)->ino;
  EXPECT_EQ(d, vfs_->holdCwd("a/d", 0));
  ASSERT_TRUE(vfs_->rename(At::root(), "a/d", At::root(), "e", 0).ok());
  // The front end still builds "a/d/..." from the name it knows.
  ASSERT_TRUE(vfs_->mkdir(At::cwd(), "a/d/sub", 0755).ok());
  EXPECT_TRUE(vfs_->stat(At::root(), "e/sub", true).ok());
  EXPECT_EQ(d, vfs_->stat(At::cwd(), "a/d/.", true)->ino);
  EXPECT_EQ(ENOENT, vfs_->stat(At::root(), "a/d", true).err());  // by name from the root: gone
  ASSERT_TRUE(vfs_->cwdPath().ok());
  EXPECT_EQ("e", *vfs_->cwdPath());

  // A process started with the old name and the inode number holds the inode.
  EXPECT_EQ(d, vfs_->holdCwd("a/d", d));
  EXPECT_TRUE(vfs_->stat(At::cwd(), "a/d/sub", true).ok());

  ASSERT_TRUE(vfs_->rmdir(At::root(), "e/sub").ok());
  EXPECT_EQ(d, vfs_->holdCwd("e", 0));
  ASSERT_TRUE(vfs_->rmdir(At::root(), "e").ok());
  auto dot = vfs_->stat(At::cwd(), "e/.", true);
  ASSERT_TRUE(dot.ok());
  EXPECT_EQ(0u, dot->nlink);
  EXPECT_TRUE(dot->isDir());
  EXPECT_EQ(ENOENT, vfs_->mkdir(At::cwd(), "e/x", 0755).err());
  EXPECT_EQ(ENOENT, vfs_->cwdPath().err());
  vfs_->releaseCwd();
  EXPECT_EQ(ENOENT, vfs_->stat(At::cwd(), "e/.", true).err());
}

// After this Vfs removed the held directory (rmdir, or a rename over it), its name leads
// to a directory made since: relative paths still start at the removed one.
TEST_F(VfsCwdTest, ARemovedHeldDirectoryKeepsItsPlaceFromNewDirectoriesOfItsName) {
  ASSERT_TRUE(vfs_->mkdir(At::root(), "d", 0755).ok());
  const InodeId d = vfs_->holdCwd("d", 0);
  ASSERT_NE(0u, d);
  ASSERT_TRUE(vfs_->rmdir(At::root(), "d").ok());
  ASSERT_TRUE(vfs_->mkdir(At::root(), "d", 0755).ok());
  EXPECT_EQ(ENOENT, vfs_->mkdir(At::cwd(), "d/x", 0755).err());
  EXPECT_EQ(ENOENT, vfs_->stat(At::root(), "d/x", true).err());
  EXPECT_EQ(0u, vfs_->stat(At::cwd(), "d/.", true)->nlink);
  EXPECT_EQ(ENOENT, vfs_->cwdPath().err());
  // Renaming the new directory does not move the current directory to it.
  ASSERT_TRUE(vfs_->rename(At::root(), "d", At::root(), "n", 0).ok());
  EXPECT_EQ(d, vfs_->holdCwd("n", d));
  EXPECT_EQ(0u, vfs_->stat(At::cwd(), "n/.", true)->nlink);

  ASSERT_TRUE(vfs_->mkdir(At::root(), "e", 0755).ok());
  const InodeId e = vfs_->holdCwd("e", 0);
  ASSERT_TRUE(vfs_->rename(At::root(), "n", At::root(), "e", 0).ok());  // replaces e
  EXPECT_EQ(ENOENT, vfs_->mkdir(At::cwd(), "e/x", 0755).err());
  auto dot = vfs_->stat(At::cwd(), "e/.", true);
  ASSERT_TRUE(dot.ok());
  EXPECT_EQ(e, dot->ino);
  EXPECT_EQ(0u, dot->nlink);
  EXPECT_EQ(ENOENT, vfs_->cwdPath().err());
  // Holding the directory again by its name holds what the name leads to now.
  EXPECT_NE(e, vfs_->holdCwd("e", 0));
  EXPECT_TRUE(vfs_->mkdir(At::cwd(), "e/x", 0755).ok());
}

}  // namespace
}  // namespace myfs
