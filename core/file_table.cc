#include "core/file_table.h"

namespace myfs {

FileTable::FileTable() : present_(new std::atomic<bool>[kMaxFds]), files_(kMaxFds) {
  for (int i = 0; i < kMaxFds; ++i) present_[static_cast<size_t>(i)].store(false, std::memory_order_relaxed);
}

Result<std::shared_ptr<File>> FileTable::get(int fd) const {
  if (!isOpen(fd)) return Errno(EBADF);
  std::lock_guard lock(stripe(fd));
  auto f = files_[static_cast<size_t>(fd)];
  if (!f) return Errno(EBADF);
  return f;
}

Result<std::shared_ptr<File>> FileTable::put(int fd, std::shared_ptr<File> file) {
  if (fd < 0 || fd >= kMaxFds) return Errno(EMFILE);
  std::lock_guard lock(stripe(fd));
  auto old = std::move(files_[static_cast<size_t>(fd)]);
  files_[static_cast<size_t>(fd)] = std::move(file);
  present_[static_cast<size_t>(fd)].store(true, std::memory_order_release);
  return old;
}

void FileTable::afterForkInChild() {
  for (auto& m : stripes_) new (&m) std::mutex();
  for (auto& f : files_) {
    if (f) new (&f->mu) std::mutex();
  }
}

std::vector<int> FileTable::openFds() const {
  std::vector<int> fds;
  for (int fd = 0; fd < kMaxFds; ++fd) {
    if (isOpen(fd)) fds.push_back(fd);
  }
  return fds;
}

Result<std::shared_ptr<File>> FileTable::remove(int fd) {
  if (!isOpen(fd)) return Errno(EBADF);
  std::lock_guard lock(stripe(fd));
  auto f = std::move(files_[static_cast<size_t>(fd)]);
  present_[static_cast<size_t>(fd)].store(false, std::memory_order_release);
  if (!f) return Errno(EBADF);
  return f;
}

}  // namespace myfs
