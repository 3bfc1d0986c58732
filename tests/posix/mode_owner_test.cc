// chmod(2)/fchmod/fchmodat, chown(2)/lchown/fchown/fchownat: one case per ERRORS line.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kModeOwnerCases[] = {
    // chmod(2)
    {"chmod_eacces", "EACCES: search permission is denied on a component of the path prefix",
     {"mkdir d 0700", "open d/f O_CREAT|O_WRONLY 0644", "asuser 65534", "chmod d/f 0777"}},
    {"fchmod_ebadf", "EBADF: (fchmod) the file descriptor fd is not valid",
     {"fchmod 1000 0644", "open f O_CREAT|O_WRONLY 0644", "keep A", "closefd A", "fchmod A 0600", "open f O_PATH",
      "fchmod @ 0600"}},
    {"fchmodat_ebadf", "EBADF: (fchmodat) pathname is relative but dirfd is not valid", {"fchmodat 1000 =f 0644 0"}},
    {"chmod_efault", "EFAULT: pathname points outside the accessible address space", {"isolated chmod BADPTR 0644"}},
    {"fchmodat_einval", "EINVAL: (fchmodat) invalid flag specified in flags",
     {"open f O_CREAT|O_WRONLY 0644", "fchmodat AT_FDCWD f 0600 0x1", "attr perm f"}},
    {"chmod_eloop", "ELOOP: too many symbolic links were encountered in resolving pathname",
     {"symlink a b", "symlink b a", "chmod a 0644", "chmod a/x 0644"}},
    {"chmod_enametoolong", "ENAMETOOLONG: pathname is too long", {"chmod %L 0644", "chmod %P 0644"}},
    {"chmod_enoent", "ENOENT: the file does not exist",
     {"chmod missing 0644", "chmod missing/x 0644", "symlink nowhere dl", "chmod dl 0644", "chmod EMPTY 0644"}},
    {"chmod_enotdir", "ENOTDIR: a component of the path prefix is not a directory; (fchmodat) dirfd is a file",
     {"open f O_CREAT|O_WRONLY 0644", "chmod f/x 0644", "fchmodat @ =x 0644 0"}},
    {"fchmodat_enotsup", "ENOTSUP: (fchmodat) AT_SYMLINK_NOFOLLOW on a symbolic link",
     {"open f O_CREAT|O_WRONLY 0644", "symlink f l", "fchmodat AT_FDCWD l 0600 AT_SYMLINK_NOFOLLOW", "attr perm f",
      "fchmodat AT_FDCWD f 0600 AT_SYMLINK_NOFOLLOW", "attr perm f"}},
    {"chmod_eperm", "EPERM: the effective UID does not match the owner of the file, and not privileged",
     {"open f O_CREAT|O_WRONLY 0666", "asuser 65534", "chmod f 0777", "fchmod @ 0777", "open mine O_CREAT|O_WRONLY 0644",
      "attr perm f"}},
    {"chmod_bits", "chmod: the permission bits, setuid, setgid and sticky; through a symlink; on directories",
     {"open f O_CREAT|O_WRONLY 0644", "chmod f 07777", "attr perm f", "chmod f 0", "attr perm f", "symlink f l",
      "chmod l 0640", "attr perm f", "mkdir d 0755", "chmod d 01777", "attr perm d", "fchmod @ 0604", "attr perm f",
      "fchmodat AT_FDCWD f 0444 0", "attr perm f"}},
    // chown(2)
    {"chown_eacces", "EACCES: search permission is denied on a component of the path prefix",
     {"mkdir d 0700", "open d/f O_CREAT|O_WRONLY 0644", "asuser 65534", "chown d/f 65534 65534",
      "lchown d/f -1 -1"}},
    {"fchown_ebadf", "EBADF: (fchown) fd is not a valid open file descriptor",
     {"fchown 1000 1 1", "open f O_CREAT|O_WRONLY 0644", "keep A", "closefd A", "fchown A 1 1", "open f O_PATH",
      "fchown @ 1 1"}},
    {"fchownat_ebadf", "EBADF: (fchownat) pathname is relative but dirfd is not valid", {"fchownat 1000 =f 1 1 0"}},
    {"chown_efault", "EFAULT: pathname points outside the accessible address space", {"isolated chown BADPTR 1 1"}},
    {"fchownat_einval", "EINVAL: (fchownat) invalid flag specified in flags",
     {"open f O_CREAT|O_WRONLY 0644", "fchownat AT_FDCWD f 1 1 0x1", "attr uid f"}},
    {"chown_eloop", "ELOOP: too many symbolic links were encountered in resolving pathname",
     {"symlink a b", "symlink b a", "chown a 1 1", "lchown a/x 1 1", "lchown a 1 1"}},
    {"chown_enametoolong", "ENAMETOOLONG: pathname is too long", {"chown %L 1 1", "lchown %P 1 1"}},
    {"chown_enoent", "ENOENT: the file does not exist",
     {"chown missing 1 1", "symlink nowhere dl", "chown dl 1 1", "lchown dl 1 1", "chown EMPTY 1 1"}},
    {"chown_enotdir", "ENOTDIR: a component of the path prefix is not a directory; (fchownat) dirfd is a file",
     {"open f O_CREAT|O_WRONLY 0644", "chown f/x 1 1", "fchownat @ =x 1 1 0"}},
    {"chown_eperm", "EPERM: the calling process did not have the required permissions to change owner or group",
     {"open f O_CREAT|O_WRONLY 0666", "chown f 65534 0", "asuser 65534", "chown f 0 -1", "chown f -1 1",
      "chown f -1 65534", "chown f -1 -1", "fchown @ 1 -1"}},
    {"chown_rules", "chown: -1 leaves an id alone; lchown changes the link; the setuid and setgid bits clear",
     {"open f O_CREAT|O_WRONLY 0644", "chmod f 06755", "chown f 7 -1", "attr uid f", "attr gid f", "attr perm f",
      "chown f -1 9", "attr gid f", "symlink f l", "lchown l 3 4", "attr uid l", "attr uid f", "chown l 5 6",
      "attr uid f", "fchown @ 11 12", "attr uid f", "fchownat AT_FDCWD l 13 14 AT_SYMLINK_NOFOLLOW", "attr uid l"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(ModeOwner, kModeOwnerCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
