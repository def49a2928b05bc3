#pragma once

#include "tools/command.h"

namespace siteledger::tools {

// `siteledger erase-users --file F ...`: reads Atlassian's personal data
// reporting answer in F ({"accounts":[{"accountId","status"}]}) and erases
// the accounts whose status is "closed" through a running siteledgerd's
// POST /admin/users/erase, in batches the route accepts, with a progress
// line on stderr. Never prints an account id. Returns kOk when every closed
// account was dealt with, kServerError when the server refused, could not
// be reached, or deferred some (run it again later), kUsageError on a usage
// error or a malformed file (nothing sent).
int EraseUsers(const Invocation& in);

// Its --help text (the file's format, the flags, the exit status).
extern const char kEraseUsersHelp[];

}  // namespace siteledger::tools
