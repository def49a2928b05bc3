// siteledger: the command-line tool over siteledger's libraries.
//
//   siteledger operators add --file PATH --name NAME --scopes LIST
//   siteledger tenants   [--server URL] [--token-file PATH]
//   siteledger usage     [--server URL] [--token-file PATH] [--csv]
//   siteledger audit-log [--server URL] [--token-file PATH] [--tenant KEY]
//                        [--operator NAME] [--since TIME] [--until TIME]
//   siteledger access-log --reason TEXT [--since TIME] [--until TIME] [--json]
//   siteledger migrate   start|status|rollback --tenant KEY --reason TEXT
//                        [--to REGION] [--follow] [--server URL] ...
//   siteledger purge     [--dry-run] [--json] [--server URL] ...
//   siteledger erase-users --file PATH [--batch N] [--server URL] ...
//
// Subcommands that talk to a server share --server (default
// http://127.0.0.1:8080), --token-file PATH (or SITELEDGER_TOKEN) and
// --reason TEXT; --tenant always means the clientKey. Exits non-zero on any
// failure.

#include <cstdio>
#include <string>
#include <vector>

#include "tools/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return siteledger::tools::Run(args);
}
