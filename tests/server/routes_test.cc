#include "server/routes.h"

#include <catch2/catch.hpp>
#include <set>

#include "server/openapi.h"

namespace siteledger::server {
namespace {

// A concrete path for a route pattern: each {parameter} becomes "p".
std::string Concrete(const std::string& pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{') {
      out += "p";
      i = pattern.find('}', i);
    } else {
      out += pattern[i];
    }
  }
  return out;
}

TEST_CASE("Every row of the route table is routed to itself and documented",
          "[routes]") {
  for (bool test_clock : {false, true}) {
    const std::vector<RouteSpec> table =
        BuildRouteTable({.test_clock = test_clock});
    const Router router = BuildRouter(table);
    const projections::Json doc =
        BuildOpenApi(table, "https://app.example.com");
    const projections::Json& paths = *doc.Find("paths");
    std::set<std::string> seen;
    for (size_t i = 0; i < table.size(); ++i) {
      const RouteSpec& row = table[i];
      INFO(row.method << " " << row.path);
      // No two rows for one method and path.
      CHECK(seen.insert(row.method + " " + row.path).second);
      RouteMatch m = router.Match(row.method, Concrete(row.path));
      REQUIRE(m.route != nullptr);
      CHECK(static_cast<size_t>(m.route->handler) == i);
      std::string method = row.method;
      for (char& c : method) c = static_cast<char>(std::tolower(c));
      const projections::Json* path = paths.Find(row.path);
      REQUIRE(path != nullptr);
      const projections::Json* op = path->Find(method);
      REQUIRE(op != nullptr);
      CHECK(op->GetString("summary") == row.summary);
      CHECK(op->Find("responses")->Find(std::to_string(row.success)) !=
            nullptr);
      // The generic actions have what they need in the row.
      if (row.action == Action::kCommand && row.success == 201 &&
          !row.location.empty()) {
        CHECK(row.location.back() == '/');
      }
      if (row.is_list()) CHECK(row.default_limit <= row.max_limit);
      if (row.body == BodyUse::kRequired) {
        CHECK(op->Find("requestBody") != nullptr);
      }
      // Operators reach a tenant's data only below its clientKey, audited.
      if (row.handler == Handler::kOperator &&
          row.path.starts_with(kOperatorTenantPrefix)) {
        CHECK(row.access == Access::kOperator);
      }
    }
    size_t documented = 0;
    for (const auto& [pattern, ops] : paths.as_object()) {
      documented += ops.as_object().size();
    }
    CHECK(documented == table.size());
    CHECK(seen.contains("POST /admin/clock") == test_clock);
  }
}

TEST_CASE(
    "Each tenant read the operators mirror is the same row below the "
    "clientKey",
    "[routes]") {
  const std::vector<RouteSpec> table = BuildRouteTable({});
  size_t mirrored = 0;
  for (const RouteSpec& row : table) {
    if (!row.mirrored) continue;
    ++mirrored;
    INFO(row.path);
    const std::string mirror = std::string(kOperatorTenantPrefix) +
                               row.path.substr(std::string("/api/v1").size());
    auto it = std::find_if(table.begin(), table.end(), [&](const RouteSpec& r) {
      return r.path == mirror && r.method == row.method;
    });
    REQUIRE(it != table.end());
    CHECK(it->action == row.action);
    CHECK(it->view == row.view);
    CHECK(it->handler == Handler::kOperator);
    CHECK(it->scope == Scope::kReadTenantData);
    CHECK(it->method == "GET");
  }
  CHECK(mirrored == 17);
}

}  // namespace
}  // namespace siteledger::server
