// rpc/convert.h: every value type survives toWire then fromWire unchanged, and results
// carry their errno instead of their fields.
#include "rpc/convert.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <string>

namespace myfs::rpc {
namespace {

// Encodes `value` into a fresh message as a `Wire` struct and decodes it back.
template <typename Wire, typename T>
auto roundTrip(const T& value) {
  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<Wire>();
  toWire(value, builder);
  return fromWire(builder.asReader());
}

Attr sampleAttr() {
  Attr a;
  a.ino = 0x0001000000000007;
  a.mode = 0100644;
  a.nlink = 3;
  a.uid = 1000;
  a.gid = 100;
  a.size = 1ull << 40;
  a.atimeNs = -5;
  a.mtimeNs = 1700000000123456789;
  a.ctimeNs = 1700000000987654321;
  a.rdev = 0x0803;
  a.version = 42;
  a.parent = 1;
  return a;
}

TEST(ConvertTest, AttrCredAndSetAttr) {
  EXPECT_EQ(roundTrip<schema::Attr>(sampleAttr()), sampleAttr());

  Cred c;
  c.uid = 1001;
  c.gid = 1002;
  c.groups = {4, 24, 1002};
  EXPECT_EQ(roundTrip<schema::Cred>(c), c);

  SetAttr s;
  s.setMode = s.setUid = s.setGid = s.setSize = s.growOnly = s.setAtime = s.setMtime = true;
  s.mode = 04755;
  s.uid = 7;
  s.gid = 8;
  s.size = 12345;
  s.atimeNs = kSetAttrTimeNow;
  s.mtimeNs = 99;
  EXPECT_EQ(roundTrip<schema::SetAttrRequest>(s), s);
  EXPECT_EQ(roundTrip<schema::SetAttrRequest>(SetAttr{}), SetAttr{});
}

TEST(ConvertTest, AttrResult) {
  Result<Attr> ok = roundTrip<schema::AttrResult>(Result<Attr>(sampleAttr()));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, sampleAttr());
  EXPECT_EQ(roundTrip<schema::AttrResult>(Result<Attr>(Errno(ENOENT))).err(), ENOENT);
}

TEST(ConvertTest, Stats) {
  ShardStats shard{3, 10, 20, 4, 5, 6000};
  EXPECT_EQ(roundTrip<schema::ShardStats>(shard), shard);
  DataStats data{7, 8000, 1ull << 50, 1ull << 49, 2};
  EXPECT_EQ(roundTrip<schema::DataStats>(data), data);
  MountInfo mount{1u << 20, 2, 4, kRootIno};
  EXPECT_EQ(roundTrip<schema::MetaService::MountInfoResults>(mount), mount);
}

// A method result converts its fields when `err` is 0, and only the errno otherwise.
template <typename Wire, typename T>
void expectResultRoundTrip(const T& value) {
  Result<T> ok = roundTrip<Wire>(Result<T>(value));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, value);
  EXPECT_EQ(roundTrip<Wire>(Result<T>(Errno(EACCES))).err(), EACCES);
}

TEST(ConvertTest, MetaServiceResults) {
  expectResultRoundTrip<schema::MetaService::CreateResults>(CreateResult{sampleAttr(), true});
  DirPage page;
  page.entries = {DirEntry{"a", 2, 8}, DirEntry{"sub dir", 0x0002000000000001, 4}, DirEntry{"", 0, 0}};
  page.nextCookie = std::string("\x00\x01\xff name", 9);
  page.eof = true;
  expectResultRoundTrip<schema::MetaService::ReaddirResults>(page);
  expectResultRoundTrip<schema::MetaService::ReaddirResults>(DirPage{});
  expectResultRoundTrip<schema::MetaService::UnlinkResults>(UnlinkResult{9, false, true, 4096});
  expectResultRoundTrip<schema::MetaService::UnlinkResults>(UnlinkResult{0x0003000000000002, true, false, 0});
  expectResultRoundTrip<schema::MetaService::RenameResults>(RenameResult{UnlinkResult{11, true, true, 77}, 12});
  expectResultRoundTrip<schema::MetaService::RenameResults>(RenameResult{UnlinkResult{}, 13});
  expectResultRoundTrip<schema::MetaService::AddEntryResults>(AddEntryResult{14, 040000});
  expectResultRoundTrip<schema::MetaService::LinkCountResults>(LinkCountResult{2, 512});
  DirDelegation d;
  d.gen = 77;
  d.attr = sampleAttr();
  d.entries = page.entries;
  d.numbers = InodeRange{0x0001000000000100, 256};
  expectResultRoundTrip<schema::MetaService::DelegateDirResults>(d);
  expectResultRoundTrip<schema::MetaService::DelegateDirResults>(DirDelegation{});
}

TEST(ConvertTest, FileIntent) {
  FileIntent f;
  f.cred.uid = 1000;
  f.cred.gid = 100;
  f.cred.groups = {4, 27};
  f.parent = 0x0001000000000002;
  f.name = std::string("a\x00b", 3);
  f.attr = sampleAttr();
  f.gen = 12;
  EXPECT_EQ(roundTrip<schema::FileIntent>(f), f);
  EXPECT_EQ(roundTrip<schema::FileIntent>(FileIntent{}), FileIntent{});
}

}  // namespace
}  // namespace myfs::rpc
