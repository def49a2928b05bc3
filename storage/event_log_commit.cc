#include <linux/futex.h>
#include <pthread.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bit>
#include <climits>

#include "storage/event_log.h"
#include "storage/internal/database.h"
#include "storage/internal/event_log_group.h"
#include "storage/internal/event_log_rows.h"
#include "storage/internal/keys.h"

// The commit pipeline: one thread takes appends of every tenant from a queue,
// stages them (event_log_stage.cc) and writes each group as one synced batch.

namespace siteledger::storage {
namespace {

using internal::TenantRow;
using internal::TenantRowKey;

// Blocking appends sleep on a futex directly. std::atomic::wait spins and
// calls sched_yield first, which on a small machine with many waiting
// writers steals the CPU from the very thread they wait for.
void FutexWait(std::atomic<uint32_t>& word, uint32_t expected) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE,
            expected, nullptr, nullptr, 0);
}

void FutexWakeAll(std::atomic<uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE,
            INT32_MAX, nullptr, nullptr, 0);
}

size_t RequestBytes(const AppendRequest& request) {
  size_t n = 64;
  for (const NewEvent& e : request.events) {
    n += 128 + e.type.size() + e.actor.size() + e.payload.size();
  }
  for (const Event& e : request.imported) {
    n += 128 + e.type.size() + e.actor.size() + e.payload.size();
  }
  for (const ExtraWrite& w : request.extra_writes) {
    n += 64 + w.key.size() + w.value.size();
  }
  n += 128 * request.account_index.size();
  return n;
}

}  // namespace

EventLog::EventLog(internal::Database& database, KeyStore& keys,
                   const Clock& clock, Options options)
    : db_(database), keys_(keys), clock_(clock), options_(options) {
  committer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sl-commit");
    CommitLoop();
  });
}

EventLog::~EventLog() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  committer_.join();
}

Result<AppendResult> EventLog::Append(TenantId tenant,
                                      std::optional<Sequence> expected_version,
                                      std::vector<NewEvent> events,
                                      std::vector<ExtraWrite> extra_writes) {
  AppendRequest request;
  request.tenant = tenant;
  request.expected_version = expected_version;
  request.events = std::move(events);
  request.extra_writes = std::move(extra_writes);
  return Append(std::move(request));
}

Result<AppendResult> EventLog::Append(AppendRequest request) {
  // A blocking append waits on the log's completion epoch rather than a
  // condition variable of its own: the committer wakes a whole group of
  // waiters with one futex call instead of one call each.
  std::optional<Result<AppendResult>> result;
  std::atomic<bool> ready{false};
  auto pending = std::make_unique<Pending>();
  pending->request = std::move(request);
  pending->sync_result = &result;
  pending->sync_ready = &ready;
  Enqueue(std::move(pending));
  for (;;) {
    const uint32_t epoch = completion_epoch_.load(std::memory_order_acquire);
    if (ready.load(std::memory_order_acquire)) break;
    FutexWait(completion_epoch_, epoch);
  }
  return std::move(*result);
}

void EventLog::AppendAsync(AppendRequest request, AppendCallback done) {
  auto pending = std::make_unique<Pending>();
  pending->request = std::move(request);
  pending->done = std::move(done);
  Enqueue(std::move(pending));
}

void EventLog::Enqueue(std::unique_ptr<Pending> pending) {
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(pending));
      ++outstanding_;
      stat_queue_depth_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (pending) {
    Complete(*pending,
             Err(Status::Unavailable("the event log is shutting down")));
    NotifyCompletions();
    return;
  }
  // The committer stages each request as it arrives, so wake it every time
  // (a signal with no waiter costs no system call).
  cv_.Signal();
}

void EventLog::WaitForAppends() {
  MutexLock lock(mu_);
  while (outstanding_ > 0) idle_.Wait(mu_);
}

void EventLog::Complete(Pending& pending, Result<AppendResult> result) {
  if (pending.sync_ready != nullptr) {
    *pending.sync_result = std::move(result);
    // After this store the waiter may return: touch nothing of it again.
    pending.sync_ready->store(true, std::memory_order_release);
  } else {
    pending.done(std::move(result));
  }
}

void EventLog::NotifyCompletions() {
  completion_epoch_.fetch_add(1, std::memory_order_release);
  FutexWakeAll(completion_epoch_);
}

