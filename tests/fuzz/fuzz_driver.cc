// Runs a libFuzzer-style target without libFuzzer: every file given on the command line,
// then MYFS_FUZZ_RUNS (default 200000) inputs from a seeded generator that mixes random
// bytes with path-like fragments. Used by ctest so that every build fuzzes a little;
// with clang, -DMYFS_LIBFUZZER=ON builds the same targets for real coverage-guided runs.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  const char* runsEnv = std::getenv("MYFS_FUZZ_RUNS");
  const long runs = runsEnv ? std::atol(runsEnv) : 200000;
  std::mt19937_64 rng(0x6d796673);
  const std::vector<std::string> pieces = {"/", "//", ".", "..", "/myfs", "myfs", "a", "bb", "\0", "/..", "./",
                                           std::string(255, 'n'), std::string(256, 'l'), "\xff", "~"};
  std::string input;
  for (long r = 0; r < runs; ++r) {
    input.clear();
    const int parts = static_cast<int>(rng() % 24);
    for (int p = 0; p < parts; ++p) {
      if (rng() % 4 == 0) {
        const int n = static_cast<int>(rng() % 8);
        for (int k = 0; k < n; ++k) input += static_cast<char>(rng());
      } else {
        input += pieces[rng() % pieces.size()];
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  }
  return 0;
}
