// The libc functions the shim forwards to, resolved once with dlsym(RTLD_NEXT).
//
//   return MYFS_REAL(close)(fd);
#pragma once

#include <dlfcn.h>

namespace myfs::preload {

// Looks a symbol up past the shim; aborts with a message if libc lacks it.
void* resolveNext(const char* name);

template <typename Fn>
Fn realFunction(Fn*, const char* name) {
  return reinterpret_cast<Fn>(resolveNext(name));
}

}  // namespace myfs::preload

// The next definition of `fn` (libc's), as a function pointer of fn's own type.
#define MYFS_REAL(fn)                                                                         \
  ([]() {                                                                                     \
    static auto myfsReal_ = reinterpret_cast<decltype(&::fn)>(::myfs::preload::resolveNext(#fn)); \
    return myfsReal_;                                                                           \
  }())
