// The shim's cost on calls that are not myfs's (Google Benchmark): every program under
// libmyfs.so pays it on each kernel file call. scripts/bench.sh runs this binary without
// the library, with it (client not started), and with it after a first /myfs call (client
// started), and prints the difference per call.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace {

int devNull() {
  static int fd = ::open("/dev/null", O_RDWR);
  return fd;
}

// A kernel fd: the shim looks it up in its fd table and passes the call on.
void BM_ReadZeroBytes(benchmark::State& state) {
  char c;
  for (auto _ : state) benchmark::DoNotOptimize(::read(devNull(), &c, 0));
}
BENCHMARK(BM_ReadZeroBytes);

void BM_Fstat(benchmark::State& state) {
  struct stat st;
  for (auto _ : state) benchmark::DoNotOptimize(::fstat(devNull(), &st));
}
BENCHMARK(BM_Fstat);

void BM_LseekCur(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(::lseek(devNull(), 0, SEEK_CUR));
}
BENCHMARK(BM_LseekCur);

// A kernel path: the shim classifies it by prefix and passes the call on.
void BM_StatPath(benchmark::State& state) {
  struct stat st;
  for (auto _ : state) benchmark::DoNotOptimize(::stat("/dev/null", &st));
}
BENCHMARK(BM_StatPath);

void BM_OpenClose(benchmark::State& state) {
  for (auto _ : state) {
    int fd = ::open("/dev/null", O_RDONLY);
    benchmark::DoNotOptimize(fd);
    ::close(fd);
  }
}
BENCHMARK(BM_OpenClose);

}  // namespace

int main(int argc, char** argv) {
  // SHIM_BENCH_TOUCH=path: one call on it first (under the shim, a /myfs path starts the
  // client, so the measured calls then run with it loaded).
  if (const char* touch = std::getenv("SHIM_BENCH_TOUCH"); touch != nullptr && *touch != '\0') {
    struct stat st;
    (void)::stat(touch, &st);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
