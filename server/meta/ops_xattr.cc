// MetaStore: extended attributes (getxattr, setxattr, listxattr, removexattr).
//
// One key per attribute, "X" + ino + name (docs/server.md), its value the raw bytes. An
// inode that ever had one carries kInodeHasXattrs, so that removing the inode deletes
// its attributes' key range in the same batch (MetaTxn::removeInode) and listing an
// inode without attributes reads nothing.
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <sys/stat.h>

#include "server/log.h"
#include "server/meta/key_range.h"
#include "server/meta/meta_store.h"

namespace myfs::server {
namespace {

enum class XattrNs { kUser, kTrusted, kSecurity, kSystem, kUnknown };

struct XattrName {
  XattrNs ns = XattrNs::kUnknown;
  bool emptySuffix = false;  // "user." and the like: EINVAL
};

XattrName classify(std::string_view name) {
  static constexpr struct {
    std::string_view prefix;
    XattrNs ns;
  } kNamespaces[] = {{"user.", XattrNs::kUser},
                     {"trusted.", XattrNs::kTrusted},
                     {"security.", XattrNs::kSecurity},
                     {"system.", XattrNs::kSystem}};
  for (const auto& n : kNamespaces) {
    if (name.substr(0, n.prefix.size()) == n.prefix) return {n.ns, name.size() == n.prefix.size()};
  }
  return {};
}

// Linux's xattr_permission(): the namespace rules, then read or write permission.
Result<void> xattrPermission(const Attr& a, const Cred& cred, XattrNs ns, bool write) {
  const bool root = cred.uid == 0;
  switch (ns) {
    case XattrNs::kSecurity:
    case XattrNs::kSystem:
      return okResult();  // left to the file system / security module
    case XattrNs::kTrusted:
      if (!root) return Errno(write ? EPERM : ENODATA);
      break;
    case XattrNs::kUser:
      if (!a.isReg() && !a.isDir()) return Errno(write ? EPERM : ENODATA);
      if (write && a.isDir() && (a.mode & S_ISVTX) && !root && cred.uid != a.uid) return Errno(EPERM);
      break;
    case XattrNs::kUnknown:
      break;
  }
  if (!mayAccess(a, cred, write ? kMayWrite : kMayRead)) return Errno(EACCES);
  return okResult();
}

// The checks every call makes on a name before looking at the inode (the system call's
// own, repeated here for callers other than the client) and after the permission check
// (the handler lookup).
Result<void> checkNameLength(std::string_view name) {
  if (name.empty() || name.size() > kXattrNameMax) return Errno(ERANGE);
  return okResult();
}

Result<void> checkHandler(const XattrName& n) {
  if (n.ns == XattrNs::kUnknown || n.ns == XattrNs::kSystem) return Errno(EOPNOTSUPP);
  if (n.emptySuffix) return Errno(EINVAL);
  return okResult();
}


// The attributes of one inode ("X" + ino + name), in name order.
class XattrIterator : public KeyRangeIterator {
 public:
  XattrIterator(rocksdb::DB& db, InodeId ino) : KeyRangeIterator(db, xattrPrefix(ino), xattrPrefix(ino + 1)) {
    (*this)->Seek(prefix());
  }
  bool valid() { return (*this)->Valid(); }
  void next() { (*this)->Next(); }
  std::string_view name() const { return suffix(); }
  rocksdb::Status status() { return (*this)->status(); }
};

}  // namespace

Result<std::string> MetaStore::getxattr(const Cred& cred, InodeId ino, std::string_view name) {
  MYFS_TRY(checkNameLength(name));
  MYFS_ASSIGN_OR_RETURN(rec, loadInode(ino));
  const XattrName n = classify(name);
  MYFS_TRY(xattrPermission(rec.attr, cred, n.ns, false));
  MYFS_TRY(checkHandler(n));
  if (!(rec.flags & kInodeHasXattrs)) return Errno(ENODATA);
  std::string value;
  noRocksdbPerfCounters();
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), xattrKey(ino, name), &value);
  if (s.IsNotFound()) return Errno(ENODATA);
  if (!s.ok()) return dbError("read xattr", s);
  return value;
}

