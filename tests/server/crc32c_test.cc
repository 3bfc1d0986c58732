// CRC32C: known vectors (RFC 3720 B.4), hardware == software, incremental use.
#include "server/data/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace myfs::server {
namespace {

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32cSoftware(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c(0, "", 0), 0u);
  std::string zeros(32, '\0');
  std::string ones(32, '\xff');
  std::string inc(32, '\0');
  std::string dec(32, '\0');
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<char>(i);
    dec[i] = static_cast<char>(31 - i);
  }
  for (auto fn : {&crc32c, &crc32cSoftware}) {
    EXPECT_EQ(fn(0, zeros.data(), 32), 0x8A9136AAu);
    EXPECT_EQ(fn(0, ones.data(), 32), 0x62A8AB43u);
    EXPECT_EQ(fn(0, inc.data(), 32), 0x46DD794Eu);
    EXPECT_EQ(fn(0, dec.data(), 32), 0x113FDB5Cu);
  }
}

TEST(Crc32cTest, HardwareMatchesSoftwareAtEveryAlignmentAndLength) {
  std::mt19937 rng(42);
  std::string buf(5000, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (std::size_t start = 0; start < 9; ++start) {
    for (std::size_t len : {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4991}) {
      EXPECT_EQ(crc32c(0, buf.data() + start, len), crc32cSoftware(0, buf.data() + start, len))
          << "start " << start << " len " << len;
    }
  }
}

TEST(Crc32cTest, ExtendsIncrementally) {
  std::string s = "The quick brown fox jumps over the lazy dog";
  std::uint32_t whole = crc32c(0, s.data(), s.size());
  for (std::size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(crc32c(crc32c(0, s.data(), cut), s.data() + cut, s.size() - cut), whole);
    EXPECT_EQ(crc32cSoftware(crc32cSoftware(0, s.data(), cut), s.data() + cut, s.size() - cut), whole);
  }
  EXPECT_EQ(whole, 0x22620404u);
}

}  // namespace
}  // namespace myfs::server
