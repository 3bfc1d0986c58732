#include "server/meta/mapped_wal.h"

#include <rocksdb/file_system.h>

#include <memory>

namespace myfs::server {
namespace {

class MappedWalFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  using FileSystemWrapper::FileSystemWrapper;
  const char* Name() const override { return "myfs.MappedWalFileSystem"; }
  rocksdb::FileOptions OptimizeForLogWrite(const rocksdb::FileOptions& fo,
                                           const rocksdb::DBOptions& db) const override {
    rocksdb::FileOptions o = target()->OptimizeForLogWrite(fo, db);
    o.use_mmap_writes = true;
    o.use_direct_writes = false;
    return o;
  }
};

}  // namespace

rocksdb::Env* mappedWalEnv() {
  static rocksdb::Env* env =
      rocksdb::NewCompositeEnv(std::make_shared<MappedWalFileSystem>(rocksdb::FileSystem::Default())).release();
  return env;
}

}  // namespace myfs::server
