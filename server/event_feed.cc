#include "server/event_feed.h"

#include <algorithm>

namespace siteledger::server {
namespace {
// Keeps idle connections (and proxies in between) from timing out, and
// finds closed ones.
constexpr auto kHeartbeat = std::chrono::seconds(15);
constexpr size_t kBatch = 200;
}  // namespace

EventFeed::EventFeed(storage::EventLog& log, const siteledger::Clock& clock,
                     Formatter format)
    : log_(log), clock_(clock), format_(std::move(format)) {
  thread_ = std::thread([this] { Loop(); });
}

EventFeed::~EventFeed() { Shutdown(); }

void EventFeed::Subscribe(siteledger::TenantId tenant,
                          siteledger::Sequence after,
                          std::shared_ptr<StreamWriter> writer,
                          siteledger::Timestamp expires, bool named) {
  auto s = std::make_shared<Subscriber>(
      Subscriber{tenant, after.next(), std::move(writer), expires, named});
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      subscribers_.push_back(s);
      dirty_.insert(tenant);  // send what it missed at once
      s = nullptr;
    }
  }
  if (s != nullptr) {
    // Closed outside the lock: closing may call back into Notify.
    s->writer->Close();
    return;
  }
  cv_.SignalAll();
}

void EventFeed::Notify(siteledger::TenantId tenant) {
  {
    MutexLock lock(mu_);
    if (subscribers_.empty()) return;
    dirty_.insert(tenant);
  }
  cv_.SignalAll();
}

void EventFeed::Shutdown() {
  std::vector<std::shared_ptr<Subscriber>> all;
  {
    MutexLock lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    all.swap(subscribers_);
  }
  cv_.SignalAll();
  for (auto& s : all) s->writer->Close();
  if (thread_.joinable()) thread_.join();
}

size_t EventFeed::subscribers() const {
  MutexLock lock(mu_);
  return subscribers_.size();
}

void EventFeed::Pump(Subscriber& s) {
  for (;;) {
    auto events = log_.Read(s.tenant, s.next, kBatch);
    if (!events) {
      s.writer->Close();
      return;
    }
    for (const storage::Event& e : *events) {
      if (!s.writer->Write(format_(e, s.named))) return;
      s.next = e.seq.next();
    }
    if (events->size() < kBatch) return;
  }
}

void EventFeed::Loop() {
  auto next_heartbeat = std::chrono::steady_clock::now() + kHeartbeat;
  mu_.Lock();
  while (!stopping_) {
    while (!stopping_ && dirty_.empty() && cv_.WaitUntil(mu_, next_heartbeat)) {
    }
    if (stopping_) break;
    std::set<siteledger::TenantId> dirty;
    dirty.swap(dirty_);
    std::vector<std::shared_ptr<Subscriber>> subs = subscribers_;
    mu_.Unlock();
    const bool heartbeat = std::chrono::steady_clock::now() >= next_heartbeat;
    const siteledger::Timestamp now = clock_.Now();
    for (auto& s : subs) {
      if (s->expires < now) {
        s->writer->Close();  // the token it was opened with has expired
        continue;
      }
      if (dirty.contains(s->tenant)) Pump(*s);
      if (heartbeat) s->writer->Write(": keep-alive\n\n");
    }
    if (heartbeat)
      next_heartbeat = std::chrono::steady_clock::now() + kHeartbeat;
    mu_.Lock();
    std::erase_if(subscribers_,
                  [](const auto& s) { return s->writer->closed(); });
  }
  mu_.Unlock();
}

}  // namespace siteledger::server
