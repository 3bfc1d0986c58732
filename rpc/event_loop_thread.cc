#include "rpc/event_loop_thread.h"

#include <pthread.h>
#include <signal.h>

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
  struct sigaction savedPipe {};
  sigaction(SIGPIPE, nullptr, &savedPipe);
  auto io = kj::setupAsyncIo();
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
  paf.promise.wait(io.waitScope);
}

}  // namespace myfs::rpc