void EventLog::CommitLoop() {
  std::vector<std::unique_ptr<Pending>> group;
  std::vector<std::unique_ptr<Pending>> arrived;
  std::chrono::nanoseconds write_time{0};  // moving average of a synced write
  size_t target = 1;  // requests expected in the next group
  for (;;) {
    GroupState state;
    size_t bytes = 0;
    {
      mu_.Lock();
      while (!stopping_ && queue_.empty()) cv_.Wait(mu_);
      if (queue_.empty()) {  // stopping, nothing left
        mu_.Unlock();
        return;
      }
      state.now = clock_.Now();
      // Writers released by the last group come back within microseconds.
      // Waiting a little for them (never more than half a synced write)
      // turns alternating half-size groups into one full group: with N
      // blocking writers, about twice the appends per fsync. Requests are
      // staged as they arrive, so the wait also hides the staging work.
      const auto deadline = std::chrono::steady_clock::now() +
                            std::min<std::chrono::nanoseconds>(
                                options_.max_group_wait, write_time / 2);
      for (;;) {
        while (!queue_.empty() &&
               group.size() + arrived.size() < options_.max_group_requests &&
               bytes < options_.max_group_bytes) {
          bytes += RequestBytes(queue_.front()->request);
          arrived.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        mu_.Unlock();
        for (auto& pending : arrived) {
          Stage(*pending, state);
          group.push_back(std::move(pending));
        }
        arrived.clear();
        mu_.Lock();
        if (stopping_ || group.size() >= target ||
            group.size() >= options_.max_group_requests ||
            bytes >= options_.max_group_bytes) {
          break;
        }
        while (!stopping_ && queue_.empty() && cv_.WaitUntil(mu_, deadline)) {
        }
        if (!stopping_ && queue_.empty()) {
          break;  // the rest did not come back in time
        }
      }
      mu_.Unlock();
    }
    const auto start = std::chrono::steady_clock::now();
    WriteGroup(group, state);
    write_time =
        (write_time * 7 + (std::chrono::steady_clock::now() - start)) / 8;
    {
      // Expect the writers about to be answered back, plus those that
      // arrived while this group was written. Counted before answering, so
      // that a quick writer's next request is not counted twice.
      MutexLock lock(mu_);
      target =
          std::min(group.size() + queue_.size(), options_.max_group_requests);
    }
    for (auto& pending : group) Complete(*pending, std::move(*pending->result));
    NotifyCompletions();
    {
      MutexLock lock(mu_);
      outstanding_ -= group.size();
      stat_queue_depth_.fetch_sub(group.size(), std::memory_order_relaxed);
    }
    idle_.SignalAll();
    group.clear();
  }
}

void EventLog::WriteGroup(std::vector<std::unique_ptr<Pending>>& group,
                          GroupState& state) {
  Status sealed;
  for (auto& [family_key, row] : state.rows) {
    const auto& [family, row_key] = family_key;
    rocksdb::ColumnFamilyHandle* cf = db_.cf(family);
    if (row.deleted) {
      state.batch.Delete(cf, row_key).PermitUncheckedError();
    } else if (IsEncryptedFamily(family)) {
      const auto& key = state.keys.at(internal::TenantOfKey(row_key));
      std::string value;
      sealed =
          key->SealAppend(row.value, internal::RowAad(family, row_key), value);
      if (!sealed.ok()) break;
      state.batch.Put(cf, row_key, value).PermitUncheckedError();
    } else {
      state.batch.Put(cf, row_key, row.value).PermitUncheckedError();
    }
  }
  // One head row per tenant per group, however many appends it had.
  for (const auto& [tenant, head] : state.heads) {
    state.batch
        .Put(db_.cf(Family::kTenants), TenantRowKey(tenant, TenantRow::kHead),
             internal::EncodeHead(head))
        .PermitUncheckedError();
  }
  Status written = sealed;
  if (written.ok() && state.batch.Count() > 0) {
    const auto start = std::chrono::steady_clock::now();
    written = db_.WriteSynced(state.batch);
    const std::chrono::nanoseconds took =
        std::chrono::steady_clock::now() - start;
    const double seconds = std::chrono::duration<double>(took).count();
    size_t bucket = 0;
    while (bucket < Stats::kSyncBucketsSeconds.size() &&
           seconds > Stats::kSyncBucketsSeconds[bucket]) {
      ++bucket;
    }
    stat_sync_histogram_[bucket].fetch_add(1, std::memory_order_relaxed);
    stat_sync_nanos_.fetch_add(static_cast<uint64_t>(took.count()),
                               std::memory_order_relaxed);
  }
  uint64_t events = 0;
  if (written.ok()) {
    for (auto& [tenant, head] : state.heads) heads_[tenant] = head;
    for (auto& pending : group) events += pending->events_written;
  } else {
    // Nothing of the batch is durable. Forget cached heads: the next group
    // reloads them from what is on disk.
    heads_.clear();
    for (auto& pending : group) {
      if (pending->needs_batch) pending->result = Err(written);
    }
  }
  stat_groups_.fetch_add(1, std::memory_order_relaxed);
  stat_requests_.fetch_add(group.size(), std::memory_order_relaxed);
  stat_events_.fetch_add(events, std::memory_order_relaxed);
  const size_t bucket = std::min<size_t>(std::bit_width(group.size()) - 1, 11);
  stat_histogram_[bucket].fetch_add(1, std::memory_order_relaxed);
}

EventLog::Stats EventLog::stats() const {
  Stats s;
  s.groups = stat_groups_.load(std::memory_order_relaxed);
  s.requests = stat_requests_.load(std::memory_order_relaxed);
  s.events = stat_events_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < s.group_size_histogram.size(); ++i) {
    s.group_size_histogram[i] =
        stat_histogram_[i].load(std::memory_order_relaxed);
  }
  for (size_t i = 0; i < s.sync_histogram.size(); ++i) {
    s.sync_histogram[i] =
        stat_sync_histogram_[i].load(std::memory_order_relaxed);
  }
  s.sync_seconds_sum =
      static_cast<double>(stat_sync_nanos_.load(std::memory_order_relaxed)) /
      1e9;
  s.queue_depth = stat_queue_depth_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace siteledger::storage
