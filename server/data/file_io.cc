#include "server/data/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "server/data/unique_fd.h"

namespace myfs::server {

Result<std::size_t> preadFull(int fd, void* buf, std::size_t len, off_t off) {
  std::size_t done = 0;
  auto* p = static_cast<char*>(buf);
  while (done < len) {
    ssize_t n = ::pread(fd, p + done, len - done, off + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(errno);
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

Result<void> pwriteFull(int fd, const void* buf, std::size_t len, off_t off) {
  std::size_t done = 0;
  const auto* p = static_cast<const char*>(buf);
  while (done < len) {
    ssize_t n = ::pwrite(fd, p + done, len - done, off + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(errno);
    }
    if (n == 0) return Errno(EIO);  // no progress and no error: treat as a device failure
    done += static_cast<std::size_t>(n);
  }
  return okResult();
}

Result<void> fdatasyncRetry(int fd) {
  while (::fdatasync(fd) != 0) {
    if (errno != EINTR) return Errno(errno);
  }
  return okResult();
}

Result<void> fsyncRetry(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return Errno(errno);
  }
  return okResult();
}

Result<void> fsyncDir(const char* path) {
  UniqueFd fd(::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Errno(errno);
  return fsyncRetry(fd.get());
}

}  // namespace myfs::server
