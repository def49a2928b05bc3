#pragma once

#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

#include "storage/base/mutex.h"
#include "storage/event_log.h"

namespace siteledger::projections::internal {

// Reads a range of a tenant's events in batches. For ranges of
// kReadAheadFrom events or more a thread reads (and decrypts) ahead while
// the caller folds: on two cores a rebuild then takes about as long as the
// read alone, and an as-of read's fold from its snapshot about half as long.
// One caller thread at a time.
class BatchReader {
 public:
  static constexpr size_t kBatch = 4096;
  // Shorter ranges (an as-of read folds up to a snapshot interval) are
  // read ahead in smaller batches, so the fold starts early.
  static constexpr size_t kMinBatch = 128;
  static constexpr uint64_t kReadAheadFrom = 2 * kMinBatch;
  static constexpr size_t kQueued = 4;

  // Events [from, until]. `log` must outlive the reader. Reads in the
  // caller's turn when no thread can be started.
  BatchReader(const storage::EventLog& log, TenantId tenant, Sequence from,
              Sequence until);
  // Stops and joins the reading thread.
  ~BatchReader();
  BatchReader(const BatchReader&) = delete;
  BatchReader& operator=(const BatchReader&) = delete;

  // The next batch; empty at the end of the range. Returns the log's error
  // for a batch that could not be read (see EventLog::Read).
  Result<std::vector<storage::Event>> Next() EXCLUDES(mu_);

  // Hands a folded batch back to the reading thread, which frees it: the
  // events were allocated there, and freeing them there keeps the folding
  // thread off the reader's malloc arena.
  void Recycle(std::vector<storage::Event> batch) EXCLUDES(mu_);

 private:
  // Events in [from, until].
  static uint64_t Span(Sequence from, Sequence until) {
    return until >= from ? until.value() - from.value() + 1 : 0;
  }

  Result<std::vector<storage::Event>> ReadBatch();
  void ReadAhead() EXCLUDES(mu_);

  const storage::EventLog& log_;
  const TenantId tenant_;
  Sequence next_;  // owned by the reading thread
  const Sequence until_;
  size_t batch_;  // set before the reading thread starts
  Mutex mu_;
  CondVar cv_;
  std::deque<Result<std::vector<storage::Event>>> queue_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::deque<std::vector<storage::Event>> spent_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace siteledger::projections::internal
