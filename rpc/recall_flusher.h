// RecallFlusher: the client thread that writes back what a lease recall asks for, so
// that the event-loop thread, which must answer the server, never blocks on calls of its
// own (they would need that very loop).
#pragma once

#include <functional>

#include <kj/async.h>

#include "core/serial_worker.h"

namespace myfs::rpc {

class RecallFlusher {
 public:
  RecallFlusher();

  // Runs `work` on the flusher's thread. Call on a thread with a KJ event loop: the
  // promise belongs to it and resolves once the work is done.
  kj::Promise<void> run(std::function<void()> work);
  // Runs `work` on the flusher's thread; nobody waits for it. Any thread.
  void submit(std::function<void()> work) { worker_.submit(std::move(work)); }

 private:
  SerialWorker worker_;
};

}  // namespace myfs::rpc
