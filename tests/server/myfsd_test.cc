// myfsd as a process: command line, READY line, RPC over TCP and unix sockets, clean
// shutdown on SIGTERM/SIGINT, persistence across restarts and kill -9, startup failures.
#include <arpa/inet.h>
#include <capnp/rpc-twoparty.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <kj/async-io.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "schema/data.capnp.h"
#include "schema/meta.capnp.h"
#include "server/daemon/daemon_options.h"
#include "tests/server/temp_dir.h"

namespace myfs::server {
namespace {

using testing::TempDir;

// A myfsd child process with its stdout on a pipe and its stderr in a file.
class Daemon {
 public:
  Daemon(std::vector<std::string> args, const std::string& stderrPath) : stderrPath_(stderrPath) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    pid_ = ::fork();
    if (pid_ == 0) {
      int err = ::open(stderrPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out[1], 1);
      ::dup2(err, 2);
      std::vector<char*> argv;
      static std::string bin = MYFSD_PATH;
      argv.push_back(bin.data());
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    outFd_ = out[0];
  }
  ~Daemon() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(outFd_);
  }

  // The first stdout line, or "" when the process closes stdout (or 20 s pass) first.
  std::string firstLine() {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{outFd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char c;
      if (::read(outFd_, &c, 1) != 1) break;
      if (c == '\n') return line;
      line += c;
    }
    return "";
  }

