/* stdio_tour: what an ordinary C program does with files, run on a myfs directory.
 *
 *   myfs run -- build/bin/stdio_tour /myfs/tour
 *
 * Creates a directory, writes a file with fprintf, appends with fputs, reads it back
 * with fgets, lists the directory with readdir, renames, stats and removes. Prints each
 * step; exits non-zero at the first failure, naming it. Doubles as a smoke test. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fail(const char* what) {
  fprintf(stderr, "stdio_tour: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : "/myfs/tour";
  char path[4096], moved[4096], line[256];
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) fail("mkdir");
  snprintf(path, sizeof path, "%s/greeting.txt", dir);
  snprintf(moved, sizeof moved, "%s/renamed.txt", dir);

  FILE* f = fopen(path, "w");
  if (!f) fail("fopen w");
  for (int i = 1; i <= 3; ++i) fprintf(f, "line %d of the tour\n", i);
  if (fclose(f) != 0) fail("fclose w");
  f = fopen(path, "a");
  if (!f) fail("fopen a");
  fputs("appended line\n", f);
  if (fclose(f) != 0) fail("fclose a");

  f = fopen(path, "r");
  if (!f) fail("fopen r");
  int lines = 0;
  while (fgets(line, sizeof line, f)) {
    printf("read: %s", line);
    ++lines;
  }
  fclose(f);
  if (lines != 4) {
    fprintf(stderr, "stdio_tour: expected 4 lines, read %d\n", lines);
    return 1;
  }

  if (rename(path, moved) != 0) fail("rename");
  DIR* d = opendir(dir);
  if (!d) fail("opendir");
  struct dirent* e;
  while ((e = readdir(d))) {
    if (e->d_name[0] != '.') printf("entry: %s\n", e->d_name);
  }
  closedir(d);
  struct stat st;
  if (stat(moved, &st) != 0) fail("stat");
  printf("size: %lld bytes\n", (long long)st.st_size);
  if (unlink(moved) != 0) fail("unlink");
  if (rmdir(dir) != 0) fail("rmdir");
  printf("done\n");
  return 0;
}
