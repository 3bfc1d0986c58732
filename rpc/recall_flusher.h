// RecallFlusher: the client thread that writes back what a lease recall asks for, so
// that the event-loop thread, which must answer the server, never blocks on calls of its
// own (they would need that very loop).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include <kj/async.h>

namespace myfs::rpc {

class RecallFlusher {
 public:
  RecallFlusher();
  // Finishes the queued work, then stops the thread.
  ~RecallFlusher();
  RecallFlusher(const RecallFlusher&) = delete;
  RecallFlusher& operator=(const RecallFlusher&) = delete;

  // Runs `work` on the flusher's thread. Call on a thread with a KJ event loop: the
  // promise belongs to it and resolves once the work is done.
  kj::Promise<void> run(std::function<void()> work);

 private:
  struct Job {
    std::function<void()> work;
    kj::Own<kj::CrossThreadPromiseFulfiller<void>> done;
  };
  void loop();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;  // GUARDED_BY(mu_)
  bool stop_ = false;     // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace myfs::rpc