  // Sends `sig` (0: none) and waits for the exit; returns the exit code, or 128+signal.
  int stop(int sig) {
    if (sig != 0) ::kill(pid_, sig);
    int status = 0;
    for (int i = 0; i < 2000; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

  std::string stderrText() const {
    std::ifstream in(stderrPath_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  pid_t pid() const { return pid_; }

 private:
  std::string stderrPath_;
  pid_t pid_ = -1;
  int outFd_ = -1;
  bool exited_ = false;
};

class MyfsdTest : public ::testing::Test {
 protected:
  std::unique_ptr<Daemon> start(std::vector<std::string> args) {
    return std::make_unique<Daemon>(std::move(args), tmp_.sub("stderr-" + std::to_string(++runs_)));
  }
  std::unique_ptr<Daemon> startMeta(const std::string& dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--role", "meta", "--dir", dir, "--listen", "127.0.0.1:0",
                                     "--unix", tmp_.sub("meta.sock")};
    args.insert(args.end(), extra.begin(), extra.end());
    return start(args);
  }
  // Runs myfsd to its exit (it must not become ready); returns the exit code.
  int runToExit(std::vector<std::string> args, std::string* err) {
    auto d = start(std::move(args));
    EXPECT_EQ(d->firstLine(), "");
    int code = d->stop(0);
    *err = d->stderrText();
    return code;
  }

  TempDir tmp_;
  int runs_ = 0;
};

// A Cap'n Proto client of one server address ("unix:/path" or "127.0.0.1:port").
class Client {
 public:
  explicit Client(const std::string& address)
      : io_(kj::setupAsyncIo()),
        stream_(io_.provider->getNetwork().parseAddress(address).wait(io_.waitScope)->connect().wait(io_.waitScope)),
        rpc_(*stream_) {}
  template <typename T>
  typename T::Client cap() {
    return rpc_.bootstrap().castAs<T>();
  }
  kj::WaitScope& ws() { return io_.waitScope; }

 private:
  kj::AsyncIoContext io_;
  kj::Own<kj::AsyncIoStream> stream_;
  capnp::TwoPartyClient rpc_;
};

std::int32_t mkdirOver(Client& c, const char* name) {
  auto req = c.cap<schema::MetaService>().mkdirRequest();
  req.initCred();
  req.getCred().setUid(0);
  req.setParent(1);
  req.setName(name);
  req.setMode(0755);
  return req.send().wait(c.ws()).getResult().getErr();
}

std::int32_t lookupOver(Client& c, const char* name) {
  auto req = c.cap<schema::MetaService>().lookupRequest();
  req.initCred();
  req.setParent(1);
  req.setName(name);
  return req.send().wait(c.ws()).getResult().getErr();
}

const std::regex kMetaReady(R"(READY role=meta shard=(\d+) tcp=127\.0\.0\.1:(\d+) unix=(\S+) pid=(\d+))");
const std::regex kDataReady(R"(READY role=data tcp=127\.0\.0\.1:(\d+) unix=(\S+) pid=(\d+))");

TEST_F(MyfsdTest, MetaServesTcpAndUnixAndStopsCleanly) {
  const std::string dir = tmp_.sub("m0");
  auto d = startMeta(dir);
  std::string line = d->firstLine();
  std::smatch m;
  ASSERT_TRUE(std::regex_match(line, m, kMetaReady)) << line << d->stderrText();
  EXPECT_EQ(m[1], "0");
  EXPECT_EQ(m[3], tmp_.sub("meta.sock"));
  EXPECT_EQ(std::stoi(m[4]), d->pid());
  {
    Client tcp("127.0.0.1:" + m[2].str());
    auto info = tcp.cap<schema::MetaService>().mountInfoRequest().send().wait(tcp.ws());
    EXPECT_EQ(info.getChunkSize(), 1u << 20);
    EXPECT_EQ(info.getShardCount(), 1u);
    EXPECT_EQ(mkdirOver(tcp, "persist"), 0);
  }
  {
    Client ux("unix:" + tmp_.sub("meta.sock"));
    EXPECT_EQ(lookupOver(ux, "persist"), 0);
    EXPECT_EQ(mkdirOver(ux, "persist"), EEXIST);
  }
  EXPECT_EQ(d->stop(SIGTERM), 0) << d->stderrText();
  EXPECT_NE(d->stderrText().find("SIGTERM received"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(tmp_.sub("meta.sock")));

  auto again = startMeta(dir);
  ASSERT_TRUE(std::regex_match(line = again->firstLine(), m, kMetaReady)) << again->stderrText();
  Client ux("unix:" + tmp_.sub("meta.sock"));
  EXPECT_EQ(lookupOver(ux, "persist"), 0);
  EXPECT_EQ(lookupOver(ux, "never"), ENOENT);
  EXPECT_EQ(again->stop(SIGINT), 0);
}

TEST_F(MyfsdTest, KillNineKeepsAcknowledgedMetadataAndStaleSocketIsReplaced) {
  const std::string dir = tmp_.sub("m1");
  auto d = startMeta(dir);
  ASSERT_NE(d->firstLine(), "");
  {
    Client ux("unix:" + tmp_.sub("meta.sock"));
    for (int i = 0; i < 20; ++i) ASSERT_EQ(mkdirOver(ux, ("d" + std::to_string(i)).c_str()), 0);
  }
  EXPECT_EQ(d->stop(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(std::filesystem::exists(tmp_.sub("meta.sock")));  // stale, nobody answers
  auto again = startMeta(dir);
  std::string line = again->firstLine();
  ASSERT_NE(line, "") << again->stderrText();
  Client ux("unix:" + tmp_.sub("meta.sock"));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(lookupOver(ux, ("d" + std::to_string(i)).c_str()), 0) << i;
  EXPECT_EQ(again->stop(SIGTERM), 0);
}

TEST_F(MyfsdTest, LiveUnixSocketIsNotTaken) {
  auto d = startMeta(tmp_.sub("m2"));
  ASSERT_NE(d->firstLine(), "");
  std::string err;
  EXPECT_EQ(runToExit({"--role", "data", "--dir", tmp_.sub("d2"), "--unix", tmp_.sub("meta.sock")}, &err), 1);
  EXPECT_NE(err.find("a server is already answering there"), std::string::npos) << err;
  EXPECT_EQ(d->stop(SIGTERM), 0);
}

TEST_F(MyfsdTest, DataServesAndStops) {
  auto d = start({"--role", "data", "--dir", tmp_.sub("data"), "--listen", "127.0.0.1:0", "--unix",
                  tmp_.sub("data.sock")});
  std::string line = d->firstLine();
  std::smatch m;
  ASSERT_TRUE(std::regex_match(line, m, kDataReady)) << line << d->stderrText();
  Client c("127.0.0.1:" + m[1].str());
  auto data = c.cap<schema::DataService>();
  auto w = data.writeRequest();
  w.setIno(9);
  w.setChunk(0);
  w.setOffset(3);
  w.setData(capnp::Data::Reader(reinterpret_cast<const kj::byte*>("abc"), 3));
  w.setSync(true);
  ASSERT_EQ(w.send().wait(c.ws()).getErr(), 0);
  auto r = data.readRequest();
  r.setIno(9);
  r.setLength(100);
  auto resp = r.send().wait(c.ws());
  ASSERT_EQ(resp.getErr(), 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(resp.getData().begin()), resp.getData().size()),
            std::string("\0\0\0abc", 6));
  EXPECT_EQ(d->stop(SIGINT), 0);
}

TEST_F(MyfsdTest, PortInUseIsExitOne) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(s, 1), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::string port = std::to_string(ntohs(a.sin_port));
  std::string err;
  EXPECT_EQ(runToExit({"--role", "data", "--dir", tmp_.sub("d"), "--listen", "127.0.0.1:" + port}, &err), 1);
  EXPECT_NE(err.find("myfsd: cannot listen on 127.0.0.1:" + port + ": Address already in use\n"), std::string::npos)
      << err;
  ::close(s);
}

TEST_F(MyfsdTest, BadCommandLinesAreExitTwoWithUsage) {
  const std::string dir = tmp_.sub("x");
  const std::vector<std::vector<std::string>> bad = {
      {"--role", "meta", "--dir", dir, "--listen", "127.0.0.1:0", "--bogus", "1"},
      {"--dir", dir, "--listen", "127.0.0.1:0"},
      {"--role", "meta", "--listen", "127.0.0.1:0"},
      {"--role", "meta", "--dir", dir},
      {"--role", "meta", "--dir", dir, "--listen", "127.0.0.1:0", "--chunk-size", "100000"},
      {"--role", "meta", "--dir", dir, "--listen", "127.0.0.1:0", "--chunk-size", "134217728"},
      {"--role", "meta", "--dir", dir, "--listen", "127.0.0.1:0", "--shard", "2", "--shards", "2"},
      {"--role", "data", "--dir", dir, "--listen", "127.0.0.1:0", "--shard", "1"},
      {"--role", "both", "--dir", dir, "--listen", "127.0.0.1:0"},
      {"--role", "meta", "--dir"},
  };
  for (const auto& args : bad) {
    std::string err;
    EXPECT_EQ(runToExit(args, &err), 2) << args.back();
    EXPECT_NE(err.find("usage: myfsd"), std::string::npos) << err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST_F(MyfsdTest, UnusableDirIsExitTwo) {
  std::ofstream(tmp_.sub("file")) << "x";
  std::string err;
  EXPECT_EQ(runToExit({"--role", "meta", "--dir", tmp_.sub("file") + "/sub", "--listen", "127.0.0.1:0"}, &err), 2);
  EXPECT_NE(err.find("cannot create directory"), std::string::npos) << err;
  EXPECT_EQ(runToExit({"--role", "data", "--dir", tmp_.sub("file"), "--listen", "127.0.0.1:0"}, &err), 2);
  EXPECT_NE(err.find("is not a directory"), std::string::npos) << err;
}

TEST_F(MyfsdTest, StoredLayoutWins) {
  const std::string dir = tmp_.sub("m3");
  auto d = startMeta(dir, {"--chunk-size", "65536"});
  ASSERT_NE(d->firstLine(), "");
  EXPECT_EQ(d->stop(SIGTERM), 0);
  // Another chunk size on restart: the stored one is kept.
  d = startMeta(dir, {"--chunk-size", "131072"});
  ASSERT_NE(d->firstLine(), "");
  EXPECT_NE(d->stderrText().find("keeping the stored chunk size 65536"), std::string::npos) << d->stderrText();
  {
    Client ux("unix:" + tmp_.sub("meta.sock"));
    EXPECT_EQ(ux.cap<schema::MetaService>().mountInfoRequest().send().wait(ux.ws()).getChunkSize(), 65536u);
  }
  EXPECT_EQ(d->stop(SIGTERM), 0);
  // Another shard layout: refused.
  std::string err;
  EXPECT_EQ(runToExit({"--role", "meta", "--dir", dir, "--unix", tmp_.sub("meta.sock"), "--shard", "1", "--shards",
                       "2"},
                      &err),
            1);
  EXPECT_NE(err.find("belongs to shard 0 of 1, not shard 1 of 2"), std::string::npos) << err;
}

TEST(DaemonOptionsTest, ParsesBothFlagForms) {
  const char* argv[] = {"myfsd", "--role=meta", "--dir", "/d", "--listen=127.0.0.1:7000", "--unix", "/s",
                        "--shard", "3", "--shards=4", "--chunk-size", "65536"};
  std::string error;
  std::optional<DaemonOptions> o = parseDaemonOptions(12, argv, &error);
  ASSERT_TRUE(o) << error;
  EXPECT_EQ(o->role, DaemonRole::kMeta);
  EXPECT_EQ(o->dir, "/d");
  EXPECT_EQ(o->listen, "127.0.0.1:7000");
  EXPECT_EQ(o->unixPath, "/s");
  EXPECT_EQ(o->shard, 3u);
  EXPECT_EQ(o->shards, 4u);
  EXPECT_EQ(o->chunkSize, 65536u);
  const char* help[] = {"myfsd", "--help"};
  EXPECT_TRUE(parseDaemonOptions(2, help, &error)->help);
  const char* junk[] = {"myfsd", "--role", "data", "--dir", "/d", "--unix", "/s", "stray"};
  EXPECT_FALSE(parseDaemonOptions(8, junk, &error));
  EXPECT_NE(error.find("stray"), std::string::npos);
  const char* num[] = {"myfsd", "--role", "meta", "--dir", "/d", "--unix", "/s", "--shards", "4x"};
  EXPECT_FALSE(parseDaemonOptions(9, num, &error));
}

}  // namespace
}  // namespace myfs::server
