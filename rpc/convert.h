// Conversions between the wire structs of schema/ and the value types of core/types.h
// and core/fs_types.h: the one place that says how each travels, for both sides of the
// RPC. The client (rpc/rpc_cluster.cc) encodes requests and decodes results, the servers
// (server/meta, server/data) decode requests and encode results. Library myfs_wire.
//
// Fields are copied unchanged (their meaning is in the schema). A result that carries a
// POSIX outcome travels as `err` (0: success) beside its fields: toWire(Result<T>) sets
// err and, on success only, the fields; fromWire returns Errno(err) when err != 0.
#pragma once

#include "core/fs_types.h"
#include "core/result.h"
#include "core/types.h"
#include "schema/common.capnp.h"
#include "schema/data.capnp.h"
#include "schema/meta.capnp.h"

namespace myfs::rpc {

// ---- Structs of schema/common.capnp, schema/meta.capnp and schema/data.capnp.

Attr fromWire(schema::Attr::Reader a);
void toWire(const Attr& a, schema::Attr::Builder b);

Cred fromWire(schema::Cred::Reader c);
void toWire(const Cred& c, schema::Cred::Builder b);

SetAttr fromWire(schema::SetAttrRequest::Reader r);
void toWire(const SetAttr& s, schema::SetAttrRequest::Builder b);

FileLock fromWire(schema::FileLock::Reader l);
void toWire(const FileLock& l, schema::FileLock::Builder b);

DirIntent fromWire(schema::DirIntent::Reader d);
void toWire(const DirIntent& d, schema::DirIntent::Builder b);

FileIntent fromWire(schema::FileIntent::Reader f);
void toWire(const FileIntent& f, schema::FileIntent::Builder b);

Result<Attr> fromWire(schema::AttrResult::Reader r);
void toWire(const Result<Attr>& r, schema::AttrResult::Builder b);

ShardStats fromWire(schema::ShardStats::Reader s);
void toWire(const ShardStats& s, schema::ShardStats::Builder b);

DataStats fromWire(schema::DataStats::Reader s);
void toWire(const DataStats& s, schema::DataStats::Builder b);

// ---- Results of MetaService methods (a capnp::Response<...> converts to its Reader).

MountInfo fromWire(schema::MetaService::MountInfoResults::Reader r);
void toWire(const MountInfo& m, schema::MetaService::MountInfoResults::Builder b);

Result<CreateResult> fromWire(schema::MetaService::CreateResults::Reader r);
void toWire(const Result<CreateResult>& r, schema::MetaService::CreateResults::Builder b);

Result<DirPage> fromWire(schema::MetaService::ReaddirResults::Reader r);
void toWire(const Result<DirPage>& r, schema::MetaService::ReaddirResults::Builder b);

Result<DirDelegation> fromWire(schema::MetaService::DelegateDirResults::Reader r);
void toWire(const Result<DirDelegation>& r, schema::MetaService::DelegateDirResults::Builder b);

Result<UnlinkResult> fromWire(schema::MetaService::UnlinkResults::Reader r);
void toWire(const Result<UnlinkResult>& r, schema::MetaService::UnlinkResults::Builder b);

// The wire form is flat: replacedIno, replacedRemote, replacedLast, replacedSize.
Result<RenameResult> fromWire(schema::MetaService::RenameResults::Reader r);
void toWire(const Result<RenameResult>& r, schema::MetaService::RenameResults::Builder b);

Result<AddEntryResult> fromWire(schema::MetaService::AddEntryResults::Reader r);
void toWire(const Result<AddEntryResult>& r, schema::MetaService::AddEntryResults::Builder b);

Result<LinkCountResult> fromWire(schema::MetaService::LinkCountResults::Reader r);
void toWire(const Result<LinkCountResult>& r, schema::MetaService::LinkCountResults::Builder b);

}  // namespace myfs::rpc
