// Shared mappings (MAP_SHARED) of myfs files, and what keeps them coherent with the fd
// calls of this process.
//
// Every MAP_SHARED mapping of one inode in a process maps the same kernel memfd (the
// inode's "page memfd", offset = file offset), so two mappings of one file, and the
// mappings a fork()ed child inherits, share their pages as the kernel's page cache
// would. A page is filled from the file the first time a mapping covers it. A second
// memfd holds each page as this process last read or wrote it ("clean"); a write-back
// compares the two page by page and writes only the pages that differ, through the
// entry's own myfs fd (so closing the application's fd keeps the mapping working).
//
// What is guaranteed, in the process that made the mapping and its fork()ed children:
// - Stores reach the file (the data servers) on msync(MS_SYNC or MS_ASYNC) of any part
//   of a mapping of the inode, on munmap, on fsync/fdatasync/syncfs/sync, on exit() and
//   _exit(), and when a MAP_FIXED mapping replaces one. close() of the fd does not end a
//   mapping and does not write it back.
// - read()/pread()/readv() of a myfs fd of the inode see the mapping's stores at once;
//   write()/pwrite()/writev(), ftruncate() and fallocate() on a myfs fd are seen by the
//   mappings at once (the memfd follows the file's size: pages past the end fault with
//   SIGBUS, as on Linux). A MAP_PRIVATE mapping made while the inode is mapped shared
//   starts from the shared pages.
// - A child's stores are seen by the parent at once (same pages); a page written back by
//   one of them is not written again by the other.
// Not guaranteed: stores of other processes that are not fork()ed from the mapper (they
// have their own memfd; each sees the other's data once written back and the file is
// mapped again after every mapping of it ended), and stores made since the last
// write-back when the process calls exec (msync first). truncate(path) is not followed
// by live mappings (use ftruncate on an fd).
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace myfs::preload {

// Whether a myfs inode has a page memfd in this process (cheap; no lock).
bool sharedMapsExist();

// mmap of myfs fd `fd` with MAP_SHARED, or MAP_PRIVATE when the inode has a page memfd
// already (`*handled` = false and nothing done otherwise). Arguments are validated.
void* mapThroughMemfd(void* addr, size_t len, int prot, int flags, int fd, off_t off, bool* handled);

// After the kernel put a new mapping at [addr, addr+len) with MAP_FIXED: what was a myfs
// shared mapping there is written back and forgotten.
void sharedMapsReplaced(void* addr, size_t len);

// After a read (`off` < 0: at the fd's offset, which has moved past it) of `n` bytes into
// buf: the mapping's stores replace what the file gave.
void sharedMapsAfterRead(int fd, void* buf, size_t n, off_t off);
// After a write of `n` bytes from buf (`off` < 0: at the fd's offset, which has moved
// past it; `positioned` pwrite on an O_APPEND fd appended): the mappings see it.
void sharedMapsAfterWrite(int fd, const void* buf, size_t n, off_t off);
// After ftruncate/fallocate changed the file's size to `size` (< 0: ask the Vfs).
void sharedMapsAfterResize(int fd, off_t size);
// Writes back the stores in the mappings of fd's inode (fsync). 0 or an errno.
int sharedMapsSyncFd(int fd);
// Writes back every mapping's stores (exit, sync): 0 or the first errno.
int writeBackSharedMaps();

}  // namespace myfs::preload
