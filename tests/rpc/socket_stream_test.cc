// SocketStream (rpc/socket_stream.h) over a real socket pair: epoll watches it for
// reading only, a write larger than the socket holds waits for room and then stops
// watching, a write to a peer that is gone is an exception, never SIGPIPE, and so is a
// read from a peer that reset the connection.
#include <dirent.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <kj/async-io.h>
#include <kj/async-unix.h>

#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "rpc/socket_stream.h"

namespace myfs::rpc {
namespace {

// The epoll event mask registered for `fd` in any epoll set of this process, or -1.
long long epollEventsOf(int fd) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  long long found = -1;
  while (dirent* e = readdir(dir)) {
    std::ifstream info(std::string("/proc/self/fdinfo/") + e->d_name);
    std::string line;
    while (std::getline(info, line)) {
      int tfd = -1;
      unsigned long long events = 0;
      if (std::sscanf(line.c_str(), "tfd: %d events: %llx", &tfd, &events) == 2 && tfd == fd) found = events;
    }
  }
  closedir(dir);
  return found;
}

int openFds() {
  DIR* dir = opendir("/proc/self/fd");
  int n = 0;
  while (readdir(dir) != nullptr) ++n;
  closedir(dir);
  return n;
}

class SocketStreamTest : public ::testing::Test {
 protected:
  SocketStreamTest() : io(kj::setupAsyncIo()) {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    streamFd = sv[0];
    stream = kj::heap<SocketStream>(io.unixEventPort, sv[0]);
    peer = io.lowLevelProvider->wrapSocketFd(sv[1], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
  }
  ~SocketStreamTest() noexcept override {}

  kj::AsyncIoContext io;
  int streamFd = -1;
  kj::Own<SocketStream> stream;
  kj::Own<kj::AsyncIoStream> peer;
};

TEST_F(SocketStreamTest, EpollWatchesItForReadingOnly) {
  const long long events = epollEventsOf(streamFd);
  ASSERT_NE(events, -1) << "the stream's fd is in no epoll set";
  EXPECT_TRUE(events & 0x1) << std::hex << events;    // EPOLLIN
  EXPECT_FALSE(events & 0x4) << std::hex << events;   // EPOLLOUT: the peer's reads must not wake us
  int peerFd = -1;
  KJ_IF_MAYBE(fd, peer->getFd()) { peerFd = *fd; }
  EXPECT_TRUE(epollEventsOf(peerFd) & 0x4) << "kj's own stream, the reason for this one, watches for writing";
}

TEST_F(SocketStreamTest, ReadsWhatArrivesThenEndOfStream) {
  char in[100];
  auto pending = stream->tryRead(in, 5, sizeof in);
  EXPECT_FALSE(pending.poll(io.waitScope));
  peer->write("hel", 3).wait(io.waitScope);
  EXPECT_FALSE(pending.poll(io.waitScope));  // fewer than minBytes so far
  peer->write("lo world", 8).wait(io.waitScope);
  const size_t got = pending.wait(io.waitScope);
  ASSERT_GE(got, 5u);
  size_t total = got;
  while (total < 11) total += stream->tryRead(in + total, 1, sizeof in - total).wait(io.waitScope);
  EXPECT_EQ(std::string(in, total), "hello world");
  peer->shutdownWrite();
  EXPECT_EQ(stream->tryRead(in, 1, sizeof in).wait(io.waitScope), 0u);
}

// A read that drains the socket makes the next one wait for epoll without asking the
// kernel first; data that arrives while no read waits (before the loop even runs) still
// wakes it, and so does the end of the stream.
TEST_F(SocketStreamTest, AfterADrainingReadDataThatArrivesMeanwhileIsNotMissed) {
  char in[64];
  int peerFd = -1;
  KJ_IF_MAYBE(fd, peer->getFd()) { peerFd = *fd; }
  peer->write("abc", 3).wait(io.waitScope);
  EXPECT_EQ(stream->tryRead(in, 1, sizeof in).wait(io.waitScope), 3u);  // short: drained
  ASSERT_EQ(::write(peerFd, "defg", 4), 4);                     // no loop turn since
  EXPECT_EQ(stream->tryRead(in, 4, sizeof in).wait(io.waitScope), 4u);
  EXPECT_EQ(std::string(in, 4), "defg");
  for (int i = 0; i < 3; ++i) {  // drained again, then data only after the read waits
    auto pending = stream->tryRead(in, 2, sizeof in);
    EXPECT_FALSE(pending.poll(io.waitScope));
    ASSERT_EQ(::write(peerFd, "hi", 2), 2);
    EXPECT_EQ(pending.wait(io.waitScope), 2u);
  }
  auto last = stream->tryRead(in, 1, sizeof in);
  EXPECT_FALSE(last.poll(io.waitScope));
  peer->shutdownWrite();
  EXPECT_EQ(last.wait(io.waitScope), 0u);
}

TEST_F(SocketStreamTest, WriteLargerThanTheSocketWaitsForRoomAndArrivesIntact) {
  const int fdsBefore = openFds();
  std::vector<kj::byte> a(3 << 20), b(5 << 20 | 13), c(777);
  std::iota(a.begin(), a.end(), 1);
  std::iota(b.begin(), b.end(), 7);
  std::iota(c.begin(), c.end(), 3);
  kj::ArrayPtr<const kj::byte> pieces[] = {kj::arrayPtr(a.data(), a.size()), kj::arrayPtr(b.data(), b.size()),
                                           kj::arrayPtr(c.data(), c.size())};
  auto written = stream->write(kj::arrayPtr(pieces, 3));
  EXPECT_FALSE(written.poll(io.waitScope));  // the socket holds far less
  EXPECT_EQ(openFds(), fdsBefore + 1);       // watching for room through one duplicate

  std::vector<kj::byte> in(a.size() + b.size() + c.size());
  peer->read(in.data(), in.size()).wait(io.waitScope);
  written.wait(io.waitScope);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), in.begin()));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), in.begin() + a.size()));
  EXPECT_TRUE(std::equal(c.begin(), c.end(), in.begin() + a.size() + b.size()));
  EXPECT_EQ(openFds(), fdsBefore);  // the watch ended with the write
  EXPECT_EQ(epollEventsOf(streamFd) & 0x4, 0);
}

