#pragma once

// Whole-tenant states built from the log: the stored views as they are, or
// a fold up to a seq (from the nearest snapshot or from the first event).

#include "projections/views.h"
#include "storage/event_log.h"

namespace siteledger::projections::internal {

// Every committed view row of the tenant, at its current head. Corruption
// for a row that does not decode; the log's errors (NotFound once the data
// key is destroyed, IOError).
Result<TenantState> CurrentViews(const storage::EventLog& log, TenantId tenant);

// The state after event `seq`, from the nearest snapshot (or, without
// `use_snapshots`, from the first event) plus a fold. NotFound if the log
// ends before `seq`; Corruption for a payload or snapshot that does not
// decode; the log's errors. Any thread; may start a read-ahead thread.
Result<TenantState> StateAt(const storage::EventLog& log, TenantId tenant,
                            Sequence seq, bool use_snapshots);

}  // namespace siteledger::projections::internal
