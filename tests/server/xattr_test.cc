// MetaStore extended attributes: the rules and errnos of schema/meta.capnp (getxattr,
// setxattr, listxattr, removexattr), and their removal with the inode, on real RocksDB.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "server/meta/meta_store.h"
#include "tests/server/store_test_util.h"
#include "tests/server/temp_dir.h"

namespace myfs::server {
namespace {

using testing::TempDir;

using testing::kAlice;
using testing::kBob;
using testing::kRoot;
using testing::user;

class XattrStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    open();
    SetAttr m;  // everyone may create in the root
    m.setMode = true;
    m.mode = 0777;
    ASSERT_TRUE(s().setattr(kRoot, kRootIno, m).ok());
  }

  void open() {
    store_.reset();
    MetaStoreOptions o;
    o.dir = tmp_.sub("shard0");
    std::string error;
    store_ = MetaStore::open(o, &error);
    ASSERT_TRUE(store_) << error;
  }

  MetaStore& s() { return *store_; }

  // A directory under root owned by `owner`.
  InodeId dirOf(const Cred& owner, const std::string& name, std::uint32_t mode) {
    Result<Attr> d = s().mkdir(kRoot, kRootIno, name, S_IFDIR | mode);
    EXPECT_TRUE(d.ok());
    SetAttr r;
    r.setUid = r.setGid = true;
    r.uid = owner.uid;
    r.gid = owner.gid;
    EXPECT_TRUE(s().setattr(kRoot, d->ino, r).ok());
    SetAttr m;
    m.setMode = true;
    m.mode = mode;
    EXPECT_TRUE(s().setattr(kRoot, d->ino, m).ok());
    return d->ino;
  }

  InodeId file(const Cred& c, InodeId parent, const std::string& name, std::uint32_t mode = 0644) {
    Result<CreateResult> r = s().create(c, parent, name, S_IFREG | mode, true, 0);
    EXPECT_TRUE(r.ok()) << name << ": " << errnoName(r.err());
    return r.ok() ? r->attr.ino : 0;
  }

  // The "X" keys in the store (closes and reopens it).
  std::vector<std::string> xattrKeys() {
    store_.reset();
    std::vector<std::string> keys;
    {
      rocksdb::DB* raw = nullptr;
      rocksdb::Options o;
      rocksdb::Status st = rocksdb::DB::OpenForReadOnly(o, tmp_.sub("shard0"), &raw);
      EXPECT_TRUE(st.ok()) << st.ToString();
      std::unique_ptr<rocksdb::DB> db(raw);
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
      for (it->Seek("X"); it->Valid() && it->key().starts_with("X"); it->Next()) keys.push_back(it->key().ToString());
    }
    open();
    return keys;
  }

  TempDir tmp_;
  std::unique_ptr<MetaStore> store_;
};

