#include "server/meta/session_table.h"

#include "core/types.h"

namespace myfs::server {

SessionTable::SessionTable() : nextId_(static_cast<std::uint64_t>(nowNs()) | 1) {}

std::uint64_t SessionTable::open(schema::ClientCallback::Client callback, std::string clientName) {
  std::uint64_t id = nextId_++;
  if (id == 0) id = nextId_++;
  sessions_.emplace(id, Session{std::move(clientName), std::move(callback)});
  return id;
}

bool SessionTable::close(std::uint64_t id) { return sessions_.erase(id) > 0; }

SessionTable::Session* SessionTable::find(std::uint64_t id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second;
}

}  // namespace myfs::server
