// DataPlane over Cap'n Proto: chunk reads and writes sent in parallel to the servers
// that own them, transport failures retried (every data operation is idempotent).
#include <cstring>
#include <functional>

#include <capnp/orphan.h>

#include "rpc/cluster_internal.h"
#include "rpc/convert.h"
#include "schema/data.capnp.h"
#include "schema/meta.capnp.h"

namespace myfs::rpc {
namespace {

using schema::DataService;
using schema::MetaService;

// All data servers over RPC; batches fan out in parallel.
class RpcDataPlane final : public DataPlane {
 public:
  RpcDataPlane(RpcCluster& cluster, std::uint32_t servers, const RetryPolicy& retry)
      : cluster_(cluster), servers_(servers), retry_(retry) {}

  std::uint32_t serverCount() const override { return servers_; }

  Result<void> write(std::span<const ChunkWrite> writes, bool sync) override {
    std::vector<Part> parts;
    for (const auto& w : writes) {
      parts.push_back(Part{dataServerForChunk(w.ino, w.chunk, servers_), [&w, sync](Connection& c) {
                             // Word-aligned data goes out from the caller's buffer
                             // (alive until the call returns), not copied into the message.
                             const bool external =
                                 reinterpret_cast<std::uintptr_t>(w.data.data()) % sizeof(capnp::word) == 0 &&
                                 w.data.size() >= 4096;
                             auto req = c.cap<DataService>().writeRequest(
                                 capnp::MessageSize{8 + (external ? 0 : w.data.size() / 8), 0});
                             req.setIno(w.ino);
                             req.setChunk(w.chunk);
                             req.setOffset(w.offset);
                             if (external) {
                               DataService::WriteParams::Builder params = req;
                               req.adoptData(capnp::Orphanage::getForMessageContaining(params).referenceExternalData(
                                   bytes(w.data.data(), w.data.size())));
                             } else {
                               req.setData(bytes(w.data.data(), w.data.size()));
                             }
                             req.setSync(sync);
                             return req.send().then([](capnp::Response<DataService::WriteResults>&& r) {
                               return fromErr(r.getErr());
                             });
                           }});
    }
    return fanOut(parts);
  }

  Result<void> read(std::span<ChunkRead> reads) override {
    std::vector<Part> parts;
    for (auto& rd : reads) {
      parts.push_back(Part{dataServerForChunk(rd.ino, rd.chunk, servers_), [&rd](Connection& c) {
                             auto req = c.cap<DataService>().readRequest(capnp::MessageSize{6, 0});
                             req.setIno(rd.ino);
                             req.setChunk(rd.chunk);
                             req.setOffset(rd.offset);
                             req.setLength(rd.length);
                             return req.send().then([&rd](capnp::Response<DataService::ReadResults>&& r) {
                               if (r.getErr() != 0) return Result<void>(Errno(r.getErr()));
                               auto d = r.getData();
                               const size_t n = std::min<size_t>(d.size(), rd.length);
                               std::memcpy(rd.out, d.begin(), n);
                               rd.got = static_cast<std::uint32_t>(n);
                               return okResult();
                             });
                           }});
    }
    return fanOut(parts);
  }

  Result<void> truncate(InodeId ino, std::uint64_t size, std::uint32_t chunkSize) override {
    return everyServer([ino, size, chunkSize](Connection& c) {
      auto req = c.cap<DataService>().truncateRequest(capnp::MessageSize{6, 0});
      req.setIno(ino);
      req.setSize(size);
      req.setChunkSize(chunkSize);
      return req.send().then([](capnp::Response<DataService::TruncateResults>&& r) { return fromErr(r.getErr()); });
    });
  }

  Result<void> remove(InodeId ino) override {
    return everyServer([ino](Connection& c) {
      auto req = c.cap<DataService>().removeRequest(capnp::MessageSize{4, 0});
      req.setIno(ino);
      return req.send().then([](capnp::Response<DataService::RemoveResults>&& r) { return fromErr(r.getErr()); });
    });
  }

  Result<void> fsync(InodeId ino) override {
    return everyServer([ino](Connection& c) {
      auto req = c.cap<DataService>().fsyncRequest(capnp::MessageSize{4, 0});
      req.setIno(ino);
      return req.send().then([](capnp::Response<DataService::FsyncResults>&& r) { return fromErr(r.getErr()); });
    });
  }

