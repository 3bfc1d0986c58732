// DirectLoop: a KJ event loop owned by an application thread, so that its synchronous
// calls go straight to the socket and back with no hand-off to another thread (each
// hand-off is a thread wake-up: tens of µs on a VM whose vCPUs idle).
//
// One per thread at most (KJ allows one event loop per thread); created on the thread's
// first call, used only by that thread. While run() executes, SIGPIPE is blocked and a
// SIGPIPE that the call itself raised (a write on a broken connection) is consumed, and
// the fds KJ creates count as the client's own (see ThreadHooks).
#pragma once

#include <signal.h>

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

  kj::AsyncIoProvider& io() { return *io_.provider; }
  kj::Timer& timer() { return io_.provider->getTimer(); }

  // Runs func() here and waits for the promise it returns.
  template <typename Func>
  auto run(Func&& func) {
    Scope scope;
    return kj::evalNow(func).wait(io_.waitScope);
  }

 private:
  // Blocks SIGPIPE and marks client code for the duration of one call.
  class Scope {
   public:
    Scope();
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    sigset_t saved_;
    bool pipeWasPending_;
  };

  kj::AsyncIoContext io_;
};

}  // namespace myfs::rpc
