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

DirectLoop::DirectLoop() : io_(setUp()) {}

DirectLoop::Scope::Scope() {
  if (ThreadHooks::internalScope) ThreadHooks::internalScope(true);
}

DirectLoop::Scope::~Scope() {
  if (ThreadHooks::internalScope) ThreadHooks::internalScope(false);
}

}  // namespace myfs::rpc
