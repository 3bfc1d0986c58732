@0x8be3c023402ef61e;
# The metadata service: one shard of the inode-based namespace.
#
# A shard stores the inodes whose number carries its index, and the dentries of the
# directories it owns (a directory's dentries live with its inode). A file's inode is
# allocated on its parent's shard; a directory's inode on a shard chosen by the client
# (hash of parent and name). Operations within one shard are one atomic RocksDB batch.
# Operations that span two shards are split into the steps below, ordered so that a
# crash between steps leaves at worst an unreferenced inode (collectable), never a
# dentry that points nowhere.
#
# Idempotency: lookup, getattr, readlink, readdir, setattr and statfs are idempotent and
# may be retried freely; the others are retried by the client only when the request was
# never sent.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("myfs::schema");

using Common = import "common.capnp";
using Cred = Common.Cred;
using Attr = Common.Attr;
using AttrResult = Common.AttrResult;
using ErrResult = Common.ErrResult;

interface ClientCallback {
  # Handed to the server by a client session; the server calls it to recall leases.
  invalidate @0 (inos :List(UInt64), writesOnly :Bool) -> (open :List(UInt64));
  # The session's leases on these inodes are gone: the client drops the cached
  # attributes of each and the cached names in each directory, and answers with those
  # it holds open (they keep an open reference: see releaseOpen). writesOnly: only its
  # write leases (and delegations) are taken back, for another session to read: what it
  # caches under its read leases stays good. A write lease holder writes back, and a
  # delegation's holder has every file it made under it answered for, before answering.
}

struct WriteLeaseRef {
  # One grant of a write lease: the inode and the generation the grant answered with.
  ino @0 :UInt64;
  gen @1 :UInt64;
}

struct Dirent {
  name @0 :Text;
  ino @1 :UInt64;
  type @2 :UInt8;        # DT_* value (DT_REG, DT_DIR, DT_LNK, ...)
}

struct DirIntent {
  # A directory whose entry is made and whose inode, on another shard, may not be made
  # yet (mkdirRemote): what its shard is to make (makeDirs).
  attr @0 :Attr;         # nlink 2, parent: ".."
  leaseTo @1 :UInt64;    # the creator's session on the directory's shard: leased when made
}

struct FileIntent {
  # A regular file or directory a session made on its own in a directory delegated to it
  # (delegateDir): what makeFiles is to make (a directory of another shard: its entry,
  # with an intent, as mkdirRemote makes it); or, with `remove`, a name it unlinked there
  # on its own: what makeFiles is to unlink (if it still names attr.ino).
  cred @0 :Cred;         # whose create (unlink) it was
  parent @1 :UInt64;
  name @2 :Text;
  attr @3 :Attr;         # ino (a number reserved with the delegation), mode, uid, gid, times;
                         # for a removal only ino
  gen @4 :UInt64;        # the delegation's generation
  remove @5 :Bool;
  leaseTo @6 :UInt64;    # a directory of another shard: as mkdirRemote's leaseTo
  seq @7 :UInt64;        # the session's number for this intent (a copy sent again has it too)
}

struct RemovedFile {
  # What makeFiles did for a removal (FileIntent.remove).
  removed @0 :Bool;      # this call unlinked the name (false: it named another inode or none)
  lastLink @1 :Bool;     # ... and the inode lost its last link and was freed
  size @2 :UInt64;       # ... its size: the caller removes the data
}

struct DirRef {
  # An entry naming a directory, for confirmDirs.
  parent @0 :UInt64;
  name @1 :Text;
  ino @2 :UInt64;
}

struct SetAttrRequest {
  # Fields to change; each flag says whether its field is set.
  setMode @0 :Bool;
  mode @1 :UInt32;       # permission bits only (07777)
  setUid @2 :Bool;
  uid @3 :UInt32;
  setGid @4 :Bool;
  gid @5 :UInt32;
  setSize @6 :Bool;
  size @7 :UInt64;
  setAtime @8 :Bool;
  atimeNs @9 :Int64;     # -1: the server's current time
  setMtime @10 :Bool;
  mtimeNs @11 :Int64;    # -1: the server's current time
  growOnly @12 :Bool;    # with setSize: only grow (a writer reporting its end of file)
}

struct MethodCalls {
  # How many calls of one MetaService method a shard has served since it started.
  method @0 :Text;
  calls @1 :UInt64;
}

