// The *at calls relative to a directory fd (openat, mkdirat, mknodat, fstatat, unlinkat,
// renameat, linkat, symlinkat, readlinkat, fchmodat, fchownat, faccessat, utimensat):
// EBADF and ENOTDIR for dirfd, AT_FDCWD, O_PATH dirfds, AT_EMPTY_PATH, absolute paths.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kAtCases[] = {
    {"relative_to_dirfd", "the *at calls resolve a relative pathname from dirfd",
     {"mkdir d 0755", "open d O_RDONLY|O_DIRECTORY", "keep D", "openat D =f O_CREAT|O_WRONLY 0644", "writefd @ abc",
      "stat d/f", "mkdirat D =sub 0700", "attr perm d/sub", "mknodat D =p S_IFIFO|0644 0", "attr type d/p",
      "fstatat D =f 0", "symlinkat f D =l", "readlinkat D =l 100", "linkat D =f D =g 0", "attr nlink d/f",
      "renameat D =g D =h", "stat d/h", "fchmodat D =h 0600 0", "attr perm d/f", "fchownat D =h 7 8 0",
      "attr uid d/f", "faccessat D =h R_OK 0", "utimensat D =h 0 100 0 200 0", "attr mtime d/f",
      "unlinkat D =h 0", "unlinkat D =sub AT_REMOVEDIR", "stat d/sub"}},
    {"ebadf_dirfd", "EBADF: pathname is relative but dirfd is neither AT_FDCWD nor a valid fd",
     {"open f O_CREAT|O_WRONLY 0644", "mkdirat 1000 =x 0755", "mknodat 1000 =p S_IFIFO|0644 0",
      "fstatat 1000 =f 0", "unlinkat 1000 =f 0", "renameat 1000 =f AT_FDCWD g", "renameat AT_FDCWD f 1000 =g",
      "linkat 1000 =f AT_FDCWD g 0", "symlinkat t 1000 =l", "readlinkat 1000 =l 10", "fchmodat 1000 =f 0600 0",
      "fchownat 1000 =f 1 1 0", "faccessat 1000 =f R_OK 0", "utimensat 1000 =f 0"}},
    {"ebadf_closed_dirfd", "EBADF: a dirfd that was closed",
     {"mkdir d 0755", "open d O_RDONLY", "keep D", "closefd D", "openat D =f O_CREAT|O_WRONLY 0644",
      "mkdirat D =x 0755", "fstatat D =x 0"}},
    {"enotdir_dirfd", "ENOTDIR: pathname is relative and dirfd refers to a file other than a directory",
     {"open f O_CREAT|O_RDWR 0644", "keep F", "openat F =x O_RDONLY", "mkdirat F =x 0755",
      "mknodat F =p S_IFIFO|0644 0", "fstatat F =x 0", "unlinkat F =x 0", "renameat F =x AT_FDCWD y",
      "linkat F =x AT_FDCWD y 0", "symlinkat t F =l", "readlinkat F =l 10", "fchmodat F =x 0600 0",
      "fchownat F =x 1 1 0", "faccessat F =x R_OK 0", "utimensat F =x 0"}},
    {"absolute_ignores_dirfd", "an absolute pathname ignores dirfd (even an invalid one)",
     {"openat 1000 f O_CREAT|O_WRONLY 0644", "mkdirat 1000 d 0755", "fstatat 1000 f 0", "unlinkat 1000 f 0",
      "unlinkat -1 d AT_REMOVEDIR"}},
    {"at_fdcwd", "AT_FDCWD: a relative pathname is resolved from the current directory",
     {"mkdir d 0755", "chdir d", "openat AT_FDCWD =f O_CREAT|O_WRONLY 0644", "stat d/f", "mkdirat AT_FDCWD =e 0755",
      "stat d/e", "fstatat AT_FDCWD =f 0", "renameat AT_FDCWD =f AT_FDCWD =g", "stat d/g",
      "unlinkat AT_FDCWD =g 0", "stat d/g"}},
    {"o_path_dirfd", "an O_PATH directory fd works as dirfd",
     {"mkdir d 0755", "open d O_PATH|O_DIRECTORY", "keep D", "openat D =f O_CREAT|O_WRONLY 0644", "fstatat D =f 0",
      "fstat D", "fstatat D EMPTY AT_EMPTY_PATH", "readfd D 1"}},
    {"deleted_dirfd", "ENOENT: relative pathname and dirfd refers to a directory that has been deleted",
     {"mkdir d 0755", "open d O_RDONLY", "keep D", "rmdir d", "openat D =f O_CREAT|O_WRONLY 0644",
      "mkdirat D =x 0755", "symlinkat t D =l", "fstatat D =. 0", "fstatat D =f 0"}},
    {"dotdot_from_dirfd", "\"..\" from a dirfd walks to its parent",
     {"mkdir d 0755", "mkdir d/e 0755", "open d/e O_RDONLY", "keep E", "openat E =../f O_CREAT|O_WRONLY 0644",
      "stat d/f", "fstatat E =../../d 0", "fstatat E =.. 0"}},
    {"empty_path_fd", "AT_EMPTY_PATH: an empty pathname operates on dirfd itself",
     {"open f O_CREAT|O_RDWR 0644", "keep F", "fstatat F EMPTY AT_EMPTY_PATH", "fchownat F EMPTY 5 6 AT_EMPTY_PATH",
      "attr uid f", "fchownat F EMPTY 5 6 0", "statx F EMPTY AT_EMPTY_PATH STATX_BASIC_STATS", "symlink f l",
      "open l O_PATH|O_NOFOLLOW", "readlinkat @ EMPTY 100", "fstatat @ EMPTY AT_EMPTY_PATH|AT_SYMLINK_NOFOLLOW"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(AtCalls, kAtCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
