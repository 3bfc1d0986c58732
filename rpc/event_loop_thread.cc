#include "rpc/event_loop_thread.h"

#include "rpc/direct_loop.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>

namespace myfs::rpc {


EventLoopThread::EventLoopThread() {
  // The new thread inherits this mask: block everything in it.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  thread_ = std::thread([this] { loop(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  std::unique_lock lock(mu_);
  ready_.wait(lock, [this] { return started_; });
}

EventLoopThread::~EventLoopThread() {
  if (stop_) stop_->fulfill();
  if (thread_.joinable()) thread_.join();
}

void EventLoopThread::loop() {
  if (ThreadHooks::enterInternalThread != nullptr) ThreadHooks::enterInternalThread();
  struct sigaction savedPipe {};
  sigaction(SIGPIPE, nullptr, &savedPipe);
  // Held by pointer: if the application took the loop's fds (see below), destroying the
  // context would throw from destructors; it is then leaked instead.
  auto* ioHeap = new kj::AsyncIoContext(kj::setupAsyncIo());
  auto& io = *ioHeap;
  sigaction(SIGPIPE, &savedPipe, nullptr);  // kj ignores SIGPIPE process-wide; undo that
  auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
  {
    std::lock_guard lock(mu_);
    io_ = &io;
    executor_ = kj::getCurrentThreadExecutor().addRef();
    stop_ = kj::mv(paf.fulfiller);
    started_ = true;
  }
  ready_.notify_all();
  try {
    paf.promise.wait(io.waitScope);
    kj::evalLast([] {}).wait(io.waitScope);  // deferred destructions run while the loop works
  } catch (const kj::Exception& e) {
    // The loop cannot go on (e.g. the application closed one of its fds): callers get
    // DISCONNECTED from the executor and report EIO.
    fprintf(stderr, "myfs: client event loop stopped: %s\n", e.getDescription().cStr());
    return;  // ioHeap leaked on purpose
  }
  delete ioHeap;
}

}  // namespace myfs::rpc
