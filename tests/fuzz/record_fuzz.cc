// Fuzzes the decoders of the metadata store's on-disk records (a damaged or foreign
// RocksDB must give "absent"/EIO, never a crash): decode, re-encode, decode again.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/meta/meta_format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace myfs::server;  // NOLINT
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto sb = decodeSuperBlock(bytes)) {
    if (!decodeSuperBlock(encodeSuperBlock(*sb))) std::abort();
  }
  if (auto rec = decodeInode(7, bytes)) {
    auto again = decodeInode(7, encodeInode(*rec));
    if (!again || encodeInode(*again) != encodeInode(*rec)) std::abort();
  }
  if (auto d = decodeDentry(bytes)) {  // plain, or with a directory's intent
    auto again = decodeDentry(encodeDentry(*d));
    if (!again || again->intent.has_value() != d->intent.has_value() || encodeDentry(*again) != encodeDentry(*d)) {
      std::abort();
    }
  }
  if (auto c = decodeCounters(bytes)) {
    if (!decodeCounters(encodeCounters(*c))) std::abort();
  }
  (void)decodeU64(bytes);
  return 0;
}
