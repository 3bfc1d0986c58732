// WritebackQueue: the thread that writes dirty chunks back in the background, so that
// an application writing a large file goes on filling the page cache while the previous
// chunks travel to the data servers. One per Vfs, shared by its page caches.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/cluster.h"

namespace myfs {

class WritebackQueue {
 public:
  explicit WritebackQueue(DataPlane& data);
  // Finishes what was submitted, then stops.
  ~WritebackQueue();
  WritebackQueue(const WritebackQueue&) = delete;
  WritebackQueue& operator=(const WritebackQueue&) = delete;

  // Writes `writes` on the queue's thread, then calls done(result) there. The bytes the
  // writes point at must stay unchanged until then.
  void submit(std::vector<ChunkWrite> writes, std::function<void(Result<void>)> done);

 private:
  struct Job {
    std::vector<ChunkWrite> writes;
    std::function<void(Result<void>)> done;
  };
  void loop();

  DataPlane& data_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;  // GUARDED_BY(mu_)
  bool stop_ = false;     // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace myfs
