#pragma once

// The access log's 14 days: what the sweeper retires. docs/architecture.md,
// "Retention".

#include "projections/json.h"
#include "storage/store.h"

namespace siteledger::server {

// Retires the access log's entries and day keys older than 14 days by the
// store's clock (storage::AccessLog::Retire), and writes one audit record,
// `access_log.retired` (actor system, the answer as its detail), when
// something went. With `dry_run` retires nothing, writes no record and says
// what would go. Answers what went (or would):
//   {"cutoff": time, "daysRetired": ["YYYY-MM-DD", ...], "entriesDeleted": N}
// Never fails: an error is logged and answered as {"cutoff", "error"}, and
// the next sweep tries again (as does a record that cannot be written:
// logged). Any thread but an HTTP one: slow (it compacts).
projections::Json RetireAccessLog(storage::Store& store, bool dry_run);

}  // namespace siteledger::server
