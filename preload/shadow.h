// Shadow files: a myfs file that becomes a standard stream (fd 0, 1 or 2: the shell's
// `cmd > /myfs/f`, `cmd < /myfs/f`, `2>&1`) is mirrored into a memfd, a real kernel
// file. stdio's internal writes, exec'd children and forked processes then all reach
// it through the kernel, with the offset shared as POSIX requires.
//
// A writable shadow is written back to its myfs file whenever a process holding it
// closes or replaces that fd, fsyncs it, or exits; each write-back copies the whole
// content, so the last one wins and is complete. The memfd's name ("myfs:w:<path>")
// lets an exec'd program adopt the shadows it inherits (MYFS_SHADOWS is set for it).
#pragma once

#include <string>

namespace myfs::preload {

// Makes `target` (0..2, or the fd of a stream freopen()ed onto a myfs file) a shadow of
// myfs fd `myfsFd` (content and offset copied).
// Returns target, or -1 with errno set.
int installShadow(int myfsFd, int target);
bool isShadow(int fd);
// Writes a writable shadow back; `forget` drops it from this process's records
// (the fd is being closed or replaced). Returns 0, or -1 with errno set.
int syncShadow(int fd, bool forget);
// The mount-relative path of shadow fd's myfs file (metadata calls on a shadow fd act on
// the file: futimens, fchmod, fchown, fstat).
bool shadowPath(int fd, std::string* rel);
// After the kernel duplicated shadow `from` into `to`.
void copyShadow(int from, int to);
// Process exit, exec: writes every writable shadow back and hands each shadow's offset
// to the myfs fd it was made from.
void syncAllShadows();
// Start-up: registers inherited shadows when MYFS_SHADOWS is set.
void adoptInheritedShadows();
// Whether any shadow was made or adopted by this process.
bool anyShadows();

}  // namespace myfs::preload
