// The command line of myfsd.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace myfs::server {

enum class DaemonRole { kMeta, kData };

struct DaemonOptions {
  DaemonRole role = DaemonRole::kMeta;
  std::string dir;         // --dir: the store's directory
  std::string listen;      // --listen HOST:PORT (empty: no TCP)
  std::string unixPath;    // --unix PATH (empty: no unix socket)
  std::uint32_t shard = 0;         // --shard (meta)
  std::uint32_t shards = 1;        // --shards (meta)
  std::uint32_t chunkSize = 0;     // --chunk-size (meta, at format time); 0: the default
  std::uint32_t lockLeaseMs = 10000;  // --lease-ms (meta): session leases, file locks
  bool help = false;               // --help
};

// The usage text (several lines, ending in a newline).
const char* daemonUsage();

// Parses argv[1..argc). Accepts "--flag value" and "--flag=value". Requires --role,
// --dir and at least one of --listen/--unix; --shard/--shards/--chunk-size only with
// --role meta; numbers in range (shard < shards <= 65536; chunk size a power of two in
// [64 KiB, 64 MiB]). On a bad command line returns nullopt with *error set to one line.
std::optional<DaemonOptions> parseDaemonOptions(int argc, const char* const* argv, std::string* error);

}  // namespace myfs::server
