// MetaStore: opening/formatting, shared helpers and the read-only operations.
#include "server/meta/meta_store.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>

#include <chrono>

#include "server/log.h"
#include "server/meta/key_range.h"
#include "server/meta/mapped_wal.h"
#include "server/meta/ordered_memtable.h"

namespace myfs::server {
namespace {

rocksdb::WriteOptions writeOptions() {
  rocksdb::WriteOptions w;
  // WAL on, no fsync per batch: a write handed to the OS survives kill -9 of the
  // process (not a power loss); see docs/server.md.
  w.sync = false;
  w.disableWAL = false;
  return w;
}

// The shard's counters from its records: every inode record counts (pending and orphaned
// ones too, as MetaTxn counts them), and every dentry.
std::optional<ShardCounters> recount(rocksdb::DB& db) {
  ShardCounters c;
  const std::string inodes(1, kInodePrefix), dentries(1, kDentryPrefix);
  {
    KeyRangeIterator it(db, inodes, std::string(1, kInodePrefix + 1));
    for (it->Seek(inodes); it->Valid(); it->Next()) {
      std::string_view key = it.suffix();
      InodeId ino = 0;
      for (unsigned char ch : key) ino = ino << 8 | ch;
      rocksdb::Slice v = it->value();
      std::optional<InodeRecord> rec = decodeInode(ino, std::string_view(v.data(), v.size()));
      if (!rec) return std::nullopt;
      ++c.inodes;
      if (S_ISDIR(rec->attr.mode)) ++c.directories;
      if (S_ISREG(rec->attr.mode)) {
        ++c.files;
        c.bytes += rec->attr.size;
      }
    }
    if (!it->status().ok()) return std::nullopt;
  }
  KeyRangeIterator it(db, dentries, std::string(1, kDentryPrefix + 1));
  for (it->Seek(dentries); it->Valid(); it->Next()) ++c.dentries;
  if (!it->status().ok()) return std::nullopt;
  return c;
}

bool validChunkSize(std::uint32_t c) {
  return c >= (64u << 10) && c <= (64u << 20) && (c & (c - 1)) == 0;
}

// The dentry keys of one directory (dentryPrefix(dir) + suffix).
class DentryIterator : public KeyRangeIterator {
 public:
  DentryIterator(rocksdb::DB& db, InodeId dir) : KeyRangeIterator(db, dentryPrefix(dir), dentryPrefix(dir + 1)) {}
};

}  // namespace

Errno dbError(const char* what, const rocksdb::Status& s) {
  logLine("metadata store: %s: %s", what, s.ToString().c_str());
  return Errno(EIO);
}

Result<void> checkName(std::string_view name) {
  if (name.empty()) return Errno(ENOENT);
  if (name.size() > kNameMax) return Errno(ENAMETOOLONG);
  if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    return Errno(EINVAL);
  }
  return okResult();
}

Result<void> checkEntryName(std::string_view name, int dotsErr) {
  if (name == "." || name == "..") return Errno(dotsErr);
  return checkName(name);
}

MetaStore::MetaStore(std::unique_ptr<rocksdb::DB> db, SuperBlockRecord sb, ShardCounters counters,
                     std::uint64_t nextSeq)
    : db_(std::move(db)), sb_(sb), counters_(counters), nextSeq_(nextSeq), reservedSeq_(nextSeq) {}

MetaStore::~MetaStore() {
  if (db_) {
    rocksdb::WriteOptions w = writeOptions();
    w.sync = true;
    rocksdb::Status s = db_->Put(w, kStatsKey, encodeCounters(counters_));
    if (!s.ok()) logLine("metadata store: saving the counters: %s (counted again at the next open)", s.ToString().c_str());
    s = db_->Close();
    if (!s.ok()) logLine("metadata store: close: %s", s.ToString().c_str());
  }
}

