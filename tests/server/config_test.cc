#include "server/config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

namespace siteledger::server {
namespace {

// A config file in a fresh temporary folder, removed with the object.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text)
      : dir_(std::filesystem::temp_directory_path() /
             ("siteledger-config-test-" + std::to_string(::getpid()) + "-" +
              std::to_string(++count_))) {
    std::filesystem::create_directories(dir_);
    std::ofstream(path()) << text;
  }
  ~ConfigFile() { std::filesystem::remove_all(dir_); }
  std::string path() const { return (dir_ / "siteledgerd.conf").string(); }

 private:
  static inline int count_ = 0;
  std::filesystem::path dir_;
};

TEST_CASE("A config file sets the flags' values by key", "[config]") {
  ConfigFile file(
      "# the packaged defaults\n"
      "\n"
      "data = /var/lib/siteledger/us\n"
      "  tenant-rate=1000  \n"
      "tenant-burst = 50\n"
      "listen = 0.0.0.0:9000\n"
      "log-level = warn\n"
      "peer-secret-file = /etc/siteledger/peer.secret\n"
      "peer = eu=https://eu.example.com\n"
      "peer = ap=https://ap.example.com/\n"
      "media-max-bytes = logo=1024\n"
      "trusted-proxy = 10.0.0.0/8\n"
      "operators-file = /etc/siteledger/operators\n"
      "test-clock\n");
  auto config = ParseFlags({"--config", file.path()});
  REQUIRE(config.has_value());
  CHECK(config->data == "/var/lib/siteledger/us");
  CHECK(config->media_url_key_file == "/var/lib/siteledger/media-url.key");
  CHECK(config->tenant_rate == 1000);
  CHECK(config->tenant_burst == 50);
  CHECK(config->http.address == "0.0.0.0");
  CHECK(config->http.port == 9000);
  CHECK(config->log_level == LogLevel::kWarn);
  CHECK(config->peers.size() == 2);
  CHECK(config->peers.at("ap") == "https://ap.example.com");
  CHECK(config->media_max_bytes.at("logo") == 1024);
  CHECK(config->trusted_proxies.size() == 1);
  CHECK(config->test_clock);
}

TEST_CASE("Flags on the command line win over the config file", "[config]") {
  ConfigFile file(
      "data = /var/lib/siteledger/us\n"
      "tenant-rate = 1000\n"
      "trusted-proxy = 10.0.0.0/8\n"
      "trusted-proxy = 192.168.0.0/16\n"
      "log-level = error\n");
  SECTION("a value, whether before or after --config") {
    auto config = ParseFlags(
        {"--data=/tmp/x/us", "--config", file.path(), "--tenant-rate", "7"});
    REQUIRE(config.has_value());
    CHECK(config->data == "/tmp/x/us");
    CHECK(config->tenant_rate == 7);
    CHECK(config->log_level == LogLevel::kError);
    CHECK(config->trusted_proxies.size() == 2);
  }
  SECTION("a list flag replaces the file's list") {
    auto config = ParseFlags(
        {"--config=" + file.path(), "--trusted-proxy", "172.16.0.0/12"});
    REQUIRE(config.has_value());
    REQUIRE(config->trusted_proxies.size() == 1);
    CHECK(config->trusted_proxies[0].Contains("172.16.1.1"));
  }
}

TEST_CASE("A bad config file line names the file and the line", "[config]") {
  const auto error = [](const std::string& text) {
    ConfigFile file(text);
    auto config = ParseFlags({"--config", file.path()});
    REQUIRE_FALSE(config.has_value());
    return std::pair(file.path(), config.error().message());
  };
  SECTION("a value out of range, checked as the flag's") {
    auto [path, message] = error("# rate\ntenant-rate = 2000000\n");
    CHECK(message == path +
                         ":2: --tenant-rate: expected a whole number from 0 "
                         "to 1000000");
  }
  SECTION("an unknown key") {
    auto [path, message] = error("data = /d\nnope = 1\n");
    CHECK(message.starts_with(path + ":2: unknown key 'nope'"));
  }
  SECTION("a key written as a flag") {
    auto [path, message] = error("--data = /d\n");
    CHECK(message.starts_with(path + ":1: unknown key '--data'"));
  }
  SECTION("a line without =") {
    auto [path, message] = error("\n\ndata\n");
    CHECK(message == path + ":3: expected key = value");
  }
  SECTION("a single-valued key twice") {
    auto [path, message] = error("threads = 2\nthreads = 3\n");
    CHECK(message == path + ":2: threads is set twice");
  }
  SECTION("a bad log level") {
    auto [path, message] = error("log-level = verbose\n");
    CHECK(message ==
          path + ":1: --log-level: expected debug, info, warn or error");
  }
  SECTION("config inside the file") {
    auto [path, message] = error("config = /etc/other.conf\n");
    CHECK(message.starts_with(path + ":1: unknown key 'config'"));
  }
}

TEST_CASE("A missing config file is an error naming it", "[config]") {
  auto config = ParseFlags({"--config", "/nonexistent/siteledgerd.conf"});
  REQUIRE_FALSE(config.has_value());
  CHECK(config.error().message().find("/nonexistent/siteledgerd.conf") !=
        std::string::npos);
  CHECK_FALSE(ParseFlags({"--config"}).has_value());
}

TEST_CASE("The log level takes debug, info, warn and error, default info",
          "[config]") {
  CHECK(ParseFlags({})->log_level == LogLevel::kInfo);
  CHECK(ParseFlags({"--log-level", "debug"})->log_level == LogLevel::kDebug);
  CHECK(ParseFlags({"--log-level=error"})->log_level == LogLevel::kError);
  CHECK_FALSE(ParseFlags({"--log-level", "loud"}).has_value());
  CHECK(ParseLogLevel("warn") == LogLevel::kWarn);
  CHECK_FALSE(ParseLogLevel("WARN").has_value());
}

TEST_CASE(
    "--help names the bound port in --base-url's default and every "
    "flag",
    "[config]") {
  const std::string usage = Usage();
  CHECK(usage.find("http://<listen address>:<bound port>") !=
        std::string::npos);
  for (const char* flag : {"--config",
                           "--log-level",
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
                           "--sweep-interval"}) {
    INFO(flag);
    CHECK(usage.find(std::string("  ") + flag + " ") != std::string::npos);
  }
}

TEST_CASE("The boolean flags take true or false in a file or after =",
          "[config]") {
  CHECK(ParseFlags({"--rebuild-views=true"})->rebuild_views);
  CHECK_FALSE(ParseFlags({"--rebuild-views=false"})->rebuild_views);
  CHECK_FALSE(ParseFlags({"--rebuild-views=yes"}).has_value());
}

}  // namespace
}  // namespace siteledger::server
