#pragma once

#include <string>
#include <vector>

namespace siteledger::tools {

// Runs the subcommand named by args[0]; returns the process exit status.
// Output goes to stdout, errors to stderr.
int Run(const std::vector<std::string>& args);

}  // namespace siteledger::tools
