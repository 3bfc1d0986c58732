#include "rpc/direct_loop.h"

#include <signal.h>

namespace myfs::rpc {

void (*ThreadHooks::enterInternalThread)() = nullptr;
void (*ThreadHooks::internalScope)(bool) = nullptr;

namespace {

kj::AsyncIoContext setUp() {
  if (ThreadHooks::internalScope) ThreadHooks::internalScope(true);
  struct sigaction savedPipe {};
  sigaction(SIGPIPE, nullptr, &savedPipe);
  auto io = kj::setupAsyncIo();
  sigaction(SIGPIPE, &savedPipe, nullptr);  // kj ignores SIGPIPE process-wide; undo that
  if (ThreadHooks::internalScope) ThreadHooks::internalScope(false);
  return io;
}

}  // namespace

// The calls sent ahead, and a wait for their count to drop.
struct DirectLoop::Ahead final : public kj::TaskSet::ErrorHandler {
  Ahead() : tasks(*this) {}
  void taskFailed(kj::Exception&&) override {}  // each call handles its own failure
  void settled() {
    --count;
    KJ_IF_MAYBE(w, waiter) {
      (*w)->fulfill();
      waiter = nullptr;
    }
  }
  std::size_t count = 0;
  kj::Maybe<kj::Own<kj::PromiseFulfiller<void>>> waiter;
  kj::TaskSet tasks;  // last: its tasks go before the rest
};

DirectLoop::DirectLoop() : io_(setUp()) {}

DirectLoop::~DirectLoop() = default;

void DirectLoop::dropAhead() { ahead_.reset(); }

void DirectLoop::sendAhead(kj::Promise<void> sent, std::size_t maxAhead) {
  Scope scope;
  if (!ahead_) ahead_ = std::make_unique<Ahead>();
  Ahead& a = *ahead_;
  ++a.count;
  a.tasks.add(sent.then([&a] { a.settled(); }, [&a](kj::Exception&&) { a.settled(); }));
  io_.waitScope.poll();  // the write goes out now
  while (a.count > maxAhead) {
    auto paf = kj::newPromiseAndFulfiller<void>();
    a.waiter = kj::mv(paf.fulfiller);
    paf.promise.wait(io_.waitScope);
  }
}

DirectLoop::Scope::Scope() {
  if (ThreadHooks::internalScope) ThreadHooks::internalScope(true);
}

DirectLoop::Scope::~Scope() {
  if (ThreadHooks::internalScope) ThreadHooks::internalScope(false);
}

}  // namespace myfs::rpc
