#include "rpc/convert.h"

namespace myfs::rpc {

// Each struct's fields that travel one to one, as X(WireName, member): the wire getter
// and setter are getWireName / setWireName. One list serves both directions, so the
// two cannot drift apart.
#define MYFS_ATTR_FIELDS(X)                                                                     \
  X(Ino, ino) X(Mode, mode) X(Nlink, nlink) X(Uid, uid) X(Gid, gid) X(Size, size)               \
  X(AtimeNs, atimeNs) X(MtimeNs, mtimeNs) X(CtimeNs, ctimeNs) X(Rdev, rdev) X(Version, version) \
  X(Parent, parent)
#define MYFS_SETATTR_FIELDS(X)                                                                  \
  X(SetMode, setMode) X(Mode, mode) X(SetUid, setUid) X(Uid, uid) X(SetGid, setGid) X(Gid, gid) \
  X(SetSize, setSize) X(Size, size) X(GrowOnly, growOnly) X(SetAtime, setAtime)                 \
  X(AtimeNs, atimeNs) X(SetMtime, setMtime) X(MtimeNs, mtimeNs)
#define MYFS_SHARD_STATS_FIELDS(X)                                                              \
  X(Shard, shard) X(Inodes, inodes) X(Dentries, dentries) X(Directories, directories)           \
  X(Files, files) X(Bytes, bytes)
#define MYFS_DATA_STATS_FIELDS(X)                                                               \
  X(Chunks, chunks) X(Bytes, bytes) X(DiskTotal, diskTotal) X(DiskFree, diskFree)               \
  X(Inodes, inodes)
#define MYFS_MOUNT_INFO_FIELDS(X)                                                               \
  X(ChunkSize, chunkSize) X(ShardIndex, shardIndex) X(ShardCount, shardCount) X(RootIno, rootIno)
#define MYFS_UNLINK_FIELDS(X)                                                                   \
  X(Ino, ino) X(RemoteInode, remoteInode) X(LastLink, lastLink) X(Size, size)
#define MYFS_RENAME_FIELDS(X)                                                                   \
  X(ReplacedIno, replaced.ino) X(ReplacedRemote, replaced.remoteInode)                          \
  X(ReplacedLast, replaced.lastLink) X(ReplacedSize, replaced.size) X(MovedIno, movedIno)
#define MYFS_ADD_ENTRY_FIELDS(X) X(ReplacedIno, replacedIno) X(ReplacedMode, replacedMode)
#define MYFS_LINK_COUNT_FIELDS(X) X(Nlink, nlink) X(Size, size) X(Freed, freed)

// Copy one field from `in` (a Reader) to `out` (a C++ value), or back (`in` a C++
// value, `out` a Builder).
#define MYFS_FROM_WIRE(Wire, member) out.member = in.get##Wire();
#define MYFS_TO_WIRE(Wire, member) out.set##Wire(in.member);

// ---- Structs.

Attr fromWire(schema::Attr::Reader in) {
  Attr out;
  MYFS_ATTR_FIELDS(MYFS_FROM_WIRE)
  return out;
}

void toWire(const Attr& in, schema::Attr::Builder out) { MYFS_ATTR_FIELDS(MYFS_TO_WIRE) }

Cred fromWire(schema::Cred::Reader in) {
  Cred out;
  out.uid = in.getUid();
  out.gid = in.getGid();
  auto groups = in.getGroups();
  out.groups.reserve(groups.size());
  for (std::uint32_t g : groups) out.groups.push_back(g);
  return out;
}

void toWire(const Cred& in, schema::Cred::Builder out) {
  out.setUid(in.uid);
  out.setGid(in.gid);
  auto groups = out.initGroups(static_cast<unsigned>(in.groups.size()));
  for (unsigned i = 0; i < in.groups.size(); ++i) groups.set(i, in.groups[i]);
}

SetAttr fromWire(schema::SetAttrRequest::Reader in) {
  SetAttr out;
  MYFS_SETATTR_FIELDS(MYFS_FROM_WIRE)
  return out;
}

void toWire(const SetAttr& in, schema::SetAttrRequest::Builder out) { MYFS_SETATTR_FIELDS(MYFS_TO_WIRE) }

DirIntent fromWire(schema::DirIntent::Reader d) { return DirIntent{fromWire(d.getAttr()), d.getLeaseTo()}; }

void toWire(const DirIntent& d, schema::DirIntent::Builder b) {
  toWire(d.attr, b.initAttr());
  b.setLeaseTo(d.leaseTo);
}

FileIntent fromWire(schema::FileIntent::Reader f) {
  return FileIntent{fromWire(f.getCred()), f.getParent(), std::string(f.getName().cStr(), f.getName().size()),
                    fromWire(f.getAttr()), f.getGen(), f.getRemove(), f.getLeaseTo(), f.getSeq()};
}

void toWire(const FileIntent& f, schema::FileIntent::Builder b) {
  toWire(f.cred, b.initCred());
  b.setParent(f.parent);
  b.setName(capnp::Text::Reader(f.name.data(), f.name.size()));
  toWire(f.attr, b.initAttr());
  b.setGen(f.gen);
  b.setRemove(f.remove);
  b.setLeaseTo(f.leaseTo);
  b.setSeq(f.seq);
}

Result<Attr> fromWire(schema::AttrResult::Reader in) {
  if (in.getErr() != 0) return Errno(in.getErr());
  Attr a = fromWire(in.getAttr());
  a.leased = in.getLeased();
  return a;
}

void toWire(const Result<Attr>& r, schema::AttrResult::Builder out) {
  out.setErr(r.err());
  if (!r) return;
  toWire(*r, out.initAttr());
  out.setLeased(r->leased);
}

FileLock fromWire(schema::FileLock::Reader in) {
  FileLock out;
  out.kind = static_cast<LockKind>(in.getKind());
  out.type = in.getType();
  out.start = in.getStart();
  out.end = in.getEnd();
  out.owner = in.getOwner();
  out.client = in.getClient();
  out.pid = in.getPid();
  return out;
}

void toWire(const FileLock& in, schema::FileLock::Builder out) {
  out.setKind(static_cast<std::uint8_t>(in.kind));
  out.setType(in.type);
  out.setStart(in.start);
  out.setEnd(in.end);
  out.setOwner(in.owner);
  out.setClient(in.client);
  out.setPid(in.pid);
}

ShardStats fromWire(schema::ShardStats::Reader in) {
  ShardStats out;
  MYFS_SHARD_STATS_FIELDS(MYFS_FROM_WIRE)
  return out;
}

void toWire(const ShardStats& in, schema::ShardStats::Builder out) { MYFS_SHARD_STATS_FIELDS(MYFS_TO_WIRE) }

DataStats fromWire(schema::DataStats::Reader in) {
  DataStats out;
  MYFS_DATA_STATS_FIELDS(MYFS_FROM_WIRE)
  return out;
}

void toWire(const DataStats& in, schema::DataStats::Builder out) { MYFS_DATA_STATS_FIELDS(MYFS_TO_WIRE) }

// ---- MetaService results.

MountInfo fromWire(schema::MetaService::MountInfoResults::Reader in) {
  MountInfo out;
  MYFS_MOUNT_INFO_FIELDS(MYFS_FROM_WIRE)
  return out;
}

void toWire(const MountInfo& in, schema::MetaService::MountInfoResults::Builder out) {
  MYFS_MOUNT_INFO_FIELDS(MYFS_TO_WIRE)
}

Result<CreateResult> fromWire(schema::MetaService::CreateResults::Reader in) {
  MYFS_ASSIGN_OR_RETURN(attr, fromWire(in.getResult()));
  return CreateResult{attr, in.getCreated(), in.getWriteLeased() ? in.getWriteLeaseGen() : 0};
}

void toWire(const Result<CreateResult>& r, schema::MetaService::CreateResults::Builder out) {
  auto result = out.initResult();
  result.setErr(r.err());
  if (!r) return;
  toWire(r->attr, result.initAttr());
  result.setLeased(r->attr.leased);
  out.setCreated(r->created);
  out.setWriteLeased(r->writeLease != 0);
  out.setWriteLeaseGen(r->writeLease);
}

namespace {

// The entries of a readdir page or a delegation.
std::vector<DirEntry> entriesFromWire(capnp::List<schema::Dirent>::Reader in) {
  std::vector<DirEntry> out;
  out.reserve(in.size());
  for (auto e : in) out.push_back(DirEntry{std::string(e.getName().cStr(), e.getName().size()), e.getIno(), e.getType()});
  return out;
}

void entriesToWire(const std::vector<DirEntry>& in, capnp::List<schema::Dirent>::Builder out) {
  for (unsigned i = 0; i < in.size(); ++i) {
    const DirEntry& e = in[i];
    out[i].setName(capnp::Text::Reader(e.name.data(), e.name.size()));
    out[i].setIno(e.ino);
    out[i].setType(e.type);
  }
}

}  // namespace

Result<DirPage> fromWire(schema::MetaService::ReaddirResults::Reader in) {
  if (in.getErr() != 0) return Errno(in.getErr());
  DirPage out;
  out.entries = entriesFromWire(in.getEntries());
  auto next = in.getNextCookie();
  out.nextCookie.assign(reinterpret_cast<const char*>(next.begin()), next.size());
  out.eof = in.getEof();
  return out;
}

void toWire(const Result<DirPage>& r, schema::MetaService::ReaddirResults::Builder out) {
  out.setErr(r.err());
  if (!r) return;
  entriesToWire(r->entries, out.initEntries(static_cast<unsigned>(r->entries.size())));
  const std::string& next = r->nextCookie;
  out.setNextCookie(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(next.data()), next.size()));
  out.setEof(r->eof);
}

