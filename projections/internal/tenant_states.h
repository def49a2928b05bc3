#pragma once

// Whole-tenant states: the stored views as they are, the views' versions as
// of a seq, or a fold of the log up to a seq (for tools and tests: they hold
// the whole state).

#include "projections/views.h"
#include "storage/event_log.h"

namespace siteledger::projections::internal {

// An event's payload, parsed with TrustedJsonLimits. Corruption, naming the
// event, when it does not parse.
Result<Json> ParseEventPayload(const storage::Event& e);

// Every committed view row of the tenant, at its current head. Corruption
// for a row that does not decode; the log's errors (NotFound once the data
// key is destroyed, IOError).
Result<TenantState> CurrentViews(const storage::EventLog& log, TenantId tenant);

// The state after event `seq`: from the views' versions, or (without
// `from_history`) a fold from the first event. NotFound if the log ends
// before `seq`; Corruption for a payload or version that does not decode;
// the log's errors. Any thread; a fold may start a read-ahead thread.
Result<TenantState> StateAt(const storage::EventLog& log, TenantId tenant,
                            Sequence seq, bool from_history);

}  // namespace siteledger::projections::internal
