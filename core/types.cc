#include "core/types.h"

#include <dirent.h>

#include <algorithm>
#include <ctime>

namespace myfs {

bool Cred::inGroup(std::uint32_t g) const {
  return g == gid || std::find(groups.begin(), groups.end(), g) != groups.end();
}

bool mayAccess(const Attr& attr, const Cred& cred, int mask) {
  if (cred.uid == 0) {
    if (!(mask & kMayExec)) return true;
    return attr.isDir() || (attr.mode & 0111) != 0;
  }
  std::uint32_t bits;
  if (cred.uid == attr.uid) {
    bits = (attr.mode >> 6) & 7;
  } else if (cred.inGroup(attr.gid)) {
    bits = (attr.mode >> 3) & 7;
  } else {
    bits = attr.mode & 7;
  }
  return (bits & static_cast<std::uint32_t>(mask)) == static_cast<std::uint32_t>(mask);
}

Attr newInodeAttr(const Cred& cred, const Attr* parent, std::uint32_t mode, InodeId ino, std::int64_t now) {
  Attr a;
  a.ino = ino;
  a.mode = mode;
  a.uid = cred.uid;
  a.gid = cred.gid;
  if (parent != nullptr && (parent->mode & S_ISGID)) {
    a.gid = parent->gid;
    if (S_ISDIR(mode)) {
      a.mode |= S_ISGID;
    } else if ((a.mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) && cred.uid != 0 && !cred.inGroup(a.gid)) {
      a.mode &= ~static_cast<std::uint32_t>(S_ISGID);  // mode_strip_sgid's rule
    }
  }
  a.atimeNs = a.mtimeNs = a.ctimeNs = now;
  a.version = 1;
  return a;
}

std::uint8_t direntType(std::uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return DT_REG;
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case S_IFIFO: return DT_FIFO;
    case S_IFSOCK: return DT_SOCK;
    case S_IFCHR: return DT_CHR;
    case S_IFBLK: return DT_BLK;
    default: return DT_UNKNOWN;
  }
}

std::int64_t nowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace myfs
