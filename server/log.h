// Server logging: one line per event on stderr, prefixed "myfsd: ".
#pragma once

namespace myfs::server {

// Writes one formatted line (printf format, no trailing newline needed) to stderr.
void logLine(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace myfs::server
