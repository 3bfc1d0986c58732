// PageMessageStream: the capnp::MessageStream under a client's RPC connection.
//
// Writes go out as capnp::AsyncIoMessageStream writes them. Reads are framed the same
// way (the standard stream framing: segment table, then segments), but a large message
// (chunk data) is read into memory from the page allocator (core/page_memory.h) rather
// than a fresh array from the application's malloc: glibc gives a freed block of that
// size back to the system and faults the next one in again, 4 KiB at a time, which made
// streaming reads 8-10x slower on a VM where a page fault costs ~14 us.
//
// Contract: one read at a time (the RPC system's); a message is refused (an exception,
// which ends the connection) when its segment table is malformed, it has 512 segments
// or more, or it is larger than ReaderOptions::traversalLimitInWords.
#pragma once

#include <capnp/rpc-twoparty.h>
#include <capnp/serialize-async.h>
#include <kj/async-io.h>

#include <cstddef>
#include <cstring>

namespace myfs::rpc {

class PageMessageStream final : public capnp::MessageStream {
 public:
  // Messages at least this large are read into page memory.
  static constexpr std::size_t kPageMemoryBytes = 64 << 10;

  explicit PageMessageStream(kj::AsyncIoStream& stream) : stream_(stream), writer_(stream) {}

  kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> tryReadMessage(kj::ArrayPtr<kj::AutoCloseFd> fdSpace,
                                                                    capnp::ReaderOptions options,
                                                                    kj::ArrayPtr<capnp::word> scratchSpace) override;
  kj::Promise<void> writeMessage(kj::ArrayPtr<const int> fds,
                                 kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) override {
    return writer_.writeMessage(fds, segments);
  }
  kj::Promise<void> writeMessages(kj::ArrayPtr<kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>> messages) override {
    return writer_.writeMessages(messages);
  }
  kj::Maybe<int> getSendBufferSize() override { return writer_.getSendBufferSize(); }
  kj::Promise<void> end() override { return writer_.end(); }

 private:
  kj::AsyncIoStream& stream_;
  capnp::AsyncIoMessageStream writer_;
};

// capnp::TwoPartyClient, with large replies read into page memory (PageMessageStream).
class RpcClient {
 public:
  explicit RpcClient(kj::AsyncIoStream& stream)
      : messages_(stream), network_(messages_, capnp::rpc::twoparty::Side::CLIENT), rpc_(capnp::makeRpcClient(network_)) {}

  capnp::Capability::Client bootstrap() {
    capnp::word scratch[4];
    std::memset(scratch, 0, sizeof scratch);
    capnp::MallocMessageBuilder message(scratch);
    auto vatId = message.getRoot<capnp::rpc::twoparty::VatId>();
    vatId.setSide(capnp::rpc::twoparty::Side::SERVER);
    return rpc_.bootstrap(vatId);
  }

 private:
  PageMessageStream messages_;
  capnp::TwoPartyVatNetwork network_;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc_;
};

}  // namespace myfs::rpc
