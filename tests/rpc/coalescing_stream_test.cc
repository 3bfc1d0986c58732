// CoalescingStream (rpc/coalescing_stream.h) over a real socket pair: Finish messages wait
// for the next message or the delay, in order; read-ahead hands every message over
// intact, small or large.
#include <capnp/message.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize-async.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>
#include <kj/async-io.h>

#include <random>
#include <vector>

#include "rpc/coalescing_stream.h"

namespace myfs::rpc {
namespace {

class CoalescingStreamTest : public ::testing::Test {
 protected:
  CoalescingStreamTest() : io(kj::setupAsyncIo()) {
    auto pipe = io.provider->newTwoWayPipe();
    sender = kj::heap<CoalescingStream>(kj::mv(pipe.ends[0]), timer);
    raw = kj::mv(pipe.ends[1]);
  }
  ~CoalescingStreamTest() noexcept override {}

  // Writes one RPC message of the given kind (questionId `id`) through the stream.
  void send(capnp::rpc::Message::Which kind, std::uint32_t id) {
    capnp::MallocMessageBuilder m;
    auto msg = m.initRoot<capnp::rpc::Message>();
    if (kind == capnp::rpc::Message::FINISH) {
      msg.initFinish().setQuestionId(id);
    } else {
      auto call = msg.initCall();
      call.setQuestionId(id);
      call.setInterfaceId(0x1234);
      call.initParams().initContent().setAs<capnp::Text>("parameters of the call");
    }
    capnp::writeMessage(*sender, m).wait(io.waitScope);
  }

  // The kind and question id of the next message the peer reads.
  std::pair<capnp::rpc::Message::Which, std::uint32_t> receive() {
    auto reader = capnp::readMessage(*raw).wait(io.waitScope);
    auto msg = reader->getRoot<capnp::rpc::Message>();
    const std::uint32_t id = msg.isFinish() ? msg.getFinish().getQuestionId() : msg.getCall().getQuestionId();
    return {msg.which(), id};
  }

  bool peerHasData() {
    char c;
    auto got = raw->tryRead(&c, 1, 1);
    return got.poll(io.waitScope);
  }

