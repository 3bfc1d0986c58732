// myfs_bench: the workloads of the in-tree benchmark, run on one directory. Run it once
// on a native tmpfs directory and once on /myfs under libmyfs.so (scripts/bench.sh does
// both and prints ratios). Prints "name value unit" lines.
//
//   myfs_bench meta DIR FILES THREADS   create, stat (first from another process, then
//                                       in this one), readdir, unlink of FILES files in one dir
//   myfs_bench data DIR MIB             sequential write+fsync and read, 4 KiB random reads
//   myfs_bench floor                    loopback round trips: unix and TCP sockets
//   myfs_bench rpc                      a null Cap'n Proto call to metadata shard 0 (MYFS_META)
//   myfs_bench null INO                 a null call to the shard of directory INO
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rpc/rpc_cluster.h"

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

void report(const char* name, double value, const char* unit) { std::printf("%s %.3f %s\n", name, value, unit); }

// Runs fn(thread, first, last) over [0, n) split across `threads` threads; returns seconds.
template <typename Fn>
double parallel(int threads, int n, Fn fn) {
  auto start = Clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] { fn(n * t / threads, n * (t + 1) / threads); });
  }
  for (auto& t : ts) t.join();
  return secondsSince(start);
}

// CPU time (user + system) this process has used, in microseconds.
double cpuMicros() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

// Runs one phase of `ops` operations; reports its rate and this process's CPU per op. With
// one thread each operation is also timed alone and the median reported (`_p50`): on a
// VM whose neighbours and background flushes stretch a few calls, the median is the
// figure comparable with the median null call.
template <typename Fn>
void phase(const std::string& name, int threads, int ops, const char* unit, Fn fn) {
  const double cpu = cpuMicros();
  double s;
  std::vector<double> us;
  if (threads == 1) {
    us.reserve(ops);
    auto start = Clock::now();
    for (int i = 0; i < ops; ++i) {
      auto t = Clock::now();
      fn(i, i + 1);
      us.push_back(secondsSince(t) * 1e6);
    }
    s = secondsSince(start);
  } else {
    s = parallel(threads, ops, fn);
  }
  report(name.c_str(), ops / s, unit);
  report((name + "_cpu").c_str(), (cpuMicros() - cpu) / ops, "us/op");
  if (!us.empty()) {
    std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
    report((name + "_p50").c_str(), us[us.size() / 2], "us");
  }
}

std::string metaDir(const std::string& dir, int threads) { return dir + "/meta-" + std::to_string(threads); }
std::string metaFile(const std::string& d, int i) { return d + "/f" + std::to_string(i); }

// The first stat of each file, from a process that has not seen them (on myfs: a client
// with empty caches, so one lookup RPC per file).
int firstStat(const std::string& dir, int files, int threads) {
  const std::string d = metaDir(dir, threads);
  phase("stat_t" + std::to_string(threads), threads, files, "ops/s", [&](int a, int b) {
    struct stat st;
    for (int i = a; i < b; ++i) {
      if (stat(metaFile(d, i).c_str(), &st) != 0) die("stat");
    }
  });
  return 0;
}

// Runs this program again with `args` (and this environment, so under libmyfs.so when
// this process is) and waits for it.
void runSelf(std::vector<std::string> args) {
  std::fflush(stdout);
  std::vector<char*> argv{const_cast<char*>("/proc/self/exe")};
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  int status;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0 ||
      waitpid(pid, &status, 0) != pid || status != 0) {
    std::fprintf(stderr, "myfs_bench %s failed\n", args[0].c_str());
    std::exit(1);
  }
}