struct ShardStats {
  shard @0 :UInt32;
  inodes @1 :UInt64;
  dentries @2 :UInt64;
  directories @3 :UInt64;
  files @4 :UInt64;
  bytes @5 :UInt64;      # sum of file sizes of this shard's inodes
}

struct FileLock {
  # A file lock (core/fs_types.h FileLock): fcntl(2) and flock(2) locks.
  kind @0 :UInt8;        # 0: fcntl lock of a process, 1: OFD lock, 2: flock
  type @1 :Int32;        # Linux's F_RDLCK (0), F_WRLCK (1), F_UNLCK (2)
  start @2 :UInt64;      # first byte
  end @3 :UInt64;        # last byte, inclusive; 2^64-1: to the end of the file, always
  owner @4 :UInt64;      # locks of one owner never conflict with each other
  client @5 :UInt64;     # the process that renews the lock (renewLocks)
  pid @6 :Int32;         # reported to F_GETLK
}

interface MetaService {
  openSession @0 (callback :ClientCallback, clientName :Text)
      -> (sessionId :UInt64, leaseMs :UInt32, service :MetaService);
  # Registers a client session. The callback is kept for lease recalls. Calls made
  # through `service` belong to the session: their replies may grant leases
  # (AttrResult.leased) and their changes recall other sessions' leases, not this one's.
  # The session ends when `service` is dropped (its connection closes): its leases and
  # open references go with it.

  mountInfo @1 () -> (chunkSize :UInt32, shardIndex :UInt32, shardCount :UInt32, rootIno :UInt64);
  # Cluster constants. chunkSize is fixed when the cluster is formatted.

  lookup @2 (cred :Cred, parent :UInt64, name :Text) -> (result :AttrResult, hasIntent :Bool,
                                                          intent :DirIntent);
  # The child `name` of directory `parent`. Needs search (x) permission on parent.
  # The attr is complete when the child's inode is on this shard; otherwise only ino and
  # the type bits of mode are set and `result.attr.nlink` is 0 (ask the owning shard).
  # hasIntent: the child is a directory made by mkdirRemote whose shard may not have made
  # it yet: the caller has it made (makeDirs with `intent`) before asking that shard.
  # Errors: ENOENT (no such entry, or parent gone), ENOTDIR, EACCES.

  getattr @3 (ino :UInt64) -> (result :AttrResult);
  # Errors: ENOENT.

  setattr @4 (cred :Cred, ino :UInt64, req :SetAttrRequest) -> (result :AttrResult);
  # chmod/chown/truncate/utimens rules of Linux: EPERM (not owner for chmod/chown/
  # explicit times), EACCES (times set to now without write permission), EISDIR (size of
  # a directory), EINVAL. Clears setuid/setgid on chown by a non-root caller.

  create @5 (cred :Cred, parent :UInt64, name :Text, mode :UInt32, exclusive :Bool,
             rdev :UInt64) -> (result :AttrResult, created :Bool, writeLeased :Bool,
                               writeLeaseGen :UInt64);
  # Creates a regular file (or fifo/socket/device by mode) in `parent` with a new inode on
  # this shard. A file created through a session's service comes with its write lease
  # (writeLeased, and the grant's generation writeLeaseGen; see writeLease). If the name exists and !exclusive, returns the existing entry's attr with
  # created=false (its inode may live on another shard: see lookup).
  # Errors: EEXIST (exclusive), EACCES (no w+x on parent), ENOENT (parent removed),
  # ENOTDIR, ENAMETOOLONG.

  mkdir @6 (cred :Cred, parent :UInt64, name :Text, mode :UInt32) -> (result :AttrResult);
  # A directory whose inode lives on this shard, in a parent on this shard.
  # Errors: EEXIST, EACCES, ENOENT, ENOTDIR, EMLINK.

  symlink @7 (cred :Cred, parent :UInt64, name :Text, target :Text) -> (result :AttrResult);
  # Errors: EEXIST, EACCES, ENOENT, ENOTDIR.

  readlink @8 (ino :UInt64) -> (err :Int32, target :Text);
  # Errors: ENOENT, EINVAL (not a symlink).

  readdir @9 (cred :Cred, ino :UInt64, cookie :Data, maxEntries :UInt32)
      -> (err :Int32, entries :List(Dirent), nextCookie :Data, eof :Bool);
  # A page of entries after `cookie` (empty: the start). Without "." and "..".
  # Needs read permission. Errors: ENOENT, ENOTDIR, EACCES.

