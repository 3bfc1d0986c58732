#include "rpc/direct_loop.h"

#include <pthread.h>
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

bool pipePending() {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, SIGPIPE) == 1;
}

}  // namespace

DirectLoop::DirectLoop() : io_(setUp()) {}

DirectLoop::Scope::Scope() {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &saved_);
  pipeWasPending_ = pipePending();
  if (ThreadHooks::internalScope) ThreadHooks::internalScope(true);
}

DirectLoop::Scope::~Scope() {
  if (ThreadHooks::internalScope) ThreadHooks::internalScope(false);
  if (!pipeWasPending_ && pipePending()) {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    timespec now{};
    sigtimedwait(&pipe, nullptr, &now);  // ours: a write on a connection that broke
  }
  pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
}

}  // namespace myfs::rpc
