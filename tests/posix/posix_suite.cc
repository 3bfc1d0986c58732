#include "tests/posix/posix_suite.h"

#include <memory>
#include <set>
#include <sstream>

#include "tests/integration/cluster.h"

namespace myfs::testing {
namespace {

// One cluster for the whole process, started on first use and stopped at the end.
std::unique_ptr<Cluster>& cluster() {
  static std::unique_ptr<Cluster> c;
  return c;
}

class PosixEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { cluster().reset(); }
};
[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new PosixEnvironment);

std::string quoteAll(const std::vector<std::string>& ops) {
  std::string out;
  for (const std::string& op : ops) out += " '" + op + "'";
  return out;
}

// The probe's output split by case: case name -> its lines (the "case" line first).
std::map<std::string, std::vector<std::string>> splitByCase(const std::string& out) {
  std::map<std::string, std::vector<std::string>> sections;
  std::istringstream in(out);
  std::string line, current;
  while (std::getline(in, line)) {
    if (line.rfind("myfs: ", 0) == 0) continue;  // the library's log (refusals logged once), not an answer
    if (line.rfind("case ", 0) == 0) {
      current = line.substr(5, line.find(" -> ") - 5);
    }
    if (!current.empty()) sections[current].push_back(line);
  }
  return sections;
}

struct FamilyResults {
  std::map<std::string, std::vector<std::string>> native, myfs;
  std::string nativeRaw, myfsRaw;
  int nativeStatus = 0, myfsStatus = 0;
};

// Names of this family's cases that this process runs (all of them without a filter).
std::set<std::string> selectedCases(const std::string& family) {
  std::set<std::string> names;
  const std::string suite = "Posix/" + family + "Test";
  const std::string prefix = "SameAsNative/";
  auto* unit = ::testing::UnitTest::GetInstance();
  for (int i = 0; i < unit->total_test_suite_count(); ++i) {
    const auto* s = unit->GetTestSuite(i);
    if (suite != s->name()) continue;
    for (int j = 0; j < s->total_test_count(); ++j) {
      const auto* t = s->GetTestInfo(j);
      std::string n = t->name();
      if (t->should_run() && n.rfind(prefix, 0) == 0) names.insert(n.substr(prefix.size()));
    }
  }
  return names;
}

const FamilyResults& runFamily(const std::string& family, const std::vector<PosixCase>& all) {
  static std::map<std::string, FamilyResults> cache;
  auto it = cache.find(family);
  if (it != cache.end()) return it->second;
  std::set<std::string> selected = selectedCases(family);
  std::vector<std::string> ops;
  for (const PosixCase& c : all) {
    if (!selected.empty() && !selected.count(c.name)) continue;
    ops.push_back(std::string("case ") + c.name);
    for (const char* op : c.ops) ops.push_back(op);
  }
  if (!cluster()) cluster() = std::make_unique<Cluster>(2, 2);
  const std::string probe = binDir() + "/errno_probe";
  FamilyResults r;
  {
    TempDir native;
    RunResult n = runBash("chmod 755 $R && mkdir -m 755 $R/c && " + probe + " $R/c" + quoteAll(ops), native.path());
    r.nativeStatus = n.status;
    r.nativeRaw = n.out;
    r.native = splitByCase(n.out);
  }
  RunResult m = cluster()->run("mkdir -m 755 $R && " + probe + " $R" + quoteAll(ops), "posix_" + family);
  r.myfsStatus = m.status;
  r.myfsRaw = m.out;
  r.myfs = splitByCase(m.out);
  return cache.emplace(family, std::move(r)).first->second;
}

std::string sideBySide(const std::vector<std::string>& want, const std::vector<std::string>& got) {
  std::string out = "  native | myfs\n";
  for (size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
    std::string w = i < want.size() ? want[i] : "(nothing)";
    std::string g = i < got.size() ? got[i] : "(nothing: the probe stopped)";
    if (w == g) out += "    " + w + "\n";
    else out += "  * " + w + "\n    | " + g.substr(g.find(" -> ") == std::string::npos ? 0 : g.find(" -> ")) + "\n";
  }
  return out;
}

}  // namespace

void checkPosixCase(const std::string& family, const std::vector<PosixCase>& all, const PosixCase& c,
                    const KnownDifferences& known) {
  const FamilyResults& r = runFamily(family, all);
  ASSERT_EQ(0, r.nativeStatus) << r.nativeRaw;
  auto n = r.native.find(c.name);
  ASSERT_NE(n, r.native.end()) << "no native output for " << c.name << ":\n" << r.nativeRaw;
  auto m = r.myfs.find(c.name);
  std::vector<std::string> got = m == r.myfs.end() ? std::vector<std::string>{} : m->second;
  const bool same = got == n->second;
  auto k = known.find(c.name);
  if (k != known.end()) {
    if (!same) GTEST_SKIP() << "known difference: " << k->second << "\n" << sideBySide(n->second, got);
    FAIL() << c.name << " is listed as a known difference (" << k->second
           << ") but now gives the native answer: remove it from the list";
  }
  EXPECT_TRUE(same) << c.errorLine << "\n"
                    << sideBySide(n->second, got)
                    << (r.myfsStatus != 0 ? "probe under myfs exited with " + std::to_string(r.myfsStatus) + "\n"
                                          : "");
}

}  // namespace myfs::testing
