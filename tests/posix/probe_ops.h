/* The ops of the POSIX conformance suite (tests/posix), included by
 * tests/integration/errno_probe.c. Each op prints "<op> -> <ret> <errno name or OK>".
 *
 * Arguments:
 *   FD     "@" the last fd an op produced, "A".."Z" a slot (see keep), AT_FDCWD, a number
 *   path   joined to the case directory; "=rel" is passed as is (relative to the cwd or a
 *          dirfd), "EMPTY" is "", "BADPTR" an address outside the process (use it under
 *          "isolated"); "%L" expands to a 256-byte name, "%P" to a 4200-byte "./././..."
 *   flags  names (O_*, AT_*, RENAME_*, FALLOC_FL_*, SEEK_*, R_OK, ...) or numbers, with '|'
 *
 * Fds and ages: fd numbers are reported as 0 (success) since they differ between runs;
 * "case NAME" starts a fresh directory NAME in the probe's root, closes what earlier ops
 * opened, restores uid 0, umask 022, limits and the cwd.
 */
#ifndef MYFS_TESTS_POSIX_PROBE_OPS_H
#define MYFS_TESTS_POSIX_PROBE_OPS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

static long run(char* argv[], int argc);

struct posixNamed {
  const char* name;
  long value;
};
#define PN(x) {#x, (long)(x)}
static const struct posixNamed kPosixNamed[] = {
    PN(O_RDONLY), PN(O_WRONLY), PN(O_RDWR), PN(O_CREAT), PN(O_EXCL), PN(O_TRUNC), PN(O_APPEND), PN(O_DIRECTORY),
    PN(O_NOFOLLOW), PN(O_PATH), PN(O_CLOEXEC), PN(O_NONBLOCK), PN(O_NOATIME), PN(O_TMPFILE), PN(O_DIRECT),
    PN(O_SYNC), PN(O_DSYNC), PN(O_NOCTTY), PN(O_ACCMODE), PN(AT_FDCWD), PN(AT_EMPTY_PATH), PN(AT_SYMLINK_NOFOLLOW),
    PN(AT_SYMLINK_FOLLOW), PN(AT_REMOVEDIR), PN(AT_EACCESS), PN(AT_NO_AUTOMOUNT), PN(AT_STATX_SYNC_AS_STAT),
    PN(AT_STATX_FORCE_SYNC), PN(AT_STATX_DONT_SYNC), PN(RENAME_NOREPLACE), PN(RENAME_EXCHANGE), PN(RENAME_WHITEOUT),
    PN(FALLOC_FL_KEEP_SIZE), PN(FALLOC_FL_PUNCH_HOLE), PN(FALLOC_FL_ZERO_RANGE), PN(FALLOC_FL_COLLAPSE_RANGE),
    PN(FALLOC_FL_INSERT_RANGE), PN(SEEK_SET), PN(SEEK_CUR), PN(SEEK_END), PN(SEEK_DATA), PN(SEEK_HOLE), PN(R_OK),
    PN(W_OK), PN(X_OK), PN(F_OK), PN(F_DUPFD), PN(F_DUPFD_CLOEXEC), PN(F_GETFL), PN(F_SETFL), PN(F_GETFD),
    PN(F_SETFD), PN(F_GETLK), PN(F_SETLK), PN(FD_CLOEXEC), PN(CLOSE_RANGE_CLOEXEC), PN(CLOSE_RANGE_UNSHARE),
    PN(SYNC_FILE_RANGE_WAIT_BEFORE), PN(SYNC_FILE_RANGE_WRITE), PN(SYNC_FILE_RANGE_WAIT_AFTER),
    PN(POSIX_FADV_NORMAL), PN(POSIX_FADV_SEQUENTIAL), PN(POSIX_FADV_RANDOM), PN(POSIX_FADV_NOREUSE),
    PN(POSIX_FADV_WILLNEED), PN(POSIX_FADV_DONTNEED), PN(STATX_BASIC_STATS), PN(STATX_ALL), PN(STATX_SIZE),
    PN(STATX__RESERVED), PN(UTIME_NOW), PN(UTIME_OMIT), PN(S_IFREG), PN(S_IFDIR), PN(S_IFIFO), PN(S_IFCHR),
    PN(S_IFBLK), PN(S_IFSOCK), PN(S_IFLNK), PN(RWF_HIPRI), PN(RWF_DSYNC), PN(RWF_SYNC), PN(RWF_NOWAIT),
    PN(RWF_APPEND), PN(SPLICE_F_MOVE), PN(SPLICE_F_NONBLOCK), PN(LLONG_MAX), PN(INT_MAX), PN(UINT_MAX),
    PN(SSIZE_MAX), PN(IOV_MAX), PN(F_ADD_SEALS), PN(F_GET_SEALS), PN(F_NOTIFY), PN(F_SEAL_WRITE), PN(LOCK_SH),
    PN(LOCK_EX), PN(LOCK_NB), PN(LOCK_UN), {NULL, 0}};
