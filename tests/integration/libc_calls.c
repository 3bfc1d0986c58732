/* libc_calls: libc functions that do their own file-system work inside glibc (glob,
 * nftw, ftw, freopen) and the less common data calls (splice, preadv2, pwritev2), run
 * on the directory given; prints what it saw, sorted where the order is the file
 * system's, so that a native directory and /myfs print the same. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static char lines[256][512];
static int nlines;
static size_t rootLen;

static int cmp(const void* a, const void* b) { return strcmp(a, b); }

static void flushSorted(const char* title) {
  qsort(lines, nlines, sizeof lines[0], cmp);
  printf("%s:\n", title);
  for (int i = 0; i < nlines; ++i) printf("  %s\n", lines[i]);
  nlines = 0;
}

static int onEntry(const char* path, const struct stat* st, int type, struct FTW* ftw) {
  static const char* names[] = {[FTW_F] = "F", [FTW_D] = "D", [FTW_DNR] = "DNR", [FTW_NS] = "NS",
                                [FTW_SL] = "SL", [FTW_DP] = "DP", [FTW_SLN] = "SLN"};
  snprintf(lines[nlines++], sizeof lines[0], "%s %s level=%d base=%s size=%lld", names[type],
           path + rootLen, ftw->level, path + ftw->base, type == FTW_F ? (long long)st->st_size : -1LL);
  return strcmp(path + ftw->base, "stop") == 0 ? 7 : 0;
}

static int onFtw(const char* path, const struct stat* st, int type) {
  (void)st;
  snprintf(lines[nlines++], sizeof lines[0], "%d %s", type, path + rootLen);
  return 0;
}

static void put(const char* root, const char* rel, const char* text) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0 || write(fd, text, strlen(text)) < 0) perror(p);
  close(fd);
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const char* root = argv[1];
  rootLen = strlen(root);
  char p[4096], q[4096];
  snprintf(p, sizeof p, "%s/d", root);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/d/sub", root);
  mkdir(p, 0755);
  put(root, "d/a.c", "int a;\n");
  put(root, "d/b.c", "int b;\n");
  put(root, "d/notes.txt", "notes\n");
  put(root, "d/sub/c.c", "int c;\n");
  snprintf(p, sizeof p, "%s/e", root);
  mkdir(p, 0755);
  put(root, "e/e.c", "int e;\n");
  snprintf(p, sizeof p, "%s/d/link", root);
  symlink("../e", p);
  snprintf(p, sizeof p, "%s/d/dangling", root);
  symlink("nowhere", p);

  glob_t g;
  snprintf(p, sizeof p, "%s/d/*.c", root);
  int rc = glob(p, 0, NULL, &g);
  snprintf(q, sizeof q, "%s/d/*/*.c", root);
  if (rc == 0) rc = glob(q, GLOB_APPEND, NULL, &g);
  printf("glob rc=%d count=%zu\n", rc, g.gl_pathc);
  for (size_t i = 0; i < g.gl_pathc; ++i) printf("  %s\n", g.gl_pathv[i] + rootLen);
  globfree(&g);
  snprintf(p, sizeof p, "%s/d/*.none", root);
  printf("glob no match rc=%d (GLOB_NOMATCH=%d)\n", glob(p, 0, NULL, &g), GLOB_NOMATCH);
  snprintf(p, sizeof p, "%s/d/*", root);
  rc = glob(p, GLOB_MARK | GLOB_ONLYDIR, NULL, &g);
  printf("glob dirs rc=%d:", rc);
  for (size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) printf(" %s", g.gl_pathv[i] + rootLen);
  printf("\n");
  if (rc == 0) globfree(&g);

  snprintf(p, sizeof p, "%s/d", root);
  printf("nftw phys rc=%d\n", nftw(p, onEntry, 8, FTW_PHYS));
  flushSorted("  entries");
  printf("nftw depth rc=%d\n", nftw(p, onEntry, 8, FTW_DEPTH));
  flushSorted("  entries");
  printf("ftw rc=%d\n", ftw(p, onFtw, 8));
  flushSorted("  entries");
  put(root, "d/sub/stop", "");
  printf("nftw stopped rc=%d\n", nftw(p, onEntry, 8, FTW_PHYS));
  nlines = 0;
  snprintf(q, sizeof q, "%s/missing", root);
  printf("nftw missing rc=%d\n", nftw(q, onEntry, 8, 0));

  /* splice: pipe -> file -> pipe */
  int pipefd[2];
  if (pipe(pipefd) != 0) return 1;
  snprintf(p, sizeof p, "%s/spliced", root);
  int fd = open(p, O_CREAT | O_RDWR | O_TRUNC, 0644);
  write(pipefd[1], "through a pipe\n", 15);
  printf("splice in=%zd\n", splice(pipefd[0], NULL, fd, NULL, 15, 0));
  loff_t off = 8;
  printf("splice out=%zd\n", splice(fd, &off, pipefd[1], NULL, 100, 0));
  char buf[64] = {0};
  ssize_t n = read(pipefd[0], buf, sizeof buf - 1);
  printf("pipe got %zd: %s", n, buf);
  printf("splice file to file rc=%zd\n", splice(fd, NULL, fd, NULL, 4, 0));

  /* preadv2/pwritev2 */
  struct iovec iov = {(void*)"APPENDED\n", 9};
  printf("pwritev2 append=%zd\n", pwritev2(fd, &iov, 1, 0, RWF_APPEND));
  char rb[64] = {0};
  struct iovec riov = {rb, sizeof rb - 1};
  printf("preadv2=%zd: %s", preadv2(fd, &riov, 1, 0, 0), rb);
  close(fd);

  /* freopen: a non-standard stream, then stdout itself */
  snprintf(p, sizeof p, "%s/reopened", root);
  FILE* f = fopen("/dev/null", "w");
  f = freopen(p, "w", f);
  fprintf(f, "written through a reopened stream\n");
  printf("fclose reopened=%d\n", fclose(f));
  snprintf(p, sizeof p, "%s/stdout.txt", root);
  fflush(stdout);
  if (freopen(p, "a", stdout) == NULL) perror("freopen");
  printf("stdout now goes to the file\n");
  return 0;
}
