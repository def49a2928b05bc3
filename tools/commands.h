#pragma once

#include <string>
#include <vector>

#include "tools/command.h"

namespace siteledger::tools {

// Every `siteledger` command, in the order the overview lists them. Adding
// one is a row here (tools/commands.cc; the pattern is in command.h).
const std::vector<Command>& Commands();

// Runs the command args names (Dispatch over Commands()); returns the
// process exit status. Output goes to stdout, errors to stderr.
int Run(const std::vector<std::string>& args);

}  // namespace siteledger::tools
