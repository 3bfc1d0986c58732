#include "rpc/recall_flusher.h"

#include <memory>

#include "rpc/direct_loop.h"

namespace myfs::rpc {

RecallFlusher::RecallFlusher()
    : worker_([] {
        if (ThreadHooks::enterInternalThread != nullptr) ThreadHooks::enterInternalThread();
      }) {}

kj::Promise<void> RecallFlusher::run(std::function<void()> work) {
  auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
  // std::function needs a copyable job: the fulfiller is shared.
  auto done = std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<void>>>(kj::mv(paf.fulfiller));
  worker_.submit([work = std::move(work), done] {
    struct Fulfil {
      kj::CrossThreadPromiseFulfiller<void>& f;
      ~Fulfil() { f.fulfill(); }  // also when work throws: the server gets its answer
    } fulfil{**done};
    work();
  });
  return kj::mv(paf.promise);
}

}  // namespace myfs::rpc
