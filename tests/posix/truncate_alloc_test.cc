// truncate(2)/ftruncate, fallocate(2), posix_fallocate(3): one case per ERRORS line.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kTruncateAllocCases[] = {
    // truncate(2), ftruncate
    {"truncate_eacces", "EACCES: search permission is denied, or the named file is not writable by the user",
     {"mkdir d 0700", "open d/f O_CREAT|O_WRONLY 0666", "open g O_CREAT|O_WRONLY 0644", "asuser 65534",
      "truncate d/f 0", "truncate g 0"}},
    {"truncate_efault", "EFAULT: the argument path points outside the address space", {"isolated truncate BADPTR 0"}},
    {"truncate_efbig", "EFBIG: the argument length is larger than the maximum file size",
     {"open f O_CREAT|O_RDWR 0644", "truncate f 9223372036854775807", "ftruncate 9223372036854775807",
      "fsizelimit 100", "truncate f 200", "ftruncate 150", "truncate f 50", "attr size f"}},
    {"truncate_einval", "EINVAL: the argument length is negative",
     {"open f O_CREAT|O_RDWR 0644", "truncate f -1", "ftruncate -1", "attr size f"}},
    {"truncate_eisdir", "EISDIR: the named file is a directory", {"mkdir d 0755", "truncate d 0"}},
    {"truncate_eloop", "ELOOP: too many symbolic links were encountered in translating the pathname",
     {"symlink a b", "symlink b a", "truncate a 0", "truncate a/x 0"}},
    {"truncate_enametoolong", "ENAMETOOLONG: a component or the whole pathname is too long",
     {"truncate %L 0", "truncate %P 0"}},
    {"truncate_enoent", "ENOENT: the named file does not exist",
     {"truncate missing 0", "symlink nowhere dl", "truncate dl 0", "truncate EMPTY 0"}},
    {"truncate_enotdir", "ENOTDIR: a component of the path prefix is not a directory",
     {"open f O_CREAT|O_WRONLY 0644", "truncate f/x 0"}},
    {"ftruncate_ebadf", "EBADF: fd is not a valid file descriptor",
     {"ftruncatefd 1000 0", "open f O_CREAT|O_RDWR 0644", "keep A", "closefd A", "ftruncatefd A 0"}},
    {"ftruncate_einval_not_writable", "EBADF or EINVAL: fd is not open for writing",
     {"open f O_CREAT|O_RDONLY 0644", "ftruncatefd @ 0", "open f O_PATH", "ftruncatefd @ 0"}},
    {"ftruncate_einval_not_regular", "EINVAL: fd does not reference a regular file",
     {"mkdir d 0755", "open d O_RDONLY", "ftruncatefd @ 0", "pipe R W", "ftruncatefd W 0"}},
    {"truncate_sizes", "truncate: grows with zeros, shrinks, keeps the offset; through a symlink",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ hello", "ftruncate 2", "attr size f", "readfd @ 10",
      "lseek 0 1", "ftruncate 10", "pread @ 100 0", "symlink f l", "truncate l 3", "attr size f", "writefd @ X",
      "attr size f"}},
    // fallocate(2)
    {"fallocate_ebadf", "EBADF: fd is not a valid file descriptor, or is not opened for writing",
     {"fallocate 1000 0 0 10", "open f O_CREAT|O_RDONLY 0644", "fallocate @ 0 0 10"}},
    {"fallocate_efbig", "EFBIG: offset+len exceeds the maximum file size",
     {"open f O_CREAT|O_RDWR 0644", "fallocate @ 0 9223372036854775000 1000", "fsizelimit 100",
      "fallocate @ 0 0 200", "attr size f"}},
    {"fallocate_einval_range", "EINVAL: offset was less than 0, or len was less than or equal to 0",
     {"open f O_CREAT|O_RDWR 0644", "fallocate @ 0 -1 10", "fallocate @ 0 0 0", "fallocate @ 0 0 -5"}},
    {"fallocate_einval_collapse_eof", "EINVAL: FALLOC_FL_COLLAPSE_RANGE reaches or passes the end of the file",
     {"open f O_CREAT|O_RDWR 0644", "ftruncate 8192", "fallocate @ FALLOC_FL_COLLAPSE_RANGE 4096 4096"}},
    {"fallocate_einval_insert_eof", "EINVAL: FALLOC_FL_INSERT_RANGE and offset reaches or passes the end of the file",
     {"open f O_CREAT|O_RDWR 0644", "ftruncate 8192", "fallocate @ FALLOC_FL_INSERT_RANGE 8192 4096"}},
    {"fallocate_einval_unaligned", "EINVAL: COLLAPSE_RANGE or INSERT_RANGE with an offset or len not block aligned",
     {"open f O_CREAT|O_RDWR 0644", "ftruncate 65536", "fallocate @ FALLOC_FL_COLLAPSE_RANGE 100 4096",
      "fallocate @ FALLOC_FL_INSERT_RANGE 0 100"}},
    {"fallocate_einval_collapse_flags", "EINVAL: COLLAPSE_RANGE or INSERT_RANGE combined with other flags",
     {"open f O_CREAT|O_RDWR 0644", "ftruncate 65536",
      "fallocate @ FALLOC_FL_COLLAPSE_RANGE|FALLOC_FL_KEEP_SIZE 0 4096"}},
    {"fallocate_einval_not_regular", "EINVAL: ZERO_RANGE (or COLLAPSE/INSERT) on a file that is not regular",
     {"mkdir d 0755", "open d O_RDONLY", "fallocate @ FALLOC_FL_ZERO_RANGE 0 10"}},
    {"fallocate_enodev", "ENODEV: fd does not refer to a regular file or a directory",
     {"open /dev/null O_WRONLY", "fallocate @ 0 0 10"}},
    {"fallocate_eopnotsupp", "EOPNOTSUPP: the mode is not supported (PUNCH_HOLE without KEEP_SIZE)",
     {"open f O_CREAT|O_RDWR 0644", "ftruncate 8192", "fallocate @ FALLOC_FL_PUNCH_HOLE 0 4096",
      "fallocate @ 0x80 0 10"}},
    {"fallocate_espipe", "ESPIPE: fd refers to a pipe or FIFO", {"pipe R W", "fallocate W 0 0 10"}},
    {"fallocate_modes", "fallocate: mode 0 grows the file, KEEP_SIZE does not",
     {"open f O_CREAT|O_RDWR 0644", "fallocate @ 0 0 5000", "attr size f", "fallocate @ FALLOC_FL_KEEP_SIZE 0 9000",
      "attr size f", "fallocate @ 0 100 10", "attr size f", "pread @ 10 0"}},
    {"fallocate_punch_zero", "fallocate: PUNCH_HOLE|KEEP_SIZE and ZERO_RANGE zero the range",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abcdefghijklmnop", "fallocate @ FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE 2 4",
      "attr size f", "fallocate @ FALLOC_FL_ZERO_RANGE 8 20", "attr size f"}},
    // posix_fallocate(3)
    {"posix_fallocate_errors", "posix_fallocate: EBADF (not writable), EINVAL (len <= 0 or offset < 0), ESPIPE, ENODEV",
     {"posix_fallocate 1000 0 10", "open f O_CREAT|O_RDONLY 0644", "posix_fallocate @ 0 10", "open g O_CREAT|O_RDWR 0644",
      "posix_fallocate @ -1 10", "posix_fallocate @ 0 0", "posix_fallocate @ 0 100", "attr size g", "pipe R W",
      "posix_fallocate W 0 10", "posix_fallocate @ 0 9223372036854775000"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(TruncateAlloc, kTruncateAllocCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
