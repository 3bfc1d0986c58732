#include "tests/integration/cluster.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace myfs::testing {

namespace {

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

RunResult runCommand(const std::string& cmd) {
  RunResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// Whether pid runs (a zombie whose parent has not reaped it yet counts as gone).
bool running(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

}  // namespace

std::string binDir() { return MYFS_TEST_BIN_DIR; }

TempDir::TempDir() {
  std::string tmpl = (getenv("TMPDIR") ? std::string(getenv("TMPDIR")) : "/tmp") + "/myfs-test.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

RunResult runBash(const std::string& script, const std::string& root, const std::string& env, int timeoutSec) {
  std::string cmd = "env R=" + shellQuote(root) + " " + env + " timeout -s KILL " + std::to_string(timeoutSec) +
                    " bash -c " + shellQuote("set -o pipefail; " + script);
  return runCommand(cmd);
}

Cluster::Cluster(int metaShards, int dataServers, std::string upOptions)
    : meta_(metaShards), data_(dataServers), upOptions_(std::move(upOptions)) {
  up();
}

Cluster::~Cluster() { down(); }

void Cluster::up() {
  RunResult r = runCommand(binDir() + "/myfs up --dir " + shellQuote(dir()) + " --meta " + std::to_string(meta_) +
                           " --data " + std::to_string(data_) + " " + upOptions_);
  if (r.status != 0) throw std::runtime_error("myfs up failed: " + r.out);
  running_ = true;
}

void Cluster::down() {
  if (!running_) return;
  runCommand(binDir() + "/myfs down --dir " + shellQuote(dir()));
  running_ = false;
}

RunResult Cluster::run(const std::string& script, const std::string& subdir, const std::string& env,
                       int timeoutSec) {
  std::string root = "/myfs" + (subdir.empty() ? "" : "/" + subdir);
  std::string cmd = "env R=" + shellQuote(root) + " " + env + " timeout -s KILL " + std::to_string(timeoutSec) + " " +
                    binDir() + "/myfs run --dir " + shellQuote(dir()) + " -- bash -c " +
                    shellQuote("set -o pipefail; " + script);
  return runCommand(cmd);
}

RunResult Cluster::status() { return runCommand(binDir() + "/myfs status --dir " + shellQuote(dir())); }

void Cluster::kill(const std::string& server, int sig) {
  std::ifstream in(dir() + "/servers");
  std::string role;
  int index;
  pid_t pid;
  std::string a, b;
  while (in >> role >> index >> pid >> a >> b) {
    if (role + std::to_string(index) == server) {
      ::kill(pid, sig);
      if (sig == SIGKILL || sig == SIGTERM) {
        for (int i = 0; i < 500 && running(pid); ++i) usleep(10000);
      }
      return;
    }
  }
  throw std::runtime_error("no server " + server);
}

namespace {

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); !from.empty() && at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

}  // namespace

void expectSameAsNative(Cluster& cluster, const std::string& name, const std::string& script, const std::string& env,
                        int timeoutSec) {
  TempDir native;
  RunResult want = runBash(script, native.path(), env, timeoutSec);
  RunResult made = cluster.run("mkdir -p $R", name);
  ASSERT_EQ(0, made.status) << made.out;
  RunResult got = cluster.run(script, name, env, timeoutSec);
  const std::string wantOut = replaceAll(want.out, native.path(), "$R");
  const std::string gotOut = replaceAll(got.out, "/myfs/" + name, "$R");
  EXPECT_EQ(0, want.status) << "the native run failed: the script is wrong\n" << wantOut;
  EXPECT_EQ(want.status, got.status) << "native:\n" << wantOut << "\nmyfs:\n" << gotOut;
  EXPECT_EQ(wantOut, gotOut);
}

}  // namespace myfs::testing
