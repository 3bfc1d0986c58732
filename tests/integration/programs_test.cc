// Real, unmodified programs on /myfs (under libmyfs.so, against real servers) must
// print and produce what the same script does on a native temporary directory.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <string>

#include "tests/integration/cluster.h"

namespace myfs::testing {
namespace {

class ProgramsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new Cluster(2, 2); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  void expectSameAsNative(const std::string& name, const std::string& script) {
    testing::expectSameAsNative(*cluster_, name, script);
  }

  static Cluster* cluster_;
};

Cluster* ProgramsTest::cluster_ = nullptr;

TEST_F(ProgramsTest, CoreutilsFileOperations) {
  expectSameAsNative("coreutils", R"SH(
    cd $R
    mkdir -p a/b/c && echo hello | tee a/b/c/f >/dev/null && cat a/b/c/f
    printf 'line1\nline2\n' | tee g >/dev/null && cp g a/g2 && cat a/g2
    seq 1 20000 | tee big >/dev/null && wc -l big && cp big a/b/big2 && cmp big a/b/big2 && echo same
    mv a/g2 a/b/c/moved && ls a/b/c
    ls -1 a/b
    touch -d '2020-01-02 03:04:05' t && stat -c '%s %a %F %Y' t && stat -c '%s %a %F' g && stat -c '%a %F' a
    chmod 600 g && stat -c '%a' g
    sed -i s/line1/LINE1/ g && cat g && stat -c '%a' g
    ln -s a/b/c/f sym && readlink sym && cat sym && stat -L -c '%s' sym
    ln g hard && stat -c '%h' g hard
    find . -name '*f*' | sort
    du -a --apparent-size -b a | awk '$2 ~ /[fg2]$|moved$/' | sort -k2  # files: directory sizes differ by file system
    find a -type f -printf '%s %p\n' | sort -k2
    rm -r a && ls
    rm g hard sym && ls
    mkdir d && rmdir d && ls
  )SH");
}

TEST_F(ProgramsTest, ErrorsOfToolsMatchNative) {
  expectSameAsNative("errors", R"SH(
    cd $R
    cat missing; echo "cat=$?"
    mkdir x; mkdir x; echo "mkdir=$?"
    touch x/f; rmdir x; echo "rmdir=$?"
    rm x; echo "rm=$?"
    cat x/f/g; echo "cat2=$?"
    ls nothere; echo "ls=$?"
    mv nothere y; echo "mv=$?"
  )SH");
}

TEST_F(ProgramsTest, TarAndGzipRoundTripOfASourceTree) {
  expectSameAsNative("tar", R"SH(
    cd $R
    mkdir src && cp -r /usr/include/linux src/
    tar -czf src.tgz src && mkdir out && tar -C out -xzf src.tgz
    diff -r /usr/include/linux out/src/linux && echo identical
    tar -tzf src.tgz | sort | md5sum
    find out | sort | md5sum
  )SH");
}

TEST_F(ProgramsTest, ShellRedirectionsAndPipes) {
  expectSameAsNative("shell", R"SH(
    cd $R
    seq 1 1000 | sort -r -o rev && head -3 rev && tail -2 rev
    cat rev rev | sort -n | uniq -c | head -2
    dd if=/dev/zero of=z bs=64k count=20 status=none && stat -c %s z
    dd if=z of=z2 bs=1M status=none && cmp z z2 && echo dd-ok
    python3 -c "open('p.txt','w').write('x'*100000)" && wc -c p.txt
    python3 -c "import os; print(sorted(os.listdir('.')))"
  )SH");
}

TEST_F(ProgramsTest, ExampleStdioTour) {
  TempDir native;
  RunResult want = runBash(binDir() + "/stdio_tour $R/tour", native.path());
  RunResult got = cluster_->run(binDir() + "/stdio_tour $R/tour");
  EXPECT_EQ(0, got.status) << got.out;
  EXPECT_EQ(want.out, got.out);
}

TEST_F(ProgramsTest, ThreadsAndForkedChildrenUseMyfs) {
  // Four threads at once (each with its own connections), then a forked child whose
  // parent thread had used myfs: the child reconnects on its own.
  RunResult r = cluster_->run(R"PY(python3 -c "
import os, threading
def work(i):
    for j in range(40):
        p = '/myfs/thr/%d-%d' % (i, j)
        with open(p, 'w') as f:
            f.write('x' * j)
        assert os.path.getsize(p) == j, p
        os.unlink(p)
os.mkdir('/myfs/thr')
ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
with open('/myfs/thr/parent', 'w') as f:
    f.write('p')
pid = os.fork()
if pid == 0:
    with open('/myfs/thr/child', 'w') as f:
        f.write(open('/myfs/thr/parent').read() + 'c')
    os._exit(0)
os.waitpid(pid, 0)
print(open('/myfs/thr/child').read(), sorted(os.listdir('/myfs/thr')))
")PY");
  EXPECT_EQ(0, r.status) << r.out;
  EXPECT_EQ("pc ['child', 'parent']\n", r.out);
}

// fork() shares each open file's offset with the child; fds without close-on-exec reach
// exec'd programs (dash, bash, python's pass_fds) with their offsets; a child's writes
// are kept even when it leaves through _exit().
TEST_F(ProgramsTest, OpenFilesAreSharedWithChildProcesses) {
  expectSameAsNative("inherit", R"SH(
    cd $R
    (echo a; echo b) > f1; cat f1
    exec 3> f2; echo one >&3; (echo two >&3); bash -c 'echo three >&3'; sh -c 'echo four >&3'; echo five >&3
    exec 3>&-; cat f2
    exec 4>> f3; echo x >&4; sh -c 'echo y >&4; cat f3 >/dev/null'; exec 4>&-; cat f3
    exec 5< f2; read -r first <&5; sh -c 'read -r second; echo "child read $second"' <&5; read -r third <&5
    exec 5<&-; echo "parent read $first $third"
    python3 -c "
import os, subprocess
nl = bytes([10])
fd = os.open('f4', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b'parent1' + nl)
subprocess.run(['sh', '-c', 'echo child >&%d' % fd], pass_fds=(fd,), check=True)
os.write(fd, b'parent2' + nl)
pid = os.fork()
if pid == 0:
    os.write(fd, b'forked' + nl)
    os._exit(0)
os.waitpid(pid, 0)
os.write(fd, b'parent3' + nl)
os.close(fd)
print(open('f4').read(), end='')
fd = os.open('gone', os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b'removed but open' + nl)
os.unlink('gone')
pid = os.fork()
if pid == 0:
    os.lseek(fd, 0, 0)
    os.write(1, b'child: ' + os.read(fd, 100))
    os._exit(0)
os.waitpid(pid, 0)
os.lseek(fd, 0, 0)
print('parent:', os.read(fd, 100), os.fstat(fd).st_nlink)
"
  )SH");
}

// glob, nftw, ftw and freopen work inside glibc with its private calls; splice,
// preadv2 and pwritev2 are rarer data calls: all must see /myfs like a local directory.
TEST_F(ProgramsTest, LibcWalksAndRareDataCalls) {
  expectSameAsNative("libc", binDir() + "/libc_calls $R && cat $R/reopened $R/stdout.txt");
}

// O_TMPFILE: an unnamed file, written, then named through /proc/self/fd (as programs
// without privileges do); one never named is gone at close; O_EXCL ones cannot be named.
TEST_F(ProgramsTest, TmpfilesAreNamedByLinkatOrGoneAtClose) {
  expectSameAsNative("tmpfile", R"SH(
    cd $R && mkdir d
    python3 - <<'PY'
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def name(fd, path):  # linkat(AT_FDCWD, "/proc/self/fd/N", AT_FDCWD, path, AT_SYMLINK_FOLLOW)
    if libc.linkat(-100, b'/proc/self/fd/%d' % fd, -100, path.encode(), 0x400) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
fd = os.open('d', os.O_TMPFILE | os.O_RDWR, 0o640)
os.write(fd, b'made in the dark\n')
st = os.fstat(fd)
print('size', st.st_size, 'nlink', st.st_nlink, 'entries', sorted(os.listdir('d')))
name(fd, 'd/named')
os.write(fd, b'and more\n')
os.close(fd)
print(open('d/named').read(), end='')
print('mode', oct(os.stat('d/named').st_mode & 0o777), 'nlink', os.stat('d/named').st_nlink)
fd = os.open('d', os.O_TMPFILE | os.O_WRONLY, 0o600)
os.write(fd, b'never named')
os.close(fd)
fd = os.open('d', os.O_TMPFILE | os.O_WRONLY | os.O_EXCL, 0o600)
try:
    name(fd, 'd/excl')
except OSError as e:
    print('excl link', errno.errorcode[e.errno])
os.close(fd)
print('entries', sorted(os.listdir('d')))
try:
    os.open('d/named', os.O_TMPFILE | os.O_RDWR, 0o600)
except OSError as e:
    print('on a file', errno.errorcode[e.errno])
try:
    os.open('d', os.O_TMPFILE | os.O_RDONLY, 0o600)
except OSError as e:
    print('read-only', errno.errorcode[e.errno])
PY
  )SH");
}

// fork() while other threads are in the middle of myfs calls: the child must not wait
// for a lock one of those threads held (they do not exist in the child).
TEST_F(ProgramsTest, ForkWhileOtherThreadsUseMyfs) {
  expectSameAsNative("forkthreads", R"SH(
    cd $R
    timeout 120 python3 - data <<'PY'
import os, sys, threading
path = sys.argv[1]
with open(path, 'wb') as f:
    f.write(b'x' * 100000)
stop = False
def reader():
    while not stop:
        with open(path, 'rb') as f:
            f.read()
threads = [threading.Thread(target=reader) for _ in range(3)]
for t in threads:
    t.start()
ok = 0
for i in range(40):
    pid = os.fork()
    if pid == 0:
        with open(path, 'rb') as f:
            n = len(f.read())
        os._exit(0 if n == 100000 else 1)
    _, status = os.waitpid(pid, 0)
    ok += status == 0
stop = True
for t in threads:
    t.join()
print(ok, 'children read the file')
PY
  )SH");
}

// The same with the current directory inside myfs and the threads looking up names
// missing from it (each such lookup consults the held current directory).
TEST_F(ProgramsTest, ForkWhileOtherThreadsLookUpRelativeNames) {
  expectSameAsNative("forkcwd", R"SH(
    cd $R && mkdir sub && cd sub
    timeout 120 python3 - <<'PY'
import os, threading
stop = False
def looker():
    while not stop:
        os.path.exists('missing')
threads = [threading.Thread(target=looker) for _ in range(3)]
for t in threads:
    t.start()
ok = 0
for i in range(200):
    pid = os.fork()
    if pid == 0:
        os._exit(0 if not os.path.exists('missing') and os.path.isdir('.') else 1)
    _, status = os.waitpid(pid, 0)
    ok += status == 0
stop = True
for t in threads:
    t.join()
print(ok, 'children looked up a missing name')
PY
  )SH");
}

TEST_F(ProgramsTest, SubprocessesStartInTheirDirectoryAndLeaveTheParentsAlone) {
  // Python's subprocess uses vfork: the child's chdir must not move the parent.
  RunResult r = cluster_->run(R"PY(python3 -c "
import os, subprocess
def run(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True).stdout.strip()
os.makedirs('/myfs/sp/sub')
with open('/myfs/sp/sub/hello', 'w') as f:
    f.write('hi')
os.chdir('/myfs/sp')
print(run(['ls'], '/myfs/sp/sub'), run(['pwd'], '/tmp'), run(['cat', 'hello'], 'sub'), run(['pwd'], 'sub/..'))
print(run(['sh', '-c', 'cd sub && pwd'], None), os.getcwd(), os.listdir('.'))
")PY");
  EXPECT_EQ(0, r.status) << r.out;
  EXPECT_EQ("hello /tmp hi /myfs/sp\n/myfs/sp/sub /myfs/sp ['sub']\n", r.out);
}

TEST_F(ProgramsTest, AVforkChildMadeBeforeTheClientStartedLeavesTheParentAlone) {
  // The first myfs call of this python is its vfork child's chdir: the shim has not
  // started, so vfork is libc's and the child shares the parent's memory.
  ASSERT_EQ(0, cluster_->run("mkdir -p /myfs/vf/sub && echo hi > /myfs/vf/sub/hello").status);
  RunResult r = cluster_->run(R"PY(cd /tmp && python3 -c "
import os, subprocess
print(subprocess.run(['cat', 'hello'], cwd='/myfs/vf/sub', capture_output=True, text=True).stdout.strip(), os.getcwd())
print(subprocess.run(['pwd'], cwd='/myfs/vf', capture_output=True, text=True).stdout.strip(), os.getcwd())
")PY");
  EXPECT_EQ(0, r.status) << r.out;
  EXPECT_EQ("hi /tmp\n/myfs/vf /tmp\n", r.out);
}

// The current directory is the directory, not its name: another process renaming it
// or this one removing it behaves as on Linux.
TEST_F(ProgramsTest, TheCurrentDirectoryFollowsItsDirectoryWhenRenamedOrRemoved) {
  expectSameAsNative("cwd_moved", R"SH(
    cd $R && mkdir -p w/y && cd w/y
    mv $R/w/y $R/w/z
    touch h; echo "touch=$?"
    pwd -P | sed "s|^$R||"
    mkdir sub && cd sub && touch k && /bin/pwd | sed "s|^$R||"
    python3 -c 'import os; open("p", "w").write("x"); print(os.getcwd().endswith("/w/z/sub"), sorted(os.listdir(".")))'
    python3 -c '
import os, sys
os.makedirs("gone")
os.chdir("gone")
os.rmdir("../gone")
print("nlink", os.stat(".").st_nlink)
for call in (lambda: open("f", "w"), os.getcwd, lambda: os.listdir(".")):
    try:
        print(call())
    except OSError as e:
        print(type(e).__name__, e.errno)
'
    cd $R && ls w w/z w/z/sub
  )SH");
}

TEST_F(ProgramsTest, GitRepositoryLifecycle) {
  // Fixed identities and dates: the object ids must match the native run exactly.
  expectSameAsNative("git", R"SH(
    export GIT_AUTHOR_NAME=n GIT_AUTHOR_EMAIL=a@b GIT_COMMITTER_NAME=n GIT_COMMITTER_EMAIL=a@b
    export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
    cd $R && git init -q -b main repo && cd repo
    seq 1 100 > numbers && mkdir src && echo 'int main(){}' > src/main.c
    git add . && git commit -qm first && git log --oneline
    echo more >> numbers && git status --short && git commit -qam second
    git log --oneline && git show --stat HEAD | tail -2
    git gc -q && git fsck 2>&1 && git count-objects -v | grep -v size
    cd .. && git clone -q repo copy && cd copy && git log --oneline && cat src/main.c
  )SH");
}

TEST_F(ProgramsTest, MakeAndGccBuildAProjectStoredInMyfs) {
  // Sources, objects and the program live under $R; the program runs from there too.
  TempDir out;
  const std::string script = R"SH(
    cd $R && mkdir proj && cd proj
    printf '#include <stdio.h>\nint add(int, int);\nint main(void) { printf("%d\\n", add(2, 3)); return 0; }\n' > main.c
    printf 'int add(int a, int b) { return a + b; }\n' > add.c
    printf 'app: main.o add.o\n\tgcc -o app main.o add.o\n%%.o: %%.c\n\tgcc -c $< -o $@\n' > Makefile
    make -s && ls && make -s && echo up-to-date
    ./app && cp app OUT/app && OUT/app
    printf '#!/bin/sh\necho script says $1\n' > run.sh && chmod +x run.sh && ./run.sh hi
    chmod -x app && ./app; echo "not executable: $?"
    touch add.c && make -s && echo rebuilt
  )SH";
  std::string withOut = std::regex_replace(script, std::regex("OUT"), out.path());
  expectSameAsNative("make", withOut);
}

