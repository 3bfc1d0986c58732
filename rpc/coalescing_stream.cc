#include "rpc/coalescing_stream.h"

#include <capnp/message.h>
#include <capnp/rpc.capnp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace myfs::rpc {

namespace {

// Reads smaller than this are served from a buffer filled this far ahead.
constexpr size_t kReadAhead = 8192;
// A Finish message is a few words; anything larger is not one.
constexpr size_t kLargestFinish = 64;

struct IgnoreErrors final : public kj::TaskSet::ErrorHandler {
  // A failed flush means the connection is gone: the RPC system's own read or write
  // reports that.
  void taskFailed(kj::Exception&&) override {}
};
IgnoreErrors ignoreErrors;

}  // namespace

CoalescingStream::CoalescingStream(kj::Own<kj::AsyncIoStream> inner, kj::Timer& timer)
    : inner_(kj::mv(inner)), timer_(timer), tasks_(kj::heap<kj::TaskSet>(ignoreErrors)) {}


CoalescingStream::~CoalescingStream() noexcept(false) { tasks_ = nullptr; }

bool CoalescingStream::isFinish(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  if (pieces.size() != 2 || pieces[0].size() != 8) return false;  // one segment
  const kj::ArrayPtr<const kj::byte> segment = pieces[1];
  if (segment.size() > kLargestFinish || segment.size() % sizeof(capnp::word) != 0 ||
      reinterpret_cast<std::uintptr_t>(segment.begin()) % alignof(capnp::word) != 0) {
    return false;
  }
  kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word*>(segment.begin()),
                                        segment.size() / sizeof(capnp::word));
  capnp::SegmentArrayMessageReader reader(kj::arrayPtr(&words, 1));
  return reader.getRoot<capnp::rpc::Message>().which() == capnp::rpc::Message::FINISH;
}

kj::Promise<size_t> CoalescingStream::tryRead(void* buffer, size_t minBytes, size_t maxBytes) {
  auto* out = static_cast<kj::byte*>(buffer);
  if (readEnd_ > readPos_) {
    const size_t n = std::min(readEnd_ - readPos_, maxBytes);
    std::memcpy(out, readBuf_.data() + readPos_, n);
    readPos_ += n;
    if (n >= minBytes) return n;
    return inner_->tryRead(out + n, minBytes - n, maxBytes - n).then([n](size_t more) { return n + more; });
  }
  if (maxBytes >= kReadAhead) return inner_->tryRead(buffer, minBytes, maxBytes);
  readBuf_.resize(kReadAhead);
  return inner_->tryRead(readBuf_.data(), minBytes, kReadAhead).then([this, out, maxBytes](size_t got) {
    const size_t n = std::min(got, maxBytes);
    std::memcpy(out, readBuf_.data(), n);
    readPos_ = n;
    readEnd_ = got;
    return n;
  });
}

kj::Promise<void> CoalescingStream::write(const void* buffer, size_t size) {
  auto pieces = kj::heapArray<kj::ArrayPtr<const kj::byte>>(1);
  pieces[0] = kj::ArrayPtr<const kj::byte>(static_cast<const kj::byte*>(buffer), size);
  return write(pieces.asPtr()).attach(kj::mv(pieces));
}

kj::Promise<void> CoalescingStream::write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  if (isFinish(pieces)) {
    for (const auto& p : pieces) held_.insert(held_.end(), p.begin(), p.end());
    scheduleFlush();
    return kj::READY_NOW;
  }
  KJ_IF_MAYBE(flush, flushing_) {
    // A flush of held messages is on its way: this message follows it.
    return flush->addBranch().then([this, pieces] { return writeRpc(pieces); });
  }
  return writeRpc(pieces);
}

kj::Promise<void> CoalescingStream::writeRpc(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  rpcWriting_ = true;
  kj::Promise<void> written = nullptr;
  if (held_.empty()) {
    written = inner_->write(pieces);
  } else {
    auto held = kj::heapArray<kj::byte>(held_.data(), held_.size());
    held_.clear();
    auto all = kj::heapArray<kj::ArrayPtr<const kj::byte>>(pieces.size() + 1);
    all[0] = held;
    std::copy(pieces.begin(), pieces.end(), all.begin() + 1);
    written = inner_->write(all).attach(kj::mv(all), kj::mv(held));
  }
  return written.then([this] {
    rpcWriting_ = false;
    if (!held_.empty()) scheduleFlush();  // held while this message was on its way
  });
}

void CoalescingStream::scheduleFlush() {
  if (flushScheduled_) return;
  flushScheduled_ = true;
  tasks_->add(timer_.afterDelay(kFinishDelay).then([this] {
    flushScheduled_ = false;
    // The RPC system's write in progress leaves them to its completion.
    if (held_.empty() || rpcWriting_ || flushing_ != nullptr) return;
    auto held = kj::heapArray<kj::byte>(held_.data(), held_.size());
    held_.clear();
    auto flush = inner_->write(held.begin(), held.size()).attach(kj::mv(held)).fork();
    tasks_->add(flush.addBranch().then(
        [this] {
          flushing_ = nullptr;
          if (!held_.empty()) scheduleFlush();
        },
        [this](kj::Exception&&) { flushing_ = nullptr; }));
    flushing_ = kj::mv(flush);
  }));
}

kj::Promise<void> CoalescingStream::whenWriteDisconnected() { return inner_->whenWriteDisconnected(); }
void CoalescingStream::shutdownWrite() { inner_->shutdownWrite(); }
void CoalescingStream::abortRead() { inner_->abortRead(); }
void CoalescingStream::getsockopt(int level, int option, void* value, kj::uint* length) {
  inner_->getsockopt(level, option, value, length);
}
void CoalescingStream::setsockopt(int level, int option, const void* value, kj::uint length) {
  inner_->setsockopt(level, option, value, length);
}
void CoalescingStream::getsockname(struct sockaddr* addr, kj::uint* length) { inner_->getsockname(addr, length); }
void CoalescingStream::getpeername(struct sockaddr* addr, kj::uint* length) { inner_->getpeername(addr, length); }
kj::Maybe<int> CoalescingStream::getFd() const { return inner_->getFd(); }

}  // namespace myfs::rpc
