#pragma once

#include "server/internal/call.h"
#include "server/internal/finisher.h"
#include "storage/store.h"

namespace siteledger::server {

// Serves POST /admin/backups once the operator is authenticated: parses
// {"dir":"/abs","keep":N}, runs storage::CreateBackup, writes an audit
// record (outcome and figures, or the error) and answers the Backup
// schema. 400 for a body that is not that object or a relative dir; 500 /
// 507 for the backup's own failures. Runs the backup on the calling HTTP
// thread (operator routes are rare; as the sweep). `store` and `finisher`
// must outlive the call.
void ServeBackup(storage::Store& store, Finisher& finisher,
                 const CallPtr& call);

}  // namespace siteledger::server
