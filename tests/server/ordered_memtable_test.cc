// The metadata store's memtable (server/meta/ordered_memtable.h) under a real RocksDB:
// every read RocksDB serves from it (Get, snapshots, forward and backward iteration,
// seeks) against a model, before and after a flush and a reopen; and readers running
// alongside the writer.
#include "server/meta/ordered_memtable.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/server/temp_dir.h"

namespace myfs::server {
namespace {

using Model = std::map<std::string, std::string>;

rocksdb::Options memtableOptions() {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.allow_concurrent_memtable_write = false;
  o.memtable_factory = orderedMemTableFactory();
  return o;
}

std::unique_ptr<rocksdb::DB> openDb(const std::string& dir) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(memtableOptions(), dir, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::unique_ptr<rocksdb::DB>(raw);
}

// Keys from a small alphabet and length 0..4, so that most operations hit keys already
// there (new versions, deletions of present keys) and prefixes of one another.
std::string randomKey(std::mt19937& rng) {
  std::string k(rng() % 5, 'a');
  for (char& c : k) c = static_cast<char>("ab\0\xff"[rng() % 4]);
  return k;
}

// Everything RocksDB reads through the memtable agrees with `model` (at `snap`, if set).
void expectSame(rocksdb::DB& db, const Model& model, std::mt19937& rng, const rocksdb::Snapshot* snap = nullptr) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro));
  Model seen;
  for (it->SeekToFirst(); it->Valid(); it->Next()) seen.emplace(it->key().ToString(), it->value().ToString());
  ASSERT_TRUE(it->status().ok());
  ASSERT_EQ(seen, model);
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  Pairs backwards;
  for (it->SeekToLast(); it->Valid(); it->Prev()) backwards.emplace_back(it->key().ToString(), it->value().ToString());
  ASSERT_EQ(backwards, Pairs(model.rbegin(), model.rend()));
  for (int i = 0; i < 50; ++i) {
    const std::string k = randomKey(rng);
    std::string v;
    rocksdb::Status s = db.Get(ro, k, &v);
    auto m = model.find(k);
    if (m == model.end()) {
      ASSERT_TRUE(s.IsNotFound()) << s.ToString();
    } else {
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_EQ(v, m->second);
    }
    it->Seek(k);
    auto lb = model.lower_bound(k);
    ASSERT_EQ(it->Valid(), lb != model.end());
    if (lb != model.end()) {
      ASSERT_EQ(it->key().ToString(), lb->first);
    }
    it->SeekForPrev(k);
    auto ub = model.upper_bound(k);
    ASSERT_EQ(it->Valid(), ub != model.begin());
    if (ub != model.begin()) {
      ASSERT_EQ(it->key().ToString(), std::prev(ub)->first);
    }
  }
}

TEST(OrderedMemTableTest, ServesEveryReadLikeTheModelBeforeAndAfterFlushAndReopen) {
  testing::TempDir dir;
  auto db = openDb(dir.path());
  std::mt19937 rng(7);
  Model model;
  std::optional<Model> atSnapshot;
  const rocksdb::Snapshot* snap = nullptr;
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 200; ++i) {
      const std::string k = randomKey(rng);
      if (rng() % 3 == 0) {
        ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), k).ok());
        model.erase(k);
      } else {
        const std::string v = std::to_string(round) + "." + std::to_string(i);
        ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), k, v).ok());
        model[k] = v;
      }
    }
    expectSame(*db, model, rng);
    if (round == 10) {  // older versions stay readable under a snapshot
      snap = db->GetSnapshot();
      atSnapshot = model;
    }
    if (snap != nullptr) expectSame(*db, *atSnapshot, rng, snap);
  }
  db->ReleaseSnapshot(snap);
  // Reopen: the WAL is replayed into a fresh memtable.
  db.reset();
  db = openDb(dir.path());
  expectSame(*db, model, rng);
  // Flush: the memtable's entries, in its order, become a table file.
  ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
  expectSame(*db, model, rng);
}

TEST(OrderedMemTableTest, ManyEntriesStayOrderedAndFindable) {
  testing::TempDir dir;
  auto db = openDb(dir.path());
  std::mt19937 rng(11);
  Model model;
  for (int i = 0; i < 20000; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "k%08u", static_cast<unsigned>(rng()));
    model[key] = std::to_string(i);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, std::to_string(i)).ok());
  }
  expectSame(*db, model, rng);
}

TEST(OrderedMemTableTest, ReadersAlongsideTheWriterSeeEveryEarlierWriteInOrder) {
  testing::TempDir dir;
  auto db = openDb(dir.path());
  constexpr int kKeys = 20000;
  std::atomic<int> written{0};
  auto key = [](int i) {
    char k[16];
    std::snprintf(k, sizeof k, "%07d", (i * 7919) % kKeys);  // scattered over the key space
    return std::string(k);
  };
  std::atomic<bool> failed{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937 rng(r);
      while (written.load() < kKeys && !failed) {
        const int known = written.load();
        if (known > 0) {
          std::string v;
          const int i = static_cast<int>(rng() % known);
          if (!db->Get(rocksdb::ReadOptions(), key(i), &v).ok() || v != std::to_string(i)) failed = true;
        }
        std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
        std::string last;
        int count = 0;
        for (it->SeekToFirst(); it->Valid(); it->Next(), ++count) {
          if (count > 0 && it->key().ToString() <= last) failed = true;
          last = it->key().ToString();
        }
        if (count < known) failed = true;
      }
    });
  }
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key(i), std::to_string(i)).ok());
    written.store(i + 1);
  }
  for (auto& t : readers) t.join();
  EXPECT_FALSE(failed);
}

// Iterators made on one thread and destroyed on another (more of them than a thread keeps
// for reuse), then more made on both: each reads the whole memtable; ASan checks the
// storage handed between them.
TEST(OrderedMemTableTest, IteratorsDestroyedOnAnotherThreadLeaveEveryIteratorWhole) {
  testing::TempDir dir;
  auto db = openDb(dir.path());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k" + std::to_string(i), "v").ok());
  auto countAll = [&db] {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    int n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    return n;
  };
  std::vector<std::unique_ptr<rocksdb::Iterator>> made;
  for (int i = 0; i < 100; ++i) made.emplace_back(db->NewIterator(rocksdb::ReadOptions()));
  int countedThere = 0;
  std::thread other([&] {
    made.clear();
    countedThere = countAll();
  });
  other.join();
  EXPECT_EQ(100, countedThere);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(100, countAll());
}

}  // namespace
}  // namespace myfs::server
