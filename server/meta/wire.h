// Conversions between MetaStore's C++ types and their Cap'n Proto wire forms.
#pragma once

#include "core/result.h"
#include "core/types.h"
#include "schema/common.capnp.h"
#include "schema/meta.capnp.h"
#include "server/meta/meta_types.h"

namespace myfs::server {

Cred credFromWire(schema::Cred::Reader c);
SetAttrRequest setAttrFromWire(schema::SetAttrRequest::Reader r);
void attrToWire(const Attr& a, schema::Attr::Builder out);
// Sets result.err, and result.attr when r succeeded.
void attrResultToWire(const Result<Attr>& r, schema::AttrResult::Builder out);

}  // namespace myfs::server
