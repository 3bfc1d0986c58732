#include "server/meta/meta_service.h"

#include <sys/stat.h>

#include <algorithm>
#include <string_view>

#include <capnp/schema.h>
#include <kj/debug.h>

#include "core/placement.h"
#include "rpc/convert.h"
#include "server/log.h"

namespace myfs::server {
namespace {

using rpc::fromWire;
using rpc::toWire;

// Result size hints (words): an AttrResult and its Attr, plus a few scalars.
constexpr capnp::MessageSize kAttrResultSize{24, 0};
constexpr capnp::MessageSize kSmallResultSize{8, 0};

std::string_view text(capnp::Text::Reader t) { return std::string_view(t.cStr(), t.size()); }

std::string_view bytes(capnp::Data::Reader d) {
  return std::string_view(reinterpret_cast<const char*>(d.begin()), d.size());
}

}  // namespace

MetaShardState::MetaShardState(MetaStore& st, SessionTable& se, std::chrono::milliseconds lease, kj::Timer* t)
    : store(st),
      sessions(se),
      locks(lease),
      leases(lease),
      timer(t),
      recallTimeout(std::max(std::chrono::milliseconds(50), lease / 4)),
      shardIndex(st.mountInfo().shardIndex) {}

MetaServiceImpl::MetaServiceImpl(MetaStore& store, SessionTable& sessions, std::chrono::milliseconds lease,
                                 kj::Timer* timer)
    : state_(std::make_shared<MetaShardState>(store, sessions, lease, timer)), session_(0), owner_(false) {
  MetaShardState* st = state_.get();
  store.setHeldOpen([st](InodeId ino) { return st->leases.heldOpen(ino, st->requester); });
}

MetaServiceImpl::MetaServiceImpl(std::shared_ptr<MetaShardState> state, std::uint64_t session, bool owner)
    : state_(std::move(state)), session_(session), owner_(owner) {
  if (!owner_ && session_ != 0) ++state_->attached[session_];
}

MetaServiceImpl::~MetaServiceImpl() noexcept(false) {
  if (owner_) {
    closeSession(*state_, session_);
  } else if (session_ != 0) {
    state_->detached(session_);
  } else if (session_ == 0 && state_.use_count() == 1) {
    state_->store.setHeldOpen(nullptr);
  }
}

void MetaShardState::endDelegations(std::uint64_t session, const std::vector<InodeId>* inos) {
  if (delegations.empty()) return;
  if (inos != nullptr) {
    for (InodeId ino : *inos) {
      auto it = delegations.find(ino);
      if (it != delegations.end() && it->second.session == session) delegations.erase(it);
    }
    return;
  }
  std::erase_if(delegations, [session](const auto& d) { return d.second.session == session; });
}

void MetaShardState::drainDelegations(std::uint64_t session) {
  if (attached.count(session) == 0) {
    endDelegations(session);
    return;
  }
  for (auto& [dir, d] : delegations) {
    if (d.session == session) d.draining = true;
  }
}

void MetaShardState::detached(std::uint64_t session) {
  auto it = attached.find(session);
  if (it == attached.end() || --it->second > 0) return;
  attached.erase(it);
  if (sessions.find(session) == nullptr) store.forgetReservations(session);  // the session ended before
  std::erase_if(delegations, [session](const auto& d) { return d.second.session == session && d.second.draining; });
  auto w = drainWaiters.find(session);
  if (w == drainWaiters.end()) return;
  auto waiters = kj::mv(w->second);
  drainWaiters.erase(w);
  for (auto& f : waiters) f->fulfill();
}

bool MetaShardState::recallInFlight(InodeId ino, std::uint64_t except) const {
  auto it = recalls.find(ino);
  if (it == recalls.end()) return false;
  for (const InFlight& f : it->second) {
    if (!(f.targets.size() == 1 && f.targets.front() == except)) return true;
  }
  return false;
}

bool MetaShardState::drainingDelegation(InodeId dir, std::uint64_t except) const {
  if (delegations.empty()) return false;
  auto it = delegations.find(dir);
  return it != delegations.end() && it->second.draining && it->second.session != except;
}

kj::Promise<void> MetaShardState::waitDrained(InodeId dir) {
  auto it = delegations.find(dir);
  if (it == delegations.end() || !it->second.draining) return kj::READY_NOW;
  const std::uint64_t session = it->second.session;
  auto paf = kj::newPromiseAndFulfiller<void>();
  drainWaiters[session].push_back(kj::mv(paf.fulfiller));
  kj::Promise<void> drained = kj::mv(paf.promise);
  if (timer != nullptr) {
    drained = drained.exclusiveJoin(timer->afterDelay(recallTimeout.count() * kj::MILLISECONDS).then([this, session] {
      endDelegations(session);  // its connections linger: what did not arrive by now is lost
    }));
  }
  return drained;
}

void closeSession(MetaShardState& st, std::uint64_t session) {
  st.drainDelegations(session);
  std::vector<InodeId> opens = st.leases.removeSession(session);
  st.sessions.close(session);
  // Files it sent on its other connections still name numbers reserved for it.
  if (st.attached.count(session) == 0) st.store.forgetReservations(session);
  for (InodeId ino : opens) {
    if (st.leases.heldOpen(ino)) continue;
    Result<LinkCountResult> r = st.store.releaseOrphan(ino);
    if (r && r->freed && r->size > 0) {
      logLine("session %#llx ended holding removed inode %#llx open: its data stays on the data servers",
              static_cast<unsigned long long>(session), static_cast<unsigned long long>(ino));
    }
  }
}

bool MetaServiceImpl::isLocal(InodeId ino) const { return ino != 0 && shardOfInode(ino) == state_->shardIndex; }

void MetaServiceImpl::leaseReply(Result<Attr>& r, InodeId also) {
  if (!r || session_ == 0) return;
  InodeId inos[2];
  std::size_t n = 0;
  if (isLocal(r->ino)) inos[n++] = r->ino;
  if (isLocal(also) && also != r->ino) inos[n++] = also;
  r->leased = n > 0 && state_->leases.grant(session_, std::span<const InodeId>(inos, n));
}

namespace {

// One session's answer to a recall: the inodes it holds open keep a reference. A
// session that is gone ends; one that does not answer within the recall timeout is
// revoked and waited out.
kj::Promise<void> recallSession(std::shared_ptr<MetaShardState> st, std::uint64_t session,
                                std::vector<InodeId> inos, bool writesOnly = false) {
  SessionTable::Session* s = st->sessions.find(session);
  if (s == nullptr) return kj::READY_NOW;
  auto req = s->callback.invalidateRequest(capnp::MessageSize{4 + inos.size(), 0});
  auto list = req.initInos(static_cast<unsigned>(inos.size()));
  for (unsigned i = 0; i < inos.size(); ++i) list.set(i, inos[i]);
  req.setWritesOnly(writesOnly);
  auto revokeAndWait = [st, session]() -> kj::Promise<void> {
    if (!st->leases.hasSession(session)) return kj::READY_NOW;
    st->endDelegations(session);
    auto deadline = st->leases.revoke(session);
    logLine("session %#llx did not answer a lease recall: revoked", static_cast<unsigned long long>(session));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - LeaseTable::Clock::now());
    if (left.count() <= 0 || st->timer == nullptr) return kj::READY_NOW;
    return st->timer->afterDelay(left.count() * kj::MILLISECONDS);
  };
  kj::Promise<void> answered = req.send().then(
      [st, session, inos](capnp::Response<schema::ClientCallback::InvalidateResults>&& r) -> kj::Promise<void> {
        for (InodeId ino : r.getOpen()) st->leases.addOpen(session, ino);
        st->endDelegations(session, &inos);  // what it made under them is answered for
        return kj::READY_NOW;
      },
      [st, session, revokeAndWait](kj::Exception&& e) -> kj::Promise<void> {
        if (e.getType() == kj::Exception::Type::DISCONNECTED) {
          closeSession(*st, session);
          return kj::READY_NOW;
        }
        return revokeAndWait();
      });
  if (st->timer == nullptr) return answered;
  return answered.exclusiveJoin(
      st->timer->afterDelay(st->recallTimeout.count() * kj::MILLISECONDS).then(kj::mv(revokeAndWait)));
}

}  // namespace

