// read(2), write(2), readv(2)/writev(2)/preadv2/pwritev2, pread(2)/pwrite(2): one case per
// ERRORS line of the man pages.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kReadWriteCases[] = {
    // read(2)
    {"read_eagain_regular", "EAGAIN: O_NONBLOCK would block (never for a regular file)",
     {"open f O_CREAT|O_RDWR|O_NONBLOCK 0644", "writefd @ abc", "pread @ 10 0", "readfd @ 10"}},
    {"read_ebadf_invalid", "EBADF: fd is not a valid file descriptor",
     {"readfd 1000 4", "open f O_CREAT|O_RDWR 0644", "keep A", "closefd A", "readfd A 4"}},
    {"read_ebadf_wronly", "EBADF: fd is not open for reading",
     {"open f O_CREAT|O_WRONLY 0644", "writefd @ abc", "readfd @ 4", "pread @ 4 0", "readv @ 2,2",
      "open f O_PATH", "readfd @ 4"}},
    {"read_efault", "EFAULT: buf is outside the accessible address space",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abcdef", "lseek 0 0", "isolated readbad @ 4"}},
    {"read_einval_odirect", "EINVAL: O_DIRECT and the buffer, count or offset is not suitably aligned",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abcdef", "close", "open f O_RDONLY|O_DIRECT", "readfd @ 3"}},
    {"read_eisdir", "EISDIR: fd refers to a directory",
     {"mkdir d 0755", "open d O_RDONLY", "readfd @ 10", "pread @ 10 0", "readv @ 4,4"}},
    {"read_eof_and_offsets", "read(2): returns 0 at end of file, advances the offset",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ hello", "readfd @ 10", "lseek 1 0", "readfd @ 2", "readfd @ 10",
      "readfd @ 10", "readfd @ 0", "lseek 100 0", "readfd @ 10"}},
    // write(2)
    {"write_eagain_regular", "EAGAIN: O_NONBLOCK would block (never for a regular file)",
     {"open f O_CREAT|O_WRONLY|O_NONBLOCK 0644", "writefd @ abc", "attr size f"}},
    {"write_ebadf", "EBADF: fd is not a valid file descriptor or is not open for writing",
     {"writefd 1000 x", "open f O_CREAT|O_RDONLY 0644", "writefd @ abc", "pwrite @ abc 0", "writev @ a,b",
      "keep A", "closefd A", "writefd A x"}},
    {"write_efault", "EFAULT: buf is outside the accessible address space",
     {"open f O_CREAT|O_RDWR 0644", "isolated writebad @ 4", "attr size f"}},
    {"write_efbig_offset", "EFBIG: write at a position past the maximum allowed offset",
     {"open f O_CREAT|O_RDWR 0644", "pwrite @ xy 9223372036854775806", "lseekfd @ 9223372036854775800 SEEK_SET",
      "writefd @ abcdefghij", "attr size f"}},
    {"write_efbig_rlimit", "EFBIG: write beyond the process's file size limit (RLIMIT_FSIZE)",
     {"open f O_CREAT|O_RDWR 0644", "fsizelimit 10", "writefd @ 0123456789abcdef", "writefd @ more",
      "pwrite @ x 20", "attr size f"}},
    {"write_einval_odirect", "EINVAL: O_DIRECT and the buffer, count or offset is not suitably aligned",
     {"open f O_CREAT|O_RDWR|O_DIRECT 0644", "writefd @ abc", "attr size f"}},
    {"write_epipe", "EPIPE: fd is connected to a pipe whose reading end is closed",
     {"pipe R W", "closefd R", "writefd W x"}},
    {"write_append", "write(2): O_APPEND writes at the end of the file whatever the offset",
     {"open f O_CREAT|O_RDWR|O_APPEND 0644", "writefd @ abc", "lseek 0 0", "writefd @ de", "lseek 0 1",
      "pwrite @ zz 0", "attr size f", "pread @ 100 0"}},
    {"write_zero", "write(2): count 0 on a regular file returns 0", {"open f O_CREAT|O_RDWR 0644", "writefd @ EMPTY"}},
    // readv(2), writev(2), preadv, pwritev, preadv2, pwritev2
    {"readv_einval_sum", "EINVAL: the sum of the iov_len values overflows an ssize_t value",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "lseek 0 0", "readv @ 1,HUGE", "preadv @ 0 HUGE,1"}},
    {"readv_einval_count", "EINVAL: the vector count, iovcnt, is less than zero or greater than the permitted maximum",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "readvcnt @ -1", "readvcnt @ 1025", "writevcnt @ -1",
      "writevcnt @ 1025", "writevcnt @ 1024", "attr size f"}},
    {"readv_eopnotsupp", "EOPNOTSUPP: an unknown flag is specified in flags (preadv2/pwritev2)",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "preadv2 @ 0 4 0x40000000", "pwritev2 @ 0 x 0x40000000"}},
    {"readv_writev_data", "readv/writev: gather and scatter in order; preadv/pwritev at an offset",
     {"open f O_CREAT|O_RDWR 0644", "writev @ ab,cde,f", "lseek 0 1", "lseek 0 0", "readv @ 2,2,10",
      "pwritev @ 1 XY,Z", "preadv @ 0 3,3", "lseek 0 1", "preadv2 @ -1 2 0", "lseek 0 1", "pwritev2 @ -1 end 0",
      "attr size f", "pwritev2 @ 0 app RWF_APPEND", "attr size f"}},
    // pread(2), pwrite(2)
    {"pread_einval_negative", "EINVAL: offset is negative (pread/pwrite)",
     {"open f O_CREAT|O_RDWR 0644", "pread @ 4 -1", "pwrite @ x -1", "preadv @ -1 4", "pwritev @ -1 x"}},
    {"pread_espipe", "ESPIPE: fd is associated with a pipe",
     {"pipe R W", "pread R 1 0", "pwrite W x 0", "preadv R 0 1", "pwritev W 0 x"}},
    {"pread_eof_and_offset", "pread/pwrite: do not move the file offset; reading past the end returns 0",
     {"open f O_CREAT|O_RDWR 0644", "pwrite @ hello 0", "lseek 0 1", "pwrite @ XY 10", "attr size f",
      "pread @ 100 3", "pread @ 10 100", "readfd @ 100"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(ReadWrite, kReadWriteCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
