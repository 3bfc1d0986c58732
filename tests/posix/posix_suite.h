// The POSIX conformance suite: for each call family, one case per ERRORS line of its Linux
// man page (and a few cases of documented behaviour), each a list of errno_probe ops
// (tests/posix/probe_ops.h) run in a fresh directory on a native temporary directory (the
// reference answer) and under libmyfs.so against a real cluster; the printed return values
// and errnos must be the same.
//
// The selected cases of a family run in one probe process per side ("case NAME" separates
// them), so a family costs two program runs however many cases it has.
//
// Cases that differ today are listed in the family's known differences with the cause: such
// a case is skipped with "known difference: ..." while it still differs, and fails once it
// no longer does (so the entry gets removed).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace myfs::testing {

struct PosixCase {
  const char* name;       // also the directory the case runs in
  const char* errorLine;  // the man page's ERRORS line (or the behaviour) it checks
  std::vector<const char*> ops;
};

inline void PrintTo(const PosixCase& c, std::ostream* os) { *os << c.name; }

// case name -> why the library's answer differs (see the file's comment)
using KnownDifferences = std::map<std::string, std::string>;

// Runs the case (with the other selected cases of its family, once per process) and checks it.
void checkPosixCase(const std::string& family, const std::vector<PosixCase>& all, const PosixCase& c,
                    const KnownDifferences& known);

}  // namespace myfs::testing

// One parameterized test per family: POSIX_FAMILY(Open, kOpenCases, kKnownDifferences).
#define POSIX_FAMILY(Family, kCases, kKnown)                                                                   \
  class Family##Test : public ::testing::TestWithParam<::myfs::testing::PosixCase> {};                       \
  TEST_P(Family##Test, SameAsNative) {                                                                       \
    ::myfs::testing::checkPosixCase(#Family, std::vector<::myfs::testing::PosixCase>(std::begin(kCases),      \
                                                                                      std::end(kCases)),      \
                                    GetParam(), kKnown);                                                     \
  }                                                                                                          \
  INSTANTIATE_TEST_SUITE_P(Posix, Family##Test, ::testing::ValuesIn(kCases),                                 \
                           [](const ::testing::TestParamInfo<::myfs::testing::PosixCase>& i) {               \
                             return std::string(i.param.name);                                               \
                           })