#undef PN

/* One name or number; 0 when it is neither. */
static int posixConst(const char* t, long* v) {
  for (const struct posixNamed* n = kPosixNamed; n->name; ++n) {
    if (!strcmp(t, n->name)) {
      *v = n->value;
      return 1;
    }
  }
  if (!strcmp(t, "SIZE_MAX")) {
    *v = (long)SIZE_MAX;
    return 1;
  }
  char* end = NULL;
  errno = 0;
  long x = strtol(t, &end, 0);
  if (end == t || *end != 0 || errno != 0) return 0;
  *v = x;
  return 1;
}

/* Names or numbers joined by '|'. */
static long posixNum(const char* s) {
  long out = 0;
  char tok[128];
  while (*s) {
    const char* bar = strchr(s, '|');
    size_t n = bar ? (size_t)(bar - s) : strlen(s);
    if (n >= sizeof tok) exit(2);
    memcpy(tok, s, n);
    tok[n] = 0;
    long v;
    if (!posixConst(tok, &v)) {
      fprintf(stderr, "unknown constant %s\n", tok);
      exit(2);
    }
    out |= v;
    s += n + (bar ? 1 : 0);
  }
  return out;
}

/* %L and %P expanded into out. */
static void posixExpand(const char* in, char* out, size_t size) {
  size_t o = 0;
  for (; *in && o + 1 < size; ++in) {
    if (in[0] == '%' && in[1] == 'L') {
      for (int i = 0; i < 256 && o + 1 < size; ++i) out[o++] = 'x';
      ++in;
    } else if (in[0] == '%' && in[1] == 'P') {
      for (int i = 0; i < 2100 && o + 2 < size; ++i) {
        out[o++] = '.';
        out[o++] = '/';
      }
      ++in;
    } else {
      out[o++] = *in;
    }
  }
  out[o] = 0;
}

/* The special path forms; NULL when rel is an ordinary one. */
static const char* posixPath(const char* rel, char* buf, size_t size, const char* root) {
  if (!strcmp(rel, "EMPTY")) return "";
  if (!strcmp(rel, "BADPTR")) return (const char*)1;
  if (rel[0] == '=') {
    posixExpand(rel + 1, buf, size);
    return buf;
  }
  if (strchr(rel, '%') == NULL) return NULL;
  char tmp[8192];
  posixExpand(rel, tmp, sizeof tmp);
  if (tmp[0] == '/') snprintf(buf, size, "%s", tmp);
  else snprintf(buf, size, "%s/%s", root, tmp);
  return buf;
}

static int posixSlot[26] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
static DIR* posixDir[26];
static int posixOpened[1024];
static int posixOpenedCount = 0;
static char posixBase[4096];
static struct rlimit posixNofile, posixFsize;

static void posixTrack(int fd) {
  if (fd < 0) return;
  for (int i = 0; i < posixOpenedCount; ++i)
    if (posixOpened[i] == fd) return;
  if (posixOpenedCount < 1024) posixOpened[posixOpenedCount++] = fd;
}

static int posixIsSlot(const char* s) { return s[0] >= 'A' && s[0] <= 'Z' && s[1] == 0; }

static int posixFd(const char* s, const int* lastFd) {
  if (!strcmp(s, "@")) return *lastFd;
  if (posixIsSlot(s)) return posixSlot[s[0] - 'A'];
  return (int)posixNum(s);
}

static DIR* posixDirOf(const char* s) {
  if (!posixIsSlot(s)) exit(2);
  return posixDir[s[0] - 'A'];
}

/* "NULL" or a number: an offset argument. */
static loff_t* posixOff(const char* s, loff_t* storage) {
  if (!strcmp(s, "NULL")) return NULL;
  *storage = posixNum(s);
  return storage;
}

/* "4,HUGE,2": iovec lengths over one buffer (HUGE is SIZE_MAX). */
static int posixIov(const char* spec, struct iovec* iov, int max, char* buf, size_t bufSize) {
  int n = 0;
  size_t used = 0;
  const char* s = spec;
  while (*s && n < max) {
    char tok[64];
    const char* comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    if (len >= sizeof tok) exit(2);
    memcpy(tok, s, len);
    tok[len] = 0;
    size_t want = !strcmp(tok, "HUGE") ? SIZE_MAX : (size_t)posixNum(tok);
    iov[n].iov_base = buf + (used < bufSize ? used : 0);
    iov[n].iov_len = want;
    if (want < bufSize) used += want;
    ++n;
    s += len + (comma ? 1 : 0);
  }
  return n;
}

