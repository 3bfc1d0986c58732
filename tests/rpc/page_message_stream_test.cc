// PageMessageStream (rpc/page_message_stream.h) reading what capnp::writeMessage wrote:
// one-segment and many-segment messages, small ones and large ones (page memory), the
// end of the stream, and malformed, cut-short or oversized messages, which are refused.
#include <gtest/gtest.h>
#include <kj/async-io.h>

#include <capnp/message.h>
#include <capnp/serialize-async.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rpc/page_message_stream.h"

namespace myfs::rpc {
namespace {

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + i / 7);
  return s;
}

class PageMessageStreamTest : public ::testing::Test {
 protected:
  PageMessageStreamTest() : io(kj::setupAsyncIo()) {}
  ~PageMessageStreamTest() noexcept override {}

  // A fresh in-memory pipe: what is written to `out` is read by `stream`. (Its writes
  // complete only as the other end reads: a write is started, then the read waited for.)
  void newPipe() {
    stream.reset();
    pipe = io.provider->newTwoWayPipe();
    stream = std::make_unique<PageMessageStream>(*pipe.ends[1]);
  }
  kj::AsyncIoStream& out() { return *pipe.ends[0]; }

  // Starts writing a message whose root is `data`, in segments of `segmentWords` words.
  kj::Promise<void> send(const std::string& data, unsigned segmentWords) {
    auto builder = kj::heap<capnp::MallocMessageBuilder>(segmentWords, capnp::AllocationStrategy::FIXED_SIZE);
    builder->getRoot<capnp::AnyPointer>().setAs<capnp::Data>(
        capnp::Data::Reader(reinterpret_cast<const kj::byte*>(data.data()), data.size()));
    auto written = capnp::writeMessage(out(), *builder);
    return written.attach(kj::mv(builder)).eagerlyEvaluate(nullptr);
  }

  std::string receive(capnp::ReaderOptions options = {}) {
    auto got = stream->tryReadMessage(nullptr, options, nullptr).wait(io.waitScope);
    KJ_IF_MAYBE(m, got) {
      auto d = m->reader->getRoot<capnp::AnyPointer>().getAs<capnp::Data>();
      return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
    }
    return "<end>";
  }

  kj::AsyncIoContext io;
  kj::TwoWayPipe pipe;
  std::unique_ptr<PageMessageStream> stream;
};

TEST_F(PageMessageStreamTest, ReadsSmallAndLargeMessagesOfOneOrManySegments) {
  newPipe();
  const std::vector<std::pair<std::size_t, unsigned>> cases = {
      {10, 1024}, {5000, 64}, {(1 << 20) + 13, 1 << 18}, {(3 << 20) + 5, 4096}};
  for (const auto& [bytes, segmentWords] : cases) {
    const std::string data = pattern(bytes);
    auto written = send(data, segmentWords);
    EXPECT_TRUE(receive() == data) << bytes << " bytes in segments of " << segmentWords << " words";
    written.wait(io.waitScope);
  }
  out().shutdownWrite();
  EXPECT_EQ("<end>", receive());
}

TEST_F(PageMessageStreamTest, RefusesMessagesOverTheTraversalLimit) {
  newPipe();
  auto written = send(pattern(80000), 1 << 14);  // 10,000 words
  capnp::ReaderOptions small;
  small.traversalLimitInWords = 1000;
  EXPECT_ANY_THROW(receive(small));
}

TEST_F(PageMessageStreamTest, RefusesTooManySegments) {
  newPipe();
  static const std::uint32_t table[2] = {600, 1};  // 601 segments
  auto written = out().write(table, sizeof table).eagerlyEvaluate(nullptr);
  EXPECT_ANY_THROW(receive());
}

TEST_F(PageMessageStreamTest, AMessageCutShortIsAnError) {
  newPipe();
  static const std::uint32_t table[2] = {0, 100};  // one segment of 100 words, then 16 bytes
  static const char some[16] = {};
  auto written = out()
                     .write(table, sizeof table)
                     .then([this] { return out().write(some, sizeof some); })
                     .then([this] { out().shutdownWrite(); })
                     .eagerlyEvaluate(nullptr);
  EXPECT_ANY_THROW(receive());
}

}  // namespace
}  // namespace myfs::rpc