TEST_F(ProgramsTest, FilesWrittenByOneProgramAreReadByTheNext) {
  ASSERT_EQ(0, cluster_->run("mkdir -p $R && head -c 5000000 /dev/urandom | dd of=$R/blob bs=64k status=none", "handoff").status);
  RunResult sum1 = cluster_->run("md5sum < $R/blob", "handoff");
  RunResult sum2 = cluster_->run("cat $R/blob | md5sum", "handoff");
  ASSERT_EQ(0, sum1.status) << sum1.out;
  EXPECT_EQ(sum1.out, sum2.out);
  EXPECT_EQ("5000000\n", cluster_->run("stat -c %s $R/blob", "handoff").out);
}

TEST_F(ProgramsTest, TreeIsSpreadOverAllShardsAndDataServers) {
  ASSERT_EQ(0, cluster_->run("mkdir -p $R && for i in $(seq 1 16); do mkdir $R/d$i && "
                             "head -c 3000000 /dev/urandom | dd of=$R/d$i/f bs=1M iflag=fullblock status=none; done", "spread")
                   .status);
  RunResult st = cluster_->status();
  ASSERT_EQ(0, st.status) << st.out;
  // Every shard holds directories and every data server holds chunks.
  std::smatch m;
  for (const char* server : {"meta0", "meta1"}) {
    std::regex re(std::string(server) + R"(.*\((\d+) dirs)");
    ASSERT_TRUE(std::regex_search(st.out, m, re)) << st.out;
    EXPECT_GT(std::stoi(m[1]), 1) << st.out;
  }
  for (const char* server : {"data0", "data1"}) {
    std::regex re(std::string(server) + R"(.*data: (\d+) chunks)");
    ASSERT_TRUE(std::regex_search(st.out, m, re)) << st.out;
    EXPECT_GT(std::stoi(m[1]), 5) << st.out;
  }
}

