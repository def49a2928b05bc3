// Regressions from the hostile review of the running server (the hardening
// issue): each test names what broke.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "storage/base/utf8.h"
#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

TEST_CASE(
    "Text that is not UTF-8 in a path, a query or a stored header is "
    "refused with 400 and writes nothing",
    "[hardening][utf8]") {
  OperatorsFile operators;
  const std::string token = operators.Add("ops", "read-tenant-data,audit");
  World w(operators.Flags());
  Tenant t = w.Install("client-utf8");
  const std::string body = R"({"results":[{"contentId":"1"}]})";
  REQUIRE(w.Call(t, "PUT", "/api/v1/search/promoted/benefits", body).status ==
          200);
  const uint64_t head = LastSeq(w, t);

  SECTION("a path parameter: the keyword that poisoned a tenant's history") {
    Response r = w.Call(t, "PUT", "/api/v1/search/promoted/%C0%AE%FF", body);
    INFO(r.body);
    CHECK(IsProblem(r, 400));
    CHECK(DetailOf(r).find("UTF-8") != std::string::npos);
    CHECK(w.Call(t, "DELETE", "/api/v1/search/promoted/%C0%AE%FF").status ==
          400);
  }
  SECTION("a query value") {
    Response r = w.Call(t, "GET", "/api/v1/search/promoted?cursor=%FF%FE");
    CHECK(IsProblem(r, 400));
    r = w.Call(t, "GET", "/api/v1/announcements?active_at=%ED%A0%80");
    CHECK(IsProblem(r, 400));
  }
  SECTION("an operator's reason, which the audit log stores") {
    Response r =
        Admin(w, token, "GET", "/admin/tenants/client-utf8/search/promoted",
              "support \xC0\xAE\xFF ticket");
    CHECK(IsProblem(r, 400));
    // The refused attempt is audited with its reason made UTF-8, and the
    // audit log still answers JSON.
    Response audit = Admin(w, token, "GET", "/admin/audit");
    REQUIRE(audit.status == 200);
    REQUIRE(ValidUtf8(audit.body));
    const Json list = audit.json();
    bool seen = false;
    for (const Json& item : list.Find("items")->as_array()) {
      if (item.GetString("reason").starts_with("support ")) {
        seen = true;
        CHECK(item.GetString("outcome") == "400");
      }
    }
    CHECK(seen);
  }
  // Nothing was appended, and every read still answers.
  CHECK(LastSeq(w, t) == head);
  Response list = w.Call(t, "GET", "/api/v1/search/promoted");
  REQUIRE(list.status == 200);
  CHECK(list.json().Find("items")->as_array().size() == 1);
  CHECK(w.Call(t, "GET", "/api/v1/events").status == 200);
  CHECK(w.Call(t, "GET", "/api/v1/search/promoted?as_of=seq:1").status == 200);
}

// The lifecycle callback `event` (enabled or disabled), signed with the
// installation's own token.
Response Toggle(World& w, const Tenant& t, const std::string& event) {
  const std::string path = "/lifecycle/" + event;
  return Http("POST", w.server->url(path),
              {t.Auth("POST", path), "Content-Type: application/json"},
              LifecycleBody(event, t.client_key, t.secret).Dump());
}

TEST_CASE("A disabled app is not served until it is enabled again",
          "[hardening]") {
  World w;
  Tenant t = w.Install("client-disabled");
  REQUIRE(w.Call(t, "GET", "/api/v1/sites").status == 200);
  REQUIRE(Toggle(w, t, "disabled").status == 204);
  Response r = w.Call(t, "GET", "/api/v1/sites");
  CHECK(IsProblem(r, 403));
  CHECK(DetailOf(r).find("disabled") != std::string::npos);
  CHECK(IsProblem(w.Call(t, "POST", "/api/v1/sites", R"({"name":"x"})"), 403));
  REQUIRE(Toggle(w, t, "enabled").status == 204);
  CHECK(w.Call(t, "GET", "/api/v1/sites").status == 200);
}

