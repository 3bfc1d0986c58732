#include "server/daemon/daemon_options.h"

#include <charconv>
#include <string_view>

namespace myfs::server {
namespace {

bool parseU32(std::string_view s, std::uint32_t* out) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > 0xffffffffull) return false;
  *out = static_cast<std::uint32_t>(v);
  return true;
}

}  // namespace

const char* daemonUsage() {
  return "usage: myfsd --role meta|data --dir PATH [--listen HOST:PORT] [--unix PATH]\n"
         "             [--shard I --shards N] [--chunk-size BYTES] [--lease-ms MS]\n"
         "  --role meta|data     serve a metadata shard or a data chunk store\n"
         "  --dir PATH           store directory (created if missing)\n"
         "  --listen HOST:PORT   TCP address (port 0: any free port)\n"
         "  --unix PATH          unix socket path\n"
         "  --shard I --shards N this metadata shard's index and the shard count (default 0 of 1)\n"
         "  --chunk-size BYTES   chunk size fixed when the metadata store is formatted\n"
         "                       (power of two, 65536..67108864; default 1048576)\n"
         "  --lease-ms MS        lease of a client session (meta; 100..3600000, default\n"
         "                       10000): how long a silent client's file locks and cache\n"
         "                       leases are kept (--lock-lease-ms: the same)\n"
         "At least one of --listen and --unix is required. Prints one READY line on stdout\n"
         "once listening; SIGTERM or SIGINT shut it down cleanly.\n";
}

std::optional<DaemonOptions> parseDaemonOptions(int argc, const char* const* argv, std::string* error) {
  DaemonOptions o;
  bool haveRole = false;
  bool haveShard = false;
  bool haveShards = false;
  bool haveLease = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      return o;
    }
    if (!arg.starts_with("--")) {
      *error = "unexpected argument '" + std::string(arg) + "'";
      return std::nullopt;
    }
    std::string_view flag = arg;
    std::string_view value;
    bool haveValue = false;
    if (std::size_t eq = arg.find('='); eq != std::string_view::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      haveValue = true;
    }
    static constexpr std::string_view kFlags[] = {"--role", "--dir", "--listen", "--unix",
                                                  "--shard", "--shards", "--chunk-size", "--lease-ms", "--lock-lease-ms"};
    bool known = false;
    for (std::string_view f : kFlags) known = known || f == flag;
    if (!known) {
      *error = "unknown flag '" + std::string(flag) + "'";
      return std::nullopt;
    }
    if (!haveValue) {
      if (i + 1 >= argc) {
        *error = "flag " + std::string(flag) + " needs a value";
        return std::nullopt;
      }
      value = argv[++i];
    }
    if (flag == "--role") {
      if (value == "meta") {
        o.role = DaemonRole::kMeta;
      } else if (value == "data") {
        o.role = DaemonRole::kData;
      } else {
        *error = "--role must be meta or data, not '" + std::string(value) + "'";
        return std::nullopt;
      }
      haveRole = true;
    } else if (flag == "--dir") {
      o.dir = value;
    } else if (flag == "--listen") {
      o.listen = value;
    } else if (flag == "--unix") {
      o.unixPath = value;
    } else if (flag == "--shard") {
      if (!parseU32(value, &o.shard)) {
        *error = "--shard must be a number, not '" + std::string(value) + "'";
        return std::nullopt;
      }
      haveShard = true;
    } else if (flag == "--shards") {
      if (!parseU32(value, &o.shards)) {
        *error = "--shards must be a number, not '" + std::string(value) + "'";
        return std::nullopt;
      }
      haveShards = true;
    } else if (flag == "--lease-ms" || flag == "--lock-lease-ms") {
      if (!parseU32(value, &o.lockLeaseMs) || o.lockLeaseMs < 100 || o.lockLeaseMs > 3600000) {
        *error = std::string(flag) + " must be a number between 100 and 3600000, not '" + std::string(value) + "'";
        return std::nullopt;
      }
      haveLease = true;
    } else if (flag == "--chunk-size") {
      if (!parseU32(value, &o.chunkSize) || o.chunkSize < (64u << 10) || o.chunkSize > (64u << 20) ||
          (o.chunkSize & (o.chunkSize - 1)) != 0) {
        *error = "--chunk-size must be a power of two between 65536 and 67108864, not '" + std::string(value) + "'";
        return std::nullopt;
      }
    }
  }
  if (!haveRole) {
    *error = "missing --role";
    return std::nullopt;
  }
  if (o.dir.empty()) {
    *error = "missing --dir";
    return std::nullopt;
  }
  if (o.listen.empty() && o.unixPath.empty()) {
    *error = "missing --listen or --unix";
    return std::nullopt;
  }
  if (o.role == DaemonRole::kData && (haveShard || haveShards || o.chunkSize != 0 || haveLease)) {
    *error = "--shard, --shards, --chunk-size and --lease-ms apply to --role meta only";
    return std::nullopt;
  }
  if (o.shards == 0 || o.shards > 65536) {
    *error = "--shards must be between 1 and 65536";
    return std::nullopt;
  }
  if (o.shard >= o.shards) {
    *error = "--shard must be less than --shards";
    return std::nullopt;
  }
  return o;
}

}  // namespace myfs::server
