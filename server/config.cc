#include "server/config.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <set>
#include <string_view>

namespace siteledger::server {

std::string Usage() {
  return R"(siteledgerd: the siteledger storage server for one data-residency region

Usage: siteledgerd [--config FILE] [flags]

  --config FILE           read flags from FILE first: one `key = value` a
                          line, keys being the flags without --; `#` starts
                          a comment line; repeatable flags repeat their key.
                          Flags on the command line win over the file
  --listen HOST:PORT      address to serve on (default 127.0.0.1:8080; port
                          0 takes a free one)
  --region NAME           this process's region, lowercase (default us)
  --data DIR              the region's database folder itself
                          (default ./data/<region>)
  --master-key-file PATH  the region's master key; created (mode 0600) if
                          absent (default master-<region>.key beside --data)
  --base-url URL          the app's public base URL (default
                          http://<listen address>:<bound port>, e.g.
                          http://127.0.0.1:8080; https:// with --tls-cert)
  --install-keys-url URL  where lifecycle signing keys are fetched by kid
                          (default https://connect-install-keys.atlassian.com)
  --trusted-proxy CIDR    believe X-Forwarded-For from this network
                          (repeatable)
  --operators-file PATH   operators and their token hashes (re-read on SIGHUP)
  --test-clock            lets operators move the clock forward (testing
                          only; needs --operators-file)
  --rebuild-views         rebuild every tenant's views and their versions
                          from its log, then exit (the server rebuilds by
                          itself when it opens data whose views are in an
                          older format)
  --media-url-key-file PATH
                          the key that signs media URLs; share it between
                          regions (default media-url.key beside --data)
  --media-url-ttl SECONDS how long a signed media URL works (default 86400;
                          60 to 604800)
  --media-max-bytes KIND=BYTES
                          a media kind's size limit, 1 to 67108864 (64 MiB)
                          (repeatable; kinds layout-image, theme-image, logo,
                          favicon, app-icon; defaults: 10 MiB images, logos;
                          1 MiB favicon, app-icon)
  --media-quota-bytes N   the most media bytes a tenant keeps (default
                          1073741824, 1 GiB; at least 1)
  --tenant-log-quota-bytes N
                          the most bytes a tenant's event log takes: past
                          it writes answer 507, reads go on (default
                          8589934592, 8 GiB; 0 turns it off)
  --media-max-pixels N    the largest image, width x height, an upload may
                          declare (default 50000000; at least 1)
  --disk-reserve-bytes N  free space kept on the data folder's file system:
                          below it writes answer 507 and reads go on
                          (default 67108864, 64 MiB; 0 turns it off)
  --block-cache-bytes N   RocksDB's block cache: what reads keep of the
                          data files in memory (default 134217728, 128 MiB;
                          1048576 to 1099511627776, 1 TiB)
  --view-cache-bytes N    the projector's caches of views, each: stored
                          views read, and the decoded views and pseudonyms
                          of recent commands (default 33554432, 32 MiB;
                          1048576 to 1099511627776, 1 TiB)
  --tenant-rate N         requests a second each tenant may make, on
                          average (default 1000, up to 1000000; 0 turns
                          the limit off); beyond it: 429 with Retry-After
  --tenant-burst N        requests a tenant may make at once above its
                          rate (default 2000; 1 to 1000000)
  --peer REGION=URL       another region's siteledgerd, for residency
                          migrations and redirects (repeatable)
  --peer-secret-file PATH the secret shared by the regions that signs
                          region-to-region calls (needed with --peer)
  --peer-ca-file PATH     CA certificates (PEM) peers' HTTPS is checked
                          against, besides the system's
  --tls-cert PATH         serve HTTPS with this certificate chain (PEM)
  --tls-key PATH          ... and this private key (PEM); both or neither
  --sweep-interval DURATION
                          how often due purges run and the access log's
                          days older than 14 days are retired: 30m, 1h, 7d
                          (default 1h; 1s to 3650d)
  --threads N             HTTP worker threads (default 2; 1 to 256)
  --read-timeout SECONDS  the longest one request may take to arrive, from
                          its first byte (default 30, 1 to 3600; keep-alive
                          waits 60)
  --max-connections N     connections the server holds in all; further
                          ones are closed unanswered (default 4096, 1 to
                          1000000). siteledgerd raises its open-file limit
                          to the hard limit at start and warns when that
                          is below this plus 1024 for its data files
  --max-connections-per-address N
                          connections one client address may hold
                          (default 256; 1 to 1048576)
  --log-level LEVEL       the least severe log lines written: debug, info,
                          warn or error (default info)
  --help                  print this text

Started with no flags it serves region us from ./data/us on 127.0.0.1:8080.
SIGTERM or SIGINT drains: in-flight requests finish, then it exits 0.
)";
}

namespace {

// A whole number from `lo` (0 or 1) up to 2^62 (a count of bytes or
// pixels).
Result<uint64_t> ParseCount(std::string_view flag, std::string_view value,
                            uint64_t lo = 1) {
  uint64_t n = 0;
  auto [ptr, ec] =
      std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || ptr != value.data() + value.size() || n < lo ||
      n > (uint64_t{1} << 62)) {
    return Err(Status::InvalidArgument(
        std::string(flag) + (lo == 0
                                 ? ": expected a whole number (0 turns it off)"
                                 : ": expected a positive whole number")));
  }
  return n;
}

// A cache's size: from 1 MiB to 1 TiB.
Result<size_t> ParseCacheBytes(std::string_view flag, std::string_view value) {
  auto n = ParseCount(flag, value);
  if (!n) return Err(n.error());
  if (*n < (uint64_t{1} << 20) || *n > (uint64_t{1} << 40)) {
    return Err(Status::InvalidArgument(std::string(flag) +
                                       ": from 1048576 (1 MiB) to 1 TiB"));
  }
  return static_cast<size_t>(*n);
}

Result<int> ParseInt(std::string_view flag, std::string_view value, int lo,
                     int hi) {
  int out = 0;
  auto [ptr, ec] =
      std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || ptr != value.data() + value.size() || out < lo ||
      out > hi) {
    return Err(Status::InvalidArgument(
        std::string(flag) + ": expected a whole number from " +
        std::to_string(lo) + " to " + std::to_string(hi)));
  }
  return out;
}

