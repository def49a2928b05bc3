#pragma once

#include "storage/base/status.h"
#include "tools/command.h"

namespace siteledger::tools {

// `siteledger restore --tenant CLIENTKEY --as-of TIME|seq:N --reason TEXT`:
// restores the tenant's views to how they were at TIME (RFC 3339) or after
// event N through POST /admin/tenants/{clientKey}/restore (scope restore),
// printing the views' seq and digest before, the point restored to, and
// after (GET .../digest, scope read-tenant-data). A bad --as-of is refused
// before anything is sent. Returns kOk when the digest after equals the
// digest at the point restored to; kServerError when the server refused or
// could not be reached (the message says whether the restore was made) or
// the digests differ; kUsageError for a bad --as-of, --server or token.
int Restore(const Invocation& in);

// Its --help text.
extern const char kRestoreHelp[];

// The request body for `--as-of` text: {"toSeq":N} for "seq:N", {"asOf":T}
// for an RFC 3339 time (as given). InvalidArgument saying what is expected.
Result<std::string> RestoreBody(std::string_view as_of);

}  // namespace siteledger::tools
