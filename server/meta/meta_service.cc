#include "server/meta/meta_service.h"

#include <string_view>

#include "server/meta/wire.h"

namespace myfs::server {
namespace {

// Result size hints (words): an AttrResult and its Attr, plus a few scalars.
constexpr capnp::MessageSize kAttrResultSize{24, 0};
constexpr capnp::MessageSize kSmallResultSize{8, 0};

std::string_view text(capnp::Text::Reader t) { return std::string_view(t.cStr(), t.size()); }

std::string_view bytes(capnp::Data::Reader d) {
  return std::string_view(reinterpret_cast<const char*>(d.begin()), d.size());
}

capnp::Data::Reader asData(std::string_view s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

}  // namespace

kj::Promise<void> MetaServiceImpl::openSession(OpenSessionContext context) {
  auto p = context.getParams();
  std::uint64_t id = sessions_.open(p.getCallback(), std::string(text(p.getClientName())));
  context.getResults(kSmallResultSize).setSessionId(id);
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::mountInfo(MountInfoContext context) {
  MountInfo m = store_.mountInfo();
  auto r = context.getResults(kSmallResultSize);
  r.setChunkSize(m.chunkSize);
  r.setShardIndex(m.shardIndex);
  r.setShardCount(m.shardCount);
  r.setRootIno(m.rootIno);
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::lookup(LookupContext context) {
  auto p = context.getParams();
  Result<Attr> r = store_.lookup(credFromWire(p.getCred()), p.getParent(), text(p.getName()));
  attrResultToWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::getattr(GetattrContext context) {
  Result<Attr> r = store_.getattr(context.getParams().getIno());
  attrResultToWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::setattr(SetattrContext context) {
  auto p = context.getParams();
  Result<Attr> r = store_.setattr(credFromWire(p.getCred()), p.getIno(), setAttrFromWire(p.getReq()));
  attrResultToWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::create(CreateContext context) {
  auto p = context.getParams();
  Result<CreateResult> r = store_.create(credFromWire(p.getCred()), p.getParent(), text(p.getName()), p.getMode(),
                                         p.getExclusive(), p.getRdev());
  auto out = context.getResults(kAttrResultSize);
  auto res = out.initResult();
  res.setErr(r.err());
  if (r) {
    attrToWire(r->attr, res.initAttr());
    out.setCreated(r->created);
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::mkdir(MkdirContext context) {
  auto p = context.getParams();
  Result<Attr> r = store_.mkdir(credFromWire(p.getCred()), p.getParent(), text(p.getName()), p.getMode());
  attrResultToWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::symlink(SymlinkContext context) {
  auto p = context.getParams();
  Result<Attr> r =
      store_.symlink(credFromWire(p.getCred()), p.getParent(), text(p.getName()), text(p.getTarget()));
  attrResultToWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::readlink(ReadlinkContext context) {
  Result<std::string> r = store_.readlink(context.getParams().getIno());
  auto out = context.getResults(capnp::MessageSize{4 + (r ? r->size() / 8 + 1 : 0), 0});
  out.setErr(r.err());
  if (r) out.setTarget(capnp::Text::Reader(r->data(), r->size()));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::readdir(ReaddirContext context) {
  auto p = context.getParams();
  Result<ReaddirPage> r =
      store_.readdir(credFromWire(p.getCred()), p.getIno(), bytes(p.getCookie()), p.getMaxEntries());
  if (!r) {
    context.getResults(kSmallResultSize).setErr(r.err());
    return kj::READY_NOW;
  }
  std::size_t words = 8 + r->nextCookie.size() / 8;
  for (const DirEntry& e : r->entries) words += 4 + e.name.size() / 8 + 1;
  auto out = context.getResults(capnp::MessageSize{words, 0});
  out.setErr(0);
  auto list = out.initEntries(static_cast<unsigned>(r->entries.size()));
  for (unsigned i = 0; i < r->entries.size(); ++i) {
    const DirEntry& e = r->entries[i];
    list[i].setName(capnp::Text::Reader(e.name.data(), e.name.size()));
    list[i].setIno(e.ino);
    list[i].setType(e.type);
  }
  out.setNextCookie(asData(r->nextCookie));
  out.setEof(r->eof);
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::unlink(UnlinkContext context) {
  auto p = context.getParams();
  Result<UnlinkResult> r = store_.unlink(credFromWire(p.getCred()), p.getParent(), text(p.getName()), p.getIsDir());
  auto out = context.getResults(kSmallResultSize);
  out.setErr(r.err());
  if (r) {
    out.setIno(r->ino);
    out.setRemoteInode(r->remoteInode);
    out.setLastLink(r->lastLink);
    out.setSize(r->size);
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::rename(RenameContext context) {
  auto p = context.getParams();
  Result<RenameResult> r = store_.rename(credFromWire(p.getCred()), p.getSrcParent(), text(p.getSrcName()),
                                         p.getDstParent(), text(p.getDstName()), p.getFlags());
  auto out = context.getResults(kSmallResultSize);
  out.setErr(r.err());
  if (r) {
    out.setReplacedIno(r->replacedIno);
    out.setReplacedRemote(r->replacedRemote);
    out.setReplacedLast(r->replacedLast);
    out.setReplacedSize(r->replacedSize);
    out.setMovedIno(r->movedIno);
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::statfs(StatfsContext context) {
  ShardStats s = store_.statfs();
  auto st = context.getResults(kSmallResultSize).initStats();
  st.setShard(s.shard);
  st.setInodes(s.inodes);
  st.setDentries(s.dentries);
  st.setDirectories(s.directories);
  st.setFiles(s.files);
  st.setBytes(s.bytes);
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::makeInode(MakeInodeContext context) {
  auto p = context.getParams();
  Result<Attr> r = store_.makeInode(credFromWire(p.getCred()), p.getParentHint(), p.getMode(), text(p.getTarget()));
  attrResultToWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::addEntry(AddEntryContext context) {
  auto p = context.getParams();
  Result<AddEntryResult> r = store_.addEntry(credFromWire(p.getCred()), p.getParent(), text(p.getName()), p.getIno(),
                                             p.getMode(), p.getReplace());
  auto out = context.getResults(kSmallResultSize);
  out.setErr(r.err());
  if (r) {
    out.setReplacedIno(r->replacedIno);
    out.setReplacedMode(r->replacedMode);
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::removeEntry(RemoveEntryContext context) {
  auto p = context.getParams();
  Result<void> r = store_.removeEntry(credFromWire(p.getCred()), p.getParent(), text(p.getName()), p.getExpectIno());
  context.getResults(kSmallResultSize).setErr(r.err());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::linkCount(LinkCountContext context) {
  auto p = context.getParams();
  Result<LinkCountResult> r = store_.linkCount(p.getIno(), p.getDelta(), p.getNewParent());
  auto out = context.getResults(kSmallResultSize);
  out.setErr(r.err());
  if (r) {
    out.setNlink(r->nlink);
    out.setSize(r->size);
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::prepareRmdir(PrepareRmdirContext context) {
  auto p = context.getParams();
  Result<void> r = store_.prepareRmdir(credFromWire(p.getCred()), p.getIno(), p.getUndo());
  context.getResults(kSmallResultSize).setErr(r.err());
  return kj::READY_NOW;
}

}  // namespace myfs::server