TEST_CASE(
    "Tokens: an unknown clientKey and a bad signature get one answer, "
    "and iat, nbf and lifetime are checked",
    "[hardening][auth]") {
  World w;
  Tenant t = w.Install("client-tokens");
  const std::string target = "/api/v1/sites";
  auto call = [&](const Json& claims, const std::string& secret) {
    return Http("GET", w.server->url(target),
                {"Authorization: JWT " + SignHs(claims, secret)});
  };
  Json unknown = TokenClaims(t, "GET", target);
  unknown.Set("iss", "client-nobody-installed");
  Response a = call(unknown, t.secret);
  Response b = call(TokenClaims(t, "GET", target), "not the secret");
  CHECK(IsProblem(a, 401));
  CHECK(IsProblem(b, 401));
  CHECK(DetailOf(a) == DetailOf(b));

  Json future = TokenClaims(t, "GET", target);
  future.Set("iat", NowSeconds() + 600);
  future.Set("exp", NowSeconds() + 900);
  CHECK(IsProblem(call(future, t.secret), 401));
  Json not_yet = TokenClaims(t, "GET", target);
  not_yet.Set("nbf", NowSeconds() + 600);
  CHECK(IsProblem(call(not_yet, t.secret), 401));
  Json day_long =
      TokenClaims(t, "GET", target, "5b10ac8d82e05b22cc7d4ef5", 24 * 3600);
  CHECK(IsProblem(call(day_long, t.secret), 401));
  Json no_iat =
      TokenClaims(t, "GET", target, "5b10ac8d82e05b22cc7d4ef5", 24 * 3600);
  no_iat.Erase("iat");
  CHECK(IsProblem(call(no_iat, t.secret), 401));
  // An hour is allowed; so is a token issued a little ahead of our clock.
  Json hour = TokenClaims(t, "GET", target, "5b10ac8d82e05b22cc7d4ef5", 3600);
  CHECK(call(hour, t.secret).status == 200);
  Json skewed = TokenClaims(t, "GET", target);
  skewed.Set("iat", NowSeconds() + 10);
  CHECK(call(skewed, t.secret).status == 200);
}

TEST_CASE(
    "A repeated query parameter is refused, not read first and hashed "
    "sorted",
    "[hardening]") {
  World w;
  Tenant t = w.Install("client-repeated");
  Response r = w.Call(t, "GET", "/api/v1/sites?limit=1&limit=200");
  CHECK(IsProblem(r, 400));
  CHECK(DetailOf(r).find("repeated") != std::string::npos);
  CHECK(w.Call(t, "GET", "/api/v1/sites?limit=1").status == 200);
}

