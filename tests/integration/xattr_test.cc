// Extended attributes through libmyfs.so: every errno of the getxattr(2) family produced
// by the calls a program makes (tests/integration/errno_probe.c), compared with the same
// calls on a native directory when that file system stores user.* attributes, and with
// the results written below (Linux's, on ext4) when it does not. Then real programs:
// python3's os.*xattr and, when installed, setfattr/getfattr.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/integration/cluster.h"

namespace myfs::testing {
namespace {

// One call and the result Linux gives ("<return value> <errno name or OK>").
using Op = std::pair<const char*, const char*>;

struct XattrCase {
  const char* name;
  std::vector<Op> ops;
};

void PrintTo(const XattrCase& c, std::ostream* os) { *os << c.name; }

std::string quoteOps(const std::vector<Op>& ops) {
  std::string out;
  for (const Op& op : ops) out += std::string(" '") + op.first + "'";
  return out;
}

std::string expectedOutput(const std::vector<Op>& ops) {
  std::string out;
  for (const Op& op : ops) out += std::string(op.first) + " -> " + op.second + "\n";
  return out;
}

// Whether a fresh native temporary directory stores user.* attributes (tmpfs does only
// from Linux 6.6 on).
bool nativeHasUserXattrs() {
  TempDir d;
  return runBash("touch $R/f && python3 -c 'import os,sys; os.setxattr(sys.argv[1], \"user.probe\", b\"1\")' $R/f",
                 d.path())
             .status == 0;
}

class XattrErrnoTest : public ::testing::TestWithParam<XattrCase> {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster(2, 2);
    native_ = nativeHasUserXattrs();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static Cluster* cluster_;
  static bool native_;
};
Cluster* XattrErrnoTest::cluster_ = nullptr;
bool XattrErrnoTest::native_ = false;

TEST_P(XattrErrnoTest, SameReturnAndErrnoAsLinux) {
  const XattrCase& c = GetParam();
  const std::string probe = binDir() + "/errno_probe";
  std::string want = expectedOutput(c.ops);
  if (native_) {
    TempDir native;
    RunResult n = runBash("chmod 755 $R && mkdir -m 755 $R/c && " + probe + " $R/c" + quoteOps(c.ops), native.path());
    ASSERT_EQ(0, n.status) << n.out;
    want = n.out;
  }
  ASSERT_EQ(0, cluster_->run("mkdir -m 755 $R", c.name).status);
  RunResult got = cluster_->run(probe + " $R" + quoteOps(c.ops), c.name);
  EXPECT_EQ(0, got.status) << got.out;
  EXPECT_EQ(want, got.out) << (native_ ? "compared with a native directory" : "compared with the expected results");
}

const XattrCase kXattrCases[] = {
    {"xattr_calls",
     {{"open f O_CREAT|O_WRONLY 0644", "0 OK"},
      {"close", "0 OK"},
      {"setxattr f user.a hello 0", "0 OK"},
      {"getxattr f user.a 100", "5 OK"},
      {"getxattr f user.a 0", "5 OK"},
      {"getxattr f user.a 2", "-1 ERANGE"},
      {"getxattr f user.missing 100", "-1 ENODATA"},
      {"setxattr f user.a x XATTR_CREATE", "-1 EEXIST"},
      {"setxattr f user.b x XATTR_REPLACE", "-1 ENODATA"},
      {"setxattr f user.b 2 XATTR_CREATE", "0 OK"},
      {"listxattr f 0", "14 OK"},
      {"listxattr f 100", "14 OK"},
      {"listxattr f 3", "-1 ERANGE"},
      {"removexattr f user.a", "0 OK"},
      {"removexattr f user.a", "-1 ENODATA"},
      {"listxattr f 100", "7 OK"},
      {"setxattr missing user.a x 0", "-1 ENOENT"},
      {"getxattr missing user.a 10", "-1 ENOENT"},
      {"listxattr missing 10", "-1 ENOENT"},
      {"setxattr f/x user.a x 0", "-1 ENOTDIR"},
      {"setxattr f user.x x 4", "-1 EINVAL"},
      {"setxattr f user.x x 3", "-1 ENODATA"},
      {"mkdir d 0755", "0 OK"},
      {"setxattr d user.d dir 0", "0 OK"},
      {"getxattr d user.d 10", "3 OK"}}},
    {"xattr_names_and_sizes",
     {{"open f O_CREAT|O_WRONLY 0644", "0 OK"},
      {"close", "0 OK"},
      {"setxattr missing EMPTY x 0", "-1 ERANGE"},
      {"setxattr f EMPTY x 0", "-1 ERANGE"},
      {"removexattr f EMPTY", "-1 ERANGE"},
      {"setxattr f user.#255 x 0", "0 OK"},
      {"getxattr f user.#255 10", "1 OK"},
      {"setxattr f user.#256 x 0", "-1 ERANGE"},
      {"getxattr f user.#256 10", "-1 ERANGE"},
      {"setxattr f user. x 0", "-1 EINVAL"},
      {"setxattr f bogus.a x 0", "-1 EOPNOTSUPP"},
      {"getxattr f bogus.a 10", "-1 EOPNOTSUPP"},
      {"removexattr f bogus.x", "-1 EOPNOTSUPP"},
      {"setxattr f user x 0", "-1 EOPNOTSUPP"},
      {"getxattr f system.foo 10", "-1 EOPNOTSUPP"},
      {"setxattr f system.foo x 0", "-1 EOPNOTSUPP"},
      {"setxattr f user.big @65537 0", "-1 E2BIG"},
      {"setxattr missing user.big @65537 0", "-1 E2BIG"},
      {"setxattr f user.mid @1000 0", "0 OK"},
      {"getxattr f user.mid 65536", "1000 OK"},
      {"setxattr f user.empty @0 0", "0 OK"},
      {"getxattr f user.empty 10", "0 OK"},
      {"setxattr f trusted.t t 0", "0 OK"},
      {"getxattr f trusted.t 10", "1 OK"},
      {"getxattr f security.s 10", "-1 ENODATA"}}},
    {"xattr_fds",
     {{"open f O_CREAT|O_RDWR 0644", "0 OK"},
      {"fsetxattr user.a 12 0", "0 OK"},
      {"fgetxattr user.a 10", "2 OK"},
      {"fgetxattr user.a 0", "2 OK"},
      {"fgetxattr user.a 1", "-1 ERANGE"},
      {"flistxattr 100", "7 OK"},
      {"flistxattr 0", "7 OK"},
      {"fremovexattr user.a", "0 OK"},
      {"fremovexattr user.a", "-1 ENODATA"},
      {"fsetxattr user.b x XATTR_REPLACE", "-1 ENODATA"},
      {"close", "0 OK"},
      {"open f O_RDONLY", "0 OK"},
      {"fsetxattr user.c x 0", "0 OK"},
      {"fgetxattr user.c 10", "1 OK"},
      {"close", "0 OK"},
      {"fgetxattr user.c 10", "-1 EBADF"},
      {"open f O_PATH", "0 OK"},
      {"fgetxattr user.c 10", "-1 EBADF"},
      {"fsetxattr user.c 1 0", "-1 EBADF"},
      {"flistxattr 100", "-1 EBADF"},
      {"close", "0 OK"}}},
    {"xattr_symlinks_and_links",
     {{"open f O_CREAT|O_WRONLY 0644", "0 OK"},
      {"close", "0 OK"},
      {"symlink f l", "0 OK"},
      {"setxattr l user.a 1 0", "0 OK"},
      {"getxattr f user.a 10", "1 OK"},
      {"lsetxattr l user.a 1 0", "-1 EPERM"},
      {"lgetxattr l user.a 10", "-1 ENODATA"},
      {"lremovexattr l user.a", "-1 EPERM"},
      {"llistxattr l 100", "0 OK"},
      {"listxattr l 100", "7 OK"},
      {"lsetxattr l trusted.t 1 0", "0 OK"},
      {"llistxattr l 100", "10 OK"},
      {"lgetxattr l trusted.t 10", "1 OK"},
      {"getxattr l trusted.t 10", "-1 ENODATA"},
      {"symlink missing dl", "0 OK"},
      {"setxattr dl user.a 1 0", "-1 ENOENT"},
      {"lgetxattr dl user.a 10", "-1 ENODATA"},
      {"link f g", "0 OK"},
      {"getxattr g user.a 10", "1 OK"},
      {"unlink f", "0 OK"},
      {"getxattr g user.a 10", "1 OK"},
      {"unlink g", "0 OK"},
      {"open g O_CREAT|O_WRONLY 0644", "0 OK"},
      {"close", "0 OK"},
      {"listxattr g 100", "0 OK"}}},
    {"xattr_permissions",
     {{"open f O_CREAT|O_WRONLY 0644", "0 OK"},
      {"close", "0 OK"},
      {"setxattr f user.a 1 0", "0 OK"},
      {"open priv O_CREAT|O_WRONLY 0600", "0 OK"},
      {"close", "0 OK"},
      {"setxattr priv user.a 1 0", "0 OK"},
      {"mkdir pub 0777", "0 OK"},
      {"chmod pub 0777", "0 OK"},
      {"mkdir sticky 0777", "0 OK"},
      {"chmod sticky 01777", "0 OK"},
      {"setxattr sticky user.s 1 0", "0 OK"},
      {"asuser 65534", "0 OK"},
      {"getxattr f user.a 10", "1 OK"},
      {"setxattr f user.a 2 0", "-1 EACCES"},
      {"removexattr f user.a", "-1 EACCES"},
      {"setxattr f bogus.a 1 0", "-1 EACCES"},
      {"getxattr priv user.a 10", "-1 EACCES"},
      {"getxattr priv user.zz 10", "-1 EACCES"},
      {"listxattr priv 100", "7 OK"},
      {"setxattr f trusted.t 1 0", "-1 EPERM"},
      {"getxattr f trusted.t 10", "-1 ENODATA"},
      {"setxattr f security.s 1 0", "-1 EPERM"},
      {"getxattr f security.s 10", "-1 ENODATA"},
      {"setxattr f system.foo 1 0", "-1 EOPNOTSUPP"},
      {"setxattr sticky user.a 1 0", "-1 EPERM"},
      {"getxattr sticky user.s 10", "1 OK"},
      {"removexattr sticky user.s", "-1 EPERM"},
      {"setxattr pub user.a 1 0", "0 OK"},
      {"open pub/mine O_CREAT|O_WRONLY 0644", "0 OK"},
      {"close", "0 OK"},
      {"chmod pub/mine 0444", "0 OK"},
      {"setxattr pub/mine user.a 1 0", "-1 EACCES"},
      {"chmod pub/mine 0644", "0 OK"},
      {"setxattr pub/mine user.a 1 0", "0 OK"},
      {"open pub/mine O_RDONLY", "0 OK"},
      {"fsetxattr user.b 2 0", "0 OK"},
      {"flistxattr 100", "14 OK"},
      {"setxattr pub/mine security.x 1 0", "-1 EPERM"},
      {"setxattr pub/mine trusted.x 1 0", "-1 EPERM"}}},
};

INSTANTIATE_TEST_SUITE_P(Calls, XattrErrnoTest, ::testing::ValuesIn(kXattrCases),
                         [](const ::testing::TestParamInfo<XattrCase>& i) { return std::string(i.param.name); });

// What real programs print, the same on /myfs as on a native directory.
const char kPythonScript[] = R"PY(
import os, sys
d = sys.argv[1]
f = os.path.join(d, "f")
open(f, "w").write("data")
os.symlink("f", os.path.join(d, "l"))
os.setxattr(f, "user.color", b"blue")
os.setxattr(f, "user.bin", b"\x00\x01\xff")
os.setxattr(os.path.join(d, "l"), "user.via_link", b"1")
print(sorted(os.listxattr(f)))
print(os.getxattr(f, "user.bin"), os.getxattr(os.path.join(d, "l"), "user.color"))
print(os.listxattr(os.path.join(d, "l"), follow_symlinks=False))
for call in (lambda: os.setxattr(os.path.join(d, "l"), "user.x", b"1", follow_symlinks=False),
             lambda: os.getxattr(f, "user.none"),
             lambda: os.setxattr(f, "user.color", b"red", os.XATTR_CREATE),
             lambda: os.removexattr(f, "user.none")):
    try:
        call()
        print("ok")
    except OSError as e:
        print(e.errno)
fd = os.open(f, os.O_RDONLY)
os.setxattr(fd, "user.fd", b"via fd")
print(os.getxattr(fd, "user.fd"), sorted(os.listxattr(fd)))
os.removexattr(fd, "user.fd")
os.close(fd)
os.link(f, os.path.join(d, "g"))
os.unlink(f)
print(sorted(os.listxattr(os.path.join(d, "g"))))
)PY";

TEST(XattrProgramsTest, PythonAndAttrTools) {
  Cluster c(2, 2);
  // The script lives in a native temporary directory, outside the one it tests.
  TempDir scriptDir;
  RunResult w = runBash(std::string("cat > $R/xattr.py <<'EOF'\n") + kPythonScript + "EOF\n", scriptDir.path());
  ASSERT_EQ(0, w.status) << w.out;
  const std::string py = "python3 " + scriptDir.path() + "/xattr.py $R";
  const std::string tools =
      "if command -v setfattr >/dev/null && command -v getfattr >/dev/null; then"
      "  cd $R && touch t && setfattr -n user.k -v v1 t && setfattr -n user.j -v 0x0102 t &&"
      "  getfattr -n user.k --only-values t && echo &&"
      "  getfattr -d -e hex t | sort && setfattr -x user.k t && getfattr -d t | sort;"
      "  setfattr -x user.k t 2>/dev/null || echo removed-twice-fails;"
      "fi";
  const std::string expected =
      "['user.bin', 'user.color', 'user.via_link']\n"
      "b'\\x00\\x01\\xff' b'blue'\n"
      "[]\n"
      "1\n61\n17\n61\n"
      "b'via fd' ['user.bin', 'user.color', 'user.fd', 'user.via_link']\n"
      "['user.bin', 'user.color', 'user.via_link']\n";

  RunResult got = c.run("mkdir -p $R && " + py, "py");
  ASSERT_EQ(0, got.status) << got.out;
  EXPECT_EQ(expected, got.out);

  TempDir native;
  if (nativeHasUserXattrs()) {
    RunResult n = runBash(py, native.path());
    ASSERT_EQ(0, n.status) << n.out;
    EXPECT_EQ(n.out, got.out);
  }

  RunResult t = c.run("mkdir -p $R && " + tools, "tools");
  ASSERT_EQ(0, t.status) << t.out;
  if (nativeHasUserXattrs()) {
    TempDir nt;
    RunResult n = runBash(tools, nt.path());
    ASSERT_EQ(0, n.status) << n.out;
    EXPECT_EQ(n.out, t.out);
  }
  if (runBash("command -v setfattr", "").status == 0) {
    EXPECT_NE(std::string::npos, t.out.find("v1\n")) << t.out;
    EXPECT_NE(std::string::npos, t.out.find("user.j=0x0102")) << t.out;
    EXPECT_NE(std::string::npos, t.out.find("removed-twice-fails")) << t.out;
  }
}

}  // namespace
}  // namespace myfs::testing
