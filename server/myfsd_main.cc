// myfsd: a myfs server process, serving either a metadata shard or a data chunk store
// over Cap'n Proto RPC on TCP and/or a unix socket.
//
// Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 1 when the server cannot start
// (store or socket failure), 2 for a bad command line or an unusable --dir.
#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "rpc/coalescing_stream.h"
#include "rpc/socket_stream.h"
#include "server/daemon/daemon_options.h"
#include "server/daemon/listen.h"
#include "server/data/chunk_store.h"
#include "server/data/data_service.h"
#include "server/log.h"
#include "server/meta/meta_service.h"
#include "server/meta/meta_store.h"
#include "server/meta/session_table.h"

namespace myfs::server {
namespace {

// Accepts connections forever, each served over a CoalescingStream on a SocketStream (rpc/).
kj::Promise<void> serveConnections(kj::ConnectionReceiver& receiver, capnp::TwoPartyServer& server,
                                   kj::AsyncIoContext& io) {
  return receiver.accept().then([&receiver, &server, &io](kj::Own<kj::AsyncIoStream> connection) {
    server.accept(kj::heap<myfs::rpc::CoalescingStream>(
        myfs::rpc::leanSocketStream(kj::mv(connection), io.unixEventPort), io.provider->getTimer()));
    return serveConnections(receiver, server, io);
  });
}

// Creates --dir if missing and checks that it is a writable directory.
bool prepareDir(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    logLine("%s is not a directory", dir.c_str());
    return false;
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    logLine("cannot create directory %s: %s", dir.c_str(), ec.message().c_str());
    return false;
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    logLine("cannot write in directory %s: %s", dir.c_str(), std::strerror(errno));
    return false;
  }
  return true;
}

// Serves `bootstrap` on the given sockets until SIGTERM or SIGINT. Returns the exit code.
int serve(kj::AsyncIoContext& io, capnp::Capability::Client bootstrap, const DaemonOptions& opts,
          const std::string& readyPrefix) {
  ListenSocket tcp;
  ListenSocket unixSock;
  std::string error;
  if (!opts.listen.empty()) {
    tcp = listenTcp(opts.listen, &error);
    if (tcp.fd < 0) {
      logLine("%s", error.c_str());
      return 1;
    }
  }
  if (!opts.unixPath.empty()) {
    unixSock = listenUnix(opts.unixPath, &error);
    if (unixSock.fd < 0) {
      if (tcp.fd >= 0) ::close(tcp.fd);
      logLine("%s", error.c_str());
      return 1;
    }
  }
  constexpr uint kWrapFlags = kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP |
                              kj::LowLevelAsyncIoProvider::ALREADY_CLOEXEC |
                              kj::LowLevelAsyncIoProvider::ALREADY_NONBLOCK;
  capnp::TwoPartyServer server(kj::mv(bootstrap));
  kj::Vector<kj::Own<kj::ConnectionReceiver>> receivers;
  kj::Vector<kj::Promise<void>> listening;
  for (ListenSocket* s : {&tcp, &unixSock}) {
    if (s->fd < 0) continue;
    receivers.add(io.lowLevelProvider->wrapListenSocketFd(s->fd, kWrapFlags));
    listening.add(serveConnections(*receivers.back(), server, io));
  }

  std::printf("%s tcp=%s unix=%s pid=%d\n", readyPrefix.c_str(), tcp.fd >= 0 ? tcp.address.c_str() : "-",
              unixSock.fd >= 0 ? unixSock.address.c_str() : "-", static_cast<int>(::getpid()));
  std::fflush(stdout);

  kj::Promise<int> stop = io.unixEventPort.onSignal(SIGTERM)
                              .then([](siginfo_t&&) { return static_cast<int>(SIGTERM); })
                              .exclusiveJoin(io.unixEventPort.onSignal(SIGINT).then([](siginfo_t&&) {
                                return static_cast<int>(SIGINT);
                              }));
  for (kj::Promise<void>& p : listening) {
    stop = stop.exclusiveJoin(p.then([]() { return 0; }, [](kj::Exception&& e) {
      logLine("accept failed: %s", e.getDescription().cStr());
      return 0;
    }));
  }
  int sig = stop.wait(io.waitScope);
  int code = 0;
  if (sig == 0) {
    code = 1;
  } else {
    logLine("%s received, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  }
  listening.clear();
  receivers.clear();
  if (unixSock.fd >= 0) ::unlink(opts.unixPath.c_str());
  return code;
}

int run(int argc, char** argv) {
  std::string error;
  std::optional<DaemonOptions> opts = parseDaemonOptions(argc, argv, &error);
  if (!opts) {
    std::fprintf(stderr, "myfsd: %s\n%s", error.c_str(), daemonUsage());
    return 2;
  }
  if (opts->help) {
    std::fputs(daemonUsage(), stdout);
    return 0;
  }
  if (!prepareDir(opts->dir)) return 2;

  // Before any thread exists (RocksDB starts some), so that every thread blocks them.
  kj::UnixEventPort::captureSignal(SIGTERM);
  kj::UnixEventPort::captureSignal(SIGINT);
  kj::AsyncIoContext io = kj::setupAsyncIo();

  if (opts->role == DaemonRole::kMeta) {
    MetaStoreOptions mo;
    mo.dir = opts->dir;
    mo.shardIndex = opts->shard;
    mo.shardCount = opts->shards;
    mo.chunkSize = opts->chunkSize != 0 ? opts->chunkSize : kDefaultChunkSize;
    mo.rootUid = ::getuid();
    mo.rootGid = ::getgid();
    std::unique_ptr<MetaStore> store = MetaStore::open(mo, &error);
    if (!store) {
      logLine("%s", error.c_str());
      return 1;
    }
    if (opts->chunkSize != 0 && opts->chunkSize != store->mountInfo().chunkSize) {
      logLine("keeping the stored chunk size %u (--chunk-size %u applies only when formatting)",
              store->mountInfo().chunkSize, opts->chunkSize);
    }
    SessionTable sessions;
    int code = serve(io, kj::heap<MetaServiceImpl>(*store, sessions, std::chrono::milliseconds(opts->lockLeaseMs), &io.provider->getTimer()), *opts,
                     "READY role=meta shard=" + std::to_string(opts->shard));
    return code;  // the store closes (RocksDB flushes its state) as it goes out of scope
  }
  std::unique_ptr<ChunkStore> store = ChunkStore::open(opts->dir, &error);
  if (!store) {
    logLine("%s", error.c_str());
    return 1;
  }
  return serve(io, kj::heap<DataServiceImpl>(*store), *opts, "READY role=data");
}

}  // namespace
}  // namespace myfs::server

int main(int argc, char** argv) {
  // The heap in 2 MiB pages (transparent huge pages, asked for with madvise): the
  // memtable's arena and the RPC buffers are otherwise faulted in 4 KiB at a time, and a
  // fault costs microseconds on a VM (0.24 per create before, 0.06 after: the WAL's
  // mapping). mimalloc reads the setting when the process starts, before main: set it
  // and start again, once.
  if (getenv("MIMALLOC_LARGE_OS_PAGES") == nullptr && setenv("MIMALLOC_LARGE_OS_PAGES", "1", 1) == 0) {
    execv("/proc/self/exe", argv);  // on failure, go on with small pages
  }
  try {
    return myfs::server::run(argc, argv);
  } catch (const kj::Exception& e) {
    myfs::server::logLine("fatal: %s", e.getDescription().cStr());
  } catch (const std::exception& e) {
    myfs::server::logLine("fatal: %s", e.what());
  }
  return 1;
}
