// SessionTable: the client sessions of a metadata server and their callback capabilities.
//
// Lives on the server's event-loop thread (capabilities belong to one loop), so it has no
// lock. Lease recalls (later work) look callbacks up here; a session whose callback fails
// with DISCONNECTED is closed by that code.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "schema/meta.capnp.h"

namespace myfs::server {

class SessionTable {
 public:
  struct Session {
    std::string clientName;
    schema::ClientCallback::Client callback;
  };

  // Ids start at the server's start time in nanoseconds, so an id handed out by an earlier
  // run of the server is not handed out again.
  SessionTable();

  // Registers a session; returns its id (never 0).
  std::uint64_t open(schema::ClientCallback::Client callback, std::string clientName);
  // Forgets a session; false if it was unknown.
  bool close(std::uint64_t id);
  // The session with this id, or nullptr.
  Session* find(std::uint64_t id);
  std::size_t size() const { return sessions_.size(); }
  // Forgets every session (before the event loop that owns the callbacks goes away).
  void clear() { sessions_.clear(); }

 private:
  std::uint64_t nextId_;
  std::map<std::uint64_t, Session> sessions_;
};

}  // namespace myfs::server
