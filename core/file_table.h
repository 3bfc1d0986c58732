// FileTable: fd number -> open file description, for the fds myfs serves.
//
// isOpen() is lock-free (one atomic byte per fd) so that front ends can route every
// call cheaply; get/put/remove take a striped mutex. Numbers at or above kMaxFds are
// refused with EMFILE.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "core/file.h"
#include "core/result.h"

namespace myfs {

class FileTable {
 public:
  static constexpr int kMaxFds = 1 << 16;

  FileTable();

  bool isOpen(int fd) const {
    return fd >= 0 && fd < kMaxFds && present_[static_cast<size_t>(fd)].load(std::memory_order_acquire);
  }
  // The description at fd, or EBADF.
  Result<std::shared_ptr<File>> get(int fd) const;
  // Installs file at fd, replacing what was there (returned, or null).
  Result<std::shared_ptr<File>> put(int fd, std::shared_ptr<File> file);
  // In a forked child: the locks other threads of the parent held are free again.
  void afterForkInChild();
  // Every fd present, ascending.
  std::vector<int> openFds() const;
  // Removes fd and returns its description, or EBADF.
  Result<std::shared_ptr<File>> remove(int fd);

 private:
  static constexpr int kStripes = 64;
  std::mutex& stripe(int fd) const { return stripes_[static_cast<size_t>(fd % kStripes)]; }

  std::unique_ptr<std::atomic<bool>[]> present_;
  std::vector<std::shared_ptr<File>> files_;
  mutable std::array<std::mutex, kStripes> stripes_;
};

}  // namespace myfs
