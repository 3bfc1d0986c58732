// DirectLoop: a KJ event loop owned by an application thread, so that its synchronous
// calls go straight to the socket and back with no hand-off to another thread (each
// hand-off is a thread wake-up: tens of µs on a VM whose vCPUs idle).
//
// One per thread at most (KJ allows one event loop per thread); created on the thread's
// first call, used only by that thread. While run() executes, the fds KJ creates count as
// the client's own (see ThreadHooks). Its connections are SocketStreams, whose writes
// never raise SIGPIPE, so the application's signal mask and handlers stay untouched.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include <kj/async-io.h>
#include <kj/async.h>

namespace myfs::rpc {

// Hooks into the LD_PRELOAD shim (no-ops when unset).
struct ThreadHooks {
  // A thread of the client's own starts.
  static void (*enterInternalThread)();
  // An application thread enters (true) or leaves (false) client code that creates fds.
  static void (*internalScope)(bool);
};

class DirectLoop {
 public:
  // Throws kj::Exception if this thread already has a KJ event loop.
  DirectLoop();
  ~DirectLoop();

  kj::AsyncIoProvider& io() { return *io_.provider; }
  kj::Timer& timer() { return io_.provider->getTimer(); }
  kj::UnixEventPort& port() { return io_.unixEventPort; }

  // Runs func() here and waits for the promise it returns.
  template <typename Func>
  auto run(Func&& func) {
    Scope scope;
    return kj::evalNow(func).wait(io_.waitScope);
  }

  // Two calls to two servers sent at once (a() and b() return kj::Promise<void>): blocks
  // until the first settles, then polls without sleeping, up to `spin`, for the second,
  // whose server started at the same moment, before blocking again. One wake-up instead
  // of two; the spin is spent only while the other answer is due.
  template <typename FuncA, typename FuncB>
  void runBoth(FuncA&& a, FuncB&& b, std::chrono::microseconds spin) {
    Scope scope;
    auto first = kj::evalNow(a).fork();
    auto second = kj::evalNow(b).fork();
    first.addBranch().exclusiveJoin(second.addBranch()).wait(io_.waitScope);
    auto both = first.addBranch().then([s = second.addBranch()]() mutable { return kj::mv(s); });
    const auto until = std::chrono::steady_clock::now() + spin;
    while (std::chrono::steady_clock::now() < until && !both.poll(io_.waitScope)) {
    }
    both.wait(io_.waitScope);
  }

  // A call whose answer nobody waits for now: `sent` settles once it is answered and
  // handles its own failures. The request is written before this returns; the answer is
  // taken whenever this thread's loop next runs. Past `maxAhead` such calls outstanding,
  // waits until one is answered.
  void sendAhead(kj::Promise<void> sent, std::size_t maxAhead);
  // Cancels the calls sent ahead (before the connections they went on go away).
  void dropAhead();

 private:
  struct Ahead;
  // Marks client code for the duration of one call.
  class Scope {
   public:
    Scope();
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
  };

  kj::AsyncIoContext io_;
  std::unique_ptr<Ahead> ahead_;  // after io_: goes first
};

}  // namespace myfs::rpc
