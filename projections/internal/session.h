#pragma once

// The in-flight state of each tenant the projector decides commands for.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "projections/views.h"
#include "storage/base/ids.h"
#include "storage/base/mutex.h"
#include "storage/family.h"

namespace siteledger::projections::internal {

// One tenant's head including appends not yet durable, and the rows those
// appends write, so that the next command is decided against them. Every
// field is guarded by `mu`, which a command holds from its decision until
// its append is queued.
struct Session {
  Mutex mu;
  bool loaded GUARDED_BY(mu) = false;
  bool poisoned GUARDED_BY(mu) = false;  // an in-flight append failed
  Sequence head GUARDED_BY(mu);          // including in-flight appends
  Timestamp head_time GUARDED_BY(mu){};
  uint64_t in_flight GUARDED_BY(mu) = 0;
  struct Pending {
    std::optional<std::string> value;  // nullopt: deleted
    uint64_t seq;                      // the append that wrote it
  };
  std::map<std::pair<storage::Family, std::string>, Pending> overlay
      GUARDED_BY(mu);
  std::set<std::string> idempotency_keys GUARDED_BY(mu);  // in flight
  // Decoded views as of the session's head (in-flight appends included),
  // so that a busy tenant's commands do not read and parse the same rows
  // again and again; nullptr: the row is known to be absent. Only this
  // session writes the tenant's views (anything else calls Forget).
  std::map<ViewKey, std::shared_ptr<const ViewDoc>> docs GUARDED_BY(mu);
  // account id -> pseudonym, for the same reason.
  std::unordered_map<std::string, std::string> pseudonyms GUARDED_BY(mu);
  static constexpr size_t kMaxCached = 4096;

  // Drops the overlay and the caches.
  void Reset() REQUIRES(mu);
};

// The sessions by tenant. Safe for concurrent use.
class SessionTable {
 public:
  // At most `max_sessions` are kept; idle ones are evicted to make room.
  explicit SessionTable(size_t max_sessions) : max_sessions_(max_sessions) {}

  // The tenant's session, created empty (not loaded) when absent. A session
  // evicted or erased while held stays valid for its holders.
  std::shared_ptr<Session> For(TenantId tenant) EXCLUDES(mu_);
  // Drops the tenant's session; the next For starts a new one.
  void Erase(TenantId tenant) EXCLUDES(mu_);

 private:
  const size_t max_sessions_;
  Mutex mu_;
  std::unordered_map<TenantId, std::shared_ptr<Session>> sessions_
      GUARDED_BY(mu_);
};

}  // namespace siteledger::projections::internal
