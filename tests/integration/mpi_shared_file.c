// N MPI ranks write disjoint, interleaved blocks of one shared file, then rank 0 opens it
// afresh and checks every byte. Block b of rank r is block b*N+r of the file, so with a
// block size that is not a multiple of the chunk size several ranks write parts of the
// same chunk at once.
//
//   mpi_shared_file pwrite|mpiio PATH BLOCK_BYTES BLOCKS_PER_RANK
//
// pwrite: every rank open()s the file (O_CREAT) and pwrite()s its blocks.
// mpiio:  MPI_File_open on MPI_COMM_WORLD and MPI_File_write_at.
// Prints one line from rank 0 and exits 0 when every byte is right.
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned char pattern(long block, long i) { return (unsigned char)((block * 131 + i * 7 + 1) % 251); }

static void fill(unsigned char* buf, long bs, long block) {
  for (long i = 0; i < bs; ++i) buf[i] = pattern(block, i);
}

static int writeWithPwrite(const char* path, int rank, int size, long bs, long blocks, unsigned char* buf) {
  int fd = open(path, O_WRONLY | O_CREAT, 0644);
  if (fd < 0) {
    fprintf(stderr, "rank %d: open %s: %s\n", rank, path, strerror(errno));
    return 1;
  }
  int failed = 0;
  for (long b = 0; !failed && b < blocks; ++b) {
    long block = b * size + rank;
    fill(buf, bs, block);
    ssize_t n = pwrite(fd, buf, bs, (off_t)block * bs);
    if (n != bs) {
      fprintf(stderr, "rank %d: pwrite block %ld: %zd (%s)\n", rank, block, n, strerror(errno));
      failed = 1;
    }
  }
  if (close(fd) != 0) {
    fprintf(stderr, "rank %d: close: %s\n", rank, strerror(errno));
    failed = 1;
  }
  return failed;
}

static void mpiError(int rank, const char* what, int rc) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  fprintf(stderr, "rank %d: %s: %s\n", rank, what, msg);
}

static int writeWithMpiIo(const char* path, int rank, int size, long bs, long blocks, unsigned char* buf) {
  MPI_File fh;
  int rc = MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh);
  if (rc != MPI_SUCCESS) {
    mpiError(rank, "MPI_File_open", rc);
    return 1;
  }
  int failed = 0;
  for (long b = 0; !failed && b < blocks; ++b) {
    long block = b * size + rank;
    fill(buf, bs, block);
    MPI_Status st;
    rc = MPI_File_write_at(fh, (MPI_Offset)block * bs, buf, (int)bs, MPI_BYTE, &st);
    int count = 0;
    if (rc == MPI_SUCCESS) MPI_Get_count(&st, MPI_BYTE, &count);
    if (rc != MPI_SUCCESS || count != bs) {
      if (rc != MPI_SUCCESS) mpiError(rank, "MPI_File_write_at", rc);
      else fprintf(stderr, "rank %d: MPI_File_write_at block %ld wrote %d bytes\n", rank, block, count);
      failed = 1;
    }
  }
  rc = MPI_File_close(&fh);  // collective: every rank calls it
  if (rc != MPI_SUCCESS) {
    mpiError(rank, "MPI_File_close", rc);
    failed = 1;
  }
  return failed;
}

// Rank 0, after every writer has closed: the file is exactly the blocks in order.
static int verify(const char* mode, const char* path, int size, long bs, long blocks, unsigned char* buf) {
  long total = blocks * size, bad = 0;
  struct stat st;
  int fd = open(path, O_RDONLY);
  if (fd < 0 || fstat(fd, &st) != 0) {
    fprintf(stderr, "rank 0: reopen %s: %s\n", path, strerror(errno));
    return 1;
  }
  for (long block = 0; block < total; ++block) {
    ssize_t n = pread(fd, buf, bs, (off_t)block * bs);
    long wrong = n == bs ? 0 : bs;
    for (long i = 0; n == bs && i < bs; ++i) wrong += buf[i] != pattern(block, i);
    if (wrong != 0 && bad++ < 5) {
      fprintf(stderr, "block %ld (rank %ld): %ld bytes wrong\n", block, block % size, wrong);
    }
  }
  close(fd);
  printf("%s: %d ranks, size %lld, %ld of %ld blocks wrong\n", mode, size, (long long)st.st_size, bad, total);
  fflush(stdout);
  return bad != 0 || st.st_size != (off_t)(total * bs);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc != 5 || (strcmp(argv[1], "pwrite") != 0 && strcmp(argv[1], "mpiio") != 0) || atol(argv[3]) <= 0) {
    if (rank == 0) fprintf(stderr, "usage: %s pwrite|mpiio PATH BLOCK_BYTES BLOCKS_PER_RANK\n", argv[0]);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  const char* mode = argv[1];
  const char* path = argv[2];
  long bs = atol(argv[3]), blocks = atol(argv[4]);
  unsigned char* buf = malloc(bs);

  int failed = strcmp(mode, "pwrite") == 0 ? writeWithPwrite(path, rank, size, bs, blocks, buf)
                                           : writeWithMpiIo(path, rank, size, bs, blocks, buf);
  int anyFailed = 0;
  MPI_Allreduce(&failed, &anyFailed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0 && !anyFailed) anyFailed = verify(mode, path, size, bs, blocks, buf);
  MPI_Bcast(&anyFailed, 1, MPI_INT, 0, MPI_COMM_WORLD);
  free(buf);
  MPI_Finalize();
  return anyFailed ? 1 : 0;
}
