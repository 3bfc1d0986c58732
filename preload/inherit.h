// Open myfs files handed to other processes: after fork() parent and child share each
// description's file offset, and fds without close-on-exec survive exec.
//
// A myfs fd is normally backed by a /dev/null placeholder that only reserves its number.
// Before a fork or an exec the shim turns every description's placeholder into a memfd
// named "myfs-fd:<ino>:<flags>" whose content is the file's mount-relative path, and
// moves the description's offset into that memfd's kernel file offset
// (Vfs::shareOffset). The kernel then shares the offset between the processes as it
// does for any file, and an exec'd program finds its inherited myfs files by name
// (MYFS_FDS is set for it) and adopts them lazily, on first use.
#pragma once

#include <shared_mutex>
#include <string>

namespace myfs {
class Vfs;
}

namespace myfs::preload {

// Before fork: writes dirty data back (the child must not write the parent's pages
// again) and shares every description. Runs in the parent.
void prepareFork();
// Before exec or posix_spawn: writes dirty data back and shares the descriptions of fds
// without close-on-exec. True if the new program inherits any (MYFS_FDS must be set).
bool prepareExec();

// Held (shared) while a myfs fd is being closed, from the Vfs's close to the kernel's:
// the fork and exec preparation holds it exclusively, so that no fd it shares is closed
// halfway (its number could be reused meanwhile).
std::shared_lock<std::shared_mutex> closingDescription();
// In a forked child: other threads of the parent may have held it.
void resetDescriptionLockInChild();

// Start-up: records inherited myfs fds when MYFS_FDS is set (no client started).
void findInheritedFds();
// Whether fd is an inherited myfs fd not adopted yet.
bool isInheritedPending(int fd);
// Whether fd is an inherited myfs fd not adopted yet, opened by `path` (mount-relative).
bool inheritedPendingIs(int fd, const std::string& path);
// Starts the client and adopts every inherited fd; the Vfs, or null.
Vfs* adoptInheritedFds();
// close() of an inherited fd never used: forgets it without starting the client.
bool dropInheritedPending(int fd);

}  // namespace myfs::preload