int meta(const std::string& dir, int files, int threads) {
  const std::string d = metaDir(dir, threads);
  if (mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) die("mkdir");  // made beforehand: empty
  auto name = [&](int i) { return metaFile(d, i); };
  const std::string t = "_t" + std::to_string(threads);
  phase("create" + t, threads, files, "ops/s", [&](int a, int b) {
    for (int i = a; i < b; ++i) {
      int fd = open(name(i).c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
      if (fd < 0 || close(fd) != 0) die("create");
    }
  });
  runSelf({"first-stat", dir, std::to_string(files), std::to_string(threads)});
  phase("stat_after_create" + t, threads, files, "ops/s", [&](int a, int b) {
    struct stat st;
    for (int i = a; i < b; ++i) {
      if (stat(name(i).c_str(), &st) != 0) die("stat");
    }
  });
  // The same paths again: cached (dentries and attributes under a lease on myfs).
  const int rounds = 10;
  phase("stat_cached" + t, threads, files * rounds, "ops/s", [&](int a, int b) {
    struct stat st;
    for (int i = a; i < b; ++i) {
      if (stat(name(i % files).c_str(), &st) != 0) die("stat");
    }
  });
  phase("open_close_cached" + t, threads, files * rounds, "ops/s", [&](int a, int b) {
    for (int i = a; i < b; ++i) {
      int fd = open(name(i % files).c_str(), O_RDONLY);
      if (fd < 0 || close(fd) != 0) die("open");
    }
  });
  auto start = Clock::now();
  DIR* dp = opendir(d.c_str());
  if (dp == nullptr) die("opendir");
  int seen = 0;
  while (readdir(dp) != nullptr) ++seen;
  closedir(dp);
  double s = secondsSince(start);
  if (seen != files + 2) {
    std::fprintf(stderr, "readdir saw %d entries, expected %d\n", seen, files + 2);
    return 1;
  }
  report(("readdir" + t).c_str(), files / s, "entries/s");
  phase("unlink" + t, threads, files, "ops/s", [&](int a, int b) {
    for (int i = a; i < b; ++i) {
      if (unlink(name(i).c_str()) != 0) die("unlink");
    }
  });
  const int dirs = files / 4;
  phase("mkdir" + t, threads, dirs, "ops/s", [&](int a, int b) {
    for (int i = a; i < b; ++i) {
      if (mkdir(name(i).c_str(), 0755) != 0) die("mkdir");
    }
  });
  for (int i = 0; i < dirs; ++i) rmdir(name(i).c_str());
  rmdir(d.c_str());
  return 0;
}

int data(const std::string& dir, long mib) {
  const std::string f = dir + "/data.bin";
  const size_t block = 1 << 20;
  std::vector<char> buf(block);
  std::mt19937_64 rng(42);
  for (auto& c : buf) c = static_cast<char>(rng());
  int fd = open(f.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) die("open");
  auto start = Clock::now();
  for (long i = 0; i < mib; ++i) {
    if (write(fd, buf.data(), block) != static_cast<ssize_t>(block)) die("write");
  }
  if (fsync(fd) != 0) die("fsync");
  if (close(fd) != 0) die("close");
  report("seq_write_fsync", static_cast<double>(mib) / secondsSince(start), "MiB/s");

  fd = open(f.c_str(), O_RDONLY);
  if (fd < 0) die("open");
  start = Clock::now();
  long got = 0;
  ssize_t n;
  while ((n = read(fd, buf.data(), block)) > 0) got += n;
  if (got != mib * static_cast<long>(block)) die("short read");
  report("seq_read", static_cast<double>(mib) / secondsSince(start), "MiB/s");

  const int reads = 5000;
  std::uniform_int_distribution<long> pick(0, mib * 256 - 1);
  start = Clock::now();
  for (int i = 0; i < reads; ++i) {
    if (pread(fd, buf.data(), 4096, pick(rng) * 4096) != 4096) die("pread");
  }
  report("rand_read_4k", secondsSince(start) / reads * 1e6, "us/op");
  close(fd);
  unlink(f.c_str());

  // A file that fits in the page cache: written without fsync (write-back), then read
  // twice; the second read is served from the cache on myfs.
  const long small = std::min<long>(mib, 128);
  fd = open(f.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) die("open");
  start = Clock::now();
  for (long i = 0; i < small; ++i) {
    if (write(fd, buf.data(), block) != static_cast<ssize_t>(block)) die("write");
  }
  report("seq_write", static_cast<double>(small) / secondsSince(start), "MiB/s");
  if (close(fd) != 0) die("close");
  for (const char* name : {"seq_read_first", "seq_read_cached"}) {
    fd = open(f.c_str(), O_RDONLY);
    if (fd < 0) die("open");
    start = Clock::now();
    got = 0;
    while ((n = read(fd, buf.data(), block)) > 0) got += n;
    if (got != small * static_cast<long>(block)) die("short read");
    report(name, static_cast<double>(small) / secondsSince(start), "MiB/s");
    close(fd);
  }
  unlink(f.c_str());
  return 0;
}

// Median round trip of 8-byte ping-pongs over a connected socket pair of `family`; with
// `sameCpu` both ends run on CPU 0 (no idle-CPU wake-up in the round trip).
double pingPong(int family, bool sameCpu) {
  cpu_set_t saved;
  sched_getaffinity(0, sizeof saved, &saved);
  if (sameCpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof one, &one);
  }
  int lfd = socket(family, SOCK_STREAM, 0);
  sockaddr_storage addr{};
  socklen_t len;
  std::string path = "/tmp/myfs-bench-" + std::to_string(getpid()) + ".sock";
  if (family == AF_UNIX) {
    auto* un = reinterpret_cast<sockaddr_un*>(&addr);
    un->sun_family = AF_UNIX;
    std::snprintf(un->sun_path, sizeof un->sun_path, "%s", path.c_str());
    unlink(path.c_str());
    len = sizeof(sockaddr_un);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sockaddr_in);
  }
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(lfd, 1) != 0) die("listen");
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  pid_t child = fork();
  if (child == 0) {
    int c = accept(lfd, nullptr, nullptr);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char b[8];
    while (read(c, b, 8) == 8) {
      if (write(c, b, 8) != 8) break;
    }
    _exit(0);
  }
  int s = socket(family, SOCK_STREAM, 0);
  if (connect(s, reinterpret_cast<sockaddr*>(&addr), len) != 0) die("connect");
  int one = 1;
  if (family != AF_UNIX) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::vector<double> us;
  char b[8] = {};
  for (int i = 0; i < 22000; ++i) {
    auto t = Clock::now();
    if (write(s, b, 8) != 8 || read(s, b, 8) != 8) die("ping");
    if (i >= 2000) us.push_back(secondsSince(t) * 1e6);
  }
  close(s);
  close(lfd);
  waitpid(child, nullptr, 0);
  unlink(path.c_str());
  sched_setaffinity(0, sizeof saved, &saved);
  std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
  return us[us.size() / 2];
}

