// Extended attributes: getxattr, setxattr, listxattr, removexattr in their path, l- and
// f- forms. The checks the system calls make before resolving the path (flags, name
// length, value size) are made here first; namespaces and permissions are the inode's
// shard's (server/meta/ops_xattr.cc), which sees the current attributes.
#include <fcntl.h>

#include <cstring>

#include "core/vfs_impl.h"

namespace myfs {

namespace {

Result<void> checkXattrName(std::string_view name) {
  if (name.empty() || name.size() > kXattrNameMax) return Errno(ERANGE);
  return okResult();
}

Result<void> checkSetxattr(std::string_view name, size_t size, int flags) {
  if ((static_cast<unsigned>(flags) & ~(kXattrCreate | kXattrReplace)) != 0) return Errno(EINVAL);
  MYFS_TRY(checkXattrName(name));
  if (size > kXattrSizeMax) return Errno(E2BIG);
  return okResult();
}

}  // namespace

Result<InodeId> VfsImpl::xattrInodeOf(int fd) {
  MYFS_ASSIGN_OR_RETURN(f, fileOf(fd));
  {
    std::lock_guard lock(f->mu);
    if (f->flags & O_PATH) return Errno(EBADF);
  }
  return f->inode->ino;
}

Result<size_t> VfsImpl::getxattrIno(InodeId ino, std::string_view name, void* value, size_t size,
                                    const Cred& cred) {
  MYFS_ASSIGN_OR_RETURN(v, cluster_.shardOf(ino).getxattr(cred, ino, name));
  if (size == 0) return v.size();
  if (v.size() > size) return Errno(ERANGE);
  if (!v.empty()) std::memcpy(value, v.data(), v.size());
  return v.size();
}

Result<void> VfsImpl::setxattrIno(InodeId ino, std::string_view name, const void* value, size_t size, int flags,
                                  const Cred& cred) {
  std::string_view bytes(static_cast<const char*>(value), value == nullptr ? 0 : size);
  if (value == nullptr && size != 0) return Errno(EFAULT);
  MYFS_ASSIGN_OR_RETURN(attr, cluster_.shardOf(ino).setxattr(cred, ino, name, bytes, static_cast<std::uint32_t>(flags)));
  learn(attr);  // ctime and version moved
  return okResult();
}

Result<size_t> VfsImpl::listxattrIno(InodeId ino, char* list, size_t size, const Cred& cred) {
  MYFS_ASSIGN_OR_RETURN(names, cluster_.shardOf(ino).listxattr(cred, ino));
  size_t need = 0;
  for (const std::string& n : names) need += n.size() + 1;
  if (size == 0) return need;
  if (need > size) return Errno(size >= kXattrListMax ? E2BIG : ERANGE);
  char* out = list;
  for (const std::string& n : names) {
    std::memcpy(out, n.data(), n.size());
    out[n.size()] = '\0';
    out += n.size() + 1;
  }
  return need;
}

Result<void> VfsImpl::removexattrIno(InodeId ino, std::string_view name, const Cred& cred) {
  MYFS_ASSIGN_OR_RETURN(attr, cluster_.shardOf(ino).removexattr(cred, ino, name));
  learn(attr);
  return okResult();
}

Result<size_t> VfsImpl::getxattr(At at, std::string_view path, bool follow, std::string_view name, void* value,
                                 size_t size) {
  MYFS_TRY(checkXattrName(name));
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, follow, cred));
  return getxattrIno(w.node.inode->ino, name, value, size, cred);
}

Result<size_t> VfsImpl::fgetxattr(int fd, std::string_view name, void* value, size_t size) {
  MYFS_ASSIGN_OR_RETURN(ino, xattrInodeOf(fd));
  MYFS_TRY(checkXattrName(name));
  return getxattrIno(ino, name, value, size, credentials());
}

Result<void> VfsImpl::setxattr(At at, std::string_view path, bool follow, std::string_view name, const void* value,
                               size_t size, int flags) {
  MYFS_TRY(checkSetxattr(name, size, flags));
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, follow, cred));
  return setxattrIno(w.node.inode->ino, name, value, size, flags, cred);
}

Result<void> VfsImpl::fsetxattr(int fd, std::string_view name, const void* value, size_t size, int flags) {
  MYFS_ASSIGN_OR_RETURN(ino, xattrInodeOf(fd));
  MYFS_TRY(checkSetxattr(name, size, flags));
  return setxattrIno(ino, name, value, size, flags, credentials());
}

Result<size_t> VfsImpl::listxattr(At at, std::string_view path, bool follow, char* list, size_t size) {
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, follow, cred));
  return listxattrIno(w.node.inode->ino, list, size, cred);
}

Result<size_t> VfsImpl::flistxattr(int fd, char* list, size_t size) {
  MYFS_ASSIGN_OR_RETURN(ino, xattrInodeOf(fd));
  return listxattrIno(ino, list, size, credentials());
}

Result<void> VfsImpl::removexattr(At at, std::string_view path, bool follow, std::string_view name) {
  MYFS_TRY(checkXattrName(name));
  const Cred& cred = credentials();
  MYFS_ASSIGN_OR_RETURN(w, walkFull(at, path, follow, cred));
  return removexattrIno(w.node.inode->ino, name, cred);
}

Result<void> VfsImpl::fremovexattr(int fd, std::string_view name) {
  MYFS_ASSIGN_OR_RETURN(ino, xattrInodeOf(fd));
  MYFS_TRY(checkXattrName(name));
  return removexattrIno(ino, name, credentials());
}

}  // namespace myfs
