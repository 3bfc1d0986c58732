// Failure paths with real servers: a dead server yields bounded retries then EIO (never a
// hang), and what was closed or fsync'd survives a kill -9 and restart of every server.
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "tests/integration/cluster.h"

namespace myfs::testing {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

TEST(FailureTest, ClosedAndFsyncedDataSurvivesKill9AndRestart) {
  Cluster c(2, 2);
  ASSERT_EQ(0, c.run("mkdir -p $R/d && head -c 3000000 /dev/urandom | dd of=$R/d/closed bs=1M iflag=fullblock status=none && md5sum < $R/d/closed | dd of=$R/sum status=none && "
                     "python3 -c \"import os; f=os.open('$R/d/synced', os.O_WRONLY|os.O_CREAT, 0o644); "
                     "os.write(f, b'durable'*1000); os.fsync(f); os._exit(0)\"",
                     "keep")
                   .status);
  for (const char* s : {"meta0", "meta1", "data0", "data1"}) c.kill(s, SIGKILL);
  c.up();
  RunResult r = c.run("md5sum < $R/d/closed | cmp - $R/sum && echo closed-ok && stat -c %s $R/d/synced", "keep");
  EXPECT_EQ(0, r.status) << r.out;
  EXPECT_EQ("closed-ok\n7000\n", r.out);
}

// Runs the script script(flagDir) with the library while every server is killed and
// restarted: the script creates flagDir/ready, then waits for flagDir/go.
RunResult runAcrossARestart(Cluster& c, const std::function<std::string(const std::string&)>& script) {
  TempDir flag;
  RunResult r;
  std::thread program([&] { r = c.run(script(flag.path()), "", "", 120); });
  for (int i = 0; i < 400 && !std::filesystem::exists(flag.path() + "/ready"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  for (const char* s : {"meta0", "meta1", "data0", "data1"}) c.kill(s, SIGKILL);
  c.up();
  std::ofstream(flag.path() + "/go").close();
  program.join();
  return r;
}

TEST(FailureTest, RunningProgramCarriesOnAcrossAServerRestart) {
  Cluster c(2, 2);
  // The program writes and makes directories (those whose shard is not their parent's
  // are owed to that shard until the program's next call there: they are made after the
  // restart), waits while every server is killed and restarted, then writes more, makes
  // more directories (with numbers a shard set aside before its restart), closes, and
  // reads everything back: it reconnects without noticing.
  RunResult r = runAcrossARestart(c, [](const std::string& flag) {
    return "python3 -c \"\n"
           "import os, time\n"
           "f = os.open('/myfs/long', os.O_CREAT | os.O_RDWR, 0o644)\n"
           "os.write(f, b'before ' * 1000)\n"
           "os.fsync(f)\n"
           "for i in range(8): os.mkdir('/myfs/before%d' % i)\n"
           "open('" + flag + "/ready', 'w').close()\n"
           "while not os.path.exists('" + flag + "/go'): time.sleep(0.05)\n"
           "os.write(f, b'after')\n"
           "os.close(f)\n"
           "for i in range(8): os.mkdir('/myfs/after%d' % i)\n"
           "print(os.stat('/myfs/long').st_size, open('/myfs/long', 'rb').read()[-5:].decode(),\n"
           "      len([d for d in os.listdir('/myfs') if os.path.isdir('/myfs/' + d)]))\n"
           "\"";
  });
  EXPECT_EQ("7005 after 16\n", r.out);
}

// bash keeps SIGPIPE's default action (death): the client's first write on a connection
// whose server died must be an error it recovers from, never a signal to the program.
TEST(FailureTest, ProgramWithDefaultSigpipeOutlivesTheConnectionsOfAServerRestart) {
  Cluster c(2, 2);
  RunResult r = runAcrossARestart(c, [](const std::string& flag) {
    return "trap - PIPE; exec 3<>/myfs/s && printf before >&3 && touch " + flag + "/ready && while [ ! -e " + flag +
           "/go ]; do sleep 0.05; done; printf ' after' >&3 && exec 3>&- && cat /myfs/s";
  });
  EXPECT_EQ(0, r.status) << r.out;
  EXPECT_EQ("before after", r.out);
}

TEST(FailureTest, DeadDataServerGivesEioWithinBoundedTime) {
  Cluster c(2, 2);
  ASSERT_EQ(0, c.run("mkdir -p $R && head -c 4000000 /dev/urandom | dd of=$R/f bs=1M iflag=fullblock status=none", "dead").status);
  c.kill("data0", SIGKILL);
  c.kill("data1", SIGKILL);
  auto start = Clock::now();
  RunResult r = c.run("cat $R/f > /dev/null; echo rc=$?", "dead", "MYFS_RPC_ATTEMPTS=3", 60);
  EXPECT_LT(secondsSince(start), 20.0);
  EXPECT_NE(std::string::npos, r.out.find("Input/output error")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("rc=1")) << r.out;
  // Metadata still answers: the namespace is intact.
  EXPECT_EQ("4000000\n", c.run("stat -c %s $R/f", "dead").out);
}

TEST(FailureTest, DeadMetadataServerGivesEioNotAHang) {
  Cluster c(2, 2);
  c.kill("meta0", SIGKILL);
  auto start = Clock::now();
  RunResult r = c.run("ls /myfs; echo rc=$?", "", "MYFS_RPC_ATTEMPTS=3", 60);
  EXPECT_LT(secondsSince(start), 20.0);
  EXPECT_NE(std::string::npos, r.out.find("Input/output error")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("myfs: ")) << r.out;  // a clear message names the server
}

// The pid of a server of the cluster (its `servers` file).
pid_t serverPid(Cluster& c, const std::string& role, int index) {
  std::ifstream in(c.dir() + "/servers");
  std::string r, a, b;
  int i;
  pid_t pid;
  while (in >> r >> i >> pid >> a >> b) {
    if (r == role && i == index) return pid;
  }
  return -1;
}

// A lock request to a dead metadata server fails with EIO after bounded retries (an open
// fd does not make the process wait forever for a lock nobody can grant).
TEST(FailureTest, LockOnADeadMetadataServerGivesEio) {
  Cluster c(1, 1);
  ASSERT_EQ(0, c.run("touch /myfs/f").status);
  const std::string script = "probe=$(mktemp) && cat > $probe <<'PY'\n"
                             "import fcntl, os, subprocess, sys\n"
                             "fd = os.open('/myfs/f', os.O_RDWR)\n"
                             "subprocess.run(['sh', '-c', sys.argv[1]])\n"
                             "try:\n"
                             "    fcntl.lockf(fd, fcntl.LOCK_EX)\n"
                             "    print('locked')\n"
                             "except OSError as e:\n"
                             "    print('lockf', e.errno)\n"
                             "PY\n"
                             "python3 $probe 'kill -9 " + std::to_string(serverPid(c, "meta", 0)) + "'; rm -f $probe";
  auto start = Clock::now();
  RunResult r = c.run(script, "", "MYFS_RPC_ATTEMPTS=3", 60);
  EXPECT_LT(secondsSince(start), 20.0);
  EXPECT_NE(std::string::npos, r.out.find("lockf 5")) << r.out;  // EIO
}

TEST(FailureTest, StoppedServerTimesOutWithEio) {
  Cluster c(1, 1);
  ASSERT_EQ(0, c.run("touch /myfs/f").status);
  c.kill("meta0", SIGSTOP);
  auto start = Clock::now();
  RunResult r = c.run("stat /myfs/f; echo rc=$?", "", "MYFS_RPC_TIMEOUT_MS=1000 MYFS_RPC_ATTEMPTS=2", 60);
  EXPECT_LT(secondsSince(start), 15.0);
  EXPECT_NE(std::string::npos, r.out.find("rc=1")) << r.out;
  c.kill("meta0", SIGCONT);
}

TEST(FailureTest, RunWarnsAboutStaticallyLinkedPrograms) {
  Cluster c(1, 1);
  // Debian's ldconfig is static-pie: no LD_PRELOAD library reaches it.
  const std::string run = binDir() + "/myfs run --dir " + c.dir() + " -- ";
  RunResult r = runBash(run + "/sbin/ldconfig -p > /dev/null; echo rc=$?", "");
  EXPECT_NE(std::string::npos, r.out.find("is statically linked: libmyfs.so cannot reach it")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("rc=0")) << r.out;
  r = runBash(run + "true", "");
  EXPECT_EQ("", r.out);  // no warning for dynamically linked programs
}

TEST(FailureTest, ServersRefuseBadStartsWithClearMessages) {
  Cluster c(1, 1);
  TempDir d;
  // A port another server holds.
  RunResult r = runBash("addr=$(awk '$1==\"meta\"{print $5}' " + c.dir() + "/servers) && " + binDir() +
                            "/myfsd --role meta --dir $R/m --shard 0 --shards 1 --listen $addr",
                        d.path());
  EXPECT_EQ(1, r.status) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("in use")) << r.out;
  r = runBash(binDir() + "/myfsd --role bogus --dir $R/m", d.path());
  EXPECT_EQ(2, r.status) << r.out;
  r = runBash("touch $R/file && " + binDir() + "/myfsd --role data --dir $R/file/x --unix $R/s", d.path());
  EXPECT_EQ(2, r.status) << r.out;
  r = runBash(binDir() + "/myfs run --dir $R/none -- true", d.path(), "MYFS_META= MYFS_DATA=");
  EXPECT_NE(0, r.status);
  EXPECT_NE(std::string::npos, r.out.find("no cluster")) << r.out;
}

}  // namespace
}  // namespace myfs::testing
