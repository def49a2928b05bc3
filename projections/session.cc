#include "projections/internal/session.h"

namespace siteledger::projections::internal {

void Session::DropCaches() {
  docs.clear();
  doc_bytes_.clear();
  pseudonyms.clear();
  budget->Give(cached_bytes);
  cached_bytes = 0;
}

void Session::Reset() {
  overlay.clear();
  DropCaches();
}

bool Session::Take(size_t bytes) {
  if (budget->TryTake(bytes)) return true;
  DropCaches();
  return budget->TryTake(bytes);
}

void Session::CacheDoc(const ViewKey& key, std::shared_ptr<const ViewDoc> doc,
                       size_t text_bytes) {
  if (auto old = doc_bytes_.find(key); old != doc_bytes_.end()) {
    budget->Give(old->second);
    cached_bytes -= old->second;
    doc_bytes_.erase(old);
    docs.erase(key);
  }
  if (docs.size() >= kMaxCached) DropCaches();
  const size_t bytes = DocBytes(text_bytes) + key.id.size();
  if (!Take(bytes)) return;
  cached_bytes += bytes;
  doc_bytes_.emplace(key, bytes);
  docs.insert_or_assign(key, std::move(doc));
}

void Session::CachePseudonym(const std::string& account_id,
                             const std::string& pseudonym) {
  if (pseudonyms.contains(account_id)) return;
  if (pseudonyms.size() >= kMaxCached) DropCaches();
  const size_t bytes = 96 + account_id.size() + pseudonym.size();
  if (!Take(bytes)) return;
  cached_bytes += bytes;
  pseudonyms.emplace(account_id, pseudonym);
}

void Session::ForgetPseudonym(const std::string& account_id) {
  auto it = pseudonyms.find(account_id);
  if (it == pseudonyms.end()) return;
  const size_t bytes = 96 + account_id.size() + it->second.size();
  budget->Give(bytes);
  cached_bytes -= bytes;
  pseudonyms.erase(it);
}

std::shared_ptr<Session> SessionTable::For(TenantId tenant) {
  MutexLock lock(mu_);
  auto it = sessions_.find(tenant);
  if (it != sessions_.end()) return it->second;
  if (sessions_.size() >= max_sessions_) {
    // Evict idle sessions; one still in use stays (its shared_ptr keeps
    // it alive for its holder either way).
    for (auto s = sessions_.begin(); s != sessions_.end();) {
      Session& session = *s->second;
      bool idle = false;
      if (session.mu.TryLock()) {
        idle = session.in_flight == 0;
        session.mu.Unlock();
      }
      s = idle ? sessions_.erase(s) : std::next(s);
    }
  }
  auto session = std::make_shared<Session>(budget_);
  sessions_.emplace(tenant, session);
  return session;
}

void SessionTable::Erase(TenantId tenant) {
  MutexLock lock(mu_);
  sessions_.erase(tenant);
}

}  // namespace siteledger::projections::internal
