#include "server/meta/lease_table.h"

#include <utility>

namespace myfs::server {

void LeaseTable::addSession(std::uint64_t session, Clock::time_point now) {
  sessions_[session].lastRenewal = now;
}

std::vector<InodeId> LeaseTable::removeSession(std::uint64_t session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return {};
  for (InodeId ino : it->second.leases) {
    auto h = holders_.find(ino);
    if (h != holders_.end() && h->second.erase(session) && h->second.empty()) holders_.erase(h);
  }
  readLeases_ -= it->second.leases.size();
  for (InodeId ino : it->second.writes) writers_.erase(ino);
  std::vector<InodeId> opens(it->second.opens.begin(), it->second.opens.end());
  for (InodeId ino : opens) {
    auto o = openers_.find(ino);
    if (o != openers_.end() && o->second.erase(session) && o->second.empty()) openers_.erase(o);
  }
  sessions_.erase(it);
  return opens;
}

bool LeaseTable::renew(std::uint64_t session, Clock::time_point now) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return false;
  it->second.lastRenewal = now;
  return !std::exchange(it->second.revoked, false);
}

bool LeaseTable::grant(std::uint64_t session, std::span<const InodeId> inos) {
  auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.revoked) return false;
  if (it->second.leases.size() + inos.size() > kMaxLeasesPerSession) return false;
  for (InodeId ino : inos) {
    if (recalling_.count(ino) != 0) return false;
    if (auto w = writers_.find(ino); w != writers_.end() && w->second.session != session) return false;
  }
  for (InodeId ino : inos) {
    if (it->second.leases.insert(ino).second) {
      holders_[ino].insert(session);
      ++readLeases_;
    }
  }
  return true;
}

std::uint64_t LeaseTable::grantWrite(std::uint64_t session, InodeId ino, std::uint64_t asGen) {
  auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.revoked || recalling_.count(ino) != 0) return 0;
  auto [w, fresh] = writers_.try_emplace(ino, Writer{session, 0});
  if (!fresh && w->second.session != session) return 0;
  w->second.gen = asGen != 0 && asGen <= writeGens_ ? asGen : ++writeGens_;
  it->second.writes.insert(ino);
  return w->second.gen;
}

void LeaseTable::releaseWrites(std::uint64_t session, std::span<const WriteGrant> grants) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  for (const WriteGrant& g : grants) {
    auto w = writers_.find(g.ino);
    if (w == writers_.end() || w->second.session != session || w->second.gen != g.gen) continue;
    writers_.erase(w);
    it->second.writes.erase(g.ino);
  }
}

std::uint64_t LeaseTable::writer(InodeId ino) const {
  auto w = writers_.find(ino);
  return w == writers_.end() ? 0 : w->second.session;
}

std::uint64_t LeaseTable::writeGen(std::uint64_t session, InodeId ino) const {
  auto w = writers_.find(ino);
  return w == writers_.end() || w->second.session != session ? 0 : w->second.gen;
}

void LeaseTable::forget(std::uint64_t session, std::span<const InodeId> inos) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  for (InodeId ino : inos) {
    if (it->second.leases.erase(ino) == 0) continue;
    --readLeases_;
    auto h = holders_.find(ino);
    if (h != holders_.end() && h->second.erase(session) && h->second.empty()) holders_.erase(h);
  }
}

std::map<std::uint64_t, std::vector<InodeId>> LeaseTable::takeForRecall(std::span<const InodeId> inos,
                                                                         std::uint64_t except, bool writersOnly) {
  std::map<std::uint64_t, std::vector<InodeId>> out;
  for (InodeId ino : inos) {
    ++recalling_[ino];
    if (auto w = writers_.find(ino); w != writers_.end() && w->second.session != except) {
      out[w->second.session].push_back(ino);
      sessions_[w->second.session].writes.erase(ino);
      writers_.erase(w);
    }
    if (writersOnly) continue;
    auto h = holders_.find(ino);
    if (h == holders_.end()) continue;
    for (auto s = h->second.begin(); s != h->second.end();) {
      if (*s == except) {
        ++s;
        continue;
      }
      auto& list = out[*s];
      if (list.empty() || list.back() != ino) list.push_back(ino);
      sessions_[*s].leases.erase(ino);
      --readLeases_;
      s = h->second.erase(s);
    }
    if (h->second.empty()) holders_.erase(h);
  }
  return out;
}

void LeaseTable::recallDone(std::span<const InodeId> inos) {
  for (InodeId ino : inos) {
    auto it = recalling_.find(ino);
    if (it != recalling_.end() && --it->second <= 0) recalling_.erase(it);
  }
}

bool LeaseTable::contended(std::span<const InodeId> inos, std::uint64_t except, bool writersOnly) const {
  for (InodeId ino : inos) {
    if (auto w = writers_.find(ino); w != writers_.end() && w->second.session != except) return true;
    if (writersOnly) continue;
    auto h = holders_.find(ino);
    if (h == holders_.end()) continue;
    if (h->second.size() > 1 || (h->second.size() == 1 && *h->second.begin() != except)) return true;
  }
  return false;
}

LeaseTable::Clock::time_point LeaseTable::revoke(std::uint64_t session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return Clock::time_point::min();
  Session& s = it->second;
  for (InodeId ino : s.leases) {
    auto h = holders_.find(ino);
    if (h != holders_.end() && h->second.erase(session) && h->second.empty()) holders_.erase(h);
  }
  readLeases_ -= s.leases.size();
  s.leases.clear();
  for (InodeId ino : s.writes) writers_.erase(ino);
  s.writes.clear();
  s.revoked = true;
  return s.lastRenewal + lease_;
}

void LeaseTable::addOpen(std::uint64_t session, InodeId ino) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  if (it->second.opens.insert(ino).second) openers_[ino].insert(session);
}

bool LeaseTable::releaseOpen(std::uint64_t session, InodeId ino) {
  auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.opens.erase(ino) == 0) return false;
  auto o = openers_.find(ino);
  if (o != openers_.end() && o->second.erase(session) && o->second.empty()) openers_.erase(o);
  return true;
}

bool LeaseTable::heldOpen(InodeId ino, std::uint64_t except) const {
  auto o = openers_.find(ino);
  if (o == openers_.end()) return false;
  return o->second.size() > 1 || (o->second.size() == 1 && *o->second.begin() != except);
}

bool LeaseTable::othersHoldAny(std::uint64_t session, bool writersOnly) const {
  auto it = sessions_.find(session);
  const std::size_t ownReads = it == sessions_.end() ? 0 : it->second.leases.size();
  const std::size_t ownWrites = it == sessions_.end() ? 0 : it->second.writes.size();
  return !recalling_.empty() || writers_.size() > ownWrites || (!writersOnly && readLeases_ > ownReads);
}

std::size_t LeaseTable::leaseCount(std::uint64_t session) const {
  auto it = sessions_.find(session);
  return it == sessions_.end() ? 0 : it->second.leases.size();
}

}  // namespace myfs::server
