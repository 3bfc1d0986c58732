#include "core/writeback.h"

namespace myfs {

WritebackQueue::WritebackQueue(DataPlane& data) : data_(data), thread_([this] { loop(); }) {}

WritebackQueue::~WritebackQueue() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void WritebackQueue::submit(std::vector<ChunkWrite> writes, std::function<void(Result<void>)> done) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(Job{std::move(writes), std::move(done)});
  }
  wake_.notify_one();
}

void WritebackQueue::loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job.done(data_.write(job.writes, false));
  }
}

}  // namespace myfs
