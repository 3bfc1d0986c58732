// open(2), openat(2), creat(2): one case per ERRORS line of the man page.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kOpenCases[] = {
    {"eacces_mode", "EACCES: the requested access to the file is not allowed",
     {"open f O_CREAT|O_WRONLY 0600", "close", "asuser 65534", "open f O_RDONLY", "open f O_WRONLY", "open f O_RDWR"}},
    {"eacces_search", "EACCES: search permission is denied for a directory in the path prefix",
     {"mkdir d 0700", "open d/f O_CREAT|O_WRONLY 0644", "close", "asuser 65534", "open d/f O_RDONLY",
      "open d/g O_CREAT|O_WRONLY 0644"}},
    {"eacces_create", "EACCES: the file did not exist yet and write access to the parent directory is not allowed",
     {"mkdir d 0755", "asuser 65534", "open d/new O_CREAT|O_WRONLY 0644", "open d/new O_CREAT|O_RDONLY 0644"}},
    {"eacces_protected_regular", "EACCES: O_CREAT on an existing file of another user in a sticky directory",
     {"mkdir t 0777", "chmod t 01777", "open t/f O_CREAT|O_WRONLY 0666", "close", "chmod t/f 0666",
      "chown t/f 1000 1000", "asuser 65534", "open t/f O_CREAT|O_WRONLY 0666", "open t/f O_WRONLY"}},
    {"ebadf_dirfd", "EBADF: (openat) pathname is relative but dirfd is neither AT_FDCWD nor a valid fd",
     {"openat 1000 =f O_RDONLY", "openat -1 =f O_CREAT|O_WRONLY 0644", "openat 1000 f O_CREAT|O_WRONLY 0644"}},
    {"eexist", "EEXIST: pathname already exists and O_CREAT and O_EXCL were used",
     {"open f O_CREAT|O_WRONLY 0644", "open f O_CREAT|O_EXCL|O_WRONLY 0644", "mkdir d 0755",
      "open d O_CREAT|O_EXCL|O_RDONLY 0644", "symlink nowhere dangling", "open dangling O_CREAT|O_EXCL|O_WRONLY 0644",
      "stat nowhere"}},
    {"efault", "EFAULT: pathname points outside the accessible address space",
     {"isolated open BADPTR O_RDONLY", "isolated openat AT_FDCWD BADPTR O_RDONLY"}},
    {"einval_flags", "EINVAL: invalid value in flags (O_CREAT|O_DIRECTORY)",
     {"open f O_CREAT|O_DIRECTORY 0644", "stat f", "open g O_CREAT|O_DIRECTORY|O_RDWR 0644"}},
    {"einval_tmpfile_rdonly", "EINVAL: O_TMPFILE was specified but neither O_WRONLY nor O_RDWR",
     {"mkdir d 0755", "openx d O_TMPFILE|O_RDONLY 0600"}},
    {"eisdir", "EISDIR: pathname refers to a directory and the access requested involved writing",
     {"mkdir d 0755", "open d O_WRONLY", "open d O_RDWR", "open d O_RDONLY", "open d O_WRONLY|O_CREAT 0644",
      "open d O_RDONLY|O_TRUNC"}},
    {"eloop_many", "ELOOP: too many symbolic links were encountered in resolving pathname",
     {"symlink a b", "symlink b a", "open a O_RDONLY", "open a/x O_RDONLY", "open a O_CREAT|O_WRONLY 0644"}},
    {"eloop_nofollow", "ELOOP: pathname was a symbolic link, and flags specified O_NOFOLLOW but not O_PATH",
     {"open f O_CREAT|O_WRONLY 0644", "close", "symlink f l", "open l O_RDONLY|O_NOFOLLOW",
      "open l O_WRONLY|O_NOFOLLOW", "open l O_PATH|O_NOFOLLOW", "fstat @", "symlink d dl",
      "open dl O_RDONLY|O_NOFOLLOW|O_DIRECTORY"}},
    {"emfile", "EMFILE: the per-process limit on the number of open file descriptors has been reached",
     {"open f O_CREAT|O_WRONLY 0644", "close", "emfile 24 open f", "open f O_RDONLY"}},
    {"enametoolong", "ENAMETOOLONG: pathname was too long",
     {"open %L O_RDONLY", "open %L O_CREAT|O_WRONLY 0644", "open %P O_RDONLY", "open d/%L O_RDONLY"}},
    {"enxio_device", "ENXIO / ENODEV: the file is a device special file and no corresponding device exists",
     {"mknod dev S_IFCHR|0644 0xf000", "open dev O_RDONLY", "attr type dev"}},
    {"enoent_missing", "ENOENT: O_CREAT is not set and the named file does not exist",
     {"open missing O_RDONLY", "open missing O_WRONLY|O_TRUNC", "open EMPTY O_RDONLY"}},
    {"enoent_component", "ENOENT: a directory component does not exist or is a dangling symbolic link",
     {"open nodir/f O_CREAT|O_WRONLY 0644", "symlink nowhere dl", "open dl/f O_CREAT|O_WRONLY 0644",
      "open dl/f O_RDONLY"}},
    {"enoent_tmpfile_dir", "ENOENT: O_TMPFILE on a nonexistent directory",
     {"openx missing O_TMPFILE|O_RDWR 0600"}},
    {"enotdir_component", "ENOTDIR: a component used as a directory in pathname is not a directory",
     {"open f O_CREAT|O_WRONLY 0644", "open f/x O_RDONLY", "open f/x O_CREAT|O_WRONLY 0644", "open f/ O_RDONLY",
      "open f/. O_RDONLY"}},
    {"enotdir_odirectory", "ENOTDIR: O_DIRECTORY was specified and pathname was not a directory",
     {"open f O_CREAT|O_WRONLY 0644", "open f O_RDONLY|O_DIRECTORY", "symlink f l", "open l O_RDONLY|O_DIRECTORY"}},
    {"enotdir_dirfd", "ENOTDIR: (openat) pathname is relative and dirfd refers to a file other than a directory",
     {"open f O_CREAT|O_RDWR 0644", "keep F", "openat F =x O_RDONLY", "openat F =x O_CREAT|O_WRONLY 0644"}},
    {"enxio_fifo", "ENXIO: O_NONBLOCK | O_WRONLY is set, the file is a FIFO and no process has it open for reading",
     {"mkfifo p 0644", "open p O_WRONLY|O_NONBLOCK", "open p O_RDONLY|O_NONBLOCK", "open p O_WRONLY|O_NONBLOCK"}},
    {"enxio_socket", "ENXIO: the file is a UNIX domain socket", {"mknod s S_IFSOCK|0644 0", "open s O_RDONLY"}},
    {"eopnotsupp_tmpfile", "EOPNOTSUPP: the filesystem containing pathname does not support O_TMPFILE",
     {"mkdir d 0755", "openx d O_TMPFILE|O_RDWR 0600", "writefd @ data"}},
    {"eperm_noatime", "EPERM: O_NOATIME, the caller is not the owner of the file and not privileged",
     {"open f O_CREAT|O_WRONLY 0644", "close", "open f O_RDONLY|O_NOATIME", "asuser 65534",
      "open f O_RDONLY|O_NOATIME", "open f O_RDONLY"}},
    {"creat_calls", "creat(2): as open(O_CREAT|O_WRONLY|O_TRUNC); EISDIR, ENOENT, EACCES",
     {"creat f 0644", "writefd @ hello", "creat f 0600", "attr size f", "attr perm f", "mkdir d 0755", "creat d 0644",
      "creat nodir/f 0644", "asuser 65534", "creat d/g 0644"}},
    {"o_creat_umask", "O_CREAT: the mode is masked by the umask; O_TRUNC empties; O_EXCL|O_CREAT on a symlink",
     {"umask 027", "open f O_CREAT|O_WRONLY 0777", "attr perm f", "writefd @ abc", "close",
      "open f O_WRONLY|O_TRUNC", "attr size f", "umask 0", "open g O_CREAT|O_WRONLY 04777", "attr perm g"}},
    {"o_direct", "EINVAL: the filesystem does not support O_DIRECT (ext4 does)",
     {"open f O_CREAT|O_RDWR|O_DIRECT 0644", "fcntl @ F_GETFL"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {};

POSIX_FAMILY(Open, kOpenCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
