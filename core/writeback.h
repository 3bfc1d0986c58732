// WritebackQueue: the thread that moves page cache data in the background: dirty chunks
// back to the data servers (an application writing a large file goes on filling the
// cache meanwhile) and readahead from them (a sequential reader consumes one window
// while the next is on its way). One per Vfs, shared by its page caches.
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

  // Reads `reads` on the queue's thread, then calls done(reads, result) there. The
  // memory the reads point at is the queue's until then.
  void fetch(std::vector<ChunkRead> reads, std::function<void(std::vector<ChunkRead>&, Result<void>)> done) {
    worker_.submit([this, reads = std::move(reads), done = std::move(done)]() mutable {
      Result<void> r = data_.read(reads);
      done(reads, r);
    });
  }

 private:
  DataPlane& data_;
  SerialWorker worker_;  // last: its thread stops (after the queued writes) before data_ goes
};

}  // namespace myfs
