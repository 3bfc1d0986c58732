// Shared mappings of myfs files (preload/mmap_shared.h): small C programs and Python's
// mmap module, run under libmyfs.so and on a native directory, must print the same.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/integration/cluster.h"

namespace myfs::testing {
namespace {

// `mmap_probe CASE FILE`: one scenario per case, printing what it sees.
constexpr const char* kProbe = R"C(
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char* what) { printf("%s: %s\n", what, strerror(errno)); exit(1); }
static int make(const char* path, size_t size, char fill) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open");
  char buf[4096];
  memset(buf, fill, sizeof buf);
  for (size_t done = 0; done < size; done += sizeof buf) {
    size_t n = size - done < sizeof buf ? size - done : sizeof buf;
    if (write(fd, buf, n) != (ssize_t)n) die("write");
  }
  return fd;
}
static char* map(int fd, size_t len, int prot, off_t off) {
  void* p = mmap(NULL, len, prot, MAP_SHARED, fd, off);
  if (p == MAP_FAILED) die("mmap");
  return p;
}
static void show(const char* what, const char* p, size_t n) { printf("%s: %.*s\n", what, (int)n, p); }
static void showFile(const char* path, off_t off, size_t n) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) die("reopen");
  char buf[64] = {0};
  ssize_t got = pread(fd, buf, n, off);
  struct stat st;
  fstat(fd, &st);
  printf("file@%ld: %.*s (size %ld)\n", (long)off, (int)(got > 0 ? got : 0), buf, (long)st.st_size);
  close(fd);
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const char* c = argv[1];
  const char* f = argv[2];
  if (!strcmp(c, "write-read")) {  // stores are seen by read() at once; write() by the mapping
    int fd = make(f, 8192, 'a');
    char* p = map(fd, 8192, PROT_READ | PROT_WRITE, 0);
    memcpy(p + 100, "hello", 5);
    memcpy(p + 5000, "world", 5);
    char buf[6] = {0};
    pread(fd, buf, 5, 100); printf("pread 100: %s\n", buf);
    lseek(fd, 4998, SEEK_SET);
    read(fd, buf, 5); printf("read 4998: %s\n", buf);
    pwrite(fd, "WXYZ", 4, 102);
    show("mapping 100", p + 100, 6);
    lseek(fd, 0, SEEK_END);
    write(fd, "tail", 4);  // appended past the mapping: the mapping is unchanged
    show("mapping 8188", p + 8188, 4);
    if (msync(p, 8192, MS_SYNC) != 0) die("msync");
    munmap(p, 8192);
    close(fd);
    showFile(f, 100, 6);
    showFile(f, 5000, 5);
  } else if (!strcmp(c, "msync")) {  // another process reads the file after msync
    int fd = make(f, 4096, '-');
    char* p = map(fd, 4096, PROT_READ | PROT_WRITE, 0);
    memcpy(p, "synced", 6);
    if (msync(p, 4096, MS_ASYNC) != 0) die("msync");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "head -c 8 %s; echo", f);
    fflush(stdout);
    system(cmd);
    memcpy(p + 10, "again", 5);
    if (msync(p, 4096, MS_SYNC) != 0) die("msync");
    snprintf(cmd, sizeof cmd, "head -c 16 %s; echo", f);
    fflush(stdout);
    system(cmd);
    munmap(p, 4096);
    close(fd);
  } else if (!strcmp(c, "munmap")) {  // munmap without msync writes back
    int fd = make(f, 10000, 'x');
    char* p = map(fd, 10000, PROT_READ | PROT_WRITE, 0);
    memcpy(p + 9990, "unmapped", 8);
    munmap(p, 10000);
    close(fd);
    showFile(f, 9990, 10);
  } else if (!strcmp(c, "two")) {  // two mappings of one file share their pages
    int fd = make(f, 8192, '.');
    char* a = map(fd, 8192, PROT_READ | PROT_WRITE, 0);
    char* b = map(fd, 4096, PROT_READ | PROT_WRITE, 4096);
    memcpy(a + 4096 + 10, "fromA", 5);
    show("b sees", b + 10, 5);
    memcpy(b + 20, "fromB", 5);
    show("a sees", a + 4096 + 20, 5);
    int ro = open(f, O_RDONLY);
    char* r = mmap(NULL, 8192, PROT_READ, MAP_SHARED, ro, 0);
    if (r == MAP_FAILED) die("mmap ro");
    show("read-only sees", r + 4096 + 10, 15);
    printf("mprotect write on read-only: %s\n", mprotect(r, 8192, PROT_READ | PROT_WRITE) ? strerror(errno) : "ok");
    char* priv = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
    if (priv == MAP_FAILED) die("mmap private");
    show("private sees", priv + 4096 + 10, 15);
    memcpy(priv + 4096 + 10, "PRIVATE", 7);
    show("a after private store", a + 4096 + 10, 7);
    munmap(r, 8192);
    munmap(priv, 8192);
    close(ro);
    munmap(b, 4096);
    memcpy(a + 4096 + 30, "stillA", 6);
    munmap(a, 8192);
    close(fd);
    showFile(f, 4096 + 10, 26);
  } else if (!strcmp(c, "fork")) {  // a child's stores are the parent's
    int fd = make(f, 4096, '_');
    char* p = map(fd, 4096, PROT_READ | PROT_WRITE, 0);
    memcpy(p, "parent", 6);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      show("child sees", p, 6);
      memcpy(p + 100, "child", 5);
      fflush(stdout);
      _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    show("parent sees", p + 100, 5);
    char buf[6] = {0};
    pread(fd, buf, 5, 100);
    printf("parent reads: %s\n", buf);
    munmap(p, 4096);
    close(fd);
    showFile(f, 0, 6);
    showFile(f, 100, 5);
  } else if (!strcmp(c, "extend")) {  // sqlite's -shm: grow with ftruncate or a write, map the new part
    int fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("open");
    if (ftruncate(fd, 4096) != 0) die("ftruncate");
    char* a = map(fd, 4096, PROT_READ | PROT_WRITE, 0);
    memcpy(a, "region0", 7);
    if (ftruncate(fd, 8192) != 0) die("ftruncate");
    char* b = map(fd, 4096, PROT_READ | PROT_WRITE, 4096);
    memcpy(b, "region1", 7);
    if (pwrite(fd, "", 1, 3 * 4096 - 1) != 1) die("pwrite");
    char* c2 = map(fd, 4096, PROT_READ | PROT_WRITE, 8192);
    memcpy(c2 + 4000, "region2", 7);
    munmap(a, 4096);
    munmap(b, 4096);
    munmap(c2, 4096);
    close(fd);
    showFile(f, 0, 7);
    showFile(f, 4096, 7);
    showFile(f, 8192 + 4000, 7);
  } else if (!strcmp(c, "mremap")) {  // growing a mapping after growing the file
    int fd = make(f, 4096, 'm');
    char* p = map(fd, 4096, PROT_READ | PROT_WRITE, 0);
    if (ftruncate(fd, 12288) != 0) die("ftruncate");
    if (pwrite(fd, "behind", 6, 9000) != 6) die("pwrite");
    p = mremap(p, 4096, 12288, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) die("mremap");
    show("grown sees", p + 9000, 6);
    memcpy(p + 5000, "grown", 5);
    p = mremap(p, 12288, 8192, 0);
    if (p == MAP_FAILED) die("mremap shrink");
    munmap(p, 8192);
    close(fd);
    showFile(f, 5000, 5);
    showFile(f, 9000, 6);
  } else if (!strcmp(c, "after-close")) {  // the mapping outlives its fd
    int fd = make(f, 4096, 'c');
    char* p = map(fd, 4096, PROT_READ | PROT_WRITE, 0);
    close(fd);
    memcpy(p + 1, "closed", 6);
    if (msync(p, 4096, MS_SYNC) != 0) die("msync");
    showFile(f, 0, 8);
    memcpy(p + 1, "CLOSED", 6);
    munmap(p, 4096);
    showFile(f, 0, 8);
  } else if (!strcmp(c, "exit") || !strcmp(c, "_exit")) {  // exit writes back
    int fd = make(f, 4096, 'e');
    char* p = map(fd, 4096, PROT_READ | PROT_WRITE, 0);
    memcpy(p + 4, c, strlen(c));
    if (c[0] == '_') _exit(0);
    exit(0);
  } else if (!strcmp(c, "unlinked")) {  // sqlite removes its -shm before munmap
    int fd = make(f, 8192, 'u');
    char* p = map(fd, 8192, PROT_READ | PROT_WRITE, 0);
    int fd2 = open(f, O_RDONLY);
    unlink(f);
    memcpy(p, "gone", 4);
    int rc = msync(p, 8192, MS_SYNC);
    printf("msync after unlink: %s\n", rc ? strerror(errno) : "ok");
    char buf[5] = {0};
    pread(fd2, buf, 4, 0);
    printf("other fd reads: %s\n", buf);
    memcpy(p + 4096, "more", 4);
    rc = munmap(p, 8192);
    printf("munmap: %d\n", rc);
    pread(fd2, buf, 4, 4096);
    printf("other fd reads: %s\n", buf);
    close(fd);
    close(fd2);
  } else if (!strcmp(c, "errors")) {
    int fd = make(f, 4096, 'r');
    close(fd);
    int ro = open(f, O_RDONLY);
    void* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
    printf("rw shared on O_RDONLY: %s\n", p == MAP_FAILED ? strerror(errno) : "mapped");
    p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 1);
    printf("unaligned offset: %s\n", p == MAP_FAILED ? strerror(errno) : "mapped");
    p = mmap(NULL, 0, PROT_READ, MAP_SHARED, ro, 0);
    printf("zero length: %s\n", p == MAP_FAILED ? strerror(errno) : "mapped");
    p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
    printf("msync both flags: %s\n", msync(p, 4096, MS_SYNC | MS_ASYNC) ? strerror(errno) : "ok");
    printf("msync unaligned: %s\n", msync((char*)p + 1, 4096, MS_SYNC) ? strerror(errno) : "ok");
    close(ro);
    int wo = open(f, O_WRONLY);
    p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, wo, 0);
    printf("shared on O_WRONLY: %s\n", p == MAP_FAILED ? strerror(errno) : "mapped");
    close(wo);
  } else {
    return 2;
  }
  return 0;
}
)C";

class MmapTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster(2, 2);
    tools_ = new TempDir;
    std::ofstream(tools_->path() + "/mmap_probe.c") << kProbe;
    RunResult cc = runBash("cc -O1 -o $R/mmap_probe $R/mmap_probe.c", tools_->path());
    ASSERT_EQ(0, cc.status) << cc.out;
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete tools_;
    tools_ = nullptr;
  }

  // $P is the probe.
  void expectSameAsNative(const std::string& name, const std::string& script) {
    testing::expectSameAsNative(*cluster_, name, script, "P=" + tools_->path() + "/mmap_probe");
  }

  static Cluster* cluster_;
  static TempDir* tools_;
};

Cluster* MmapTest::cluster_ = nullptr;
TempDir* MmapTest::tools_ = nullptr;

TEST_F(MmapTest, StoresAreSeenByReadAndWritesByTheMapping) { expectSameAsNative("rw", "$P write-read $R/f"); }

TEST_F(MmapTest, MsyncMakesStoresVisibleToAnotherProcess) { expectSameAsNative("msync", "$P msync $R/f"); }

TEST_F(MmapTest, MunmapWritesBack) { expectSameAsNative("munmap", "$P munmap $R/f && od -c $R/f | tail -3"); }

TEST_F(MmapTest, TwoMappingsShareTheirPages) { expectSameAsNative("two", "$P two $R/f"); }

