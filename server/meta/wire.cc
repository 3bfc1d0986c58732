#include "server/meta/wire.h"

namespace myfs::server {

Cred credFromWire(schema::Cred::Reader c) {
  Cred out;
  out.uid = c.getUid();
  out.gid = c.getGid();
  auto groups = c.getGroups();
  out.groups.reserve(groups.size());
  for (std::uint32_t g : groups) out.groups.push_back(g);
  return out;
}

SetAttrRequest setAttrFromWire(schema::SetAttrRequest::Reader r) {
  SetAttrRequest q;
  q.setMode = r.getSetMode();
  q.mode = r.getMode();
  q.setUid = r.getSetUid();
  q.uid = r.getUid();
  q.setGid = r.getSetGid();
  q.gid = r.getGid();
  q.setSize = r.getSetSize();
  q.size = r.getSize();
  q.setAtime = r.getSetAtime();
  q.atimeNs = r.getAtimeNs();
  q.setMtime = r.getSetMtime();
  q.mtimeNs = r.getMtimeNs();
  q.growOnly = r.getGrowOnly();
  return q;
}

void attrToWire(const Attr& a, schema::Attr::Builder out) {
  out.setIno(a.ino);
  out.setMode(a.mode);
  out.setNlink(a.nlink);
  out.setUid(a.uid);
  out.setGid(a.gid);
  out.setSize(a.size);
  out.setAtimeNs(a.atimeNs);
  out.setMtimeNs(a.mtimeNs);
  out.setCtimeNs(a.ctimeNs);
  out.setRdev(a.rdev);
  out.setVersion(a.version);
  out.setParent(a.parent);
}

void attrResultToWire(const Result<Attr>& r, schema::AttrResult::Builder out) {
  out.setErr(r.err());
  if (r) attrToWire(*r, out.initAttr());
}

}  // namespace myfs::server
