// getcwd(3), chdir(2), fchdir(2): one case per ERRORS line of the man pages.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kCwdCases[] = {
    // getcwd(3)
    {"getcwd_einval", "EINVAL: the size argument is zero and buf is not a null pointer",
     {"mkdir d 0755", "chdir d", "getcwd 0"}},
    {"getcwd_enoent", "ENOENT: the current working directory has been unlinked",
     {"mkdir d 0755", "chdir d", "rmdir d", "getcwd 4096", "getcwd NULL", "openat AT_FDCWD =f O_CREAT|O_WRONLY 0644",
      "stat =."}},
    {"getcwd_enoent_recreated", "ENOENT: the cwd was unlinked (and a directory made under its name since)",
     {"mkdir d 0755", "chdir d", "rmdir d", "mkdir d 0755", "getcwd 4096", "openat AT_FDCWD =f O_CREAT|O_WRONLY 0644",
      "stat d/f", "attr nlink =.", "stat =.."}},
    {"getcwd_enoent_replaced", "ENOENT: the cwd was unlinked by renaming another directory over it",
     {"mkdir d 0755", "mkdir e 0755", "chdir d", "rename e d", "getcwd 4096",
      "openat AT_FDCWD =f O_CREAT|O_WRONLY 0644", "stat d/f", "attr nlink =.", "stat =.."}},
    {"getcwd_erange", "ERANGE: size is less than the length of the absolute pathname of the cwd plus 1",
     {"mkdir d 0755", "chdir d", "getcwd 1", "getcwd 2", "getcwd 4096", "getcwd NULL", "cwdis d"}},
    // chdir(2)
    {"chdir_eacces", "EACCES: search permission is denied for one of the components of path",
     {"mkdir d 0700", "mkdir d/e 0755", "mkdir p 0744", "asuser 65534", "chdir d", "chdir d/e", "chdir p",
      "cwdis ."}},
    {"chdir_efault", "EFAULT: path points outside the accessible address space", {"isolated chdir BADPTR"}},
    {"chdir_eloop", "ELOOP: too many symbolic links were encountered in resolving path",
     {"symlink a b", "symlink b a", "chdir a", "chdir a/x"}},
    {"chdir_enametoolong", "ENAMETOOLONG: path is too long", {"chdir %L", "chdir %P"}},
    {"chdir_enoent", "ENOENT: the directory specified in path does not exist",
     {"chdir missing", "chdir missing/x", "symlink nowhere dl", "chdir dl", "chdir EMPTY"}},
    {"chdir_enotdir", "ENOTDIR: a component of path is not a directory",
     {"open f O_CREAT|O_WRONLY 0644", "chdir f", "chdir f/x", "symlink f l", "chdir l"}},
    {"chdir_relative", "chdir: relative paths, .., symlinks to directories, and the cwd of later calls",
     {"mkdir d 0755", "mkdir d/e 0755", "symlink d/e l", "chdir d", "cwdis d", "chdir =e", "cwdis d/e",
      "chdir =..", "cwdis d", "openat AT_FDCWD =f O_CREAT|O_WRONLY 0644", "stat d/f", "chdir l", "cwdis d/e",
      "chdir =../..", "cwdis .", "stat =d/f"}},
    {"chdir_renamed_cwd", "chdir: relative paths follow the current directory when it is renamed",
     {"mkdir d 0755", "chdir d", "rename d e", "openat AT_FDCWD =f O_CREAT|O_WRONLY 0644", "stat e/f", "stat =.",
      "stat =f", "mkdir e/g 0755", "chdir =g", "stat =..", "cwdis e/g"}},
    // fchdir(2)
    {"fchdir_eacces", "EACCES: search permission was denied on the directory open on fd",
     {"mkdir d 0700", "open d O_RDONLY", "keep D", "asuser 65534", "fchdir D"}},
    {"fchdir_ebadf", "EBADF: fd is not a valid file descriptor",
     {"fchdir 1000", "mkdir d 0755", "open d O_RDONLY", "keep D", "closefd D", "fchdir D"}},
    {"fchdir_enotdir", "ENOTDIR: fd does not refer to a directory",
     {"open f O_CREAT|O_RDONLY 0644", "fchdir @"}},
    {"fchdir_renamed", "fchdir: to a directory fd whose directory was renamed since it was opened",
     {"mkdir d 0755", "open d O_RDONLY", "keep D", "rename d e", "fchdir D", "openat AT_FDCWD =f O_CREAT|O_WRONLY 0644",
      "stat e/f", "cwdis e"}},
    {"fchdir_works", "fchdir: to a directory fd (also O_PATH); relative calls follow",
     {"mkdir d 0755", "open d O_RDONLY", "fchdir @", "cwdis d", "openat AT_FDCWD =f O_CREAT|O_WRONLY 0644",
      "stat d/f", "open . O_PATH", "fchdir @", "cwdis ."}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {};

POSIX_FAMILY(Cwd, kCwdCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
