// sendfile(2), copy_file_range(2), splice(2) with one end (or both) in the tested directory:
// one case per ERRORS line of the man pages.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kCopyCases[] = {
    // sendfile(2)
    {"sendfile_eagain", "EAGAIN: nonblocking I/O has been selected and the write would block (pipe full)",
     {"open f O_CREAT|O_RDWR 0644", "ftruncate 200000", "pipe R W", "fcntl W F_SETFL O_NONBLOCK",
      "sendfile W @ NULL 200000", "sendfile W @ NULL 200000"}},
    {"sendfile_ebadf", "EBADF: the input file was not opened for reading or the output file not for writing",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "keep A", "open g O_CREAT|O_WRONLY 0644", "keep B",
      "open g O_RDONLY", "keep C", "sendfile A B NULL 3", "sendfile C A 0 3", "sendfile 1000 A 0 3",
      "sendfile A 1000 0 3"}},
    {"sendfile_einval", "EINVAL: descriptor is not valid or an mmap-like operation is not available for in_fd",
     {"mkdir d 0755", "open d O_RDONLY", "keep D", "open f O_CREAT|O_WRONLY 0644", "sendfile @ D NULL 10"}},
    {"sendfile_einval_append", "EINVAL: out_fd has the O_APPEND flag set",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "keep A", "open g O_CREAT|O_WRONLY|O_APPEND 0644",
      "sendfile @ A 0 3", "attr size g"}},
    {"sendfile_espipe", "ESPIPE: offset is not NULL but the input file is not seekable",
     {"pipe R W", "writefd W abc", "open f O_CREAT|O_WRONLY 0644", "sendfile @ R 0 3", "sendfile @ R NULL 3",
      "attr size f"}},
    {"sendfile_data", "sendfile: copies from the offset without moving in_fd's offset; to a pipe and /dev/null",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ hello_world", "keep A", "lseekfd A 0 SEEK_SET",
      "open g O_CREAT|O_RDWR 0644", "keep B", "sendfile B A 6 100", "lseekfd A 0 SEEK_CUR", "sendfile B A NULL 5",
      "lseekfd A 0 SEEK_CUR", "attr size g", "pread B 100 0", "pipe R W", "sendfile W A 0 4", "readfd R 100",
      "open /dev/null O_WRONLY", "sendfile @ A NULL 100", "open g O_RDONLY", "keep C", "pipe P Q", "writefd Q xyz",
      "sendfile B P NULL 3", "attr size g"}},
    // copy_file_range(2)
    {"cfr_ebadf_invalid", "EBADF: one or more file descriptors are not valid",
     {"open f O_CREAT|O_RDWR 0644", "copy_file_range 1000 NULL @ NULL 1 0", "copy_file_range @ NULL 1000 NULL 1 0"}},
    {"cfr_ebadf_mode", "EBADF: fd_in is not open for reading; or fd_out is not open for writing",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "keep A", "open f O_WRONLY", "keep W", "open g O_CREAT|O_RDONLY 0644",
      "keep R", "copy_file_range W 0 R NULL 3 0", "copy_file_range A 0 R NULL 3 0"}},
    {"cfr_ebadf_append", "EBADF: the O_APPEND flag is set for fd_out",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "keep A", "open g O_CREAT|O_WRONLY|O_APPEND 0644",
      "copy_file_range A 0 @ NULL 3 0"}},
    {"cfr_efbig_offset", "EFBIG: write at a position past the maximum file offset",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "keep A", "open g O_CREAT|O_RDWR 0644",
      "copy_file_range A 0 @ 9223372036854775806 3 0"}},
    {"cfr_efbig_rlimit", "EFBIG: write beyond the process's file size resource limit",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abcdefghij", "keep A", "open g O_CREAT|O_RDWR 0644",
      "fsizelimit 4", "copy_file_range A 0 @ 8 3 0", "copy_file_range A 0 @ 0 10 0", "attr size g"}},
    {"cfr_einval_flags", "EINVAL: the flags argument is not 0",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "keep A", "open g O_CREAT|O_RDWR 0644",
      "copy_file_range A 0 @ 0 3 1"}},
    {"cfr_einval_overlap", "EINVAL: fd_in and fd_out refer to the same file and the ranges overlap",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abcdefghij", "copy_file_range @ 0 @ 2 5 0",
      "copy_file_range @ 0 @ 5 5 0", "attr size f"}},
    {"cfr_einval_not_regular", "EINVAL: either fd_in or fd_out is not a regular file",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "keep A", "pipe R W", "copy_file_range A 0 W NULL 3 0",
      "writefd W xyz", "copy_file_range R NULL A 0 3 0"}},
    {"cfr_eisdir", "EISDIR: either fd_in or fd_out refers to a directory",
     {"mkdir d 0755", "open d O_RDONLY", "keep D", "open f O_CREAT|O_RDWR 0644", "copy_file_range D 0 @ 0 3 0"}},
    {"cfr_data", "copy_file_range: copies, advances offsets given as NULL, stops at the end of the input",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ hello_world", "keep A", "lseekfd A 0 SEEK_SET",
      "open g O_CREAT|O_RDWR 0644", "keep B", "copy_file_range A NULL B NULL 5 0", "lseekfd A 0 SEEK_CUR",
      "lseekfd B 0 SEEK_CUR", "copy_file_range A 6 B 100 100 0", "attr size g", "copy_file_range A 50 B 0 10 0",
      "pread B 5 0", "open /dev/null O_WRONLY", "copy_file_range A 0 @ NULL 3 0"}},
    // splice(2)
    {"splice_eagain", "EAGAIN: SPLICE_F_NONBLOCK and the operation would block (empty pipe)",
     {"pipe R W", "open f O_CREAT|O_RDWR 0644", "isolated splice R NULL @ 0 10 SPLICE_F_NONBLOCK"}},
    {"splice_ebadf", "EBADF: one or both file descriptors are not valid, or do not have proper read-write mode",
     {"pipe R W", "isolated splice 1000 NULL W NULL 1 0", "open f O_CREAT|O_WRONLY 0644", "writefd @ abc",
      "isolated splice @ 0 W NULL 3 0", "open f O_RDONLY", "writefd W xyz", "isolated splice R NULL @ 0 3 0"}},
    {"splice_einval_append", "EINVAL: the target file is opened in append mode",
     {"pipe R W", "writefd W abc", "open f O_CREAT|O_WRONLY|O_APPEND 0644", "isolated splice R NULL @ NULL 3 0",
      "attr size f"}},
    {"splice_einval_no_pipe", "EINVAL: neither of the file descriptors refers to a pipe",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "keep A", "open g O_CREAT|O_RDWR 0644",
      "isolated splice A 0 @ 0 3 0"}},
    {"splice_einval_same_pipe", "EINVAL: fd_in and fd_out refer to the same pipe",
     {"pipe R W", "writefd W abc", "isolated splice R NULL W NULL 3 0"}},
    {"splice_espipe", "ESPIPE: off_in or off_out was not NULL, but the corresponding fd refers to a pipe",
     {"pipe R W", "writefd W abc", "open f O_CREAT|O_RDWR 0644", "isolated splice R 0 @ 0 3 0"}},
    {"splice_data", "splice: a myfs file into a pipe and back into another myfs file",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ hello", "keep A", "pipe R W", "isolated splice A 0 W NULL 5 0",
      "open g O_CREAT|O_RDWR 0644", "isolated splice R NULL @ NULL 5 0", "attr size g", "pread @ 10 0"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(Copy, kCopyCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
