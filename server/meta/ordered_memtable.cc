#include "server/meta/ordered_memtable.h"

#include <rocksdb/slice.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

namespace myfs::server {
namespace {

using rocksdb::Slice;

constexpr int kMaxHeight = 12;
constexpr unsigned kBranching = 4;  // a node reaches level i+1 with probability 1/4

// An entry as RocksDB lays it out in the memtable: varint32 length of the internal key,
// the internal key (user key, then 8 bytes: sequence << 8 | type, little-endian), then
// the value. Returns the internal key.
Slice internalKeyOf(const char* entry) {
  std::uint32_t len = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(entry);
  for (int shift = 0; shift <= 28; shift += 7) {
    const std::uint32_t byte = *p++;
    len |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  return Slice(reinterpret_cast<const char*>(p), len);
}

std::uint64_t packedSeqAndType(const Slice& ikey) {
  std::uint64_t v;
  std::memcpy(&v, ikey.data() + ikey.size() - 8, 8);  // little-endian on the hosts we build for
  return v;
}

// InternalKeyComparator over BytewiseComparator: user keys ascending, then newest first.
int compareInternal(const Slice& a, const Slice& b) {
  const Slice ua(a.data(), a.size() - 8), ub(b.data(), b.size() - 8);
  if (int r = ua.compare(ub); r != 0) return r;
  const std::uint64_t an = packedSeqAndType(a), bn = packedSeqAndType(b);
  return an > bn ? -1 : (an < bn ? 1 : 0);
}

// A node: its height, its links (next[0] at the bottom level), then the entry.
struct Node {
  std::uint32_t height;
  std::uint32_t unused;
  std::atomic<Node*> next[1];  // really `height` of them

  static constexpr std::size_t sizeFor(int height) {
    return offsetof(Node, next) + sizeof(std::atomic<Node*>) * static_cast<std::size_t>(height);
  }
  char* entry() { return reinterpret_cast<char*>(this) + sizeFor(static_cast<int>(height)); }
  const char* entry() const { return reinterpret_cast<const char*>(this) + sizeFor(static_cast<int>(height)); }
  Slice key() const { return internalKeyOf(entry()); }
  Node* nextAt(int level) const { return next[level].load(std::memory_order_acquire); }
};
static_assert(offsetof(Node, next) == 8);

// Storage for iterators RocksDB asks to place in its arena: it runs their destructor but
// never frees them. The destructor hands the storage to its own thread's list, and only
// that thread reuses it: the base class's destructor still writes to the storage after
// ours has run, so no other thread may construct in it yet, and this thread's next
// take() comes after that destructor has returned.
class IteratorStorage {
 public:
  static void* take(std::size_t size) {
    std::vector<void*>& free = list().free;
    if (free.empty()) return ::operator new(size);
    void* p = free.back();
    free.pop_back();
    return p;
  }
  static void give(void* p) {
    std::vector<void*>& free = list().free;
    free.push_back(p);
    if (free.size() > kKept) {  // the oldest was given back earlier on this thread: done with
      ::operator delete(free.front());
      free.erase(free.begin());
    }
  }

 private:
  static constexpr std::size_t kKept = 32;
  struct List {
    std::vector<void*> free;
    ~List() {
      for (void* p : free) ::operator delete(p);
    }
  };
  static List& list() {
    thread_local List l;
    return l;
  }
};

class OrderedMemTable final : public rocksdb::MemTableRep {
 public:
  // RocksDB's key comparator is not used: keys are compared inline (see the header).
  explicit OrderedMemTable(rocksdb::Allocator* allocator) : MemTableRep(allocator) {
    head_ = newNode(kMaxHeight, 0);
    for (int i = 0; i < kMaxHeight; ++i) head_->next[i].store(nullptr, std::memory_order_relaxed);
  }

  rocksdb::KeyHandle Allocate(const std::size_t len, char** buf) override {
    Node* n = newNode(randomHeight(), len);
    *buf = n->entry();
    return n;
  }

  void Insert(rocksdb::KeyHandle handle) override { (void)InsertKey(handle); }

  // False (and nothing linked) when an entry with the same internal key is present.
  bool InsertKey(rocksdb::KeyHandle handle) override {
    Node* x = static_cast<Node*>(handle);
    const Slice key = x->key();
    Node* prev[kMaxHeight];
    Node* at = findGreaterOrEqual(key, prev);
    if (at != nullptr && compareInternal(at->key(), key) == 0) return false;
    const int height = static_cast<int>(x->height);
    const int top = maxHeight_.load(std::memory_order_relaxed);
    for (int i = top; i < height; ++i) prev[i] = head_;
    // Readers that see the new height early find null links at the new levels from the
    // head, which they treat as the end of that level: harmless.
    if (height > top) maxHeight_.store(height, std::memory_order_relaxed);
    for (int i = 0; i < height; ++i) {
      x->next[i].store(prev[i]->next[i].load(std::memory_order_relaxed), std::memory_order_relaxed);
      prev[i]->next[i].store(x, std::memory_order_release);  // publishes x and its entry
    }
    return true;
  }

  bool Contains(const char* entry) const override {
    const Slice key = internalKeyOf(entry);
    Node* at = findGreaterOrEqual(key, nullptr);
    return at != nullptr && compareInternal(at->key(), key) == 0;
  }

  std::size_t ApproximateMemoryUsage() override { return 0; }  // all of it is in the arena

  bool IsMergeOperatorSupported() const override { return true; }
  bool IsSnapshotSupported() const override { return true; }

  class Iter final : public rocksdb::MemTableRep::Iterator {
   public:
    Iter(const OrderedMemTable& list, bool arenaPlaced) : list_(list), arenaPlaced_(arenaPlaced) {}
    ~Iter() override {
      if (arenaPlaced_) IteratorStorage::give(this);
    }
    // Storage is never freed through delete: arena-placed iterators give theirs back in
    // the destructor, a thread's arena-less one keeps its slot (see GetIterator).
    static void operator delete(void*) {}

    bool Valid() const override { return node_ != nullptr; }
    const char* key() const override { return node_->entry(); }
    void Next() override { node_ = node_->nextAt(0); }
    void Prev() override {
      node_ = list_.findLessThan(node_->key());
      if (node_ == list_.head_) node_ = nullptr;
    }
    void Seek(const Slice& internalKey, const char* /*memtableKey*/) override {
      node_ = list_.findGreaterOrEqual(internalKey, nullptr);
    }
    void SeekForPrev(const Slice& internalKey, const char* memtableKey) override {
      Seek(internalKey, memtableKey);
      if (!Valid()) {
        SeekToLast();
      } else if (compareInternal(node_->key(), internalKey) > 0) {
        Prev();
      }
    }
    void SeekToFirst() override { node_ = list_.head_->nextAt(0); }
    void SeekToLast() override {
      node_ = list_.findLast();
      if (node_ == list_.head_) node_ = nullptr;
    }

   private:
    const OrderedMemTable& list_;
    const bool arenaPlaced_;
    Node* node_ = nullptr;
  };

  rocksdb::MemTableRep::Iterator* GetIterator(rocksdb::Arena* arena) override {
    if (arena != nullptr) return new (IteratorStorage::take(sizeof(Iter))) Iter(*this, true);
    // Without an arena: RocksDB's MemTableRep::Get (which this class keeps: its LookupKey
    // argument is not public API) takes one and never frees it, and nothing else asks
    // for one unless in-place updates are on. So each thread has one such iterator, made
    // afresh in the same storage by every call, and `delete` of it only destroys it.
    alignas(Iter) thread_local unsigned char slot[sizeof(Iter)];
    return new (slot) Iter(*this, false);
  }

 private:
  Node* newNode(int height, std::size_t entryBytes) {
    char* raw = nullptr;
    // The arena hands out unaligned bytes for plain allocations: align by hand.
    MemTableRep::Allocate(Node::sizeFor(height) + entryBytes + alignof(Node) - 1, &raw);
    auto addr = reinterpret_cast<std::uintptr_t>(raw);
    addr = (addr + alignof(Node) - 1) & ~static_cast<std::uintptr_t>(alignof(Node) - 1);
    Node* n = reinterpret_cast<Node*>(addr);
    n->height = static_cast<std::uint32_t>(height);
    n->unused = 0;
    return n;
  }

  int randomHeight() {
    int h = 1;
    while (h < kMaxHeight && nextRandom() % kBranching == 0) ++h;
    return h;
  }
  std::uint32_t nextRandom() {  // xorshift32; the writer's alone
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 17;
    rng_ ^= rng_ << 5;
    return rng_;
  }

  // The first node whose key is >= key (null if none); with prev, the last node before
  // it on each level below the current height.
  Node* findGreaterOrEqual(const Slice& key, Node** prev) const {
    Node* x = head_;
    int level = maxHeight_.load(std::memory_order_relaxed) - 1;
    Node* bigger = nullptr;  // a node already known to be >= key: no need to compare again
    while (true) {
      Node* next = x->nextAt(level);
      if (next != nullptr && next != bigger && compareInternal(next->key(), key) < 0) {
        x = next;
        continue;
      }
      if (prev != nullptr) prev[level] = x;
      if (level == 0) return next;
      bigger = next;
      --level;
    }
  }

  // The last node whose key is < key (head_ if none).
  Node* findLessThan(const Slice& key) const {
    Node* x = head_;
    for (int level = maxHeight_.load(std::memory_order_relaxed) - 1; level >= 0; --level) {
      for (Node* next = x->nextAt(level); next != nullptr && compareInternal(next->key(), key) < 0;
           next = x->nextAt(level)) {
        x = next;
      }
    }
    return x;
  }

  Node* findLast() const {
    Node* x = head_;
    for (int level = maxHeight_.load(std::memory_order_relaxed) - 1; level >= 0; --level) {
      for (Node* next = x->nextAt(level); next != nullptr; next = x->nextAt(level)) x = next;
    }
    return x;
  }

  Node* head_ = nullptr;
  std::atomic<int> maxHeight_{1};
  std::uint32_t rng_ = 0x9e3779b9u;
};

class OrderedMemTableFactory final : public rocksdb::MemTableRepFactory {
 public:
  const char* Name() const override { return "myfs.OrderedMemTable"; }
  using rocksdb::MemTableRepFactory::CreateMemTableRep;
  rocksdb::MemTableRep* CreateMemTableRep(const rocksdb::MemTableRep::KeyComparator&,
                                          rocksdb::Allocator* allocator, const rocksdb::SliceTransform*,
                                          rocksdb::Logger*) override {
    return new OrderedMemTable(allocator);
  }
  bool IsInsertConcurrentlySupported() const override { return false; }
  bool CanHandleDuplicatedKey() const override { return true; }
};

}  // namespace

std::shared_ptr<rocksdb::MemTableRepFactory> orderedMemTableFactory() {
  return std::make_shared<OrderedMemTableFactory>();
}

}  // namespace myfs::server
