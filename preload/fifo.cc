#include "preload/fifo.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "preload/shim.h"

namespace myfs::preload {

int openMyfsFifo(Vfs& vfs, At at, const std::string& rel, int flags) {
  auto attr = vfs.stat(at, rel, (flags & O_NOFOLLOW) == 0);
  if (!attr || !S_ISFIFO(attr->mode)) return -2;
  const int acc = flags & O_ACCMODE;
  const int want = (acc != O_WRONLY ? R_OK : 0) | (acc != O_RDONLY ? W_OK : 0);
  if (auto ok = vfs.access(at, rel, want, true); !ok) return failWith(ok.err());
  const char* tmp = getenv("TMPDIR");
  std::string dir = std::string(tmp != nullptr && *tmp == '/' ? tmp : "/tmp") + "/myfs-fifos";
  if (MYFS_REAL(mkdir)(dir.c_str(), 01777) == 0) MYFS_REAL(chmod)(dir.c_str(), 01777);
  const char* meta = getenv("MYFS_META");
  char name[64];
  snprintf(name, sizeof name, "/%zx-%llx", std::hash<std::string>{}(meta != nullptr ? meta : ""),
           static_cast<unsigned long long>(attr->ino));
  const std::string path = dir + name;
  if (MYFS_REAL(mkfifo)(path.c_str(), 0666) == 0) MYFS_REAL(chmod)(path.c_str(), 0666);
  return MYFS_REAL(open)(path.c_str(), flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW), 0);
}

}  // namespace myfs::preload