Status ParseListen(std::string_view value, HttpOptions& http) {
  const size_t colon = value.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument(
        "--listen: expected HOST:PORT, e.g. "
        "127.0.0.1:8080");
  }
  auto port = ParseInt("--listen", value.substr(colon + 1), 0, 65535);
  if (!port) return port.error();
  std::string host(value.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  http.address = host;
  http.port = static_cast<uint16_t>(*port);
  return Status::Ok();
}

bool ValidRegion(std::string_view region) {
  if (region.empty() || region.size() > 16) return false;
  for (char c : region) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(std::string_view what,
                                                std::string_view text) {
  const auto bad = [&] {
    return Err(Status::InvalidArgument(
        std::string(what) +
        ": expected a whole number and a unit s, m, h or d (31d)"));
  };
  if (text.size() < 2) return bad();
  int64_t n = 0;
  const char unit = text.back();
  const std::string_view digits = text.substr(0, text.size() - 1);
  auto [ptr, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), n);
  const int64_t per = unit == 's'   ? 1000
                      : unit == 'm' ? 60'000
                      : unit == 'h' ? 3'600'000
                      : unit == 'd' ? 86'400'000
                                    : 0;
  if (ec != std::errc() || ptr != digits.data() + digits.size() || n < 0 ||
      per == 0 || n > 3650LL * 86'400'000 / per) {
    return bad();
  }
  return std::chrono::milliseconds(n * per);
}

