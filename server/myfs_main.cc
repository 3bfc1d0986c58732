// myfs: the command that runs a local cluster and programs on it.
//
//   myfs up [--dir DIR] [--meta N] [--data N] [--chunk-size BYTES] [--lease-ms MS]
//   myfs status [--dir DIR]
//   myfs run [--dir DIR] -- CMD [ARGS...]
//   myfs down [--dir DIR]
//
// DIR (default $MYFS_HOME, else $HOME/.myfs) holds each server's data, sockets, logs,
// and cluster.env: the MYFS_* variables a client needs.
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "rpc/rpc_cluster.h"

namespace fs = std::filesystem;

namespace {

struct Options {
  std::string dir;
  bool dirGiven = false;  // --dir on the command line (wins over MYFS_META/MYFS_DATA)
  int meta = 2;
  int data = 2;
  std::string chunkSize;
  std::string lockLeaseMs;
  std::vector<std::string> command;
};

struct ServerRecord {
  std::string role;
  int index = 0;
  pid_t pid = 0;
  std::string unixAddr;
  std::string tcpAddr;
};

[[noreturn]] void die(const std::string& msg, int code = 1) {
  std::cerr << "myfs: " << msg << "\n";
  std::exit(code);
}

void usage() {
  std::cerr << "usage: myfs up [--dir DIR] [--meta N] [--data N] [--chunk-size BYTES] [--lease-ms MS]\n"
               "       myfs status [--dir DIR]\n"
               "       myfs run [--dir DIR] -- CMD [ARGS...]\n"
               "       myfs down [--dir DIR]\n";
  std::exit(2);
}

std::string defaultDir() {
  if (const char* h = std::getenv("MYFS_HOME"); h && *h) return h;
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.myfs";
  return "/tmp/myfs-" + std::to_string(getuid());
}

fs::path selfDir() { return fs::read_symlink("/proc/self/exe").parent_path(); }

// Finds a file installed next to this program (build tree: bin/; install: bin/ and lib/).
std::string sibling(const std::string& name) {
  for (const fs::path& p : {selfDir() / name, selfDir() / ".." / "lib" / name}) {
    if (fs::exists(p)) return fs::canonical(p).string();
  }
  die("cannot find " + name + " next to " + selfDir().string());
}

Options parse(int argc, char** argv, int first) {
  Options o;
  o.dir = defaultDir();
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value", 2);
      return argv[++i];
    };
    if (a == "--") {
      for (++i; i < argc; ++i) o.command.push_back(argv[i]);
      break;
    } else if (a == "--dir") {
      o.dir = value();
      o.dirGiven = true;
    } else if (a == "--meta") {
      o.meta = std::atoi(value().c_str());
    } else if (a == "--data") {
      o.data = std::atoi(value().c_str());
    } else if (a == "--chunk-size") {
      o.chunkSize = value();
    } else if (a == "--lease-ms" || a == "--lock-lease-ms") {
      o.lockLeaseMs = value();
    } else {
      die("unknown option " + a, 2);
    }
  }
  if (o.meta < 1 || o.meta > 64 || o.data < 1 || o.data > 64) die("--meta and --data take 1 to 64", 2);
  o.dir = fs::absolute(o.dir).lexically_normal().string();
  while (o.dir.size() > 1 && o.dir.back() == '/') o.dir.pop_back();
  return o;
}

std::vector<ServerRecord> readServers(const std::string& dir) {
  std::vector<ServerRecord> out;
  std::ifstream in(dir + "/servers");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    ServerRecord r;
    if (s >> r.role >> r.index >> r.pid >> r.unixAddr >> r.tcpAddr) out.push_back(r);
  }
  return out;
}

// Whether pid runs (a zombie left by a parent that does not reap counts as gone).
bool alive(pid_t pid) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