TEST_CASE("Small things a hostile review found", "[hardening]") {
  OperatorsFile operators;
  const std::string token = operators.Add("ops", "read-tenant-data,audit");
  World w(operators.Flags());
  Tenant t = w.Install("client-small");

  SECTION("the last seq there can be is not the start again") {
    Response r = w.Call(t, "POST", "/api/v1/sites", R"({"name":"One"})");
    REQUIRE(r.status == 201);
    Response after =
        w.Call(t, "GET", "/api/v1/events?after=18446744073709551615");
    REQUIRE(after.status == 200);
    CHECK(after.json().Find("items")->as_array().empty());
  }
  SECTION("every answer says no-referrer and, but for media, no-store") {
    for (const Response& r :
         {w.Call(t, "GET", "/api/v1/sites"),
          w.Call(t, "GET", "/api/v1/sites/nope"),
          w.Call(t, "POST", "/api/v1/sites", R"({"name":"Two"})"),
          w.Call(t, "GET", "/api/v1/residency"),
          Http("GET", w.server->url("/healthz")),
          Http("GET", w.server->url("/openapi.json")),
          Http("GET", w.server->url("/api/v1/sites")),
          Http("GET", w.server->url("/no/such/route")),
          Admin(w, token, "GET", "/admin/tenants/client-small/sites",
                "a check")}) {
      INFO(r.status << " " << r.body.substr(0, 200));
      CHECK(r.header("referrer-policy") == "no-referrer");
      CHECK(r.header("cache-control") == "no-store");
      CHECK(r.header("x-content-type-options") == "nosniff");
    }
    // Answers the HTTP layer gives before any route: a malformed request
    // and headers over the limit; and the event stream's head.
    for (const std::string& raw :
         {std::string("GET /healthz HTTP/1.1\r\nHost x\r\n\r\n"),
          "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(64 * 1024, 'a') +
              "\r\n\r\n"}) {
      RawConnection c(w.server->base_url());
      REQUIRE(c.Send(raw));
      const Response r = c.Read();
      INFO(r.status);
      CHECK((r.status == 400 || r.status == 431));
      CHECK(r.header("referrer-policy") == "no-referrer");
      CHECK(r.header("cache-control") == "no-store");
      CHECK(r.header("x-content-type-options") == "nosniff");
    }
    const Response stream = w.Call(t, "HEAD", "/api/v1/events/stream");
    REQUIRE(stream.status == 200);
    CHECK(stream.header("referrer-policy") == "no-referrer");
    CHECK(stream.header("cache-control") == "no-store");
    CHECK(stream.header("x-content-type-options") == "nosniff");
  }
  SECTION("JSON answers are not sniffed") {
    CHECK(w.Call(t, "GET", "/api/v1/sites").header("x-content-type-options") ==
          "nosniff");
    CHECK(Http("GET", w.server->url("/healthz"))
              .header("x-content-type-options") == "nosniff");
    CHECK(w.Call(t, "GET", "/api/v1/sites/nope")
              .header("x-content-type-options") == "nosniff");
  }
  SECTION("HEAD of an operator's tenant read is audited as a read") {
    Response head =
        Admin(w, token, "HEAD", "/admin/tenants/client-small/sites", "a check");
    REQUIRE(head.status == 200);
    Response audit = Admin(w, token, "GET", "/admin/audit");
    REQUIRE(audit.status == 200);
    INFO(audit.body);
    const Json records = audit.json();
    bool seen = false;
    for (const Json& item : records.Find("items")->as_array()) {
      if (item.GetString("reason") == "a check") {
        seen = true;
        CHECK(item.GetString("action") == "operator.read");
      }
    }
    CHECK(seen);
  }
  SECTION("HEAD of the event stream sends its headers and no stream") {
    const std::string target = "/api/v1/events/stream";
    RawConnection c(w.server->base_url());
    REQUIRE(c.Send("HEAD " + target + " HTTP/1.1\r\nHost: x\r\n" +
                   t.Auth("HEAD", target) + "\r\n\r\n"));
    Response head = c.Read();
    CHECK(head.status == 200);
    CHECK(head.header("content-type") == "text/event-stream");
    // The connection carries the next request's answer, not a stream.
    REQUIRE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    Response next = c.Read();
    CHECK(next.status == 200);
    CHECK(next.body.find("\"ok\"") != std::string::npos);
  }
}

TEST_CASE(
    "Slow headers are held no longer than the read timeout, and one "
    "address holds at most its share of connections",
    "[hardening]") {
  World w({"--read-timeout", "2", "--max-connections-per-address", "4"});
  SECTION("slow headers") {
    RawConnection c(w.server->base_url());
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(c.Send("GET /healthz HTTP/1.1\r\n"));
    bool open = true;
    // A header byte every half second: 60 s of keep-alive before.
    for (int i = 0; i < 40 && open; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      open = c.Send("X");
    }
    if (open) {
      // The server may have closed without the send noticing yet.
      Response r = c.Read();
      open = r.status == 0 ? false : open;
    }
    const auto held = std::chrono::steady_clock::now() - start;
    CHECK_FALSE(open);
    CHECK(held < std::chrono::seconds(15));
  }
  SECTION("connections per address") {
    std::vector<std::unique_ptr<RawConnection>> held;
    for (int i = 0; i < 4; ++i) {
      held.push_back(std::make_unique<RawConnection>(w.server->base_url()));
    }
    // Each of the four answers; a fifth is closed unanswered.
    for (auto& c : held) {
      REQUIRE(c->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
      CHECK(c->Read().status == 200);
    }
    RawConnection fifth(w.server->base_url());
    fifth.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(fifth.Read().status == 0);
    held.pop_back();
    // Once one closes, another gets in.
    CHECK(Eventually([&] {
      RawConnection again(w.server->base_url());
      again.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      return again.Read().status == 200;
    }));
  }
}

// A TCP connection to `port` from the loopback address 127.0.0.`source`
// that sends nothing; -1 if it could not connect.
int IdleConnection(int port, int source) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(0x7f000000u | static_cast<uint32_t>(source));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

size_t OpenFds(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(
           "/proc/" + std::to_string(pid) + "/fd")) {
    ++n;
  }
  return n;
}

