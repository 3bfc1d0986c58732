// mkdir(2), rmdir(2), opendir(3)/fdopendir, readdir(3), telldir/seekdir/rewinddir,
// scandir(3), getdents64(2): one case per ERRORS line of the man pages.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kDirCases[] = {
    // mkdir(2)
    {"mkdir_eacces", "EACCES: the parent does not allow write permission, or search permission is denied",
     {"mkdir d 0755", "mkdir p 0700", "asuser 65534", "mkdir d/x 0755", "mkdir p/x 0755", "mkdir x 0755"}},
    {"mkdir_ebadf", "EBADF: (mkdirat) pathname is relative but dirfd is not valid", {"mkdirat 1000 =x 0755"}},
    {"mkdir_eexist", "EEXIST: pathname already exists (not necessarily as a directory), also a dangling symlink",
     {"mkdir d 0755", "mkdir d 0755", "open f O_CREAT|O_WRONLY 0644", "mkdir f 0755", "symlink nowhere dl",
      "mkdir dl 0755", "stat nowhere", "mkdir d/ 0755", "mkdir . 0755"}},
    {"mkdir_efault", "EFAULT: pathname points outside the accessible address space", {"isolated mkdir BADPTR 0755"}},
    {"mkdir_eloop", "ELOOP: too many symbolic links were encountered in resolving pathname",
     {"symlink a b", "symlink b a", "mkdir a/x 0755", "mkdir a 0755"}},
    {"mkdir_enametoolong", "ENAMETOOLONG: pathname was too long", {"mkdir %L 0755", "mkdir %P 0755"}},
    {"mkdir_enoent", "ENOENT: a directory component does not exist or is a dangling symbolic link",
     {"mkdir a/b 0755", "symlink nowhere dl", "mkdir dl/x 0755", "mkdir EMPTY 0755"}},
    {"mkdir_enotdir", "ENOTDIR: a component used as a directory is not a directory; (mkdirat) dirfd is a file",
     {"open f O_CREAT|O_WRONLY 0644", "mkdir f/x 0755", "mkdirat @ =x 0755"}},
    {"mkdir_mode", "mkdir: the mode is masked by the umask; the sticky bit is kept",
     {"umask 027", "mkdir d 0777", "attr perm d", "umask 0", "mkdir e 01777", "attr perm e", "attr nlink e"}},
    // rmdir(2)
    {"rmdir_eacces", "EACCES: write access to the parent is not allowed, or search permission is denied",
     {"mkdir d 0755", "mkdir d/x 0755", "mkdir p 0700", "mkdir p/x 0755", "asuser 65534", "rmdir d/x", "rmdir p/x"}},
    {"rmdir_ebusy_cwd", "EBUSY: in use by the system or a process (Linux: not for a cwd, which it removes)",
     {"mkdir d 0755", "chdir d", "rmdir d", "stat d", "getcwd 4096"}},
    {"rmdir_efault", "EFAULT: pathname points outside the accessible address space", {"isolated rmdir BADPTR"}},
    {"rmdir_einval", "EINVAL: pathname has . as last component",
     {"mkdir d 0755", "rmdir d/.", "rmdir .", "chdir d", "rmdir =.", "stat d"}},
    {"rmdir_eloop", "ELOOP: too many symbolic links were encountered in resolving pathname",
     {"symlink a b", "symlink b a", "rmdir a/x", "rmdir a"}},
    {"rmdir_enametoolong", "ENAMETOOLONG: pathname was too long", {"rmdir %L", "rmdir %P"}},
    {"rmdir_enoent", "ENOENT: a directory component does not exist or is a dangling symbolic link",
     {"rmdir missing", "rmdir missing/x", "symlink nowhere dl", "rmdir dl/x", "rmdir EMPTY"}},
    {"rmdir_enotdir", "ENOTDIR: pathname, or a component used as a directory, is not a directory",
     {"open f O_CREAT|O_WRONLY 0644", "rmdir f", "rmdir f/x", "mkdir d 0755", "symlink d l", "rmdir l",
      "stat d"}},
    {"rmdir_enotempty", "ENOTEMPTY: pathname contains entries other than . and .. ; or has .. as last component",
     {"mkdir d 0755", "open d/f O_CREAT|O_WRONLY 0644", "rmdir d", "mkdir e 0755", "mkdir e/sub 0755",
      "rmdir e/sub/..", "rmdir e"}},
    {"rmdir_eperm_sticky", "EPERM: sticky directory and the caller owns neither the directory nor the entry",
     {"mkdir t 0777", "chmod t 01777", "mkdir t/sub 0755", "mkdir t/other 0777", "asuser 65534", "rmdir t/sub",
      "mkdir t/mine 0755", "rmdir t/mine"}},
    // opendir(3), fdopendir(3)
    {"opendir_eacces", "EACCES: permission denied",
     {"mkdir d 0700", "mkdir p 0311", "mkdir d/x 0755", "asuser 65534", "dopen A d", "dopen B p", "dopen C d/x"}},
    {"opendir_ebadf", "EBADF: (fdopendir) fd is not a valid fd opened for reading",
     {"fdopendir A 1000", "mkdir d 0755", "open d O_PATH", "fdopendir B @"}},
    {"opendir_emfile", "EMFILE: the per-process limit on the number of open fds has been reached",
     {"mkdir d 0755", "emfile 24 opendir d"}},
    {"opendir_enoent", "ENOENT: directory does not exist, or name is an empty string",
     {"dopen A missing", "dopen B EMPTY", "symlink nowhere dl", "dopen C dl"}},
    {"opendir_enotdir", "ENOTDIR: name is not a directory",
     {"open f O_CREAT|O_RDONLY 0644", "dopen A f", "fdopendir B @", "dopen C f/x"}},
    // readdir(3), telldir/seekdir/rewinddir
    {"readdir_ebadf", "EBADF: invalid directory stream descriptor (its fd was closed underneath)",
     {"mkdir d 0755", "dopen A d", "dirfd A", "closefd @", "readdirone A"}},
    {"readdir_entries", "readdir: every entry once, then NULL without an errno; rewinddir restarts",
     {"mkdir d 0755", "open d/a O_CREAT|O_WRONLY 0644", "mkdir d/b 0755", "symlink a d/c", "dopen A d",
      "readdirall A", "readdirall A", "rewindcount A", "open d/e O_CREAT|O_WRONLY 0644", "rewindcount A",
      "closedir A", "scandir d"}},
    {"telldir_seekdir", "telldir/seekdir: seeking to a telldir position reads the same entry again",
     {"mkdir d 0755", "open d/a O_CREAT|O_WRONLY 0644", "open d/b O_CREAT|O_WRONLY 0644",
      "open d/c O_CREAT|O_WRONLY 0644", "dopen A d", "telldir A", "readdirone A", "seekcheck A", "readdirone A",
      "seekcheck A", "readdirall A"}},
    {"readdir_fdopendir", "fdopendir: reads the directory of an open fd; the fd belongs to the stream",
     {"mkdir d 0755", "open d/a O_CREAT|O_WRONLY 0644", "open d O_RDONLY|O_DIRECTORY", "keep D", "fdopendir A D",
      "readdirall A", "closedir A", "fstat D"}},
    // scandir(3)
    {"scandir_errors", "scandir: ENOENT (path does not exist), ENOTDIR (path is not a directory)",
     {"scandir missing", "open f O_CREAT|O_WRONLY 0644", "scandir f", "mkdir d 0755", "scandir d"}},
    // getdents64(2)
    {"getdents_ebadf", "EBADF: invalid file descriptor fd",
     {"getdents 1000 4096", "mkdir d 0755", "open d O_RDONLY", "keep D", "closefd D", "getdents D 4096"}},
    {"getdents_einval", "EINVAL: result buffer is too small",
     {"mkdir d 0755", "open d O_RDONLY", "getdents @ 1", "getdents @ 4096", "getdents @ 4096"}},
    {"getdents_enoent", "ENOENT: no such directory (it was removed)",
     {"mkdir d 0755", "open d O_RDONLY", "rmdir d", "getdents @ 4096"}},
    {"getdents_enotdir", "ENOTDIR: file descriptor does not refer to a directory",
     {"open f O_CREAT|O_RDONLY 0644", "getdents @ 4096"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(Dir, kDirCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