  unlink @10 (cred :Cred, parent :UInt64, name :Text, isDir :Bool)
      -> (err :Int32, ino :UInt64, remoteInode :Bool, lastLink :Bool, size :UInt64);
  # Removes a dentry. isDir=false: unlink(2) (EISDIR-like EISDIR for directories); isDir=true:
  # rmdir(2) of a directory whose inode is on this shard (ENOTEMPTY if it has entries;
  # for a directory on another shard this returns EXDEV and the client uses
  # prepareRmdir/removeEntry/dropInode instead).
  # If the inode is on this shard its link count drops in the same batch, and lastLink
  # says it reached 0 (size tells whether data chunks exist). remoteInode=true: the inode
  # lives elsewhere and the client must call dropLink on its shard.
  # Errors: ENOENT, ENOTDIR, EISDIR, ENOTEMPTY, EACCES, EPERM (sticky directory), EBUSY (root).

  rename @11 (cred :Cred, srcParent :UInt64, srcName :Text, dstParent :UInt64,
              dstName :Text, flags :UInt32)
      -> (err :Int32, replacedIno :UInt64, replacedRemote :Bool, replacedLast :Bool,
          replacedSize :UInt64, movedIno :UInt64);
  # Both parents on this shard. Linux rename(2) rules; flags as renameat2 (NOREPLACE=1,
  # EXCHANGE=2). A replaced inode is handled as in unlink. A directory replaced must be
  # empty and on this shard (else EXDEV: the client takes the two-shard path).
  # Errors: ENOENT, EEXIST, EISDIR, ENOTDIR, ENOTEMPTY, EINVAL, EACCES, EPERM, EXDEV.

  statfs @12 () -> (stats :ShardStats);

  # ---- Two-shard steps, driven by the client in the order documented in docs/design.md.

  makeInode @13 (cred :Cred, parentHint :UInt64, mode :UInt32, target :Text)
      -> (result :AttrResult);
  # Step 1 of a cross-shard mkdir: allocates an inode (nlink 0, pending) on this shard.
  # For directories, parentHint becomes "..".

  addEntry @14 (cred :Cred, parent :UInt64, name :Text, ino :UInt64, mode :UInt32,
                replace :Bool)
      -> (err :Int32, replacedIno :UInt64, replacedMode :UInt32);
  # Step 2 of mkdir/link/rename across shards: inserts name -> ino in a parent of this
  # shard. With replace=false: EEXIST if the name exists. With replace=true (rename) the old
  # entry is overwritten and returned (the caller verified type compatibility).
  # Updates the parent's nlink for directories. Errors: EEXIST, EACCES, ENOENT, ENOTDIR.

  removeEntry @15 (cred :Cred, parent :UInt64, name :Text, expectIno :UInt64) -> (err :Int32);
  # Removes name from parent only if it still maps to expectIno (ENOENT otherwise).
  # Used by cross-shard rmdir and rename. Checks permissions as unlink does.

  linkCount @16 (ino :UInt64, delta :Int32, newParent :UInt64)
      -> (err :Int32, nlink :UInt32, size :UInt64, freed :Bool);
  # Adjusts an inode's link count on its owning shard (hard links, remote unlink, pending
  # inode linked: delta +1 from 0 clears "pending"). nlink reaching 0 frees the inode
  # (freed) unless another session holds it open (an orphan, see releaseOpen).
  # newParent != 0 also sets ".." (directory moved by rename).

  prepareRmdir @17 (cred :Cred, ino :UInt64, undo :Bool) -> (err :Int32);
  # Step 1 of a cross-shard rmdir: fails with ENOTEMPTY if the directory has entries,
  # otherwise marks it so that no entry can be created in it until undo or removal.

  # ---- Extended attributes of an inode of this shard (getxattr(2) family). `name` is the
  # full name with its namespace ("user.mime_type"); the client has already refused an
  # empty name or one over 255 bytes (ERANGE), a value over 64 KiB (E2BIG) and unknown
  # flags (EINVAL). Namespaces: "user." (regular files and directories only), "trusted."
  # (uid 0 only: others get EPERM on writes, ENODATA on reads, and never see the names),
  # "security." (writes by uid 0 only, EPERM otherwise; reads need no permission);
  # "system." and unknown prefixes EOPNOTSUPP, an empty suffix ("user.") EINVAL.
  # Permission as Linux's xattr_permission: read (getxattr) or write (setxattr,
  # removexattr) permission on the inode (EACCES; uid 0 bypasses); user.* on other file
  # types EPERM (writes) / ENODATA (reads); user.* writes in a sticky directory need its
  # owner or uid 0 (EPERM). Changes set ctime and bump the version; attributes are
  # deleted with the inode. getxattr and listxattr are idempotent; setxattr with flags 0
  # too (the same value again); removexattr and flagged setxattr are not.

