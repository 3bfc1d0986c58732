@0x980409840b9aafc3;
# The data service: a chunk store on local disk.
#
# A file's bytes are cut into chunks of the cluster's chunk size; chunk (ino, index) is
# stored on the data server chosen by hash (core/placement.h). Each chunk is stored with
# a CRC32C per 64 KiB block, verified on every read (EIO on mismatch). A chunk that was
# never written reads as zeros (a hole). write and read are idempotent.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("myfs::schema");

struct DataStats {
  chunks @0 :UInt64;
  bytes @1 :UInt64;
  diskTotal @2 :UInt64;
  diskFree @3 :UInt64;
  inodes @4 :UInt64;     # files with at least one chunk here
}

interface DataService {
  write @0 (ino :UInt64, chunk :UInt64, offset :UInt32, data :Data, sync :Bool)
      -> (err :Int32);
  # Writes data at offset within the chunk (offset + size <= chunk size). sync: make it
  # durable (fdatasync) before answering. Errors: EINVAL, ENOSPC, EIO.

  read @1 (ino :UInt64, chunk :UInt64, offset :UInt32, length :UInt32)
      -> (err :Int32, data :Data);
  # Up to length bytes from offset; shorter if the chunk ends earlier (the rest is a hole
  # or beyond end of file: the client knows the size). Errors: EIO (checksum mismatch).

  truncate @2 (ino :UInt64, size :UInt64, chunkSize :UInt32) -> (err :Int32);
  # Drops this server's chunks of ino wholly past size and cuts the one containing it.

  remove @3 (ino :UInt64) -> (err :Int32);
  # Drops every chunk of ino stored here (the file's last link went away).

  fsync @4 (ino :UInt64) -> (err :Int32);
  # Makes every chunk of ino stored here durable.

  stats @5 () -> (stats :DataStats);

  extents @6 (ino :UInt64) -> (err :Int32, chunks :List(UInt64), lengths :List(UInt32));
  # The chunks of ino this server holds and the bytes each chunk file holds (data from
  # the chunk's start up to that length; past it, a hole). For SEEK_DATA and SEEK_HOLE.
}
