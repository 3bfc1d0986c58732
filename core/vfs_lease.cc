// Leases on the client side: which cached attributes and names the metadata servers
// vouch for (schema/meta.capnp, openSession), and their recalls.
#include <algorithm>
#include <chrono>
#include <thread>

#include "core/vfs_impl.h"

namespace myfs {

namespace {

// Leases are trusted until a little before the server's view of them runs out: clock
// rates differ, and a renewal's reply is late by the time it arrives.
std::int64_t trustedUntil(std::int64_t sentMs, std::uint32_t leaseMs) {
  return sentMs + leaseMs - (leaseMs / 10 + 5);
}

}  // namespace

bool VfsImpl::leaseLive(InodeId ino, std::uint64_t token) const {
  if (token == 0) return false;
  const ShardLeases& l = leases_[shardOfInode(ino)];
  return token > l.floor.load(std::memory_order_acquire) &&
         clockMs() < l.validUntilMs.load(std::memory_order_relaxed);
}

std::uint64_t VfsImpl::recallMark(InodeId ino) const { return leases_[shardOfInode(ino)].recalls.load(); }

std::uint64_t VfsImpl::installLease(InodeId ino, std::atomic<std::uint64_t>& slot, std::uint64_t mark) {
  const std::uint64_t current = slot.load();
  if (leaseLive(ino, current)) return current;
  std::uint64_t token = ++leaseTokens_;
  slot.store(token);
  // A recall that ran meanwhile may have been about this inode, before our store.
  if (leases_[shardOfInode(ino)].recalls.load() != mark) {
    slot.compare_exchange_strong(token, 0);
    return 0;
  }
  return token;
}

std::shared_ptr<Inode> VfsImpl::findInode(InodeId ino) {
  std::lock_guard lock(inodesMu_);
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? nullptr : it->second;
}

void VfsImpl::noteForgotten(const Inode& inode) {
  if (inode.attrLease.load() == 0 && inode.nameLease.load() == 0) return;
  ShardLeases& l = leases_[shardOfInode(inode.ino)];
  std::lock_guard lock(l.forgetMu);
  l.forgotten.push_back(inode.ino);
}

LeaseListener::RecallAnswer VfsImpl::recall(std::uint32_t shard, std::span<const InodeId> inos, bool writesOnly) {
  RecallAnswer answer;
  if (shard >= mount_.shardCount) return answer;
  // A reply on its way with a read lease is still good when only write leases go.
  if (!writesOnly) leases_[shard].recalls.fetch_add(1);
  leases_[shard].anyRecalls.fetch_add(1);
  for (InodeId ino : inos) {
    std::shared_ptr<Inode> inode = findInode(ino);
    if (!inode) continue;
    if (!writesOnly) {
      inode->attrLease.store(0);
      inode->nameLease.store(0);
    }
    if (inode->openCount.load() > 0) {
      inode->serverHoldsOpen.store(true);
      answer.open.push_back(ino);
    }
    if (inode->writeLease.exchange(0) != 0) answer.flush.push_back(ino);
  }
  // A delegated directory: no create starts in it from now (the flusher then waits for
  // what it made to be answered for before we answer).
  for (InodeId ino : inos) {
    if (delegationRecalled(ino) && std::find(answer.flush.begin(), answer.flush.end(), ino) == answer.flush.end()) {
      answer.flush.push_back(ino);
    }
  }
  return answer;
}

void VfsImpl::flushRecalled(std::span<const InodeId> inos) {
  // A delegated directory: the server hears our answer only once it has answered for
  // every file made under the delegation.
  std::vector<std::uint32_t> owedShards;
  for (InodeId ino : inos) {
    if (endDelegation(ino)) owedShards.push_back(shardOfInode(ino));  // its files live on its shard
  }
  std::sort(owedShards.begin(), owedShards.end());
  owedShards.erase(std::unique(owedShards.begin(), owedShards.end()), owedShards.end());
  for (std::uint32_t shard : owedShards) (void)cluster_.settleShard(shard);
  for (InodeId ino : inos) {
    std::shared_ptr<Inode> inode = findInode(ino);
    if (!inode) continue;
    // A thread of ours may hold the inode while it talks to the server; the server does
    // not wait for us on its behalf, so this wait ends. Bounded all the same.
    std::unique_lock lock(inode->mu, std::defer_lock);
    for (int i = 0; i < 2000 && !lock.try_lock(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (lock.owns_lock()) (void)flushInode(*inode, false);
  }
}

void VfsImpl::dropWriteLeases(std::uint32_t shard) {
  endDelegations(shard);
  std::lock_guard lock(inodesMu_);
  for (auto& [ino, inode] : inodes_) {
    if (shardOfInode(ino) == shard) inode->writeLease.store(0);
  }
}

void VfsImpl::sessionStarted(std::uint32_t shard, std::int64_t sentMs, std::uint32_t leaseMs) {
  if (shard >= mount_.shardCount) return;
  ShardLeases& l = leases_[shard];
  l.floor.store(leaseTokens_.load());
  // A reply of the session this one replaces, still on its way, must not install a lease.
  if (l.hadSession.exchange(true)) {
    l.recalls.fetch_add(1);
    l.anyRecalls.fetch_add(1);
  }
  l.validUntilMs.store(trustedUntil(sentMs, leaseMs));
  dropWriteLeases(shard);
  std::lock_guard lock(l.forgetMu);
  l.forgotten.clear();
  l.releasedWrites.clear();
}

void VfsImpl::renewed(std::uint32_t shard, std::int64_t sentMs, std::uint32_t leaseMs, bool valid) {
  if (shard >= mount_.shardCount) return;
  ShardLeases& l = leases_[shard];
  if (!valid) {
    l.floor.store(leaseTokens_.load());
    l.recalls.fetch_add(1);
    l.anyRecalls.fetch_add(1);
    dropWriteLeases(shard);
  }
  const std::int64_t until = trustedUntil(sentMs, leaseMs);
  std::int64_t seen = l.validUntilMs.load();
  while (seen < until && !l.validUntilMs.compare_exchange_weak(seen, until)) {
  }
}

void VfsImpl::giveBackWriteLease(Inode& inode) {
  const std::uint64_t gen = inode.writeLease.exchange(0);
  if (gen == 0) return;
  const std::uint32_t shard = shardOfInode(inode.ino);
  ShardLeases& l = leases_[shard];
  bool first;
  {
    std::lock_guard lock(l.forgetMu);
    first = l.releasedWrites.empty();
    l.releasedWrites.push_back({inode.ino, gen});
  }
  if (first) cluster_.renewSoon(shard);
}

std::vector<LeaseListener::WriteGrant> VfsImpl::releasedWrites(std::uint32_t shard) {
  if (shard >= mount_.shardCount) return {};
  std::vector<WriteGrant> out = idleDelegations(shard);
  ShardLeases& l = leases_[shard];
  bool waiting = false;
  {
    std::lock_guard lock(l.forgetMu);
    // A file made on our own and not yet made by its server: given back once it is (the
    // server grants its write lease when it makes it; a release before that would find
    // nothing and leave that grant held).
    std::vector<WriteGrant> later;
    for (const WriteGrant& g : l.releasedWrites) (cluster_.owesFile(g.ino) ? later : out).push_back(g);
    l.releasedWrites = std::move(later);
    waiting = !l.releasedWrites.empty();
  }
  if (waiting) cluster_.settleSoon(shard);  // then a renewal gives them back
  return out;
}

void VfsImpl::renewalFailed(std::uint32_t shard, std::vector<InodeId> forgotten,
                            std::vector<WriteGrant> released) {
  if (shard >= mount_.shardCount) return;
  ShardLeases& l = leases_[shard];
  std::lock_guard lock(l.forgetMu);
  l.forgotten.insert(l.forgotten.end(), forgotten.begin(), forgotten.end());
  l.releasedWrites.insert(l.releasedWrites.end(), released.begin(), released.end());
}

std::vector<InodeId> VfsImpl::forgotten(std::uint32_t shard) {
  if (shard >= mount_.shardCount) return {};
  ShardLeases& l = leases_[shard];
  std::lock_guard lock(l.forgetMu);
  return std::exchange(l.forgotten, {});
}

void VfsImpl::voidAllLeases() {
  // In a forked child: the parent's delegations are its own (it settled them before the
  // fork); a thread gone with the fork may have held the lock.
  new (&delegMu_) std::mutex();
  delegations_.clear();
  held_.clear();
  ownChanges_.clear();
  changesIn_.clear();
  spareNumbers_.clear();
  for (std::uint64_t& e : sessionEpochs_) ++e;
  delegationCount_.store(0);
  for (std::uint32_t s = 0; s < mount_.shardCount; ++s) {
    ShardLeases& l = leases_[s];
    l.floor.store(leaseTokens_.load());
    l.validUntilMs.store(0);
    l.hadSession.store(false);  // no reply of the parent's sessions reaches this process
    new (&l.forgetMu) std::mutex();
    l.forgotten.clear();
    l.releasedWrites.clear();
  }
  for (auto& [ino, inode] : inodes_) {
    inode->serverHoldsOpen.store(false);
    inode->writeLease.store(0);
  }
}

void VfsImpl::releaseServerOpen(Inode& inode) {
  if (!inode.serverHoldsOpen.exchange(false)) return;
  Result<LinkCountResult> r = cluster_.shardOf(inode.ino).releaseOpen(inode.ino);
  if (r && r->freed && r->size > 0) (void)cluster_.data().remove(inode.ino);
}

}  // namespace myfs