TEST_F(XattrStoreTest, SetGetListRemove) {
  InodeId f = file(kAlice, kRootIno, "f");
  Attr before = *s().getattr(f);
  EXPECT_ERRNO(s().getxattr(kAlice, f, "user.a"), ENODATA);
  EXPECT_TRUE(s().listxattr(kAlice, f)->empty());

  Result<Attr> a = s().setxattr(kAlice, f, "user.a", "one", 0);
  ASSERT_OK(a);
  EXPECT_GT(a->version, before.version);
  EXPECT_GE(a->ctimeNs, before.ctimeNs);
  EXPECT_EQ(a->mtimeNs, before.mtimeNs);
  EXPECT_EQ(*s().getattr(f), *a);
  EXPECT_EQ("one", *s().getxattr(kAlice, f, "user.a"));
  ASSERT_OK(s().setxattr(kAlice, f, "user.empty", "", 0));
  EXPECT_EQ("", *s().getxattr(kAlice, f, "user.empty"));
  std::string binary("a\0b\xff", 4);
  ASSERT_OK(s().setxattr(kAlice, f, "user.bin", binary, 0));
  EXPECT_EQ(binary, *s().getxattr(kAlice, f, "user.bin"));
  EXPECT_EQ((std::vector<std::string>{"user.a", "user.bin", "user.empty"}), *s().listxattr(kAlice, f));

  // Flags: create / replace.
  EXPECT_ERRNO(s().setxattr(kAlice, f, "user.a", "two", kXattrCreate), EEXIST);
  EXPECT_ERRNO(s().setxattr(kAlice, f, "user.new", "two", kXattrReplace), ENODATA);
  EXPECT_ERRNO(s().setxattr(kAlice, f, "user.a", "two", 4), EINVAL);
  ASSERT_OK(s().setxattr(kAlice, f, "user.a", "two", kXattrReplace));
  EXPECT_EQ("two", *s().getxattr(kAlice, f, "user.a"));
  ASSERT_OK(s().setxattr(kAlice, f, "user.c", "3", kXattrCreate));

  Attr mid = *s().getattr(f);
  Result<Attr> r = s().removexattr(kAlice, f, "user.a");
  ASSERT_OK(r);
  EXPECT_GT(r->version, mid.version);
  EXPECT_ERRNO(s().removexattr(kAlice, f, "user.a"), ENODATA);
  EXPECT_ERRNO(s().getxattr(kAlice, f, "user.a"), ENODATA);
  EXPECT_EQ((std::vector<std::string>{"user.bin", "user.c", "user.empty"}), *s().listxattr(kAlice, f));

  // Durable across a reopen.
  open();
  EXPECT_EQ("3", *s().getxattr(kAlice, f, "user.c"));
  EXPECT_ERRNO(s().getxattr(kAlice, 0x7777, "user.c"), ENOENT);
  EXPECT_ERRNO(s().setxattr(kAlice, 0x7777, "user.c", "x", 0), ENOENT);
  EXPECT_ERRNO(s().listxattr(kAlice, 0x7777), ENOENT);
  EXPECT_ERRNO(s().removexattr(kAlice, 0x7777, "user.c"), ENOENT);
}

TEST_F(XattrStoreTest, NamesAndSizes) {
  InodeId f = file(kAlice, kRootIno, "f");
  EXPECT_ERRNO(s().setxattr(kAlice, f, "", "v", 0), ERANGE);
  EXPECT_ERRNO(s().getxattr(kAlice, f, ""), ERANGE);
  std::string longest = "user." + std::string(kXattrNameMax - 5, 'n');
  EXPECT_OK(s().setxattr(kAlice, f, longest, "v", 0));
  EXPECT_ERRNO(s().setxattr(kAlice, f, longest + "n", "v", 0), ERANGE);
  EXPECT_ERRNO(s().removexattr(kAlice, f, longest + "n"), ERANGE);
  EXPECT_OK(s().setxattr(kAlice, f, "user.big", std::string(kXattrSizeMax, 'v'), 0));
  EXPECT_EQ(kXattrSizeMax, s().getxattr(kAlice, f, "user.big")->size());
  EXPECT_ERRNO(s().setxattr(kAlice, f, "user.big", std::string(kXattrSizeMax + 1, 'v'), 0), E2BIG);

  EXPECT_ERRNO(s().setxattr(kAlice, f, "user.", "v", 0), EINVAL);
  EXPECT_ERRNO(s().getxattr(kAlice, f, "user."), EINVAL);
  EXPECT_ERRNO(s().setxattr(kAlice, f, "user", "v", 0), EOPNOTSUPP);
  EXPECT_ERRNO(s().setxattr(kAlice, f, "other.x", "v", 0), EOPNOTSUPP);
  EXPECT_ERRNO(s().getxattr(kAlice, f, "other.x"), EOPNOTSUPP);
  EXPECT_ERRNO(s().removexattr(kAlice, f, "other.x"), EOPNOTSUPP);
  EXPECT_ERRNO(s().setxattr(kRoot, f, "system.posix_acl_access", "v", 0), EOPNOTSUPP);
  EXPECT_ERRNO(s().getxattr(kRoot, f, "system.foo"), EOPNOTSUPP);

  // The names of one inode are bounded by what listxattr can return (64 KiB).
  InodeId g = file(kAlice, kRootIno, "g");
  const std::string stem = "user." + std::string(240, 'x');
  int stored = 0;
  for (int i = 0; i < 1000; ++i) {
    Result<Attr> r = s().setxattr(kAlice, g, stem + std::to_string(1000 + i), "", 0);
    if (!r) {
      EXPECT_EQ(ENOSPC, r.err());
      break;
    }
    ++stored;
  }
  EXPECT_EQ(static_cast<int>(kXattrListMax / (stem.size() + 4 + 1)), stored);
  std::size_t listed = 0;
  Result<std::vector<std::string>> all = s().listxattr(kAlice, g);
  ASSERT_OK(all);
  for (const std::string& n : *all) listed += n.size() + 1;
  EXPECT_LE(listed, kXattrListMax);
  // Replacing one that exists is still possible.
  EXPECT_OK(s().setxattr(kAlice, g, stem + "1000", "again", 0));
}

