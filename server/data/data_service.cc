#include "server/data/data_service.h"

#include <string_view>

#include "rpc/convert.h"

namespace myfs::server {
namespace {

constexpr capnp::MessageSize kSmallResultSize{8, 0};

}  // namespace

kj::Promise<void> DataServiceImpl::write(WriteContext context) {
  auto p = context.getParams();
  capnp::Data::Reader d = p.getData();
  Result<void> r = store_.write(p.getIno(), p.getChunk(), p.getOffset(),
                                std::string_view(reinterpret_cast<const char*>(d.begin()), d.size()), p.getSync());
  context.getResults(kSmallResultSize).setErr(r.err());
  return kj::READY_NOW;
}

kj::Promise<void> DataServiceImpl::read(ReadContext context) {
  auto p = context.getParams();
  // The bytes go from the chunk file straight into the result message.
  capnp::Data::Builder data;
  schema::DataService::ReadResults::Builder out = nullptr;
  Result<void> r = store_.read(p.getIno(), p.getChunk(), p.getOffset(), p.getLength(), [&](std::size_t n) {
    out = context.getResults(capnp::MessageSize{4 + n / 8 + 1, 0});
    data = out.initData(static_cast<unsigned>(n));
    return std::span<std::byte>(reinterpret_cast<std::byte*>(data.begin()), n);
  });
  if (!r) {
    auto failed = context.initResults(kSmallResultSize);
    failed.setErr(r.err());
    return kj::READY_NOW;
  }
  out.setErr(0);
  return kj::READY_NOW;
}

kj::Promise<void> DataServiceImpl::truncate(TruncateContext context) {
  auto p = context.getParams();
  Result<void> r = store_.truncate(p.getIno(), p.getSize(), p.getChunkSize());
  context.getResults(kSmallResultSize).setErr(r.err());
  return kj::READY_NOW;
}

kj::Promise<void> DataServiceImpl::remove(RemoveContext context) {
  Result<void> r = store_.remove(context.getParams().getIno());
  context.getResults(kSmallResultSize).setErr(r.err());
  return kj::READY_NOW;
}

kj::Promise<void> DataServiceImpl::fsync(FsyncContext context) {
  Result<void> r = store_.fsync(context.getParams().getIno());
  context.getResults(kSmallResultSize).setErr(r.err());
  return kj::READY_NOW;
}

kj::Promise<void> DataServiceImpl::extents(ExtentsContext context) {
  Result<std::map<std::uint64_t, std::uint32_t>> r = store_.extents(context.getParams().getIno());
  const unsigned n = r ? static_cast<unsigned>(r->size()) : 0;
  auto out = context.getResults(capnp::MessageSize{8 + n * 2, 0});
  out.setErr(r.err());
  if (!r) return kj::READY_NOW;
  auto chunks = out.initChunks(n);
  auto lengths = out.initLengths(n);
  unsigned i = 0;
  for (const auto& [chunk, length] : *r) {
    chunks.set(i, chunk);
    lengths.set(i, length);
    ++i;
  }
  return kj::READY_NOW;
}

kj::Promise<void> DataServiceImpl::stats(StatsContext context) {
  Result<DataStats> r = store_.stats();
  auto st = context.getResults(kSmallResultSize).initStats();
  if (r) rpc::toWire(*r, st);
  return kj::READY_NOW;
}

}  // namespace myfs::server
