#include "server/meta/meta_format.h"

#include <algorithm>

#include "core/placement.h"

namespace myfs::server {
namespace {

constexpr char kSuperMagic[4] = {'M', 'Y', 'F', 'S'};
constexpr std::uint8_t kInodeLayout = 1;
// Encoded sizes of each record.
constexpr std::size_t kSuperSize = 4 + 4 * 4;              // magic, 4×u32
constexpr std::size_t kInodeSize = 1 + 4 * 4 + 8 * 7 + 4;  // layout, 4×u32, 7×u64, flags
constexpr std::size_t kDentrySize = 8 + 4;
constexpr std::size_t kDentryWithIntentSize = kDentrySize + 8 + (kInodeSize - 1);  // + leaseTo + inode fields
constexpr std::size_t kCountersSize = 5 * 8;

void putBe(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Appends little-endian fixed-width fields to a byte string.
class LeWriter {
 public:
  // `head`: bytes before the fields; `size`: the whole record's size (more is grown).
  LeWriter(std::string_view head, std::size_t size) : out_(std::max(size, head.size()), '\0') {
    head.copy(out_.data(), head.size());
    at_ = head.size();
  }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void i64(std::int64_t v) { put(static_cast<std::uint64_t>(v), 8); }
  std::string take() {
    out_.resize(at_);
    return std::move(out_);
  }

 private:
  void put(std::uint64_t v, std::size_t width) {
    if (at_ + width > out_.size()) out_.resize(at_ + width);
    for (std::size_t i = 0; i < width; ++i) out_[at_ + i] = static_cast<char>((v >> (8 * i)) & 0xff);
    at_ += width;
  }
  std::string out_;
  std::size_t at_ = 0;
};

// Reads little-endian fixed-width fields from a byte string, front to back (the caller
// has checked its length).
class LeReader {
 public:
  explicit LeReader(std::string_view bytes) : bytes_(bytes) {}
  void u32(std::uint32_t& v) { v = static_cast<std::uint32_t>(get(4)); }
  void u64(std::uint64_t& v) { v = get(8); }
  void i64(std::int64_t& v) { v = static_cast<std::int64_t>(get(8)); }

 private:
  std::uint64_t get(int width) {
    std::uint64_t v = 0;
    for (int i = 0; i < width; ++i) {
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes_[pos_ + i])) << (8 * i);
    }
    pos_ += width;
    return v;
  }

  std::string_view bytes_;
  std::size_t pos_ = 0;
};

// The stored fields of each record, in their order. One list serves both directions:
// `io` is an LeWriter (with a const record) or an LeReader (filling the record in).
template <typename Io, typename Record>
void superBlockFields(Io& io, Record& sb) {
  io.u32(sb.formatVersion);
  io.u32(sb.chunkSize);
  io.u32(sb.shardIndex);
  io.u32(sb.shardCount);
}

template <typename Io, typename Record>
void inodeFields(Io& io, Record& rec) {  // attr.ino is the key, not stored
  auto& a = rec.attr;
  io.u32(a.mode);
  io.u32(a.nlink);
  io.u32(a.uid);
  io.u32(a.gid);
  io.u64(a.size);
  io.i64(a.atimeNs);
  io.i64(a.mtimeNs);
  io.i64(a.ctimeNs);
  io.u64(a.rdev);
  io.u64(a.version);
  io.u64(a.parent);
  io.u32(rec.flags);
}

template <typename Io, typename Record>
void dentryFields(Io& io, Record& d) {
  io.u64(d.ino);
  io.u32(d.type);
}

template <typename Io, typename Record>
void counterFields(Io& io, Record& c) {
  io.u64(c.inodes);
  io.u64(c.dentries);
  io.u64(c.directories);
  io.u64(c.files);
  io.u64(c.bytes);
}

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

std::string xattrPrefix(InodeId ino) {
  std::string k(1, kXattrPrefix);
  putBe(k, ino, 8);
  return k;
}

std::string xattrKey(InodeId ino, std::string_view name) {
  std::string k = xattrPrefix(ino);
  k.append(name);
  return k;
}

std::string encodeSuperBlock(const SuperBlockRecord& sb) {
  LeWriter w(std::string_view(kSuperMagic, 4), kSuperSize);
  superBlockFields(w, sb);
  return w.take();
}

std::optional<SuperBlockRecord> decodeSuperBlock(std::string_view bytes) {
  if (bytes.size() != kSuperSize || bytes.substr(0, 4) != std::string_view(kSuperMagic, 4)) return std::nullopt;
  LeReader r(bytes.substr(4));
  SuperBlockRecord sb;
  superBlockFields(r, sb);
  return sb;
}

std::string encodeInode(const InodeRecord& rec) {
  const char layout = static_cast<char>(kInodeLayout);
  LeWriter w(std::string_view(&layout, 1), kInodeSize);
  inodeFields(w, rec);
  return w.take();
}

std::optional<InodeRecord> decodeInode(InodeId ino, std::string_view bytes) {
  if (bytes.size() != kInodeSize || static_cast<std::uint8_t>(bytes[0]) != kInodeLayout) {
    return std::nullopt;
  }
  LeReader r(bytes.substr(1));
  InodeRecord rec;
  rec.attr.ino = ino;
  inodeFields(r, rec);
  return rec;
}

std::string encodeDentry(const DentryRecord& d) {
  LeWriter w({}, d.intent ? kDentryWithIntentSize : kDentrySize);
  dentryFields(w, d);
  if (d.intent) {
    w.u64(d.intent->leaseTo);
    const InodeRecord dir{d.intent->attr, 0};
    inodeFields(w, dir);
  }
  return w.take();
}

std::optional<DentryRecord> decodeDentry(std::string_view bytes) {
  if (bytes.size() != kDentrySize && bytes.size() != kDentryWithIntentSize) return std::nullopt;
  LeReader r(bytes);
  DentryRecord d;
  dentryFields(r, d);
  if (bytes.size() == kDentryWithIntentSize) {
    DirIntent intent;
    r.u64(intent.leaseTo);
    InodeRecord dir;
    inodeFields(r, dir);
    intent.attr = dir.attr;
    intent.attr.ino = d.ino;
    d.intent = intent;
  }
  return d;
}

std::string encodeCounters(const ShardCounters& c) {
  LeWriter w({}, kCountersSize);
  counterFields(w, c);
  return w.take();
}

std::optional<ShardCounters> decodeCounters(std::string_view bytes) {
  if (bytes.size() != kCountersSize) return std::nullopt;
  LeReader r(bytes);
  ShardCounters c;
  counterFields(r, c);
  return c;
}

std::string encodeU64(std::uint64_t v) {
  LeWriter w({}, 8);
  w.u64(v);
  return w.take();
}

std::optional<std::uint64_t> decodeU64(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  LeReader r(bytes);
  std::uint64_t v = 0;
  r.u64(v);
  return v;
}

}  // namespace myfs::server