std::unique_ptr<MetaStore> MetaStore::open(const MetaStoreOptions& opts, std::string* error) {
  if (opts.shardCount == 0 || opts.shardCount > 65536 || opts.shardIndex >= opts.shardCount) {
    *error = "invalid shard " + std::to_string(opts.shardIndex) + " of " + std::to_string(opts.shardCount);
    return nullptr;
  }
  rocksdb::Options o;
  o.create_if_missing = true;
  o.env = mappedWalEnv();
  o.IncreaseParallelism(2);
  if (opts.memtableBytes != 0) o.write_buffer_size = opts.memtableBytes;
  // Most writes first look up a name that does not exist yet (create, mkdir, rename's
  // target): a bloom filter over the memtable's keys answers those without a skiplist
  // search.
  o.memtable_prefix_bloom_size_ratio = 0.1;
  o.memtable_whole_key_filtering = true;
  // The same for the table files a long-lived shard flushes to: a bloom filter per file
  // (10 bits a key, ~1% false positives), so a name that exists nowhere costs no block
  // read in any of them.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  o.allow_concurrent_memtable_write = false;  // one writer (mu_), as the memtable requires
  o.memtable_factory = orderedMemTableFactory();
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, opts.dir, &raw);
  if (!s.ok()) {
    *error = "cannot open metadata store in " + opts.dir + ": " + s.ToString();
    return nullptr;
  }
  std::unique_ptr<rocksdb::DB> db(raw);

  std::string value;
  s = db->Get(rocksdb::ReadOptions(), kSuperKey, &value);
  SuperBlockRecord sb;
  if (s.IsNotFound()) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    it->SeekToFirst();
    if (it->Valid()) {
      *error = "metadata store in " + opts.dir + " has data but no superblock: not a myfs shard";
      return nullptr;
    }
    if (!validChunkSize(opts.chunkSize)) {
      *error = "chunk size " + std::to_string(opts.chunkSize) +
               " is not a power of two between 65536 and 67108864";
      return nullptr;
    }
    sb.chunkSize = opts.chunkSize;
    sb.shardIndex = opts.shardIndex;
    sb.shardCount = opts.shardCount;
    ShardCounters counters;
    rocksdb::WriteBatch batch;
    std::uint64_t nextSeq = 1;
    if (opts.shardIndex == 0) {
      InodeRecord root;
      Attr& a = root.attr;
      a.ino = kRootIno;
      a.mode = S_IFDIR | 0755;
      a.nlink = 2;
      a.uid = opts.rootUid;
      a.gid = opts.rootGid;
      a.atimeNs = a.mtimeNs = a.ctimeNs = nowNs();
      a.version = 1;
      a.parent = kRootIno;
      batch.Put(inodeKey(kRootIno), encodeInode(root));
      counters.inodes = 1;
      counters.directories = 1;
      nextSeq = kRootIno + 1;
    }
    batch.Put(kSuperKey, encodeSuperBlock(sb));
    batch.Put(kCounterKey, encodeU64(nextSeq));
    rocksdb::WriteOptions w = writeOptions();
    w.sync = true;
    s = db->Write(w, &batch);
    if (!s.ok()) {
      *error = "cannot format metadata store in " + opts.dir + ": " + s.ToString();
      return nullptr;
    }
    logLine("formatted metadata shard %u of %u in %s (chunk size %u)", sb.shardIndex, sb.shardCount,
            opts.dir.c_str(), sb.chunkSize);
    return std::unique_ptr<MetaStore>(new MetaStore(std::move(db), sb, counters, nextSeq));
  }
  if (!s.ok()) {
    *error = "cannot read superblock in " + opts.dir + ": " + s.ToString();
    return nullptr;
  }
  std::optional<SuperBlockRecord> stored = decodeSuperBlock(value);
  if (!stored || stored->formatVersion != kFormatVersion) {
    *error = "metadata store in " + opts.dir + " has an unknown format";
    return nullptr;
  }
  if (stored->shardIndex != opts.shardIndex || stored->shardCount != opts.shardCount) {
    *error = "metadata store in " + opts.dir + " belongs to shard " + std::to_string(stored->shardIndex) + " of " +
             std::to_string(stored->shardCount) + ", not shard " + std::to_string(opts.shardIndex) + " of " +
             std::to_string(opts.shardCount);
    return nullptr;
  }
  std::string seqValue;
  std::string statsValue;
  std::optional<std::uint64_t> seq;
  std::optional<ShardCounters> counters;
  if (db->Get(rocksdb::ReadOptions(), kCounterKey, &seqValue).ok()) seq = decodeU64(seqValue);
  s = db->Get(rocksdb::ReadOptions(), kStatsKey, &statsValue);
  if (s.ok()) {
    // Counted up to a clean close. From now on only memory keeps them: the key goes, so
    // that a stop without a close is recounted at the next open.
    counters = decodeCounters(statsValue);
    if (counters) s = db->Delete(writeOptions(), kStatsKey);
  } else if (s.IsNotFound()) {
    auto start = std::chrono::steady_clock::now();
    counters = recount(*db);
    s = rocksdb::Status::OK();
    if (counters) logLine("metadata store in %s was not closed: counted %llu inodes and %llu entries again in %.0f ms",
            opts.dir.c_str(), static_cast<unsigned long long>(counters->inodes),
            static_cast<unsigned long long>(counters->dentries),
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  if (!s.ok() || !seq || !counters) {
    *error = "metadata store in " + opts.dir + " is damaged (inode counter or statistics unreadable)";
    return nullptr;
  }
  return std::unique_ptr<MetaStore>(new MetaStore(std::move(db), *stored, *counters, *seq));
}

MountInfo MetaStore::mountInfo() const {
  MountInfo m;
  m.chunkSize = sb_.chunkSize;
  m.shardIndex = sb_.shardIndex;
  m.shardCount = sb_.shardCount;
  m.rootIno = kRootIno;
  return m;
}

// ---- helpers

Result<InodeRecord> MetaStore::loadInode(InodeId ino) const {
  if (!isLocal(ino) || ino == 0) return Errno(ENOENT);
  if (std::optional<InodeRecord> hit = inodes_.get(ino)) return *hit;
  const std::uint64_t generation = inodes_.generation();
  std::string value;
  noRocksdbPerfCounters();
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), inodeKey(ino), &value);
  if (s.IsNotFound()) return Errno(ENOENT);
  if (!s.ok()) return dbError("read inode", s);
  std::optional<InodeRecord> rec = decodeInode(ino, value);
  if (!rec) {
    logLine("metadata store: inode %#llx: corrupt record", static_cast<unsigned long long>(ino));
    return Errno(EIO);
  }
  inodes_.fill(*rec, generation);
  return *rec;
}

