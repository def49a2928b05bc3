#include "projections/internal/session.h"

namespace siteledger::projections::internal {

void Session::Reset() {
  overlay.clear();
  docs.clear();
  pseudonyms.clear();
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
  auto session = std::make_shared<Session>();
  sessions_.emplace(tenant, session);
  return session;
}

void SessionTable::Erase(TenantId tenant) {
  MutexLock lock(mu_);
  sessions_.erase(tenant);
}

}  // namespace siteledger::projections::internal
