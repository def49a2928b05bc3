#pragma once

// The offline subcommands: they open a region's files themselves instead of
// talking to a server. Each is run by the command table (tools/command.h),
// which has already answered --help and checked the flags; each prints its
// report on stdout and errors on stderr, and returns
// the process exit status: kOk (0) when everything checked out or was done;
// 1 when something is damaged, differs or failed; kUsageError (2) for a bad
// command line.

#include <string>
#include <string_view>
#include <vector>

#include "tools/command.h"

namespace siteledger::tools {

// The region flags (--region, --data, --master-key-file, --key-store) and
// `own`: every flag an offline command takes, for its row in the command
// table.
std::vector<std::string> OfflineFlags(std::vector<std::string> own);

// siteledger verify: hash chains, views and the audit chain, read-only.
extern const char kVerifyUsage[];
std::string_view VerifyHelp();  // with the region flags
int Verify(const Invocation& in);

// siteledger replay [--repair]: the views against a fold of the log; with
// --repair (offline only) rebuilds them.
extern const char kReplayUsage[];
std::string_view ReplayHelp();  // with the region flags
int Replay(const Invocation& in);

// siteledger export: a tenant as NDJSON (docs/formats.md, section
// "Tenant export"), read-only.
extern const char kExportUsage[];
std::string_view ExportHelp();  // with the region flags
int Export(const Invocation& in);

// siteledger import: a tenant export into a region (offline only), after
// checking the whole file.
extern const char kImportUsage[];
std::string_view ImportHelp();  // with the region flags
int Import(const Invocation& in);

}  // namespace siteledger::tools
