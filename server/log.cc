#include "server/log.h"

#include <cstdarg>
#include <cstdio>

namespace myfs::server {

void logLine(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  // One fprintf call per line: stdio's stream lock keeps lines from interleaving.
  std::fprintf(stderr, "myfsd: %s\n", buf);
}

}  // namespace myfs::server
