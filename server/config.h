#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "server/cidr.h"
#include "server/http_server.h"
#include "server/log.h"
#include "storage/base/status.h"

namespace siteledger::server {

// siteledgerd's configuration, from its command line and config file.
struct Config {
  HttpOptions http;
  std::string region = "us";
  std::filesystem::path data;             // default ./data/<region>
  std::filesystem::path master_key_file;  // default beside data
  // The app's public base URL (the descriptor's baseUrl and the audience of
  // lifecycle tokens). Default: http://<listen address and bound port>
  // (https:// with tls_cert).
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
  // Rebuild every tenant's views from its log, then exit.
  bool rebuild_views = false;
  // Media: the key that signs media URLs, shared by every region so that a
  // URL keeps working after a residency migration (default
  // media-url.key beside --data, created with mode 0600), how long a signed
  // URL lives, each kind's size limit, and each tenant's quota.
  std::filesystem::path media_url_key_file;
  std::chrono::seconds media_url_ttl{24 * 3600};
  std::map<std::string, size_t> media_max_bytes = {{"layout-image", 10 << 20},
                                                   {"theme-image", 10 << 20},
                                                   {"logo", 10 << 20},
                                                   {"favicon", 1 << 20},
                                                   {"app-icon", 1 << 20}};
  int64_t media_quota_bytes = int64_t{1} << 30;
  // The most bytes a tenant's event log takes (its event rows, sealed):
  // past it writes answer 507 and reads go on. 0: no quota.
  uint64_t tenant_log_quota_bytes = uint64_t{8} << 30;
  // The most pixels (width x height) an uploaded image may declare.
  uint64_t media_max_pixels = 50'000'000;
  // Free space kept on the data folder's file system: below it writes are
  // refused with 507 (reads go on), so that RocksDB never meets a full disk
  // and a restart has room to recover. 0 turns the reserve off.
  uint64_t disk_reserve_bytes = uint64_t{64} << 20;
  // Each tenant's request rate (token bucket): `tenant_rate` requests a
  // second, bursts of up to `tenant_burst`; beyond, 429 with Retry-After.
  // 0 turns the limit off.
  size_t block_cache_bytes = size_t{128} << 20;
  // Each of the projector's two caches: stored views read (GetStored), and
  // the decoded views and pseudonyms of recent commands (sessions).
  size_t view_cache_bytes = size_t{32} << 20;
  int tenant_rate = 1000;
  int tenant_burst = 2000;
  // Data residency: the other regions, by lowercase name ("eu" ->
  // "https://eu.example.com"), and the secret that signs region-to-region
  // calls (HS256 JWTs on /internal/v1). Without a secret no peer call is made
  // or accepted.
  std::map<std::string, std::string> peers;
  std::filesystem::path peer_secret_file;
  // Serve HTTPS with this certificate chain and private key (PEM); both or
  // neither.
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  // CA certificates (PEM) that peers' certificates are checked against,
  // besides the system's; for regions with their own CA.
  std::filesystem::path peer_ca_file;
  // How often the sweeper runs the purges that are due (wall time).
  std::chrono::milliseconds sweep_interval{3'600'000};
  // The least severe log lines written.
  LogLevel log_level = LogLevel::kInfo;
  bool help = false;
};

// "31d", "12h", "90m", "15s": a whole number and a unit s, m, h or d, at
// most ten years. InvalidArgument (naming `what`) otherwise. Pure.
Result<std::chrono::milliseconds> ParseDuration(std::string_view what,
                                                std::string_view text);

// The text --help prints.
std::string Usage();

// Parses `--flag value` and `--flag=value` arguments (args excludes argv[0]).
// `--config PATH` reads a file first: one `key = value` a line, the keys
// being the flags without "--" (`test-clock` and `rebuild-views` alone or
// `= true`/`= false`), blank lines and lines starting with `#` skipped,
// repeatable keys (peer, trusted-proxy, media-max-bytes) repeated, any other
// key at most once. Each value is checked exactly as its flag's. Flags on
// the command line win over the file; a list flag (--peer,
// --trusted-proxy) given there replaces the file's list.
// InvalidArgument names the flag at fault, or the file and line; reads
// nothing but the file. With --help, returns at once with `help` set.
Result<Config> ParseFlags(const std::vector<std::string>& args);

}  // namespace siteledger::server
