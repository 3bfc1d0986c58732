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
// libc's vfork while the client is not loaded, to fork() after.
#include "preload/shim.h"

extern "C" {
__attribute__((visibility("hidden"))) void* myfs_real_vfork = nullptr;
__attribute__((visibility("hidden"))) int myfs_vfork_as_fork = 0;
}

#if defined(__x86_64__)
asm(R"(
    .text
    .globl vfork
    .type vfork, @function
vfork:
    cmpl $0, myfs_vfork_as_fork(%rip)
    jne 1f
    jmp *myfs_real_vfork(%rip)
1:
    jmp fork@PLT
    .size vfork, .-vfork
)");
#endif

namespace myfs::preload {

void prepareVfork() { myfs_real_vfork = resolveNext("vfork"); }
void vforkBecomesFork() { __atomic_store_n(&myfs_vfork_as_fork, 1, __ATOMIC_RELEASE); }

}  // namespace myfs::preload