TEST_F(XattrStoreTest, Permissions) {
  InodeId f = file(kAlice, kRootIno, "f", 0644);
  ASSERT_OK(s().setxattr(kAlice, f, "user.a", "1", 0));
  EXPECT_EQ("1", *s().getxattr(kBob, f, "user.a"));           // read permission
  EXPECT_ERRNO(s().setxattr(kBob, f, "user.a", "2", 0), EACCES);  // no write permission
  EXPECT_ERRNO(s().removexattr(kBob, f, "user.a"), EACCES);
  EXPECT_ERRNO(s().setxattr(kBob, f, "other.a", "2", 0), EACCES);  // permission before namespace
  EXPECT_EQ((std::vector<std::string>{"user.a"}), *s().listxattr(kBob, f));

  InodeId priv = file(kAlice, kRootIno, "priv", 0600);
  ASSERT_OK(s().setxattr(kAlice, priv, "user.a", "1", 0));
  EXPECT_ERRNO(s().getxattr(kBob, priv, "user.a"), EACCES);
  EXPECT_ERRNO(s().getxattr(kBob, priv, "user.missing"), EACCES);
  EXPECT_EQ((std::vector<std::string>{"user.a"}), *s().listxattr(kBob, priv));  // no permission needed
  EXPECT_EQ("1", *s().getxattr(kRoot, priv, "user.a"));
  EXPECT_OK(s().setxattr(kRoot, priv, "user.b", "2", 0));

  // The owner needs write permission too (Linux checks the mode, not ownership).
  InodeId ro = file(kAlice, kRootIno, "ro", 0444);
  EXPECT_ERRNO(s().setxattr(kAlice, ro, "user.a", "1", 0), EACCES);
  EXPECT_OK(s().setxattr(kRoot, ro, "user.a", "1", 0));

  // Group-writable.
  InodeId gw = file(kAlice, kRootIno, "gw", 0664);
  Cred bobInGroup = kBob;
  bobInGroup.groups.push_back(kAlice.gid);
  EXPECT_OK(s().setxattr(bobInGroup, gw, "user.a", "1", 0));

  // A sticky directory: only its owner (or root) writes user.* even with write permission.
  InodeId sticky = dirOf(kAlice, "sticky", 01777);
  EXPECT_ERRNO(s().setxattr(kBob, sticky, "user.a", "1", 0), EPERM);
  EXPECT_OK(s().setxattr(kAlice, sticky, "user.a", "1", 0));
  EXPECT_EQ("1", *s().getxattr(kBob, sticky, "user.a"));
  EXPECT_ERRNO(s().removexattr(kBob, sticky, "user.a"), EPERM);
  InodeId open = dirOf(kAlice, "open", 0777);
  EXPECT_OK(s().setxattr(kBob, open, "user.a", "1", 0));
}

TEST_F(XattrStoreTest, PrivilegedNamespaces) {
  InodeId f = file(kAlice, kRootIno, "f", 0666);
  EXPECT_ERRNO(s().setxattr(kAlice, f, "trusted.t", "1", 0), EPERM);
  EXPECT_ERRNO(s().setxattr(kAlice, f, "security.s", "1", 0), EPERM);
  ASSERT_OK(s().setxattr(kRoot, f, "trusted.t", "1", 0));
  ASSERT_OK(s().setxattr(kRoot, f, "security.s", "2", 0));
  ASSERT_OK(s().setxattr(kAlice, f, "user.u", "3", 0));
  EXPECT_ERRNO(s().getxattr(kAlice, f, "trusted.t"), ENODATA);
  EXPECT_EQ("2", *s().getxattr(kAlice, f, "security.s"));
  EXPECT_EQ("1", *s().getxattr(kRoot, f, "trusted.t"));
  EXPECT_EQ((std::vector<std::string>{"security.s", "user.u"}), *s().listxattr(kAlice, f));
  EXPECT_EQ((std::vector<std::string>{"security.s", "trusted.t", "user.u"}), *s().listxattr(kRoot, f));
  EXPECT_ERRNO(s().removexattr(kAlice, f, "trusted.t"), EPERM);
  EXPECT_ERRNO(s().removexattr(kAlice, f, "security.s"), EPERM);
  EXPECT_OK(s().removexattr(kRoot, f, "trusted.t"));

  // security.* is readable without read permission; trusted.* by root regardless of mode.
  InodeId priv = file(kAlice, kRootIno, "priv", 0000);
  ASSERT_OK(s().setxattr(kRoot, priv, "security.s", "x", 0));
  EXPECT_EQ("x", *s().getxattr(kBob, priv, "security.s"));
  EXPECT_ERRNO(s().getxattr(kBob, priv, "user.u"), EACCES);
}

