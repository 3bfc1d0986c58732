// access(2), faccessat(2), euidaccess(3)/eaccess: one case per ERRORS line of the man page.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kAccessCases[] = {
    {"eacces_mode", "EACCES: the requested access would be denied to the file",
     {"open f O_CREAT|O_WRONLY 0640", "asuser 65534", "euidaccess f R_OK", "euidaccess f W_OK", "eaccess f X_OK",
      "faccessat AT_FDCWD f R_OK AT_EACCESS", "euidaccess f F_OK"}},
    {"eacces_search", "EACCES: search permission is denied for one of the directories in the path prefix",
     {"mkdir d 0700", "open d/f O_CREAT|O_WRONLY 0644", "asuser 65534", "euidaccess d/f F_OK",
      "faccessat AT_FDCWD d/f R_OK AT_EACCESS"}},
    {"ebadf", "EBADF: (faccessat) pathname is relative but dirfd is not valid",
     {"faccessat 1000 =f R_OK 0", "faccessat -1 =f F_OK AT_EACCESS"}},
    {"efault", "EFAULT: pathname points outside the accessible address space", {"isolated access BADPTR 0"}},
    {"einval_mode", "EINVAL: mode was incorrectly specified",
     {"open f O_CREAT|O_WRONLY 0644", "access f 8", "access f -1", "faccessat AT_FDCWD f 8 0", "euidaccess f 8"}},
    {"einval_flags", "EINVAL: (faccessat) invalid flag specified in flags",
     {"open f O_CREAT|O_WRONLY 0644", "faccessat AT_FDCWD f R_OK 0x1", "faccessat AT_FDCWD f R_OK 0x8000"}},
    {"eloop", "ELOOP: too many symbolic links were encountered in resolving pathname",
     {"symlink a b", "symlink b a", "access a 0", "access a/x 0", "faccessat AT_FDCWD a F_OK AT_SYMLINK_NOFOLLOW"}},
    {"enametoolong", "ENAMETOOLONG: pathname is too long", {"access %L 0", "access %P 0"}},
    {"enoent", "ENOENT: a component of pathname does not exist or is a dangling symbolic link",
     {"access missing 0", "access missing/x 0", "symlink nowhere dl", "access dl 0",
      "faccessat AT_FDCWD dl F_OK AT_SYMLINK_NOFOLLOW", "access EMPTY 0"}},
    {"enotdir", "ENOTDIR: a component used as a directory is not a directory; (faccessat) dirfd is a file",
     {"open f O_CREAT|O_WRONLY 0644", "access f/x 0", "faccessat @ =x F_OK 0"}},
    {"root_rules", "access as root: R and W always, X only when some execute bit is set",
     {"open f O_CREAT|O_WRONLY 0000", "access f 4", "access f 2", "access f 1", "chmod f 0010", "access f 1",
      "mkdir d 0000", "access d 1", "access d 7"}},
    {"real_vs_effective", "access checks the real uid; AT_EACCESS and euidaccess the effective one",
     {"open f O_CREAT|O_WRONLY 0600", "asuser 65534", "access f R_OK", "faccessat AT_FDCWD f R_OK 0",
      "faccessat AT_FDCWD f R_OK AT_EACCESS", "euidaccess f R_OK"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(Access, kAccessCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
