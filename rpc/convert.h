// Conversions between the wire types of schema/ and the value types of core/.
#pragma once

#include "core/cluster.h"
#include "core/types.h"
#include "schema/common.capnp.h"
#include "schema/meta.capnp.h"

namespace myfs::rpc {

Attr fromWire(schema::Attr::Reader a);
void toWire(const Attr& a, schema::Attr::Builder b);
Cred fromWire(schema::Cred::Reader c);
void toWire(const Cred& c, schema::Cred::Builder b);
SetAttr fromWire(schema::SetAttrRequest::Reader r);
void toWire(const SetAttr& s, schema::SetAttrRequest::Builder b);

// Result<Attr> from an AttrResult.
inline Result<Attr> attrResult(schema::AttrResult::Reader r) {
  if (r.getErr() != 0) return Errno(r.getErr());
  return fromWire(r.getAttr());
}

}  // namespace myfs::rpc
