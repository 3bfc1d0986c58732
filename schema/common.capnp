@0xfe1ef338b9609650;
# Types shared by the metadata and data services.
#
# Conventions for every method of every interface:
# - A POSIX outcome travels in the result: `err` is 0 on success, otherwise a Linux errno
#   (ENOENT=2, EEXIST=17, ...), never -1 and never a generic code.
# - Transport failures (disconnect, overload) are Cap'n Proto exceptions; the client's rpc/
#   layer turns them into EIO after bounded retries.
# - Inode numbers carry their metadata shard in the top 16 bits (see core/placement.h).

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("myfs::schema");

struct Cred {
  # Who performs an operation. Servers check permissions with it as Linux does for a
  # process with these ids (uid 0 bypasses mode bits except execute on non-directories).
  uid @0 :UInt32;
  gid @1 :UInt32;
  groups @2 :List(UInt32);   # supplementary groups
}

struct Attr {
  # The attributes of one inode, as stat(2) reports them.
  ino @0 :UInt64;
  mode @1 :UInt32;       # file type bits (S_IFMT) and permission bits
  nlink @2 :UInt32;
  uid @3 :UInt32;
  gid @4 :UInt32;
  size @5 :UInt64;
  atimeNs @6 :Int64;     # nanoseconds since the epoch
  mtimeNs @7 :Int64;
  ctimeNs @8 :Int64;
  rdev @9 :UInt64;
  version @10 :UInt64;   # change version: grows on every change of data or metadata
  parent @11 :UInt64;    # directories only: the inode of "..", root's parent is root
}

struct AttrResult {
  err @0 :Int32;
  attr @1 :Attr;         # valid when err == 0
  leased @2 :Bool;       # the calling session holds a lease on attr.ino (lookup: and on
                         # the parent directory; a lookup's ENOENT: on the parent)
}

struct ErrResult {
  err @0 :Int32;
}