/* "ab,cd": iovecs over the given strings. */
static int posixIovData(char* spec, struct iovec* iov, int max) {
  int n = 0;
  char* s = spec;
  while (s && n < max) {
    char* comma = strchr(s, ',');
    if (comma) *comma = 0;
    iov[n].iov_base = s;
    iov[n].iov_len = strlen(s);
    ++n;
    s = comma ? comma + 1 : NULL;
  }
  return n;
}

static long posixStatField(int rc, const struct stat* st, const char* field) {
  if (rc != 0) return -1;
  if (!strcmp(field, "size")) return (long)st->st_size;
  if (!strcmp(field, "perm")) return (long)(st->st_mode & 07777);
  if (!strcmp(field, "type")) return (long)((st->st_mode & S_IFMT) >> 12);
  if (!strcmp(field, "nlink")) return (long)st->st_nlink;
  if (!strcmp(field, "uid")) return (long)st->st_uid;
  if (!strcmp(field, "gid")) return (long)st->st_gid;
  if (!strcmp(field, "atime")) return (long)st->st_atim.tv_sec;
  if (!strcmp(field, "mtime")) return (long)st->st_mtim.tv_sec;
  if (!strcmp(field, "atimens")) return (long)st->st_atim.tv_nsec;
  if (!strcmp(field, "mtimens")) return (long)st->st_mtim.tv_nsec;
  exit(2);
}

/* posix_fallocate and posix_fadvise return the error number. */
static long posixErrnoResult(int rc) {
  if (rc == 0) return 0;
  errno = rc;
  return -1;
}

static long posixFdResult(int fd, int* lastFd) {
  if (fd >= 0) {
    *lastFd = fd;
    posixTrack(fd);
  }
  return fd >= 0 ? 0 : -1;
}

static long posixCountDir(DIR* d) {
  long n = 0;
  errno = 0;
  while (readdir(d) != NULL) ++n;
  return errno != 0 ? -1 : n;
}

/* Runs op until it fails with RLIMIT_NOFILE at `limit`; returns -1 with that errno. */
static long posixEmfile(char* argv[], int argc, const char* (*path)(const char*), int* lastFd) {
  (void)argc;
  struct rlimit old, rl;
  getrlimit(RLIMIT_NOFILE, &old);
  rl = old;
  rl.rlim_cur = (rlim_t)posixNum(argv[1]);
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
  const char* kind = argv[2];
  int got[2048];
  DIR* dirs[2048];
  int n = 0, nd = 0;
  long rc = 0;
  int err = 0;
  for (int i = 0; i < 2048; ++i) {
    int fd = -1;
    if (!strcmp(kind, "open")) fd = open(path(argv[3]), O_RDONLY);
    else if (!strcmp(kind, "openat")) fd = openat(posixFd(argv[3], lastFd), argv[4], O_RDONLY);
    else if (!strcmp(kind, "dup")) fd = dup(posixFd(argv[3], lastFd));
    else if (!strcmp(kind, "dupfd")) fd = fcntl(posixFd(argv[3], lastFd), F_DUPFD, 0);
    else if (!strcmp(kind, "creat")) {
      char name[64];
      snprintf(name, sizeof name, "%s%d", argv[3], i);
      fd = creat(path(name), 0644);
    } else if (!strcmp(kind, "opendir")) {
      DIR* d = opendir(path(argv[3]));
      if (d) {
        dirs[nd++] = d;
        continue;
      }
    } else exit(2);
    if (fd < 0) break;
    got[n++] = fd;
  }
  err = errno;
  rc = (n + nd == 2048) ? n + nd : -1;
  for (int i = 0; i < n; ++i) close(got[i]);
  for (int i = 0; i < nd; ++i) closedir(dirs[i]);
  setrlimit(RLIMIT_NOFILE, &old);
  errno = err;
  return rc;
}

