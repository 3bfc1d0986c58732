// dup(2)/dup2/dup3, fcntl(2) (F_DUPFD, F_GETFL/F_SETFL, F_GETFD/F_SETFD and the rest),
// close(2), close_range(2): one case per ERRORS line of the man pages.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kFdCases[] = {
    // dup(2)
    {"dup_ebadf_oldfd", "EBADF: oldfd isn't an open file descriptor",
     {"dup 1000", "dup2 1000 50", "dup3 1000 50 0", "open f O_CREAT|O_RDWR 0644", "keep A", "closefd A", "dup A",
      "dup2 A 50"}},
    {"dup_ebadf_newfd", "EBADF: newfd is out of the allowed range for file descriptors",
     {"open f O_CREAT|O_RDWR 0644", "dup2 @ 100000000", "dup2 @ -1", "dup3 @ -1 0"}},
    {"dup3_einval_flags", "EINVAL: (dup3) flags contain an invalid value",
     {"open f O_CREAT|O_RDWR 0644", "dup3 @ 50 0x1", "dup3 @ 50 O_NONBLOCK", "isopen 50"}},
    {"dup3_einval_same", "EINVAL: (dup3) oldfd was equal to newfd",
     {"open f O_CREAT|O_RDWR 0644", "dup2 @ 50", "dup3 50 50 0", "dup2 50 50", "dup2 1000 1000"}},
    {"dup_emfile", "EMFILE: the per-process limit on the number of open file descriptors has been reached",
     {"open f O_CREAT|O_RDWR 0644", "emfile 24 dup @"}},
    {"dup_shares_offset", "dup: the copies share the offset and status flags, not FD_CLOEXEC",
     {"open f O_CREAT|O_RDWR 0644", "keep A", "writefd A hello", "dup2 A 50", "lseekfd 50 1 SEEK_SET",
      "readfd A 10", "lseekfd 50 0 SEEK_CUR", "fcntl A F_SETFD FD_CLOEXEC", "fcntl 50 F_GETFD",
      "fcntl 50 F_SETFL O_APPEND", "fcntl A F_GETFL", "dup3 A 51 O_CLOEXEC", "fcntl 51 F_GETFD", "closefd A",
      "readfd 50 1", "pwrite 50 ZZ 0", "pread 51 100 0"}},
    {"dup2_replaces", "dup2: closes an open newfd first; the old file under newfd is gone",
     {"open f O_CREAT|O_RDWR 0644", "keep A", "writefd A ffff", "open g O_CREAT|O_RDWR 0644", "keep B",
      "dup2 A 60", "dup2 B 60", "writefd 60 gg", "attr size f", "attr size g", "closefd 60", "isopen 60"}},
    // fcntl(2)
    {"fcntl_ebadf", "EBADF: fd is not an open file descriptor",
     {"fcntl 1000 F_GETFL", "fcntl 1000 F_GETFD", "fcntl 1000 F_DUPFD 0", "open f O_CREAT|O_RDWR 0644", "keep A",
      "closefd A", "fcntl A F_SETFL O_APPEND"}},
    {"fcntl_ebadf_lock_mode", "EBADF: F_SETLK and the open mode does not match the type of lock requested",
     {"open f O_CREAT|O_RDONLY 0644", "fcntllock @ F_WRLCK", "open f O_WRONLY", "fcntllock @ F_RDLCK"}},
    {"fcntl_einval_cmd", "EINVAL: the value specified in cmd is not recognized",
     {"open f O_CREAT|O_RDWR 0644", "fcntl @ 9999", "fcntl @ -1"}},
    {"fcntl_einval_seals", "EINVAL: F_ADD_SEALS or F_GET_SEALS and the file system does not support sealing",
     {"open f O_CREAT|O_RDWR 0644", "fcntl @ F_GET_SEALS", "fcntl @ F_ADD_SEALS F_SEAL_WRITE"}},
    {"fcntl_einval_dupfd", "EINVAL: F_DUPFD and arg is negative or greater than the maximum allowable value",
     {"open f O_CREAT|O_RDWR 0644", "fcntl @ F_DUPFD -1", "fcntl @ F_DUPFD 100000000", "fcntl @ F_DUPFD_CLOEXEC -5",
      "fcntl @ F_DUPFD 40", "fcntl @ F_GETFD"}},
    {"fcntl_emfile", "EMFILE: F_DUPFD and the per-process limit on the number of open fds has been reached",
     {"open f O_CREAT|O_RDWR 0644", "emfile 24 dupfd @"}},
    {"fcntl_enotdir", "ENOTDIR: F_NOTIFY was specified in cmd, but fd does not refer to a directory",
     {"open f O_CREAT|O_RDONLY 0644", "fcntl @ F_NOTIFY 1"}},
    {"fcntl_flags", "F_GETFL/F_SETFL: access mode and status flags; F_SETFL ignores the access mode",
     {"open f O_CREAT|O_RDWR 0644", "fcntl @ F_GETFL", "fcntl @ F_SETFL O_APPEND|O_NONBLOCK", "fcntl @ F_GETFL",
      "fcntl @ F_SETFL O_RDONLY", "fcntl @ F_GETFL", "writefd @ still", "open f O_WRONLY|O_APPEND", "fcntl @ F_GETFL",
      "open f O_PATH", "fcntl @ F_GETFL", "mkdir d 0755", "open d O_RDONLY|O_DIRECTORY", "fcntl @ F_GETFL"}},
    {"fcntl_fd_flags", "F_GETFD/F_SETFD: FD_CLOEXEC from O_CLOEXEC, set and cleared",
     {"open f O_CREAT|O_RDWR|O_CLOEXEC 0644", "fcntl @ F_GETFD", "fcntl @ F_SETFD 0", "fcntl @ F_GETFD",
      "fcntl @ F_SETFD FD_CLOEXEC", "fcntl @ F_GETFD", "fcntl @ F_DUPFD_CLOEXEC 0", "fcntl @ F_GETFD",
      "fcntl @ F_DUPFD 0", "fcntl @ F_GETFD"}},
    // close(2)
    {"close_ebadf", "EBADF: fd isn't a valid open file descriptor",
     {"closefd 1000", "closefd -1", "open f O_CREAT|O_RDWR 0644", "keep A", "closefd A", "closefd A",
      "writefd A x"}},
    // close_range(2)
    {"close_range_einval", "EINVAL: flags is not valid, or first is greater than last",
     {"close_range 5 3 0", "close_range 3 5 0x8", "close_range 100 200 0"}},
    {"close_range_works", "close_range: closes myfs fds in the range; CLOSE_RANGE_CLOEXEC marks them",
     {"open f O_CREAT|O_RDWR 0644", "dup2 @ 70", "dup2 @ 71", "dup2 @ 72", "close_range 70 71 0", "isopen 70",
      "isopen 71", "isopen 72", "close_range 72 72 CLOSE_RANGE_CLOEXEC", "fcntl 72 F_GETFD", "writefd 72 ok",
      "attr size f"}},
    {"close_range_all", "close_range(3, ~0U): every fd of the program closed, the file system still usable",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ data", "close_range 3 UINT_MAX 0", "isopen @", "open g O_CREAT|O_RDWR 0644",
      "writefd @ more", "fsync", "close", "attr size f", "attr size g"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(Fd, kFdCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
