// lseek(2): one case per ERRORS line of the man page, and SEEK_DATA/SEEK_HOLE.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kSeekCases[] = {
    {"ebadf", "EBADF: fd is not an open file descriptor",
     {"lseekfd 1000 0 SEEK_SET", "open f O_CREAT|O_RDWR 0644", "keep A", "closefd A", "lseekfd A 0 SEEK_CUR"}},
    {"einval_whence", "EINVAL: whence is not valid",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "lseekfd @ 0 5", "lseekfd @ 0 -1", "lseekfd @ 0 100",
      "lseekfd @ 0 SEEK_CUR"}},
    {"einval_negative", "EINVAL: the resulting file offset would be negative",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "lseekfd @ -1 SEEK_SET", "lseekfd @ -4 SEEK_END",
      "lseekfd @ -3 SEEK_END", "lseekfd @ -10 SEEK_CUR", "lseekfd @ 0 SEEK_CUR"}},
    {"enxio_beyond_end", "ENXIO: SEEK_DATA or SEEK_HOLE, and offset is beyond the end of the file",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ hello", "lseekfd @ 5 SEEK_DATA", "lseekfd @ 5 SEEK_HOLE",
      "lseekfd @ 100 SEEK_DATA", "lseekfd @ 100 SEEK_HOLE", "lseekfd @ -1 SEEK_DATA", "lseekfd @ 4 SEEK_HOLE",
      "open e O_CREAT|O_RDWR 0644", "lseekfd @ 0 SEEK_DATA", "lseekfd @ 0 SEEK_HOLE"}},
    {"enxio_trailing_hole", "ENXIO: SEEK_DATA and offset is within a hole at the end of the file",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ hello", "ftruncate 4194304", "fsync",
      "lseekfd @ 2097152 SEEK_DATA", "lseekfd @ 4194303 SEEK_DATA"}},
    {"espipe", "ESPIPE: fd is associated with a pipe, socket, or FIFO",
     {"pipe R W", "lseekfd R 0 SEEK_CUR", "lseekfd W 0 SEEK_SET", "mkfifo p 0644", "open p O_RDONLY|O_NONBLOCK",
      "lseekfd @ 0 SEEK_CUR"}},
    {"data_and_holes", "SEEK_DATA/SEEK_HOLE: data at the start, the implicit hole at the end",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ hello", "lseekfd @ 0 SEEK_DATA", "lseekfd @ 0 SEEK_HOLE",
      "lseekfd @ 3 SEEK_DATA", "lseekfd @ 3 SEEK_HOLE", "lseekfd @ 0 SEEK_CUR"}},
    {"beyond_end_write", "lseek past the end and write: the gap reads as zeros, the size grows",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ ab", "lseekfd @ 10 SEEK_END", "writefd @ cd", "attr size f",
      "lseekfd @ 0 SEEK_END", "lseekfd @ 5 SEEK_SET", "readfd @ 3", "lseekfd @ 0 SEEK_CUR",
      "lseekfd @ 9223372036854775807 SEEK_SET", "lseekfd @ 1 SEEK_CUR"}},
    {"directory", "lseek on a directory fd: SEEK_SET 0 (rewind) works", {"mkdir d 0755", "open d O_RDONLY", "lseekfd @ 0 SEEK_SET"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {};

POSIX_FAMILY(Seek, kSeekCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