// Starts one myfsd and waits for its READY line. Returns its record.
ServerRecord startServer(const Options& o, const std::string& role, int index) {
  const std::string name = role + std::to_string(index);
  const std::string sock = o.dir + "/" + name + ".sock";
  std::vector<std::string> args = {sibling("myfsd"), "--role", role, "--dir", o.dir + "/" + name,
                                   "--listen", "127.0.0.1:0", "--unix", sock};
  if (role == "meta") {
    args.insert(args.end(), {"--shard", std::to_string(index), "--shards", std::to_string(o.meta)});
    if (!o.chunkSize.empty()) args.insert(args.end(), {"--chunk-size", o.chunkSize});
    if (!o.lockLeaseMs.empty()) args.insert(args.end(), {"--lease-ms", o.lockLeaseMs});
  }
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) die("pipe: " + std::string(std::strerror(errno)));
  const std::string log = o.dir + "/" + name + ".log";
  pid_t pid = fork();
  if (pid < 0) die("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    setsid();
    int logFd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int devNull = open("/dev/null", O_RDONLY);
    dup2(devNull, 0);
    dup2(out[1], 1);
    if (logFd >= 0) dup2(logFd, 2);
    unsetenv("LD_PRELOAD");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  std::string line;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
  close(out[0]);
  if (line.rfind("READY", 0) != 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    std::ifstream in(log);
    std::string last, l;
    while (std::getline(in, l)) last = l;
    die(name + " did not start: " + (last.empty() ? "no message" : last) + " (log: " + log + ")");
  }
  ServerRecord r{role, index, pid, "unix:" + sock, "-"};
  std::istringstream words(line);
  std::string w;
  while (words >> w) {
    if (w.rfind("tcp=", 0) == 0) r.tcpAddr = w.substr(4);
  }
  return r;
}

void writeEnv(const Options& o, const std::vector<ServerRecord>& servers) {
  std::string meta, data;
  for (const auto& s : servers) {
    std::string& list = s.role == "meta" ? meta : data;
    if (!list.empty()) list += ",";
    list += s.unixAddr;
    // The loopback TCP address as a second choice: a process that changed its user may
    // not reach the unix socket in the cluster directory.
    if (s.tcpAddr != "-") list += "|" + s.tcpAddr;
  }
  std::ofstream env(o.dir + "/cluster.env");
  env << "MYFS_META=" << meta << "\nMYFS_DATA=" << data << "\n";
  std::ofstream list(o.dir + "/servers");
  for (const auto& s : servers) list << s.role << " " << s.index << " " << s.pid << " " << s.unixAddr << " " << s.tcpAddr << "\n";
}