// Median of null calls (getattr of `ino`) to the shard that holds it, in µs.
double medianNullCall(myfs::rpc::RpcCluster& cluster, myfs::InodeId ino) {
  std::vector<double> us;
  for (int i = 0; i < 22000; ++i) {
    auto t = Clock::now();
    if (!cluster.shardOf(ino).getattr(ino)) die("null call");
    if (i >= 2000) us.push_back(secondsSince(t) * 1e6);
  }
  std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
  return us[us.size() / 2];
}

std::optional<myfs::rpc::RpcCluster> clusterFromEnvironment() {
  std::string error;
  auto config = myfs::rpc::ClusterConfig::fromEnvironment(&error);
  if (!config) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return std::nullopt;
  }
  return std::optional<myfs::rpc::RpcCluster>(std::in_place, std::move(*config));
}

// The null call to the shard that holds directory `ino`: the floor of the operations
// made in that directory.
int nullCall(myfs::InodeId ino) {
  auto cluster = clusterFromEnvironment();
  if (!cluster) return 1;
  report("rpc_null_call", medianNullCall(*cluster, ino), "us");
  return 0;
}

int rpc() {
  auto c = clusterFromEnvironment();
  if (!c) return 1;
  myfs::rpc::RpcCluster& cluster = *c;
  report("rpc_null_call", medianNullCall(cluster, myfs::kRootIno), "us");

  // The same server doing real work: create then unlink RPCs straight from this process
  // (no path walk, no client caches), so the server's share of a create is plain to see.
  myfs::MetaShard& shard = cluster.shard(0);
  const myfs::Cred cred{static_cast<std::uint32_t>(getuid()), static_cast<std::uint32_t>(getgid()), {}};
  const std::string dir = "rpc-bench-" + std::to_string(getpid());
  auto d = shard.mkdir(cred, myfs::kRootIno, dir, S_IFDIR | 0755);
  if (!d) return 1;
  std::vector<double> create, unlinkUs;
  for (int i = 0; i < 5000; ++i) {
    const std::string name = "f" + std::to_string(i);
    auto t = Clock::now();
    if (!shard.create(cred, d->ino, name, S_IFREG | 0644, true, 0)) return 1;
    create.push_back(secondsSince(t) * 1e6);
  }
  for (int i = 0; i < 5000; ++i) {
    auto t = Clock::now();
    if (!shard.unlink(cred, d->ino, "f" + std::to_string(i), false)) return 1;
    unlinkUs.push_back(secondsSince(t) * 1e6);
  }
  // mkdir on the parent's shard, and on another shard (a reserved number: one call to
  // the parent's shard; the directory's shard makes it with a later call, here every
  // RpcCluster::kMaxOwedDirs directories).
  std::vector<double> mkdirHere, mkdirThere;
  const std::uint32_t other = cluster.shardCount() > 1 ? 1 : 0;
  for (int i = 0; i < 2000; ++i) {
    auto t = Clock::now();
    if (!shard.mkdir(cred, d->ino, "d" + std::to_string(i), S_IFDIR | 0755)) return 1;
    mkdirHere.push_back(secondsSince(t) * 1e6);
  }
  for (int i = 0; i < 2000 && other != 0; i += 64) {
    auto range = cluster.shard(other).reserveInodes(64);
    if (!range) return 1;
    for (std::uint32_t k = 0; k < range->count && i + int(k) < 2000; ++k) {
      auto t = Clock::now();
      if (!cluster.mkdirRemote(cred, d->ino, "e" + std::to_string(i + k), range->first + k, S_IFDIR | 0755)) return 1;
      mkdirThere.push_back(secondsSince(t) * 1e6);
    }
  }
  for (int i = 0; i < 2000; ++i) (void)shard.unlink(cred, d->ino, "d" + std::to_string(i), true);
  (void)shard.unlink(cred, myfs::kRootIno, dir, true);
  for (auto* v : {&create, &unlinkUs, &mkdirHere, &mkdirThere}) {
    std::nth_element(v->begin(), v->begin() + v->size() / 2, v->end());
  }
  report("rpc_create_call", create[create.size() / 2], "us");
  report("rpc_unlink_call", unlinkUs[unlinkUs.size() / 2], "us");
  report("rpc_mkdir_same_shard", mkdirHere[mkdirHere.size() / 2], "us");
  if (!mkdirThere.empty()) report("rpc_mkdir_other_shard", mkdirThere[mkdirThere.size() / 2], "us");
  return 0;
}