Result<DirDelegation> fromWire(schema::MetaService::DelegateDirResults::Reader in) {
  if (in.getErr() != 0) return Errno(in.getErr());
  DirDelegation out;
  out.gen = in.getGen();
  out.attr = fromWire(in.getAttr());
  out.entries = entriesFromWire(in.getEntries());
  out.numbers = InodeRange{in.getFirst(), in.getCount()};
  out.listed = !in.getUnlisted();
  out.removals = in.getRemovals();
  return out;
}

void toWire(const Result<DirDelegation>& r, schema::MetaService::DelegateDirResults::Builder out) {
  out.setErr(r.err());
  if (!r) return;
  out.setGen(r->gen);
  toWire(r->attr, out.initAttr());
  entriesToWire(r->entries, out.initEntries(static_cast<unsigned>(r->entries.size())));
  out.setFirst(r->numbers.first);
  out.setCount(r->numbers.count);
  out.setUnlisted(!r->listed);
  out.setRemovals(r->removals);
}

Result<UnlinkResult> fromWire(schema::MetaService::UnlinkResults::Reader in) {
  if (in.getErr() != 0) return Errno(in.getErr());
  UnlinkResult out;
  MYFS_UNLINK_FIELDS(MYFS_FROM_WIRE)
  return out;
}

