#include "server/data/chunk_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "server/data/crc32c.h"
#include "server/data/file_io.h"
#include "server/data/unique_fd.h"
#include "server/log.h"

namespace myfs::server {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kCrcEntrySize = 8;

// The checksums of one block: of its current bytes, and of the bytes before the last write.
struct CrcEntry {
  std::uint32_t cur = 0;
  std::uint32_t prev = 0;
  bool matches(std::uint32_t crc) const { return crc == cur || crc == prev; }
};

// Logs a failed system call and returns the errno the data service reports for it:
// ENOSPC (also for EDQUOT), EINVAL, or EIO for everything else.
Errno ioError(const char* what, const std::string& path, int err) {
  logLine("chunk store: %s %s: %s", what, path.c_str(), errnoName(err));
  if (err == ENOSPC || err == EDQUOT) return Errno(ENOSPC);
  if (err == EINVAL) return Errno(EINVAL);
  return Errno(EIO);
}

std::uint64_t blocksFor(std::uint64_t size) { return (size + kCrcBlockSize - 1) / kCrcBlockSize; }

Result<std::uint64_t> fileSize(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ioError("fstat", path, errno);
  return static_cast<std::uint64_t>(st.st_size);
}

// The whole sidecar (entries past a short final entry are ignored).
Result<std::vector<CrcEntry>> readSidecar(int fd, const std::string& path) {
  MYFS_ASSIGN_OR_RETURN(size, fileSize(fd, path));
  std::string raw(size, '\0');
  Result<std::size_t> got = preadFull(fd, raw.data(), raw.size(), 0);
  if (!got) return ioError("read", path, got.err());
  std::vector<CrcEntry> entries(*got / kCrcEntrySize);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(raw.data() + i * kCrcEntrySize);
    entries[i].cur = p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::uint32_t>(p[3]) << 24;
    entries[i].prev = p[4] | p[5] << 8 | p[6] << 16 | static_cast<std::uint32_t>(p[7]) << 24;
  }
  return entries;
}

// Writes entries[first..] of the sidecar at their place.
Result<void> writeSidecar(int fd, const std::string& path, std::uint64_t first, const std::vector<CrcEntry>& entries) {
  std::string raw;
  raw.reserve(entries.size() * kCrcEntrySize);
  for (const CrcEntry& e : entries) {
    for (std::uint32_t v : {e.cur, e.prev}) {
      for (int i = 0; i < 4; ++i) raw.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
  }
  Result<void> r = pwriteFull(fd, raw.data(), raw.size(), static_cast<off_t>(first * kCrcEntrySize));
  if (!r) return ioError("write", path, r.err());
  return okResult();
}

// Opens a file; ENOENT is returned as an invalid fd (no log), other errors mapped.
Result<UniqueFd> openIfExists(const std::string& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (!fd.valid() && errno != ENOENT) return ioError("open", path, errno);
  return fd;
}

// Reads exactly `n` bytes at `off` (a short read is EIO).
Result<void> readExactly(int fd, const std::string& path, char* buf, std::uint64_t n, std::uint64_t off) {
  Result<std::size_t> got = preadFull(fd, buf, n, static_cast<off_t>(off));
  if (!got) return ioError("read", path, got.err());
  if (*got != n) return ioError("read (short)", path, EIO);
  return okResult();
}

// Reads the first `n` bytes of block `b` (all the file holds of it) and checks them
// against the block's checksums; returns their CRC32C. On a mismatch logs that `what`
// was refused and fails with EIO.
Result<std::uint32_t> readVerifiedBlock(int fd, const std::string& path, std::uint64_t b, const CrcEntry& expected,
                                        char* buf, std::uint64_t n, const char* what) {
  MYFS_TRY(readExactly(fd, path, buf, n, b * kCrcBlockSize));
  const std::uint32_t crc = crc32c(0, buf, n);
  if (!expected.matches(crc)) {
    logLine("chunk store: %s: checksum mismatch in block %" PRIu64 " (%s refused)", path.c_str(), b, what);
    return Errno(EIO);
  }
  return crc;
}

// fdatasync of an open file; fsync of a directory. Failures logged and mapped (ioError).
Result<void> syncData(int fd, const std::string& path) {
  Result<void> s = fdatasyncRetry(fd);
  if (!s) return ioError("fdatasync", path, s.err());
  return okResult();
}

Result<void> syncDir(const std::string& dir) {
  Result<void> s = fsyncDir(dir.c_str());
  if (!s) return ioError("fsync", dir, s.err());
  return okResult();
}

// The paths of the entries of directory `dir`; nullopt when it does not exist.
Result<std::optional<std::vector<fs::path>>> listDirIfExists(const std::string& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return std::optional<std::vector<fs::path>>();
    return ioError("scan", dir, ec.value());
  }
  std::vector<fs::path> paths;
  for (const fs::directory_entry& de : it) paths.push_back(de.path());
  return std::optional(std::move(paths));
}

