#include "rpc/recall_flusher.h"

#include "rpc/direct_loop.h"

namespace myfs::rpc {

RecallFlusher::RecallFlusher() : thread_([this] { loop(); }) {}

RecallFlusher::~RecallFlusher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

kj::Promise<void> RecallFlusher::run(std::function<void()> work) {
  auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(Job{std::move(work), kj::mv(paf.fulfiller)});
  }
  wake_.notify_one();
  return kj::mv(paf.promise);
}

void RecallFlusher::loop() {
  if (ThreadHooks::enterInternalThread != nullptr) ThreadHooks::enterInternalThread();
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job.work();
    } catch (...) {
      // The work reports nothing: the server gets its answer regardless.
    }
    job.done->fulfill();
  }
}

}  // namespace myfs::rpc