// Start-up cost: N runs of /bin/true (posix_spawn + wait), with this process's
// environment (so with LD_PRELOAD when it is set). Reports the mean per run.
int spawn(int n) {
  char arg0[] = "true";
  char* args[] = {arg0, nullptr};
  auto t = Clock::now();
  for (int i = 0; i < n; ++i) {
    pid_t pid;
    if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, args, environ) != 0) return 1;
    int status;
    if (waitpid(pid, &status, 0) != pid || status != 0) return 1;
  }
  report("spawn_true", secondsSince(t) * 1e6 / n, "us");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "meta" && argc == 5) return meta(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
  if (mode == "first-stat" && argc == 5) return firstStat(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
  if (mode == "data" && argc == 4) return data(argv[2], std::atol(argv[3]));
  if (mode == "floor") {
    report("rtt_unix", pingPong(AF_UNIX, false), "us");
    report("rtt_tcp", pingPong(AF_INET, false), "us");
    report("rtt_unix_same_cpu", pingPong(AF_UNIX, true), "us");
    return 0;
  }
  if (mode == "rpc") return rpc();
  if (mode == "null" && argc == 3) return nullCall(std::strtoull(argv[2], nullptr, 10));
  if (mode == "spawn" && argc == 3) return spawn(std::atoi(argv[2]));
  std::fprintf(stderr, "usage: myfs_bench meta DIR FILES THREADS | data DIR MIB | floor | rpc | null INO | spawn N\n");
  return 2;
}