kj::Promise<void> MetaServiceImpl::recall(std::vector<InodeId> inos, bool writersOnly) {
  MetaShardState& st = *state_;
  kj::Vector<kj::Promise<void>> waits;
  for (InodeId ino : inos) {
    if (st.drainingDelegation(ino, session_)) waits.add(st.waitDrained(ino));
    auto it = st.recalls.find(ino);
    if (it == st.recalls.end()) continue;
    for (MetaShardState::InFlight& f : it->second) {
      // A recall of this session's own leases waits for this session (its write-back):
      // waiting for it here could only deadlock.
      if (f.targets.size() == 1 && f.targets.front() == session_) continue;
      waits.add(f.done.addBranch());
    }
  }
  if (waits.empty() && !st.leases.contended(inos, session_, writersOnly)) return kj::READY_NOW;
  auto holders = st.leases.takeForRecall(inos, session_, writersOnly);
  if (holders.empty()) {
    st.leases.recallDone(inos);
  } else {
    kj::Vector<kj::Promise<void>> calls;
    std::vector<std::uint64_t> targets;
    for (auto& [session, list] : holders) {
      targets.push_back(session);
      calls.add(recallSession(state_, session, std::move(list), writersOnly));
    }
    const std::uint64_t batch = st.nextBatch++;
    auto done = kj::joinPromises(calls.releaseAsArray())
                    .then([state = state_, inos, batch]() {
                      state->leases.recallDone(inos);
                      for (InodeId ino : inos) {
                        auto it = state->recalls.find(ino);
                        if (it == state->recalls.end()) continue;
                        std::erase_if(it->second, [batch](const MetaShardState::InFlight& f) { return f.batch == batch; });
                        if (it->second.empty()) state->recalls.erase(it);
                      }
                    })
                    .fork();
    for (InodeId ino : inos) {
      st.recalls[ino].push_back(MetaShardState::InFlight{batch, done.addBranch().fork(), targets});
    }
    waits.add(done.addBranch());
  }
  // Another session may have been granted a lease meanwhile (before the recall began):
  // look again once these recalls are over.
  return kj::joinPromises(waits.releaseAsArray()).then([this, inos = std::move(inos), writersOnly]() mutable {
    return recall(std::move(inos), writersOnly);
  });
}