  Result<std::map<std::uint64_t, std::uint32_t>> extents(InodeId ino) override {
    std::map<std::uint64_t, std::uint32_t> all;
    MYFS_TRY(everyServer([ino, &all](Connection& c) {
      auto req = c.cap<DataService>().extentsRequest(capnp::MessageSize{4, 0});
      req.setIno(ino);
      return req.send().then([&all](capnp::Response<DataService::ExtentsResults>&& r) -> Result<void> {
        if (r.getErr() != 0) return Errno(r.getErr());
        auto chunks = r.getChunks();
        auto lengths = r.getLengths();
        for (unsigned i = 0; i < chunks.size() && i < lengths.size(); ++i) all[chunks[i]] = lengths[i];
        return okResult();
      });
    }));
    return all;
  }

  Result<DataStats> stats(std::uint32_t server) override {
    if (server >= servers_) return Errno(EINVAL);
    auto send = [](Connection& c) {
      return c.cap<DataService>().statsRequest(capnp::MessageSize{4, 0}).send().then(
          [](capnp::Response<DataService::StatsResults>&& r) -> Result<DataStats> { return fromWire(r.getStats()); });
    };
    return withLoop(cluster_, [&](auto& loop, auto&, auto& data) {
      return callWithRetry<DataStats>(loop, *data[server], retry_, true, send);
    });
  }

 private:
  using Send = std::function<kj::Promise<Result<void>>(Connection&)>;
  struct Part {
    std::uint32_t server;
    Send send;
  };

  template <typename F>
  Result<void> everyServer(F f) {
    std::vector<Part> parts;
    for (std::uint32_t s = 0; s < servers_; ++s) parts.push_back(Part{s, f});
    return fanOut(parts);
  }

  // Sends every part at once; retries the parts whose transport failed (all data
  // operations are idempotent); the first POSIX error wins.
  Result<void> fanOut(std::vector<Part>& parts) {
    return withLoop(cluster_, [&](auto& loop, auto&, auto& data) { return fanOut(parts, loop, data); });
  }

  template <typename Loop>
  Result<void> fanOut(std::vector<Part>& parts, Loop& loop, std::vector<std::unique_ptr<Connection>>& data) {
    std::vector<size_t> pending(parts.size());
    for (size_t i = 0; i < parts.size(); ++i) pending[i] = i;
    for (int attemptNo = 1;; ++attemptNo) {
      kj::Array<Outcome<void>> outcomes;
      try {
        outcomes = loop.run([&]() {
          auto promises = kj::heapArrayBuilder<kj::Promise<Outcome<void>>>(pending.size());
          for (size_t i : pending) {
            promises.add(attempt<void>(loop, *data[parts[i].server], retry_.callTimeoutMs, parts[i].send));
          }
          return kj::joinPromises(promises.finish());
        });
      } catch (const kj::Exception& e) {
        logTransportFailure(data[parts[pending[0]].server]->address(), e.getDescription().cStr(), attemptNo);
        return Errno(EIO);
      }
      std::vector<size_t> again;
      for (size_t k = 0; k < pending.size(); ++k) {
        auto& o = outcomes[k];
        if (o.transport == Transport::kOk) {
          if (!*o.result) return o.result->error();
          continue;
        }
        const auto& conn = *data[parts[pending[k]].server];
        if (!retriable(o.transport, true) || attemptNo >= retry_.attempts) {
          logTransportFailure(conn.address(), o.detail, attemptNo);
          return Errno(EIO);
        }
        again.push_back(pending[k]);
      }
      if (again.empty()) return okResult();
      pending = std::move(again);
      backoff(retry_, attemptNo);
    }
  }

  RpcCluster& cluster_;
  const std::uint32_t servers_;
  const RetryPolicy retry_;
};

}  // namespace

std::unique_ptr<DataPlane> makeRpcDataPlane(RpcCluster& cluster, std::uint32_t servers, const RetryPolicy& retry) {
  return std::make_unique<RpcDataPlane>(cluster, servers, retry);
}

}  // namespace myfs::rpc
