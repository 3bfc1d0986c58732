// SocketStream: a connected stream socket (unix or TCP) as a kj::AsyncIoStream that
// wakes its event loop only for data to read.
//
// kj's own socket stream registers the fd with epoll for reading and writing, edge-
// triggered. On a unix socket every read by the peer frees send space and so raises
// EPOLLOUT here: an idle client waiting for its answer is woken once for nothing when the
// server takes the request, and the server once when the client takes the answer. On a
// VM each wake-up costs tens of microseconds, as much as the round trip itself.
//
// This stream watches the fd for reading only, and remembers when a read drained it: the
// next read then waits for epoll instead of asking the kernel first (the read() that
// would only say EAGAIN, once per message on each side). A write goes straight to sendmsg() (with
// MSG_NOSIGNAL: a broken connection is an exception, never SIGPIPE); only when the socket
// is full does it watch for space, through a duplicate of the fd that it drops again once
// the write has gone out.
//
// Contract: one read and one write outstanding at a time (as Cap'n Proto's two-party
// transport does); the stream belongs to the thread of `port`.
#pragma once

#include <kj/async-io.h>
#include <kj/async-unix.h>

namespace myfs::rpc {

class SocketStream final : public kj::AsyncIoStream {
 public:
  // Takes ownership of `fd` (a connected stream socket) and makes it non-blocking.
  SocketStream(kj::UnixEventPort& port, int fd);
  ~SocketStream() noexcept(false);

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
  kj::Maybe<int> getFd() const override { return fd_; }

 private:
  kj::Promise<size_t> readFrom(kj::byte* buffer, size_t minBytes, size_t maxBytes, size_t done);
  // Notes every readiness epoll reports, for as long as the stream lives: so none is lost
  // while no read waits.
  kj::Promise<void> watchReadiness();
  // Writes pieces[first..] with pieces[first] starting at `offset`.
  kj::Promise<void> writeFrom(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces, size_t first,
                              size_t offset);
  // Resolves when the socket has room to send; the watch ends with the next full write.
  kj::Promise<void> whenWritable();
  void stopWatchingWrites();

  kj::UnixEventPort& port_;
  const int fd_;
  kj::Own<kj::UnixEventPort::FdObserver> readObserver_;  // leaves epoll before fd_ closes
  bool drained_ = false;  // a read found the socket empty, and epoll reported nothing since
  kj::Maybe<kj::Own<kj::PromiseFulfiller<void>>> readWaiter_;  // a read waiting for data
  kj::Promise<void> readiness_ = nullptr;                      // watchReadiness()
  int writeWatchFd_ = -1;  // a dup of fd_, registered for writability while a write waits
  kj::Own<kj::UnixEventPort::FdObserver> writeObserver_;
};

// The stream to run Cap'n Proto over: a SocketStream on the socket of `stream` (kj's own
// stream is dropped) or, for a stream with no fd (an in-process pipe), `stream` itself.
kj::Own<kj::AsyncIoStream> leanSocketStream(kj::Own<kj::AsyncIoStream> stream, kj::UnixEventPort& port);

}  // namespace myfs::rpc
