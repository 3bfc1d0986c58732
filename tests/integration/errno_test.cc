// Every errno that issue #2 names, produced by the calls a program makes, compared
// with the same calls on a native directory: (return value, errno) must match.
#include <gtest/gtest.h>

#include <regex>
#include <vector>

#include "tests/integration/cluster.h"

namespace myfs::testing {
namespace {

struct Case {
  const char* name;
  std::vector<const char*> ops;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string quoteAll(const std::vector<const char*>& ops) {
  std::string out;
  for (const char* op : ops) out += std::string(" '") + op + "'";
  return out;
}

class ErrnoTest : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() { cluster_ = new Cluster(2, 2); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static Cluster* cluster_;
};
Cluster* ErrnoTest::cluster_ = nullptr;

TEST_P(ErrnoTest, SameReturnAndErrnoAsNative) {
  const Case& c = GetParam();
  const std::string probe = binDir() + "/errno_probe";
  TempDir native;
  RunResult want = runBash("chmod 755 $R && mkdir -m 755 $R/c && " + probe + " $R/c" + quoteAll(c.ops), native.path());
  ASSERT_EQ(0, cluster_->run("mkdir -m 755 $R", c.name).status);
  RunResult got = cluster_->run(probe + " $R" + quoteAll(c.ops), c.name);
  ASSERT_EQ(0, want.status) << want.out;
  EXPECT_EQ(0, got.status) << got.out;
  EXPECT_EQ(want.out, got.out);
}

const Case kCases[] = {
    {"enoent",
     {"open missing O_RDONLY", "open newdir O_CREAT|O_DIRECTORY 0755", "stat missing", "lstat missing", "unlink missing", "rmdir missing",
      "rename missing x", "mkdir a/b 0755", "readlink missing", "chdir missing", "open a/b O_CREAT|O_WRONLY 0644",
      "truncate missing 0", "access missing 0", "opendir missing"}},
    {"eexist",
     {"mkdir d 0755", "mkdir d 0755", "open f O_CREAT|O_EXCL|O_WRONLY 0644", "open f O_CREAT|O_EXCL|O_WRONLY 0644",
      "symlink x d", "link f d", "symlink x s", "mkdir s 0755", "open d O_CREAT|O_EXCL|O_RDONLY 0644"}},
    {"enotdir",
     {"open f O_CREAT|O_WRONLY 0644", "mkdir f/x 0755", "stat f/x", "open f O_RDONLY|O_DIRECTORY", "rmdir f",
      "mkdir d 0755", "rename d f", "chdir f", "stat f/", "opendir f", "unlink f/"}},
    {"eisdir",
     {"mkdir d 0755", "open d O_WRONLY", "open d O_RDWR", "unlink d", "open f O_CREAT|O_WRONLY 0644",
      "rename f d", "open d O_RDONLY", "read 10", "open d O_CREAT|O_RDONLY 0644", "truncate d 0"}},
    {"enotempty",
     {"mkdir d 0755", "mkdir d/e 0755", "rmdir d", "mkdir d2 0755", "mkdir d2/x 0755", "rename d2 d",
      "open d/e/f O_CREAT|O_WRONLY 0644", "rmdir d/e", "unlink d/e/f", "rmdir d/e", "rmdir d"}},
    {"einval",
     {"mkdir d 0755", "rename d d/sub", "mkdir d/e 0755", "rename d d/e/f", "rmdir d/.",
      "open f O_CREAT|O_RDWR 0644", "lseek 0 9", "lseek -5 0", "ftruncate -1", "readlink f"}},
    {"enametoolong",
     {"open "
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx O_CREAT|O_WRONLY 0644",
      "mkdir "
      "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
      "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
      "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy 0755"}},
    {"eloop",
     {"symlink a b", "symlink b a", "stat a", "open a O_RDONLY", "symlink self self", "open self O_CREAT|O_WRONLY 0644",
      "open f O_CREAT|O_WRONLY 0644", "symlink f l", "open l O_RDONLY|O_NOFOLLOW", "lstat l", "stat l"}},
    {"eacces_eperm",
     {"mkdir priv 0700", "open priv/f O_CREAT|O_WRONLY 0644", "open ro O_CREAT|O_WRONLY 0600", "mkdir pub 0777",
      "asuser 65534", "stat priv/f", "open priv/f O_RDONLY", "open ro O_RDONLY", "mkdir new 0755",
      "open new O_CREAT|O_WRONLY 0644", "unlink ro", "chmod ro 0777", "rename ro pub/ro", "mkdir pub/mine 0755",
      "access ro 4", "access pub 2", "opendir priv", "chdir priv"}},
    {"ebadf",
     {"closebad", "open f O_CREAT|O_RDONLY 0644", "write abc", "close", "close", "read 1",
      "open f O_WRONLY", "read 4", "write xyz", "fsync", "close"}},
    {"data_and_offsets",
     {"open f O_CREAT|O_RDWR 0644", "write hello", "lseek 0 0", "read 100", "read 100", "lseek 0 2", "lseek 10 2",
      "write x", "lseek 0 0", "read 100", "ftruncate 3", "lseek 0 2", "close", "open f O_WRONLY|O_APPEND",
      "write more", "lseek 0 1", "close", "truncate f 100", "open f O_RDONLY", "read 1000", "close"}},
    {"rename_rules",
     {"mkdir a 0755", "mkdir b 0755", "open a/f O_CREAT|O_WRONLY 0644", "rename a/f b/g", "stat a/f", "stat b/g",
      "rename a b", "stat a", "stat b/g", "mkdir c 0755", "open c/x O_CREAT|O_WRONLY 0644", "rename c/x b/g",
      "link b/g h", "rename h b/g", "stat h", "rename b b", "mkdir e 0755", "rename e b/g"}},
};

INSTANTIATE_TEST_SUITE_P(Calls, ErrnoTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

TEST(ErrnoBoundaryTest, RenameAndLinkAcrossTheMountAreExdev) {
  Cluster c(1, 1);
  TempDir outside;
  RunResult r = c.run(binDir() + "/errno_probe / 'open /myfs/f O_CREAT|O_WRONLY 0644' 'rename /myfs/f " +
                      outside.path() + "/f' 'link /myfs/f " + outside.path() + "/g'");
  EXPECT_EQ(0, r.status) << r.out;
  EXPECT_EQ("open /myfs/f O_CREAT|O_WRONLY 0644 -> 0 OK\nrename /myfs/f " + outside.path() +
                "/f -> -1 EXDEV\nlink /myfs/f " + outside.path() + "/g -> -1 EXDEV\n",
            r.out);
  // mv falls back to copy + unlink, as across any two file systems.
  r = c.run("echo moved | tee /myfs/m >/dev/null && mv /myfs/m " + outside.path() + "/m && cat " + outside.path() +
            "/m && ls /myfs");
  EXPECT_EQ(0, r.status) << r.out;
  EXPECT_EQ("moved\nf\n", r.out);
}

}  // namespace
}  // namespace myfs::testing
