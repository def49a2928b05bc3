#pragma once

// The in-flight state of each tenant the projector decides commands for.

#include <atomic>
#include <cstddef>
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

// The bytes every session of a table may keep in its caches (decoded
// views, pseudonyms), shared: a session takes bytes as it caches and gives
// them back as it drops them, so the caches of all sessions together never
// hold more than the limit. Safe for concurrent use.
class CacheBudget {
 public:
  explicit CacheBudget(size_t limit) : limit_(limit) {}
  // Takes `bytes` if they fit under the limit; false (taking nothing) if
  // not.
  bool TryTake(size_t bytes) {
    size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (bytes > limit_ || used > limit_ - bytes) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes,
                                          std::memory_order_relaxed));
    return true;
  }
  void Give(size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  size_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
};

// One tenant's head including appends not yet durable, and the rows those
// appends write, so that the next command is decided against them. Every
// field is guarded by `mu`, which a command holds from its decision until
// its append is queued.
struct Session {
  // The budget is shared: a session may outlive its table (an append's
  // callback holds it until the commit thread lets go of the callback).
  explicit Session(std::shared_ptr<CacheBudget> cache_budget)
      : budget(std::move(cache_budget)) {}
  // Gives the caches' bytes back (no one else holds the session by then).
  ~Session() { budget->Give(cached_bytes_unlocked()); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

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
  // Read through FindDoc, written through CacheDoc.
  std::map<ViewKey, std::shared_ptr<const ViewDoc>> docs GUARDED_BY(mu);
  // account id -> pseudonym, for the same reason.
  std::unordered_map<std::string, std::string> pseudonyms GUARDED_BY(mu);
  static constexpr size_t kMaxCached = 4096;
  // What the caches hold, as counted against `budget`.
  size_t cached_bytes GUARDED_BY(mu) = 0;
  const std::shared_ptr<CacheBudget> budget;

  // What a cached view is counted as: a decoded document takes a few times
  // its canonical text.
  static size_t DocBytes(size_t text_bytes) { return 128 + 4 * text_bytes; }

  // Caches `doc` (nullptr: known absent) under `key`, whose canonical text
  // has `text_bytes`, if the budget allows; when it does not, the session
  // drops its caches and tries once more. Never fails: a view not cached is
  // read again next time.
  void CacheDoc(const ViewKey& key, std::shared_ptr<const ViewDoc> doc,
                size_t text_bytes) REQUIRES(mu);
  void CachePseudonym(const std::string& account_id,
                      const std::string& pseudonym) REQUIRES(mu);
  // Drops the account's cached pseudonym, if any (it was erased).
  void ForgetPseudonym(const std::string& account_id) REQUIRES(mu);
  // Drops the caches (not the overlay), giving their bytes back.
  void DropCaches() REQUIRES(mu);
  // Drops the overlay and the caches.
  void Reset() REQUIRES(mu);

 private:
  // Takes `bytes` from the budget, dropping this session's caches first if
  // they do not fit. False when they still do not.
  bool Take(size_t bytes) REQUIRES(mu);
  size_t cached_bytes_unlocked() NO_THREAD_SAFETY_ANALYSIS {
    return cached_bytes;
  }
  // A cached doc's bytes, by key, so a replaced doc gives its own back.
  std::map<ViewKey, size_t> doc_bytes_ GUARDED_BY(mu);
};

// The sessions by tenant. Safe for concurrent use.
class SessionTable {
 public:
  // At most `max_sessions` are kept; idle ones are evicted to make room.
  // Their caches hold at most `cache_bytes` in all.
  SessionTable(size_t max_sessions, size_t cache_bytes)
      : max_sessions_(max_sessions),
        budget_(std::make_shared<CacheBudget>(cache_bytes)) {}

  // The tenant's session, created empty (not loaded) when absent. A session
  // evicted or erased while held stays valid for its holders.
  std::shared_ptr<Session> For(TenantId tenant) EXCLUDES(mu_);
  // Drops the tenant's session; the next For starts a new one.
  void Erase(TenantId tenant) EXCLUDES(mu_);

 private:
  const size_t max_sessions_;
  const std::shared_ptr<CacheBudget> budget_;
  Mutex mu_;
  std::unordered_map<TenantId, std::shared_ptr<Session>> sessions_
      GUARDED_BY(mu_);
};

}  // namespace siteledger::projections::internal
