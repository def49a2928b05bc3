#pragma once

// The offline subcommands: they open a region's files themselves instead of
// talking to a server. Each takes the whole command line after the program
// name (args[0] is the subcommand's name), prints its report on stdout and
// errors on stderr, answers --help (or -h) with its help text, and returns
// the process exit status: kOk (0) when everything checked out or was done;
// 1 when something is damaged, differs or failed; kUsageError (2) for a bad
// command line.

#include <string>
#include <string_view>
#include <vector>

namespace siteledger::tools {

// The region flags (--region, --data, --master-key-file, --key-store) and
// `own`: every flag an offline command takes, for its row in the command
// table.
std::vector<std::string> OfflineFlags(std::vector<std::string> own);

// siteledger verify: hash chains, views and the audit chain, read-only.
extern const char kVerifyUsage[];
std::string_view VerifyHelp();  // with the region flags
int RunVerify(const std::vector<std::string>& args);

// siteledger replay [--repair]: the views against a fold of the log; with
// --repair (offline only) rebuilds them.
extern const char kReplayUsage[];
std::string_view ReplayHelp();  // with the region flags
int RunReplay(const std::vector<std::string>& args);

// siteledger export: a tenant as NDJSON (docs/formats.md, section
// "Tenant export"), read-only.
extern const char kExportUsage[];
std::string_view ExportHelp();  // with the region flags
int RunExport(const std::vector<std::string>& args);

// siteledger import: a tenant export into a region (offline only), after
// checking the whole file.
extern const char kImportUsage[];
std::string_view ImportHelp();  // with the region flags
int RunImport(const std::vector<std::string>& args);

}  // namespace siteledger::tools