Result<InodeRecord> MetaStore::loadSearchableDir(const Cred& cred, InodeId dir) const {
  MYFS_ASSIGN_OR_RETURN(rec, loadInode(dir));
  if (!rec.attr.isDir()) return Errno(ENOTDIR);
  if (!mayAccess(rec.attr, cred, kMayExec)) return Errno(EACCES);
  return rec;
}

Result<std::optional<DentryRecord>> MetaStore::loadDentry(InodeId parent, std::string_view name) const {
  std::string value;
  noRocksdbPerfCounters();
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), dentryKey(parent, name), &value);
  if (s.IsNotFound()) return std::optional<DentryRecord>();
  if (!s.ok()) return dbError("read dentry", s);
  std::optional<DentryRecord> d = decodeDentry(value);
  if (!d) {
    logLine("metadata store: dentry in %#llx: corrupt record", static_cast<unsigned long long>(parent));
    return Errno(EIO);
  }
  return d;
}

Result<bool> MetaStore::hasEntries(InodeId dir) const {
  DentryIterator it(*db_, dir);
  it->Seek(it.prefix());
  if (!it->status().ok()) return dbError("scan directory", it->status());
  return it->Valid();
}

Result<bool> MetaStore::isAncestorOrSelf(InodeId ancestor, InodeId ino) const {
  for (int steps = 0; steps < 65536; ++steps) {
    if (ino == ancestor) return true;
    if (ino == kRootIno || !isLocal(ino)) return false;
    Result<InodeRecord> rec = loadInode(ino);
    if (!rec) {
      if (rec.err() == ENOENT) return false;
      return rec.error();
    }
    if (!rec->attr.isDir() || rec->attr.parent == ino || rec->attr.parent == 0) return false;
    ino = rec->attr.parent;
  }
  logLine("metadata store: parent chain of %#llx does not end", static_cast<unsigned long long>(ino));
  return Errno(EIO);
}

