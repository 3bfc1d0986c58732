// link(2)/linkat, symlink(2)/symlinkat, readlink(2)/readlinkat: one case per ERRORS line.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kLinkCases[] = {
    // link(2), linkat
    {"link_eacces", "EACCES: write access to the directory of newpath is denied, or search permission is denied",
     {"open f O_CREAT|O_WRONLY 0666", "mkdir d 0755", "mkdir p 0700", "open p/g O_CREAT|O_WRONLY 0666",
      "mkdir pub 0777", "asuser 65534", "link f d/g", "link p/g pub/h", "link f pub/mine"}},
    {"link_eexist", "EEXIST: newpath already exists",
     {"open f O_CREAT|O_WRONLY 0644", "open g O_CREAT|O_WRONLY 0644", "link f g", "mkdir d 0755", "link f d",
      "symlink nowhere dl", "link f dl", "link f f"}},
    {"link_efault", "EFAULT: oldpath or newpath points outside the accessible address space",
     {"open f O_CREAT|O_WRONLY 0644", "isolated link BADPTR g", "isolated link f BADPTR"}},
    {"link_eloop", "ELOOP: too many symbolic links were encountered in resolving oldpath or newpath",
     {"symlink a b", "symlink b a", "open f O_CREAT|O_WRONLY 0644", "link a/x g", "link f a/g",
      "linkat AT_FDCWD a AT_FDCWD g AT_SYMLINK_FOLLOW", "link a h", "attr type h"}},
    {"link_enametoolong", "ENAMETOOLONG: oldpath or newpath was too long",
     {"open f O_CREAT|O_WRONLY 0644", "link %L g", "link f %L", "link f %P"}},
    {"link_enoent", "ENOENT: a directory component in oldpath or newpath does not exist or is a dangling symlink",
     {"open f O_CREAT|O_WRONLY 0644", "link missing g", "link f nodir/g", "symlink nowhere dl", "link dl/x g",
      "linkat AT_FDCWD dl AT_FDCWD g AT_SYMLINK_FOLLOW", "link EMPTY g", "link f EMPTY"}},
    {"link_enotdir", "ENOTDIR: a component used as a directory in oldpath or newpath is not a directory",
     {"open f O_CREAT|O_WRONLY 0644", "link f/x g", "link f f/g", "link f g/"}},
    {"link_eperm_dir", "EPERM: oldpath is a directory", {"mkdir d 0755", "link d e", "link d/. e"}},
    {"link_eperm_protected", "EPERM: (protected_hardlinks) the caller does not own the file nor can read and write it",
     {"open f O_CREAT|O_WRONLY 0600", "mkdir pub 0777", "asuser 65534", "link f pub/g"}},
    {"link_exdev", "EXDEV: oldpath and newpath are not on the same mounted filesystem",
     {"open f O_CREAT|O_WRONLY 0644", "link f /dev/shm/myfs-posix-exdev-link", "link /dev/null g"}},
    {"linkat_ebadf", "EBADF: oldpath (newpath) is relative but olddirfd (newdirfd) is not valid",
     {"open f O_CREAT|O_WRONLY 0644", "linkat 1000 =f AT_FDCWD g 0", "linkat AT_FDCWD f 1000 =g 0"}},
    {"linkat_einval", "EINVAL: an invalid flag value was specified in flags",
     {"open f O_CREAT|O_WRONLY 0644", "linkat AT_FDCWD f AT_FDCWD g 0x1", "linkat AT_FDCWD f AT_FDCWD g 0x100"}},
    {"linkat_enoent_empty_path", "ENOENT: AT_EMPTY_PATH without CAP_DAC_READ_SEARCH",
     {"open f O_CREAT|O_RDWR 0666", "keep F", "mkdir pub 0777", "asuser 65534",
      "linkat F EMPTY AT_FDCWD pub/g AT_EMPTY_PATH"}},
    {"linkat_enoent_deleted_dir", "ENOENT: olddirfd or newdirfd refers to a directory that has been deleted",
     {"open f O_CREAT|O_WRONLY 0644", "mkdir d 0755", "open d O_RDONLY", "keep D", "rmdir d",
      "linkat AT_FDCWD f D =g 0", "linkat D =x AT_FDCWD g 0"}},
    {"linkat_enotdir", "ENOTDIR: oldpath or newpath is relative and its dirfd refers to a file",
     {"open f O_CREAT|O_WRONLY 0644", "linkat @ =x AT_FDCWD g 0", "linkat AT_FDCWD f @ =g 0"}},
    {"linkat_eperm_empty_dir", "EPERM: AT_EMPTY_PATH, oldpath is empty and olddirfd refers to a directory",
     {"mkdir d 0755", "open d O_RDONLY", "linkat @ EMPTY AT_FDCWD e AT_EMPTY_PATH"}},
    {"link_follow", "linkat: AT_SYMLINK_FOLLOW links the target; link() links the symlink itself",
     {"open f O_CREAT|O_WRONLY 0644", "symlink f l", "link l h", "attr type h",
      "linkat AT_FDCWD l AT_FDCWD g AT_SYMLINK_FOLLOW", "attr type g", "attr nlink f", "open f O_RDONLY",
      "linkat @ EMPTY AT_FDCWD e AT_EMPTY_PATH", "attr nlink f"}},
    // symlink(2), symlinkat
    {"symlink_eacces", "EACCES: write access to the directory of linkpath is denied, or search permission is denied",
     {"mkdir d 0755", "mkdir p 0700", "asuser 65534", "symlink x d/l", "symlink x p/l"}},
    {"symlink_ebadf", "EBADF: (symlinkat) linkpath is relative but newdirfd is not valid", {"symlinkat x 1000 =l"}},
    {"symlink_eexist", "EEXIST: linkpath already exists",
     {"open f O_CREAT|O_WRONLY 0644", "symlink x f", "mkdir d 0755", "symlink x d", "symlink x l", "symlink y l"}},
    {"symlink_efault", "EFAULT: target or linkpath points outside the accessible address space",
     {"isolated symlink x BADPTR"}},
    {"symlink_eloop", "ELOOP: too many symbolic links were encountered in resolving linkpath",
     {"symlink a b", "symlink b a", "symlink x a/l"}},
    {"symlink_enametoolong", "ENAMETOOLONG: target or linkpath was too long",
     {"symlink x %L", "symlink x %P", "symlinkat %P AT_FDCWD l", "symlinkat %L AT_FDCWD m", "attr size m"}},
    {"symlink_enoent", "ENOENT: a directory component of linkpath does not exist, or target or linkpath is empty",
     {"symlink x nodir/l", "symlinkat EMPTY AT_FDCWD l", "symlink x EMPTY", "symlink nowhere dl", "symlink x dl/l"}},
    {"symlink_enoent_deleted_dir", "ENOENT: (symlinkat) newdirfd refers to a directory that has been deleted",
     {"mkdir d 0755", "open d O_RDONLY", "keep D", "rmdir d", "symlinkat x D =l"}},
    {"symlink_enotdir", "ENOTDIR: a component of linkpath is not a directory; (symlinkat) newdirfd is a file",
     {"open f O_CREAT|O_WRONLY 0644", "symlink x f/l", "symlinkat x @ =l"}},
    // readlink(2), readlinkat
    {"readlink_eacces", "EACCES: search permission is denied for a component of the path prefix",
     {"mkdir d 0700", "symlink x d/l", "asuser 65534", "readlink d/l 100"}},
    {"readlink_ebadf", "EBADF: (readlinkat) pathname is relative but dirfd is not valid", {"readlinkat 1000 =l 100"}},
    {"readlink_einval_bufsiz", "EINVAL: bufsiz is not positive",
     {"symlink target l", "readlink l 0", "readlink l -1", "readlinkat AT_FDCWD l 0"}},
    {"readlink_einval_not_link", "EINVAL: the named file is not a symbolic link",
     {"open f O_CREAT|O_WRONLY 0644", "readlink f 100", "mkdir d 0755", "readlink d 100", "open f O_RDONLY",
      "readlinkat @ EMPTY 100"}},
    {"readlink_eloop", "ELOOP: too many symbolic links were encountered in translating the pathname",
     {"symlink a b", "symlink b a", "readlink a/x 100", "readlink a 100"}},
    {"readlink_enametoolong", "ENAMETOOLONG: a pathname, or a component of a pathname, was too long",
     {"readlink %L 100", "readlink %P 100"}},
    {"readlink_enoent", "ENOENT: the named file does not exist",
     {"readlink missing 100", "readlink missing/x 100", "readlink EMPTY 100"}},
    {"readlink_enotdir", "ENOTDIR: a component of the path prefix is not a directory; (readlinkat) dirfd is a file",
     {"open f O_CREAT|O_WRONLY 0644", "readlink f/l 100", "readlinkat @ =l 100"}},
    {"readlink_truncates", "readlink: the contents are truncated to bufsiz, not NUL-terminated",
     {"symlink some/target l", "readlink l 100", "readlink l 4", "readlink l 11", "readlinkat AT_FDCWD l 1"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(Link, kLinkCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
