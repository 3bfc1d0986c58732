#include "rpc/convert.h"

namespace myfs::rpc {

Attr fromWire(schema::Attr::Reader a) {
  Attr out;
  out.ino = a.getIno();
  out.mode = a.getMode();
  out.nlink = a.getNlink();
  out.uid = a.getUid();
  out.gid = a.getGid();
  out.size = a.getSize();
  out.atimeNs = a.getAtimeNs();
  out.mtimeNs = a.getMtimeNs();
  out.ctimeNs = a.getCtimeNs();
  out.rdev = a.getRdev();
  out.version = a.getVersion();
  out.parent = a.getParent();
  return out;
}

void toWire(const Attr& a, schema::Attr::Builder b) {
  b.setIno(a.ino);
  b.setMode(a.mode);
  b.setNlink(a.nlink);
  b.setUid(a.uid);
  b.setGid(a.gid);
  b.setSize(a.size);
  b.setAtimeNs(a.atimeNs);
  b.setMtimeNs(a.mtimeNs);
  b.setCtimeNs(a.ctimeNs);
  b.setRdev(a.rdev);
  b.setVersion(a.version);
  b.setParent(a.parent);
}

Cred fromWire(schema::Cred::Reader c) {
  Cred out;
  out.uid = c.getUid();
  out.gid = c.getGid();
  for (auto g : c.getGroups()) out.groups.push_back(g);
  return out;
}

void toWire(const Cred& c, schema::Cred::Builder b) {
  b.setUid(c.uid);
  b.setGid(c.gid);
  auto groups = b.initGroups(static_cast<unsigned>(c.groups.size()));
  for (unsigned i = 0; i < c.groups.size(); ++i) groups.set(i, c.groups[i]);
}

SetAttr fromWire(schema::SetAttrRequest::Reader r) {
  SetAttr s;
  s.setMode = r.getSetMode();
  s.mode = r.getMode();
  s.setUid = r.getSetUid();
  s.uid = r.getUid();
  s.setGid = r.getSetGid();
  s.gid = r.getGid();
  s.setSize = r.getSetSize();
  s.size = r.getSize();
  s.growOnly = r.getGrowOnly();
  s.setAtime = r.getSetAtime();
  s.atimeNs = r.getAtimeNs();
  s.setMtime = r.getSetMtime();
  s.mtimeNs = r.getMtimeNs();
  return s;
}

void toWire(const SetAttr& s, schema::SetAttrRequest::Builder b) {
  b.setSetMode(s.setMode);
  b.setMode(s.mode);
  b.setSetUid(s.setUid);
  b.setUid(s.uid);
  b.setSetGid(s.setGid);
  b.setGid(s.gid);
  b.setSetSize(s.setSize);
  b.setSize(s.size);
  b.setGrowOnly(s.growOnly);
  b.setSetAtime(s.setAtime);
  b.setAtimeNs(s.atimeNs);
  b.setSetMtime(s.setMtime);
  b.setMtimeNs(s.mtimeNs);
}

}  // namespace myfs::rpc
