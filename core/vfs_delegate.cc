// Directories delegated to this client (schema delegateDir): while the server keeps
// every other client out of a directory, this client knows every name in it and makes
// new files there on its own, each sent to the server at once without waiting for the
// answer (Cluster::oweFile, pushOwed). Another client's lookup, readdir or change in the
// directory recalls the delegation; we answer once the server has answered for every
// file made under it.
//
// Two tables (delegMu_): held_, the directories whose server lease (the delegation) this
// session holds, and delegations_, those of them this client still makes files in. A
// recall ends both; a delegation that stops making files (idle, or our own name change
// in the directory) stays held until given back or recalled, so a recall still waits for
// what it made. No lock is held across a call to a server.
#include <fcntl.h>
#include <limits.h>

#include <algorithm>
#include <unordered_set>

#include "core/vfs_impl.h"

namespace myfs {

struct VfsImpl::Delegation {
  std::mutex mu;
  std::atomic<bool> live{false};          // files are made in it (set under mu; cleared also without)
  std::uint64_t gen = 0;                  // the server's grant
  std::uint64_t epoch = 0;                // the session epoch its numbers belong to
  bool listed = true;                     // names holds every name (else: unlinks only)
  bool removals = false;                  // the server takes unlinks and mkdirs made here
  std::unordered_set<std::string> names;  // every name in the directory (if listed); GUARDED_BY(mu)
  std::vector<InodeId> numbers;           // reserved and unused, next at the back; GUARDED_BY(mu)
  std::atomic<std::int64_t> lastUseMs{0};  // the latest create or unlink in it (clockMs)
  // Our own changes the server made since the list was taken, not in `names` yet;
  // GUARDED_BY(delegMu_). An unknown one (a move, a failure) makes it useless.
  std::vector<OwnChange> pending;
};

namespace {

void pushNumbers(std::vector<InodeId>& to, const InodeRange& range) {
  for (std::uint32_t i = range.count; i > 0; --i) to.push_back(range.first + i - 1);
}

}  // namespace

std::shared_ptr<VfsImpl::Delegation> VfsImpl::liveDelegation(InodeId dir) {
  std::lock_guard lock(delegMu_);
  auto it = delegations_.find(dir);
  return it == delegations_.end() ? nullptr : it->second;
}

VfsImpl::NewName VfsImpl::decideNewName(std::unique_lock<std::mutex>& lock, InodeId dir, Delegation& d,
                                        std::string_view name, bool needNumber) {
  const std::uint32_t shard = shardOfInode(dir);
  bool refilled = false;
  for (;;) {
    if (!usable(dir, d) || !d.listed) return NewName::kAsk;
    if (cluster_.owesRemoval(dir, name)) {
      // Our unlink of this name first: what is made now could reach the server before it.
      lock.unlock();
      if (!cluster_.settleShard(shard)) return NewName::kAsk;
      lock.lock();
      continue;
    }
    if (d.names.count(std::string(name)) != 0) return NewName::kExists;
    if (!needNumber || !d.numbers.empty() || takeSpareNumbers(shard, d.epoch, d.numbers)) return NewName::kFree;
    if (refilled) return NewName::kAsk;
    refilled = true;
    lock.unlock();  // no lock across a call
    Result<InodeRange> more = cluster_.shardOf(dir).reserveInodes(kDelegateNumbers);
    if (!more) return NewName::kAsk;
    std::vector<InodeId> got;
    pushNumbers(got, *more);
    giveSpareNumbers(shard, d.epoch, got);
    lock.lock();
  }
}

std::optional<Result<void>> VfsImpl::mkdirDelegated(const Node& parent, std::string_view name, mode_t mode,
                                                    const Cred& cred) {
  if (delegationCount_.load(std::memory_order_relaxed) == 0) return std::nullopt;
  const InodeId p = parent.inode->ino;
  const std::uint32_t shard = shardOfInode(p);
  std::shared_ptr<Delegation> d = liveDelegation(p);
  if (!d || !parent.complete || !leaseLive(p, parent.attrToken)) return std::nullopt;
  if (name.size() > NAME_MAX) return Result<void>(Errno(ENAMETOOLONG));
  const Attr& dir = parent.attr;
  if (!mayAccess(dir, cred, kMayWrite | kMayExec)) return Result<void>(Errno(EACCES));
  if (dir.nlink >= kDirLinkMax) return std::nullopt;  // the server's EMLINK
  // A directory lives on the shard its name hashes to: there, a number reserved for our
  // session there (taken before the lock: it may take a call).
  const std::uint32_t target = shardForNewDirectory(p, name, cluster_.shardCount());
  std::optional<InodeId> remote;
  if (target != shard && !(remote = takeReservedInode(target))) return std::nullopt;
  auto unused = [&] {
    if (!remote) return;
    std::lock_guard lock(reservedMu_);
    reserved_[target].push_back(*remote);
  };
  std::unique_lock lock(d->mu);
  if (!d->removals) {
    unused();
    return std::nullopt;
  }
  switch (decideNewName(lock, p, *d, name, !remote)) {
    case NewName::kAsk:
      unused();
      return std::nullopt;
    case NewName::kExists:
      unused();
      return Result<void>(Errno(EEXIST));
    case NewName::kFree:
      break;
  }
  // As mkdir(2): only the permission and sticky bits of `mode` (setgid is inherited).
  Attr attr = newInodeAttr(cred, &dir, S_IFDIR | (mode & 01777), remote ? *remote : d->numbers.back(), nowNs());
  attr.nlink = 2;
  attr.parent = p;
  const std::uint64_t mark = recallMark(attr.ino);
  if (!cluster_.oweFile(FileIntent{cred, p, std::string(name), attr, d->gen, false})) {
    unused();
    return std::nullopt;
  }
  if (!remote) d->numbers.pop_back();
  d->names.insert(std::string(name));
  lock.unlock();
  d->lastUseMs.store(clockMs(), std::memory_order_relaxed);
  cluster_.pushOwed(shard);
  // Leased to us when its shard makes it (here: with the entry; elsewhere: by makeDirs,
  // through the session it names), before anyone else can find it.
  attr.leased = true;
  (void)learnMade(attr, mark);
  learnEntry(p, name, attr.ino);
  touched(p);  // the parent's nlink and times
  return okResult();
}

std::optional<Result<void>> VfsImpl::createDelegated(int fd, const Walk& w, int flags, mode_t mode,
                                                     const Cred& cred) {
  if (delegationCount_.load(std::memory_order_relaxed) == 0) return std::nullopt;
  const InodeId p = w.node.inode->ino;
  const std::uint32_t shard = shardOfInode(p);
  std::shared_ptr<Delegation> d = liveDelegation(p);
  // The directory's attributes decide permission and ownership: only those cached under
  // a live lease (while it is delegated, nobody else changes them).
  if (!d || !w.node.complete || !leaseLive(p, w.node.attrToken)) return std::nullopt;
  if (w.last.size() > NAME_MAX) return Result<void>(Errno(ENAMETOOLONG));
  const Attr& dir = w.node.attr;
  if (!mayAccess(dir, cred, kMayWrite | kMayExec)) return Result<void>(Errno(EACCES));
  std::unique_lock lock(d->mu);
  switch (decideNewName(lock, p, *d, w.last, true)) {
    case NewName::kAsk:
      return std::nullopt;
    case NewName::kExists:
      // Without O_EXCL it opens what is there: the server's to say.
      return (flags & O_EXCL) ? std::optional<Result<void>>(Errno(EEXIST)) : std::nullopt;
    case NewName::kFree:
      break;
  }
  Attr attr = newInodeAttr(cred, &dir, S_IFREG | (mode & 07777), d->numbers.back(), nowNs());
  attr.nlink = 1;
  const std::uint64_t mark = recallMark(attr.ino);
  // Ours under the file's write lease (the server grants it with the file, under the
  // delegation's generation): anyone else reaches it only through a lookup that recalls
  // the delegation first.
  std::shared_ptr<Inode> inode = inodeObject(attr.ino);
  inode->writeLease.store(d->gen);
  // Owed before the lock goes: a recall's settle (after endDelegation takes the lock)
  // includes it.
  if (!cluster_.oweFile(FileIntent{cred, p, w.last, attr, d->gen, false})) {
    inode->writeLease.store(0);
    return std::nullopt;
  }
  d->numbers.pop_back();
  d->names.insert(w.last);
  lock.unlock();
  d->lastUseMs.store(clockMs(), std::memory_order_relaxed);
  cluster_.pushOwed(shard);  // on its way before open returns

  attr.leased = true;
  Attr learned = learnMade(attr, mark);
  learnEntry(p, w.last, attr.ino);
  touched(p);
  std::vector<std::string> canon = w.canon;
  canon.push_back(w.last);
  return openNode(fd, Node{inode, learned}, joinComponents(canon), flags, true, cred);
}

bool VfsImpl::usable(InodeId dir, Delegation& d) {
  // Held only while our session's leases hold: one that ran out may have been revoked
  // (the server lets others in once it has, and refuses what we make after).
  if (!d.live.load() || clockMs() >= leases_[shardOfInode(dir)].validUntilMs.load(std::memory_order_relaxed)) {
    return false;
  }
  switch (foldOwnChanges(dir, d)) {
    case OwnChangesState::kUnknown:
      retire(dir, d);
      return false;
    case OwnChangesState::kInFlight:
      return false;  // their outcome decides names: the server's to say
    case OwnChangesState::kFolded:
      break;
  }
  return true;
}

std::optional<Result<void>> VfsImpl::unlinkDelegated(const Walk& w, const Cred& cred) {
  if (delegationCount_.load(std::memory_order_relaxed) == 0) return std::nullopt;
  const InodeId p = w.node.inode->ino;
  const std::uint32_t shard = shardOfInode(p);
  std::shared_ptr<Delegation> d = liveDelegation(p);
  if (!d || !w.node.complete || !leaseLive(p, w.node.attrToken)) return std::nullopt;
  const Attr& dir = w.node.attr;
  // A sticky directory needs the victim's owner: the server's to check.
  if (stickyMatters(dir, cred) || w.last.size() > NAME_MAX) return std::nullopt;
  // The victim as cached under the directory's lease (nobody else changes names here):
  // a file of this shard (a directory, or an inode of another shard, is the server's).
  MYFS_ASSIGN_OR_RETURN(victim, lookupChild(w.node, w.last, cred));
  if (!mayAccess(dir, cred, kMayWrite | kMayExec)) return Result<void>(Errno(EACCES));
  const InodeId ino = victim.inode->ino;
  if (victim.attr.isDir() || shardOfInode(ino) != shard) return std::nullopt;
  {
    // Open here, or with data not written back: the server's (it must not free what the
    // open file still reads, nor miss the size of what is still to be written).
    Inode& in = *victim.inode;
    std::lock_guard inodeLock(in.mu);
    if (in.openCount > 0 || in.sizeDirty || in.mtimeDirty || (in.pages && in.pages->hasDirty())) return std::nullopt;
  }
  std::unique_lock lock(d->mu);
  if (!usable(p, *d) || !d->removals || (d->listed && d->names.count(w.last) == 0)) return std::nullopt;
  // Unlinked by another of our threads a moment ago (its removal still owed): gone.
  if (cluster_.owesRemoval(p, w.last)) return Result<void>(Errno(ENOENT));
  Attr attr;
  attr.ino = ino;
  // Owed before the lock goes, after anything made here before (a recall's settle
  // includes it; a create of this name waits for its answer).
  if (!cluster_.oweFile(FileIntent{cred, p, w.last, attr, d->gen, true})) return std::nullopt;
  d->names.erase(w.last);
  lock.unlock();
  d->lastUseMs.store(clockMs(), std::memory_order_relaxed);
  forget(p, w.last);
  learnEntry(p, w.last, 0);
  touched(p);
  touched(ino);  // its link count: the server's answer (removedAhead) tells the rest
  cluster_.pushOwed(shard);
  return okResult();
}

void VfsImpl::removedAhead(const FileIntent& removal, bool lastLink, std::uint64_t size) {
  if (!lastLink) return;
  const InodeId ino = removal.attr.ino;
  if (std::shared_ptr<Inode> inode = findInode(ino)) {
    std::lock_guard lock(inode->mu);
    size = std::max<std::uint64_t>(size, inode->attr.size);
    inode->attr.nlink = 0;
    if (inode->openCount > 0) {
      inode->unlinked = true;  // data stays readable through open fds until the last close
      return;
    }
    if (inode->pages) inode->pages->truncate(0);
    inode->sizeDirty = inode->mtimeDirty = false;
  }
  if (size > 0) (void)cluster_.data().remove(ino);
}

void VfsImpl::noteNameChange(InodeId dir, const Cred& cred, bool unlinked) {
  if (!options_.delegateDirs || delegationsOff_.load(std::memory_order_relaxed)) return;
  const std::uint32_t shard = shardOfInode(dir);
  std::uint64_t epoch;
  {
    std::lock_guard lock(delegMu_);
    if (held_.count(dir) != 0) return;
    if (changesIn_.size() > 4096) changesIn_.clear();
    ChangeCount& c = changesIn_[dir];
    if (++c.changes < kChangesBeforeDelegation || clockMs() < c.quietUntilMs) return;
    c.changes = 0;
    // Asked now: not again soon, whatever the answer, and each time later (a delegation
    // given back idle starts over): two clients taking turns in one directory settle.
    c.quietUntilMs = clockMs() + c.quietMs;
    c.quietMs = std::min(c.quietMs * 2, kDelegationQuietMaxMs);
    epoch = sessionEpoch(shard);
  }
  std::vector<InodeId> numbers;
  const bool spare = takeSpareNumbers(shard, epoch, numbers);
  const std::uint64_t mark = recallMark(dir);
  std::atomic<std::uint64_t>& recalls = leases_[shard].anyRecalls;
  const std::uint64_t recallsBefore = recalls.load();
  {
    // Our own name changes that finish while it is on its way are kept for it: the server
    // may have listed the directory before it made them.
    std::lock_guard lock(delegMu_);
    ++ownChanges_[dir].granting;
  }
  // For unlinks, a directory too big to list will do: we unlink names we know.
  Result<DirDelegation> r =
      cluster_.shardOf(dir).delegateDir(cred, dir, kDelegateMaxEntries, spare ? 0 : kDelegateNumbers, unlinked);
  std::vector<OwnChange> finished;
  {
    std::lock_guard lock(delegMu_);
    OwnChanges& c = ownChanges_[dir];
    if (--c.granting == 0) finished = std::exchange(c.finished, {});
    if (c.inFlight == 0 && c.granting == 0) ownChanges_.erase(dir);
  }
  if (!r) {
    if (r.err() == ENOSYS) delegationsOff_.store(true);
    giveSpareNumbers(shard, epoch, numbers);
    return;
  }
  auto d = std::make_shared<Delegation>();
  d->gen = r->gen;
  d->epoch = epoch;
  d->lastUseMs.store(clockMs());
  d->listed = r->listed;
  d->removals = r->removals;
  for (DirEntry& e : r->entries) d->names.insert(std::move(e.name));
  d->numbers = std::move(numbers);
  pushNumbers(d->numbers, r->numbers);
  {
    // Held from here: a recall from now on finds it (and settles what it made).
    std::lock_guard lock(delegMu_);
    held_[dir] = Held{r->gen};
    d->pending = std::move(finished);
    delegations_[dir] = d;
    delegationCount_.store(delegations_.size());
  }
  Attr attr = r->attr;
  attr.leased = true;
  (void)learnMade(attr, mark);
  // Not used if a recall (perhaps of it) or a session change ran while it was on its
  // way: it goes back at the next renewal.
  std::lock_guard lock(d->mu);
  if (recalls.load() != recallsBefore) {
    retire(dir, *d);
    return;
  }
  d->live.store(true);
  cluster_.renewSoon(shard, kDelegationIdleMs / 2);  // the renewals look for idleness
}

std::uint64_t& VfsImpl::sessionEpoch(std::uint32_t shard) {
  if (sessionEpochs_.size() <= shard) sessionEpochs_.resize(shard + 1, 1);
  return sessionEpochs_[shard];
}

bool VfsImpl::takeSpareNumbers(std::uint32_t shard, std::uint64_t epoch, std::vector<InodeId>& to) {
  std::lock_guard lock(delegMu_);
  if (epoch != sessionEpoch(shard) || shard >= spareNumbers_.size() || spareNumbers_[shard].empty()) return false;
  to.insert(to.end(), spareNumbers_[shard].begin(), spareNumbers_[shard].end());
  spareNumbers_[shard].clear();
  return true;
}

void VfsImpl::giveSpareNumbers(std::uint32_t shard, std::uint64_t epoch, std::vector<InodeId>& numbers) {
  std::lock_guard lock(delegMu_);
  // Numbers of an ended session are no longer reserved for us.
  if (epoch == sessionEpoch(shard)) {
    if (spareNumbers_.size() <= shard) spareNumbers_.resize(shard + 1);
    spareNumbers_[shard].insert(spareNumbers_[shard].end(), numbers.begin(), numbers.end());
  }
  numbers.clear();
}

void VfsImpl::retire(InodeId dir, Delegation& d) {
  // Caller holds d.mu: no create is between its check and its oweFile.
  d.live.store(false);
  {
    std::lock_guard lock(delegMu_);
    auto it = delegations_.find(dir);
    if (it != delegations_.end() && it->second.get() == &d) delegations_.erase(it);
    delegationCount_.store(delegations_.size());
  }
  giveSpareNumbers(shardOfInode(dir), d.epoch, d.numbers);
}

VfsImpl::NameChange VfsImpl::nameChanging(InodeId dir) {
  // Our unlinks sent ahead go first: the server is to see them before this change.
  if (cluster_.owesRemoval(dir)) (void)cluster_.settleShard(shardOfInode(dir));
  std::lock_guard lock(delegMu_);
  ++ownChanges_[dir].inFlight;
  return NameChange(*this, dir);
}

void VfsImpl::nameChanged(InodeId dir, OwnChange change) {
  std::lock_guard lock(delegMu_);
  auto c = ownChanges_.find(dir);
  if (c == ownChanges_.end()) return;
  if (auto it = delegations_.find(dir); it != delegations_.end()) it->second->pending.push_back(change);
  if (c->second.granting > 0) c->second.finished.push_back(std::move(change));
  if (--c->second.inFlight == 0 && c->second.granting == 0) ownChanges_.erase(c);
}

VfsImpl::OwnChangesState VfsImpl::foldOwnChanges(InodeId dir, Delegation& d) {
  std::vector<OwnChange> pending;
  {
    std::lock_guard lock(delegMu_);
    pending = std::exchange(d.pending, {});
    auto c = ownChanges_.find(dir);
    if (c != ownChanges_.end() && c->second.inFlight > 0) {
      d.pending = std::move(pending);  // folded once they are all answered
      return OwnChangesState::kInFlight;
    }
  }
  if (!d.listed) return OwnChangesState::kFolded;  // no list to keep (the dentry cache is kept)
  for (OwnChange& change : pending) {
    switch (change.kind) {
      case OwnChange::Kind::kUnknown:
        return OwnChangesState::kUnknown;
      case OwnChange::Kind::kMade:
        d.names.insert(std::move(change.name));
        break;
      case OwnChange::Kind::kRemoved:
        d.names.erase(change.name);
        break;
    }
  }
  return OwnChangesState::kFolded;
}

void VfsImpl::delegationNameChanged(InodeId dir) {
  if (delegationCount_.load() == 0) return;
  std::shared_ptr<Delegation> d = liveDelegation(dir);
  if (!d) return;
  std::lock_guard lock(d->mu);
  retire(dir, *d);  // held until given back or recalled
}

bool VfsImpl::endDelegation(InodeId dir) {
  std::shared_ptr<Delegation> d = liveDelegation(dir);
  if (d) {
    d->live.store(false);      // no create starts now (one under way finishes first)
    std::lock_guard lock(d->mu);
    retire(dir, *d);
  }
  std::lock_guard lock(delegMu_);
  ChangeCount& c = changesIn_[dir];
  c.quietUntilMs = clockMs() + c.quietMs;
  return held_.erase(dir) != 0;
}

bool VfsImpl::delegationRecalled(InodeId dir) {
  if (std::shared_ptr<Delegation> d = liveDelegation(dir)) d->live.store(false);
  std::lock_guard lock(delegMu_);
  return held_.count(dir) != 0;
}

void VfsImpl::endDelegations(std::uint32_t shard) {
  std::vector<std::pair<InodeId, std::shared_ptr<Delegation>>> ended;
  {
    std::lock_guard lock(delegMu_);
    for (auto& [dir, d] : delegations_) {
      if (shard == ~0u || shardOfInode(dir) == shard) ended.emplace_back(dir, d);
    }
    std::erase_if(held_, [shard](const auto& h) { return shard == ~0u || shardOfInode(h.first) == shard; });
    // The numbers were reserved for the session that ended.
    for (std::uint32_t s = 0; s < mount_.shardCount; ++s) {
      if (shard != ~0u && s != shard) continue;
      if (s < spareNumbers_.size()) spareNumbers_[s].clear();
      ++sessionEpoch(s);
    }
  }
  for (auto& [dir, d] : ended) {
    d->live.store(false);
    std::lock_guard lock(d->mu);
    retire(dir, *d);
  }
}

std::vector<LeaseListener::WriteGrant> VfsImpl::idleDelegations(std::uint32_t shard) {
  std::vector<std::pair<InodeId, std::shared_ptr<Delegation>>> idle;
  bool stillUsed = false;
  const std::int64_t now = clockMs();
  {
    std::lock_guard lock(delegMu_);
    for (auto& [dir, d] : delegations_) {
      if (shardOfInode(dir) != shard) continue;
      if (now - d->lastUseMs.load(std::memory_order_relaxed) < kDelegationIdleMs) {
        stillUsed = true;  // looked at again soon
      } else {
        idle.emplace_back(dir, d);
      }
    }
  }
  for (auto& [dir, d] : idle) {
    // Never waits here (the renewal's thread): a create under way keeps it for now.
    std::unique_lock lock(d->mu, std::try_to_lock);
    if (lock.owns_lock()) {
      retire(dir, *d);
    } else {
      stillUsed = true;
    }
  }
  if (stillUsed) cluster_.renewSoon(shard, kDelegationIdleMs / 2);
  // Held and no longer used: given back once all made under it is answered for.
  std::vector<WriteGrant> out;
  bool waiting = false;
  {
    std::lock_guard lock(delegMu_);
    for (auto& [dir, h] : held_) {
      if (shardOfInode(dir) != shard || delegations_.count(dir) != 0) continue;
      if (cluster_.owesFilesIn(dir)) {
        waiting = true;
      } else {
        out.push_back(WriteGrant{dir, h.gen});
      }
    }
    for (const WriteGrant& g : out) {
      held_.erase(g.ino);
      if (auto c = changesIn_.find(g.ino); c != changesIn_.end()) c->second.quietMs = kDelegationQuietMinMs;
    }
  }
  if (waiting) cluster_.settleSoon(shard);  // then a renewal gives them back
  return out;
}

void VfsImpl::fileLost(const FileIntent& file, int err) {
  delegationNameChanged(file.parent);
  forget(file.parent, file.name);
  if (file.remove) {
    touched(file.attr.ino);
    return;  // the name stays: the next lookup finds it
  }
  if (std::shared_ptr<Inode> inode = findInode(file.attr.ino)) {
    inode->lost.store(err);
    inode->attrLease.store(0);
    inode->writeLease.store(0);
  }
}

}  // namespace myfs
