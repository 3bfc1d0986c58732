// EventLoopThread: one thread that owns a KJ event loop and every Cap'n Proto object
// of a client; other threads run work on it with run(), which blocks until the
// promise the work returns has settled.
//
// Cap'n Proto objects belong to the thread of their event loop, so all connections
// live here. The thread blocks every signal (the application's handlers run in its own
// threads) and the process's SIGPIPE disposition is restored after kj changes it.
//
// After fork() the thread does not exist in the child: the owner must abandon (leak)
// the object there, never destroy it (its destructor would touch the parent's epoll
// set), and build a new one.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include <kj/async-io.h>
#include <kj/async.h>

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace myfs::rpc {

// Tell ThreadSanitizer about the happens-before that KJ's cross-thread hand-off creates
// through its own (uninstrumented) futex code. No-ops in other builds.
#if defined(__SANITIZE_THREAD__)
inline void handOff(const void* token) { __tsan_release(const_cast<void*>(token)); }
inline void takeOver(const void* token) { __tsan_acquire(const_cast<void*>(token)); }
#else
inline void handOff(const void*) {}
inline void takeOver(const void*) {}
#endif

class EventLoopThread {
 public:
  EventLoopThread();
  ~EventLoopThread();
  EventLoopThread(const EventLoopThread&) = delete;
  EventLoopThread& operator=(const EventLoopThread&) = delete;

  // Runs func() on the loop thread and waits for the promise it returns (of a non-void
  // value). Exceptions from func or the promise are rethrown in the caller. func may use
  // the caller's stack: the caller is blocked until the promise has settled.
  template <typename Func>
  auto run(Func&& func) {
    handOff(this);
    auto result = executor_->executeSync([this, &func]() {
      takeOver(this);
      return kj::evalNow(func).then([this](auto&& value) {
        handOff(this);
        return kj::mv(value);
      });
    });
    takeOver(this);
    return result;
  }

  // Only valid on the loop thread.
  kj::AsyncIoProvider& io() { return *io_->provider; }
  kj::Timer& timer() { return io_->provider->getTimer(); }
  kj::UnixEventPort& port() { return io_->unixEventPort; }

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable ready_;
  bool started_ = false;
  kj::Own<const kj::Executor> executor_;
  kj::AsyncIoContext* io_ = nullptr;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop_;
  std::thread thread_;
};

}  // namespace myfs::rpc