// The calls the metadata shards served so far, per method, summed over the shards (the
// "metaN calls served:" lines of `myfs status`).
std::map<std::string, long> callsServed(Cluster& cluster) {
  RunResult st = cluster.status();
  EXPECT_EQ(0, st.status) << st.out;
  std::map<std::string, long> out;
  std::regex line(R"(meta\d+ calls served: (.*))");
  std::regex item(R"((\w+) (\d+))");
  for (std::sregex_iterator it(st.out.begin(), st.out.end(), line), end; it != end; ++it) {
    const std::string list = (*it)[1];
    for (std::sregex_iterator m(list.begin(), list.end(), item); m != end; ++m) out[(*m)[1]] += std::stol((*m)[2]);
  }
  return out;
}

// One program creating, unlinking and making directories in one directory has it
// delegated and decides nearly all of them itself (docs/design.md, "Directory
// delegation"): `myfs status` shows the shards served them as makeFiles, with few
// create, unlink or mkdir calls.
TEST_F(ProgramsTest, ManyNameChangesInOneDirectoryAreDecidedByTheProgram) {
  const auto before = callsServed(*cluster_);
  ASSERT_FALSE(before.empty()) << "myfs status printed no calls served";
  ASSERT_EQ(0, cluster_->run("mkdir -p $R/many && python3 -c \"import os\n"
                             "for i in range(200): open('$R/many/f%d' % i, 'w').close()\n"
                             "for i in range(200): os.unlink('$R/many/f%d' % i)\n"
                             "for i in range(50): os.mkdir('$R/many/d%d' % i)\"",
                             "namechanges")
                   .status);
  auto after = callsServed(*cluster_);
  auto served = [&](const char* method) { return after[method] - (before.count(method) ? before.at(method) : 0); };
  EXPECT_GE(served("delegateDir"), 1);
  EXPECT_GE(served("makeFiles"), 1);
  EXPECT_LE(served("create") + served("unlink") + served("mkdir") + served("mkdirRemote"), 30)
      << "creates " << served("create") << ", unlinks " << served("unlink") << ", mkdirs "
      << served("mkdir") + served("mkdirRemote");
  RunResult listed = cluster_->run("ls $R/many | wc -l", "namechanges");
  EXPECT_EQ("50\n", listed.out);
}

