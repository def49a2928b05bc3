#pragma once

#include <string>
#include <vector>

namespace siteledger::tools {

// `siteledger erase-users --file F ...` (args[0] is "erase-users"): reads
// Atlassian's personal data reporting answer in F
// ({"accounts":[{"accountId","status"}]}) and erases the accounts whose
// status is "closed" through a running siteledgerd's POST
// /admin/users/erase, in batches the route accepts. Never prints an
// account id. Returns 0 when every closed account was dealt with, 1 when
// the server refused, could not be reached, or deferred some (run it
// again later), 2 on a usage error or a malformed file (nothing sent).
int EraseUsers(const std::vector<std::string>& args);

}  // namespace siteledger::tools
