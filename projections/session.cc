#include "projections/internal/session.h"

namespace siteledger::projections::internal {

void Session::Reset() {
  overlay.clear();
  docs.clear();
  pseudonyms.clear();
}

std::shared_ptr<Session> SessionTable::For(TenantId tenant) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(tenant);
  if (it != sessions_.end()) return it->second;
  if (sessions_.size() >= max_sessions_) {
    // Evict idle sessions; one still in use stays (its shared_ptr keeps
    // it alive for its holder either way).
    for (auto s = sessions_.begin(); s != sessions_.end();) {
      std::unique_lock session_lock(s->second->mu, std::try_to_lock);
      if (session_lock && s->second->in_flight == 0) {
        session_lock.unlock();
        s = sessions_.erase(s);
      } else {
        ++s;
      }
    }
  }
  auto session = std::make_shared<Session>();
  sessions_.emplace(tenant, session);
  return session;
}

void SessionTable::Erase(TenantId tenant) {
  std::lock_guard lock(mu_);
  sessions_.erase(tenant);
}

}  // namespace siteledger::projections::internal
