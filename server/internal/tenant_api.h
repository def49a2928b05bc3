#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "projections/projector.h"
#include "server/event_feed.h"
#include "server/internal/call.h"
#include "server/internal/finisher.h"
#include "storage/base/mutex.h"

namespace siteledger::server {

// The tenant API (/api/v1): a tenant's views as they are now or were at an
// earlier point, pages of them, its event log and live stream, and the
// commands that change them. Operators' mirrored reads come here too, once
// the operator is authenticated and the tenant named. Everything it is given
// must outlive it. Safe for concurrent use.
class TenantApi {
 public:
  TenantApi(projections::Projector& projector, const storage::EventLog& log,
            EventFeed& feed, Finisher& finisher, const Clock& clock)
      : projector_(projector),
        log_(log),
        feed_(feed),
        finisher_(finisher),
        clock_(clock) {}

  // Serves `call` (call->tenant set) according to its route's row. Answers
  // reads at once; a command is answered on the call's strand once its
  // events are durable. Call from an HTTP thread.
  void Serve(const CallPtr& call);

  // Appends user.seen for the call's actor, at most once a day per account,
  // without waiting for it (a failure loses one line of the users view).
  void RecordUserSeen(const Call& call);

 private:
  struct Reads;
  void ServeCommand(const CallPtr& call);
  void ServeEvents(const CallPtr& call);
  // The filters of GET /events (type, actor, entity, since, until), or
  // nullopt when the call has none. InvalidArgument naming the parameter for
  // an empty value, an unknown type or a time that does not parse.
  Result<std::optional<projections::Projector::EventFilter>> EventFilterOf(
      const Call& call);
  void ServeStream(const CallPtr& call);

  projections::Projector& projector_;
  const storage::EventLog& log_;
  EventFeed& feed_;
  Finisher& finisher_;
  const Clock& clock_;

  // Accounts seen today: (tenant, account) -> day.
  Mutex seen_mu_;
  std::map<std::pair<uint64_t, std::string>, std::string> seen_
      GUARDED_BY(seen_mu_);
};

// A media view as the API answers it: id, kind, type, size, dimensions.
projections::Json MediaJson(const projections::Json& doc);

}  // namespace siteledger::server
