#include "server/meta/meta_txn.h"

#include <sys/stat.h>

namespace myfs::server {

void MetaTxn::count(const Attr& a, int sign) {
  auto adjust = [sign](std::uint64_t& v, std::uint64_t by) { v = sign > 0 ? v + by : v - by; };
  adjust(counters_.inodes, 1);
  if (S_ISDIR(a.mode)) adjust(counters_.directories, 1);
  if (S_ISREG(a.mode)) {
    adjust(counters_.files, 1);
    adjust(counters_.bytes, a.size);
  }
}

void MetaTxn::createInode(const InodeRecord& rec) {
  batch_.Put(inodeKey(rec.attr.ino), encodeInode(rec));
  inodeChanges_.emplace_back(rec.attr.ino, rec);
  count(rec.attr, +1);
}

void MetaTxn::updateInode(const InodeRecord& before, const InodeRecord& after) {
  batch_.Put(inodeKey(after.attr.ino), encodeInode(after));
  inodeChanges_.emplace_back(after.attr.ino, after);
  if (S_ISREG(after.attr.mode)) counters_.bytes = counters_.bytes - before.attr.size + after.attr.size;
}

void MetaTxn::removeInode(const InodeRecord& rec) {
  batch_.Delete(inodeKey(rec.attr.ino));
  inodeChanges_.emplace_back(rec.attr.ino, std::nullopt);
  if (S_ISLNK(rec.attr.mode)) batch_.Delete(linkKey(rec.attr.ino));
  if (rec.flags & kInodeHasXattrs) {
    // Every "X" key of the inode: [prefix(ino), prefix(ino + 1)).
    batch_.DeleteRange(xattrPrefix(rec.attr.ino), xattrPrefix(rec.attr.ino + 1));
  }
  count(rec.attr, -1);
}

void MetaTxn::putLinkTarget(InodeId ino, std::string_view target) {
  batch_.Put(linkKey(ino), rocksdb::Slice(target.data(), target.size()));
}

void MetaTxn::putDentry(InodeId parent, std::string_view name, const DentryRecord& d, bool isNew) {
  batch_.Put(dentryKey(parent, name), encodeDentry(d));
  if (isNew) ++counters_.dentries;
}

void MetaTxn::removeDentry(InodeId parent, std::string_view name) {
  batch_.Delete(dentryKey(parent, name));
  --counters_.dentries;
}

}  // namespace myfs::server