// Parses a chunk file name "<index>" or "<index>.crc".
std::optional<std::pair<std::uint64_t, bool>> parseChunkName(const std::string& name) {
  std::uint64_t idx = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), idx);
  if (ec != std::errc() || end == name.data()) return std::nullopt;
  std::string_view rest(end, name.data() + name.size() - end);
  if (rest.empty()) return std::pair{idx, false};
  if (rest == ".crc") return std::pair{idx, true};
  return std::nullopt;
}

}  // namespace

ChunkStore::ChunkStore(std::string dir) : dir_(std::move(dir)), chunksDir_(dir_ + "/chunks") {}

std::unique_ptr<ChunkStore> ChunkStore::open(const std::string& dir, std::string* error) {
  std::unique_ptr<ChunkStore> store(new ChunkStore(dir));
  std::error_code ec;
  fs::create_directories(store->chunksDir_, ec);
  if (ec) {
    *error = "cannot create " + store->chunksDir_ + ": " + ec.message();
    return nullptr;
  }
  if (::access(store->chunksDir_.c_str(), W_OK | X_OK) != 0) {
    *error = "cannot write in " + store->chunksDir_ + ": " + errnoName(errno);
    return nullptr;
  }
  return store;
}

std::string ChunkStore::inodeDir(InodeId ino) const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/%016" PRIx64, ino);
  return chunksDir_ + buf;
}

std::string ChunkStore::chunkPath(InodeId ino, std::uint64_t chunk) const {
  return inodeDir(ino) + "/" + std::to_string(chunk);
}

std::mutex& ChunkStore::lockFor(InodeId ino) { return locks_[mix64(ino, 0) % locks_.size()]; }