// A mkdir whose directory lives on another shard than its parent is one call to the
// parent's shard; the other shard is owed the directory until the program's next call
// there, and a program ending (exit or _exit) first sends what it owes: every directory
// is then counted on its shard without anyone having looked it up.
TEST_F(ProgramsTest, AProgramThatMakesDirectoriesAndEndsLeavesThemAllMade) {
  auto directories = [&] {
    RunResult st = cluster_->status();
    EXPECT_EQ(0, st.status) << st.out;
    int total = 0;
    std::regex re(R"(\((\d+) dirs)");
    for (std::sregex_iterator it(st.out.begin(), st.out.end(), re), end; it != end; ++it) total += std::stoi((*it)[1]);
    return total;
  };
  const int before = directories();
  ASSERT_EQ(0, cluster_->run("mkdir -p $R && python3 -c \"import os\nfor i in range(40): os.mkdir('$R/d%d' % i)\"",
                             "madeatexit")
                   .status);
  EXPECT_EQ(before + 41, directories());
  ASSERT_EQ(0, cluster_->run("python3 -c \"import os\nfor i in range(40): os.mkdir('$R/e%d' % i)\nos._exit(0)\"",
                             "madeatexit")
                   .status);
  EXPECT_EQ(before + 81, directories());
}

}  // namespace
}  // namespace myfs::testing
