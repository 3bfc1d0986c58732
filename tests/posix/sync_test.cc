// fsync(2)/fdatasync, sync(2)/syncfs, sync_file_range(2), posix_fadvise(2): one case per
// ERRORS line of the man pages.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kSyncCases[] = {
    {"fsync_ebadf", "EBADF: fd is not a valid open file descriptor",
     {"fsyncfd 1000", "fdatasync 1000", "open f O_CREAT|O_WRONLY 0644", "keep A", "closefd A", "fsyncfd A",
      "fdatasync A"}},
    {"fsync_einval", "EINVAL: fd is bound to a special file which does not support synchronization",
     {"pipe R W", "fsyncfd R", "fdatasync W", "socket", "fsyncfd @"}},
    {"fsync_works", "fsync/fdatasync: on read-only fds, O_PATH fds (EBADF) and directories",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ data", "fsyncfd @", "fdatasync @", "open f O_RDONLY", "fsyncfd @",
      "mkdir d 0755", "open d O_RDONLY", "fsyncfd @", "fdatasync @", "open f O_PATH", "fsyncfd @"}},
    {"syncfs_ebadf", "EBADF: (syncfs) fd is not a valid file descriptor",
     {"syncfs 1000", "open f O_CREAT|O_WRONLY 0644", "syncfs @", "sync"}},
    {"sync_file_range_ebadf", "EBADF: fd is not a valid file descriptor",
     {"sync_file_range 1000 0 0 SYNC_FILE_RANGE_WRITE"}},
    {"sync_file_range_einval", "EINVAL: flags specifies an invalid bit; or offset or nbytes is invalid",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "sync_file_range @ 0 0 0x8", "sync_file_range @ -1 0 0",
      "sync_file_range @ 0 -1 0", "sync_file_range @ 0 0 SYNC_FILE_RANGE_WRITE",
      "sync_file_range @ 0 3 SYNC_FILE_RANGE_WAIT_BEFORE|SYNC_FILE_RANGE_WRITE|SYNC_FILE_RANGE_WAIT_AFTER"}},
    {"sync_file_range_espipe", "ESPIPE: fd refers to something other than a regular file, a block device or a directory",
     {"pipe R W", "sync_file_range W 0 0 SYNC_FILE_RANGE_WRITE", "mkdir d 0755", "open d O_RDONLY",
      "sync_file_range @ 0 0 SYNC_FILE_RANGE_WRITE"}},
    {"fadvise_ebadf", "EBADF: the fd argument was not a valid file descriptor",
     {"posix_fadvise 1000 0 0 POSIX_FADV_NORMAL", "open f O_CREAT|O_RDONLY 0644", "keep A", "closefd A",
      "posix_fadvise A 0 0 POSIX_FADV_NORMAL"}},
    {"fadvise_einval", "EINVAL: an invalid value was specified for advice",
     {"open f O_CREAT|O_RDONLY 0644", "posix_fadvise @ 0 0 99", "posix_fadvise @ 0 -1 POSIX_FADV_NORMAL",
      "posix_fadvise @ 0 0 POSIX_FADV_SEQUENTIAL", "posix_fadvise @ 0 0 POSIX_FADV_RANDOM",
      "posix_fadvise @ 0 0 POSIX_FADV_NOREUSE", "posix_fadvise @ 0 0 POSIX_FADV_WILLNEED",
      "posix_fadvise @ 0 0 POSIX_FADV_DONTNEED"}},
    {"fadvise_espipe", "ESPIPE: the specified file descriptor refers to a pipe or FIFO",
     {"pipe R W", "posix_fadvise R 0 0 POSIX_FADV_NORMAL", "mkdir d 0755", "open d O_RDONLY",
      "posix_fadvise @ 0 0 POSIX_FADV_NORMAL"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(Sync, kSyncCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