template <typename Commit>
kj::Promise<void> MetaServiceImpl::recallThenCommit(std::vector<InodeId> inos, Commit commit) {
  return recall(std::move(inos)).then([this, commit = kj::mv(commit)]() mutable {
    state_->requester = session_;
    KJ_DEFER(state_->requester = 0);
    commit();
  });
}

kj::Promise<void> MetaServiceImpl::openSession(OpenSessionContext context) {
  auto p = context.getParams();
  MetaShardState& st = *state_;
  std::uint64_t id = st.sessions.open(p.getCallback(), std::string(text(p.getClientName())));
  st.leases.addSession(id, LeaseTable::Clock::now());
  auto out = context.getResults(kSmallResultSize);
  out.setSessionId(id);
  out.setLeaseMs(static_cast<std::uint32_t>(st.leases.lease().count()));
  out.setService(kj::heap<MetaServiceImpl>(state_, id, true));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::attach(AttachContext context) {
  context.getResults(kSmallResultSize)
      .setService(kj::heap<MetaServiceImpl>(state_, context.getParams().getSessionId(), false));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::renewSession(RenewSessionContext context) {
  auto p = context.getParams();
  MetaShardState& st = *state_;
  const std::uint64_t id = p.getSessionId();
  const bool valid = st.leases.renew(id, LeaseTable::Clock::now());
  std::vector<InodeId> forget;
  for (InodeId ino : p.getForget()) forget.push_back(ino);
  st.leases.forget(id, forget);
  std::vector<LeaseTable::WriteGrant> released;
  for (auto g : p.getReleaseWrites()) released.push_back({g.getIno(), g.getGen()});
  st.leases.releaseWrites(id, released);
  for (const LeaseTable::WriteGrant& g : released) {  // a delegation given back: all it made is answered for
    auto d = st.delegations.find(g.ino);
    if (d != st.delegations.end() && d->second.session == id && d->second.gen == g.gen) st.delegations.erase(d);
  }
  auto out = context.getResults(kSmallResultSize);
  out.setLeaseMs(static_cast<std::uint32_t>(st.leases.lease().count()));
  out.setValid(valid);
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::writeLease(WriteLeaseContext context) {
  const InodeId ino = context.getParams().getIno();
  if (session_ == 0) {
    context.getResults(kSmallResultSize).setGranted(false);
    return kj::READY_NOW;
  }
  return recallThenCommit({ino}, [this, context, ino]() mutable {
    const std::uint64_t gen = state_->leases.grantWrite(session_, ino);
    auto out = context.getResults(kSmallResultSize);
    out.setGranted(gen != 0);
    out.setGen(gen);
  });
}

kj::Promise<void> MetaServiceImpl::releaseOpen(ReleaseOpenContext context) {
  const InodeId ino = context.getParams().getIno();
  MetaShardState& st = *state_;
  auto out = context.getResults(kSmallResultSize);
  st.leases.releaseOpen(session_, ino);
  if (st.leases.heldOpen(ino)) return kj::READY_NOW;
  Result<LinkCountResult> r = st.store.releaseOrphan(ino);
  out.setErr(r.err());
  if (r) {
    out.setFreed(r->freed);
    out.setSize(r->size);
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::mountInfo(MountInfoContext context) {
  toWire(state_->store.mountInfo(), context.getResults(kSmallResultSize));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::lookup(LookupContext context) {
  auto p = context.getParams();
  if (state_->drainingDelegation(p.getParent(), session_)) {
    return state_->waitDrained(p.getParent()).then([this, context]() mutable { return lookup(context); });
  }
  if (state_->recallInFlight(p.getParent(), session_)) {  // a delegation's holder is still answering
    return recall({p.getParent()}, true).then([this, context]() mutable { return lookup(context); });
  }
  if (!state_->leases.othersHoldAny(session_, true)) return answerLookup(context);
  std::vector<InodeId> writers;
  const InodeId parent[1] = {p.getParent()};
  if (state_->leases.contended(parent, session_, true)) writers.push_back(p.getParent());  // delegated
  if (auto child = state_->store.entryIno(p.getParent(), text(p.getName()))) {
    const InodeId inos[1] = {*child};
    if (state_->leases.contended(inos, session_, true)) writers.push_back(*child);
  }
  if (writers.empty()) return answerLookup(context);
  // The holder writes back (a delegation: sends the files it made) before it answers;
  // the name may lead elsewhere then: looked up afresh.
  return recall(std::move(writers), true).then([this, context]() mutable { return lookup(context); });
}

kj::Promise<void> MetaServiceImpl::answerLookup(LookupContext context) {
  auto p = context.getParams();
  const InodeId parent = p.getParent();
  std::optional<DirIntent> intent;
  Result<Attr> r = state_->store.lookup(fromWire(p.getCred()), parent, text(p.getName()), &intent);
  auto results = context.getResults(capnp::MessageSize{intent ? 48u : 24u, 0});
  if (r && intent) {
    results.setHasIntent(true);
    toWire(*intent, results.initIntent());
  }
  auto out = results.initResult();
  if (r) {
    if (r->nlink == 0) {
      // The child lives on another shard: only the name is leased, with its parent.
      InodeId inos[1] = {parent};
      r->leased = session_ != 0 && isLocal(parent) && state_->leases.grant(session_, inos);
    } else {
      leaseReply(r, parent);
    }
  }
  toWire(r, out);
  if (!r && r.err() == ENOENT && session_ != 0 && isLocal(parent)) {
    InodeId inos[1] = {parent};
    out.setLeased(state_->leases.grant(session_, inos));  // a negative entry
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::getattr(GetattrContext context) {
  const InodeId ino = context.getParams().getIno();
  auto answer = [this, context, ino]() mutable {
    Result<Attr> r = state_->store.getattr(ino);
    leaseReply(r);
    toWire(r, context.getResults(kAttrResultSize).initResult());
  };
  const InodeId inos[1] = {ino};
  if (!state_->leases.contended(inos, session_, true) && !state_->recallInFlight(ino, session_) &&
      !state_->drainingDelegation(ino, session_)) {
    answer();
    return kj::READY_NOW;
  }
  return recall({ino}, true).then(kj::mv(answer));  // the writer writes back first
}

kj::Promise<void> MetaServiceImpl::setattr(SetattrContext context) {
  auto p = context.getParams();
  return recallThenCommit({p.getIno()}, [this, context, p]() mutable {
    Result<Attr> r = state_->store.setattr(fromWire(p.getCred()), p.getIno(), fromWire(p.getReq()));
    leaseReply(r);
    toWire(r, context.getResults(kAttrResultSize).initResult());
  });
}

kj::Promise<void> MetaServiceImpl::create(CreateContext context) {
  auto p = context.getParams();
  return recallThenCommit({p.getParent()}, [this, context, p]() mutable {
    Result<CreateResult> r = state_->store.create(fromWire(p.getCred()), p.getParent(), text(p.getName()),
                                                  p.getMode(), p.getExclusive(), p.getRdev());
    if (r) {
      Result<Attr> a = r->attr;
      if (a->nlink != 0) leaseReply(a);
      r->attr = *a;
      // Nobody else can know a file just made: its writer may keep its size for a while.
      if (r->created && session_ != 0) r->writeLease = state_->leases.grantWrite(session_, r->attr.ino);
    }
    toWire(r, context.getResults(kAttrResultSize));
  });
}

kj::Promise<void> MetaServiceImpl::mkdir(MkdirContext context) {
  auto p = context.getParams();
  return recallThenCommit({p.getParent()}, [this, context, p]() mutable {
    Result<Attr> r = state_->store.mkdir(fromWire(p.getCred()), p.getParent(), text(p.getName()), p.getMode());
    leaseReply(r);
    toWire(r, context.getResults(kAttrResultSize).initResult());
  });
}

kj::Promise<void> MetaServiceImpl::symlink(SymlinkContext context) {
  auto p = context.getParams();
  return recallThenCommit({p.getParent()}, [this, context, p]() mutable {
    Result<Attr> r =
        state_->store.symlink(fromWire(p.getCred()), p.getParent(), text(p.getName()), text(p.getTarget()));
    leaseReply(r);
    toWire(r, context.getResults(kAttrResultSize).initResult());
  });
}

kj::Promise<void> MetaServiceImpl::readlink(ReadlinkContext context) {
  Result<std::string> r = state_->store.readlink(context.getParams().getIno());
  auto out = context.getResults(capnp::MessageSize{4 + (r ? r->size() / 8 + 1 : 0), 0});
  out.setErr(r.err());
  if (r) out.setTarget(capnp::Text::Reader(r->data(), r->size()));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::readdir(ReaddirContext context) {
  auto p = context.getParams();
  if (state_->drainingDelegation(p.getIno(), session_)) {
    return state_->waitDrained(p.getIno()).then([this, context]() mutable { return readdir(context); });
  }
  const InodeId dir[1] = {p.getIno()};
  if (state_->leases.contended(dir, session_, true) || state_->recallInFlight(p.getIno(), session_)) {
    // delegated: the holder sends what it made first
    return recall({p.getIno()}, true).then([this, context]() mutable { return readdir(context); });
  }
  Result<DirPage> r =
      state_->store.readdir(fromWire(p.getCred()), p.getIno(), bytes(p.getCookie()), p.getMaxEntries());
  capnp::MessageSize size = kSmallResultSize;
  if (r) {
    size.wordCount = 8 + r->nextCookie.size() / 8;
    for (const DirEntry& e : r->entries) size.wordCount += 4 + e.name.size() / 8 + 1;
  }
  toWire(r, context.getResults(size));
  return kj::READY_NOW;
}

bool MetaServiceImpl::delegatedElsewhere(InodeId dir) const {
  const InodeId inos[1] = {dir};
  return state_->leases.contended(inos, session_, true) || state_->recallInFlight(dir, session_) ||
         state_->drainingDelegation(dir, session_);
}

kj::Promise<void> MetaServiceImpl::unlink(UnlinkContext context) {
  auto p = context.getParams();
  if (delegatedElsewhere(p.getParent())) {  // its files first: the victim may be one of them
    return recall({p.getParent()}, true).then([this, context]() mutable { return unlink(context); });
  }
  std::vector<InodeId> inos{p.getParent()};
  // The inode the name leads to is recalled too, when anyone else may have it cached.
  if (state_->leases.othersHoldAny(session_)) {
    if (auto victim = state_->store.entryIno(p.getParent(), text(p.getName()))) inos.push_back(*victim);
  }
  return recallThenCommit(std::move(inos), [this, context, p]() mutable {
    Result<UnlinkResult> r =
        state_->store.unlink(fromWire(p.getCred()), p.getParent(), text(p.getName()), p.getIsDir());
    toWire(r, context.getResults(kSmallResultSize));
  });
}

kj::Promise<void> MetaServiceImpl::rename(RenameContext context) {
  auto p = context.getParams();
  if (delegatedElsewhere(p.getSrcParent()) || delegatedElsewhere(p.getDstParent())) {
    return recall({p.getSrcParent(), p.getDstParent()}, true).then([this, context]() mutable {
      return rename(context);
    });
  }
  std::vector<InodeId> inos{p.getSrcParent(), p.getDstParent()};
  if (state_->leases.othersHoldAny(session_)) {
    if (auto moved = state_->store.entryIno(p.getSrcParent(), text(p.getSrcName()))) inos.push_back(*moved);
    if (auto replaced = state_->store.entryIno(p.getDstParent(), text(p.getDstName()))) inos.push_back(*replaced);
  }
  return recallThenCommit(std::move(inos), [this, context, p]() mutable {
    Result<RenameResult> r = state_->store.rename(fromWire(p.getCred()), p.getSrcParent(), text(p.getSrcName()),
                                                  p.getDstParent(), text(p.getDstName()), p.getFlags());
    toWire(r, context.getResults(kSmallResultSize));
  });
}

kj::Promise<void> MetaServiceImpl::callCounts(CallCountsContext context) {
  const auto methods = capnp::Schema::from<schema::MetaService>().getMethods();
  std::vector<std::pair<std::string_view, std::uint64_t>> served;
  for (std::size_t i = 0; i < state_->calls.size() && i < methods.size(); ++i) {
    if (state_->calls[i] != 0) served.emplace_back(methods[i].getProto().getName().cStr(), state_->calls[i]);
  }
  auto out = context.getResults(capnp::MessageSize{4 + served.size() * 8, 0}).initCounts(served.size());
  for (unsigned i = 0; i < served.size(); ++i) {
    out[i].setMethod(capnp::Text::Reader(served[i].first.data(), served[i].first.size()));
    out[i].setCalls(served[i].second);
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::statfs(StatfsContext context) {
  toWire(state_->store.statfs(), context.getResults(kSmallResultSize).initStats());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::makeInode(MakeInodeContext context) {
  auto p = context.getParams();
  Result<Attr> r =
      state_->store.makeInode(fromWire(p.getCred()), p.getParentHint(), p.getMode(), text(p.getTarget()));
  toWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::reserveInodes(ReserveInodesContext context) {
  Result<InodeRange> r = state_->store.reserveInodes(session_, context.getParams().getCount());
  auto out = context.getResults(kSmallResultSize);
  out.setErr(r ? 0 : r.err());
  if (r) {
    out.setFirst(r->first);
    out.setCount(r->count);
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::makeReservedDir(MakeReservedDirContext context) {
  auto p = context.getParams();
  Result<Attr> r = state_->store.makeReservedDir(fromWire(p.getCred()), session_, p.getIno(), p.getParent(), p.getMode());
  leaseReply(r);
  toWire(r, context.getResults(kAttrResultSize).initResult());
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::mkdirRemote(MkdirRemoteContext context) {
  auto p = context.getParams();
  return recallThenCommit({p.getParent()}, [this, context, p]() mutable {
    Result<Attr> r = state_->store.mkdirRemote(fromWire(p.getCred()), p.getParent(), text(p.getName()), p.getIno(),
                                               p.getMode(), p.getLeaseTo());
    toWire(r, context.getResults(kAttrResultSize).initResult());
  });
}

kj::Promise<void> MetaServiceImpl::makeDirs(MakeDirsContext context) {
  auto dirs = context.getParams().getDirs();
  std::vector<DirIntent> intents;
  intents.reserve(dirs.size());
  for (auto d : dirs) intents.push_back(fromWire(d));
  std::vector<Result<MetaStore::MadeDir>> made = state_->store.makeDirs(intents);
  auto out = context.getResults(capnp::MessageSize{4 + dirs.size() * 20, 0}).initResults(dirs.size());
  for (unsigned i = 0; i < made.size(); ++i) {
    Result<Attr> r = made[i] ? Result<Attr>(made[i]->attr) : Result<Attr>(made[i].error());
    leaseReply(r);
    const std::uint64_t leaseTo = intents[i].leaseTo;
    if (r && made[i]->made && leaseTo != 0 && leaseTo != session_ && state_->sessions.find(leaseTo) != nullptr) {
      // The creator cached it from mkdirRemote: leased, or told to drop it.
      const InodeId inos[1] = {r->ino};
      if (!state_->leases.grant(leaseTo, inos)) {
        recallSession(state_, leaseTo, {r->ino}).detach([](kj::Exception&&) {});
      }
    }
    toWire(r, out[i]);
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::confirmDirs(ConfirmDirsContext context) {
  auto dirs = context.getParams().getDirs();
  std::vector<MetaStore::DirEntryRef> entries;
  entries.reserve(dirs.size());
  for (auto d : dirs) entries.push_back({d.getParent(), text(d.getName()), d.getIno()});
  if (Result<void> r = state_->store.confirmDirs(entries); !r) {
    logLine("confirming %u directories failed: %s", dirs.size(), errnoName(r.err()));
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::addEntry(AddEntryContext context) {
  auto p = context.getParams();
  if (delegatedElsewhere(p.getParent())) {
    return recall({p.getParent()}, true).then([this, context]() mutable { return addEntry(context); });
  }
  std::vector<InodeId> inos{p.getParent()};
  if (state_->leases.othersHoldAny(session_)) {
    if (auto replaced = state_->store.entryIno(p.getParent(), text(p.getName()))) inos.push_back(*replaced);
  }
  return recallThenCommit(std::move(inos), [this, context, p]() mutable {
    Result<AddEntryResult> r = state_->store.addEntry(fromWire(p.getCred()), p.getParent(), text(p.getName()),
                                                      p.getIno(), p.getMode(), p.getReplace());
    toWire(r, context.getResults(kSmallResultSize));
  });
}

kj::Promise<void> MetaServiceImpl::removeEntry(RemoveEntryContext context) {
  auto p = context.getParams();
  return recallThenCommit({p.getParent(), p.getExpectIno()}, [this, context, p]() mutable {
    Result<void> r =
        state_->store.removeEntry(fromWire(p.getCred()), p.getParent(), text(p.getName()), p.getExpectIno());
    context.getResults(kSmallResultSize).setErr(r.err());
  });
}

kj::Promise<void> MetaServiceImpl::linkCount(LinkCountContext context) {
  auto p = context.getParams();
  return recallThenCommit({p.getIno()}, [this, context, p]() mutable {
    Result<LinkCountResult> r = state_->store.linkCount(p.getIno(), p.getDelta(), p.getNewParent());
    toWire(r, context.getResults(kSmallResultSize));
  });
}

kj::Promise<void> MetaServiceImpl::prepareRmdir(PrepareRmdirContext context) {
  auto p = context.getParams();
  return recallThenCommit({p.getIno()}, [this, context, p]() mutable {
    Result<void> r = state_->store.prepareRmdir(fromWire(p.getCred()), p.getIno(), p.getUndo());
    context.getResults(kSmallResultSize).setErr(r.err());
  });
}

kj::Promise<void> MetaServiceImpl::lock(LockContext context) {
  auto p = context.getParams();
  const FileLock req = fromWire(p.getLock());
  auto out = context.getResults(kSmallResultSize);
  const auto now = LockTable::Clock::now();
  LockTable& locks = state_->locks;
  if (p.getTest()) {
    std::optional<FileLock> c = locks.test(p.getIno(), req, now);
    out.setHasConflict(c.has_value());
    if (c) toWire(*c, out.initConflict());
  } else {
    out.setErr(locks.set(p.getIno(), req, now).err());
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::renewLocks(RenewLocksContext context) {
  LockTable& locks = state_->locks;
  locks.renew(context.getParams().getClient(), LockTable::Clock::now());
  context.getResults(kSmallResultSize).setLeaseMs(static_cast<std::uint32_t>(locks.lease().count()));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::getxattr(GetxattrContext context) {
  auto p = context.getParams();
  Result<std::string> r = state_->store.getxattr(fromWire(p.getCred()), p.getIno(), text(p.getName()));
  auto out = context.getResults(capnp::MessageSize{4 + (r ? r->size() / 8 + 1 : 0), 0});
  out.setErr(r.err());
  if (r) out.setValue(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(r->data()), r->size()));
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::setxattr(SetxattrContext context) {
  auto p = context.getParams();
  return recallThenCommit({p.getIno()}, [this, context, p]() mutable {
    Result<Attr> r = state_->store.setxattr(fromWire(p.getCred()), p.getIno(), text(p.getName()),
                                            bytes(p.getValue()), p.getFlags());
    leaseReply(r);
    toWire(r, context.getResults(kAttrResultSize).initResult());
  });
}

kj::Promise<void> MetaServiceImpl::listxattr(ListxattrContext context) {
  auto p = context.getParams();
  Result<std::vector<std::string>> r = state_->store.listxattr(fromWire(p.getCred()), p.getIno());
  capnp::MessageSize size = kSmallResultSize;
  if (r) {
    for (const std::string& n : *r) size.wordCount += 2 + n.size() / 8 + 1;
  }
  auto out = context.getResults(size);
  out.setErr(r.err());
  if (r) {
    auto names = out.initNames(static_cast<unsigned>(r->size()));
    for (unsigned i = 0; i < r->size(); ++i) names.set(i, capnp::Text::Reader((*r)[i].data(), (*r)[i].size()));
  }
  return kj::READY_NOW;
}

kj::Promise<void> MetaServiceImpl::removexattr(RemovexattrContext context) {
  auto p = context.getParams();
  return recallThenCommit({p.getIno()}, [this, context, p]() mutable {
    Result<Attr> r = state_->store.removexattr(fromWire(p.getCred()), p.getIno(), text(p.getName()));
    leaseReply(r);
    toWire(r, context.getResults(kAttrResultSize).initResult());
  });
}

kj::Promise<void> MetaServiceImpl::delegateDir(DelegateDirContext context) {
  auto p = context.getParams();
  const InodeId dir = p.getDir();
  if (session_ == 0 || !isLocal(dir)) {
    context.getResults(kSmallResultSize).setErr(EINVAL);
    return kj::READY_NOW;
  }
  return recallThenCommit({dir}, [this, context, p, dir]() mutable {
    const Cred cred = fromWire(p.getCred());
    const std::uint32_t maxEntries = std::min<std::uint32_t>(p.getMaxEntries(), kMaxDelegatedEntries);
    // Checked and listed first, numbers reserved only once granted.
    Result<DirDelegation> r = state_->store.delegation(cred, session_, dir, maxEntries, 0, p.getOrUnlisted());
    if (r) {
      r->gen = state_->leases.grantWrite(session_, dir);
      if (r->gen == 0) r = Errno(EAGAIN);
    }
    if (r && p.getReserve() > 0) {
      Result<InodeRange> numbers = state_->store.reserveInodes(session_, p.getReserve());
      if (numbers) {
        r->numbers = *numbers;
      } else {
        r = numbers.error();
      }
    }
    if (r) {
      r->removals = true;
      state_->delegations[dir] = MetaShardState::Delegation{session_, r->gen};
    } else {
      LeaseTable::WriteGrant undo{dir, 0};
      if (std::uint64_t gen = state_->leases.writeGen(session_, dir); gen != 0) {
        undo.gen = gen;
        state_->leases.releaseWrites(session_, std::span<const LeaseTable::WriteGrant>(&undo, 1));
      }
    }
    capnp::MessageSize size = kAttrResultSize;
    if (r) {
      for (const DirEntry& e : r->entries) size.wordCount += 4 + e.name.size() / 8 + 1;
    }
    toWire(r, context.getResults(size));
  });
}

kj::Promise<void> MetaServiceImpl::makeFiles(MakeFilesContext context) {
  auto list = context.getParams().getFiles();
  const auto n = list.size();
  auto out = context.getResults(capnp::MessageSize{8 + 3 * n, 0});
  auto errs = out.initErrs(n);
  out.initRemoved(n);
  if (n > kMaxFilesPerCall) {
    for (unsigned i = 0; i < n; ++i) errs.set(i, E2BIG);
    return kj::READY_NOW;
  }
  bool waits = false;
  kj::Promise<void> run = applyIntents(context, 0, &waits);
  // Waiting (a removal's recall): the calls after it on this connection wait for it
  // (dispatchCall), unless it runs in such a wait already.
  if (!waits || filesTail_ != nullptr) return run;
  return holdUpConnection(kj::mv(run));
}

capnp::Capability::Server::DispatchCallResult MetaServiceImpl::dispatchCall(
    std::uint64_t interfaceId, std::uint16_t methodId, capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) {
  if (interfaceId == capnp::typeId<schema::MetaService>()) {
    if (state_->calls.size() <= methodId) state_->calls.resize(methodId + 1u);
    ++state_->calls[methodId];
  }
  KJ_IF_MAYBE(tail, filesTail_) {
    kj::Promise<void> after = tail->addBranch().catch_([](kj::Exception&&) {}).then(
        [this, interfaceId, methodId, context]() mutable {
          return schema::MetaService::Server::dispatchCall(interfaceId, methodId, context).promise;
        });
    return {holdUpConnection(kj::mv(after)), false};
  }
  return schema::MetaService::Server::dispatchCall(interfaceId, methodId, context);
}

kj::Promise<void> MetaServiceImpl::holdUpConnection(kj::Promise<void> call) {
  const std::uint64_t id = ++filesTailId_;
  kj::ForkedPromise<void> forked = call.fork();
  kj::Promise<void> mine = forked.addBranch();
  filesTail_ = kj::mv(forked);
  return mine.then(
      [this, id]() {
        if (filesTailId_ == id) filesTail_ = nullptr;
      },
      [this, id](kj::Exception&& e) {
        if (filesTailId_ == id) filesTail_ = nullptr;
        kj::throwFatalException(kj::mv(e));
      });
}

MetaShardState::Delegation* MetaServiceImpl::heldDelegation(const FileIntent& f) const {
  auto d = state_->delegations.find(f.parent);
  if (session_ == 0 || f.gen == 0 || d == state_->delegations.end() || d->second.session != session_ ||
      d->second.gen != f.gen) {
    return nullptr;
  }
  return &d->second;
}

bool MetaServiceImpl::othersMayHold(InodeId ino) const {
  const InodeId inos[1] = {ino};
  if (state_->recallInFlight(ino, session_)) return true;
  return state_->leases.othersHoldAny(session_) && state_->leases.contended(inos, session_, false);
}

kj::Promise<void> MetaServiceImpl::applyIntents(MakeFilesContext context, unsigned from, bool* waits) {
  auto list = context.getParams().getFiles();
  auto out = context.getResults();
  auto errs = out.getErrs();
  // A directory of another shard: its entry with an intent, as mkdirRemote makes it.
  auto remoteDir = [this](schema::FileIntent::Reader f) {
    return !f.getRemove() && S_ISDIR(f.getAttr().getMode()) && !isLocal(f.getAttr().getIno());
  };
  for (unsigned i = from; i < list.size();) {
    if (remoteDir(list[i])) {
      FileIntent f = fromWire(list[i]);
      MetaShardState::Delegation* d = heldDelegation(f);
      if (d == nullptr) {
        errs.set(i, ESTALE);
      } else if (d->made.count(f.attr.ino) == 0) {  // else sent again
        state_->requester = session_;
        // As the client stamped it (its own cache and the directory's shard have those
        // times), unless its clock runs ahead of ours.
        const std::int64_t stamp = std::min(f.attr.ctimeNs, nowNs() + kClockSkewNs);
        Result<Attr> r =
            state_->store.mkdirRemote(f.cred, f.parent, f.name, f.attr.ino, f.attr.mode, f.leaseTo, stamp);
        state_->requester = 0;
        errs.set(i, r.err());
        if (r && d->mayRemember()) d->made.insert(f.attr.ino);
      }
      ++i;
      continue;
    }
    if (!list[i].getRemove()) {
      unsigned end = i;
      while (end < list.size() && !list[end].getRemove() && !remoteDir(list[end])) ++end;
      makeRun(context, i, end);
      i = end;
      continue;
    }
    FileIntent f = fromWire(list[i]);
    MetaShardState::Delegation* d = heldDelegation(f);
    if (d == nullptr) {
      errs.set(i, ESTALE);  // the delegation is gone: the server may have let others in
      ++i;
      continue;
    }
    auto removedOut = out.getRemoved()[i];
    if (auto done = d->removed.find(f.seq); f.seq != 0 && done != d->removed.end()) {  // sent again
      removedOut.setRemoved(true);
      removedOut.setLastLink(done->second.lastLink);
      removedOut.setSize(done->second.size);
      ++i;
      continue;
    }
    const std::optional<InodeId> victim = state_->store.entryIno(f.parent, f.name);
    if (!victim || *victim != f.attr.ino) {  // removed already (sent twice), or renamed over since
      ++i;
      continue;
    }
    if (!isLocal(*victim)) {
      errs.set(i, EINVAL);
      ++i;
      continue;
    }
    if (othersMayHold(*victim)) {
      // Others' leases on the file go first; then this intent is looked at afresh.
      if (waits != nullptr) *waits = true;
      return recall({*victim}).then([this, context, i]() mutable { return applyIntents(context, i, nullptr); });
    }
    state_->requester = session_;
    Result<UnlinkResult> r = state_->store.unlink(f.cred, f.parent, f.name, false);
    state_->requester = 0;
    errs.set(i, r.err());
    if (r) {
      removedOut.setRemoved(true);
      removedOut.setLastLink(r->lastLink);
      removedOut.setSize(r->size);
      if (f.seq != 0 && d->mayRemember()) d->removed[f.seq] = {r->lastLink, r->size};
    }
    ++i;
  }
  return kj::READY_NOW;
}

void MetaServiceImpl::makeRun(MakeFilesContext context, unsigned begin, unsigned end) {
  auto list = context.getParams().getFiles();
  auto errs = context.getResults().getErrs();
  const std::int64_t now = nowNs();
  std::vector<FileIntent> files;
  std::vector<unsigned> index;  // files[k] is list[index[k]]
  for (unsigned i = begin; i < end; ++i) {
    FileIntent f = fromWire(list[i]);
    // The client's clock stamps its files; one running ahead of ours is not believed.
    for (std::int64_t* t : {&f.attr.atimeNs, &f.attr.mtimeNs, &f.attr.ctimeNs}) *t = std::min(*t, now + kClockSkewNs);
    MetaShardState::Delegation* d = heldDelegation(f);
    if (d == nullptr) {
      errs.set(i, ESTALE);
      continue;
    }
    if (d->made.count(f.attr.ino) != 0) continue;  // sent again (and perhaps removed since)
    files.push_back(std::move(f));
    index.push_back(i);
  }
  state_->requester = session_;
  KJ_DEFER(state_->requester = 0);
  std::vector<Result<MetaStore::MadeFile>> made = state_->store.makeFiles(session_, files);
  for (std::size_t k = 0; k < made.size(); ++k) {
    errs.set(index[k], made[k].err());
    if (!made[k]) continue;
    if (made[k]->made && made[k]->attr.isDir()) {
      const InodeId inos[1] = {made[k]->attr.ino};
      (void)state_->leases.grant(session_, inos);  // the maker caches it, and its names
    } else if (made[k]->made) {
      (void)state_->leases.grantWrite(session_, made[k]->attr.ino, files[k].gen);
    }
    if (MetaShardState::Delegation* d = heldDelegation(files[k]); d != nullptr && d->mayRemember()) {
      d->made.insert(files[k].attr.ino);
    }
  }
}

}  // namespace myfs::server
