#include "rpc/socket_stream.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace myfs::rpc {
namespace {

// Per sendmsg(); the kernel's own limit (UIO_MAXIOV) is 1024.
constexpr size_t kMaxIov = 64;

kj::Exception socketError(const char* op, int err) {
  const bool gone = err == EPIPE || err == ECONNRESET || err == ENOTCONN || err == ETIMEDOUT ||
                    err == ECONNABORTED || err == EHOSTUNREACH || err == ENETUNREACH;
  return kj::Exception(gone ? kj::Exception::Type::DISCONNECTED : kj::Exception::Type::FAILED, __FILE__, __LINE__,
                       kj::str(op, ": ", std::strerror(err)));
}

int takeNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK) == 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  return fd;
}

}  // namespace

SocketStream::SocketStream(kj::UnixEventPort& port, int fd)
    : port_(port),
      fd_(takeNonBlocking(fd)),
      readObserver_(kj::heap<kj::UnixEventPort::FdObserver>(port, fd, kj::UnixEventPort::FdObserver::OBSERVE_READ)) {
  readiness_ = watchReadiness().eagerlyEvaluate(nullptr);
}

kj::Promise<void> SocketStream::watchReadiness() {
  return readObserver_->whenBecomesReadable().then([this] {
    drained_ = false;
    KJ_IF_MAYBE(waiter, readWaiter_) {
      (*waiter)->fulfill();
      readWaiter_ = nullptr;
    }
    return watchReadiness();
  });
}

SocketStream::~SocketStream() noexcept(false) {
  stopWatchingWrites();
  readiness_ = nullptr;  // before the observer it waits on
  readObserver_ = nullptr;
  ::close(fd_);
}

kj::Promise<size_t> SocketStream::tryRead(void* buffer, size_t minBytes, size_t maxBytes) {
  return readFrom(static_cast<kj::byte*>(buffer), minBytes, maxBytes, 0);
}

kj::Promise<size_t> SocketStream::readFrom(kj::byte* buffer, size_t minBytes, size_t maxBytes, size_t done) {
  for (;;) {
    if (drained_) {
      auto paf = kj::newPromiseAndFulfiller<void>();
      readWaiter_ = kj::mv(paf.fulfiller);
      return paf.promise.then([this, buffer, minBytes, maxBytes, done] {
        return readFrom(buffer, minBytes, maxBytes, done);
      });
    }
    const size_t asked = maxBytes - done;
    const ssize_t n = ::read(fd_, buffer + done, asked);
    if (n > 0) {
      done += static_cast<size_t>(n);
      // Less than asked: the socket is empty now (a stream socket hands over all it has).
      if (static_cast<size_t>(n) < asked) drained_ = true;
      if (done >= minBytes) return done;
      continue;
    }
    if (n == 0) return done;  // end of stream
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return socketError("read", errno);
    drained_ = true;
  }
}

kj::Promise<void> SocketStream::write(const void* buffer, size_t size) {
  auto pieces = kj::heapArray<kj::ArrayPtr<const kj::byte>>(1);
  pieces[0] = kj::ArrayPtr<const kj::byte>(static_cast<const kj::byte*>(buffer), size);
  return writeFrom(pieces, 0, 0).attach(kj::mv(pieces));
}

kj::Promise<void> SocketStream::write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  return writeFrom(pieces, 0, 0);
}

kj::Promise<void> SocketStream::writeFrom(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces, size_t first,
                                          size_t offset) {
  for (;;) {
    while (first < pieces.size() && offset == pieces[first].size()) {
      ++first;
      offset = 0;
    }
    if (first == pieces.size()) {
      stopWatchingWrites();
      return kj::READY_NOW;
    }
    iovec iov[kMaxIov];
    size_t count = 0;
    for (size_t i = first; i < pieces.size() && count < kMaxIov; ++i) {
      const size_t skip = i == first ? offset : 0;
      iov[count].iov_base = const_cast<kj::byte*>(pieces[i].begin() + skip);
      iov[count].iov_len = pieces[i].size() - skip;
      ++count;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        stopWatchingWrites();
        return socketError("write", errno);
      }
      return whenWritable().then([this, pieces, first, offset] { return writeFrom(pieces, first, offset); });
    }
    auto sent = static_cast<size_t>(n);
    while (sent > 0) {
      const size_t left = pieces[first].size() - offset;
      if (sent < left) {
        offset += sent;
        break;
      }
      sent -= left;
      ++first;
      offset = 0;
    }
  }
}

kj::Promise<void> SocketStream::whenWritable() {
  if (writeObserver_.get() == nullptr) {
    writeWatchFd_ = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
    if (writeWatchFd_ < 0) return socketError("dup", errno);
    // Registered edge-triggered: if space is already there, epoll reports it at once.
    writeObserver_ = kj::heap<kj::UnixEventPort::FdObserver>(port_, writeWatchFd_,
                                                             kj::UnixEventPort::FdObserver::OBSERVE_WRITE);
  }
  return writeObserver_->whenBecomesWritable();
}

void SocketStream::stopWatchingWrites() {
  if (writeObserver_.get() == nullptr) return;
  writeObserver_ = nullptr;  // leaves the epoll set before its fd closes
  ::close(writeWatchFd_);
  writeWatchFd_ = -1;
}

kj::Promise<void> SocketStream::whenWriteDisconnected() { return readObserver_->whenWriteDisconnected(); }

void SocketStream::shutdownWrite() { ::shutdown(fd_, SHUT_WR); }

void SocketStream::abortRead() { ::shutdown(fd_, SHUT_RD); }

void SocketStream::getsockopt(int level, int option, void* value, kj::uint* length) {
  socklen_t len = *length;
  if (::getsockopt(fd_, level, option, value, &len) != 0) throw socketError("getsockopt", errno);
  *length = len;
}

void SocketStream::setsockopt(int level, int option, const void* value, kj::uint length) {
  if (::setsockopt(fd_, level, option, value, length) != 0) throw socketError("setsockopt", errno);
}

void SocketStream::getsockname(struct sockaddr* addr, kj::uint* length) {
  socklen_t len = *length;
  if (::getsockname(fd_, addr, &len) != 0) throw socketError("getsockname", errno);
  *length = len;
}

void SocketStream::getpeername(struct sockaddr* addr, kj::uint* length) {
  socklen_t len = *length;
  if (::getpeername(fd_, addr, &len) != 0) throw socketError("getpeername", errno);
  *length = len;
}

kj::Own<kj::AsyncIoStream> leanSocketStream(kj::Own<kj::AsyncIoStream> stream, kj::UnixEventPort& port) {
  KJ_IF_MAYBE(fd, stream->getFd()) {
    const int mine = ::fcntl(*fd, F_DUPFD_CLOEXEC, 0);
    if (mine < 0) return stream;
    stream = nullptr;  // kj's stream leaves epoll and closes its fd; the socket stays open in `mine`
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(mine, reinterpret_cast<sockaddr*>(&ss), &len) == 0 &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
      int one = 1;
      ::setsockopt(mine, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return kj::heap<SocketStream>(port, mine);
  }
  return stream;
}

}  // namespace myfs::rpc
