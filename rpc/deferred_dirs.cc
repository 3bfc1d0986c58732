#include "rpc/deferred_dirs.h"

#include <algorithm>

namespace myfs::rpc {

DeferredDirs::DeferredDirs(std::uint32_t shards)
    : lists_(shards), files_(shards), owed_(shards), removals_(shards) {}

namespace {

bool sameIntent(const FileIntent& a, const FileIntent& b) {
  if (a.seq != 0 || b.seq != 0) return a.seq == b.seq;
  // A number names one file made, but may be removed under several names (hard links).
  return a.attr.ino == b.attr.ino && a.remove == b.remove && (!a.remove || (a.parent == b.parent && a.name == b.name));
}

}  // namespace

std::size_t DeferredDirs::addMake(Dir dir) {
  const std::uint32_t shard = shardOfInode(dir.intent.attr.ino);
  std::lock_guard lock(mu_);
  if (shard >= lists_.size()) return 0;
  lists_[shard].make.push_back(std::move(dir));
  recount(shard);
  return lists_[shard].make.size();
}

void DeferredDirs::addConfirm(Entry entry) {
  const std::uint32_t shard = shardOfInode(entry.parent);
  std::lock_guard lock(mu_);
  if (shard >= lists_.size()) return;
  lists_[shard].confirm.push_back(std::move(entry));
  recount(shard);
}

bool DeferredDirs::owesDir(InodeId ino) const {
  const std::uint32_t shard = shardOfInode(ino);
  if (!owes(shard)) return false;
  std::lock_guard lock(mu_);
  const auto& make = lists_[shard].make;
  return std::any_of(make.begin(), make.end(), [ino](const Dir& d) { return d.intent.attr.ino == ino; });
}

DeferredDirs::Batch DeferredDirs::batch(std::uint32_t shard) const {
  std::lock_guard lock(mu_);
  return shard < lists_.size() ? lists_[shard] : Batch{};
}

void DeferredDirs::done(std::uint32_t shard, const Batch& batch, const std::vector<Outcome>& outcomes) {
  std::vector<Entry> toConfirm;
  {
    std::lock_guard lock(mu_);
    if (shard >= lists_.size()) return;
    Batch& list = lists_[shard];
    for (std::size_t i = 0; i < batch.make.size(); ++i) {
      if (i >= outcomes.size() || outcomes[i] == Outcome::kUnanswered) continue;
      const Dir& d = batch.make[i];
      auto it = std::find_if(list.make.begin(), list.make.end(),
                             [&](const Dir& x) { return x.intent.attr.ino == d.intent.attr.ino; });
      if (it == list.make.end()) continue;  // another thread's batch settled it first
      list.make.erase(it);
      if (outcomes[i] == Outcome::kMade) toConfirm.push_back(Entry{d.intent.attr.parent, d.name, d.intent.attr.ino});
    }
    for (const Entry& e : batch.confirm) {
      auto it = std::find_if(list.confirm.begin(), list.confirm.end(), [&](const Entry& x) {
        return x.ino == e.ino && x.parent == e.parent && x.name == e.name;
      });
      if (it != list.confirm.end()) list.confirm.erase(it);
    }
    recount(shard);
  }
  for (Entry& e : toConfirm) addConfirm(std::move(e));
}

std::size_t DeferredDirs::addFile(FileIntent file) {
  const std::uint32_t shard = shardOfInode(file.parent);
  std::lock_guard lock(mu_);
  if (shard >= files_.size()) return 0;
  if (file.remove) removals_[shard].fetch_add(1, std::memory_order_release);
  files_[shard].push_back(OwedFile{std::move(file), 0});
  recount(shard);
  return files_[shard].size();
}

std::vector<FileIntent> DeferredDirs::takeFiles(std::uint32_t shard, std::uint64_t conn, Which which) {
  std::vector<FileIntent> out;
  std::lock_guard lock(mu_);
  if (shard >= files_.size()) return out;
  if (which == Which::kUnsent &&
      std::any_of(files_[shard].begin(), files_[shard].end(),
                  [](const OwedFile& f) { return f.sentOn == 0 && f.intent.remove; })) {
    which = Which::kNotOnConn;
  }
  for (OwedFile& f : files_[shard]) {
    if (which == Which::kUnsent && f.sentOn != 0) continue;
    if (which == Which::kNotOnConn && conn != 0 && f.sentOn == conn) continue;
    f.sentOn = conn;
    out.push_back(f.intent);
  }
  return out;
}

std::size_t DeferredDirs::filesOwed(std::uint32_t shard) const {
  std::lock_guard lock(mu_);
  return shard < files_.size() ? files_[shard].size() : 0;
}

bool DeferredDirs::owesFilesIn(InodeId dir) const {
  const std::uint32_t shard = shardOfInode(dir);
  if (!owes(shard)) return false;
  std::lock_guard lock(mu_);
  const auto& list = files_[shard];
  return std::any_of(list.begin(), list.end(), [dir](const OwedFile& f) { return f.intent.parent == dir; });
}

void DeferredDirs::afterFork() {
  new (&mu_) std::mutex();
  for (std::uint32_t shard = 0; shard < files_.size(); ++shard) {
    files_[shard].clear();
    removals_[shard].store(0);
    recount(shard);
  }
}

bool DeferredDirs::owesRemoval(InodeId dir, std::string_view name) const {
  const std::uint32_t shard = shardOfInode(dir);
  if (shard >= removals_.size() || removals_[shard].load(std::memory_order_acquire) == 0) return false;
  std::lock_guard lock(mu_);
  const auto& list = files_[shard];
  return std::any_of(list.begin(), list.end(), [&](const OwedFile& f) {
    return f.intent.remove && f.intent.parent == dir && (name.empty() || f.intent.name == name);
  });
}

std::vector<std::pair<FileIntent, DeferredDirs::FileOutcome>> DeferredDirs::filesDone(
    std::uint32_t shard, std::span<const FileIntent> files, std::span<const FileOutcome> outcomes) {
  std::vector<std::pair<FileIntent, FileOutcome>> out;
  std::lock_guard lock(mu_);
  if (shard >= files_.size()) return out;
  auto& list = files_[shard];
  for (std::size_t i = 0; i < files.size() && i < outcomes.size(); ++i) {
    auto it = std::find_if(list.begin(), list.end(), [&](const OwedFile& f) { return sameIntent(f.intent, files[i]); });
    if (it == list.end()) continue;  // another batch was answered for it first
    if (it->intent.remove) removals_[shard].fetch_sub(1, std::memory_order_release);
    out.emplace_back(std::move(it->intent), outcomes[i]);
    list.erase(it);
  }
  recount(shard);
  return out;
}

void DeferredDirs::filesUnsent(std::uint32_t shard, std::uint64_t conn) {
  std::lock_guard lock(mu_);
  if (shard >= files_.size()) return;
  for (OwedFile& f : files_[shard]) {
    if (f.sentOn == conn) f.sentOn = 0;
  }
}

bool DeferredDirs::owesFile(InodeId ino) const {
  const std::uint32_t shard = shardOfInode(ino);
  if (!owes(shard)) return false;
  std::lock_guard lock(mu_);
  const auto& list = files_[shard];
  return std::any_of(list.begin(), list.end(), [ino](const OwedFile& f) { return f.intent.attr.ino == ino; });
}

std::vector<std::uint32_t> DeferredDirs::shardsOwed() const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < owed_.size(); ++i) {
    if (owes(i)) out.push_back(i);
  }
  return out;
}

void DeferredDirs::recount(std::uint32_t shard) {
  const Batch& b = lists_[shard];
  owed_[shard].store(static_cast<std::uint32_t>(b.make.size() + b.confirm.size() + files_[shard].size()),
                     std::memory_order_release);
}

}  // namespace myfs::rpc
