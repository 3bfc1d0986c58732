// The metadata store alone, in process (no RPC): microseconds per create, lookup (of
// names that exist, then of names that do not), unlink and mkdir of N entries in one
// directory of a fresh shard in DIR. What a metadata server spends on an operation
// beyond the RPC floor. MEMTABLE_KIB (default: RocksDB's 64 MiB) small makes the store
// flush to table files as it goes, as a long-lived server's does.
//   store_bench DIR N [MEMTABLE_KIB]
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "server/meta/meta_store.h"

namespace {

using Clock = std::chrono::steady_clock;

template <typename Op>
void timed(const char* what, int n, Op op) {
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    if (!op(i)) {
      std::fprintf(stderr, "%s %d failed\n", what, i);
      std::exit(1);
    }
  }
  std::printf("store_%s %.2f us/op\n", what, std::chrono::duration<double, std::micro>(Clock::now() - start).count() / n);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: store_bench DIR N [MEMTABLE_KIB]\n");
    return 2;
  }
  const int n = std::atoi(argv[2]);
  myfs::server::MetaStoreOptions opts;
  opts.dir = argv[1];
  if (argc == 4) opts.memtableBytes = static_cast<std::size_t>(std::atol(argv[3])) << 10;
  std::string error;
  auto store = myfs::server::MetaStore::open(opts, &error);
  if (!store) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  const myfs::Cred root;
  auto dir = store->mkdir(root, myfs::kRootIno, "bench", 040755);
  if (!dir) return 1;
  const myfs::InodeId d = dir->ino;
  auto name = [](int i) { return "f" + std::to_string(i); };
  timed("create", n, [&](int i) { return bool(store->create(root, d, name(i), 0100644, true, 0)); });
  timed("lookup", n, [&](int i) { return bool(store->lookup(root, d, name(i))); });
  timed("lookup_missing", n, [&](int i) { return store->lookup(root, d, "g" + std::to_string(i)).err() == ENOENT; });
  timed("unlink", n, [&](int i) { return bool(store->unlink(root, d, name(i), false)); });
  timed("mkdir", n / 4, [&](int i) { return bool(store->mkdir(root, d, name(i), 040755)); });
  return 0;
}
