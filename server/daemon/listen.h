// Listening sockets of myfsd, made with plain system calls so that every failure has
// its exact errno and a clear message.
#pragma once

#include <string>

namespace myfs::server {

struct ListenSocket {
  int fd = -1;          // non-blocking, close-on-exec, listening
  std::string address;  // what was bound: "127.0.0.1:40123", "[::1]:40123" or the unix path
};

// Binds and listens on TCP HOST:PORT ("[v6addr]:PORT" for IPv6; port 0: any free port).
// On failure returns fd -1 and sets *error to "cannot listen on HOST:PORT: <strerror>".
ListenSocket listenTcp(const std::string& hostPort, std::string* error);

// Binds and listens on a unix socket at `path`. An existing socket file is removed only
// when nothing accepts connections on it (a stale socket); a live one, or a file that is
// not a socket, is an error (*error set, fd -1).
ListenSocket listenUnix(const std::string& path, std::string* error);

}  // namespace myfs::server
