// libmyfs_client.so's entry point: builds the RPC cluster and the Vfs from the
// environment. Loaded by the shim with dlopen(RTLD_LOCAL) on the first myfs call.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "preload/client_api.h"
#include "rpc/rpc_cluster.h"

namespace {

myfs::rpc::RpcCluster* gCluster = nullptr;  // never destroyed: in use until exit
myfs::Vfs* gVfs = nullptr;

void afterFork() {
  if (gVfs != nullptr) gVfs->afterForkInChild();
  if (gCluster != nullptr) gCluster->abandonAfterFork();
}

bool parseBytes(const char* s, std::uint64_t* out) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s) return false;
  if (*end == 'K' || *end == 'k') v <<= 10, ++end;
  else if (*end == 'M' || *end == 'm') v <<= 20, ++end;
  else if (*end == 'G' || *end == 'g') v <<= 30, ++end;
  if (*end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) myfs::preload::ClientApi* myfs_client_start(
    const myfs::preload::ShimHooks* hooks, char* error, unsigned long errorSize) {
  if (hooks != nullptr) {
    myfs::rpc::ThreadHooks::enterInternalThread = hooks->enterInternalThread;
    myfs::rpc::ThreadHooks::internalScope = hooks->internalScope;
  }
  auto fail = [&](const std::string& msg) -> myfs::preload::ClientApi* {
    std::snprintf(error, errorSize, "%s", msg.c_str());
    return nullptr;
  };
  std::string why;
  auto config = myfs::rpc::ClusterConfig::fromEnvironment(&why);
  if (!config) return fail(why);
  myfs::VfsOptions options;
  if (const char* p = std::getenv("MYFS_PREFIX"); p && *p) options.prefix = p;
  if (const char* c = std::getenv("MYFS_CONSISTENCY"); c && *c) {
    if (std::string(c) == "strict") {
      options.strict = true;
    } else if (std::string(c) != "close-to-open") {
      return fail(std::string("MYFS_CONSISTENCY is neither close-to-open nor strict: ") + c);
    }
  }
  if (const char* d = std::getenv("MYFS_DELEGATE"); d && *d) {
    if (std::string(d) == "0") {
      options.delegateDirs = false;
    } else if (std::string(d) != "1") {
      return fail(std::string("MYFS_DELEGATE is neither 0 nor 1: ") + d);
    }
  }
  if (const char* b = std::getenv("MYFS_PAGE_CACHE"); b && *b) {
    if (!parseBytes(b, &options.pageCacheBytes)) {
      return fail(std::string("MYFS_PAGE_CACHE is not a size (e.g. 256M): ") + b);
    }
  }
  auto* cluster = new myfs::rpc::RpcCluster(std::move(*config));
  auto vfs = myfs::makeVfs(*cluster, options);
  if (!vfs) {
    return fail(std::string("cannot reach the metadata server ") + (std::getenv("MYFS_META") ?: "") + " (" +
                myfs::errnoName(vfs.err()) + ")");
  }
  gCluster = cluster;
  auto* api = new myfs::preload::ClientApi;
  api->vfs = vfs->release();
  gVfs = api->vfs;
  api->afterFork = &afterFork;
  return api;
}
