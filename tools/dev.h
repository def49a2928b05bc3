#pragma once

#include "tools/command.h"

namespace siteledger::tools {

// `siteledger dev tenant`: for a development siteledgerd started with
// --install-keys-url pointing at --keys-listen, serves a fresh RSA install
// key there, installs a tenant with a signed lifecycle callback (as
// Atlassian does), writes its credentials to --out (mode 0600) and prints a
// token and ready curl commands. kOk; kServerError when the server refused
// or could not be reached, or the port is taken; kUsageError for a bad
// command line.
int DevTenant(const Invocation& in);
extern const char kDevTenantHelp[];

// `siteledger dev token`: a new token for the tenant in --file (the
// credentials `dev tenant` wrote), printed alone for $(...).
int DevToken(const Invocation& in);
extern const char kDevTokenHelp[];

}  // namespace siteledger::tools
