// CoalescingStream: the byte stream under a Cap'n Proto two-party connection, wrapped to
// save system calls and wake-ups of the peer.
//
// - Finish messages (the caller telling the callee it may drop an answer) are held back
//   and go out in front of the next message, or after kFinishDelay when none follows.
//   A Finish never changes what the peer answers, so holding it is safe; without this,
//   each call wakes the server twice (its Call, then the previous call's Finish).
// - Small reads fill a buffer: a message's header, body and the next message's header
//   come from one read() instead of three. Large reads (chunk data) go straight to the
//   caller's buffer.
//
// Contract: the RPC system issues one write at a time (Cap'n Proto chains them) and one
// read at a time; the held-back Finish messages are written in order, before any later
// message, and never concurrently with a write of the RPC system.
#pragma once

#include <kj/async-io.h>
#include <kj/timer.h>

#include <cstddef>
#include <vector>

namespace myfs::rpc {

class CoalescingStream final : public kj::AsyncIoStream {
 public:
  static constexpr kj::Duration kFinishDelay = 2 * kj::MILLISECONDS;

  CoalescingStream(kj::Own<kj::AsyncIoStream> inner, kj::Timer& timer);
  ~CoalescingStream() noexcept(false);

  kj::Promise<size_t> tryRead(void* buffer, size_t minBytes, size_t maxBytes) override;
  kj::Promise<void> write(const void* buffer, size_t size) override;
  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override;
  kj::Promise<void> whenWriteDisconnected() override;
  void shutdownWrite() override;
  void abortRead() override;
  void getsockopt(int level, int option, void* value, kj::uint* length) override;
  void setsockopt(int level, int option, const void* value, kj::uint length) override;
  void getsockname(struct sockaddr* addr, kj::uint* length) override;
  void getpeername(struct sockaddr* addr, kj::uint* length) override;
  kj::Maybe<int> getFd() const override;

  // Whether `pieces` (one serialized message: segment table, then segments) is a
  // Cap'n Proto RPC Finish message.
  static bool isFinish(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces);

 private:
  // Writes a message of the RPC system, after the held-back ones (one system call when
  // the socket takes it all).
  kj::Promise<void> writeRpc(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces);
  // Writes the held-back messages after kFinishDelay unless a message takes them first.
  void scheduleFlush();

  kj::Own<kj::AsyncIoStream> inner_;
  kj::Timer& timer_;
  std::vector<kj::byte> held_;  // serialized Finish messages not written yet
  bool rpcWriting_ = false;     // a write of the RPC system is outstanding
  bool flushScheduled_ = false;
  kj::Maybe<kj::ForkedPromise<void>> flushing_;  // a write of held messages is outstanding
  kj::Own<kj::TaskSet> tasks_;                   // the flush timer and write; cancelled first
  std::vector<kj::byte> readBuf_;                // bytes read ahead: [readPos_, readEnd_)
  size_t readPos_ = 0, readEnd_ = 0;
};

}  // namespace myfs::rpc
