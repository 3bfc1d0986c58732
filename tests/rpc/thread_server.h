// A metadata or data server on a unix socket, served by a thread of the test process with
// its own event loop: what the RPC client tests (rpc_cluster_test, delegation_test) run
// their clients against.
#pragma once

#include <unistd.h>

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "server/data/chunk_store.h"
#include "server/data/data_service.h"
#include "server/meta/meta_service.h"
#include "server/meta/meta_store.h"
#include "server/meta/session_table.h"

namespace myfs::testing {

class ThreadServer {
 public:
  enum class Role { kMeta, kData };
  // `wrap` (if set) stands between the connections and the service.
  using Wrap = std::function<capnp::Capability::Client(capnp::Capability::Client)>;
  // `timer`: the metadata service bounds recalls with its loop's timer, as myfsd does (a
  // session that does not answer is revoked after the recall timeout); without it a
  // recall waits for its answer without limit.
  ThreadServer(Role role, std::string dir, std::string socket,
               std::chrono::milliseconds lease = server::MetaServiceImpl::kDefaultLease, Wrap wrap = nullptr,
               std::uint32_t shardIndex = 0, std::uint32_t shardCount = 1, bool timer = false)
      : role_(role),
        dir_(std::move(dir)),
        socket_(std::move(socket)),
        lease_(lease),
        wrap_(std::move(wrap)),
        shardIndex_(shardIndex),
        shardCount_(shardCount),
        timer_(timer) {
    start();
  }
  ~ThreadServer() { stop(); }
  ThreadServer(const ThreadServer&) = delete;
  ThreadServer& operator=(const ThreadServer&) = delete;

  void start() {
    std::atomic<bool> ready{false};
    thread_ = std::thread([this, &ready] {
      auto io = kj::setupAsyncIo();
      std::string error;
      std::unique_ptr<server::MetaStore> meta;
      std::unique_ptr<server::ChunkStore> chunks;
      server::SessionTable sessions;
      capnp::Capability::Client bootstrap = nullptr;
      if (role_ == Role::kMeta) {
        server::MetaStoreOptions o;
        o.dir = dir_;
        o.shardIndex = shardIndex_;
        o.shardCount = shardCount_;
        meta = server::MetaStore::open(o, &error);
        bootstrap = kj::heap<server::MetaServiceImpl>(*meta, sessions, lease_,
                                                      timer_ ? &io.provider->getTimer() : nullptr);
      } else {
        chunks = server::ChunkStore::open(dir_, &error);
        bootstrap = kj::heap<server::DataServiceImpl>(*chunks);
      }
      if (wrap_) bootstrap = wrap_(kj::mv(bootstrap));
      unlink(socket_.c_str());
      auto listener = io.provider->getNetwork().parseAddress("unix:" + socket_).wait(io.waitScope)->listen();
      capnp::TwoPartyServer server(bootstrap);
      auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
      stop_ = kj::mv(paf.fulfiller);
      auto listening = server.listen(*listener);
      ready = true;
      paf.promise.exclusiveJoin(kj::mv(listening)).wait(io.waitScope);
    });
    while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  // Stops serving: the listener and every connection close.
  void stop() {
    if (!thread_.joinable()) return;
    stop_->fulfill();
    thread_.join();
    unlink(socket_.c_str());
  }

 private:
  Role role_;
  std::string dir_, socket_;
  std::chrono::milliseconds lease_;
  Wrap wrap_;
  std::uint32_t shardIndex_, shardCount_;
  bool timer_;
  std::thread thread_;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop_;
};

}  // namespace myfs::testing
