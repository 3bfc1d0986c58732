/* errno_probe: runs file-system calls given on the command line, one line each:
 *   "<op> <return value> <errno name or OK>"
 * so that the same sequence can be compared between a native directory and myfs.
 *
 *   errno_probe ROOT 'mkdir d 0755' 'open d/f O_CREAT|O_EXCL|O_WRONLY 0644' ...
 * Paths are relative to ROOT. "asuser UID" switches the effective uid and gid (as root).
 * xattr ops: a name "EMPTY" is "", "user.#N" is "user." padded with 'n' to N bytes; a
 * value "@N" is N bytes of 'v'; flags are 0, XATTR_CREATE or XATTR_REPLACE (or a number).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tests/posix/probe_ops.h" /* the ops of tests/posix */

static char root[4096];
static int lastFd = -1;

static const char* path(const char* rel) {
  static char buf[2][8192];
  static int which = 0;
  which ^= 1;
  const char* special = posixPath(rel, buf[which], sizeof buf[which], root);
  if (special != NULL) return special;
  if (rel[0] == '/') return rel;
  snprintf(buf[which], sizeof buf[which], "%s/%s", root, rel);
  return buf[which];
}

static int flagsOf(const char* s) {
  int f = 0;
  long named = 0;
  char copy[256];
  snprintf(copy, sizeof copy, "%s", s);
  for (char* t = strtok(copy, "|"); t; t = strtok(NULL, "|")) {
    if (!strcmp(t, "O_RDONLY")) f |= O_RDONLY;
    else if (!strcmp(t, "O_WRONLY")) f |= O_WRONLY;
    else if (!strcmp(t, "O_RDWR")) f |= O_RDWR;
    else if (!strcmp(t, "O_CREAT")) f |= O_CREAT;
    else if (!strcmp(t, "O_EXCL")) f |= O_EXCL;
    else if (!strcmp(t, "O_TRUNC")) f |= O_TRUNC;
    else if (!strcmp(t, "O_APPEND")) f |= O_APPEND;
    else if (!strcmp(t, "O_DIRECTORY")) f |= O_DIRECTORY;
    else if (!strcmp(t, "O_NOFOLLOW")) f |= O_NOFOLLOW;
    else if (!strcmp(t, "O_PATH")) f |= O_PATH;
    else if (posixConst(t, &named)) f |= (int)named;
    else {
      fprintf(stderr, "unknown flag %s\n", t);
      exit(2);
    }
  }
  return f;
}

/* An xattr name argument (see the header comment). */
static const char* xname(const char* arg) {
  static char buf[2][1024];
  static int which = 0;
  which ^= 1;
  if (!strcmp(arg, "EMPTY")) return "";
  if (!strncmp(arg, "user.#", 6)) {
    int n = atoi(arg + 6);
    if (n < 5 || n >= (int)sizeof buf[which]) exit(2);
    memcpy(buf[which], "user.", 5);
    memset(buf[which] + 5, 'n', (size_t)(n - 5));
    buf[which][n] = 0;
    return buf[which];
  }
  return arg;
}

/* An xattr value argument; *len receives its length. */
static const char* xvalue(const char* arg, size_t* len) {
  static char big[70000];
  if (arg[0] == '@') {
    *len = (size_t)atol(arg + 1);
    if (*len > sizeof big) exit(2);
    memset(big, 'v', *len);
    return big;
  }
  *len = strlen(arg);
  return arg;
}

static int xflags(const char* arg) {
  if (!strcmp(arg, "XATTR_CREATE")) return XATTR_CREATE;
  if (!strcmp(arg, "XATTR_REPLACE")) return XATTR_REPLACE;
  return atoi(arg);
}

/* The xattr calls: returns -2 when `op` is not one of them. */
static long runXattr(char* argv[], int argc) {
  static char buf[70000];
  const char* op = argv[0];
  size_t len = 0;
  if (!strcmp(op, "setxattr") && argc == 5) {
    const char* v = xvalue(argv[3], &len);
    return setxattr(path(argv[1]), xname(argv[2]), v, len, xflags(argv[4]));
  }
  if (!strcmp(op, "lsetxattr") && argc == 5) {
    const char* v = xvalue(argv[3], &len);
    return lsetxattr(path(argv[1]), xname(argv[2]), v, len, xflags(argv[4]));
  }
  if (!strcmp(op, "fsetxattr") && argc == 4) {
    const char* v = xvalue(argv[2], &len);
    return fsetxattr(lastFd, xname(argv[1]), v, len, xflags(argv[3]));
  }
  if (!strcmp(op, "getxattr") && argc == 4) return getxattr(path(argv[1]), xname(argv[2]), buf, (size_t)atol(argv[3]));
  if (!strcmp(op, "lgetxattr") && argc == 4) return lgetxattr(path(argv[1]), xname(argv[2]), buf, (size_t)atol(argv[3]));
  if (!strcmp(op, "fgetxattr") && argc == 3) return fgetxattr(lastFd, xname(argv[1]), buf, (size_t)atol(argv[2]));
  if (!strcmp(op, "listxattr") && argc == 3) return listxattr(path(argv[1]), buf, (size_t)atol(argv[2]));
  if (!strcmp(op, "llistxattr") && argc == 3) return llistxattr(path(argv[1]), buf, (size_t)atol(argv[2]));
  if (!strcmp(op, "flistxattr") && argc == 2) return flistxattr(lastFd, buf, (size_t)atol(argv[1]));
  if (!strcmp(op, "removexattr") && argc == 3) return removexattr(path(argv[1]), xname(argv[2]));
  if (!strcmp(op, "lremovexattr") && argc == 3) return lremovexattr(path(argv[1]), xname(argv[2]));
  if (!strcmp(op, "fremovexattr") && argc == 2) return fremovexattr(lastFd, xname(argv[1]));
  return -2;
}

