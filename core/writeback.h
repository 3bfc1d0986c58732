// WritebackQueue: the thread that writes dirty chunks back in the background, so that
// an application writing a large file goes on filling the page cache while the previous
// chunks travel to the data servers. One per Vfs, shared by its page caches.
#pragma once

#include <functional>
#include <vector>

#include "core/cluster.h"
#include "core/serial_worker.h"

namespace myfs {

class WritebackQueue {
 public:
  explicit WritebackQueue(DataPlane& data) : data_(data) {}

  // Writes `writes` on the queue's thread, then calls done(result) there. The bytes the
  // writes point at must stay unchanged until then.
  void submit(std::vector<ChunkWrite> writes, std::function<void(Result<void>)> done) {
    worker_.submit([this, writes = std::move(writes), done = std::move(done)] { done(data_.write(writes, false)); });
  }

 private:
  DataPlane& data_;
  SerialWorker worker_;  // last: its thread stops (after the queued writes) before data_ goes
};

}  // namespace myfs
