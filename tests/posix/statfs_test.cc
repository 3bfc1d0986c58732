// statfs(2)/fstatfs, statvfs(3)/fstatvfs: one case per ERRORS line of the man pages.
#include "tests/posix/posix_suite.h"

namespace myfs::testing {
namespace {

const PosixCase kStatfsCases[] = {
    {"eacces", "EACCES: (statfs) search permission is denied for a component of the path prefix",
     {"mkdir d 0700", "open d/f O_CREAT|O_WRONLY 0644", "asuser 65534", "statfs d/f", "statvfs d/f", "statfs d"}},
    {"ebadf", "EBADF: (fstatfs) fd is not a valid open file descriptor",
     {"fstatfs 1000", "fstatvfs 1000", "open f O_CREAT|O_WRONLY 0644", "keep A", "closefd A", "fstatfs A"}},
    {"efault", "EFAULT: buf or path points to an invalid address", {"isolated statfs BADPTR"}},
    {"eloop", "ELOOP: (statfs) too many symbolic links were encountered in translating path",
     {"symlink a b", "symlink b a", "statfs a", "statvfs a/x"}},
    {"enametoolong", "ENAMETOOLONG: (statfs) path is too long", {"statfs %L", "statvfs %P"}},
    {"enoent", "ENOENT: (statfs) the file referred to by path does not exist",
     {"statfs missing", "statvfs missing", "symlink nowhere dl", "statfs dl", "statfs EMPTY"}},
    {"enotdir", "ENOTDIR: (statfs) a component of the path prefix of path is not a directory",
     {"open f O_CREAT|O_WRONLY 0644", "statfs f/x", "statvfs f/x"}},
    {"works", "statfs on files, directories, fds (also O_PATH); f_namemax",
     {"open f O_CREAT|O_WRONLY 0644", "statfs f", "fstatfs @", "statvfs .", "fstatvfs @", "statvfsname .",
      "open . O_PATH", "fstatfs @"}},
};

// Cases whose answer under myfs differs from Linux today, with the cause (see posix_suite.h).
const KnownDifferences kKnownDifferences = {};

POSIX_FAMILY(Statfs, kStatfsCases, kKnownDifferences);

}  // namespace
}  // namespace myfs::testing
