// The boundary between the always-loaded shim (libmyfs.so) and the client it loads on
// first use (libmyfs_client.so: core + rpc + Cap'n Proto). Keeping Cap'n Proto out of
// the shim keeps every exec of a program that never touches myfs cheap.
#pragma once

#include "core/vfs.h"

namespace myfs::preload {

// What the shim offers the client.
struct ShimHooks {
  // Called first thing on every thread the client starts: fds it creates are then moved
  // out of the application's way (high numbers, protected from stray close()).
  void (*enterInternalThread)() = nullptr;
  // An application thread enters (true) or leaves (false) client code that creates fds
  // (its own event loop and connections): the same treatment, for that stretch.
  void (*internalScope)(bool) = nullptr;
};

struct ClientApi {
  Vfs* vfs = nullptr;
  // In a forked child, before any other call: drop the parent's connections.
  void (*afterFork)() = nullptr;
};

}  // namespace myfs::preload

// Starts the client from the environment (MYFS_META, MYFS_DATA, MYFS_PREFIX, ...).
// Returns null and writes a message to `error` on failure.
extern "C" myfs::preload::ClientApi* myfs_client_start(const myfs::preload::ShimHooks* hooks, char* error,
                                                        unsigned long errorSize);