Result<Attr> MetaStore::setxattr(const Cred& cred, InodeId ino, std::string_view name, std::string_view value,
                                 std::uint32_t flags) {
  if ((flags & ~(kXattrCreate | kXattrReplace)) != 0) return Errno(EINVAL);
  MYFS_TRY(checkNameLength(name));
  if (value.size() > kXattrSizeMax) return Errno(E2BIG);
  std::lock_guard<std::mutex> lock(mu_);
  MYFS_ASSIGN_OR_RETURN(rec, loadInode(ino));
  const XattrName n = classify(name);
  MYFS_TRY(xattrPermission(rec.attr, cred, n.ns, true));
  if (n.ns == XattrNs::kSecurity && cred.uid != 0) return Errno(EPERM);  // cap_inode_setxattr
  MYFS_TRY(checkHandler(n));

  // Whether it exists, and the length of the inode's name list with it.
  bool exists = false;
  std::size_t listBytes = name.size() + 1;
  if (rec.flags & kInodeHasXattrs) {
    XattrIterator it(*db_, ino);
    for (; it.valid(); it.next()) {
      if (it.name() == name) {
        exists = true;
      } else {
        listBytes += it.name().size() + 1;
      }
    }
    if (!it.status().ok()) return dbError("list xattrs", it.status());
  }
  if (exists && (flags & kXattrCreate)) return Errno(EEXIST);
  if (!exists && (flags & kXattrReplace)) return Errno(ENODATA);
  if (listBytes > kXattrListMax) return Errno(ENOSPC);

  InodeRecord after = rec;
  after.flags |= kInodeHasXattrs;
  after.attr.ctimeNs = nowNs();
  ++after.attr.version;
  MetaTxn txn = beginTxn();
  txn.batch().Put(xattrKey(ino, name), rocksdb::Slice(value.data(), value.size()));
  txn.updateInode(rec, after);
  MYFS_TRY(commit(txn));
  return after.attr;
}

Result<std::vector<std::string>> MetaStore::listxattr(const Cred& cred, InodeId ino) {
  MYFS_ASSIGN_OR_RETURN(rec, loadInode(ino));
  std::vector<std::string> names;
  if (!(rec.flags & kInodeHasXattrs)) return names;
  XattrIterator it(*db_, ino);
  for (; it.valid(); it.next()) {
    std::string_view name = it.name();
    if (classify(name).ns == XattrNs::kTrusted && cred.uid != 0) continue;
    names.emplace_back(name);
  }
  if (!it.status().ok()) return dbError("list xattrs", it.status());
  return names;
}

Result<Attr> MetaStore::removexattr(const Cred& cred, InodeId ino, std::string_view name) {
  MYFS_TRY(checkNameLength(name));
  std::lock_guard<std::mutex> lock(mu_);
  MYFS_ASSIGN_OR_RETURN(rec, loadInode(ino));
  const XattrName n = classify(name);
  MYFS_TRY(xattrPermission(rec.attr, cred, n.ns, true));
  if (n.ns == XattrNs::kSecurity && cred.uid != 0) return Errno(EPERM);  // cap_inode_removexattr
  MYFS_TRY(checkHandler(n));
  if (!(rec.flags & kInodeHasXattrs)) return Errno(ENODATA);
  std::string value;
  noRocksdbPerfCounters();
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), xattrKey(ino, name), &value);
  if (s.IsNotFound()) return Errno(ENODATA);
  if (!s.ok()) return dbError("read xattr", s);

  InodeRecord after = rec;
  after.attr.ctimeNs = nowNs();
  ++after.attr.version;
  MetaTxn txn = beginTxn();
  txn.batch().Delete(xattrKey(ino, name));
  txn.updateInode(rec, after);
  MYFS_TRY(commit(txn));
  return after.attr;
}

}  // namespace myfs::server
