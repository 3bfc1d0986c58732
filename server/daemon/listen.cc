#include "server/daemon/listen.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "server/data/unique_fd.h"

namespace myfs::server {
namespace {

std::string describe(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
}

}  // namespace

ListenSocket listenTcp(const std::string& hostPort, std::string* error) {
  const std::string prefix = "cannot listen on " + hostPort + ": ";
  std::size_t colon = hostPort.rfind(':');
  if (colon == std::string::npos || colon + 1 == hostPort.size()) {
    *error = prefix + "expected HOST:PORT";
    return {};
  }
  std::string host = hostPort.substr(0, colon);
  std::string port = hostPort.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoul(port) > 65535) {
    *error = prefix + "bad port";
    return {};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    *error = prefix + gai_strerror(rc);
    return {};
  }
  int lastErr = EADDRNOTAVAIL;
  ListenSocket out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd.valid()) {
      lastErr = errno;
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd.get(), SOMAXCONN) != 0) {
      lastErr = errno;
      continue;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      lastErr = errno;
      continue;
    }
    out.address = describe(ss);
    out.fd = fd.release();
    break;
  }
  freeaddrinfo(res);
  if (out.fd < 0) *error = prefix + std::strerror(lastErr);
  return out;
}

ListenSocket listenUnix(const std::string& path, std::string* error) {
  const std::string prefix = "cannot listen on " + path + ": ";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    *error = prefix + "path too long for a unix socket";
    return {};
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      *error = prefix + "exists and is not a socket";
      return {};
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe.valid() && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      *error = prefix + "a server is already answering there";
      return {};
    }
    if (errno != ECONNREFUSED) {
      *error = prefix + "existing socket is not stale: " + std::strerror(errno);
      return {};
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      *error = prefix + "cannot remove stale socket: " + std::strerror(errno);
      return {};
    }
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd.get(), SOMAXCONN) != 0) {
    *error = prefix + std::strerror(errno);
    return {};
  }
  // Any local user may connect, as to the TCP port: each call carries its credentials and
  // the servers check them (a program that drops privileges keeps working).
  (void)::chmod(path.c_str(), 0666);
  ListenSocket out;
  out.fd = fd.release();
  out.address = path;
  return out;
}

}  // namespace myfs::server
