#include "projections/internal/snapshotter.h"

#include "projections/internal/tenant_states.h"

namespace siteledger::projections::internal {

Snapshotter::Snapshotter(storage::EventLog& log) : log_(log) {
  thread_ = std::thread([this] { Loop(); });
}

Snapshotter::~Snapshotter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Snapshotter::Schedule(TenantId tenant, Sequence seq) {
  {
    std::lock_guard lock(mu_);
    queue_.emplace_back(tenant, seq);
  }
  cv_.notify_all();
}

void Snapshotter::WaitForIdle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void Snapshotter::Loop() {
  for (;;) {
    std::pair<TenantId, Sequence> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = queue_.front();
      busy_ = true;
    }
    auto state = StateAt(log_, job.first, job.second, true);
    if (state) {
      // A failed snapshot costs only speed: reads fold from an older one.
      log_.PutSnapshot(job.first, job.second, state->Serialize()).IgnoreError();
    }
    {
      std::lock_guard lock(mu_);
      queue_.pop_front();
      busy_ = false;
    }
    cv_.notify_all();
  }
}

}  // namespace siteledger::projections::internal