/* The ops of tests/posix: -2 when `op` is not one of them. */
static long runPosix(char* argv[], int argc, const char* (*path)(const char*), int* lastFd, char* root,
                     size_t rootSize) {
  const char* op = argv[0];
  static char buf[1 << 16];
  struct stat st;
  loff_t o1, o2;
  posixTrack(*lastFd);
  if (posixBase[0] == 0) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* what was printed survives a crash */
    signal(SIGPIPE, SIG_IGN);         /* EPIPE instead */
    snprintf(posixBase, sizeof posixBase, "%s", root);
    getrlimit(RLIMIT_NOFILE, &posixNofile);
    getrlimit(RLIMIT_FSIZE, &posixFsize);
  }

  /* Cases and fds. */
  if (!strcmp(op, "case") && argc == 2) {
    if (seteuid(0) != 0 || setegid(0) != 0) return -1;
    umask(022);
    setrlimit(RLIMIT_NOFILE, &posixNofile);
    setrlimit(RLIMIT_FSIZE, &posixFsize);
    for (int i = 0; i < 26; ++i) {
      if (posixDir[i]) closedir(posixDir[i]);
      posixDir[i] = NULL;
      posixSlot[i] = -1;
    }
    for (int i = 0; i < posixOpenedCount; ++i) close(posixOpened[i]);
    posixOpenedCount = 0;
    *lastFd = -1;
    if (chdir(posixBase) != 0) return -1;
    if ((size_t)snprintf(root, rootSize, "%.2048s/%.1024s", posixBase, argv[1]) >= rootSize) exit(2);
    return mkdir(root, 0755);
  }
  if (!strcmp(op, "keep") && argc == 2 && posixIsSlot(argv[1])) {
    posixSlot[argv[1][0] - 'A'] = *lastFd;
    return 0;
  }
  if (!strcmp(op, "use") && argc == 2) {
    *lastFd = posixFd(argv[1], lastFd);
    return 0;
  }
  if (!strcmp(op, "pipe") && argc == 3) {
    int p[2];
    if (pipe(p) != 0) return -1;
    posixTrack(p[0]);
    posixTrack(p[1]);
    posixSlot[argv[1][0] - 'A'] = p[0];
    posixSlot[argv[2][0] - 'A'] = p[1];
    return 0;
  }
  if (!strcmp(op, "socket") && argc == 1) return posixFdResult(socket(AF_UNIX, SOCK_STREAM, 0), lastFd);
  if (!strcmp(op, "umask") && argc == 2) {
    umask((mode_t)posixNum(argv[1]));
    return 0;
  }
  if (!strcmp(op, "fsizelimit") && argc == 2) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {(rlim_t)posixNum(argv[1]), posixFsize.rlim_max};
    return setrlimit(RLIMIT_FSIZE, &rl);
  }
  if (!strcmp(op, "emfile") && argc >= 4) return posixEmfile(argv, argc, path, lastFd);
  if (!strcmp(op, "isolated") && argc >= 2) {
    /* The op in a child: a crash there is reported as -(1000 + signal), errno 0. */
    int p[2];
    if (pipe(p) != 0) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      alarm(5); /* a call that blocks for ever is reported as SIGALRM */
      errno = 0;
      long r[2];
      r[0] = run(argv + 1, argc - 1);
      r[1] = errno;
      if (write(p[1], r, sizeof r) != (ssize_t)sizeof r) _exit(3);
      _exit(0);
    }
    close(p[1]);
    long r[2] = {0, 0};
    ssize_t got = read(p[0], r, sizeof r);
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
      errno = 0;
      return -(1000 + WTERMSIG(status));
    }
    if (got != (ssize_t)sizeof r) {
      errno = 0;
      return -999;
    }
    errno = (int)r[1];
    return r[0];
  }

  /* Opening and creating. */
  if (!strcmp(op, "openat") && (argc == 4 || argc == 5))
    return posixFdResult(openat(posixFd(argv[1], lastFd), path(argv[2]), (int)posixNum(argv[3]),
                                argc == 5 ? (mode_t)strtol(argv[4], 0, 8) : 0),
                         lastFd);
  if (!strcmp(op, "openx") && (argc == 3 || argc == 4))
    return posixFdResult(open(path(argv[1]), (int)posixNum(argv[2]), argc == 4 ? (mode_t)strtol(argv[3], 0, 8) : 0),
                         lastFd);
  if (!strcmp(op, "creat") && argc == 3) return posixFdResult(creat(path(argv[1]), (mode_t)strtol(argv[2], 0, 8)), lastFd);
  if (!strcmp(op, "mkdirat") && argc == 4)
    return mkdirat(posixFd(argv[1], lastFd), path(argv[2]), (mode_t)strtol(argv[3], 0, 8));
  if (!strcmp(op, "mknod") && argc == 4) {
    unsigned long dev = strtoul(argv[3], 0, 0);
    return mknod(path(argv[1]), (mode_t)posixNum(argv[2]), makedev(dev >> 8, dev & 0xff));
  }
  if (!strcmp(op, "mknodat") && argc == 5) {
    unsigned long dev = strtoul(argv[4], 0, 0);
    return mknodat(posixFd(argv[1], lastFd), path(argv[2]), (mode_t)posixNum(argv[3]), makedev(dev >> 8, dev & 0xff));
  }
  if (!strcmp(op, "mkfifo") && argc == 3) return mkfifo(path(argv[1]), (mode_t)strtol(argv[2], 0, 8));

  /* Names. */
  if (!strcmp(op, "unlinkat") && argc == 4)
    return unlinkat(posixFd(argv[1], lastFd), path(argv[2]), (int)posixNum(argv[3]));
  if (!strcmp(op, "remove") && argc == 2) return remove(path(argv[1]));
  if (!strcmp(op, "renameat") && argc == 5)
    return renameat(posixFd(argv[1], lastFd), path(argv[2]), posixFd(argv[3], lastFd), path(argv[4]));
  if (!strcmp(op, "renameat2") && argc == 6)
    return renameat2(posixFd(argv[1], lastFd), path(argv[2]), posixFd(argv[3], lastFd), path(argv[4]),
                     (unsigned)posixNum(argv[5]));
  if (!strcmp(op, "linkat") && argc == 6)
    return linkat(posixFd(argv[1], lastFd), path(argv[2]), posixFd(argv[3], lastFd), path(argv[4]),
                  (int)posixNum(argv[5]));
  if (!strcmp(op, "symlinkat") && argc == 4) {
    char target[8192];
    if (!strcmp(argv[1], "EMPTY")) target[0] = 0;
    else posixExpand(argv[1], target, sizeof target);
    return symlinkat(target, posixFd(argv[2], lastFd), path(argv[3]));
  }
  if (!strcmp(op, "readlink") && argc == 3) return readlink(path(argv[1]), buf, (size_t)posixNum(argv[2]));
  if (!strcmp(op, "readlinkat") && argc == 4)
    return readlinkat(posixFd(argv[1], lastFd), path(argv[2]), buf, (size_t)posixNum(argv[3]));
  if (!strcmp(op, "realpath") && argc == 2) {
    char out[PATH_MAX];
    return realpath(path(argv[1]), out) ? 0 : -1;
  }

  /* Attributes. */
  if (!strcmp(op, "fstat") && argc == 2) return fstat(posixFd(argv[1], lastFd), &st);
  if (!strcmp(op, "fstatat") && argc == 4)
    return fstatat(posixFd(argv[1], lastFd), path(argv[2]), &st, (int)posixNum(argv[3]));
  if (!strcmp(op, "statx") && argc == 5) {
    struct statx sx;
    return statx(posixFd(argv[1], lastFd), path(argv[2]), (int)posixNum(argv[3]), (unsigned)posixNum(argv[4]), &sx);
  }
  if (!strcmp(op, "statxbad") && argc == 2) /* statxbuf NULL */
  {
    struct statx* volatile none = NULL;
    return statx(AT_FDCWD, path(argv[1]), 0, STATX_BASIC_STATS, none);
  }
  if (!strcmp(op, "statbad") && argc == 2) return stat(path(argv[1]), (struct stat*)1);
  if (!strcmp(op, "attr") && argc == 3) return posixStatField(lstat(path(argv[2]), &st), &st, argv[1]);
  if (!strcmp(op, "fattr") && argc == 3) return posixStatField(fstat(posixFd(argv[2], lastFd), &st), &st, argv[1]);
  if (!strcmp(op, "fchmod") && argc == 3) return fchmod(posixFd(argv[1], lastFd), (mode_t)strtol(argv[2], 0, 8));
  if (!strcmp(op, "fchmodat") && argc == 5)
    return fchmodat(posixFd(argv[1], lastFd), path(argv[2]), (mode_t)strtol(argv[3], 0, 8), (int)posixNum(argv[4]));
  if (!strcmp(op, "chown") && argc == 4) return chown(path(argv[1]), (uid_t)posixNum(argv[2]), (gid_t)posixNum(argv[3]));
  if (!strcmp(op, "lchown") && argc == 4)
    return lchown(path(argv[1]), (uid_t)posixNum(argv[2]), (gid_t)posixNum(argv[3]));
  if (!strcmp(op, "fchown") && argc == 4)
    return fchown(posixFd(argv[1], lastFd), (uid_t)posixNum(argv[2]), (gid_t)posixNum(argv[3]));
  if (!strcmp(op, "fchownat") && argc == 6)
    return fchownat(posixFd(argv[1], lastFd), path(argv[2]), (uid_t)posixNum(argv[3]), (gid_t)posixNum(argv[4]),
                    (int)posixNum(argv[5]));
  if (!strcmp(op, "utimensat") && (argc == 4 || argc == 8)) {
    /* utimensat FD path FLAGS [ASEC ANSEC MSEC MNSEC]: without the times, NULL */
    struct timespec ts[2];
    if (argc == 8) {
      ts[0].tv_sec = posixNum(argv[4]);
      ts[0].tv_nsec = posixNum(argv[5]);
      ts[1].tv_sec = posixNum(argv[6]);
      ts[1].tv_nsec = posixNum(argv[7]);
    }
    const char* p = !strcmp(argv[2], "NULL") ? NULL : path(argv[2]);
    return utimensat(posixFd(argv[1], lastFd), p, argc == 8 ? ts : NULL, (int)posixNum(argv[3]));
  }
  if (!strcmp(op, "futimens") && (argc == 2 || argc == 6)) {
    struct timespec ts[2];
    if (argc == 6) {
      ts[0].tv_sec = posixNum(argv[2]);
      ts[0].tv_nsec = posixNum(argv[3]);
      ts[1].tv_sec = posixNum(argv[4]);
      ts[1].tv_nsec = posixNum(argv[5]);
    }
    return futimens(posixFd(argv[1], lastFd), argc == 6 ? ts : NULL);
  }
  if (!strcmp(op, "utimes") && argc == 3) {
    struct timeval tv[2] = {{posixNum(argv[2]), 0}, {posixNum(argv[2]), 0}};
    return utimes(path(argv[1]), tv);
  }
  if (!strcmp(op, "utime") && argc == 3) {
    if (!strcmp(argv[2], "NULL")) return utime(path(argv[1]), NULL);
    struct utimbuf ub = {posixNum(argv[2]), posixNum(argv[2])};
    return utime(path(argv[1]), &ub);
  }

  /* Access and file systems. */
  if (!strcmp(op, "faccessat") && argc == 5)
    return faccessat(posixFd(argv[1], lastFd), path(argv[2]), (int)posixNum(argv[3]), (int)posixNum(argv[4]));
  if (!strcmp(op, "euidaccess") && argc == 3) return euidaccess(path(argv[1]), (int)posixNum(argv[2]));
  if (!strcmp(op, "eaccess") && argc == 3) return eaccess(path(argv[1]), (int)posixNum(argv[2]));
  if (!strcmp(op, "statfs") && argc == 2) {
    struct statfs sf;
    return statfs(path(argv[1]), &sf);
  }
  if (!strcmp(op, "fstatfs") && argc == 2) {
    struct statfs sf;
    return fstatfs(posixFd(argv[1], lastFd), &sf);
  }
  if (!strcmp(op, "statvfs") && argc == 2) {
    struct statvfs sv;
    return statvfs(path(argv[1]), &sv);
  }
  if (!strcmp(op, "fstatvfs") && argc == 2) {
    struct statvfs sv;
    return fstatvfs(posixFd(argv[1], lastFd), &sv);
  }
  if (!strcmp(op, "statvfsname") && argc == 2) { /* f_namemax */
    struct statvfs sv;
    return statvfs(path(argv[1]), &sv) == 0 ? (long)sv.f_namemax : -1;
  }

  /* Data. */
  if (!strcmp(op, "readfd") && argc == 3) return read(posixFd(argv[1], lastFd), buf, (size_t)posixNum(argv[2]));
  if (!strcmp(op, "writefd") && argc == 3) {
    const char* data = !strcmp(argv[2], "EMPTY") ? "" : argv[2];
    return write(posixFd(argv[1], lastFd), data, strlen(data));
  }
  if (!strcmp(op, "readbad") && argc == 3) return read(posixFd(argv[1], lastFd), (void*)1, (size_t)posixNum(argv[2]));
  if (!strcmp(op, "writebad") && argc == 3)
    return write(posixFd(argv[1], lastFd), (const void*)1, (size_t)posixNum(argv[2]));
  if (!strcmp(op, "pread") && argc == 4)
    return pread(posixFd(argv[1], lastFd), buf, (size_t)posixNum(argv[2]), (off_t)posixNum(argv[3]));
  if (!strcmp(op, "pwrite") && argc == 4)
    return pwrite(posixFd(argv[1], lastFd), argv[2], strlen(argv[2]), (off_t)posixNum(argv[3]));
  if ((!strcmp(op, "readv") && argc == 3) || (!strcmp(op, "preadv") && argc == 4) ||
      (!strcmp(op, "preadv2") && argc == 5)) {
    struct iovec iov[8];
    int n = posixIov(argv[argc == 3 ? 2 : 3], iov, 8, buf, sizeof buf);
    int fd = posixFd(argv[1], lastFd);
    if (argc == 3) return readv(fd, iov, n);
    if (argc == 4) return preadv(fd, iov, n, (off_t)posixNum(argv[2]));
    return preadv2(fd, iov, n, (off_t)posixNum(argv[2]), (int)posixNum(argv[4]));
  }
  if ((!strcmp(op, "writev") && argc == 3) || (!strcmp(op, "pwritev") && argc == 4) ||
      (!strcmp(op, "pwritev2") && argc == 5)) {
    struct iovec iov[8];
    int n = posixIovData(argv[argc == 3 ? 2 : 3], iov, 8);
    int fd = posixFd(argv[1], lastFd);
    if (argc == 3) return writev(fd, iov, n);
    if (argc == 4) return pwritev(fd, iov, n, (off_t)posixNum(argv[2]));
    return pwritev2(fd, iov, n, (off_t)posixNum(argv[2]), (int)posixNum(argv[4]));
  }
  if (!strcmp(op, "readvcnt") && argc == 3) { /* readvcnt FD IOVCNT: 1-byte iovecs */
    static struct iovec iov[2048];
    for (int i = 0; i < 2048; ++i) iov[i] = (struct iovec){buf + i, 1};
    return readv(posixFd(argv[1], lastFd), iov, (int)posixNum(argv[2]));
  }
  if (!strcmp(op, "writevcnt") && argc == 3) {
    static struct iovec iov[2048];
    for (int i = 0; i < 2048; ++i) iov[i] = (struct iovec){(void*)"w", 1};
    return writev(posixFd(argv[1], lastFd), iov, (int)posixNum(argv[2]));
  }
  if (!strcmp(op, "lseekfd") && argc == 4)
    return lseek(posixFd(argv[1], lastFd), (off_t)posixNum(argv[2]), (int)posixNum(argv[3]));

  /* Size, sync, advice. */
  if (!strcmp(op, "ftruncatefd") && argc == 3) return ftruncate(posixFd(argv[1], lastFd), (off_t)posixNum(argv[2]));
  if (!strcmp(op, "fallocate") && argc == 5)
    return fallocate(posixFd(argv[1], lastFd), (int)posixNum(argv[2]), (off_t)posixNum(argv[3]),
                     (off_t)posixNum(argv[4]));
  if (!strcmp(op, "posix_fallocate") && argc == 4)
    return posixErrnoResult(
        posix_fallocate(posixFd(argv[1], lastFd), (off_t)posixNum(argv[2]), (off_t)posixNum(argv[3])));
  if (!strcmp(op, "posix_fadvise") && argc == 5)
    return posixErrnoResult(posix_fadvise(posixFd(argv[1], lastFd), (off_t)posixNum(argv[2]),
                                          (off_t)posixNum(argv[3]), (int)posixNum(argv[4])));
  if (!strcmp(op, "fsyncfd") && argc == 2) return fsync(posixFd(argv[1], lastFd));
  if (!strcmp(op, "fdatasync") && argc == 2) return fdatasync(posixFd(argv[1], lastFd));
  if (!strcmp(op, "syncfs") && argc == 2) return syncfs(posixFd(argv[1], lastFd));
  if (!strcmp(op, "sync") && argc == 1) {
    sync();
    return 0;
  }
  if (!strcmp(op, "sync_file_range") && argc == 5)
    return sync_file_range(posixFd(argv[1], lastFd), (off_t)posixNum(argv[2]), (off_t)posixNum(argv[3]),
                           (unsigned)posixNum(argv[4]));

  /* Descriptors. */
  if (!strcmp(op, "closefd") && argc == 2) return close(posixFd(argv[1], lastFd));
  if (!strcmp(op, "dup") && argc == 2) return posixFdResult(dup(posixFd(argv[1], lastFd)), lastFd);
  if (!strcmp(op, "dup2") && argc == 3) {
    long rc = dup2(posixFd(argv[1], lastFd), (int)posixNum(argv[2]));
    posixTrack((int)rc);
    return rc;
  }
  if (!strcmp(op, "dup3") && argc == 4) {
    long rc = dup3(posixFd(argv[1], lastFd), (int)posixNum(argv[2]), (int)posixNum(argv[3]));
    posixTrack((int)rc);
    return rc;
  }
  if (!strcmp(op, "fcntl") && (argc == 3 || argc == 4)) {
    int cmd = (int)posixNum(argv[2]);
    long arg = argc == 4 ? posixNum(argv[3]) : 0;
    long rc = fcntl(posixFd(argv[1], lastFd), cmd, arg);
    if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && rc >= 0) {
      posixFdResult((int)rc, lastFd);
      return rc >= arg ? 0 : -100; /* the lowest free fd >= arg: numbers differ, report the rule */
    }
    return rc;
  }
  if (!strcmp(op, "fcntllock") && argc == 3) { /* fcntllock FD F_RDLCK|F_WRLCK via F_SETLK */
    struct flock fl = {0};
    fl.l_type = !strcmp(argv[2], "F_RDLCK") ? F_RDLCK : !strcmp(argv[2], "F_WRLCK") ? F_WRLCK : F_UNLCK;
    fl.l_whence = SEEK_SET;
    return fcntl(posixFd(argv[1], lastFd), F_SETLK, &fl);
  }
  if (!strcmp(op, "close_range") && argc == 4)
    return close_range((unsigned)posixNum(argv[1]), (unsigned)posixNum(argv[2]), (int)posixNum(argv[3]));
  if (!strcmp(op, "isopen") && argc == 2) return fcntl(posixFd(argv[1], lastFd), F_GETFD) >= 0 ? 1 : 0;

  /* Directories and the cwd. */
  if (!strcmp(op, "dopen") && argc == 3) {
    DIR* d = opendir(path(argv[2]));
    posixDir[argv[1][0] - 'A'] = d;
    return d ? 0 : -1;
  }
  if (!strcmp(op, "fdopendir") && argc == 3) {
    DIR* d = fdopendir(posixFd(argv[2], lastFd));
    posixDir[argv[1][0] - 'A'] = d;
    return d ? 0 : -1;
  }
  if (!strcmp(op, "readdirall") && argc == 2) return posixCountDir(posixDirOf(argv[1]));
  if (!strcmp(op, "readdirone") && argc == 2) {
    errno = 0;
    return readdir(posixDirOf(argv[1])) ? 1 : (errno ? -1 : 0);
  }
  if (!strcmp(op, "telldir") && argc == 2) return telldir(posixDirOf(argv[1])) >= 0 ? 0 : -1;
  if (!strcmp(op, "seekcheck") && argc == 2) { /* seekdir(telldir()) reads the same entry again */
    DIR* d = posixDirOf(argv[1]);
    long t = telldir(d);
    struct dirent* e = readdir(d);
    if (!e) return -1;
    char first[256];
    snprintf(first, sizeof first, "%s", e->d_name);
    seekdir(d, t);
    e = readdir(d);
    return e && !strcmp(first, e->d_name) ? 1 : 0;
  }
  if (!strcmp(op, "rewindcount") && argc == 2) {
    rewinddir(posixDirOf(argv[1]));
    return posixCountDir(posixDirOf(argv[1]));
  }
  if (!strcmp(op, "dirfd") && argc == 2) return posixFdResult(dirfd(posixDirOf(argv[1])), lastFd);
  if (!strcmp(op, "closedir") && argc == 2) {
    int rc = closedir(posixDirOf(argv[1]));
    posixDir[argv[1][0] - 'A'] = NULL;
    return rc;
  }
  if (!strcmp(op, "scandir") && argc == 2) {
    struct dirent** list = NULL;
    int n = scandir(path(argv[1]), &list, NULL, alphasort);
    for (int i = 0; i < n; ++i) free(list[i]);
    free(list);
    return n;
  }
  if (!strcmp(op, "getdents") && argc == 3) {
    ssize_t n = getdents64(posixFd(argv[1], lastFd), buf, (size_t)posixNum(argv[2]));
    return n > 0 ? 1 : n;
  }
  if (!strcmp(op, "getcwd") && argc == 2) {
    if (!strcmp(argv[1], "NULL")) {
      char* p = getcwd(NULL, 0);
      free(p);
      return p ? 0 : -1;
    }
    return getcwd(buf, (size_t)posixNum(argv[1])) ? 0 : -1;
  }
  if (!strcmp(op, "cwdis") && argc == 2) { /* 1 when getcwd() is path */
    char want[PATH_MAX];
    if (!realpath(path(argv[1]), want)) return -1;
    if (!getcwd(buf, sizeof buf)) return -1;
    return !strcmp(buf, want) ? 1 : 0;
  }
  if (!strcmp(op, "fchdir") && argc == 2) return fchdir(posixFd(argv[1], lastFd));

  /* Copies. */
  if (!strcmp(op, "sendfile") && argc == 5) {
    off_t off, *po = NULL;
    if (strcmp(argv[3], "NULL")) {
      off = (off_t)posixNum(argv[3]);
      po = &off;
    }
    return sendfile(posixFd(argv[1], lastFd), posixFd(argv[2], lastFd), po, (size_t)posixNum(argv[4]));
  }
  if (!strcmp(op, "copy_file_range") && argc == 7)
    return copy_file_range(posixFd(argv[1], lastFd), posixOff(argv[2], &o1), posixFd(argv[3], lastFd),
                           posixOff(argv[4], &o2), (size_t)posixNum(argv[5]), (unsigned)posixNum(argv[6]));
  if (!strcmp(op, "splice") && argc == 7)
    return splice(posixFd(argv[1], lastFd), posixOff(argv[2], &o1), posixFd(argv[3], lastFd), posixOff(argv[4], &o2),
                  (size_t)posixNum(argv[5]), (unsigned)posixNum(argv[6]));
  if (!strcmp(op, "flock") && argc == 3) return flock(posixFd(argv[1], lastFd), (int)posixNum(argv[2]));
  return -2;
}

#endif