namespace {

// Applies one flag, `name` with its leading "--", to `config`. The one parser
// of every value: the command line and the config file both come here.
Status ApplyFlag(Config& config, const std::string& name, std::string value) {
  if (name == "--test-clock" || name == "--rebuild-views") {
    if (value != "" && value != "true" && value != "false") {
      return Status::InvalidArgument(name + ": expected true or false");
    }
    (name == "--test-clock" ? config.test_clock : config.rebuild_views) =
        value != "false";
    return Status::Ok();
  }
  if (name == "--log-level") {
    const auto level = ParseLogLevel(value);
    if (!level) {
      return Status::InvalidArgument(
          "--log-level: expected debug, info, warn or error");
    }
    config.log_level = *level;
    return Status::Ok();
  }
  if (name == "--listen") {
    SL_RETURN_IF_ERROR(ParseListen(value, config.http));
  } else if (name == "--region") {
    if (!ValidRegion(value)) {
      return Status::InvalidArgument(
          "--region: expected a lowercase name such as us or eu");
    }
    config.region = value;
  } else if (name == "--data") {
    if (value.empty()) {
      return Status::InvalidArgument("--data needs a folder");
    }
    config.data = value;
  } else if (name == "--master-key-file") {
    config.master_key_file = value;
  } else if (name == "--base-url") {
    if (!(value.starts_with("http://") || value.starts_with("https://"))) {
      return Status::InvalidArgument(
          "--base-url: expected an http:// or https:// URL");
    }
    while (value.size() > 1 && value.back() == '/') value.pop_back();
    config.base_url = value;
  } else if (name == "--install-keys-url") {
    if (!(value.starts_with("http://") || value.starts_with("https://"))) {
      return Status::InvalidArgument(
          "--install-keys-url: expected an http:// or https:// URL");
    }
    while (!value.empty() && value.back() == '/') value.pop_back();
    config.install_keys_url = value;
  } else if (name == "--trusted-proxy") {
    auto cidr = Cidr::Parse(value);
    if (!cidr) {
      return Status::InvalidArgument(
          "--trusted-proxy: expected a network such as 10.0.0.0/8");
    }
    config.trusted_proxies.push_back(*cidr);
  } else if (name == "--read-timeout") {
    auto n = ParseInt(name, value, 1, 3600);
    if (!n) return n.error();
    config.http.limits.read_timeout = std::chrono::seconds(*n);
  } else if (name == "--max-connections") {
    auto n = ParseInt(name, value, 1, 1000000);
    if (!n) return n.error();
    config.http.limits.max_connections = static_cast<size_t>(*n);
  } else if (name == "--max-connections-per-address") {
    auto n = ParseInt(name, value, 1, 1 << 20);
    if (!n) return n.error();
    config.http.limits.max_connections_per_address = static_cast<size_t>(*n);
  } else if (name == "--media-url-key-file") {
    config.media_url_key_file = value;
  } else if (name == "--media-url-ttl") {
    auto n = ParseInt(name, value, 60, 7 * 24 * 3600);
    if (!n) return n.error();
    config.media_url_ttl = std::chrono::seconds(*n);
  } else if (name == "--media-max-bytes") {
    const size_t eq = value.find('=');
    const std::string kind = value.substr(0, eq);
    if (eq == std::string::npos || !config.media_max_bytes.contains(kind)) {
      return Status::InvalidArgument(
          "--media-max-bytes: expected KIND=BYTES with a kind of "
          "layout-image, theme-image, logo, favicon or app-icon");
    }
    auto n = ParseInt(name, value.substr(eq + 1), 1, 64 << 20);
    if (!n) return n.error();
    config.media_max_bytes[kind] = static_cast<size_t>(*n);
  } else if (name == "--media-quota-bytes") {
    auto n = ParseCount(name, value);
    if (!n) return n.error();
    config.media_quota_bytes = static_cast<int64_t>(*n);
  } else if (name == "--tenant-log-quota-bytes") {
    auto n = ParseCount(name, value, 0);
    if (!n) return n.error();
    config.tenant_log_quota_bytes = *n;
  } else if (name == "--block-cache-bytes") {
    auto n = ParseCacheBytes(name, value);
    if (!n) return n.error();
    config.block_cache_bytes = *n;
  } else if (name == "--view-cache-bytes") {
    auto n = ParseCacheBytes(name, value);
    if (!n) return n.error();
    config.view_cache_bytes = *n;
  } else if (name == "--tenant-rate") {
    auto n = ParseInt(name, value, 0, 1000000);
    if (!n) return n.error();
    config.tenant_rate = *n;
  } else if (name == "--tenant-burst") {
    auto n = ParseInt(name, value, 1, 1000000);
    if (!n) return n.error();
    config.tenant_burst = *n;
  } else if (name == "--media-max-pixels") {
    auto n = ParseCount(name, value);
    if (!n) return n.error();
    config.media_max_pixels = *n;
  } else if (name == "--disk-reserve-bytes") {
    auto n = ParseCount(name, value, 0);
    if (!n) return n.error();
    config.disk_reserve_bytes = *n;
  } else if (name == "--operators-file") {
    config.operators_file = value;
  } else if (name == "--peer") {
    const size_t eq = value.find('=');
    std::string region = eq == std::string::npos ? "" : value.substr(0, eq);
    for (char& c : region) c = static_cast<char>(std::tolower(c));
    const std::string url = eq == std::string::npos ? "" : value.substr(eq + 1);
    if (!ValidRegion(region) ||
        !(url.starts_with("http://") || url.starts_with("https://"))) {
      return Status::InvalidArgument(
          "--peer: expected REGION=URL, e.g. eu=https://eu.example.com");
    }
    std::string trimmed = url;
    while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
    config.peers[region] = trimmed;
  } else if (name == "--peer-secret-file") {
    config.peer_secret_file = value;
  } else if (name == "--peer-ca-file") {
    config.peer_ca_file = value;
  } else if (name == "--tls-cert") {
    config.tls_cert = value;
  } else if (name == "--tls-key") {
    config.tls_key = value;
  } else if (name == "--sweep-interval") {
    auto d = ParseDuration(name, value);
    if (!d) return d.error();
    if (d->count() < 1000) {
      return Status::InvalidArgument("--sweep-interval: at least 1s");
    }
    config.sweep_interval = *d;
  } else if (name == "--threads") {
    auto n = ParseInt(name, value, 1, 256);
    if (!n) return n.error();
    config.http.threads = *n;
  } else {
    return Status::InvalidArgument("unknown flag " + name + " (see --help)");
  }
  return Status::Ok();
}

// The flags ApplyFlag knows, with their "--"; the two booleans take no
// value on the command line.
const std::set<std::string, std::less<>> kFlags = {
    "--listen",
    "--region",
    "--data",
    "--master-key-file",
    "--threads",
    "--base-url",
    "--install-keys-url",
    "--trusted-proxy",
    "--operators-file",
    "--test-clock",
    "--rebuild-views",
    "--log-level",
    "--media-url-key-file",
    "--media-url-ttl",
    "--media-max-bytes",
    "--media-quota-bytes",
    "--tenant-log-quota-bytes",
    "--media-max-pixels",
    "--disk-reserve-bytes",
    "--block-cache-bytes",
    "--view-cache-bytes",
    "--tenant-rate",
    "--tenant-burst",
    "--read-timeout",
    "--max-connections",
    "--max-connections-per-address",
    "--peer",
    "--peer-secret-file",
    "--peer-ca-file",
    "--tls-cert",
    "--tls-key",
    "--sweep-interval"};
const std::set<std::string, std::less<>> kRepeatable = {
    "--trusted-proxy", "--peer", "--media-max-bytes"};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

// Applies the config file at `path` to `config`: `key = value` lines, keys
// being the flags without their "--".
Status ApplyFile(const std::filesystem::path& path, Config& config) {
  std::ifstream in(path);
  if (!in) {
    return Status::InvalidArgument("--config: cannot read " + path.string() +
                                   ": " + std::strerror(errno));
  }
  std::set<std::string, std::less<>> seen;
  std::string raw;
  for (int line = 1; std::getline(in, raw); ++line) {
    const auto at = [&](std::string_view message) {
      return Status::InvalidArgument(path.string() + ":" +
                                     std::to_string(line) + ": " +
                                     std::string(message));
    };
    const std::string_view text = Trim(raw);
    if (text.empty() || text.front() == '#') continue;
    const size_t eq = text.find('=');
    const std::string key(Trim(text.substr(0, eq)));
    const std::string value(
        eq == std::string_view::npos ? "" : Trim(text.substr(eq + 1)));
    const std::string name = "--" + key;
    if (key.empty() || key.starts_with("-") || !kFlags.contains(name)) {
      return at("unknown key '" + key + "' (keys are siteledgerd's flags " +
                "without --, see --help)");
    }
    const bool boolean = name == "--test-clock" || name == "--rebuild-views";
    if (eq == std::string_view::npos && !boolean) {
      return at("expected key = value");
    }
    if (!kRepeatable.contains(name) && !seen.insert(name).second) {
      return at(key + " is set twice");
    }
    if (Status s = ApplyFlag(config, name, value); !s.ok()) {
      return at(s.message());
    }
  }
  if (in.bad()) {
    return Status::InvalidArgument("--config: cannot read " + path.string());
  }
  return Status::Ok();
}

}  // namespace

