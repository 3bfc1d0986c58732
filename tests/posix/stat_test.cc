// stat(2), lstat, fstat, fstatat and statx(2): one case per ERRORS line of the man pages.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kStatCases[] = {
    // stat(2)
    {"eacces", "EACCES: search permission is denied for one of the directories in the path prefix",
     {"mkdir d 0700", "open d/f O_CREAT|O_WRONLY 0644", "close", "asuser 65534", "stat d/f", "lstat d/f",
      "fstatat AT_FDCWD d/f 0", "stat d"}},
    {"ebadf_fstat", "EBADF: fd is not a valid open file descriptor",
     {"fstat 1000", "fstat -1", "open f O_CREAT|O_WRONLY 0644", "keep A", "closefd A", "fstat A"}},
    {"ebadf_dirfd", "EBADF: (fstatat) pathname is relative but dirfd is neither AT_FDCWD nor a valid fd",
     {"open f O_CREAT|O_WRONLY 0644", "fstatat 1000 =f 0", "fstatat -1 =f AT_SYMLINK_NOFOLLOW", "fstatat 1000 f 0"}},
    {"efault", "EFAULT: bad address",
     {"open f O_CREAT|O_WRONLY 0644", "isolated statbad f", "isolated stat BADPTR"}},
    {"einval_flags", "EINVAL: (fstatat) invalid flag specified in flags",
     {"open f O_CREAT|O_WRONLY 0644", "fstatat AT_FDCWD f 0x1", "fstatat AT_FDCWD f 0x8000000"}},
    {"eloop", "ELOOP: too many symbolic links encountered while traversing the path",
     {"symlink a b", "symlink b a", "stat a", "stat a/x", "lstat a/x", "lstat a", "fstatat AT_FDCWD a 0"}},
    {"enametoolong", "ENAMETOOLONG: pathname is too long",
     {"stat %L", "lstat %L", "stat %P", "fstatat AT_FDCWD %L 0"}},
    {"enoent_component", "ENOENT: a component of pathname does not exist or is a dangling symbolic link",
     {"stat missing", "stat missing/x", "symlink nowhere dl", "stat dl", "lstat dl", "stat dl/x",
      "fstatat AT_FDCWD dl AT_SYMLINK_NOFOLLOW"}},
    {"enoent_empty", "ENOENT: pathname is an empty string and AT_EMPTY_PATH was not specified",
     {"stat EMPTY", "lstat EMPTY", "open f O_CREAT|O_WRONLY 0644", "fstatat @ EMPTY 0", "fstatat AT_FDCWD EMPTY 0"}},
    {"enotdir_component", "ENOTDIR: a component of the path prefix of pathname is not a directory",
     {"open f O_CREAT|O_WRONLY 0644", "stat f/x", "lstat f/x", "stat f/", "lstat f/"}},
    {"enotdir_dirfd", "ENOTDIR: (fstatat) pathname is relative and dirfd refers to a file other than a directory",
     {"open f O_CREAT|O_WRONLY 0644", "fstatat @ =x 0", "fstatat @ =. 0"}},
    {"empty_path_and_nofollow", "fstatat: AT_EMPTY_PATH on an fd, AT_SYMLINK_NOFOLLOW on a link",
     {"open f O_CREAT|O_WRONLY 0644", "writefd @ hello", "fstatat @ EMPTY AT_EMPTY_PATH", "fattr size @",
      "symlink f l", "fstatat AT_FDCWD l AT_SYMLINK_NOFOLLOW", "attr type l", "attr size l", "mkdir d 0755",
      "open d O_PATH", "fstat @", "fstatat @ EMPTY AT_EMPTY_PATH", "fstatat AT_FDCWD EMPTY AT_EMPTY_PATH"}},
    {"fields", "stat: type, permissions, size, links, owner of files, directories and links",
     {"open f O_CREAT|O_WRONLY 0640", "writefd @ 12345", "close", "attr type f", "attr perm f", "attr size f",
      "attr nlink f", "attr uid f", "attr gid f", "mkdir d 0751", "attr type d", "attr perm d", "attr nlink d",
      "mkdir d/e 0755", "attr nlink d", "symlink target l", "attr type l", "attr size l", "mkfifo p 0600",
      "attr type p"}},
    // statx(2)
    {"statx_eacces", "EACCES: search permission is denied for one of the directories in the path prefix",
     {"mkdir d 0700", "open d/f O_CREAT|O_WRONLY 0644", "asuser 65534", "statx AT_FDCWD d/f 0 STATX_BASIC_STATS"}},
    {"statx_ebadf", "EBADF: pathname is relative but dirfd is neither AT_FDCWD nor a valid fd",
     {"statx 1000 =f 0 STATX_BASIC_STATS", "statx -1 EMPTY AT_EMPTY_PATH STATX_BASIC_STATS"}},
    {"statx_efault", "EFAULT: pathname or statxbuf is NULL or points outside the address space",
     {"open f O_CREAT|O_WRONLY 0644", "isolated statxbad f", "isolated statx AT_FDCWD BADPTR 0 STATX_BASIC_STATS"}},
    {"statx_einval_flags", "EINVAL: invalid flag specified in flags",
     {"open f O_CREAT|O_WRONLY 0644", "statx AT_FDCWD f 0x1 STATX_BASIC_STATS",
      "statx AT_FDCWD f AT_STATX_FORCE_SYNC|AT_STATX_DONT_SYNC STATX_BASIC_STATS"}},
    {"statx_einval_mask", "EINVAL: reserved flag specified in mask (STATX__RESERVED)",
     {"open f O_CREAT|O_WRONLY 0644", "statx AT_FDCWD f 0 STATX__RESERVED", "statx AT_FDCWD f 0 0"}},
    {"statx_eloop", "ELOOP: too many symbolic links encountered while traversing the pathname",
     {"symlink a b", "symlink b a", "statx AT_FDCWD a 0 STATX_BASIC_STATS",
      "statx AT_FDCWD a AT_SYMLINK_NOFOLLOW STATX_BASIC_STATS"}},
    {"statx_enametoolong", "ENAMETOOLONG: pathname is too long",
     {"statx AT_FDCWD %L 0 STATX_BASIC_STATS", "statx AT_FDCWD %P 0 STATX_BASIC_STATS"}},
    {"statx_enoent", "ENOENT: a component of pathname does not exist, or pathname is empty without AT_EMPTY_PATH",
     {"statx AT_FDCWD missing 0 STATX_BASIC_STATS", "statx AT_FDCWD EMPTY 0 STATX_BASIC_STATS",
      "open f O_CREAT|O_WRONLY 0644", "statx @ EMPTY AT_EMPTY_PATH STATX_ALL", "statx @ EMPTY 0 STATX_ALL"}},
    {"statx_enotdir", "ENOTDIR: a component of the path prefix is not a directory, or dirfd is not a directory",
     {"open f O_CREAT|O_WRONLY 0644", "statx AT_FDCWD f/x 0 STATX_BASIC_STATS", "statx @ =x 0 STATX_BASIC_STATS"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(Stat, kStatCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
