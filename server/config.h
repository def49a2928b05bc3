#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "server/http_server.h"
#include "storage/status.h"

namespace siteledger::server {

// siteledgerd's configuration, from its command line.
struct Config {
  HttpOptions http;
  std::string region = "us";
  std::filesystem::path data;             // default ./data/<region>
  std::filesystem::path master_key_file;  // default beside data
  bool help = false;
};

// The text --help prints.
std::string Usage();

// Parses `--flag value` and `--flag=value` arguments (args excludes argv[0]).
// InvalidArgument names the flag at fault.
Result<Config> ParseFlags(const std::vector<std::string>& args);

}  // namespace siteledger::server