bool MetaStore::stickyAllows(const Cred& cred, const Attr& dir, std::optional<std::uint32_t> victimUid) {
  if (!(dir.mode & S_ISVTX) || cred.uid == 0 || cred.uid == dir.uid) return true;
  // A remote victim's owner is checked by the client (see unlink's contract).
  return !victimUid || *victimUid == cred.uid;
}

Result<Attr> MetaStore::attrOfEntry(const DentryRecord& d) const {
  if (isLocal(d.ino)) {
    MYFS_ASSIGN_OR_RETURN(rec, loadInode(d.ino));
    return rec.attr;
  }
  Attr a;
  a.ino = d.ino;
  a.mode = d.type & S_IFMT;
  a.nlink = 0;
  return a;
}

Result<InodeRecord> MetaStore::newInode(MetaTxn& txn, const Cred& cred, const InodeRecord* parent,
                                        std::uint32_t mode, InodeId chosen, std::int64_t stampNs) {
  if (chosen == 0 && txn.nextSeq() > kMaxSeq) return Errno(ENOSPC);
  InodeRecord rec;
  const InodeId ino = chosen != 0 ? chosen : makeInodeId(sb_.shardIndex, txn.takeSeq());
  rec.attr = newInodeAttr(cred, parent ? &parent->attr : nullptr, mode, ino, stampNs != 0 ? stampNs : nowNs());
  return rec;
}

std::optional<InodeId> MetaStore::entryIno(InodeId parent, std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (name.empty() || name.size() > kNameMax) return std::nullopt;
  Result<std::optional<DentryRecord>> d = loadDentry(parent, name);
  if (!d || !*d) return std::nullopt;
  return (*d)->ino;
}

UnlinkResult MetaStore::unlinkInode(MetaTxn& txn, const DentryRecord& entry, const std::optional<InodeRecord>& inode,
                                    std::int64_t now) {
  UnlinkResult out;
  out.ino = entry.ino;
  if (!inode) {
    out.remoteInode = true;
  } else if (S_ISDIR(entry.type) || (inode->attr.nlink <= 1 && !(heldOpen_ && heldOpen_(entry.ino)))) {
    txn.removeInode(*inode);
    out.lastLink = true;
    out.size = inode->attr.size;
  } else {
    InodeRecord after = *inode;
    --after.attr.nlink;
    if (after.attr.nlink == 0) after.flags |= kInodeOrphan;
    after.attr.ctimeNs = now;
    ++after.attr.version;
    txn.updateInode(*inode, after);
  }
  return out;
}

void MetaStore::touchDir(InodeRecord& dir, std::int64_t now) {
  dir.attr.mtimeNs = now;
  dir.attr.ctimeNs = now;
  ++dir.attr.version;
}

Result<void> MetaStore::commit(MetaTxn& txn) {
  rocksdb::WriteBatch& b = txn.batch();
  // Inode numbers are reserved in blocks: the stored counter is where a restart goes on
  // from, so one write covers kSeqBlock creations (a restart skips the unused rest).
  std::uint64_t reserved = reservedSeq_;
  if (txn.nextSeq() > reserved) {
    reserved = std::min<std::uint64_t>(txn.nextSeq() + kSeqBlock, kMaxSeq + 1);
    b.Put(kCounterKey, encodeU64(reserved));
  }
  if (b.Count() > 0) {
    noRocksdbPerfCounters();
    rocksdb::Status s = db_->Write(writeOptions(), &b);
    if (!s.ok()) return dbError("write batch", s);
  }
  for (const auto& [ino, rec] : txn.inodeChanges()) {
    if (rec) {
      inodes_.put(*rec);
    } else {
      inodes_.erase(ino);
    }
  }
  counters_ = txn.counters();
  nextSeq_ = txn.nextSeq();
  reservedSeq_ = reserved;
  return okResult();
}