Result<Config> ParseFlags(const std::vector<std::string>& args) {
  // The command line is read whole first: a --config anywhere in it is
  // applied before every other flag, so that each flag given wins over the
  // file.
  std::vector<std::pair<std::string, std::string>> flags;
  std::filesystem::path config_file;
  bool help = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      return Err(Status::InvalidArgument("unexpected argument '" +
                                         std::string(arg) + "' (see --help)"));
    }
    const size_t eq = arg.find('=');
    std::string name(arg.substr(0, eq));
    if (!kFlags.contains(name) && name != "--config") {
      return Err(
          Status::InvalidArgument("unknown flag " + name + " (see --help)"));
    }
    std::string value;
    if (eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
    } else if (name != "--test-clock" && name != "--rebuild-views") {
      if (i + 1 >= args.size()) {
        return Err(Status::InvalidArgument(name + " needs a value"));
      }
      value = args[++i];
    }
    if (name == "--config") {
      if (!config_file.empty()) {
        return Err(Status::InvalidArgument("--config: given twice"));
      }
      if (value.empty()) {
        return Err(Status::InvalidArgument("--config needs a file"));
      }
      config_file = value;
      continue;
    }
    flags.emplace_back(std::move(name), std::move(value));
  }
  Config config;
  config.help = help;
  if (help) return config;
  if (!config_file.empty()) {
    SL_RETURN_ERR_IF_ERROR(ApplyFile(config_file, config));
  }
  // A list flag on the command line replaces the file's list; a kind of
  // --media-max-bytes replaces that kind's limit only.
  for (const auto& [name, value] : flags) {
    if (name == "--trusted-proxy") config.trusted_proxies.clear();
    if (name == "--peer") config.peers.clear();
  }
  for (auto& [name, value] : flags) {
    SL_RETURN_ERR_IF_ERROR(ApplyFlag(config, name, std::move(value)));
  }
  if (config.data.empty()) config.data = "data/" + config.region;
  if (config.media_url_key_file.empty()) {
    config.media_url_key_file = config.data.parent_path() / "media-url.key";
  }
  if (config.peers.contains(config.region)) {
    return Err(Status::InvalidArgument(
        "--peer: a region is not its own peer (" + config.region + ")"));
  }
  if (!config.peers.empty() && config.peer_secret_file.empty()) {
    return Err(Status::InvalidArgument(
        "--peer needs --peer-secret-file: region-to-region calls are signed"));
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return Err(Status::InvalidArgument("--tls-cert and --tls-key go together"));
  }
  if (config.test_clock && config.operators_file.empty()) {
    return Err(Status::InvalidArgument(
        "--test-clock needs --operators-file: only an operator may move the "
        "clock"));
  }
  return config;
}

}  // namespace siteledger::server
