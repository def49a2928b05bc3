// Routing errors and the public routes: health, readiness, metrics, the
// OpenAPI document and the app descriptor.

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <set>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

// Every route of server/app.cc, as method and template.
const std::vector<std::pair<std::string, std::string>> kRoutes = {
    {"GET", "/healthz"},
    {"GET", "/readyz"},
    {"GET", "/metrics"},
    {"GET", "/openapi.json"},
    {"GET", "/atlassian-connect.json"},
    {"POST", "/lifecycle/installed"},
    {"POST", "/lifecycle/uninstalled"},
    {"POST", "/lifecycle/enabled"},
    {"POST", "/lifecycle/disabled"},
    {"GET", "/api/v1/sites"},
    {"POST", "/api/v1/sites"},
    {"GET", "/api/v1/sites/{id}"},
    {"PATCH", "/api/v1/sites/{id}"},
    {"DELETE", "/api/v1/sites/{id}"},
    {"PUT", "/api/v1/sites/{id}/domains/{domain}"},
    {"DELETE", "/api/v1/sites/{id}/domains/{domain}"},
    {"PUT", "/api/v1/sites/{id}/spaces/{spaceKey}"},
    {"DELETE", "/api/v1/sites/{id}/spaces/{spaceKey}"},
    {"GET", "/api/v1/sites/{id}/navigation"},
    {"PUT", "/api/v1/sites/{id}/navigation"},
    {"POST", "/api/v1/sites/{id}/navigation/items"},
    {"POST", "/api/v1/sites/{id}/navigation/items/{itemId}/move"},
    {"DELETE", "/api/v1/sites/{id}/navigation/items/{itemId}"},
    {"GET", "/api/v1/themes"},
    {"POST", "/api/v1/themes"},
    {"GET", "/api/v1/themes/{id}"},
    {"PUT", "/api/v1/themes/{id}"},
    {"DELETE", "/api/v1/themes/{id}"},
    {"GET", "/api/v1/layouts"},
    {"POST", "/api/v1/layouts"},
    {"GET", "/api/v1/layouts/{id}"},
    {"PUT", "/api/v1/layouts/{id}"},
    {"DELETE", "/api/v1/layouts/{id}"},
    {"POST", "/api/v1/layouts/{id}/publish"},
    {"GET", "/api/v1/announcements"},
    {"POST", "/api/v1/announcements"},
    {"GET", "/api/v1/announcements/{id}"},
    {"PUT", "/api/v1/announcements/{id}"},
    {"DELETE", "/api/v1/announcements/{id}"},
    {"GET", "/api/v1/search/promoted"},
    {"GET", "/api/v1/search/promoted/{keyword}"},
    {"PUT", "/api/v1/search/promoted/{keyword}"},
    {"DELETE", "/api/v1/search/promoted/{keyword}"},
    {"GET", "/api/v1/pages/{contentId}/featured"},
    {"PUT", "/api/v1/pages/{contentId}/featured"},
    {"DELETE", "/api/v1/pages/{contentId}/featured"},
    {"GET", "/api/v1/feedback"},
    {"POST", "/api/v1/feedback"},
    {"GET", "/api/v1/feedback/{id}"},
    {"DELETE", "/api/v1/feedback/{id}"},
    {"POST", "/api/v1/feedback/{id}/resolve"},
    {"GET", "/api/v1/users"},
    {"GET", "/api/v1/users/{id}"},
    {"GET", "/api/v1/events"},
    {"GET", "/api/v1/events/stream"},
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(c));
  return s;
}

TEST_CASE(
    "Unknown routes are 404 and wrong methods are 405 with an Allow header, as "
    "problem+json",
    "[e2e]") {
  World w;
  for (const std::string& path :
       std::vector<std::string>{"/", "/api", "/api/v1", "/api/v1/nothing",
                                "/api/v2/sites", "/api/v1/sites/s_1/unknown",
                                "/healthz/more", "/lifecycle/deleted"}) {
    Response r = Http("GET", w.server->url(path));
    INFO(path << " -> " << r.body);
    CHECK(IsProblem(r, 404));
  }
  struct Case {
    std::string method, path, allow;
  };
  for (const Case& c : std::vector<Case>{
           {"DELETE", "/healthz", "GET, HEAD"},
           {"POST", "/metrics", "GET, HEAD"},
           {"GET", "/lifecycle/installed", "POST"},
           {"PUT", "/api/v1/sites", "GET, HEAD, POST"},
           {"POST", "/api/v1/sites/s_1", "DELETE, GET, HEAD, PATCH"},
           {"PATCH", "/api/v1/themes/t_1", "DELETE, GET, HEAD, PUT"},
           {"GET", "/api/v1/layouts/l_1/publish", "POST"},
           {"GET", "/api/v1/sites/s_1/domains/a.example.com", "DELETE, PUT"},
       }) {
    // No token: the method is wrong whoever asks.
    Response r = Http(c.method, w.server->url(c.path), {}, "");
    INFO(c.method << " " << c.path << " -> " << r.body);
    CHECK(IsProblem(r, 405));
    CHECK(r.header("allow") == c.allow);
  }
}

