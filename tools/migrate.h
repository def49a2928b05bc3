#pragma once

#include "tools/command.h"

namespace siteledger::tools {

// `siteledger migrate start|status|rollback`: moves a tenant between
// regions through a running siteledgerd's
// /admin/tenants/{clientKey}/migration routes (operator scope migrate).
// Each runs once the framework has checked its flags (--tenant and --reason
// given, and --to for start). Prints to stdout, errors to stderr. Returns
// kOk on success, kServerError when the server refuses or cannot be reached
// (or a followed migration was given up), kUsageError for a bad --server or
// a missing token.
int MigrateStart(const Invocation& in);
int MigrateStatus(const Invocation& in);
int MigrateRollback(const Invocation& in);

// Their --help texts (what each does and its own flags).
extern const char kMigrateStartHelp[];
extern const char kMigrateStatusHelp[];
extern const char kMigrateRollbackHelp[];

}  // namespace siteledger::tools
