// Extended attributes through the Vfs (path, l- and f- forms), over the servers' stores
// in this process. Namespace and permission rules are tested on the store itself
// (tests/server/xattr_test.cc); here: the calls' buffers, flags, symlinks, fds, shards.
#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "core/fs_types.h"
#include "core/vfs.h"
#include "tests/core/local_cluster.h"

namespace myfs {
namespace {

using testing::LocalCluster;

#define EXPECT_ERRNO(expr, e) EXPECT_EQ((expr).err(), e) << #expr
#define ASSERT_OK(expr) ASSERT_EQ((expr).err(), 0) << #expr << ": " << errnoName((expr).err())

class VfsXattrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<LocalCluster>(2, 1);
    auto v = makeVfs(*cluster_, VfsOptions{});
    ASSERT_TRUE(v.ok());
    vfs_ = std::move(*v);
  }

  int open(const std::string& path, int flags, mode_t mode = 0644) {
    int fd = nextFd_++;
    auto r = vfs_->open(fd, At::root(), path, flags, mode);
    return r ? fd : -r.err();
  }
  void touch(const std::string& path) {
    int fd = open(path, O_CREAT | O_WRONLY);
    ASSERT_GT(fd, 0);
    ASSERT_TRUE(vfs_->close(fd).ok());
  }
  Result<void> set(const std::string& path, const std::string& name, const std::string& value, int flags = 0,
                   bool follow = true) {
    return vfs_->setxattr(At::root(), path, follow, name, value.data(), value.size(), flags);
  }
  // The value, or "<ERRNO>".
  std::string get(const std::string& path, const std::string& name, bool follow = true) {
    char buf[kXattrSizeMax];
    auto n = vfs_->getxattr(At::root(), path, follow, name, buf, sizeof buf);
    if (!n) return "<" + std::string(errnoName(n.err())) + ">";
    return std::string(buf, *n);
  }
  // The NUL-separated list, or "<ERRNO>".
  std::string list(const std::string& path, bool follow = true) {
    char buf[kXattrListMax];
    auto n = vfs_->listxattr(At::root(), path, follow, buf, sizeof buf);
    if (!n) return "<" + std::string(errnoName(n.err())) + ">";
    return std::string(buf, *n);
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<Vfs> vfs_;
  int nextFd_ = 100;
};

TEST_F(VfsXattrTest, PathCallsAndBuffers) {
  touch("f");
  EXPECT_EQ("", list("f"));
  EXPECT_EQ("<ENODATA>", get("f", "user.a"));
  ASSERT_OK(set("f", "user.a", "hello"));
  ASSERT_OK(set("f", "user.b", ""));
  EXPECT_EQ("hello", get("f", "user.a"));
  EXPECT_EQ("", get("f", "user.b"));
  EXPECT_EQ(std::string("user.a\0user.b\0", 14), list("f"));

  // size 0 asks for the size; a short buffer is ERANGE.
  char small[4];
  EXPECT_EQ(5u, *vfs_->getxattr(At::root(), "f", true, "user.a", nullptr, 0));
  EXPECT_ERRNO(vfs_->getxattr(At::root(), "f", true, "user.a", small, sizeof small), ERANGE);
  EXPECT_EQ(14u, *vfs_->listxattr(At::root(), "f", true, nullptr, 0));
  EXPECT_ERRNO(vfs_->listxattr(At::root(), "f", true, small, sizeof small), ERANGE);

  // Flags.
  EXPECT_ERRNO(set("f", "user.a", "x", XATTR_CREATE), EEXIST);
  EXPECT_ERRNO(set("f", "user.c", "x", XATTR_REPLACE), ENODATA);
  EXPECT_ERRNO(set("f", "user.c", "x", 8), EINVAL);
  ASSERT_OK(set("f", "user.a", "bye", XATTR_REPLACE));
  EXPECT_EQ("bye", get("f", "user.a"));

  // Names and sizes are checked before the path is resolved, as the system calls do.
  EXPECT_ERRNO(set("missing", "", "x"), ERANGE);
  EXPECT_ERRNO(set("missing", "user." + std::string(251, 'n'), "x"), ERANGE);
  EXPECT_ERRNO(set("missing", "user.a", std::string(kXattrSizeMax + 1, 'v')), E2BIG);
  EXPECT_ERRNO(set("missing", "user.a", "x"), ENOENT);
  EXPECT_ERRNO(set("f/x", "user.a", "x"), ENOTDIR);
  EXPECT_EQ("<ERANGE>", get("missing", ""));
  EXPECT_EQ("<ENOENT>", get("missing", "user.a"));
  EXPECT_EQ(std::string("<") + errnoName(EOPNOTSUPP) + ">", get("f", "bogus.a"));
  EXPECT_ERRNO(set("f", "system.posix_acl_access", "x"), EOPNOTSUPP);
  EXPECT_ERRNO(set("f", "user.", "x"), EINVAL);

  ASSERT_OK(vfs_->removexattr(At::root(), "f", true, "user.a"));
  EXPECT_ERRNO(vfs_->removexattr(At::root(), "f", true, "user.a"), ENODATA);
  EXPECT_ERRNO(vfs_->removexattr(At::root(), "f", true, ""), ERANGE);
  EXPECT_EQ(std::string("user.b\0", 7), list("f"));

  // A value of the largest size.
  ASSERT_OK(set("f", "user.big", std::string(kXattrSizeMax, 'z')));
  EXPECT_EQ(std::string(kXattrSizeMax, 'z'), get("f", "user.big"));
}

TEST_F(VfsXattrTest, SymlinksFollowedOrNot) {
  touch("f");
  ASSERT_OK(vfs_->symlink("f", At::root(), "l"));
  ASSERT_OK(set("l", "user.a", "via link"));
  EXPECT_EQ("via link", get("f", "user.a"));
  EXPECT_EQ("via link", get("l", "user.a"));
  // user.* on the link itself: EPERM to write, ENODATA to read (as Linux).
  EXPECT_ERRNO(set("l", "user.a", "x", 0, false), EPERM);
  EXPECT_EQ("<ENODATA>", get("l", "user.a", false));
  EXPECT_ERRNO(vfs_->removexattr(At::root(), "l", false, "user.a"), EPERM);
  EXPECT_EQ("", list("l", false));
  EXPECT_EQ(std::string("user.a\0", 7), list("l", true));
  if (geteuid() == 0) {  // trusted.* is root's, and a link has its own
    ASSERT_OK(set("l", "trusted.t", "link", 0, false));
    EXPECT_EQ("link", get("l", "trusted.t", false));
    EXPECT_EQ("<ENODATA>", get("l", "trusted.t", true));
  }
  ASSERT_OK(vfs_->symlink("missing", At::root(), "dangling"));
  EXPECT_ERRNO(set("dangling", "user.a", "x"), ENOENT);
}

TEST_F(VfsXattrTest, FdCalls) {
  touch("f");
  int fd = open("f", O_RDONLY);  // a read-only fd may set attributes: the mode decides
  ASSERT_GT(fd, 0);
  ASSERT_OK(vfs_->fsetxattr(fd, "user.a", "1", 1, 0));
  EXPECT_ERRNO(vfs_->fsetxattr(fd, "user.a", "1", 1, XATTR_CREATE), EEXIST);
  char buf[16];
  EXPECT_EQ(1u, *vfs_->fgetxattr(fd, "user.a", buf, sizeof buf));
  EXPECT_EQ('1', buf[0]);
  EXPECT_EQ(1u, *vfs_->fgetxattr(fd, "user.a", nullptr, 0));
  EXPECT_EQ(7u, *vfs_->flistxattr(fd, buf, sizeof buf));
  EXPECT_EQ(std::string("user.a\0", 7), std::string(buf, 7));
  ASSERT_OK(vfs_->fremovexattr(fd, "user.a"));
  EXPECT_ERRNO(vfs_->fremovexattr(fd, "user.a"), ENODATA);
  EXPECT_ERRNO(vfs_->fgetxattr(fd, "user.a", buf, sizeof buf), ENODATA);
  ASSERT_TRUE(vfs_->close(fd).ok());
  EXPECT_ERRNO(vfs_->fgetxattr(fd, "user.a", buf, sizeof buf), EBADF);

  int pathFd = open("f", O_PATH);
  ASSERT_GT(pathFd, 0);
  EXPECT_ERRNO(vfs_->fgetxattr(pathFd, "user.a", buf, sizeof buf), EBADF);
  EXPECT_ERRNO(vfs_->fsetxattr(pathFd, "user.a", "1", 1, 0), EBADF);
  EXPECT_ERRNO(vfs_->flistxattr(pathFd, buf, sizeof buf), EBADF);
  ASSERT_TRUE(vfs_->close(pathFd).ok());

  // A directory opened for reading, relative paths from it.
  ASSERT_OK(vfs_->mkdir(At::root(), "d", 0755));
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  ASSERT_GT(dfd, 0);
  ASSERT_OK(vfs_->fsetxattr(dfd, "user.dir", "D", 1, 0));
  EXPECT_EQ("D", get("d", "user.dir"));
  touch("d/g");
  ASSERT_OK(vfs_->setxattr(At::dir(dfd), "g", true, "user.g", "G", 1, 0));
  EXPECT_EQ("G", get("d/g", "user.g"));
  ASSERT_TRUE(vfs_->close(dfd).ok());
}

TEST_F(VfsXattrTest, PerInodeAcrossShardsAndRemovedWithIt) {
  // Directories spread over both shards: each keeps its own attributes.
  for (int i = 0; i < 8; ++i) {
    std::string d = "dir" + std::to_string(i);
    ASSERT_OK(vfs_->mkdir(At::root(), d, 0755));
    ASSERT_OK(set(d, "user.name", d));
    touch(d + "/f");
    ASSERT_OK(set(d + "/f", "user.name", d + "/f"));
  }
  for (int i = 0; i < 8; ++i) {
    std::string d = "dir" + std::to_string(i);
    EXPECT_EQ(d, get(d, "user.name"));
    EXPECT_EQ(d + "/f", get(d + "/f", "user.name"));
  }

  // Hard links share them.
  touch("a");
  ASSERT_OK(vfs_->link(At::root(), "a", At::root(), "dir3/b", false));
  ASSERT_OK(set("a", "user.shared", "yes"));
  EXPECT_EQ("yes", get("dir3/b", "user.shared"));
  ASSERT_OK(vfs_->unlink(At::root(), "a"));
  EXPECT_EQ("yes", get("dir3/b", "user.shared"));

  // ctime moves, mtime does not.
  Attr before = *vfs_->stat(At::root(), "dir3/b", true);
  usleep(2000);
  ASSERT_OK(set("dir3/b", "user.t", "1"));
  Attr after = *vfs_->stat(At::root(), "dir3/b", true);
  EXPECT_GT(after.ctimeNs, before.ctimeNs);
  EXPECT_EQ(after.mtimeNs, before.mtimeNs);
  usleep(2000);
  ASSERT_OK(vfs_->removexattr(At::root(), "dir3/b", true, "user.t"));
  EXPECT_GT(vfs_->stat(At::root(), "dir3/b", true)->ctimeNs, after.ctimeNs);

  // A new file under a removed one's name starts empty.
  ASSERT_OK(vfs_->unlink(At::root(), "dir3/b"));
  touch("dir3/b");
  EXPECT_EQ("", list("dir3/b"));
  ASSERT_OK(vfs_->unlink(At::root(), "dir5/f"));
  ASSERT_OK(vfs_->rmdir(At::root(), "dir5"));
  ASSERT_OK(vfs_->mkdir(At::root(), "dir5", 0755));
  EXPECT_EQ("", list("dir5"));
}

TEST_F(VfsXattrTest, EscapeLeavesTheMount) {
  EXPECT_ERRNO(set("../elsewhere", "user.a", "x"), kEscapeErrno);
  EXPECT_EQ("/elsewhere", vfs_->takeEscapedPath());
}

}  // namespace
}  // namespace myfs