TEST_CASE(
    "Health, readiness, metrics, the OpenAPI document and the app descriptor "
    "are public",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-public-routes");

  Response health = Http("GET", w.server->url("/healthz"));
  CHECK(health.status == 200);
  CHECK(health.json().GetString("status") == "ok");
  Response head = Http("HEAD", w.server->url("/healthz"));
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  Response ready = Http("GET", w.server->url("/readyz"));
  CHECK(ready.status == 200);
  CHECK(ready.json().GetString("status") == "ready");
  CHECK(ready.json().GetString("region") == "us");

  // Traffic for the metrics: a site read, a 404 with a raw path, a 401.
  Response site = w.Call(t, "POST", "/api/v1/sites", R"({"name":"Metered"})");
  REQUIRE(site.status == 201);
  const std::string id(site.json().GetString("id"));
  REQUIRE(w.Call(t, "GET", "/api/v1/sites/" + id).status == 200);
  REQUIRE(
      Http("GET", w.server->url("/api/v1/very-secret-raw-path-42")).status ==
      404);
  REQUIRE(Http("GET", w.server->url("/api/v1/sites/" + id)).status == 401);

  Response metrics = Http("GET", w.server->url("/metrics"));
  REQUIRE(metrics.status == 200);
  CHECK(metrics.header("content-type").rfind("text/plain", 0) == 0);
  const std::string& m = metrics.body;
  CHECK(m.find("# TYPE siteledger_http_requests_total counter") !=
        std::string::npos);
  CHECK(m.find("siteledger_http_requests_total{route=\"/api/v1/sites/{id}\","
               "method=\"GET\",status=\"200\"} 1") != std::string::npos);
  CHECK(m.find("siteledger_http_requests_total{route=\"/api/v1/sites\","
               "method=\"POST\",status=\"201\"} 1") != std::string::npos);
  CHECK(m.find("siteledger_http_requests_total{route=\"/api/v1/sites/{id}\","
               "method=\"GET\",status=\"401\"} 1") != std::string::npos);
  CHECK(m.find("route=\"unmatched\"") != std::string::npos);
  // Never an id, a path as sent or a tenant.
  CHECK(m.find(id) == std::string::npos);
  CHECK(m.find("very-secret-raw-path") == std::string::npos);
  CHECK(m.find(t.client_key) == std::string::npos);
  CHECK(m.find(t.secret) == std::string::npos);
  // Every sample line is "name{labels} value" or "name value".
  std::istringstream lines(m);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    INFO(line);
    CHECK(line.rfind("siteledger_", 0) == 0);
    CHECK(line.find(' ') != std::string::npos);
  }

  Response openapi = Http("GET", w.server->url("/openapi.json"));
  REQUIRE(openapi.status == 200);
  CHECK(openapi.header("content-type").rfind("application/json", 0) == 0);
  const Json doc = openapi.json();
  CHECK(doc.GetString("openapi") == "3.1.0");
  const Json* paths = doc.Find("paths");
  REQUIRE(paths != nullptr);
  std::set<std::string> documented;
  for (const auto& [path, ops] : paths->as_object()) {
    for (const auto& [method, op] : ops.as_object()) {
      documented.insert(method + " " + path);
    }
  }
  for (const auto& [method, path] : kRoutes) {
    INFO(method << " " << path);
    CHECK(documented.contains(Lower(method) + " " + path));
  }

  Response descriptor = Http("GET", w.server->url("/atlassian-connect.json"));
  REQUIRE(descriptor.status == 200);
  const Json d = descriptor.json();
  CHECK(d.GetString("key") == "siteledger");
  CHECK(d.GetString("baseUrl") == w.server->base_url());
  REQUIRE(d.Find("authentication") != nullptr);
  CHECK(d.Find("authentication")->GetString("type") == "jwt");
  const Json* lifecycle = d.Find("lifecycle");
  REQUIRE(lifecycle != nullptr);
  CHECK(lifecycle->GetString("installed") == "/lifecycle/installed");
  CHECK(lifecycle->GetString("uninstalled") == "/lifecycle/uninstalled");
  CHECK(lifecycle->GetString("enabled") == "/lifecycle/enabled");
  CHECK(lifecycle->GetString("disabled") == "/lifecycle/disabled");
  const Json* migrations = d.Find("apiMigrations");
  REQUIRE(migrations != nullptr);
  for (const char* flag : {"signed-install", "context-qsh", "gdpr"}) {
    INFO(flag);
    REQUIRE(migrations->Find(flag) != nullptr);
    CHECK(*migrations->Find(flag) == Json(true));
  }
}

}  // namespace
}  // namespace siteledger::e2e