  kj::AsyncIoContext io;
  // The sender's clock moves only when a test says so: a loaded machine that takes longer
  // than kFinishDelay between two lines must not flush what the test expects held.
  kj::TimerImpl timer{kj::origin<kj::TimePoint>()};
  kj::Own<CoalescingStream> sender;
  kj::Own<kj::AsyncIoStream> raw;
};

TEST_F(CoalescingStreamTest, FinishWaitsForTheNextMessageAndGoesOutFirst) {
  send(capnp::rpc::Message::FINISH, 1);
  send(capnp::rpc::Message::FINISH, 2);
  EXPECT_FALSE(peerHasData());  // held back
  send(capnp::rpc::Message::CALL, 3);
  EXPECT_EQ(std::make_pair(capnp::rpc::Message::FINISH, 1u), receive());
  EXPECT_EQ(std::make_pair(capnp::rpc::Message::FINISH, 2u), receive());
  EXPECT_EQ(std::make_pair(capnp::rpc::Message::CALL, 3u), receive());
}

TEST_F(CoalescingStreamTest, ALoneFinishGoesOutAfterTheDelay) {
  send(capnp::rpc::Message::FINISH, 7);
  timer.advanceTo(timer.now() + CoalescingStream::kFinishDelay - 1 * kj::MICROSECONDS);
  EXPECT_FALSE(peerHasData());  // not yet
  timer.advanceTo(timer.now() + 1 * kj::MICROSECONDS);
  EXPECT_EQ(std::make_pair(capnp::rpc::Message::FINISH, 7u), receive());
  send(capnp::rpc::Message::CALL, 8);  // later messages are unaffected
  EXPECT_EQ(std::make_pair(capnp::rpc::Message::CALL, 8u), receive());
}

TEST_F(CoalescingStreamTest, OnlyFinishMessagesAreHeld) {
  capnp::MallocMessageBuilder call;
  call.initRoot<capnp::rpc::Message>().initCall().setQuestionId(1);
  capnp::MallocMessageBuilder finish;
  finish.initRoot<capnp::rpc::Message>().initFinish().setQuestionId(1);
  auto segmentsOf = [](capnp::MallocMessageBuilder& m) {
    auto segments = m.getSegmentsForOutput();
    EXPECT_EQ(1u, segments.size());
    std::vector<kj::ArrayPtr<const kj::byte>> pieces;
    static const std::uint32_t table[2] = {0, 0};
    pieces.push_back(kj::arrayPtr(reinterpret_cast<const kj::byte*>(table), sizeof table));
    pieces.push_back(segments[0].asBytes());
    return pieces;
  };
  auto c = segmentsOf(call);
  auto f = segmentsOf(finish);
  EXPECT_FALSE(CoalescingStream::isFinish(kj::arrayPtr(c.data(), c.size())));
  EXPECT_TRUE(CoalescingStream::isFinish(kj::arrayPtr(f.data(), f.size())));
}

TEST_F(CoalescingStreamTest, ReadAheadHandsOverSmallAndLargeMessagesIntact) {
  // The peer writes small messages back to back, then a large one; the stream reads them.
  auto reader = kj::heap<CoalescingStream>(kj::mv(raw), io.provider->getTimer());
  std::vector<kj::Own<capnp::MallocMessageBuilder>> out;
  for (int i = 0; i < 50; ++i) {
    auto m = kj::heap<capnp::MallocMessageBuilder>();
    m->initRoot<capnp::rpc::Message>().initFinish().setQuestionId(static_cast<std::uint32_t>(i));
    out.push_back(kj::mv(m));
  }
  auto big = kj::heap<capnp::MallocMessageBuilder>();
  auto call = big->initRoot<capnp::rpc::Message>().initCall();
  call.setQuestionId(99);
  auto data = call.initParams().initContent().initAs<capnp::Data>(3 << 20);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<kj::byte>(i * 7);
  out.push_back(kj::mv(big));
  // Written by a plain writer on the other end (the held-back logic is not under test).
  auto writes = kj::Promise<void>(kj::READY_NOW);
  for (auto& m : out) writes = writes.then([this, &m] { return capnp::writeMessage(*sender, *m); });
  for (int i = 0; i < 50; ++i) {
    auto in = capnp::readMessage(*reader).wait(io.waitScope);
    ASSERT_EQ(static_cast<std::uint32_t>(i), in->getRoot<capnp::rpc::Message>().getFinish().getQuestionId());
  }
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 1 << 22;
  auto in = capnp::readMessage(*reader, options).wait(io.waitScope);
  auto got = in->getRoot<capnp::rpc::Message>().getCall().getParams().getContent().getAs<capnp::Data>();
  ASSERT_EQ(size_t{3} << 20, got.size());
  for (size_t i = 0; i < got.size(); i += 4093) ASSERT_EQ(static_cast<kj::byte>(i * 7), got[i]) << i;
  writes.wait(io.waitScope);
}

// Messages of random sizes arriving in pieces of random sizes (as a socket delivers
// them) come out of the read-ahead intact and in order.
TEST_F(CoalescingStreamTest, ReadAheadSurvivesArbitraryArrivalBoundaries) {
  auto reader = kj::heap<CoalescingStream>(kj::mv(raw), io.provider->getTimer());
  std::mt19937 rng(7);
  std::vector<kj::Array<capnp::word>> sent;
  std::vector<kj::byte> wire;
  for (int i = 0; i < 300; ++i) {
    capnp::MallocMessageBuilder m;
    auto call = m.initRoot<capnp::rpc::Message>().initCall();
    call.setQuestionId(static_cast<std::uint32_t>(i));
    const size_t n = rng() % 3 == 0 ? rng() % 40000 : rng() % 200;
    auto data = call.initParams().initContent().initAs<capnp::Data>(static_cast<unsigned>(n));
    for (size_t k = 0; k < n; ++k) data[k] = static_cast<kj::byte>(rng());
    auto flat = capnp::messageToFlatArray(m);
    auto bytes = flat.asBytes();
    wire.insert(wire.end(), bytes.begin(), bytes.end());
    sent.push_back(kj::mv(flat));
  }
  // The other end of the pipe, written raw in random pieces by a plain stream.
  auto pipeEnd = kj::mv(sender);  // a CoalescingStream: non-Finish bytes pass straight through
  size_t pos = 0;
  kj::Promise<void> writing = kj::READY_NOW;
  while (pos < wire.size()) {
    const size_t piece = std::min<size_t>(wire.size() - pos, 1 + rng() % 9000);
    writing = writing.then([&pipeEnd, p = wire.data() + pos, piece] { return pipeEnd->write(p, piece); });
    pos += piece;
  }
  writing = writing.eagerlyEvaluate(nullptr);
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 1 << 22;
  for (size_t i = 0; i < sent.size(); ++i) {
    auto in = capnp::readMessage(*reader, options).wait(io.waitScope);
    auto got = in->getRoot<capnp::rpc::Message>().getCall();
    ASSERT_EQ(i, got.getQuestionId());
    capnp::FlatArrayMessageReader want(sent[i]);
    ASSERT_EQ(want.getRoot<capnp::rpc::Message>().getCall().getParams().getContent().getAs<capnp::Data>(),
              got.getParams().getContent().getAs<capnp::Data>())
        << i;
  }
  writing.wait(io.waitScope);
}

}  // namespace
}  // namespace myfs::rpc
