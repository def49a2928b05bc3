#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "server/cidr.h"
#include "server/http_server.h"
#include "storage/status.h"

namespace siteledger::server {

// siteledgerd's configuration, from its command line.
struct Config {
  HttpOptions http;
  std::string region = "us";
  std::filesystem::path data;             // default ./data/<region>
  std::filesystem::path master_key_file;  // default beside data
  // The app's public base URL (the descriptor's baseUrl and the audience of
  // lifecycle tokens). Default: http://<listen address and bound port>.
  std::string base_url;
  // Where Atlassian's install (lifecycle) signing keys are fetched from:
  // <url>/<kid> answers a PEM public key.
  std::string install_keys_url = "https://connect-install-keys.atlassian.com";
  // Proxies whose X-Forwarded-For is believed.
  std::vector<Cidr> trusted_proxies;
  // The operators file (re-read on SIGHUP); without it /admin answers 401.
  std::filesystem::path operators_file;
  // Enables POST /admin/clock, which moves the server's clock forward (for
  // testing retention windows). Never on by default; needs operators_file.
  bool test_clock = false;
  bool help = false;
};

// The text --help prints.
std::string Usage();

// Parses `--flag value` and `--flag=value` arguments (args excludes argv[0]).
// InvalidArgument names the flag at fault.
Result<Config> ParseFlags(const std::vector<std::string>& args);

}  // namespace siteledger::server