Result<void> ChunkStore::write(InodeId ino, std::uint64_t chunk, std::uint32_t offset, std::string_view data,
                               bool sync) {
  if (static_cast<std::uint64_t>(offset) + data.size() > kMaxChunkSize) return Errno(EINVAL);
  if (data.empty()) return okResult();
  std::lock_guard<std::mutex> lock(lockFor(ino));
  const std::string idir = inodeDir(ino);
  bool newDir = false;
  if (::mkdir(idir.c_str(), 0755) == 0) {
    newDir = true;
  } else if (errno != EEXIST) {
    return ioError("mkdir", idir, errno);
  }
  const std::string path = chunkPath(ino, chunk);
  const std::string crcPath = path + ".crc";
  bool newFile = false;
  MYFS_ASSIGN_OR_RETURN(fd, openIfExists(path, O_RDWR));
  if (!fd.valid()) {
    fd = UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd.valid()) return ioError("create", path, errno);
    newFile = true;
  }
  UniqueFd crcFd(::open(crcPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!crcFd.valid()) return ioError("open", crcPath, errno);

  MYFS_ASSIGN_OR_RETURN(oldSize, fileSize(fd.get(), path));
  MYFS_ASSIGN_OR_RETURN(entries, readSidecar(crcFd.get(), crcPath));
  const std::uint64_t oldBlocks = blocksFor(oldSize);
  if (entries.size() < oldBlocks) {
    logLine("chunk store: %s: checksums missing (%zu of %" PRIu64 " blocks)", path.c_str(), entries.size(), oldBlocks);
    return Errno(EIO);
  }
  const std::uint64_t off = offset;
  const std::uint64_t newEnd = off + data.size();
  const std::uint64_t newSize = std::max(oldSize, newEnd);
  const std::uint64_t first = std::min(off, oldSize) / kCrcBlockSize;
  const std::uint64_t last = (newEnd - 1) / kCrcBlockSize;

  // New checksums of every block whose bytes change (old bytes kept are verified first).
  std::vector<CrcEntry> updated;
  updated.reserve(last - first + 1);
  std::string block;
  for (std::uint64_t b = first; b <= last; ++b) {
    const std::uint64_t bs = b * kCrcBlockSize;
    const std::uint64_t be = std::min(bs + kCrcBlockSize, newSize);
    const std::uint64_t oldEnd = std::min(be, oldSize);
    CrcEntry e;
    e.prev = b < oldBlocks ? entries[b].cur : 0;
    if (off <= bs && newEnd >= be) {  // wholly overwritten
      e.cur = crc32c(0, data.data() + (bs - off), be - bs);
    } else {
      block.assign(be - bs, '\0');
      if (bs < oldEnd) {
        MYFS_ASSIGN_OR_RETURN(oldCrc, readVerifiedBlock(fd.get(), path, b, entries[b], block.data(), oldEnd - bs,
                                                        "rewrite"));
        e.prev = oldCrc;
      }
      const std::uint64_t from = std::max(bs, off);
      const std::uint64_t to = std::min(be, newEnd);
      if (from < to) std::copy(data.data() + (from - off), data.data() + (to - off), block.data() + (from - bs));
      e.cur = crc32c(0, block.data(), block.size());
    }
    if (b >= oldBlocks) e.prev = e.cur;
    updated.push_back(e);
  }
  MYFS_TRY(writeSidecar(crcFd.get(), crcPath, first, updated));
  Result<void> w = pwriteFull(fd.get(), data.data(), data.size(), static_cast<off_t>(off));
  if (!w) return ioError("write", path, w.err());
  if (sync) {
    MYFS_TRY(syncData(fd.get(), path));
    MYFS_TRY(syncData(crcFd.get(), crcPath));
    if (newFile) MYFS_TRY(syncDir(idir));
    if (newDir) MYFS_TRY(syncDir(chunksDir_));
  }
  return okResult();
}

Result<std::string> ChunkStore::read(InodeId ino, std::uint64_t chunk, std::uint32_t offset, std::uint32_t length) {
  std::string out;
  MYFS_TRY(read(ino, chunk, offset, length, [&out](std::size_t n) {
    out.resize(n);
    return std::span<std::byte>(reinterpret_cast<std::byte*>(out.data()), n);
  }));
  return out;
}

Result<void> ChunkStore::read(InodeId ino, std::uint64_t chunk, std::uint32_t offset, std::uint32_t length,
                              const std::function<std::span<std::byte>(std::size_t)>& sink) {
  if (static_cast<std::uint64_t>(offset) + length > kMaxChunkSize) return Errno(EINVAL);
  std::lock_guard<std::mutex> lock(lockFor(ino));
  const std::string path = chunkPath(ino, chunk);
  MYFS_ASSIGN_OR_RETURN(fd, openIfExists(path, O_RDONLY));
  if (!fd.valid() || length == 0) {
    sink(0);
    return okResult();
  }
  MYFS_ASSIGN_OR_RETURN(size, fileSize(fd.get(), path));
  if (offset >= size) {
    sink(0);
    return okResult();
  }
  const std::uint64_t end = std::min<std::uint64_t>(static_cast<std::uint64_t>(offset) + length, size);
  const std::uint64_t first = offset / kCrcBlockSize;
  const std::uint64_t last = (end - 1) / kCrcBlockSize;

  const std::string crcPath = path + ".crc";
  MYFS_ASSIGN_OR_RETURN(crcFd, openIfExists(crcPath, O_RDONLY));
  if (!crcFd.valid()) {
    logLine("chunk store: %s: checksum file missing", path.c_str());
    return Errno(EIO);
  }
  MYFS_ASSIGN_OR_RETURN(entries, readSidecar(crcFd.get(), crcPath));
  if (entries.size() <= last) {
    logLine("chunk store: %s: checksums missing for block %" PRIu64, path.c_str(), last);
    return Errno(EIO);
  }
  // The blocks the range touches are read whole (their checksums cover them whole):
  // straight into the caller's memory when the range is exactly those blocks.
  const std::uint64_t spanStart = first * kCrcBlockSize;
  const std::uint64_t spanEnd = std::min<std::uint64_t>((last + 1) * kCrcBlockSize, size);
  const bool direct = spanStart == offset && spanEnd == end;
  std::unique_ptr<char[]> staging;
  char* span = nullptr;
  if (direct) {
    span = reinterpret_cast<char*>(sink(end - offset).data());
  } else {
    staging.reset(new char[spanEnd - spanStart]);
    span = staging.get();
  }
  MYFS_TRY(readExactly(fd.get(), path, span, spanEnd - spanStart, spanStart));
  for (std::uint64_t b = first; b <= last; ++b) {
    const std::uint64_t bs = b * kCrcBlockSize - spanStart;
    const std::uint64_t len = std::min<std::uint64_t>(kCrcBlockSize, spanEnd - spanStart - bs);
    if (!entries[b].matches(crc32c(0, span + bs, len))) {
      logLine("chunk store: %s: checksum mismatch in block %" PRIu64, path.c_str(), b);
      return Errno(EIO);
    }
  }
  if (!direct) std::memcpy(sink(end - offset).data(), span + (offset - spanStart), end - offset);
  return okResult();
}

