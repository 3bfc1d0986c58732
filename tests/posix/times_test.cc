// utimensat(2)/futimens, utimes(2), utime(2): one case per ERRORS line of the man page.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kTimesCases[] = {
    {"eacces", "EACCES: times NULL (or both UTIME_NOW), not the owner, no write access, not privileged",
     {"open f O_CREAT|O_WRONLY 0644", "asuser 65534", "utimensat AT_FDCWD f 0",
      "utimensat AT_FDCWD f 0 0 UTIME_NOW 0 UTIME_NOW", "utimes f 5", "utime f NULL", "futimens @"}},
    {"eacces_writable", "EACCES counterpart: with write access a non-owner may set the current time",
     {"open f O_CREAT|O_WRONLY 0666", "chmod f 0666", "asuser 65534", "utimensat AT_FDCWD f 0", "utime f NULL"}},
    {"ebadf_futimens", "EBADF: (futimens) fd is not a valid file descriptor",
     {"futimens 1000", "open f O_CREAT|O_WRONLY 0644", "keep A", "closefd A", "futimens A 1 0 2 0"}},
    {"ebadf_dirfd", "EBADF: (utimensat) pathname is relative but dirfd is not valid",
     {"utimensat 1000 =f 0", "utimensat 1000 NULL 0"}},
    {"efault", "EFAULT: pathname is an invalid address", {"isolated utimensat AT_FDCWD BADPTR 0"}},
    {"einval_flags", "EINVAL: invalid value in flags",
     {"open f O_CREAT|O_WRONLY 0644", "utimensat AT_FDCWD f 0x1", "utimensat AT_FDCWD f AT_REMOVEDIR"}},
    {"einval_nsec", "EINVAL: invalid value in one of the tv_nsec fields",
     {"open f O_CREAT|O_WRONLY 0644", "utimensat AT_FDCWD f 0 0 1000000000 0 0", "utimensat AT_FDCWD f 0 0 -1 0 0",
      "futimens @ 0 0 0 1000000000", "utimensat AT_FDCWD f 0 0 999999999 0 0"}},
    {"einval_null_path_nofollow", "EINVAL: pathname is NULL, dirfd is not AT_FDCWD, and AT_SYMLINK_NOFOLLOW",
     {"open f O_CREAT|O_WRONLY 0644", "utimensat @ NULL AT_SYMLINK_NOFOLLOW", "utimensat @ NULL 0"}},
    {"eloop", "ELOOP: too many symbolic links were encountered in resolving pathname",
     {"symlink a b", "symlink b a", "utimensat AT_FDCWD a 0", "utimensat AT_FDCWD a/x 0",
      "utimensat AT_FDCWD a AT_SYMLINK_NOFOLLOW"}},
    {"enametoolong", "ENAMETOOLONG: pathname is too long", {"utimensat AT_FDCWD %L 0", "utimes %P 1"}},
    {"enoent", "ENOENT: a component of pathname does not exist, or pathname is an empty string",
     {"utimensat AT_FDCWD missing 0", "utimensat AT_FDCWD EMPTY 0", "symlink nowhere dl",
      "utimensat AT_FDCWD dl 0", "utimensat AT_FDCWD dl AT_SYMLINK_NOFOLLOW", "utime missing 1"}},
    {"enotdir", "ENOTDIR: a component of the path prefix is not a directory; dirfd is a file",
     {"open f O_CREAT|O_WRONLY 0644", "utimensat AT_FDCWD f/x 0", "utimensat @ =x 0"}},
    {"eperm", "EPERM: set a timestamp other than the current time while not the owner (with write access)",
     {"open f O_CREAT|O_WRONLY 0666", "chmod f 0666", "asuser 65534", "utimensat AT_FDCWD f 0 5 0 6 0",
      "utimensat AT_FDCWD f 0 5 0 0 UTIME_OMIT", "utimensat AT_FDCWD f 0 0 UTIME_OMIT 0 UTIME_OMIT", "utimes f 9",
      "utime f 9"}},
    {"esrch", "ESRCH: search permission denied for a prefix component (Linux answers EACCES)",
     {"mkdir d 0700", "open d/f O_CREAT|O_WRONLY 0644", "asuser 65534", "utimensat AT_FDCWD d/f 0"}},
    {"set_and_omit", "utimensat: explicit times, UTIME_OMIT keeps one, nanoseconds kept",
     {"open f O_CREAT|O_WRONLY 0644", "utimensat AT_FDCWD f 0 1000 123 2000 456", "attr atime f", "attr mtime f",
      "attr atimens f", "attr mtimens f", "utimensat AT_FDCWD f 0 3000 UTIME_OMIT 4000 0", "attr atime f",
      "attr mtime f", "utimensat AT_FDCWD f 0 5000 0 6000 UTIME_OMIT", "attr atime f", "attr mtime f",
      "futimens @ 7000 0 8000 0", "attr mtime f", "utimes f 9000", "attr atime f", "attr mtime f", "utime f 10000",
      "attr mtime f"}},
    {"nofollow_link", "utimensat(AT_SYMLINK_NOFOLLOW): sets the link's own times, not its target's",
     {"open f O_CREAT|O_WRONLY 0644", "utimensat AT_FDCWD f 0 100 0 100 0", "symlink f l",
      "utimensat AT_FDCWD l AT_SYMLINK_NOFOLLOW 200 0 200 0", "attr mtime l", "attr mtime f",
      "utimensat AT_FDCWD l 0 300 0 300 0", "attr mtime f"}},
    {"empty_path_fd", "utimensat(fd, NULL, ...) and AT_EMPTY_PATH operate on the fd",
     {"open f O_CREAT|O_WRONLY 0644", "utimensat AT_FDCWD f 0 50 0 50 0", "utimensat @ NULL 0 0 1 0 2 0",
      "attr mtime f",
      "utimensat @ EMPTY AT_EMPTY_PATH 0 3 0 4 0", "attr mtime f"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(Times, kTimesCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