static long run(char* argv[], int argc) {
  const char* op = argv[0];
  if (!strcmp(op, "mkdir") && argc == 3) return mkdir(path(argv[1]), (mode_t)strtol(argv[2], 0, 8));
  if (!strcmp(op, "rmdir") && argc == 2) return rmdir(path(argv[1]));
  if (!strcmp(op, "unlink") && argc == 2) return unlink(path(argv[1]));
  if (!strcmp(op, "rename") && argc == 3) return rename(path(argv[1]), path(argv[2]));
  if (!strcmp(op, "link") && argc == 3) return link(path(argv[1]), path(argv[2]));
  if (!strcmp(op, "symlink") && argc == 3) return symlink(argv[1], path(argv[2]));
  if (!strcmp(op, "chdir") && argc == 2) return chdir(path(argv[1]));
  if (!strcmp(op, "truncate") && argc == 3) return truncate(path(argv[1]), atol(argv[2]));
  if (!strcmp(op, "chmod") && argc == 3) return chmod(path(argv[1]), (mode_t)strtol(argv[2], 0, 8));
  if (!strcmp(op, "access") && argc == 3) return access(path(argv[1]), atoi(argv[2]));
  if (!strcmp(op, "stat") && argc == 2) {
    struct stat st;
    return stat(path(argv[1]), &st);
  }
  if (!strcmp(op, "lstat") && argc == 2) {
    struct stat st;
    return lstat(path(argv[1]), &st);
  }
  if (!strcmp(op, "readlink") && argc == 2) {
    char buf[4096];
    return readlink(path(argv[1]), buf, sizeof buf);
  }
  if (!strcmp(op, "open") && argc >= 3) {
    int fd = open(path(argv[1]), flagsOf(argv[2]), argc > 3 ? (mode_t)strtol(argv[3], 0, 8) : 0);
    if (fd >= 0) lastFd = fd;
    return fd >= 0 ? 0 : -1; /* fd numbers differ between runs; report success only */
  }
  if (!strcmp(op, "opendir") && argc == 2) {
    DIR* d = opendir(path(argv[1]));
    if (d) closedir(d);
    return d ? 0 : -1;
  }
  if (!strcmp(op, "write") && argc == 2) return write(lastFd, argv[1], strlen(argv[1]));
  if (!strcmp(op, "read") && argc == 2) {
    char buf[65536];
    return read(lastFd, buf, (size_t)atol(argv[1]));
  }
  if (!strcmp(op, "lseek") && argc == 3) return lseek(lastFd, atol(argv[1]), atoi(argv[2]));
  if (!strcmp(op, "ftruncate") && argc == 2) return ftruncate(lastFd, atol(argv[1]));
  if (!strcmp(op, "fsync") && argc == 1) return fsync(lastFd);
  if (!strcmp(op, "close") && argc == 1) return close(lastFd);
  if (!strcmp(op, "closebad") && argc == 1) return close(1000);
  if (!strcmp(op, "asuser") && argc == 2) {
    uid_t id = (uid_t)atoi(argv[1]);
    if (setegid(id) != 0) return -1;
    return seteuid(id);
  }
  if (strstr(op, "xattr") != NULL) {
    long rc = runXattr(argv, argc);
    if (rc != -2) return rc;
  }
  {
    long rc = runPosix(argv, argc, path, &lastFd, root, sizeof root);
    if (rc != -2) return rc;
  }
  fprintf(stderr, "bad op: %s\n", op);
  exit(2);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: errno_probe ROOT 'op args' ...\n");
    return 2;
  }
  snprintf(root, sizeof root, "%s", argv[1]);
  for (int i = 2; i < argc; ++i) {
    char line[8192];
    snprintf(line, sizeof line, "%s", argv[i]);
    char* words[8];
    int n = 0;
    for (char* t = strtok(line, " "); t && n < 8; t = strtok(NULL, " ")) words[n++] = t;
    if (n == 0) continue;
    errno = 0;
    long rc = run(words, n);
    printf("%s -> %ld %s\n", argv[i], rc, rc < 0 ? strerrorname_np(errno) : "OK");
  }
  return 0;
}