Result<void> ChunkStore::cutChunk(const std::string& path, std::uint64_t size) {
  MYFS_ASSIGN_OR_RETURN(fd, openIfExists(path, O_RDWR));
  if (!fd.valid()) return okResult();
  MYFS_ASSIGN_OR_RETURN(oldSize, fileSize(fd.get(), path));
  if (oldSize <= size) return okResult();
  const std::string crcPath = path + ".crc";
  UniqueFd crcFd(::open(crcPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!crcFd.valid()) return ioError("open", crcPath, errno);
  MYFS_ASSIGN_OR_RETURN(entries, readSidecar(crcFd.get(), crcPath));
  if (entries.size() < blocksFor(oldSize)) {
    logLine("chunk store: %s: checksums missing", path.c_str());
    return Errno(EIO);
  }
  if (size % kCrcBlockSize != 0) {  // the new last block keeps a prefix: re-checksum it
    const std::uint64_t b = size / kCrcBlockSize;
    const std::uint64_t bs = b * kCrcBlockSize;
    std::string block(std::min<std::uint64_t>(kCrcBlockSize, oldSize - bs), '\0');
    MYFS_ASSIGN_OR_RETURN(oldCrc,
                          readVerifiedBlock(fd.get(), path, b, entries[b], block.data(), block.size(), "truncate"));
    CrcEntry e{crc32c(0, block.data(), size - bs), oldCrc};
    MYFS_TRY(writeSidecar(crcFd.get(), crcPath, b, {e}));
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return ioError("truncate", path, errno);
  if (::ftruncate(crcFd.get(), static_cast<off_t>(blocksFor(size) * kCrcEntrySize)) != 0) {
    return ioError("truncate", crcPath, errno);
  }
  return okResult();
}

Result<void> ChunkStore::truncate(InodeId ino, std::uint64_t size, std::uint32_t chunkSize) {
  if (chunkSize < 4096 || chunkSize > kMaxChunkSize || (chunkSize & (chunkSize - 1)) != 0) return Errno(EINVAL);
  std::lock_guard<std::mutex> lock(lockFor(ino));
  const std::string idir = inodeDir(ino);
  MYFS_ASSIGN_OR_RETURN(files, listDirIfExists(idir));
  if (!files) return okResult();  // no chunk of ino here
  const std::uint64_t cutIndex = size / chunkSize;
  bool anyLeft = false;
  std::vector<std::pair<std::string, bool>> doomed;  // path, is data file
  for (const fs::path& file : *files) {
    std::optional<std::pair<std::uint64_t, bool>> parsed = parseChunkName(file.filename().string());
    if (!parsed) continue;
    auto [idx, isCrc] = *parsed;
    if (idx > cutIndex || (idx == cutIndex && size % chunkSize == 0)) {
      doomed.emplace_back(file.string(), !isCrc);
      continue;
    }
    anyLeft = true;
    if (idx == cutIndex && !isCrc) MYFS_TRY(cutChunk(file.string(), size - idx * chunkSize));
  }
  // Data files go before their sidecars: a crash midway never leaves data unverifiable.
  std::stable_partition(doomed.begin(), doomed.end(), [](const auto& d) { return d.second; });
  for (const auto& [path, isData] : doomed) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ioError("unlink", path, errno);
  }
  if (!anyLeft && ::rmdir(idir.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY) {
    return ioError("rmdir", idir, errno);
  }
  return okResult();
}

Result<void> ChunkStore::remove(InodeId ino) {
  std::lock_guard<std::mutex> lock(lockFor(ino));
  const std::string idir = inodeDir(ino);
  MYFS_ASSIGN_OR_RETURN(files, listDirIfExists(idir));
  if (!files) return okResult();  // no chunk of ino here
  // Data files first, then sidecars (as truncate).
  std::stable_partition(files->begin(), files->end(), [](const fs::path& p) { return !p.native().ends_with(".crc"); });
  for (const fs::path& f : *files) {
    if (::unlink(f.c_str()) != 0 && errno != ENOENT) return ioError("unlink", f.string(), errno);
  }
  if (::rmdir(idir.c_str()) != 0 && errno != ENOENT) return ioError("rmdir", idir, errno);
  return okResult();
}

Result<std::map<std::uint64_t, std::uint32_t>> ChunkStore::extents(InodeId ino) {
  std::lock_guard<std::mutex> lock(lockFor(ino));
  std::map<std::uint64_t, std::uint32_t> out;
  MYFS_ASSIGN_OR_RETURN(files, listDirIfExists(inodeDir(ino)));
  if (!files) return out;
  for (const fs::path& f : *files) {
    const std::string name = f.filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;  // sidecars
    struct stat st;
    if (::stat(f.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return ioError("stat", f.string(), errno);
    }
    out[std::stoull(name)] = static_cast<std::uint32_t>(st.st_size);
  }
  return out;
}

Result<void> ChunkStore::fsync(InodeId ino) {
  std::lock_guard<std::mutex> lock(lockFor(ino));
  const std::string idir = inodeDir(ino);
  MYFS_ASSIGN_OR_RETURN(files, listDirIfExists(idir));
  if (!files) return okResult();  // no chunk of ino here
  for (const fs::path& file : *files) {
    const std::string path = file.string();
    MYFS_ASSIGN_OR_RETURN(fd, openIfExists(path, O_RDONLY));
    if (!fd.valid()) continue;  // removed meanwhile
    MYFS_TRY(syncData(fd.get(), path));
  }
  MYFS_TRY(syncDir(idir));
  return syncDir(chunksDir_);
}

Result<DataStats> ChunkStore::stats() {
  DataStats st;
  std::error_code ec;
  fs::directory_iterator top(chunksDir_, ec);
  if (ec) return ioError("scan", chunksDir_, ec.value());
  for (const fs::directory_entry& inodeEntry : top) {
    std::error_code ec2;
    fs::directory_iterator it(inodeEntry.path(), ec2);
    if (ec2) continue;  // removed meanwhile, or not a directory
    std::uint64_t chunksHere = 0;
    for (const fs::directory_entry& de : it) {
      std::optional<std::pair<std::uint64_t, bool>> parsed = parseChunkName(de.path().filename().string());
      if (!parsed || parsed->second) continue;
      std::error_code ec3;
      std::uintmax_t size = de.file_size(ec3);
      if (ec3) continue;
      ++chunksHere;
      st.bytes += size;
    }
    st.chunks += chunksHere;
    if (chunksHere > 0) ++st.inodes;
  }
  struct statvfs vfs {};
  if (::statvfs(chunksDir_.c_str(), &vfs) != 0) return ioError("statvfs", chunksDir_, errno);
  st.diskTotal = static_cast<std::uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  st.diskFree = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  return st;
}

}  // namespace myfs::server
