#include "projections/internal/batch_reader.h"

#include <pthread.h>

#include <algorithm>
#include <system_error>

namespace siteledger::projections::internal {

BatchReader::BatchReader(const storage::EventLog& log, TenantId tenant,
                         Sequence from, Sequence until)
    : log_(log), tenant_(tenant), next_(from), until_(until), batch_(kBatch) {
  if (Span(from, until) < kReadAheadFrom) return;
  batch_ = std::clamp<uint64_t>(Span(from, until) / 4, kMinBatch, kBatch);
  try {
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "sl-readahead");
      ReadAhead();
    });
  } catch (const std::system_error&) {
    batch_ = kBatch;  // no thread to spare: read in the caller's turn
  }
}

BatchReader::~BatchReader() {
  if (thread_.joinable()) {
    {
      MutexLock lock(mu_);
      stop_ = true;
    }
    cv_.SignalAll();
    thread_.join();
  }
}

Result<std::vector<storage::Event>> BatchReader::Next() {
  if (!thread_.joinable()) return ReadBatch();
  MutexLock lock(mu_);
  while (queue_.empty()) cv_.Wait(mu_);
  auto batch = std::move(queue_.front());
  queue_.pop_front();
  cv_.SignalAll();
  return batch;
}

void BatchReader::Recycle(std::vector<storage::Event> batch) {
  if (!thread_.joinable()) return;
  MutexLock lock(mu_);
  spent_.push_back(std::move(batch));
}

Result<std::vector<storage::Event>> BatchReader::ReadBatch() {
  if (next_ > until_) return std::vector<storage::Event>();
  const uint64_t want = until_.value() - next_.value() + 1;
  auto events = log_.Read(
      tenant_, next_, static_cast<size_t>(std::min<uint64_t>(want, batch_)));
  if (!events) return events;
  if (events->empty()) {
    next_ = until_.next();
  } else {
    next_ = events->back().seq.next();
  }
  return events;
}

void BatchReader::ReadAhead() {
  for (;;) {
    std::deque<std::vector<storage::Event>> spent;
    {
      MutexLock lock(mu_);
      spent.swap(spent_);
    }
    spent.clear();
    auto batch = ReadBatch();
    const bool last = !batch || batch->empty();
    MutexLock lock(mu_);
    while (!stop_ && queue_.size() >= kQueued) cv_.Wait(mu_);
    if (stop_) return;
    queue_.push_back(std::move(batch));
    cv_.SignalAll();
    if (last) return;
  }
}

}  // namespace siteledger::projections::internal
