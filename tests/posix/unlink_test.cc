// unlink(2), unlinkat(2), remove(3): one case per ERRORS line of the man page.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kUnlinkCases[] = {
    {"eacces", "EACCES: write access to the directory is not allowed, or search permission is denied",
     {"mkdir d 0755", "open d/f O_CREAT|O_WRONLY 0666", "mkdir p 0700", "open p/g O_CREAT|O_WRONLY 0666",
      "asuser 65534", "unlink d/f", "unlink p/g", "unlinkat AT_FDCWD d/f 0"}},
    {"efault", "EFAULT: pathname points outside the accessible address space", {"isolated unlink BADPTR"}},
    {"eisdir", "EISDIR: pathname refers to a directory (also the EPERM line: Linux answers EISDIR)",
     {"mkdir d 0755", "unlink d", "unlink d/", "unlinkat AT_FDCWD d 0", "stat d"}},
    {"eloop", "ELOOP: too many symbolic links were encountered in translating pathname",
     {"symlink a b", "symlink b a", "unlink a/x", "unlink a", "lstat a"}},
    {"enametoolong", "ENAMETOOLONG: pathname was too long", {"unlink %L", "unlink %P"}},
    {"enoent", "ENOENT: a component does not exist or is a dangling symbolic link, or pathname is empty",
     {"unlink missing", "unlink missing/x", "symlink nowhere dl", "unlink dl/x", "unlink EMPTY", "unlink dl",
      "lstat dl"}},
    {"enotdir", "ENOTDIR: a component used as a directory in pathname is not a directory",
     {"open f O_CREAT|O_WRONLY 0644", "unlink f/x", "unlink f/", "stat f"}},
    {"eperm_sticky", "EPERM or EACCES: sticky directory, the caller owns neither the directory nor the file",
     {"mkdir t 0777", "chmod t 01777", "open t/f O_CREAT|O_WRONLY 0666", "asuser 65534", "unlink t/f",
      "open t/mine O_CREAT|O_WRONLY 0644", "unlink t/mine"}},
    {"unlinkat_ebadf", "EBADF: (unlinkat) pathname is relative but dirfd is not valid",
     {"open f O_CREAT|O_WRONLY 0644", "unlinkat 1000 =f 0", "unlinkat -1 =f AT_REMOVEDIR"}},
    {"unlinkat_einval", "EINVAL: (unlinkat) an invalid flag value was specified in flags",
     {"open f O_CREAT|O_WRONLY 0644", "unlinkat AT_FDCWD f 0x1", "unlinkat AT_FDCWD f AT_SYMLINK_NOFOLLOW", "stat f"}},
    {"unlinkat_eisdir", "EISDIR: (unlinkat) pathname refers to a directory, and AT_REMOVEDIR was not specified",
     {"mkdir d 0755", "unlinkat AT_FDCWD d 0", "unlinkat AT_FDCWD d AT_REMOVEDIR", "stat d"}},
    {"unlinkat_enotdir", "ENOTDIR: (unlinkat) AT_REMOVEDIR on a file, or dirfd refers to a file",
     {"open f O_CREAT|O_WRONLY 0644", "unlinkat AT_FDCWD f AT_REMOVEDIR", "unlinkat @ =x 0", "stat f"}},
    {"unlinkat_removedir_rules", "unlinkat(AT_REMOVEDIR): rmdir's errors (ENOTEMPTY, EINVAL for .)",
     {"mkdir d 0755", "open d/f O_CREAT|O_WRONLY 0644", "unlinkat AT_FDCWD d AT_REMOVEDIR",
      "unlinkat AT_FDCWD d/. AT_REMOVEDIR", "unlink d/f", "open d O_RDONLY", "unlinkat @ =. AT_REMOVEDIR",
      "unlinkat AT_FDCWD d AT_REMOVEDIR"}},
    {"remove", "remove(3): unlink for files, rmdir for directories",
     {"open f O_CREAT|O_WRONLY 0644", "remove f", "remove f", "mkdir d 0755", "mkdir d/e 0755", "remove d",
      "remove d/e", "remove d"}},
    {"open_file_survives", "unlink: an open file stays readable and writable until closed",
     {"open f O_CREAT|O_RDWR 0644", "writefd @ hello", "unlink f", "stat f", "pread @ 100 0", "writefd @ more",
      "fattr size @", "fattr nlink @", "fstat @"}},
    {"hard_links", "unlink: one name of several; the link count drops",
     {"open f O_CREAT|O_WRONLY 0644", "link f g", "attr nlink f", "unlink g", "attr nlink f", "stat g"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {
};

POSIX_FAMILY(Unlink, kUnlinkCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