  getxattr @18 (cred :Cred, ino :UInt64, name :Text) -> (err :Int32, value :Data);
  # The value (possibly empty). Errors: ENOENT (no inode), ENODATA (no such attribute),
  # EACCES, EOPNOTSUPP, EINVAL.

  setxattr @19 (cred :Cred, ino :UInt64, name :Text, value :Data, flags :UInt32)
      -> (result :AttrResult);
  # Creates or replaces; flags as setxattr(2): XATTR_CREATE=1 (EEXIST if present),
  # XATTR_REPLACE=2 (ENODATA if absent). Returns the inode's new attributes.
  # Errors: ENOENT, EEXIST, ENODATA, EACCES, EPERM, EOPNOTSUPP, EINVAL, ENOSPC (the
  # names of the inode would exceed 64 KiB listed), E2BIG, ERANGE.

  listxattr @20 (cred :Cred, ino :UInt64) -> (err :Int32, names :List(Text));
  # The names the caller may see, in key order. No permission needed. Errors: ENOENT.

  removexattr @21 (cred :Cred, ino :UInt64, name :Text) -> (result :AttrResult);
  # Errors: ENOENT, ENODATA (absent), EACCES, EPERM, EOPNOTSUPP, EINVAL.

  # ---- File locks of an inode of this shard, held in the server's memory (not across
  # a restart). A lock lives while its client renews (renewLocks, or any lock call) within
  # the lease; a conflicting lock whose client has been silent longer is dropped.

  lock @22 (ino :UInt64, lock :FileLock, test :Bool) -> (err :Int32, conflict :FileLock, hasConflict :Bool);
  # test = false: F_SETLK. Sets, changes (splitting or merging the owner's ranges) or
  # releases (type F_UNLCK) the owner's lock; EAGAIN when another owner's lock conflicts
  # (blocking waits are the client's retries). test = true: F_GETLK, the first
  # conflicting lock in `conflict` (hasConflict). Errors: EINVAL (type, range).
  # Idempotent: the same request again leaves the same locks.

  renewLocks @23 (client :UInt64) -> (leaseMs :UInt32);
  # Keeps the client's locks alive for another lease; returns the lease. Idempotent.

  # ---- Sessions and leases (see openSession).

  attach @24 (sessionId :UInt64) -> (service :MetaService);
  # Another connection of the same client (a thread's own) joins the session: calls
  # through `service` belong to it. An unknown session gives a service whose replies
  # grant no lease.

  renewSession @25 (sessionId :UInt64, forget :List(UInt64), releaseWrites :List(WriteLeaseRef))
      -> (leaseMs :UInt32, valid :Bool);
  # Keeps the session's leases for another lease time from now, drops its leases on
  # `forget` (inodes the client no longer caches), and gives back the write leases of
  # `releaseWrites` (files it no longer has open for writing, nothing kept back; its read
  # leases on them stay). A write lease goes only if it is still the grant of that
  # generation: a release that crossed a newer grant on the wire leaves the new one. valid = false: the session is unknown
  # or its leases were revoked (it did not answer a recall in time): the client drops
  # every lease it holds from this server; the session is usable again. Idempotent.

  writeLease @27 (ino :UInt64) -> (granted :Bool, gen :UInt64);
  # Through a session's service: the session is about to write the file and keep its new
  # size and mtime to itself for a while. Other sessions' leases on the inode are
  # recalled first; from then on, another session's lookup or getattr of the inode first
  # recalls the write lease, and the holder writes its changes back before answering.
  # Not granted (false) while a recall of the inode is in flight, to a revoked session or
  # without a session. gen: this grant's generation (see renewSession's releaseWrites);
  # every grant, also a repeated one to the holder, has a new one.

  releaseOpen @26 (ino :UInt64) -> (err :Int32, freed :Bool, size :UInt64);
  # Through a session's service: the session closed an inode it had reported open. An
  # orphan (last link removed meanwhile) whose last reference this was is freed, and
  # freed = true tells the caller to remove its data (size: its size).

