// Whole-buffer pread/pwrite and fsync helpers with EINTR and short-transfer handling.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "core/result.h"

namespace myfs::server {

// Reads up to len bytes at off, retrying EINTR and short reads; stops early only at end
// of file. Returns the byte count read. Errors: the errno of pread(2).
Result<std::size_t> preadFull(int fd, void* buf, std::size_t len, off_t off);

// Writes all len bytes at off, retrying EINTR and short writes. Errors: the errno of
// pwrite(2) (ENOSPC, EIO, ...).
Result<void> pwriteFull(int fd, const void* buf, std::size_t len, off_t off);

// fdatasync(2) / fsync(2), retrying EINTR.
Result<void> fdatasyncRetry(int fd);
Result<void> fsyncRetry(int fd);

// fsync of a directory by path (makes its entries durable).
Result<void> fsyncDir(const char* path);

}  // namespace myfs::server
