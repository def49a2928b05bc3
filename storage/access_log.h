#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "storage/base/clock.h"
#include "storage/base/ids.h"
#include "storage/base/mutex.h"
#include "storage/base/status.h"

namespace siteledger::storage::internal {
class Database;
}

namespace siteledger::storage {

class KeyStore;

// One request, as the access log keeps it. The client IP is the only
// personal data siteledger keeps outside account ids, and only here, for 14
// days. `route` is a template ("/api/v1/sites/{id}"), never the raw path or
// query, which may carry a token or an id.
struct AccessEntry {
  Timestamp time{};
  TenantId tenant;  // 0 when the request named no tenant
  std::string client_ip;
  std::string method;
  std::string route;
  int status = 0;
  uint32_t latency_us = 0;
  // The request's X-Request-Id (the client's, or made by the server); empty
  // in entries written before it was recorded.
  std::string request_id;
};

// What AccessLog::Read returns: the entries, oldest first, and where the
// next page starts.
struct AccessLogPage {
  std::vector<AccessEntry> entries;
  // An opaque position (bytes) to pass as AccessLogQuery::after for the
  // next page; empty on the last page.
  std::string next;
};

struct AccessLogQuery {
  Timestamp since{};               // from this time on (inclusive)
  std::optional<Timestamp> until;  // before this time (exclusive)
  std::string after;  // a page's `next`: only entries after it; "" for all
  size_t limit = 100;
};

// What AccessLog::Retire did (or, from PlanRetire, would do).
struct AccessLogRetirement {
  Timestamp cutoff{};  // entries older than this went
  // The days whose keys were destroyed (every day that ends at or before
  // the cutoff and had a key), oldest first.
  std::vector<Day> days;
  uint64_t entries = 0;  // entries deleted
};

// AccessLog writes entries to the `access_log` family, keyed by day, time
// and a counter, each sealed under its day's key from the key store (so
// destroying a day's key makes that day unreadable in every copy of the
// files, backups included). Entries are buffered and written every 100 ms
// (or when 4,096 are waiting): an access log is not acknowledged data, and
// the request path must not wait for it. Safe for concurrent use.
class AccessLog {
 public:
  // How long entries, and their days' keys, are kept.
  static constexpr std::chrono::hours kRetention{24 * 14};

  // `database`, `keys` and `clock` must outlive the log.
  AccessLog(internal::Database& database, KeyStore& keys, const Clock& clock);
  // Stops the flushing thread and writes what is buffered (a failure loses
  // only those lines).
  ~AccessLog();

  // Buffers `entry`; never blocks on the database and never fails. Any
  // thread, the request path included.
  void Record(AccessEntry entry);
  // Writes what is buffered now (not synced), creating the day's key first
  // if it has none. IOError if RocksDB fails, Internal if the random
  // generator does: the lines are lost. Any thread; waits while Retire
  // runs.
  Status Flush();

  // Entries of `query`'s window, oldest first, at most `query.limit`; only
  // what was flushed. An entry whose day's key was destroyed is left out (it
  // is being retired). Corruption for an entry that does not decode or does
  // not open under its day's key; InvalidArgument for an `after` that is no
  // page's `next`; IOError. Any thread.
  Result<AccessLogPage> Read(const AccessLogQuery& query) const;

  // Retires what is older than kRetention before `now`: flushes the buffer,
  // destroys the key of every day that ends at or before the cutoff
  // (KeyStore::DestroyAccessLogKeysBefore: the key's bytes leave the key
  // store's files), deletes every entry older than the cutoff and compacts
  // that range, then (if it deleted any) flushes the database and waits (up
  // to 10 s) for RocksDB to delete the files that held them. Returns what
  // went. Writes wait
  // meanwhile (Record does not). Idempotent: a second call finds nothing
  // more. IOError, QuotaExceeded (the disk reserve), Unavailable while
  // RocksDB shuts down; after an error, call again. Any thread; slow (it
  // compacts), so never on a request path.
  Result<AccessLogRetirement> Retire(Timestamp now);
  // What Retire(now) would do, doing nothing. IOError. Any thread.
  Result<AccessLogRetirement> PlanRetire(Timestamp now) const;

 private:
  void FlushLoop();
  // Writes what is buffered.
  Status FlushLocked() REQUIRES(write_mu_) EXCLUDES(mu_);
  Status Write(std::vector<AccessEntry>& entries) REQUIRES(write_mu_)
      EXCLUDES(mu_);

  internal::Database& db_;
  KeyStore& keys_;
  const Clock& clock_;
  Mutex write_mu_;  // one writer at a time, and no write while retiring
  Mutex mu_;        // after write_mu_
  CondVar cv_;
  std::vector<AccessEntry> buffer_ GUARDED_BY(mu_);
  uint64_t counter_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread flusher_;
};

}  // namespace siteledger::storage