  reserveInodes @28 (count :UInt32) -> (err :Int32, first :UInt64, count :UInt32);
  # Inode numbers [first, first + count) of this shard, set aside for the calling session
  # to name in makeReservedDir, each once; those unused go when the session ends.
  # count 1..1024. Errors: EINVAL, EAGAIN (4096 unused already), ENOSPC.

  mkdirRemote @30 (cred :Cred, parent :UInt64, name :Text, ino :UInt64, mode :UInt32, leaseTo :UInt64)
      -> (result :AttrResult);
  # A mkdir across shards in one call to the parent's shard: the entry name -> ino (a
  # number the directory's shard reserved for the caller) and, kept in it, the
  # directory's attributes as a mkdir here would make them (the result) and leaseTo (the
  # caller's session on the directory's shard). The directory's shard makes it later
  # (makeDirs): the caller sends that before its next call to that shard; anyone who
  # looks the name up meanwhile gets the intent (lookup's hasIntent) and sends it first.
  # The intent goes with confirmDirs. Errors: EINVAL (ino 0 or of this shard), EEXIST,
  # EACCES, ENOENT, ENOTDIR, EMLINK, ENAMETOOLONG.

  makeDirs @31 (dirs :List(DirIntent)) -> (results :List(AttrResult));
  # Makes each directory of this shard as its intent says, unless it exists (then its
  # attributes as they are); each made one is leased to the caller and to its leaseTo
  # session. Idempotent. Errors per directory: EINVAL (not a number this shard handed
  # out), EEXIST (not a directory).

  confirmDirs @32 (dirs :List(DirRef)) -> ();
  # These directories are made on their shards: their entries here drop the intent.
  # Idempotent.

  delegateDir @33 (cred :Cred, dir :UInt64, maxEntries :UInt32, reserve :UInt32, orUnlisted :Bool)
      -> (err :Int32, gen :UInt64, attr :Attr, entries :List(Dirent), first :UInt64, count :UInt32,
          unlisted :Bool, removals :Bool);
  # Through a session's service: delegates directory `dir` to the session, which may then
  # make regular files in it, and unlink names there, on its own (makeFiles) until the
  # server recalls it. The delegation is the session's write lease on the directory (gen:
  # its generation): every other session's lease on it is recalled first, and any other
  # session's lookup, readdir or change in it recalls the delegation (the holder sends
  # what it made before it answers). The answer lists every name in it, or with
  # `orUnlisted` none when there are more than maxEntries (`unlisted`: the holder then
  # unlinks only names it knows and makes nothing); `removals`: makeFiles takes removals
  # and directories (servers before them answer false), and `count` (`reserve`, 0..1024) inode numbers
  # from `first` reserved for the files (any the session reserved on this shard and did
  # not use serve as well).
  # Errors: ENOENT, ENOTDIR, EACCES (no write and search permission), E2BIG (more than
  # maxEntries names, without orUnlisted), EAGAIN (not granted now: a recall is in
  # flight), EINVAL.

  makeFiles @34 (files :List(FileIntent)) -> (errs :List(Int32), removed :List(RemovedFile));
  # Through a session's service: in order, makes each file as its intent says (consecutive
  # ones in one batch), or unlinks the name of a removal if it still names attr.ino,
  # under the delegation of its directory with generation `gen` (still the session's);
  # each made file is write-leased to the session under that generation. Idempotent: a
  # file whose name already names its number stands, a removal whose name names another
  # inode or none is left (removed[i].removed false). A connection's makeFiles calls are
  # served one after another. Errors per file: ESTALE (the delegation is gone), EINVAL
  # (not a number reserved for the session, not a regular file, or attributes other than
  # that create would give; a removal of an inode of another shard), EEXIST (the name
  # names another inode), EISDIR, ENAMETOOLONG, ENOENT; E2BIG for every file of a call
  # with more than 4096.

  callCounts @35 () -> (counts :List(MethodCalls));
  # The calls this shard has served since it started, per method (those served at least
  # once), for `myfs status`: what a workload cost the servers.

  makeReservedDir @29 (cred :Cred, ino :UInt64, parent :UInt64, mode :UInt32)
      -> (result :AttrResult);
  # A mkdir across shards by clients that do not use mkdirRemote: this call, then addEntry
  # on the parent's shard. Makes directory `ino` (a number this session reserved) linked
  # from the start (nlink 2, ".." = parent). If the entry fails the client undoes this
  # with linkCount(ino, -1).
  # Errors: EINVAL (not reserved by this session, or used already), ENOSPC.
}