void toWire(const Result<UnlinkResult>& r, schema::MetaService::UnlinkResults::Builder out) {
  out.setErr(r.err());
  if (!r) return;
  const UnlinkResult& in = *r;
  MYFS_UNLINK_FIELDS(MYFS_TO_WIRE)
}

Result<RenameResult> fromWire(schema::MetaService::RenameResults::Reader in) {
  if (in.getErr() != 0) return Errno(in.getErr());
  RenameResult out;
  MYFS_RENAME_FIELDS(MYFS_FROM_WIRE)
  return out;
}

void toWire(const Result<RenameResult>& r, schema::MetaService::RenameResults::Builder out) {
  out.setErr(r.err());
  if (!r) return;
  const RenameResult& in = *r;
  MYFS_RENAME_FIELDS(MYFS_TO_WIRE)
}

Result<AddEntryResult> fromWire(schema::MetaService::AddEntryResults::Reader in) {
  if (in.getErr() != 0) return Errno(in.getErr());
  AddEntryResult out;
  MYFS_ADD_ENTRY_FIELDS(MYFS_FROM_WIRE)
  return out;
}

void toWire(const Result<AddEntryResult>& r, schema::MetaService::AddEntryResults::Builder out) {
  out.setErr(r.err());
  if (!r) return;
  const AddEntryResult& in = *r;
  MYFS_ADD_ENTRY_FIELDS(MYFS_TO_WIRE)
}

Result<LinkCountResult> fromWire(schema::MetaService::LinkCountResults::Reader in) {
  if (in.getErr() != 0) return Errno(in.getErr());
  LinkCountResult out;
  MYFS_LINK_COUNT_FIELDS(MYFS_FROM_WIRE)
  return out;
}

void toWire(const Result<LinkCountResult>& r, schema::MetaService::LinkCountResults::Builder out) {
  out.setErr(r.err());
  if (!r) return;
  const LinkCountResult& in = *r;
  MYFS_LINK_COUNT_FIELDS(MYFS_TO_WIRE)
}

#undef MYFS_TO_WIRE
#undef MYFS_FROM_WIRE
#undef MYFS_LINK_COUNT_FIELDS
#undef MYFS_ADD_ENTRY_FIELDS
#undef MYFS_RENAME_FIELDS
#undef MYFS_UNLINK_FIELDS
#undef MYFS_MOUNT_INFO_FIELDS
#undef MYFS_DATA_STATS_FIELDS
#undef MYFS_SHARD_STATS_FIELDS
#undef MYFS_SETATTR_FIELDS
#undef MYFS_ATTR_FIELDS

}  // namespace myfs::rpc
