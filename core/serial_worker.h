// SerialWorker: one thread that runs submitted jobs in order. The client's background
// work (page cache write-back, lease recall write-back) uses one each, so that the
// threads that hand work over never wait for it to be picked up.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace myfs {

class SerialWorker {
 public:
  // onStart (may be empty) runs first on the new thread.
  explicit SerialWorker(std::function<void()> onStart = {});
  // Runs what was submitted, then stops the thread.
  ~SerialWorker();
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;

  // Queues job; it runs on the worker's thread after every job submitted before it.
  // Exceptions it throws are dropped.
  void submit(std::function<void()> job);

 private:
  void loop(const std::function<void()>& onStart);

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // GUARDED_BY(mu_)
  bool stop_ = false;                       // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace myfs
