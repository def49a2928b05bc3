#pragma once

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
};

// AccessLog writes entries to the `access_log` family, keyed by day, time
// and a counter. Entries are buffered and written every 100 ms (or when
// 4,096 are waiting): an access log is not acknowledged data, and the
// request path must not wait for it. Safe for concurrent use.
class AccessLog {
 public:
  // `database` and `clock` must outlive the log.
  AccessLog(internal::Database& database, const Clock& clock);
  // Stops the flushing thread and writes what is buffered (a failure loses
  // only those lines).
  ~AccessLog();

  // Buffers `entry`; never blocks on the database and never fails. Any
  // thread, the request path included.
  void Record(AccessEntry entry);
  // Writes what is buffered now (not synced). IOError if RocksDB fails: the
  // lines are lost. Any thread.
  Status Flush();

  // Entries from `since` on, oldest first, at most `limit`; only what was
  // flushed. Corruption for an entry that does not decode; IOError. Any
  // thread.
  Result<std::vector<AccessEntry>> Read(Timestamp since, size_t limit) const;

  // Deletes every entry older than `cutoff` and compacts the range so the
  // bytes leave the files. IOError if RocksDB fails. Any thread; slow (it
  // compacts), so not on a request path.
  Status DeleteBefore(Timestamp cutoff);

 private:
  void FlushLoop();
  Status WriteLocked(std::vector<AccessEntry>& entries) EXCLUDES(write_mu_);

  internal::Database& db_;
  const Clock& clock_;
  Mutex mu_;
  CondVar cv_;
  std::vector<AccessEntry> buffer_ GUARDED_BY(mu_);
  uint64_t counter_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  Mutex write_mu_;  // one writer at a time
  std::thread flusher_;
};

}  // namespace siteledger::storage
