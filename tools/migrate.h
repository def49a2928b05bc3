#pragma once

#include <string>
#include <vector>

namespace siteledger::tools {

// `siteledger migrate start|status|rollback ...` (args[0] is "migrate"):
// moves a tenant between regions through a running siteledgerd's
// /admin/tenants/{clientKey}/migration routes. Prints to stdout, errors to
// stderr. Returns 0 on success, 1 when the server refuses or cannot be
// reached (or a followed migration was given up), 2 on a usage error.
int Migrate(const std::vector<std::string>& args);

}  // namespace siteledger::tools
