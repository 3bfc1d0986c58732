// vfork() becomes fork() once the client has started.
//
// A vfork child shares its parent's memory: anything the shim would do for it (a shadow
// file for `subprocess.run(stdout=myfs_file)`, a chdir into /myfs, a call to a server)
// would change the parent's state. As a real fork child it has its own copy and its own
// connections (the atfork handler resets them). Programs may only _exit or exec after
// vfork, so they cannot tell the difference; they pay a fork's page-table copy.
//
// vfork cannot be wrapped by a C function (the child would return through, and clobber,
// a frame the parent later returns through), so the interposer is two tail jumps: to
// libc's vfork while the client is not loaded (noting that a child may now share this
// memory), to fork() after.
//
// clone() with CLONE_VM and without CLONE_THREAD makes such a child too; its wrapper only
// notes it. Until either happened, inVforkChild() needs no getpid() (a system call, ~1 µs
// on a VM) on every close, dup and fcntl of a myfs fd.
#include <sched.h>
#include <stdarg.h>

#include "preload/shim.h"

extern "C" {
__attribute__((visibility("hidden"))) void* myfs_real_vfork = nullptr;
__attribute__((visibility("hidden"))) int myfs_vfork_as_fork = 0;
__attribute__((visibility("hidden"))) int myfs_memory_shared_with_child = 0;
}

#if defined(__x86_64__)
asm(R"(
    .text
    .globl vfork
    .type vfork, @function
vfork:
    cmpl $0, myfs_vfork_as_fork(%rip)
    jne 1f
    movl $1, myfs_memory_shared_with_child(%rip)
    jmp *myfs_real_vfork(%rip)
1:
    jmp fork@PLT
    .size vfork, .-vfork
)");
#endif

namespace myfs::preload {

void prepareVfork() { myfs_real_vfork = resolveNext("vfork"); }
void vforkBecomesFork() { __atomic_store_n(&myfs_vfork_as_fork, 1, __ATOMIC_RELEASE); }
bool memorySharingChildMayExist() { return __atomic_load_n(&myfs_memory_shared_with_child, __ATOMIC_RELAXED) != 0; }

}  // namespace myfs::preload

using CloneFn = int (*)(int (*)(void*), void*, int, void*, ...);

// The optional arguments (parent_tid, tls, child_tid) are passed on whether or not the
// caller gave them, as glibc's own wrapper reads them.
MYFS_EXPORT int clone(int (*fn)(void*), void* stack, int flags, void* arg, ...) {
  static CloneFn real = reinterpret_cast<CloneFn>(myfs::preload::resolveNext("clone"));
  va_list ap;
  va_start(ap, arg);
  void* parentTid = va_arg(ap, void*);
  void* tls = va_arg(ap, void*);
  void* childTid = va_arg(ap, void*);
  va_end(ap);
  if ((flags & CLONE_VM) != 0 && (flags & CLONE_THREAD) == 0) {
    __atomic_store_n(&myfs_memory_shared_with_child, 1, __ATOMIC_RELAXED);
  }
  return real(fn, stack, flags, arg, parentTid, tls, childTid);
}
