#include "server/openapi.h"

#include <catch2/catch.hpp>

#include "server/app.h"
#include "tests/storage/rig.h"

namespace siteledger::server {
namespace {

TEST_CASE("The OpenAPI document covers every route, and nothing else",
          "[openapi]") {
  testing::TempDir dir;
  siteledger::SystemClock clock;
  storage::StoreOptions options;
  options.data = dir / "us";
  options.clock = &clock;
  auto store = storage::Store::Open(options);
  REQUIRE(store.has_value());
  Config config;
  config.base_url = "https://app.example.com";
  App app(**store, config);

  const projections::Json doc = BuildOpenApi(app.routes(), config.base_url);
  CHECK(doc.GetString("openapi") == "3.1.0");
  const projections::Json& paths = *doc.Find("paths");
  size_t operations = 0;
  for (const Route& route : app.router().routes()) {
    INFO(route.method << " " << route.pattern);
    const projections::Json* path = paths.Find(route.pattern);
    REQUIRE(path != nullptr);
    std::string method = route.method;
    for (char& c : method) c = static_cast<char>(std::tolower(c));
    const projections::Json* op = path->Find(method);
    REQUIRE(op != nullptr);
    CHECK(op->Find("responses") != nullptr);
    CHECK(op->Find("operationId") != nullptr);
    ++operations;
  }
  size_t documented = 0;
  for (const auto& [pattern, ops] : paths.as_object()) {
    documented += ops.as_object().size();
  }
  CHECK(documented == operations);

  SECTION("request bodies carry their required fields") {
    const auto& create = *paths.Find("/api/v1/sites")->Find("post");
    const auto& schema = *create.Find("requestBody")
                              ->Find("content")
                              ->Find("application/json")
                              ->Find("schema");
    CHECK(schema.Find("required")->Dump() == R"(["name"])");
    CHECK(schema.Find("additionalProperties")->as_bool() == false);
    // Server-set fields are not part of the body.
    CHECK(schema.Find("properties")->Find("siteId") == nullptr);
    CHECK(schema.Find("properties")->Find("v") == nullptr);
  }
  SECTION("every answer documents X-Request-Id, and every operation takes it") {
    for (const auto& [path, item] : doc.Find("paths")->as_object()) {
      for (const auto& [method, op] : item.as_object()) {
        INFO(method << " " << path);
        bool takes = false;
        for (const auto& p : op.Find("parameters")->as_array()) {
          takes |= p.GetString("$ref") == "#/components/parameters/XRequestId";
        }
        CHECK(takes);
        for (const auto& [status, response] :
             op.Find("responses")->as_object()) {
          INFO(status);
          const projections::Json* headers = response.Find("headers");
          REQUIRE(headers != nullptr);
          CHECK(headers->Find("X-Request-Id") != nullptr);
        }
      }
    }
  }
  SECTION("every $ref resolves") {
    std::function<void(const projections::Json&)> walk =
        [&](const projections::Json& j) {
          if (j.is_object()) {
            for (const auto& [k, v] : j.as_object()) {
              if (k == "$ref") {
                // #/components/<section>/<name>, and it is there.
                const std::string ref = v.as_string();
                INFO(ref);
                REQUIRE(ref.starts_with("#/components/"));
                const std::string rest = ref.substr(13);
                const size_t slash = rest.find('/');
                REQUIRE(slash != std::string::npos);
                const projections::Json* section =
                    doc.Find("components")->Find(rest.substr(0, slash));
                REQUIRE(section != nullptr);
                CHECK(section->Find(rest.substr(slash + 1)) != nullptr);
              } else {
                walk(v);
              }
            }
          } else if (j.is_array()) {
            for (const auto& v : j.as_array()) walk(v);
          }
        };
    walk(doc);
  }
}

}  // namespace
}  // namespace siteledger::server
