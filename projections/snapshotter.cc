#include "projections/internal/snapshotter.h"

#include "projections/internal/tenant_states.h"

namespace siteledger::projections::internal {

Snapshotter::Snapshotter(storage::EventLog& log) : log_(log) {
  thread_ = std::thread([this] { Loop(); });
}

Snapshotter::~Snapshotter() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  thread_.join();
}

void Snapshotter::Schedule(TenantId tenant, Sequence seq) {
  {
    MutexLock lock(mu_);
    queue_.emplace_back(tenant, seq);
  }
  cv_.SignalAll();
}

void Snapshotter::WaitForIdle() {
  MutexLock lock(mu_);
  while (!queue_.empty() || busy_) cv_.Wait(mu_);
}

void Snapshotter::Loop() {
  for (;;) {
    std::pair<TenantId, Sequence> job;
    {
      MutexLock lock(mu_);
      while (!stopping_ && queue_.empty()) cv_.Wait(mu_);
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
      MutexLock lock(mu_);
      queue_.pop_front();
      busy_ = false;
    }
    cv_.SignalAll();
  }
}

}  // namespace siteledger::projections::internal
