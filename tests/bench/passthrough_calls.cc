// N rounds of read (0 bytes), fstat and lseek on /dev/null: calls the shim passes to the
// kernel. scripts/bench.sh runs it under callgrind with and without libmyfs.so and with
// N = 0 and N > 0, which gives the shim's cost per call in instructions: a count that
// does not move with the machine's load, unlike a 1 µs system call's time.
//   passthrough_calls N
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 0;
  const int fd = open("/dev/null", O_RDONLY);
  if (fd < 0) return 1;
  char b[1];
  struct stat st;
  for (long i = 0; i < n; ++i) {
    if (read(fd, b, 0) != 0 || fstat(fd, &st) != 0 || lseek(fd, 0, SEEK_CUR) != 0) return 1;
  }
  return close(fd);
}
