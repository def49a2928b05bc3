#pragma once

#include <deque>
#include <thread>
#include <utility>

#include "storage/base/mutex.h"
#include "storage/event_log.h"

namespace siteledger::projections::internal {

// Writes snapshots of tenants' states on a thread of its own, one at a time
// in the order they were scheduled. A failed snapshot costs only speed:
// reads fold from an older one. Safe for concurrent use.
class Snapshotter {
 public:
  // `log` must outlive the snapshotter. Starts its thread.
  explicit Snapshotter(storage::EventLog& log);
  // Writes what is queued, then stops the thread.
  ~Snapshotter();
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  // Queues a snapshot of the tenant's state at `seq`; returns at once. Any
  // thread, including the log's commit thread.
  void Schedule(TenantId tenant, Sequence seq) EXCLUDES(mu_);
  // Waits until every snapshot scheduled so far is written (or failed).
  // Must not be called from the log's commit thread while appends that
  // schedule snapshots are in flight.
  void WaitForIdle() EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);

  storage::EventLog& log_;
  Mutex mu_;
  CondVar cv_;
  std::deque<std::pair<TenantId, Sequence>> queue_ GUARDED_BY(mu_);
  bool busy_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace siteledger::projections::internal
