// Directory delegation end to end, in one process: two clients (each a Vfs over its own
// RpcCluster, as the LD_PRELOAD client builds one) against the same metadata server(s)
// and data server, hosted by threads of this process on unix sockets. Client A creates
// files in a directory; after two creates it has the directory delegated and makes the
// rest on its own (core/vfs_delegate.cc), sending each to the server without waiting
// (Cluster::oweFile, pushOwed). Client B's next look at the directory recalls the
// delegation and must find every one of them made. Each test runs with one metadata
// shard and with two (the directory then on the second: made by mkdirRemote).
// scripts/sanitize.sh runs this under AddressSanitizer and ThreadSanitizer.
//
// The fixture (servers, clients, counting): tests/rpc/delegation_fixture.h.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/rpc/delegation_fixture.h"

namespace myfs {
namespace {

using namespace delegation_testing;  // NOLINT(google-build-using-namespace): the fixture's helpers

constexpr mode_t kModes[] = {0644, 0600, 0640, 0604, 0444};

// 1. A makes N files with O_EXCL in a new directory; all but the first two are made on its
//    own (few creates reach the server; makeFiles carries them). B's exclusive create of
//    A's last name, right after, fails; B then finds every file with its mode and the
//    inode A has for it, by stat and by listing; A's exclusive create of a name B made
//    fails.
TEST_P(DelegationTest, FilesOneClientMadeOnItsOwnAreThereForTheOther) {
  constexpr int kFiles = 200;
  const std::string d = dirName("one");
  ASSERT_TRUE(a_->mkdir(At::root(), d, 0755).ok());
  const int creates0 = view_->count("create");
  const int delegations0 = view_->count("delegateDir");
  const int sent0 = view_->filesSent.load();
  for (int i = 0; i < kFiles; ++i) {
    Result<void> r = createExclusive(*a_, 10, d + "/f" + std::to_string(i), kModes[i % 5]);
    ASSERT_TRUE(r.ok()) << i << ": " << errnoName(r.err());
  }
  const int creates = view_->count("create") - creates0;
  EXPECT_GE(view_->count("delegateDir") - delegations0, 1) << "A never asked for the directory";
  EXPECT_LE(creates, 2 + kFiles / 20) << "A's creates went to the server one by one: not delegated";

  // B's first look: its exclusive create of the name A made last (perhaps not answered for yet).
  Result<void> mine = createExclusive(*b_, 10, d + "/f" + std::to_string(kFiles - 1), 0644);
  EXPECT_EQ(EEXIST, mine.err()) << errnoName(mine.err());
  EXPECT_GE(view_->filesSent.load() - sent0, kFiles - 2 - kFiles / 20) << "the files did not go by makeFiles";

  std::set<InodeId> inos;
  for (int i = 0; i < kFiles; ++i) {
    const std::string path = d + "/f" + std::to_string(i);
    Result<Attr> seen = b_->stat(At::root(), path, true);
    ASSERT_TRUE(seen.ok()) << path << ": " << errnoName(seen.err());
    EXPECT_EQ(S_IFREG | kModes[i % 5], seen->mode) << path;
    EXPECT_EQ(1u, seen->nlink) << path;
    EXPECT_EQ(0u, seen->size) << path;
    Result<Attr> own = a_->stat(At::root(), path, true);
    ASSERT_TRUE(own.ok()) << path << ": " << errnoName(own.err());
    EXPECT_EQ(own->ino, seen->ino) << path << ": A and B see different inodes";
    EXPECT_TRUE(inos.insert(seen->ino).second) << path << ": inode " << seen->ino << " twice";
  }
  std::vector<std::string> twice;
  auto listed = listDir(*b_, 11, d, &twice);
  ASSERT_TRUE(listed.ok()) << errnoName(listed.err());
  EXPECT_TRUE(twice.empty()) << twice.size() << " names listed twice, e.g. " << twice.front();
  EXPECT_EQ(static_cast<std::size_t>(kFiles), listed->size());
  for (int i = 0; i < kFiles; ++i) {
    const std::string name = "f" + std::to_string(i);
    auto it = listed->find(name);
    if (it == listed->end()) {
      ADD_FAILURE() << "B's listing lacks " << name;
      continue;
    }
    EXPECT_EQ(unsigned{DT_REG}, it->second.type) << name;
    EXPECT_EQ(b_->stat(At::root(), d + "/" + name, true)->ino, it->second.ino) << name;
  }

  // A name B makes now: A's exclusive create of it fails, a plain open finds B's file.
  ASSERT_TRUE(createExclusive(*b_, 10, d + "/fromB", 0640).ok());
  Result<void> again = createExclusive(*a_, 10, d + "/fromB", 0644);
  EXPECT_EQ(EEXIST, again.err()) << errnoName(again.err());
  ASSERT_TRUE(a_->open(10, At::root(), d + "/fromB", O_CREAT | O_WRONLY, 0644).ok());
  Result<Attr> opened = a_->fstat(10);
  ASSERT_TRUE(a_->close(10).ok());
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(b_->stat(At::root(), d + "/fromB", true)->ino, opened->ino);
  EXPECT_EQ(S_IFREG | 0640u, opened->mode);
  auto byA = listDir(*a_, 11, d);
  ASSERT_TRUE(byA.ok()) << errnoName(byA.err());
  EXPECT_EQ(static_cast<std::size_t>(kFiles + 1), byA->size());
  EXPECT_EQ(1u, byA->count("fromB"));
}

// 2. Four threads of A create files in one directory at once (it is delegated, recalled by
//    B's listings, delegated again after the quiet time, ...) while a thread of B lists it
//    and looks names up: each listing has every file whose create returned before it
//    began, no name twice; at the end both clients list exactly what was made, with no
//    inode number twice. (The ThreadSanitizer target.)
TEST_P(DelegationTest, ConcurrentCreatesOfOneClientWhileTheOtherListsTheDirectory) {
  constexpr int kThreads = 4;
  constexpr int kMaxPerThread = 800;  // the directory stays below kDelegateMaxEntries (4096)
  // A delegation recalled is asked for again after a quiet second: about three rounds.
  const auto kRun = std::chrono::milliseconds(3000);
  const std::string d = dirName("conc");
  ASSERT_TRUE(a_->mkdir(At::root(), d, 0755).ok());
  const int delegations0 = view_->count("delegateDir");
  const int invalidates0 = view_->invalidates.load();
  const int sent0 = view_->filesSent.load();
  // Two creates first: the threads start in a directory delegated to A.
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(createExclusive(*a_, 10, d + "/lead" + std::to_string(i), 0644).ok());
  ASSERT_EQ(1, view_->count("delegateDir") - delegations0) << "A did not ask for the directory";
  std::array<std::atomic<int>, kThreads> done{};  // thread t made t-0 .. t-(done[t]-1)
  std::atomic<int> creatorsLeft{kThreads};
  std::atomic<int> createFailures{0};
  std::mutex mu;
  std::vector<std::string> problems;  // GUARDED_BY(mu)
  auto problem = [&](std::string what) {
    std::lock_guard lock(mu);
    if (problems.size() < 20) problems.push_back(std::move(what));
  };
  auto name = [](int t, int i) { return "t" + std::to_string(t) + "-" + std::to_string(i); };
  const auto until = Clock::now() + kRun;

  auto creator = [&](int t) {
    for (int i = 0; i < kMaxPerThread && Clock::now() < until; ++i) {
      Result<void> r = createExclusive(*a_, 100 + t, d + "/" + name(t, i), 0644);
      if (!r) {
        ++createFailures;
        problem("A's create of " + name(t, i) + ": " + errnoName(r.err()));
        break;
      }
      done[t].store(i + 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
    --creatorsLeft;
  };
  int listings = 0;
  auto lister = [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // A's threads make files on their own first
    while (creatorsLeft.load() > 0) {
      std::array<int, kThreads> before{};
      for (int t = 0; t < kThreads; ++t) before[t] = done[t].load();
      std::vector<std::string> twice;
      auto listed = listDir(*b_, 200, d, &twice);
      ++listings;
      if (!listed) {
        problem(std::string("B's listing: ") + errnoName(listed.err()));
        continue;
      }
      for (const std::string& n : twice) problem("B listed " + n + " twice");
      for (int t = 0; t < kThreads; ++t) {
        for (int i = 0; i < before[t]; ++i) {
          if (listed->count(name(t, i)) == 0) problem("B's listing lacks " + name(t, i) + ", made before it began");
        }
        // The latest one made, looked up by name.
        if (before[t] > 0) {
          Result<Attr> seen = b_->stat(At::root(), d + "/" + name(t, before[t] - 1), true);
          if (!seen) problem("B's stat of " + name(t, before[t] - 1) + ": " + errnoName(seen.err()));
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(150));  // A gets a while to make files on its own
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(creator, t);
  threads.emplace_back(lister);
  for (auto& th : threads) th.join();
  for (const std::string& p : problems) ADD_FAILURE() << p;
  EXPECT_EQ(0, createFailures.load());
  EXPECT_GE(listings, 2);
  EXPECT_GT(view_->filesSent.load() - sent0, 0) << "A's threads made no file on their own";
  EXPECT_GE(view_->invalidates.load() - invalidates0, 1) << "B's looks recalled nothing";

  std::set<std::string> want{"lead0", "lead1"};
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < done[t].load(); ++i) want.insert(name(t, i));
  }
  for (Vfs* v : {b_.get(), a_.get()}) {
    const char* who = v == a_.get() ? "A" : "B";
    std::vector<std::string> twice;
    auto listed = listDir(*v, 300, d, &twice);
    ASSERT_TRUE(listed.ok()) << who << ": " << errnoName(listed.err());
    EXPECT_TRUE(twice.empty()) << who << " listed " << twice.size() << " names twice";
    std::set<std::string> got;
    std::set<InodeId> inos;
    for (const auto& [n, e] : *listed) {
      got.insert(n);
      EXPECT_TRUE(inos.insert(e.ino).second) << who << ": inode " << e.ino << " listed twice (" << n << ")";
    }
    EXPECT_EQ(want.size(), got.size()) << who;
    std::vector<std::string> missing, extra;
    std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::back_inserter(missing));
    std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(extra));
    EXPECT_TRUE(missing.empty()) << who << " lacks " << missing.size() << ", e.g. " << missing.front();
    EXPECT_TRUE(extra.empty()) << who << " has " << extra.size() << " extra, e.g. " << extra.front();
  }
  std::set<InodeId> inos;
  for (const std::string& n : want) {
    Result<Attr> seen = b_->stat(At::root(), d + "/" + n, true);
    ASSERT_TRUE(seen.ok()) << n << ": " << errnoName(seen.err());
    EXPECT_EQ(S_IFREG | 0644u, seen->mode) << n;
    EXPECT_TRUE(inos.insert(seen->ino).second) << n << ": st_ino " << seen->ino << " twice";
    Result<Attr> own = a_->stat(At::root(), d + "/" + n, true);
    ASSERT_TRUE(own.ok()) << n << ": " << errnoName(own.err());
    EXPECT_EQ(own->ino, seen->ino) << n;
  }
}

// 3. Files A creates (made on its own) and writes, then closes, read back identically
//    through B, with their sizes.
TEST_P(DelegationTest, DataWrittenIntoFilesMadeOnTheirOwnReadsBackThroughTheOther) {
  const std::string d = dirName("data");
  ASSERT_TRUE(a_->mkdir(At::root(), d, 0755).ok());
  const std::size_t sizes[] = {1, 4095, 65537, 1000000, (3u << 20) / 2, 0, 12345};
  std::vector<std::string> contents;
  for (std::size_t k = 0; k < std::size(sizes); ++k) {
    contents.push_back(pattern(sizes[k], static_cast<std::uint32_t>(k + 1)));
  }
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(createExclusive(*a_, 10, d + "/lead" + std::to_string(i), 0644).ok());
  // All made at once (no create for 50 ms and the delegation would go back), then written.
  const int creates0 = view_->count("create");
  for (std::size_t k = 0; k < std::size(sizes); ++k) {
    const std::string path = d + "/w" + std::to_string(k);
    ASSERT_TRUE(a_->open(20 + static_cast<int>(k), At::root(), path, O_CREAT | O_EXCL | O_WRONLY, 0644).ok()) << path;
  }
  EXPECT_EQ(0, view_->count("create") - creates0) << "the files went to the server one by one: not delegated";
  for (std::size_t k = 0; k < std::size(sizes); ++k) {
    const int fd = 20 + static_cast<int>(k);
    const std::string& c = contents[k];
    for (std::size_t off = 0; off < c.size();) {
      const std::size_t n = std::min<std::size_t>(c.size() - off, 200000);
      Result<size_t> w = a_->write(fd, c.data() + off, n);
      ASSERT_TRUE(w.ok()) << k << ": " << errnoName(w.err());
      ASSERT_GT(*w, 0u);
      off += *w;
    }
  }
  for (std::size_t k = 0; k < std::size(sizes); ++k) ASSERT_TRUE(a_->close(20 + static_cast<int>(k)).ok()) << k;
  for (std::size_t k = 0; k < std::size(sizes); ++k) {
    const std::string path = d + "/w" + std::to_string(k);
    Result<Attr> seen = b_->stat(At::root(), path, true);
    ASSERT_TRUE(seen.ok()) << path << ": " << errnoName(seen.err());
    EXPECT_EQ(sizes[k], seen->size) << path;
    ASSERT_TRUE(b_->open(40, At::root(), path, O_RDONLY, 0).ok()) << path;
    std::string back;
    std::vector<char> buf(1 << 17);
    for (;;) {
      Result<size_t> r = b_->read(40, buf.data(), buf.size());
      ASSERT_TRUE(r.ok()) << path << ": " << errnoName(r.err());
      if (*r == 0) break;
      back.append(buf.data(), *r);
    }
    ASSERT_TRUE(b_->close(40).ok());
    EXPECT_EQ(contents[k].size(), back.size()) << path;
    EXPECT_TRUE(contents[k] == back) << path << ": B reads other bytes than A wrote";
  }
}

// 4. A delegation idle for longer than the idle time goes back to the server with a
//    renewal: B's look afterwards recalls nothing from A and does not wait for it, even
//    with A answering no recall at all (a recall would cost the recall timeout and then
//    A's lease).
TEST_P(DelegationTest, AnIdleDelegationIsGivenBackAndHoldsNobodyUp) {
  const std::string d = dirName("idle");
  ASSERT_TRUE(a_->mkdir(At::root(), d, 0755).ok());
  Result<Attr> dir = a_->stat(At::root(), d, true);
  ASSERT_TRUE(dir.ok());
  const int delegations0 = view_->count("delegateDir");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(createExclusive(*a_, 10, d + "/f" + std::to_string(i), 0644).ok());
  ASSERT_EQ(1, view_->count("delegateDir") - delegations0) << "A did not ask for the directory";
  EXPECT_FALSE(view_->wasReleased(dir->ino)) << "given back while in use";

  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // idle: no create for 50 ms
  const auto deadline = Clock::now() + kLease;
  while (!view_->wasReleased(dir->ino) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(view_->wasReleased(dir->ino)) << "A did not give the idle delegation back";

  view_->stallRecalls = true;  // A seems stopped from here on
  const int invalidates0 = view_->invalidates.load();
  const auto start = Clock::now();
  Result<Attr> seen = b_->stat(At::root(), d + "/f7", true);
  auto listed = listDir(*b_, 11, d);
  const auto took = Clock::now() - start;
  view_->stallRecalls = false;
  ASSERT_TRUE(seen.ok()) << errnoName(seen.err());
  ASSERT_TRUE(listed.ok()) << errnoName(listed.err());
  EXPECT_EQ(10u, listed->size());
  EXPECT_EQ(0, view_->invalidates.load() - invalidates0) << "B's look recalled something from A";
  EXPECT_LT(took, kLease / 4) << "B waited "
                              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms for A";
}

// 5. Threads of A race exclusive creates of the same names in new directories (each is
//    delegated after two creates, while other threads' creates are still on their way to
//    the server): each name has exactly one winner, and B finds the winner's file under
//    it.
TEST_P(DelegationTest, ThreadsOfOneClientRacingExclusiveCreatesHaveOneWinnerPerName) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 20;
  constexpr int kNames = 40;
  for (int round = 0; round < kRounds; ++round) {
    const std::string d = dirName("race" + std::to_string(round) + "-");
    ASSERT_TRUE(a_->mkdir(At::root(), d, 0755).ok());
    std::array<std::atomic<int>, kNames> wins{};
    std::array<std::atomic<InodeId>, kNames> winner{};
    std::atomic<int> ready{0};
    std::mutex mu;
    std::vector<std::string> problems;  // GUARDED_BY(mu)
    auto racer = [&](int t) {
      ++ready;
      while (ready.load() < kThreads) std::this_thread::yield();
      const int fd = 100 + t;
      for (int i = 0; i < kNames; ++i) {
        const std::string path = d + "/n" + std::to_string(i);
        Result<void> r = a_->open(fd, At::root(), path, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (!r) {
          if (r.err() != EEXIST) {
            std::lock_guard lock(mu);
            problems.push_back(path + ": " + errnoName(r.err()));
          }
          continue;
        }
        Result<Attr> a = a_->fstat(fd);
        Result<void> c = a_->close(fd);
        ++wins[i];
        if (a) winner[i].store(a->ino);
        if (!a || !c) {
          std::lock_guard lock(mu);
          problems.push_back(path + ": fstat " + errnoName(a.err()) + ", close " + errnoName(c.err()));
        }
      }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back(racer, t);
    for (auto& th : threads) th.join();
    for (const std::string& p : problems) ADD_FAILURE() << "round " << round << ": " << p;
    auto listed = listDir(*b_, 11, d);
    ASSERT_TRUE(listed.ok()) << errnoName(listed.err());
    EXPECT_EQ(static_cast<std::size_t>(kNames), listed->size()) << "round " << round;
    for (int i = 0; i < kNames; ++i) {
      const std::string n = "n" + std::to_string(i);
      EXPECT_EQ(1, wins[i].load()) << "round " << round << ": " << n << " created exclusively " << wins[i].load()
                                   << " times";
      auto it = listed->find(n);
      if (it == listed->end()) {
        ADD_FAILURE() << "round " << round << ": B does not list " << n;
        continue;
      }
      EXPECT_EQ(winner[i].load(), it->second.ino) << "round " << round << ": " << n << " is not the winner's file";
    }
    if (::testing::Test::HasFailure()) break;
  }
}

// 6. A create of A's that went to the server before the directory was delegated, but that
//    the server makes only after it listed the directory for the delegation (its
//    connection's call held up behind the delegateDir of another thread's connection):
//    the name is not in the delegation's list, yet A must not make it again on its own
//    (A does not use a delegation asked for while a change of its own was on its way).
//    A's exclusive create of that name afterwards fails; B finds the first file.
TEST_P(DelegationTest, AnOwnCreateTheServerMakesAfterTheDelegationsListIsStillKnown) {
  const std::string d = dirName("late");
  ASSERT_TRUE(a_->mkdir(At::root(), d, 0755).ok());
  const int delegations0 = view_->count("delegateDir");
  view_->delaySlowCreatesMs = 300;
  std::atomic<InodeId> first{0};
  std::atomic<bool> slowDone{false};
  std::thread slow([&] {
    if (a_->open(30, At::root(), d + "/slow", O_CREAT | O_EXCL | O_WRONLY, 0644)) {
      Result<Attr> a = a_->fstat(30);
      if (a) first = a->ino;
      (void)a_->close(30);
    }
    slowDone = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // its create is on its way
  // Two creates: the directory is delegated; then more, so that it is never idle.
  int made = 0;
  for (; made < 2 || (!slowDone.load() && made < 500); ++made) {
    ASSERT_TRUE(createExclusive(*a_, 10, d + "/a" + std::to_string(made), 0644).ok()) << made;
    if (made >= 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const int sent0 = view_->filesSent.load();
  Result<void> again = a_->open(10, At::root(), d + "/slow", O_CREAT | O_EXCL | O_WRONLY, 0644);
  InodeId second = 0;
  if (again) {
    Result<Attr> a = a_->fstat(10);
    second = a ? a->ino : 0;
    (void)a_->close(10);
  }
  // One more made on its own: the delegation was still in use.
  ASSERT_TRUE(createExclusive(*a_, 10, d + "/a" + std::to_string(made++), 0644).ok());
  slow.join();
  view_->delaySlowCreatesMs = 0;
  ASSERT_NE(0u, first.load()) << "the first create of slow failed";
  EXPECT_GE(view_->count("delegateDir") - delegations0, 1) << "A did not ask for the directory";

  EXPECT_EQ(EEXIST, again.err()) << "A's second exclusive create of " << d << "/slow: " << errnoName(again.err())
                                 << " (inode " << second << "; the first made inode " << first.load() << ")";
  Result<Attr> seen = b_->stat(At::root(), d + "/slow", true);
  ASSERT_TRUE(seen.ok()) << errnoName(seen.err());
  EXPECT_EQ(first.load(), seen->ino);
  // The delegation granted while A's own create was on its way is not used (its list may
  // miss that name): the creates after it went to the server, which said EEXIST.
  (void)sent0;
  auto listed = listDir(*b_, 11, d);
  ASSERT_TRUE(listed.ok()) << errnoName(listed.err());
  EXPECT_EQ(static_cast<std::size_t>(made + 1), listed->size());
}

INSTANTIATE_TEST_SUITE_P(Shards, DelegationTest, ::testing::Values(1u, 2u),
                         [](const ::testing::TestParamInfo<std::uint32_t>& p) {
                           return std::to_string(p.param) + "shard" + (p.param == 1 ? "" : "s");
                         });

}  // namespace
}  // namespace myfs

