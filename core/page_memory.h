// Memory for cached file data, apart from the application's heap: a mimalloc heap per
// thread, in a mimalloc instance loaded privately (RTLD_LOCAL: the application's malloc stays
// whatever it was). Where libmimalloc cannot be loaded, the C heap serves instead.
//
// Contract: memory from pageAllocate/pageReallocate goes back through pageReallocate or
// pageFree only, from any thread.
#pragma once

#include <cstddef>

namespace myfs {

// n bytes (n > 0), uninitialised; null when out of memory.
void* pageAllocate(std::size_t n);
// Grows or shrinks p (null: allocates) to n bytes, keeping the first min(old, n) bytes;
// null when out of memory (p is then untouched).
void* pageReallocate(void* p, std::size_t n);
void pageFree(void* p);

// Which allocator serves page memory in this process: "mimalloc" or "malloc".
const char* pageAllocatorName();

}  // namespace myfs
