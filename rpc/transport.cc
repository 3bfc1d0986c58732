#include "rpc/transport.h"

#include "rpc/coalescing_stream.h"
#include "rpc/socket_stream.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

namespace myfs::rpc {

namespace {

std::atomic<std::uint64_t> gConnectionIds{0};

// Connects to the first of the '|'-separated addresses that accepts; the last failure
// if none does.
kj::Promise<kj::Own<kj::AsyncIoStream>> connectFirst(kj::AsyncIoProvider& io, std::string_view addresses) {
  const size_t bar = addresses.find('|');
  const std::string first(addresses.substr(0, bar));
  auto attempt = io.getNetwork()
                     .parseAddress(first)
                     .then([](kj::Own<kj::NetworkAddress> addr) { return addr->connect(); });
  if (bar == std::string_view::npos) return attempt;
  std::string rest(addresses.substr(bar + 1));
  return attempt.catch_([&io, rest = std::move(rest)](kj::Exception&&) { return connectFirst(io, rest); });
}

}  // namespace

bool Connection::hungUpWhileIdle() {
  const auto now = std::chrono::steady_clock::now();
  const bool idle = now - lastReady_ >= kIdleCheck;
  lastReady_ = now;
  if (!idle || !stream_) return false;
  KJ_IF_MAYBE(fd, stream_->getFd()) {
    pollfd p{*fd, POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }
  return false;
}

kj::Promise<void> Connection::ready(kj::AsyncIoProvider& io, kj::UnixEventPort& port) {
  if (connected_ && hungUpWhileIdle()) markBroken();
  if (connected_) return kj::READY_NOW;
  KJ_IF_MAYBE(pending, connecting_) { return pending->addBranch(); }
  const std::uint64_t gen = ++generation_;
  auto promise = connectFirst(io, address_)
                     .then([this, gen, &io, &port](kj::Own<kj::AsyncIoStream> stream) {
                       if (gen != generation_) return;  // abandoned meanwhile
                       stream_ = kj::heap<CoalescingStream>(leanSocketStream(kj::mv(stream), port), io.getTimer());
                       client_ = kj::heap<RpcClient>(*stream_);
                       bootstrap_ = client_->bootstrap();
                       connected_ = true;
                       id_ = gConnectionIds.fetch_add(1, std::memory_order_relaxed) + 1;
                       connecting_ = nullptr;
                       if (onConnect_) onConnect_(*this);
                     });
  auto forked = promise
                    .catch_([this, gen](kj::Exception&& e) -> kj::Promise<void> {
                      if (gen == generation_) connecting_ = nullptr;
                      return kj::mv(e);
                    })
                    .fork();
  auto branch = forked.addBranch();
  connecting_ = kj::mv(forked);
  return branch;
}

void Connection::markBroken() {
  ++generation_;
  connected_ = false;
  id_ = 0;
  connecting_ = nullptr;
  bootstrap_ = nullptr;
  service_ = nullptr;
  hasService_ = false;
  sessionTag = 0;
  // Calls in flight may still reference the old objects: destroy them on a later turn,
  // the client before its stream (also when the loop drops the task unrun: captures are
  // destroyed in reverse order).
  kj::evalLater([stream = kj::mv(stream_), client = kj::mv(client_)]() mutable {
    client = nullptr;
    stream = nullptr;
  }).detach([](kj::Exception&&) {});
}

void logTransportFailure(const std::string& address, const std::string& detail, int attempts) {
  std::fprintf(stderr, "myfs: server %s failed after %d attempt%s (%s): EIO\n", address.c_str(), attempts,
               attempts == 1 ? "" : "s", detail.c_str());
}

void backoff(const RetryPolicy& policy, int attempt) {
  std::uint64_t ms = static_cast<std::uint64_t>(policy.backoffMs) << (attempt - 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min<std::uint64_t>(ms, 2000)));
}

}  // namespace myfs::rpc