TEST_F(MmapTest, ForkedChildStoresAreSeenByTheParent) { expectSameAsNative("fork", "$P fork $R/f"); }

TEST_F(MmapTest, FtruncateOrWriteExtendThenMap) {
  expectSameAsNative("extend", "$P extend $R/f && stat -c %s $R/f && od -c $R/f | tail -4");
}

TEST_F(MmapTest, MremapGrowsAndShrinks) { expectSameAsNative("mremap", "$P mremap $R/f"); }

TEST_F(MmapTest, MappingOutlivesItsFd) { expectSameAsNative("close", "$P after-close $R/f"); }

TEST_F(MmapTest, ExitAndUnderscoreExitWriteBack) {
  expectSameAsNative("exit", "$P exit $R/a; head -c 10 $R/a; echo; $P _exit $R/b; head -c 10 $R/b; echo");
}

TEST_F(MmapTest, UnlinkedFileStaysMapped) { expectSameAsNative("unlinked", "$P unlinked $R/f; ls $R"); }

TEST_F(MmapTest, ErrorsMatchNative) { expectSameAsNative("errors", "$P errors $R/f"); }

TEST_F(MmapTest, PythonMmapModule) {
  expectSameAsNative("python", R"SH(
    python3 -c "
import mmap, os
p = '$R/py'
with open(p, 'wb') as f:
    f.write(b'0123456789' * 100)
with open(p, 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0)
    m[0:5] = b'HELLO'
    m.flush()
    with open(p, 'rb') as g:
        print(g.read(12))
    m.resize(2000)
    m[1500:1503] = b'END'
    print(m[995:1005], m.find(b'END'))
    m.flush()
    m.close()
print(os.path.getsize(p), open(p, 'rb').read()[1497:1506])
"
    head -c 12 $R/py; echo
  )SH");
}

}  // namespace
}  // namespace myfs::testing
