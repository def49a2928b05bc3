#pragma once

// Two siteledgerd regions on loopback (us and eu), peers of each other, for
// the residency tests and the tools that drive migrations.

#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {

// A loopback port free right now (the servers must know each other's
// address before either starts).
inline uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline std::string Svg(int n) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" "
         "height=\"10\"><rect width=\"10\" height=\"10\" fill=\"#" +
         std::to_string(100000 + n) + "\"/></svg>";
}

struct RegionOptions {
  // A kill point (SITELEDGERD_CRASH_AT) armed in that region's first
  // process.
  std::string crash_us;
  std::string crash_eu;
  // Both regions serve HTTPS with a certificate for 127.0.0.1 made at test
  // time; each trusts it through --peer-ca-file unless told otherwise.
  bool tls = false;
  bool us_trusts_eu = true;
};

// Two regions: us (where tenants install) and eu, peers of each other,
// sharing a peer secret and the media URL key, each with a test clock and
// the same operators file.
struct Regions {
  testing::TempDir dir;
  KeyServer keys;
  RsaKey install_key;
  OperatorsFile ops;
  std::string admin;
  uint16_t us_port = FreePort();
  uint16_t eu_port = FreePort();
  RegionOptions options_;
  std::unique_ptr<Server> us;
  std::unique_ptr<Server> eu;

  Regions(std::string crash_us, std::string crash_eu)
      : Regions(RegionOptions{.crash_us = std::move(crash_us),
                              .crash_eu = std::move(crash_eu),
                              .tls = false,
                              .us_trusts_eu = true}) {}
  explicit Regions(RegionOptions options = {}) : options_(std::move(options)) {
    if (options_.tls) {
      const std::string command =
          "openssl req -x509 -newkey ec -pkeyopt "
          "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 "
          "-addext subjectAltName=IP:127.0.0.1 -keyout '" +
          (dir / "tls.key").string() + "' -out '" + (dir / "tls.crt").string() +
          "' >/dev/null 2>&1";
      REQUIRE(std::system(command.c_str()) == 0);
      TestCaFile() = (dir / "tls.crt").string();
    }
    keys.Put("kid-1", install_key.PublicPem());
    admin = ops.Add("ops", "migrate,purge,clock,read-tenant-data,usage,audit");
    {
      std::ofstream secret(dir / "peer.secret");
      secret << "peer-secret-0123456789abcdef0123456789abcdef\n";
    }
    std::filesystem::permissions(dir / "peer.secret",
                                 std::filesystem::perms::owner_read |
                                     std::filesystem::perms::owner_write);
    us = Start("us", us_port, "eu", eu_port, options_.crash_us);
    eu = Start("eu", eu_port, "us", us_port, options_.crash_eu);
  }
  ~Regions() {
    if (options_.tls) TestCaFile().clear();
  }

  // Starts a region's process again (after it crashed), unarmed.
  static void Restart(Server& s) {
    s.Stop(SIGKILL);
    s.Start();
  }

  std::unique_ptr<Server> Start(const std::string& region, uint16_t port,
                                const std::string& peer, uint16_t peer_port,
                                const std::string& crash_at = "") {
    const std::string scheme = options_.tls ? "https" : "http";
    std::vector<std::string> flags = {
        "--listen",
        "127.0.0.1:" + std::to_string(port),
        "--region",
        region,
        "--data",
        (dir / region).string(),
        "--peer",
        peer + "=" + scheme + "://127.0.0.1:" + std::to_string(peer_port),
        "--peer-secret-file",
        (dir / "peer.secret").string(),
        "--test-clock"};
    if (options_.tls) {
      for (const std::string& f :
           {std::string("--tls-cert"), (dir / "tls.crt").string(),
            std::string("--tls-key"), (dir / "tls.key").string()}) {
        flags.push_back(f);
      }
      if (region != "us" || options_.us_trusts_eu) {
        flags.push_back("--peer-ca-file");
        flags.push_back((dir / "tls.crt").string());
      }
    }
    for (auto& f : ops.Flags()) flags.push_back(f);
    // The child takes the environment as it is at spawn.
    if (!crash_at.empty())
      ::setenv("SITELEDGERD_CRASH_AT", crash_at.c_str(), 1);
    auto server = std::make_unique<Server>(dir.path(), keys.url(), flags);
    ::unsetenv("SITELEDGERD_CRASH_AT");
    return server;
  }

  Tenant Install(const std::string& client_key) {
    Tenant t{client_key, "secret-of-" + client_key + "-0123456789abcdef"};
    const std::string path = "/lifecycle/installed";
    Response r =
        Http("POST", us->url(path),
             {"Authorization: JWT " +
                  SignRs(LifecycleClaims(us->base_url(), client_key, path),
                         install_key, "kid-1"),
              "Content-Type: application/json"},
             LifecycleBody("installed", client_key, t.secret).Dump());
    INFO(r.body << us->Log());
    REQUIRE(r.status == 204);
    return t;
  }

