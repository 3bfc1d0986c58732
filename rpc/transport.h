// Connection: one client connection to one server, owned by the EventLoopThread, and the
// outcome of one attempt to call over it.
//
// The one table that turns transport failures into errnos lives in callWithRetry():
// a connection that cannot be made, or breaks with an idempotent call in flight, is
// retried with exponential backoff; what still fails, or times out, becomes EIO.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <capnp/capability.h>
#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include "core/result.h"
#include "rpc/direct_loop.h"
#include "rpc/event_loop_thread.h"
#include "rpc/page_message_stream.h"

namespace myfs::rpc {

// How one attempt ended, as far as the transport is concerned.
enum class Transport {
  kOk,       // the server answered (the Result may still hold a POSIX errno)
  kNotSent,  // no connection could be made: the request never left
  kLost,     // the connection broke with the request in flight
  kTimeout,  // no answer within the call timeout
};

template <typename T>
struct Outcome {
  Transport transport = Transport::kOk;
  std::optional<Result<T>> result;
  std::string detail;  // the transport failure, for the log
};

struct RetryPolicy {
  int attempts = 5;                // tries in all, for retriable failures
  std::uint32_t backoffMs = 50;    // before the second try; doubles each time
  std::uint32_t callTimeoutMs = 15000;
};

class Connection {
 public:
  // `address` is a kj address ("unix:/path", "host:port"), or several separated by '|',
  // tried in order until one connects. `onConnect` runs on the loop's thread for each new
  // connection (e.g. to open or join a session and useService() what it returns).
  Connection(std::string address, std::function<void(Connection&)> onConnect)
      : address_(std::move(address)), onConnect_(std::move(onConnect)) {}

  const std::string& address() const { return address_; }

  // On the loop's thread: resolves once connected (rejects if the connection fails). A
  // connection idle for kIdleCheck or more whose server has hung up meanwhile (it was
  // restarted) is replaced first, so that a call that may not be repeated is not sent
  // into a dead socket and lost.
  kj::Promise<void> ready(kj::AsyncIoProvider& io, kj::UnixEventPort& port);
  static constexpr std::chrono::milliseconds kIdleCheck{20};
  // Loop thread only: forgets the connection; the next call reconnects.
  void markBroken();
  // The capability calls go to: the service set by useService(), else the bootstrap.
  template <typename Iface>
  typename Iface::Client cap() {
    return (hasService_ ? service_ : bootstrap_).castAs<Iface>();
  }
  capnp::Capability::Client bootstrap() { return bootstrap_; }
  // From onConnect: calls on this connection go to `service` from now on.
  void useService(capnp::Capability::Client service) {
    service_ = kj::mv(service);
    hasService_ = true;
  }
  // The session the service belongs to (set by onConnect; 0: none).
  std::uint64_t sessionTag = 0;
  // This connection while it lasts: unique in the process among all connections ever
  // made (0: not connected). A server answers one connection's calls in order.
  std::uint64_t id() const { return id_; }

 private:
  const std::string address_;
  std::function<void(Connection&)> onConnect_;
  kj::Own<kj::AsyncIoStream> stream_;
  kj::Own<RpcClient> client_;
  capnp::Capability::Client bootstrap_ = nullptr;
  capnp::Capability::Client service_ = nullptr;
  bool hasService_ = false;
  std::uint64_t id_ = 0;
  kj::Maybe<kj::ForkedPromise<void>> connecting_;
  bool connected_ = false;
  std::uint64_t generation_ = 0;
  std::chrono::steady_clock::time_point lastReady_{};

  // Whether the server closed this (connected) connection; asks the kernel only when the
  // connection was idle for kIdleCheck.
  bool hungUpWhileIdle();
};

// On the loop's thread: one attempt of `send` over `conn`, bounded by the call timeout.
// Loop is an EventLoopThread or a DirectLoop.
template <typename T, typename Loop, typename Send>
kj::Promise<Outcome<T>> attempt(Loop& loop, Connection& conn, std::uint32_t timeoutMs, Send& send) {
  return conn.ready(loop.io(), loop.port()).then(
      [&loop, &conn, timeoutMs, &send]() -> kj::Promise<Outcome<T>> {
        kj::Promise<Result<T>> sent = send(conn);
        return sent
            .then([](Result<T>&& r) {
              Outcome<T> o;
              o.result.emplace(std::move(r));
              return o;
            })
            .exclusiveJoin(loop.timer().afterDelay(timeoutMs * kj::MILLISECONDS).then([&conn]() {
              conn.markBroken();  // a late answer must not be taken for a new one
              Outcome<T> o;
              o.transport = Transport::kTimeout;
              o.detail = "timed out";
              return o;
            }))
            .catch_([&conn](kj::Exception&& e) {
              conn.markBroken();
              Outcome<T> o;
              o.transport = Transport::kLost;
              o.detail = e.getDescription().cStr();
              return o;
            });
      },
      [&conn](kj::Exception&& e) {
        conn.markBroken();
        Outcome<T> o;
        o.transport = Transport::kNotSent;
        o.detail = e.getDescription().cStr();
        return o;
      });
}

// Whether a failed attempt may be tried again.
inline bool retriable(Transport t, bool idempotent) {
  return t == Transport::kNotSent || (t == Transport::kLost && idempotent);
}

// Logs a transport failure once per (address, detail) burst, to stderr.
void logTransportFailure(const std::string& address, const std::string& detail, int attempts);

// Sleeps the calling (non-loop) thread for the backoff before try `attempt` (1-based).
void backoff(const RetryPolicy& policy, int attempt);

// Calls `send` on `conn` with the retry policy, through `loop` (an EventLoopThread,
// from another thread, or this thread's DirectLoop).
template <typename T, typename Loop, typename Send>
Result<T> callWithRetry(Loop& loop, Connection& conn, const RetryPolicy& policy, bool idempotent, Send&& send) {
  for (int i = 1;; ++i) {
    Outcome<T> o;
    try {
      o = loop.run([&]() { return attempt<T>(loop, conn, policy.callTimeoutMs, send); });
    } catch (const kj::Exception& e) {
      logTransportFailure(conn.address(), e.getDescription().cStr(), i);
      return Errno(EIO);
    }
    if (o.transport == Transport::kOk) return std::move(*o.result);
    if (!retriable(o.transport, idempotent) || i >= policy.attempts) {
      logTransportFailure(conn.address(), o.detail, i);
      return Errno(EIO);
    }
    backoff(policy, i);
  }
}

}  // namespace myfs::rpc