// ---- read-only operations

Result<Attr> MetaStore::lookup(const Cred& cred, InodeId parent, std::string_view name,
                               std::optional<DirIntent>* intent) {
  MYFS_ASSIGN_OR_RETURN(dir, loadSearchableDir(cred, parent));
  if (name.empty()) return Errno(ENOENT);
  if (name.size() > kNameMax) return Errno(ENAMETOOLONG);
  if (name == ".") return dir.attr;
  if (name == "..") {
    DentryRecord up{dir.attr.parent, S_IFDIR};
    return attrOfEntry(up);
  }
  MYFS_TRY(checkName(name));
  MYFS_ASSIGN_OR_RETURN(d, loadDentry(parent, name));
  if (!d) return Errno(ENOENT);
  if (intent != nullptr) *intent = d->intent;
  return attrOfEntry(*d);
}

Result<Attr> MetaStore::getattr(InodeId ino) {
  MYFS_ASSIGN_OR_RETURN(rec, loadInode(ino));
  return rec.attr;
}

Result<std::string> MetaStore::readlink(InodeId ino) {
  MYFS_ASSIGN_OR_RETURN(rec, loadInode(ino));
  if (!rec.attr.isLink()) return Errno(EINVAL);
  std::string target;
  noRocksdbPerfCounters();
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), linkKey(ino), &target);
  if (!s.ok()) {
    if (s.IsNotFound()) logLine("metadata store: symlink %#llx has no target", static_cast<unsigned long long>(ino));
    return dbError("read symlink", s);
  }
  return target;
}

Result<DirPage> MetaStore::readdir(const Cred& cred, InodeId ino, std::string_view cookie,
                                   std::uint32_t maxEntries) {
  MYFS_ASSIGN_OR_RETURN(dir, loadInode(ino));
  if (!dir.attr.isDir()) return Errno(ENOTDIR);
  if (!mayAccess(dir.attr, cred, kMayRead)) return Errno(EACCES);
  if (!cookie.empty() && cookie.size() < 4) return Errno(EINVAL);
  if (maxEntries == 0 || maxEntries > kReaddirMaxEntries) maxEntries = kReaddirMaxEntries;

  DentryIterator it(*db_, ino);
  const std::string& prefix = it.prefix();
  std::string start = prefix;
  start.append(cookie);
  it->Seek(start);
  if (!cookie.empty() && it->Valid() && it->key() == rocksdb::Slice(start)) it->Next();

  DirPage page;
  page.nextCookie.assign(cookie);
  while (it->Valid() && page.entries.size() < maxEntries) {
    rocksdb::Slice key = it->key();
    std::optional<DentryRecord> d = decodeDentry(it->value().ToStringView());
    if (key.size() < prefix.size() + 4 || !d) {
      logLine("metadata store: directory %#llx: corrupt dentry", static_cast<unsigned long long>(ino));
      return Errno(EIO);
    }
    DirEntry e;
    e.name.assign(key.data() + prefix.size() + 4, key.size() - prefix.size() - 4);
    e.ino = d->ino;
    e.type = direntType(d->type);
    page.nextCookie.assign(key.data() + prefix.size(), key.size() - prefix.size());
    page.entries.push_back(std::move(e));
    it->Next();
  }
  if (!it->status().ok()) return dbError("scan directory", it->status());
  page.eof = !it->Valid();
  return page;
}

ShardStats MetaStore::statfs() const {
  std::lock_guard<std::mutex> lock(mu_);
  ShardStats s;
  s.shard = sb_.shardIndex;
  s.inodes = counters_.inodes;
  s.dentries = counters_.dentries;
  s.directories = counters_.directories;
  s.files = counters_.files;
  s.bytes = counters_.bytes;
  return s;
}

}  // namespace myfs::server