  static Response Call(Server& s, const Tenant& t, const std::string& method,
                       const std::string& target, const std::string& body = "",
                       std::vector<std::string> headers = {}) {
    headers.push_back(t.Auth(method, target));
    if (!body.empty() && headers.size() == 1) {
      headers.push_back("Content-Type: application/json");
    }
    return Http(method, s.url(target), headers, body);
  }

  // As the administration page would: with the page's token.
  static Response PageCall(Server& s, const Tenant& t,
                           const std::string& method, const std::string& target,
                           const std::string& body = "") {
    std::vector<std::string> headers = {t.PageAuth()};
    if (!body.empty()) headers.push_back("Content-Type: application/json");
    return Http(method, s.url(target), headers, body);
  }

  // As a client would: a 307 is followed once, with a token for the new
  // request.
  static Response Follow(Server& s, const Tenant& t, const std::string& method,
                         const std::string& target,
                         const std::string& body = "",
                         std::vector<std::string> headers = {}) {
    Response r = Call(s, t, method, target, body, headers);
    if (r.status != 307) return r;
    std::vector<std::string> again = headers;
    again.push_back(t.Auth(method, target));
    if (!body.empty() && headers.empty()) {
      again.push_back("Content-Type: application/json");
    }
    return Http(method, r.header("location"), again, body);
  }

  Response AdminCall(Server& s, const std::string& method,
                     const std::string& target, const std::string& body = "") {
    std::vector<std::string> headers = {"Authorization: Bearer " + admin,
                                        "X-Access-Reason: residency test"};
    if (!body.empty()) headers.push_back("Content-Type: application/json");
    return Http(method, s.url(target), headers, body);
  }

  // Polls GET /api/v1/residency at `s` until `done` holds (60 s at most).
  Json WaitResidency(Server& s, const Tenant& t,
                     const std::function<bool(const Json&)>& done) {
    Json last;
    for (int i = 0; i < 1200; ++i) {
      Response r = Call(s, t, "GET", "/api/v1/residency");
      if (r.status == 200) {
        last = r.json();
        if (done(last)) return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL("residency never settled: " << last.Dump() << "\nus:\n"
                                     << us->Log() << "\neu:\n"
                                     << eu->Log());
    return last;
  }
};

// A request on a server whose test clock runs `ahead` of ours.
inline Response CallAhead(Server& s, const Tenant& t,
                          std::chrono::seconds ahead, const std::string& method,
                          const std::string& target) {
  const int64_t a = ahead.count();
  return Http(
      method, s.url(target),
      {"Authorization: JWT " +
       t.Token(method, target, "5b10ac8d82e05b22cc7d4ef5", a + 300, a)});
}

// The same with the administration page's token (PageToken).
inline Response PageCallAhead(Server& s, const Tenant& t,
                              std::chrono::seconds ahead,
                              const std::string& method,
                              const std::string& target) {
  return Http(method, s.url(target), {t.PageAuth(ahead.count())});
}

inline std::string SiteBody(int n) {
  return "{\"name\":\"site " + std::to_string(n) + "\"}";
}

// Every event of the tenant, paging through /api/v1/events at `s`.
inline std::vector<Json> AllEvents(Server& s, const Tenant& t) {
  std::vector<Json> out;
  uint64_t after = 0;
  for (;;) {
    const std::string target =
        "/api/v1/events?after=" + std::to_string(after) + "&limit=1000";
    Response r = Regions::Call(s, t, "GET", target);
    INFO(r.body);
    REQUIRE(r.status == 200);
    const Json page = r.json();
    const auto& items = page.Find("items")->as_array();
    for (const Json& e : items) {
      after = static_cast<uint64_t>(e.GetInt("seq"));
      out.push_back(e);
    }
    if (items.size() < 1000) return out;
  }
}

inline std::set<std::string> SiteIds(Server& s, const Tenant& t) {
  std::set<std::string> ids;
  std::string cursor;
  for (;;) {
    std::string target = "/api/v1/sites?limit=200";
    if (!cursor.empty()) target += "&cursor=" + cursor;
    Response r = Regions::Call(s, t, "GET", target);
    INFO(r.body);
    REQUIRE(r.status == 200);
    const Json page = r.json();
    for (const std::string& id : IdsOf(page)) ids.insert(id);
    const Json* next = page.Find("nextCursor");
    if (next == nullptr || !next->is_string()) return ids;
    cursor = next->as_string();
  }
}

}  // namespace siteledger::e2e