TEST_CASE(
    "Hostile clients get a bounded answer or a closed connection, and the "
    "server serves others meanwhile",
    "[hardening][hostile]") {
  World w({"--read-timeout", "2"});
  Tenant t = w.Install("client-hostile");
  REQUIRE(w.Call(t, "POST", "/api/v1/sites", R"({"name":"Kept"})").status ==
          201);
  const int port = std::stoi(
      w.server->base_url().substr(w.server->base_url().rfind(':') + 1));
  auto served = [&] {
    const auto start = std::chrono::steady_clock::now();
    const Response r = w.Call(t, "GET", "/api/v1/sites");
    const double ms = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count();
    INFO(r.status << " in " << ms << " ms");
    CHECK(r.status == 200);
    return ms;
  };
  served();
  const size_t fds_before = OpenFds(w.server->pid());

  SECTION("two thousand idle connections") {
    // This process holds them too: its own open-file limit, raised.
    rlimit limit{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
    limit.rlim_cur = limit.rlim_max;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &limit) == 0);
    REQUIRE(limit.rlim_cur > 2500);
    std::vector<int> idle;
    for (int source = 2; source < 10; ++source) {
      for (int i = 0; i < 250; ++i) {
        const int fd = IdleConnection(port, source);
        if (fd >= 0) idle.push_back(fd);
      }
    }
    CHECK(idle.size() == 2000);
    // Held by the server (each is a descriptor there), and others served.
    CHECK(Eventually(
        [&] { return OpenFds(w.server->pid()) >= fds_before + 1900; }));
    const double ms = served();
    CHECK(ms < 1000);
    for (const int fd : idle) ::close(fd);
    // Every descriptor is given back.
    CHECK(
        Eventually([&] { return OpenFds(w.server->pid()) <= fds_before + 5; }));
  }
  SECTION("a body that never ends") {
    RawConnection c(w.server->base_url());
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(
        c.Send("POST /api/v1/sites HTTP/1.1\r\nHost: x\r\n"
               "Content-Type: application/json\r\n"
               "Content-Length: 100000\r\n\r\n{\"name\":"));
    // Nothing more: the server gives up within its read timeout.
    const Response r = c.Read();
    const auto held = std::chrono::steady_clock::now() - start;
    CHECK(r.status <= 0);
    CHECK(held < std::chrono::seconds(8));
    served();
  }
  SECTION("pipelined requests are answered in order") {
    RawConnection c(w.server->base_url());
    REQUIRE(
        c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /no/such HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    const std::string in = c.ReadUntil("HTTP/1.1 ", 3);
    const size_t first = in.find("HTTP/1.1 200");
    const size_t second = in.find("HTTP/1.1 404");
    const size_t third = in.find("HTTP/1.1 200", first + 1);
    INFO(in);
    CHECK(first != std::string::npos);
    CHECK(second != std::string::npos);
    CHECK(third != std::string::npos);
    CHECK((first < second && second < third));
  }
  SECTION("ids: bad percent-encoding, traversal, NUL, overlong UTF-8") {
    for (const std::string id :
         {"%zz", "%", "%2", "..", "%2e%2e", "..%2f..%2fetc%2fpasswd", "%2F",
          "a%00b", "%C0%AE%C0%AE", "%ED%A0%80", "%FF"}) {
      const Response r = w.Call(t, "GET", "/api/v1/sites/" + id);
      INFO(id << ": " << r.status << " " << r.body);
      CHECK((r.status == 400 || r.status == 404));
    }
    served();
  }
  SECTION("JSON: deeply nested, duplicate keys, not UTF-8") {
    const std::string deep(100000, '[');
    for (const std::string& body :
         {"{\"name\":" + deep + "}", std::string(R"({"name":"a","name":"b"})"),
          std::string("{\"name\":\"\xC0\xAE\"}"), std::string(R"({"name":"a")"),
          std::string(R"({"name":"\ud800"})")}) {
      const Response r = w.Call(t, "POST", "/api/v1/sites", body);
      INFO(body.substr(0, 40) << ": " << r.status << " " << r.body);
      CHECK(r.status == 400);
    }
    Response list = w.Call(t, "GET", "/api/v1/sites");
    REQUIRE(list.status == 200);
    CHECK(list.json().Find("items")->as_array().size() == 1);
  }
}

}  // namespace
}  // namespace siteledger::e2e