TEST_F(SocketStreamTest, WriteToAPeerThatIsGoneIsDisconnectedWithoutSigpipe) {
  struct sigaction dfl {}, saved {};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &dfl, &saved);  // a SIGPIPE would end this process
  peer = nullptr;
  const char msg[] = "anyone there?";
  kj::Maybe<kj::Exception> failure = kj::runCatchingExceptions([&] {
    for (int i = 0; i < 3; ++i) stream->write(msg, sizeof msg).wait(io.waitScope);
  });
  sigaction(SIGPIPE, &saved, nullptr);
  KJ_IF_MAYBE(e, failure) { EXPECT_EQ(e->getType(), kj::Exception::Type::DISCONNECTED) << e->getDescription().cStr(); }
  else {
    ADD_FAILURE() << "writes to a closed socket succeeded";
  }
}

TEST_F(SocketStreamTest, ReadFromAPeerThatResetTheConnectionIsDisconnected) {
  const char msg[] = "never read";
  stream->write(msg, sizeof msg).wait(io.waitScope);  // left unread in the peer's socket
  peer = nullptr;  // a close with unread data resets the connection: ECONNRESET here
  char in[16];
  kj::Maybe<kj::Exception> failure =
      kj::runCatchingExceptions([&] { stream->tryRead(in, 1, sizeof in).wait(io.waitScope); });
  KJ_IF_MAYBE(e, failure) { EXPECT_EQ(e->getType(), kj::Exception::Type::DISCONNECTED) << e->getDescription().cStr(); }
  else {
    ADD_FAILURE() << "a read after the peer reset the connection did not fail";
  }
}

TEST_F(SocketStreamTest, LeanStreamTakesOverTheSocketOfAKjStream) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto kjStream = io.lowLevelProvider->wrapSocketFd(sv[0], kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
  auto lean = leanSocketStream(kj::mv(kjStream), io.unixEventPort);
  int leanFd = -1;
  KJ_IF_MAYBE(fd, lean->getFd()) { leanFd = *fd; }
  ASSERT_GE(leanFd, 0);
  EXPECT_EQ(epollEventsOf(leanFd) & 0x4, 0);
  ASSERT_EQ(write(sv[1], "ping", 4), 4);
  char in[4];
  EXPECT_EQ(lean->tryRead(in, 4, 4).wait(io.waitScope), 4u);
  EXPECT_EQ(std::string(in, 4), "ping");
  lean->write("pong", 4).wait(io.waitScope);
  EXPECT_EQ(read(sv[1], in, 4), 4);
  EXPECT_EQ(std::string(in, 4), "pong");
  close(sv[1]);

  auto pipe = kj::newTwoWayPipe();  // in memory, no fd: kept as it is
  kj::AsyncIoStream* before = pipe.ends[0].get();
  EXPECT_EQ(leanSocketStream(kj::mv(pipe.ends[0]), io.unixEventPort).get(), before);
}

}  // namespace
}  // namespace myfs::rpc
