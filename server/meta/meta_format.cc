#include "server/meta/meta_format.h"

#include "core/placement.h"

namespace myfs::server {
namespace {

constexpr char kSuperMagic[4] = {'M', 'Y', 'F', 'S'};
constexpr std::uint8_t kInodeLayout = 1;
constexpr std::size_t kInodeSize = 1 + 4 * 4 + 8 * 7 + 4;  // layout, 4×u32, 7×u64, flags

void putBe(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void putLe(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Reads little-endian fixed-width fields from a byte string, front to back.
class LeReader {
 public:
  explicit LeReader(std::string_view bytes) : bytes_(bytes) {}
  std::uint64_t get(int width) {
    std::uint64_t v = 0;
    for (int i = 0; i < width; ++i) {
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes_[pos_ + i])) << (8 * i);
    }
    pos_ += width;
    return v;
  }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string inodeKey(InodeId ino) {
  std::string k(1, kInodePrefix);
  putBe(k, ino, 8);
  return k;
}

std::string linkKey(InodeId ino) {
  std::string k(1, kLinkPrefix);
  putBe(k, ino, 8);
  return k;
}

std::string dentryPrefix(InodeId parent) {
  std::string k(1, kDentryPrefix);
  putBe(k, parent, 8);
  return k;
}

std::string dentrySuffix(std::string_view name) {
  std::string s;
  s.reserve(4 + name.size());
  putBe(s, nameHash(name), 4);
  s.append(name);
  return s;
}

std::string dentryKey(InodeId parent, std::string_view name) {
  std::string k = dentryPrefix(parent);
  k += dentrySuffix(name);
  return k;
}

std::string encodeSuperBlock(const SuperBlockRecord& sb) {
  std::string out(kSuperMagic, 4);
  putLe(out, sb.formatVersion, 4);
  putLe(out, sb.chunkSize, 4);
  putLe(out, sb.shardIndex, 4);
  putLe(out, sb.shardCount, 4);
  return out;
}

std::optional<SuperBlockRecord> decodeSuperBlock(std::string_view bytes) {
  if (bytes.size() != 20 || bytes.substr(0, 4) != std::string_view(kSuperMagic, 4)) return std::nullopt;
  LeReader r(bytes.substr(4));
  SuperBlockRecord sb;
  sb.formatVersion = static_cast<std::uint32_t>(r.get(4));
  sb.chunkSize = static_cast<std::uint32_t>(r.get(4));
  sb.shardIndex = static_cast<std::uint32_t>(r.get(4));
  sb.shardCount = static_cast<std::uint32_t>(r.get(4));
  return sb;
}

std::string encodeInode(const InodeRecord& rec) {
  const Attr& a = rec.attr;
  std::string out;
  out.reserve(kInodeSize);
  out.push_back(static_cast<char>(kInodeLayout));
  putLe(out, a.mode, 4);
  putLe(out, a.nlink, 4);
  putLe(out, a.uid, 4);
  putLe(out, a.gid, 4);
  putLe(out, a.size, 8);
  putLe(out, static_cast<std::uint64_t>(a.atimeNs), 8);
  putLe(out, static_cast<std::uint64_t>(a.mtimeNs), 8);
  putLe(out, static_cast<std::uint64_t>(a.ctimeNs), 8);
  putLe(out, a.rdev, 8);
  putLe(out, a.version, 8);
  putLe(out, a.parent, 8);
  putLe(out, rec.flags, 4);
  return out;
}

std::optional<InodeRecord> decodeInode(InodeId ino, std::string_view bytes) {
  if (bytes.size() != kInodeSize || static_cast<std::uint8_t>(bytes[0]) != kInodeLayout) {
    return std::nullopt;
  }
  LeReader r(bytes.substr(1));
  InodeRecord rec;
  Attr& a = rec.attr;
  a.ino = ino;
  a.mode = static_cast<std::uint32_t>(r.get(4));
  a.nlink = static_cast<std::uint32_t>(r.get(4));
  a.uid = static_cast<std::uint32_t>(r.get(4));
  a.gid = static_cast<std::uint32_t>(r.get(4));
  a.size = r.get(8);
  a.atimeNs = static_cast<std::int64_t>(r.get(8));
  a.mtimeNs = static_cast<std::int64_t>(r.get(8));
  a.ctimeNs = static_cast<std::int64_t>(r.get(8));
  a.rdev = r.get(8);
  a.version = r.get(8);
  a.parent = r.get(8);
  rec.flags = static_cast<std::uint32_t>(r.get(4));
  return rec;
}

std::string encodeDentry(const DentryRecord& d) {
  std::string out;
  out.reserve(12);
  putLe(out, d.ino, 8);
  putLe(out, d.type, 4);
  return out;
}

std::optional<DentryRecord> decodeDentry(std::string_view bytes) {
  if (bytes.size() != 12) return std::nullopt;
  LeReader r(bytes);
  DentryRecord d;
  d.ino = r.get(8);
  d.type = static_cast<std::uint32_t>(r.get(4));
  return d;
}

std::string encodeCounters(const ShardCounters& c) {
  std::string out;
  out.reserve(40);
  putLe(out, c.inodes, 8);
  putLe(out, c.dentries, 8);
  putLe(out, c.directories, 8);
  putLe(out, c.files, 8);
  putLe(out, c.bytes, 8);
  return out;
}

std::optional<ShardCounters> decodeCounters(std::string_view bytes) {
  if (bytes.size() != 40) return std::nullopt;
  LeReader r(bytes);
  ShardCounters c;
  c.inodes = r.get(8);
  c.dentries = r.get(8);
  c.directories = r.get(8);
  c.files = r.get(8);
  c.bytes = r.get(8);
  return c;
}

std::string encodeU64(std::uint64_t v) {
  std::string out;
  putLe(out, v, 8);
  return out;
}

std::optional<std::uint64_t> decodeU64(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  LeReader r(bytes);
  return r.get(8);
}

}  // namespace myfs::server
