#include "server/meta/meta_service.h"

#include <string_view>

#include "rpc/convert.h"

namespace myfs::server {
namespace {

using rpc::fromWire;
using rpc::toWire;

// Result size hints (words): an AttrResult and its Attr, plus a few scalars.
constexpr capnp::MessageSize kAttrResultSize{24, 0};
constexpr capnp::MessageSize kSmallResultSize{8, 0};

std::string_view text(capnp::Text::Reader t) { return std::string_view(t.cStr(), t.size()); }

std::string_view bytes(capnp::Data::Reader d) {
  return std::string_view(reinterpret_cast<const char*>(d.begin()), d.size());
}

}  // namespace

kj::Promise<void> MetaServiceImpl::openSession(OpenSessionContext context) {
  auto p = context.getParams();
  std::uint64_t id = sessions_.open(p.getCallback(), std::string(text(p.getClientName())));
  context.getResults(kSmallResultSize).setSessionId(id);
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::mountInfo(MountInfoContext context) {
  toWire(store_.mountInfo(), context.getResults(kSmallResultSize));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::lookup(LookupContext context) {
  auto p = context.getParams();
  Result<Attr> r = store_.lookup(fromWire(p.getCred()), p.getParent(), text(p.getName()));
  toWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::getattr(GetattrContext context) {
  Result<Attr> r = store_.getattr(context.getParams().getIno());
  toWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::setattr(SetattrContext context) {
  auto p = context.getParams();
  Result<Attr> r = store_.setattr(fromWire(p.getCred()), p.getIno(), fromWire(p.getReq()));
  toWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::create(CreateContext context) {
  auto p = context.getParams();
  Result<CreateResult> r = store_.create(fromWire(p.getCred()), p.getParent(), text(p.getName()), p.getMode(),
                                         p.getExclusive(), p.getRdev());
  toWire(r, context.getResults(kAttrResultSize));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::mkdir(MkdirContext context) {
  auto p = context.getParams();
  Result<Attr> r = store_.mkdir(fromWire(p.getCred()), p.getParent(), text(p.getName()), p.getMode());
  toWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::symlink(SymlinkContext context) {
  auto p = context.getParams();
  Result<Attr> r =
      store_.symlink(fromWire(p.getCred()), p.getParent(), text(p.getName()), text(p.getTarget()));
  toWire(r, context.getResults(kAttrResultSize).initResult());
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
  Result<DirPage> r = store_.readdir(fromWire(p.getCred()), p.getIno(), bytes(p.getCookie()), p.getMaxEntries());
  capnp::MessageSize size = kSmallResultSize;
  if (r) {
    size.wordCount = 8 + r->nextCookie.size() / 8;
    for (const DirEntry& e : r->entries) size.wordCount += 4 + e.name.size() / 8 + 1;
  }
  toWire(r, context.getResults(size));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::unlink(UnlinkContext context) {
  auto p = context.getParams();
  Result<UnlinkResult> r = store_.unlink(fromWire(p.getCred()), p.getParent(), text(p.getName()), p.getIsDir());
  toWire(r, context.getResults(kSmallResultSize));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::rename(RenameContext context) {
  auto p = context.getParams();
  Result<RenameResult> r = store_.rename(fromWire(p.getCred()), p.getSrcParent(), text(p.getSrcName()),
                                         p.getDstParent(), text(p.getDstName()), p.getFlags());
  toWire(r, context.getResults(kSmallResultSize));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::statfs(StatfsContext context) {
  toWire(store_.statfs(), context.getResults(kSmallResultSize).initStats());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::makeInode(MakeInodeContext context) {
  auto p = context.getParams();
  Result<Attr> r = store_.makeInode(fromWire(p.getCred()), p.getParentHint(), p.getMode(), text(p.getTarget()));
  toWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::addEntry(AddEntryContext context) {
  auto p = context.getParams();
  Result<AddEntryResult> r = store_.addEntry(fromWire(p.getCred()), p.getParent(), text(p.getName()), p.getIno(),
                                             p.getMode(), p.getReplace());
  toWire(r, context.getResults(kSmallResultSize));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::removeEntry(RemoveEntryContext context) {
  auto p = context.getParams();
  Result<void> r = store_.removeEntry(fromWire(p.getCred()), p.getParent(), text(p.getName()), p.getExpectIno());
  context.getResults(kSmallResultSize).setErr(r.err());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::linkCount(LinkCountContext context) {
  auto p = context.getParams();
  Result<LinkCountResult> r = store_.linkCount(p.getIno(), p.getDelta(), p.getNewParent());
  toWire(r, context.getResults(kSmallResultSize));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::prepareRmdir(PrepareRmdirContext context) {
  auto p = context.getParams();
  Result<void> r = store_.prepareRmdir(fromWire(p.getCred()), p.getIno(), p.getUndo());
  context.getResults(kSmallResultSize).setErr(r.err());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::lock(LockContext context) {
  auto p = context.getParams();
  const FileLock req = fromWire(p.getLock());
  auto out = context.getResults(kSmallResultSize);
  const auto now = LockTable::Clock::now();
  if (p.getTest()) {
    std::optional<FileLock> c = locks_.test(p.getIno(), req, now);
    out.setHasConflict(c.has_value());
    if (c) toWire(*c, out.initConflict());
  } else {
    out.setErr(locks_.set(p.getIno(), req, now).err());
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::renewLocks(RenewLocksContext context) {
  locks_.renew(context.getParams().getClient(), LockTable::Clock::now());
  context.getResults(kSmallResultSize).setLeaseMs(static_cast<std::uint32_t>(locks_.lease().count()));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::getxattr(GetxattrContext context) {
  auto p = context.getParams();
  Result<std::string> r = store_.getxattr(fromWire(p.getCred()), p.getIno(), text(p.getName()));
  auto out = context.getResults(capnp::MessageSize{4 + (r ? r->size() / 8 + 1 : 0), 0});
  out.setErr(r.err());
  if (r) out.setValue(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(r->data()), r->size()));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::setxattr(SetxattrContext context) {
  auto p = context.getParams();
  Result<Attr> r = store_.setxattr(fromWire(p.getCred()), p.getIno(), text(p.getName()), bytes(p.getValue()),
                                   p.getFlags());
  toWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::listxattr(ListxattrContext context) {
  auto p = context.getParams();
  Result<std::vector<std::string>> r = store_.listxattr(fromWire(p.getCred()), p.getIno());
  capnp::MessageSize size = kSmallResultSize;
  if (r) {
    for (const std::string& n : *r) size.wordCount += 2 + n.size() / 8 + 1;
  }
  auto out = context.getResults(size);
  out.setErr(r.err());
  if (r) {
    auto names = out.initNames(static_cast<unsigned>(r->size()));
    for (unsigned i = 0; i < r->size(); ++i) names.set(i, capnp::Text::Reader((*r)[i].data(), (*r)[i].size()));
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::removexattr(RemovexattrContext context) {
  auto p = context.getParams();
  Result<Attr> r = store_.removexattr(fromWire(p.getCred()), p.getIno(), text(p.getName()));
  toWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

}  // namespace myfs::server