std::map<std::string, std::string> readEnv(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::ifstream in(dir + "/cluster.env");
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

int cmdDown(const Options& o);

int cmdUp(const Options& o) {
  for (const auto& s : readServers(o.dir)) {
    if (alive(s.pid)) die("a cluster is already running in " + o.dir + " (myfs down --dir " + o.dir + ")");
  }
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  if (ec) die("cannot create " + o.dir + ": " + ec.message());
  std::vector<ServerRecord> servers;
  for (int i = 0; i < o.meta; ++i) {
    servers.push_back(startServer(o, "meta", i));
    writeEnv(o, servers);  // so that `myfs down` can stop what started if a later one fails
  }
  for (int i = 0; i < o.data; ++i) {
    servers.push_back(startServer(o, "data", i));
    writeEnv(o, servers);
  }
  auto env = readEnv(o.dir);
  std::cout << "myfs: cluster up in " << o.dir << ": " << o.meta << " metadata shard(s), " << o.data
            << " data server(s)\n"
            << "Run programs on /myfs with:\n"
            << "  myfs run --dir " << o.dir << " -- CMD ...\n"
            << "or set in your shell:\n"
            << "  export MYFS_META=" << env["MYFS_META"] << "\n"
            << "  export MYFS_DATA=" << env["MYFS_DATA"] << "\n"
            << "  export LD_PRELOAD=" << sibling("libmyfs.so") << "\n";
  return 0;
}

int cmdDown(const Options& o) {
  auto servers = readServers(o.dir);
  if (servers.empty()) die("no cluster in " + o.dir);
  for (const auto& s : servers) {
    if (alive(s.pid)) kill(s.pid, SIGTERM);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (const auto& s : servers) {
    while (alive(s.pid) && std::chrono::steady_clock::now() < deadline) {
      waitpid(s.pid, nullptr, WNOHANG);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (alive(s.pid)) {
      std::cerr << "myfs: " << s.role << s.index << " (pid " << s.pid << ") ignored SIGTERM; killing it\n";
      kill(s.pid, SIGKILL);
    }
  }
  fs::remove(o.dir + "/servers");
  std::cout << "myfs: cluster in " << o.dir << " stopped (data kept)\n";
  return 0;
}

std::string human(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

int cmdStatus(const Options& o) {
  auto servers = readServers(o.dir);
  if (servers.empty()) die("no cluster in " + o.dir + " (start one with: myfs up --dir " + o.dir + ")");
  myfs::rpc::ClusterConfig config;
  for (const auto& s : servers) (s.role == "meta" ? config.metaAddresses : config.dataAddresses).push_back(s.unixAddr);
  config.retry.attempts = 1;
  config.retry.callTimeoutMs = 3000;
  myfs::rpc::RpcCluster cluster(config);
  std::printf("%-7s %-7s %-22s %s\n", "SERVER", "PID", "TCP", "HOLDS");
  int down = 0;
  for (const auto& s : servers) {
    std::string name = s.role + std::to_string(s.index);
    std::string holds;
    if (!alive(s.pid)) {
      holds = "DOWN (not running)";
      ++down;
    } else if (s.role == "meta") {
      auto st = cluster.shard(static_cast<std::uint32_t>(s.index)).statfs();
      if (!st) {
        holds = std::string("UNREACHABLE (") + myfs::errnoName(st.err()) + ")";
        ++down;
      } else {
        holds = "metadata shard: " + std::to_string(st->inodes) + " inodes (" + std::to_string(st->directories) +
                " dirs, " + std::to_string(st->files) + " files), " + std::to_string(st->dentries) +
                " dentries, " + human(st->bytes) + " in files";
      }
    } else {
      auto st = cluster.data().stats(static_cast<std::uint32_t>(s.index));
      if (!st) {
        holds = std::string("UNREACHABLE (") + myfs::errnoName(st.err()) + ")";
        ++down;
      } else {
        holds = "data: " + std::to_string(st->chunks) + " chunks of " + std::to_string(st->inodes) + " files, " +
                human(st->bytes) + "; disk " + human(st->diskFree) + " free of " + human(st->diskTotal);
      }
    }
    std::printf("%-7s %-7d %-22s %s\n", name.c_str(), s.pid, s.tcpAddr.c_str(), holds.c_str());
  }
  // What the metadata shards have served since they started: what workloads cost them.
  for (const auto& s : servers) {
    if (s.role != "meta" || !alive(s.pid)) continue;
    auto counts = cluster.shard(static_cast<std::uint32_t>(s.index)).callCounts();
    if (!counts) continue;
    std::sort(counts->begin(), counts->end(), [](const auto& a, const auto& b) { return a.calls > b.calls; });
    std::string line;
    for (const auto& m : *counts) line += (line.empty() ? "" : ", ") + m.method + " " + std::to_string(m.calls);
    std::printf("meta%d calls served: %s\n", s.index, line.empty() ? "none" : line.c_str());
  }
  return down == 0 ? 0 : 1;
}

// True if `path` is an ELF executable without a program interpreter (statically linked).
bool isStatic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!in.read(reinterpret_cast<char*>(&eh), sizeof eh)) return false;
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return false;
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph{};
    in.seekg(static_cast<std::streamoff>(eh.e_phoff + static_cast<std::uint64_t>(i) * eh.e_phentsize));
    if (!in.read(reinterpret_cast<char*>(&ph), sizeof ph)) return false;
    if (ph.p_type == PT_INTERP) return false;
  }
  return true;
}

std::string findInPath(const std::string& cmd) {
  if (cmd.find('/') != std::string::npos) return cmd;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string d;
  while (std::getline(dirs, d, ':')) {
    std::string p = (d.empty() ? "." : d) + "/" + cmd;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

int cmdRun(const Options& o) {
  if (o.command.empty()) usage();
  auto unset = [](const char* name) {
    const char* v = std::getenv(name);
    return v == nullptr || *v == '\0';
  };
  if (o.dirGiven || unset("MYFS_META") || unset("MYFS_DATA")) {
    auto env = readEnv(o.dir);
    if (env.empty()) die("no cluster in " + o.dir + " and MYFS_META/MYFS_DATA are not set (start one with: myfs up)");
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
  }
  std::string lib = sibling("libmyfs.so");
  const char* old = std::getenv("LD_PRELOAD");
  setenv("LD_PRELOAD", old && *old ? (lib + ":" + old).c_str() : lib.c_str(), 1);
  std::string exe = findInPath(o.command[0]);
  if (!exe.empty() && isStatic(exe)) {
    std::cerr << "myfs: warning: " << exe
              << " is statically linked: libmyfs.so cannot reach it, and its calls on /myfs go to the kernel\n";
  }
  std::vector<char*> argv;
  for (const auto& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  die("cannot run " + o.command[0] + ": " + std::strerror(errno), 127);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage();
  std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help") usage();
  Options o = parse(argc, argv, 2);
  if (cmd == "up") return cmdUp(o);
  if (cmd == "down") return cmdDown(o);
  if (cmd == "status") return cmdStatus(o);
  if (cmd == "run") return cmdRun(o);
  die("unknown command " + cmd, 2);
}
