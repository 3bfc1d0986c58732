// Which paths the shim sends to myfs.
#include "preload/path_routing.h"

#include <gtest/gtest.h>

namespace myfs::preload {
namespace {

TEST(LexicalNormalizeTest, CollapsesDotsAndSlashes) {
  EXPECT_EQ("/a/c", lexicalNormalize("/a/./b/../c"));
  EXPECT_EQ("/a/c/", lexicalNormalize("//a//b/..//c/"));
  EXPECT_EQ("/", lexicalNormalize("/../.."));
  EXPECT_EQ("/myfs/x", lexicalNormalize("/tmp/../myfs/x"));
  EXPECT_EQ("/", lexicalNormalize("/"));
}

TEST(UnderPrefixTest, RecognizesTheMountAndWhatIsBelowIt) {
  std::string rel;
  ASSERT_TRUE(underPrefix("/myfs", "/myfs", &rel));
  EXPECT_EQ("/", rel);
  ASSERT_TRUE(underPrefix("/myfs/a/b", "/myfs", &rel));
  EXPECT_EQ("/a/b", rel);
  ASSERT_TRUE(underPrefix("//myfs/a", "/myfs", &rel));
  EXPECT_EQ("/a", rel);
  ASSERT_TRUE(underPrefix("/myfs/", "/myfs", &rel));
  EXPECT_EQ("/", rel);
  EXPECT_FALSE(underPrefix("/myfsx", "/myfs", &rel));
  EXPECT_FALSE(underPrefix("/my", "/myfs", &rel));
  EXPECT_FALSE(underPrefix("/tmp/myfs", "/myfs", &rel));
  EXPECT_FALSE(underPrefix("myfs/a", "/myfs", &rel));
  ASSERT_TRUE(underPrefix("/mnt/data/x", "/mnt/data", &rel));
  EXPECT_EQ("/x", rel);
}

}  // namespace
}  // namespace myfs::preload
