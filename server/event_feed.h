#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "server/http_server.h"
#include "storage/base/clock.h"
#include "storage/base/mutex.h"
#include "storage/event_log.h"

namespace siteledger::server {

// EventFeed serves live Server-Sent Events subscriptions: each subscriber
// gets its tenant's events after a seq, as they are appended. One thread
// reads and writes for all subscribers, so the commit path only leaves a
// note. Safe for concurrent use.
class EventFeed {
 public:
  // Formats one event as an SSE frame: "id: <seq>\ndata: <JSON>\n\n", with
  // an "event: <type>" line when `named` (a named event reaches only the
  // listeners of that name, never EventSource's onmessage).
  using Formatter =
      std::function<std::string(const storage::Event&, bool named)>;

  // `log` and `clock` must outlive the feed.
  EventFeed(storage::EventLog& log, const siteledger::Clock& clock,
            Formatter format);
  ~EventFeed();

  // Streams the tenant's events after `after` to `writer` until it closes
  // or `expires` passes (the token's expiry), as named events if `named`.
  // After Shutdown, closes `writer` at once. Any thread.
  void Subscribe(siteledger::TenantId tenant, siteledger::Sequence after,
                 std::shared_ptr<StreamWriter> writer,
                 siteledger::Timestamp expires, bool named);

  // The tenant's log grew. Any thread, the commit thread included: it only
  // notes the tenant under a short lock and wakes the feed's thread.
  void Notify(siteledger::TenantId tenant);

  // Closes every stream and stops the feed's thread. Any thread but the
  // feed's own; more than once is fine.
  void Shutdown();

  size_t subscribers() const;

 private:
  struct Subscriber {
    siteledger::TenantId tenant;
    siteledger::Sequence next;
    std::shared_ptr<StreamWriter> writer;
    siteledger::Timestamp expires;
    bool named = false;
  };
  void Loop();
  void Pump(Subscriber& s);

  storage::EventLog& log_;
  const siteledger::Clock& clock_;
  const Formatter format_;
  mutable Mutex mu_;
  CondVar cv_;
  std::vector<std::shared_ptr<Subscriber>> subscribers_ GUARDED_BY(mu_);
  std::set<siteledger::TenantId> dirty_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace siteledger::server
