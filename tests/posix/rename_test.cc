// rename(2), renameat, renameat2: one case per ERRORS line of the man page.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kRenameCases[] = {
    {"eacces", "EACCES: write permission is denied for the directory of oldpath or newpath, or search is denied",
     {"mkdir d 0755", "open d/f O_CREAT|O_WRONLY 0666", "mkdir pub 0777", "mkdir p 0700",
      "open p/g O_CREAT|O_WRONLY 0666", "mkdir pub/sub 0755", "asuser 65534", "rename d/f pub/f",
      "rename p/g pub/g", "rename pub/sub pub/sub2"}},
    {"efault", "EFAULT: oldpath or newpath points outside the accessible address space",
     {"open f O_CREAT|O_WRONLY 0644", "isolated rename BADPTR g", "isolated rename f BADPTR"}},
    {"einval_subdir", "EINVAL: an attempt was made to make a directory a subdirectory of itself",
     {"mkdir d 0755", "mkdir d/e 0755", "rename d d/e/x", "rename d d/x", "rename d/e d/e/y"}},
    {"eisdir", "EISDIR: newpath is an existing directory, but oldpath is not a directory",
     {"open f O_CREAT|O_WRONLY 0644", "mkdir d 0755", "rename f d", "mkdir e 0755", "mkdir e/x 0755",
      "rename f e"}},
    {"eloop", "ELOOP: too many symbolic links were encountered in resolving oldpath or newpath",
     {"symlink a b", "symlink b a", "open f O_CREAT|O_WRONLY 0644", "rename a/x g", "rename f a/g", "rename a c",
      "attr type c"}},
    {"enametoolong", "ENAMETOOLONG: oldpath or newpath was too long",
     {"open f O_CREAT|O_WRONLY 0644", "rename %L g", "rename f %L", "rename f %P"}},
    {"enoent", "ENOENT: oldpath does not exist, a component of newpath does not exist, or a path is empty",
     {"open f O_CREAT|O_WRONLY 0644", "rename missing g", "rename f nodir/g", "rename EMPTY g", "rename f EMPTY",
      "symlink nowhere dl", "rename f dl/x"}},
    {"enotdir_component", "ENOTDIR: a component used as a directory in oldpath or newpath is not a directory",
     {"open f O_CREAT|O_WRONLY 0644", "rename f/x g", "rename f f/g", "rename f g/"}},
    {"enotdir_dir_onto_file", "ENOTDIR: oldpath is a directory, and newpath exists but is not a directory",
     {"mkdir d 0755", "open f O_CREAT|O_WRONLY 0644", "rename d f", "stat d"}},
    {"enotempty", "ENOTEMPTY or EEXIST: newpath is a nonempty directory",
     {"mkdir d 0755", "mkdir e 0755", "open e/f O_CREAT|O_WRONLY 0644", "rename d e", "rmdir e/f", "unlink e/f",
      "rename d e", "stat d"}},
    {"eperm_sticky", "EPERM or EACCES: sticky directory, the caller owns neither the directory nor the entry",
     {"mkdir t 0777", "chmod t 01777", "open t/f O_CREAT|O_WRONLY 0666", "asuser 65534", "rename t/f t/g",
      "open t/mine O_CREAT|O_WRONLY 0644", "rename t/mine t/f", "rename t/mine t/mine2"}},
    {"exdev", "EXDEV: oldpath and newpath are not on the same mounted filesystem",
     {"open f O_CREAT|O_WRONLY 0644", "rename f /dev/shm/myfs-posix-exdev-rename", "stat f"}},
    {"renameat_ebadf", "EBADF: (renameat) oldpath (newpath) is relative but olddirfd (newdirfd) is not valid",
     {"open f O_CREAT|O_WRONLY 0644", "renameat 1000 =f AT_FDCWD g", "renameat AT_FDCWD f 1000 =g",
      "renameat2 1000 =f AT_FDCWD g 0"}},
    {"renameat_enotdir", "ENOTDIR: (renameat) oldpath is relative and olddirfd refers to a file",
     {"open f O_CREAT|O_WRONLY 0644", "renameat @ =x AT_FDCWD g", "renameat AT_FDCWD f @ =g"}},
    {"renameat2_eexist", "EEXIST: flags contains RENAME_NOREPLACE and newpath already exists",
     {"open f O_CREAT|O_WRONLY 0644", "open g O_CREAT|O_WRONLY 0644", "renameat2 AT_FDCWD f AT_FDCWD g RENAME_NOREPLACE",
      "symlink nowhere dl", "renameat2 AT_FDCWD f AT_FDCWD dl RENAME_NOREPLACE",
      "renameat2 AT_FDCWD f AT_FDCWD h RENAME_NOREPLACE", "stat h"}},
    {"renameat2_einval_flag", "EINVAL: an invalid flag was specified in flags",
     {"open f O_CREAT|O_WRONLY 0644", "renameat2 AT_FDCWD f AT_FDCWD g 0x100", "stat f"}},
    {"renameat2_einval_noreplace_exchange", "EINVAL: both RENAME_NOREPLACE and RENAME_EXCHANGE were specified",
     {"open f O_CREAT|O_WRONLY 0644", "open g O_CREAT|O_WRONLY 0644",
      "renameat2 AT_FDCWD f AT_FDCWD g RENAME_NOREPLACE|RENAME_EXCHANGE"}},
    {"renameat2_einval_whiteout_exchange", "EINVAL: both RENAME_WHITEOUT and RENAME_EXCHANGE were specified",
     {"open f O_CREAT|O_WRONLY 0644", "open g O_CREAT|O_WRONLY 0644",
      "renameat2 AT_FDCWD f AT_FDCWD g RENAME_WHITEOUT|RENAME_EXCHANGE"}},
    {"renameat2_enoent_exchange", "ENOENT: flags contains RENAME_EXCHANGE and newpath does not exist",
     {"open f O_CREAT|O_WRONLY 0644", "renameat2 AT_FDCWD f AT_FDCWD g RENAME_EXCHANGE", "stat f"}},
    {"renameat2_eperm_whiteout", "EPERM: RENAME_WHITEOUT was specified, but the caller does not have CAP_MKNOD",
     {"mkdir pub 0777", "asuser 65534", "open pub/f O_CREAT|O_WRONLY 0644",
      "renameat2 AT_FDCWD pub/f AT_FDCWD pub/g RENAME_WHITEOUT"}},
    {"exchange", "RENAME_EXCHANGE: swaps two files, a file and a directory",
     {"open f O_CREAT|O_WRONLY 0644", "writefd @ 12345", "open g O_CREAT|O_WRONLY 0644", "writefd @ 1",
      "renameat2 AT_FDCWD f AT_FDCWD g RENAME_EXCHANGE", "attr size f", "attr size g", "mkdir d 0755",
      "renameat2 AT_FDCWD f AT_FDCWD d RENAME_EXCHANGE", "attr type f", "attr type d"}},
    {"replace_rules", "rename: replaces a file atomically, a directory by an empty one; same inode is a no-op",
     {"open f O_CREAT|O_WRONLY 0644", "writefd @ abc", "open g O_CREAT|O_WRONLY 0644", "rename f g",
      "attr size g", "stat f", "link g h", "rename g h", "stat g", "attr nlink h", "mkdir d 0755", "mkdir e 0755",
      "rename d e", "stat d", "rename e e", "rename e/ x/", "stat x"}},
    {"open_file_survives", "rename: an open fd keeps working after the name moves",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ abc", "rename f g", "writefd @ de", "fattr size @", "attr size g"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(Rename, kRenameCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
