// Arguments in the caller's memory that the kernel would refuse with EFAULT: the shim
// answers EFAULT as well instead of dying with SIGSEGV.
//
// Cost: the common cases are free. An address in the first page (NULL, (char*)1) is bad
// and an address in the usual user range (below 2^47) is taken as good without a system
// call; only an address above it (kernel or non-canonical on most machines) is tested,
// with process_vm_readv on our own pid (about 0.5 us). Results written out by a myfs call
// (stat buffers, readlink, getcwd) go through copyToUser: a plain copy for a buffer on the
// caller's stack just above us, else process_vm_writev, which fails with EFAULT where a
// store would fault.
#pragma once

#include <errno.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace myfs::preload {

// Whether the kernel can read the byte at p (the first byte of a string or buffer).
inline bool kernelCanRead(const void* p) {
  char c;
  iovec local{&c, 1};
  iovec remote{const_cast<void*>(p), 1};
  const pid_t self = static_cast<pid_t>(syscall(SYS_getpid));
  if (process_vm_readv(self, &local, 1, &remote, 1, 0) == 1) return true;
  return errno != EFAULT && errno != ENOMEM;  // ENOSYS, EPERM (seccomp): cannot tell, assume good
}

// True when a system call given p would fail with EFAULT (see the cost above).
inline bool badUserAddress(const void* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  if (a < 4096) return true;
  if (a < (std::uintptr_t{1} << 47)) return false;
  const int saved = errno;
  const bool bad = !kernelCanRead(p);
  errno = saved;
  return bad;
}

// Stores n bytes at dst as copy_to_user does: 0, or EFAULT (nothing guaranteed written).
__attribute__((noinline)) inline int copyToUser(void* dst, const void* src, std::size_t n) {
  const auto a = reinterpret_cast<std::uintptr_t>(dst);
  if (n == 0) return 0;
  if (a < 4096 || a + n < a) return EFAULT;
  // A buffer in a caller's frame lies between our frame and the top of the stack.
  volatile char here = 0;
  const auto sp = reinterpret_cast<std::uintptr_t>(&here);
  if (a > sp && a + n <= sp + (64u << 10)) {
    std::memcpy(dst, src, n);
    return 0;
  }
  const int saved = errno;
  iovec local{const_cast<void*>(src), n};
  iovec remote{dst, n};
  const pid_t self = static_cast<pid_t>(syscall(SYS_getpid));
  const ssize_t done = process_vm_writev(self, &local, 1, &remote, 1, 0);
  const int err = errno;
  errno = saved;
  if (done == static_cast<ssize_t>(n)) return 0;
  if (done >= 0 || err == EFAULT || err == ENOMEM) return EFAULT;
  std::memcpy(dst, src, n);  // the call is not allowed here (seccomp): store directly
  return 0;
}

}  // namespace myfs::preload
