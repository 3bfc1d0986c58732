// A local myfs cluster for integration tests: `myfs up` in a fresh temporary directory
// (real myfsd processes on loopback and unix sockets), torn down at the end.
//
//   Cluster c(2, 2);
//   auto r = c.runMyfs("echo hi > /myfs/f && cat /myfs/f");  // under libmyfs.so
//   auto n = runNative("echo hi > $R/f && cat $R/f", dir);    // the reference run
#pragma once

#include <string>

namespace myfs::testing {

struct RunResult {
  int status = -1;  // exit status, or 128+signal
  std::string out;  // stdout and stderr, interleaved
};

// Runs `script` with bash, with R=<root> in its environment; `env` is prepended
// ("A=1 B=2 ..."), `timeoutSec` bounds it (killed with SIGKILL after that).
RunResult runBash(const std::string& script, const std::string& root, const std::string& env = "",
                  int timeoutSec = 300);

// The build's bin directory (myfs, myfsd, libmyfs.so).
std::string binDir();

// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class Cluster {
 public:
  // `upOptions` are added to `myfs up` (e.g. "--lock-lease-ms 2000").
  Cluster(int metaShards, int dataServers, std::string upOptions = "");
  ~Cluster();
  // Runs `script` under libmyfs.so against this cluster, with R=/myfs/<subdir>.
  RunResult run(const std::string& script, const std::string& subdir = "", const std::string& env = "",
                int timeoutSec = 300);
  // `myfs status` output for this cluster.
  RunResult status();
  void down();
  void up();
  // Kills one server with the given signal ("data0", "meta1", ...).
  void kill(const std::string& server, int sig);
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  int meta_, data_;
  std::string upOptions_;
  bool running_ = false;
};

// Runs `script` in a fresh native temporary directory (the reference) and under the
// library in /myfs/<name> ($R names the directory in both; `env` is given to both), and
// expects the native run to succeed, and the same exit status and output with the
// directory replaced by $R. Reports the differences as gtest failures.
void expectSameAsNative(Cluster& cluster, const std::string& name, const std::string& script,
                        const std::string& env = "", int timeoutSec = 300);

}  // namespace myfs::testing
