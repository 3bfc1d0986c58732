#include "core/page_memory.h"

#include <dlfcn.h>
#include <mimalloc.h>

#include <cstdlib>
#include <string_view>

namespace myfs {

namespace {

// The mimalloc entry points page memory uses, found with dlsym in a privately loaded
// libmimalloc; all null when it could not be loaded.
struct Mimalloc {
  decltype(&mi_heap_new) heapNew = nullptr;
  decltype(&mi_heap_malloc) heapMalloc = nullptr;
  decltype(&mi_heap_realloc) heapRealloc = nullptr;
  decltype(&mi_free) free = nullptr;
  bool usable() const { return free != nullptr; }
};

template <typename F>
bool bind(void* lib, const char* name, F* out) {
  *out = reinterpret_cast<F>(dlsym(lib, name));
  return *out != nullptr;
}

Mimalloc loadMimalloc() {
  Mimalloc m;
  if (const char* choice = std::getenv("MYFS_PAGE_ALLOCATOR"); choice != nullptr && std::string_view(choice) == "malloc") {
    return m;
  }
  // Already loaded (the application preloads mimalloc itself): that instance is shared,
  // and its options are the application's.
  const bool shared = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_NOLOAD) != nullptr;
  void* lib = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return m;
  Mimalloc found;
  if (!bind(lib, "mi_heap_new", &found.heapNew) || !bind(lib, "mi_heap_malloc", &found.heapMalloc) ||
      !bind(lib, "mi_heap_realloc", &found.heapRealloc) || !bind(lib, "mi_free", &found.free)) {
    return m;
  }
  // Cached data in 2 MiB pages (transparent huge pages, asked for with madvise): fresh
  // memory then costs one fault per 2 MiB instead of 512. On the development VM a 4 KiB
  // fault costs about 14 µs, which bounded a write absorbed by the cache to 1.5-3 GiB/s
  // (0.3-0.6 of tmpfs); with large pages it measured 2.6-10 GiB/s, and 1 GiB write +
  // fsync 0.9-1.4 GiB/s instead of 0.3-0.8 (four runs each, interleaved). The price is
  // that mimalloc commits its segments whole, and a huge fault may compact memory first
  // (an earlier day measured streaming 2x slower with it). MIMALLOC_LARGE_OS_PAGES=0 in
  // the environment keeps 4 KiB pages.
  if (!shared && std::getenv("MIMALLOC_LARGE_OS_PAGES") == nullptr) {
    decltype(&mi_option_set) optionSet = nullptr;
    if (bind(lib, "mi_option_set", &optionSet)) optionSet(mi_option_large_os_pages, 1);
  }
  return found;
}

const Mimalloc& mimalloc() {
  static const Mimalloc m = loadMimalloc();  // never unloaded: blocks may be freed at exit
  return m;
}

// This thread's page heap (mimalloc heaps allocate only on their own thread; any thread
// may free). mimalloc deletes it when the thread exits, its blocks live on.
mi_heap_t* threadHeap(const Mimalloc& m) {
  thread_local mi_heap_t* heap = nullptr;
  if (heap == nullptr) heap = m.heapNew();
  return heap;
}

}  // namespace

void* pageAllocate(std::size_t n) { return pageReallocate(nullptr, n); }

void* pageReallocate(void* p, std::size_t n) {
  const Mimalloc& m = mimalloc();
  if (!m.usable()) return std::realloc(p, n);
  mi_heap_t* heap = threadHeap(m);
  if (heap == nullptr) return nullptr;
  return p == nullptr ? m.heapMalloc(heap, n) : m.heapRealloc(heap, p, n);
}

void pageFree(void* p) {
  if (p == nullptr) return;
  const Mimalloc& m = mimalloc();
  if (m.usable()) {
    m.free(p);
  } else {
    std::free(p);
  }
}

const char* pageAllocatorName() { return mimalloc().usable() ? "mimalloc" : "malloc"; }

}  // namespace myfs
