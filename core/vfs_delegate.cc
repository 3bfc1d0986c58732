// Directories delegated to this client (schema delegateDir): while the server keeps
// every other client out of a directory, this client knows every name in it and makes
// new files there on its own, each sent to the server at once without waiting for the
// answer (Cluster::createAhead). Another client's lookup, readdir or change in the
// directory recalls the delegation; we answer once the server has answered for every
// file made under it.
#include <fcntl.h>
#include <limits.h>

#include <algorithm>
#include <unordered_set>

#include "core/vfs_impl.h"

namespace myfs {

struct VfsImpl::Delegation {
  std::mutex mu;
  bool live = true;                       // GUARDED_BY(mu)
  std::uint64_t gen = 0;                  // the server's grant
  std::unordered_set<std::string> names;  // every name in the directory; GUARDED_BY(mu)
  std::vector<InodeId> numbers;           // reserved and unused, next at the back; GUARDED_BY(mu)
  std::atomic<std::int64_t> lastUseMs{0};  // the latest create in it (clockMs)
};

namespace {

void pushNumbers(std::vector<InodeId>& to, const InodeRange& range) {
  for (std::uint32_t i = range.count; i > 0; --i) to.push_back(range.first + i - 1);
}

}  // namespace

std::optional<Result<void>> VfsImpl::createDelegated(int fd, const Walk& w, int flags, mode_t mode,
                                                     const Cred& cred) {
  if (delegationCount_.load(std::memory_order_relaxed) == 0) return std::nullopt;
  const InodeId p = w.node.inode->ino;
  std::shared_ptr<Delegation> d;
  {
    std::lock_guard lock(delegMu_);
    auto it = delegations_.find(p);
    if (it == delegations_.end()) return std::nullopt;
    d = it->second;
  }
  std::unique_lock lock(d->mu);
  if (!d->live) return std::nullopt;
  // Held only while our session's leases hold: one that ran out may have been revoked
  // (the server lets others in once it has, and refuses what we make after).
  if (clockMs() >= leases_[shardOfInode(p)].validUntilMs.load(std::memory_order_relaxed)) return std::nullopt;
  if (d->names.count(w.last) != 0) {
    if (flags & O_EXCL) return Result<void>(Errno(EEXIST));
    return std::nullopt;  // opens what is there: the server's to say
  }
  if (w.last.size() > NAME_MAX) return Result<void>(Errno(ENAMETOOLONG));
  // The directory's attributes are ours while it is delegated: nobody else changes them.
  const Attr& dir = w.node.attr;
  if (!mayAccess(dir, cred, kMayWrite | kMayExec)) return Result<void>(Errno(EACCES));
  if (d->numbers.empty() && !takeSpareNumbers(shardOfInode(p), d->numbers)) {
    Result<InodeRange> more = cluster_.shardOf(p).reserveInodes(kDelegateNumbers);
    if (!more) return std::nullopt;
    pushNumbers(d->numbers, *more);
  }
  Attr attr = newInodeAttr(cred, &dir, S_IFREG | (mode & 07777), d->numbers.back(), nowNs());
  attr.nlink = 1;
  const std::uint64_t mark = recallMark(attr.ino);
  FileIntent intent{cred, p, w.last, attr, d->gen};
  if (!cluster_.createAhead(intent)) return std::nullopt;
  d->numbers.pop_back();
  d->names.insert(w.last);
  lock.unlock();
  d->lastUseMs.store(clockMs(), std::memory_order_relaxed);

  // Ours under the file's write lease (the server grants it with the file, under the
  // delegation's generation): anyone else reaches it only through a lookup that recalls
  // the delegation first.
  attr.leased = true;
  Attr learned = learnMade(attr, mark);
  std::shared_ptr<Inode> inode = inodeObject(attr.ino);
  inode->writeLease.store(d->gen);
  cacheEntry(p, w.last, attr.ino);
  touched(p);
  std::vector<std::string> canon = w.canon;
  canon.push_back(w.last);
  return openNode(fd, Node{inode, learned}, joinComponents(canon), flags, true, cred);
}

void VfsImpl::noteCreated(InodeId dir, const Cred& cred) {
  if (!options_.delegateDirs || delegationsOff_.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard lock(delegMu_);
    if (delegations_.count(dir) != 0) return;
    if (createsIn_.size() > 4096) createsIn_.clear();
    CreateCount& c = createsIn_[dir];
    if (++c.creates < kCreatesBeforeDelegation || clockMs() < c.quietUntilMs) return;
    c.creates = 0;
    c.quietUntilMs = clockMs() + kDelegationQuietMs;  // asked now: not again soon, whatever the answer
  }
  const std::uint32_t shard = shardOfInode(dir);
  std::vector<InodeId> numbers;
  const bool spare = takeSpareNumbers(shard, numbers);
  const std::uint64_t mark = recallMark(dir);
  std::atomic<std::uint64_t>& recalls = leases_[shard].anyRecalls;
  const std::uint64_t writeMark = recalls.load();
  Result<DirDelegation> r =
      cluster_.shardOf(dir).delegateDir(cred, dir, kDelegateMaxEntries, spare ? 0 : kDelegateNumbers);
  if (!r) {
    if (r.err() == ENOSYS) delegationsOff_.store(true);
    giveSpareNumbers(shard, numbers);
    return;
  }
  auto d = std::make_shared<Delegation>();
  d->gen = r->gen;
  d->lastUseMs.store(clockMs());
  for (DirEntry& e : r->entries) d->names.insert(std::move(e.name));
  d->numbers = std::move(numbers);
  pushNumbers(d->numbers, r->numbers);
  {
    std::lock_guard lock(delegMu_);
    delegations_[dir] = d;
    delegationCount_.store(delegations_.size());
  }
  // Listed before the write lease is: a recall from here on finds it and ends it.
  std::shared_ptr<Inode> inode = inodeObject(dir);
  inode->writeLease.store(r->gen);
  Attr attr = r->attr;
  attr.leased = true;
  (void)learnMade(attr, mark);
  if (recalls.load() != writeMark) {
    endDelegation(dir);  // perhaps recalled meanwhile (or the session changed)
    return;
  }
  cluster_.renewSoon(shardOfInode(dir), kDelegationIdleMs / 2);  // the renewals look for idleness
}

bool VfsImpl::takeSpareNumbers(std::uint32_t shard, std::vector<InodeId>& to) {
  std::lock_guard lock(delegMu_);
  if (shard >= spareNumbers_.size() || spareNumbers_[shard].empty()) return false;
  to.insert(to.end(), spareNumbers_[shard].begin(), spareNumbers_[shard].end());
  spareNumbers_[shard].clear();
  return true;
}

void VfsImpl::giveSpareNumbers(std::uint32_t shard, std::vector<InodeId>& numbers) {
  std::lock_guard lock(delegMu_);
  if (spareNumbers_.size() <= shard) spareNumbers_.resize(shard + 1);
  auto& pool = spareNumbers_[shard];
  pool.insert(pool.end(), numbers.begin(), numbers.end());
  numbers.clear();
}

void VfsImpl::retire(InodeId dir, Delegation& d) {
  std::lock_guard lock(d.mu);
  d.live = false;
  giveSpareNumbers(shardOfInode(dir), d.numbers);
}

void VfsImpl::delegationNameChanged(InodeId dir) {
  std::shared_ptr<Delegation> d;
  {
    std::lock_guard lock(delegMu_);
    auto it = delegations_.find(dir);
    if (it == delegations_.end()) return;
    d = it->second;
    delegations_.erase(it);
    delegationCount_.store(delegations_.size());
  }
  retire(dir, *d);
}

bool VfsImpl::endDelegation(InodeId dir) {
  std::shared_ptr<Delegation> d;
  {
    std::lock_guard lock(delegMu_);
    auto it = delegations_.find(dir);
    if (it == delegations_.end()) {
      // Ended when idle and not given back yet: what it made still needs answering for.
      return std::erase_if(givingBack_, [dir](const WriteGrant& g) { return g.ino == dir; }) != 0;
    }
    d = it->second;
    delegations_.erase(it);
    delegationCount_.store(delegations_.size());
    createsIn_[dir].quietUntilMs = clockMs() + kDelegationQuietMs;
  }
  // Waits for a create under way in it to be listed as owed: what is settled after this
  // includes it.
  retire(dir, *d);
  return true;
}

void VfsImpl::endDelegations(std::uint32_t shard) {
  std::vector<std::shared_ptr<Delegation>> ended;
  {
    std::lock_guard lock(delegMu_);
    for (auto it = delegations_.begin(); it != delegations_.end();) {
      if (shard == ~0u || shardOfInode(it->first) == shard) {
        ended.push_back(it->second);
        it = delegations_.erase(it);
      } else {
        ++it;
      }
    }
    delegationCount_.store(delegations_.size());
    // The numbers were reserved for the session that ended.
    if (shard == ~0u) {
      spareNumbers_.clear();
    } else if (shard < spareNumbers_.size()) {
      spareNumbers_[shard].clear();
    }
  }
  for (auto& d : ended) {
    std::lock_guard lock(d->mu);
    d->live = false;
    d->numbers.clear();
  }
}

std::vector<LeaseListener::WriteGrant> VfsImpl::idleDelegations(std::uint32_t shard) {
  std::vector<std::pair<InodeId, std::shared_ptr<Delegation>>> idle;
  bool stillUsed = false;
  const std::int64_t now = clockMs();
  {
    std::lock_guard lock(delegMu_);
    for (auto it = delegations_.begin(); it != delegations_.end();) {
      if (shardOfInode(it->first) != shard) {
        ++it;
        continue;
      }
      if (now - it->second->lastUseMs.load(std::memory_order_relaxed) < kDelegationIdleMs) {
        stillUsed = true;  // looked at again soon
        ++it;
      } else {
        idle.emplace_back(it->first, it->second);
        it = delegations_.erase(it);
      }
    }
    delegationCount_.store(delegations_.size());
  }
  for (auto& [dir, d] : idle) retire(dir, *d);
  std::vector<WriteGrant> out;
  std::lock_guard lock(delegMu_);
  for (auto& [dir, d] : idle) givingBack_.push_back(WriteGrant{dir, d->gen});
  if (stillUsed) cluster_.renewSoon(shard, kDelegationIdleMs / 2);
  auto mine = [shard](const WriteGrant& g) { return shardOfInode(g.ino) == shard; };
  if (std::none_of(givingBack_.begin(), givingBack_.end(), mine)) return out;
  if (cluster_.owes(shard)) {
    cluster_.settleSoon(shard);  // then the next renewal gives them back
    return out;
  }
  for (auto it = givingBack_.begin(); it != givingBack_.end();) {
    if (!mine(*it)) {
      ++it;
      continue;
    }
    if (std::shared_ptr<Inode> inode = findInode(it->ino)) {
      std::uint64_t gen = it->gen;
      inode->writeLease.compare_exchange_strong(gen, 0);
    }
    out.push_back(*it);
    it = givingBack_.erase(it);
  }
  return out;
}

void VfsImpl::fileLost(const FileIntent& file, int err) {
  forget(file.parent, file.name);
  if (std::shared_ptr<Inode> inode = findInode(file.attr.ino)) {
    inode->lost.store(err);
    inode->attrLease.store(0);
    inode->writeLease.store(0);
  }
}

}  // namespace myfs
