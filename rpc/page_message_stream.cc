#include "rpc/page_message_stream.h"

#include <kj/debug.h>

#include <cstdint>
#include <cstring>

#include "core/page_memory.h"

namespace myfs::rpc {
namespace {

constexpr std::uint32_t kMaxSegments = 512;

std::uint32_t littleEndian32(const kj::byte* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

// A message's words, in page memory or on the heap, and the segment views into them.
struct MessageMemory {
  explicit MessageMemory(std::size_t words) {
    const std::size_t bytes = words * sizeof(capnp::word);
    if (bytes >= PageMessageStream::kPageMemoryBytes) {
      page = pageAllocate(bytes);
      KJ_REQUIRE(page != nullptr, "out of memory for an RPC message", bytes);
      start = static_cast<capnp::word*>(page);
    } else {
      heap = kj::heapArray<capnp::word>(words);
      start = heap.begin();
    }
  }
  ~MessageMemory() {
    if (page != nullptr) pageFree(page);
  }
  MessageMemory(const MessageMemory&) = delete;
  MessageMemory& operator=(const MessageMemory&) = delete;

  void* page = nullptr;
  kj::Array<capnp::word> heap;
  capnp::word* start = nullptr;
  kj::Array<kj::ArrayPtr<const capnp::word>> segments;
};

// The segment table after its first word: (count - 1) more sizes, padded to a word.
struct Header {
  kj::byte first[8];
  kj::Array<kj::byte> rest;
};

}  // namespace

kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> PageMessageStream::tryReadMessage(
    kj::ArrayPtr<kj::AutoCloseFd>, capnp::ReaderOptions options, kj::ArrayPtr<capnp::word>) {
  auto header = kj::heap<Header>();
  kj::byte* first = header->first;
  return stream_.tryRead(first, sizeof header->first, sizeof header->first)
      .then([this, header = kj::mv(header), options](size_t got) mutable -> kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> {
        if (got == 0) return kj::Maybe<capnp::MessageReaderAndFds>(nullptr);
        KJ_REQUIRE(got == sizeof header->first, "premature EOF in an RPC message's segment table");
        const std::uint32_t count = littleEndian32(header->first) + 1;
        KJ_REQUIRE(count != 0 && count < kMaxSegments, "RPC message has too many segments", count);
        header->rest = kj::heapArray<kj::byte>(std::size_t{count / 2} * sizeof(capnp::word));
        kj::byte* rest = header->rest.begin();
        const size_t restBytes = header->rest.size();
        return stream_.read(rest, restBytes).then([this, header = kj::mv(header), count, options]() mutable {
          std::uint64_t total = 0;
          auto sizes = kj::heapArray<std::uint32_t>(count);
          for (std::uint32_t i = 0; i < count; ++i) {
            sizes[i] = i == 0 ? littleEndian32(header->first + 4) : littleEndian32(header->rest.begin() + 4 * (i - 1));
            total += sizes[i];
          }
          KJ_REQUIRE(total <= options.traversalLimitInWords, "RPC message is larger than the traversal limit", total);
          auto memory = kj::heap<MessageMemory>(static_cast<std::size_t>(total));
          memory->segments = kj::heapArray<kj::ArrayPtr<const capnp::word>>(count);
          const capnp::word* at = memory->start;
          for (std::uint32_t i = 0; i < count; ++i) {
            memory->segments[i] = kj::arrayPtr(at, sizes[i]);
            at += sizes[i];
          }
          capnp::word* start = memory->start;
          return stream_.read(start, static_cast<std::size_t>(total) * sizeof(capnp::word))
              .then([memory = kj::mv(memory), options]() mutable -> kj::Maybe<capnp::MessageReaderAndFds> {
                auto segments = memory->segments.asPtr();
                kj::Own<capnp::MessageReader> reader =
                    kj::heap<capnp::SegmentArrayMessageReader>(segments, options).attach(kj::mv(memory));
                return capnp::MessageReaderAndFds{kj::mv(reader), nullptr};
              });
        });
      });
}

}  // namespace myfs::rpc