TEST_F(XattrStoreTest, UserAttributesOnlyOnFilesAndDirectories) {
  Result<Attr> l = s().symlink(kAlice, kRootIno, "l", "target");
  ASSERT_OK(l);
  EXPECT_ERRNO(s().setxattr(kAlice, l->ino, "user.a", "1", 0), EPERM);
  EXPECT_ERRNO(s().getxattr(kAlice, l->ino, "user.a"), ENODATA);
  EXPECT_ERRNO(s().removexattr(kAlice, l->ino, "user.a"), EPERM);
  EXPECT_OK(s().setxattr(kRoot, l->ino, "trusted.a", "1", 0));
  EXPECT_EQ((std::vector<std::string>{"trusted.a"}), *s().listxattr(kRoot, l->ino));
  Result<CreateResult> fifo = s().create(kAlice, kRootIno, "p", S_IFIFO | 0666, true, 0);
  ASSERT_OK(fifo);
  EXPECT_ERRNO(s().setxattr(kAlice, fifo->attr.ino, "user.a", "1", 0), EPERM);
  InodeId d = dirOf(kAlice, "d", 0755);
  EXPECT_OK(s().setxattr(kAlice, d, "user.a", "1", 0));
}

TEST_F(XattrStoreTest, RemovedWithTheInodeAndSharedByHardLinks) {
  InodeId d = dirOf(kAlice, "d", 0755);
  InodeId f = file(kAlice, d, "f");
  InodeId plain = file(kAlice, d, "plain");
  ASSERT_OK(s().setxattr(kAlice, f, "user.a", "1", 0));
  ASSERT_OK(s().setxattr(kAlice, f, "user.b", "2", 0));
  ASSERT_OK(s().setxattr(kAlice, d, "user.dir", "3", 0));
  // A hard link: the same inode, the same attributes.
  ASSERT_OK(s().linkCount(f, +1, 0));
  ASSERT_OK(s().addEntry(kAlice, d, "g", f, S_IFREG, false));
  EXPECT_EQ(3u, xattrKeys().size());
  Result<UnlinkResult> u = s().unlink(kAlice, d, "f", false);
  ASSERT_OK(u);
  EXPECT_FALSE(u->lastLink);
  EXPECT_EQ("1", *s().getxattr(kAlice, f, "user.a"));
  EXPECT_EQ(3u, xattrKeys().size());
  u = s().unlink(kAlice, d, "g", false);
  ASSERT_OK(u);
  EXPECT_TRUE(u->lastLink);
  EXPECT_EQ((std::vector<std::string>{xattrKey(d, "user.dir")}), xattrKeys());
  ASSERT_OK(s().unlink(kAlice, d, "plain", false));
  (void)plain;
  ASSERT_OK(s().unlink(kAlice, kRootIno, "d", true));
  EXPECT_TRUE(xattrKeys().empty());

  // Replaced by rename: the victim's attributes go with it.
  InodeId a = file(kAlice, kRootIno, "a");
  InodeId b = file(kAlice, kRootIno, "b");
  ASSERT_OK(s().setxattr(kAlice, a, "user.x", "a", 0));
  ASSERT_OK(s().setxattr(kAlice, b, "user.x", "b", 0));
  ASSERT_OK(s().rename(kAlice, kRootIno, "a", kRootIno, "b", 0));
  EXPECT_EQ((std::vector<std::string>{xattrKey(a, "user.x")}), xattrKeys());
  EXPECT_EQ("a", *s().getxattr(kAlice, a, "user.x"));
}

}  // namespace
}  // namespace myfs::server
