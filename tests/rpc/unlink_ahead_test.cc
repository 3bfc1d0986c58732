// Unlinks and mkdirs decided by the client under a directory's delegation and sent to the
// server without waiting (core/vfs_delegate.cc unlinkDelegated, mkdirDelegated;
// makeFiles removals and directories), end to end in one process: client A unlinks and
// makes directories in a directory delegated to it, client B must find the names gone,
// their data removed, names made again there the new files, and the new directories
// there, usable, on their shards. Each test runs with one metadata shard and with two.
// scripts/sanitize.sh runs this under AddressSanitizer and ThreadSanitizer.
//
// The fixture (servers, clients, counting): tests/rpc/delegation_fixture.h.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/rpc/delegation_fixture.h"

namespace myfs {
namespace {

using namespace delegation_testing;  // NOLINT(google-build-using-namespace): the fixture's helpers

class UnlinkAheadTest : public DelegationTest {
 protected:
  // Regular files the data server holds chunks of (one directory per inode).
  std::size_t inodesWithData() const {
    std::size_t n = 0;
    const std::filesystem::path chunks = dir_ + "/data/chunks";
    if (!std::filesystem::exists(chunks)) return 0;
    for (const auto& e : std::filesystem::directory_iterator(chunks)) n += e.is_directory() ? 1 : 0;
    return n;
  }
  // Waits (up to 5 s) until the data server holds chunks of `want` inodes.
  std::size_t waitInodesWithData(std::size_t want) const {
    const auto until = Clock::now() + std::chrono::seconds(5);
    std::size_t n = inodesWithData();
    while (n != want && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      n = inodesWithData();
    }
    return n;
  }
  Result<void> writeFile(Vfs& vfs, const std::string& path, const std::string& bytes, int flags) {
    MYFS_TRY(vfs.open(12, At::root(), path, flags | O_WRONLY, 0644));
    Result<size_t> w = vfs.write(12, bytes.data(), bytes.size());
    if (!w || *w != bytes.size()) {
      (void)vfs.close(12);
      return Errno(w ? EIO : w.err());
    }
    return vfs.close(12);
  }
  Result<std::string> readFile(Vfs& vfs, int fd, const std::string& path) {
    MYFS_TRY(vfs.open(fd, At::root(), path, O_RDONLY, 0));
    std::string out;
    std::vector<char> buf(1 << 16);
    for (;;) {
      Result<size_t> r = vfs.read(fd, buf.data(), buf.size());
      if (!r) {
        (void)vfs.close(fd);
        return r.error();
      }
      if (*r == 0) break;
      out.append(buf.data(), *r);
    }
    MYFS_TRY(vfs.close(fd));
    return out;
  }
};

// 1. A makes files (some with data) and unlinks them all: all but the first two unlinks
//    go by makeFiles, not unlink calls; B then finds none of them, by stat or listing,
//    and the data server holds none of their data.
TEST_P(UnlinkAheadTest, FilesOneClientUnlinkedOnItsOwnAreGoneForTheOther) {
  constexpr int kFiles = 120;
  const std::string d = dirName("gone");
  ASSERT_TRUE(a_->mkdir(At::root(), d, 0755).ok());
  const std::size_t data0 = inodesWithData();
  for (int i = 0; i < kFiles; ++i) {
    const std::string path = d + "/f" + std::to_string(i);
    if (i % 4 == 0) {
      ASSERT_TRUE(writeFile(*a_, path, pattern(5000 + i, i), O_CREAT | O_EXCL).ok()) << path;
    } else {
      ASSERT_TRUE(createExclusive(*a_, 10, path, 0644).ok()) << path;
    }
  }
  EXPECT_EQ(data0 + kFiles / 4, waitInodesWithData(data0 + kFiles / 4));
  const int unlinks0 = view_->count("unlink");
  for (int i = 0; i < kFiles; ++i) {
    Result<void> r = a_->unlink(At::root(), d + "/f" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << i << ": " << errnoName(r.err());
  }
  EXPECT_LE(view_->count("unlink") - unlinks0, 2 + kFiles / 20) << "A's unlinks went to the server one by one";
  // Gone for A at once, and for B.
  EXPECT_EQ(ENOENT, a_->stat(At::root(), d + "/f7", true).err());
  EXPECT_EQ(ENOENT, a_->unlink(At::root(), d + "/f7").err());
  for (int i : {0, 1, 2, kFiles / 2, kFiles - 1}) {
    EXPECT_EQ(ENOENT, b_->stat(At::root(), d + "/f" + std::to_string(i), true).err()) << i;
  }
  auto listed = listDir(*b_, 11, d);
  ASSERT_TRUE(listed.ok()) << errnoName(listed.err());
  EXPECT_TRUE(listed->empty()) << listed->size() << " names left, the first " << listed->begin()->first;
  EXPECT_EQ(data0, waitInodesWithData(data0)) << "data of unlinked files left on the data server";
  Result<Attr> dir = b_->stat(At::root(), d, true);
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(2u, dir->nlink);
}

// 2. A name unlinked on our own and made again at once, over and over: every create is
//    exclusive and succeeds, and B finds the last file made, once, with its data.
TEST_P(UnlinkAheadTest, ANameUnlinkedAndMadeAgainIsTheNewFile) {
  const std::string d = dirName("again");
  ASSERT_TRUE(a_->mkdir(At::root(), d, 0755).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(createExclusive(*a_, 10, d + "/lead" + std::to_string(i), 0644).ok());
  std::string last;
  for (int round = 0; round < 40; ++round) {
    last = pattern(100 + round, 1000 + round);
    ASSERT_TRUE(writeFile(*a_, d + "/x", last, O_CREAT | O_EXCL).ok()) << round;
    if (round + 1 < 40) {
      ASSERT_TRUE(a_->unlink(At::root(), d + "/x").ok()) << round;
    }
  }
  Result<std::string> back = readFile(*b_, 40, d + "/x");
  ASSERT_TRUE(back.ok()) << errnoName(back.err());
  EXPECT_TRUE(*back == last) << "B reads " << back->size() << " bytes, not the last file's " << last.size();
  auto listed = listDir(*b_, 11, d);
  ASSERT_TRUE(listed.ok()) << errnoName(listed.err());
  EXPECT_EQ((std::set<std::string>{"lead0", "lead1", "x"}), [&] {
    std::set<std::string> names;
    for (const auto& [name, l] : *listed) names.insert(name);
    return names;
  }());
}

// 3. A file open here when unlinked (its unlink goes to the server: it must not be
//    freed under the open descriptor) stays readable through the descriptor; its data
//    goes once it is closed. Unlinks around it in the directory stay on our own.
TEST_P(UnlinkAheadTest, AnOpenFileUnlinkedOnItsOwnStaysReadableUntilClosed) {
  const std::string d = dirName("open");
  ASSERT_TRUE(a_->mkdir(At::root(), d, 0755).ok());
  const std::size_t data0 = inodesWithData();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(createExclusive(*a_, 10, d + "/lead" + std::to_string(i), 0644).ok());
  const std::string bytes = pattern(300000, 7);
  ASSERT_TRUE(writeFile(*a_, d + "/held", bytes, O_CREAT | O_EXCL).ok());
  ASSERT_EQ(data0 + 1, waitInodesWithData(data0 + 1));
  ASSERT_TRUE(a_->open(20, At::root(), d + "/held", O_RDONLY, 0).ok());
  const int unlinks0 = view_->count("unlink");
  ASSERT_TRUE(a_->unlink(At::root(), d + "/held").ok());
  Result<Attr> gone = a_->fstat(20);
  ASSERT_TRUE(gone.ok()) << errnoName(gone.err());
  EXPECT_EQ(0u, gone->nlink);
  ASSERT_TRUE(a_->unlink(At::root(), d + "/lead0").ok());
  ASSERT_TRUE(a_->unlink(At::root(), d + "/lead1").ok());
  EXPECT_EQ(1, view_->count("unlink") - unlinks0);
  EXPECT_EQ(ENOENT, b_->stat(At::root(), d + "/held", true).err());
  std::string back(bytes.size(), '\0');
  Result<size_t> r = a_->pread(20, back.data(), back.size(), 0);
  ASSERT_TRUE(r.ok()) << errnoName(r.err());
  EXPECT_EQ(bytes.size(), *r);
  EXPECT_TRUE(back == bytes) << "the unlinked file reads other bytes through its open descriptor";
  EXPECT_EQ(data0 + 1, inodesWithData()) << "its data went while it was open";
  ASSERT_TRUE(a_->close(20).ok());
  EXPECT_EQ(data0, waitInodesWithData(data0)) << "its data stayed after the last close";
}

// 4. B looked at a file (holding a lease on it) before A had the directory delegated;
//    A's unlink of it on its own recalls B's lease before the server removes it: B's
//    next stat finds it gone. Hard links elsewhere keep the inode and its data.
TEST_P(UnlinkAheadTest, AnUnlinkOnItsOwnRecallsOthersLeasesOnTheFile) {
  const std::string d = dirName("seen");
  ASSERT_TRUE(a_->mkdir(At::root(), d, 0755).ok());
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(createExclusive(*a_, 10, d + "/f" + std::to_string(i), 0644).ok());
  ASSERT_TRUE(writeFile(*a_, d + "/linked", "kept", O_CREAT | O_EXCL).ok());
  ASSERT_TRUE(a_->link(At::root(), d + "/linked", At::root(), d + "/linked2", 0).ok());
  Result<Attr> seen = b_->stat(At::root(), d + "/f3", true);  // recalls A's delegation
  ASSERT_TRUE(seen.ok()) << errnoName(seen.err());
  std::this_thread::sleep_for(std::chrono::milliseconds(250));  // A may ask for it again
  const int invalidates0 = view_->invalidates.load();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(a_->unlink(At::root(), d + "/f" + std::to_string(i)).ok()) << i;
  ASSERT_TRUE(a_->unlink(At::root(), d + "/linked").ok());
  EXPECT_GE(view_->invalidates.load() - invalidates0, 1) << "nobody was called back";
  // A's own listing right after (its calls wait for its removals held up by the recall).
  auto mine = listDir(*a_, 13, d);
  ASSERT_TRUE(mine.ok()) << errnoName(mine.err());
  EXPECT_EQ(1u, mine->size()) << "A lists what it unlinked";
  EXPECT_EQ(ENOENT, b_->stat(At::root(), d + "/f3", true).err());
  Result<std::string> kept = readFile(*b_, 41, d + "/linked2");
  ASSERT_TRUE(kept.ok()) << errnoName(kept.err());
  EXPECT_EQ("kept", *kept);
  Result<Attr> linked2 = b_->stat(At::root(), d + "/linked2", true);
  ASSERT_TRUE(linked2.ok());
  EXPECT_EQ(1u, linked2->nlink);
  auto listed = listDir(*b_, 11, d);
  ASSERT_TRUE(listed.ok()) << errnoName(listed.err());
  EXPECT_EQ(1u, listed->size());
  // rm -r: B looks at the last file first, so that its unlink waits for B; the rmdir
  // right after it still finds the directory empty.
  ASSERT_TRUE(b_->stat(At::root(), d + "/linked2", true).ok());
  ASSERT_TRUE(a_->unlink(At::root(), d + "/linked2").ok());
  Result<void> removed = a_->rmdir(At::root(), d);
  EXPECT_TRUE(removed.ok()) << errnoName(removed.err());
  EXPECT_EQ(ENOENT, b_->stat(At::root(), d, true).err());
}

// 5. A directory with more names than a delegation lists (4096) is delegated for unlinks
//    all the same: A unlinks names it knows without a call each, and B finds them gone.
TEST_P(UnlinkAheadTest, ABigDirectoryIsDelegatedForUnlinksWithoutItsList) {
  constexpr int kFiles = 4200;
  const std::string d = dirName("big");
  ASSERT_TRUE(a_->mkdir(At::root(), d, 0755).ok());
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_TRUE(createExclusive(*a_, 10, d + "/f" + std::to_string(i), 0644).ok()) << i;
  }
  auto listed = listDir(*b_, 11, d);  // recalls A's delegation
  ASSERT_TRUE(listed.ok()) << errnoName(listed.err());
  ASSERT_EQ(static_cast<std::size_t>(kFiles), listed->size());
  std::this_thread::sleep_for(std::chrono::milliseconds(250));  // A may ask for it again
  const int unlinks0 = view_->count("unlink");
  for (int i = 0; i < kFiles; i += 2) {
    ASSERT_TRUE(a_->unlink(At::root(), d + "/f" + std::to_string(i)).ok()) << i;
  }
  EXPECT_LE(view_->count("unlink") - unlinks0, 2 + kFiles / 40) << "A's unlinks went to the server one by one";
  listed = listDir(*b_, 11, d);
  ASSERT_TRUE(listed.ok()) << errnoName(listed.err());
  EXPECT_EQ(static_cast<std::size_t>(kFiles / 2), listed->size());
  EXPECT_EQ(0u, listed->count("f0"));
  EXPECT_EQ(1u, listed->count("f1"));
}

// 6. A makes directories on its own in a directory delegated to it (each on the shard its
//    name leads to): few mkdir calls reach the servers; A walks into them at once; B
//    finds each with its mode, link counts that add up, and what A made inside.
TEST_P(UnlinkAheadTest, DirectoriesOneClientMadeOnItsOwnAreThereForTheOther) {
  constexpr int kDirs = 60;
  const std::string d = dirName("dirs");
  ASSERT_TRUE(a_->mkdir(At::root(), d, 0755).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(createExclusive(*a_, 10, d + "/lead" + std::to_string(i), 0644).ok());
  const int calls0 = view_->count("mkdir") + view_->count("mkdirRemote");
  for (int i = 0; i < kDirs; ++i) {
    const std::string sub = d + "/s" + std::to_string(i);
    Result<void> r = a_->mkdir(At::root(), sub, i % 2 ? 0750 : 0700);
    ASSERT_TRUE(r.ok()) << sub << ": " << errnoName(r.err());
    if (i % 10 == 0) {
      ASSERT_TRUE(createExclusive(*a_, 10, sub + "/inner", 0600).ok()) << sub;
    }
  }
  EXPECT_LE(view_->count("mkdir") + view_->count("mkdirRemote") - calls0, 2 + kDirs / 20)
      << "A's mkdirs went to the server one by one";
  EXPECT_EQ(EEXIST, a_->mkdir(At::root(), d + "/s3", 0755).err());
  EXPECT_EQ(EEXIST, a_->mkdir(At::root(), d + "/lead0", 0755).err());
  Result<Attr> mine = a_->stat(At::root(), d + "/s1", true);
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(static_cast<std::uint32_t>(S_IFDIR | 0750), mine->mode);

  auto listed = listDir(*b_, 11, d);
  ASSERT_TRUE(listed.ok()) << errnoName(listed.err());
  EXPECT_EQ(static_cast<std::size_t>(kDirs + 2), listed->size());
  for (int i = 0; i < kDirs; ++i) {
    const std::string sub = d + "/s" + std::to_string(i);
    Result<Attr> seen = b_->stat(At::root(), sub, true);
    ASSERT_TRUE(seen.ok()) << sub << ": " << errnoName(seen.err());
    EXPECT_EQ(static_cast<std::uint32_t>(S_IFDIR | (i % 2 ? 0750 : 0700)), seen->mode) << sub;
    EXPECT_EQ(2u, seen->nlink) << sub;
    EXPECT_EQ(listed->at("s" + std::to_string(i)).ino, seen->ino) << sub;
    auto inside = listDir(*b_, 12, sub);
    ASSERT_TRUE(inside.ok()) << sub << ": " << errnoName(inside.err());
    EXPECT_EQ(i % 10 == 0 ? 1u : 0u, inside->size()) << sub;
  }
  Result<Attr> parent = b_->stat(At::root(), d, true);
  ASSERT_TRUE(parent.ok());
  EXPECT_EQ(static_cast<std::uint32_t>(2 + kDirs), parent->nlink);
  // B removes one; A's next look finds it gone.
  ASSERT_TRUE(b_->rmdir(At::root(), d + "/s5").ok());
  EXPECT_EQ(ENOENT, a_->stat(At::root(), d + "/s5", true).err());
}

// 7. In a setgid directory, directories made on our own inherit the group and the setgid
//    bit (as the server would make them), and a mode asking for setuid or setgid gets
//    neither asked bit.
TEST_P(UnlinkAheadTest, DirectoriesMadeOnTheirOwnInheritSetgid) {
  const std::string d = dirName("sgid");
  ASSERT_TRUE(a_->mkdir(At::root(), d, 0755).ok());
  ASSERT_TRUE(a_->chown(At::root(), d, static_cast<uid_t>(-1), 4321, true).ok());
  ASSERT_TRUE(a_->chmod(At::root(), d, 02775, true).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(createExclusive(*a_, 10, d + "/lead" + std::to_string(i), 0644).ok());
  const int calls0 = view_->count("mkdir") + view_->count("mkdirRemote");
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(a_->mkdir(At::root(), d + "/g" + std::to_string(i), 06755).ok()) << i;
  EXPECT_LE(view_->count("mkdir") + view_->count("mkdirRemote") - calls0, 1) << "not made on its own";
  for (int i = 0; i < 6; ++i) {
    Result<Attr> seen = b_->stat(At::root(), d + "/g" + std::to_string(i), true);
    ASSERT_TRUE(seen.ok()) << errnoName(seen.err());
    EXPECT_EQ(static_cast<std::uint32_t>(S_IFDIR | 02755), seen->mode) << i;
    EXPECT_EQ(4321u, seen->gid) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Shards, UnlinkAheadTest, ::testing::Values(1u, 2u),
                         [](const ::testing::TestParamInfo<std::uint32_t>& p) {
                           return std::to_string(p.param) + "shard" + (p.param == 1 ? "" : "s");
                         });

}  // namespace
}  // namespace myfs
