// The served /openapi.json as a contract: Redocly's linter finds no error in
// it, and a TypeScript client generated from it (openapi-typescript types,
// openapi-fetch calls, type-checked by tsc) drives every resource kind of a
// real siteledgerd through create, read, list, update with If-Match and
// delete. The npm packages are pinned by tests/e2e/ts_client's
// package-lock.json.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

namespace fs = std::filesystem;

const fs::path kClientSource = fs::path(E2E_SOURCE_DIR) / "ts_client";

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteAll(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

// The pinned packages, installed with `npm ci` into a prefix of this file's
// own (E2E_NODE_PREFIX-ts-client), again only when the lock file changed.
// The tests here share it: under ctest -j an flock keeps a second install
// from racing the first.
fs::path ClientPrefix() {
  const fs::path prefix = std::string(E2E_NODE_PREFIX) + "-ts-client";
  fs::create_directories(prefix);
  const int lock_fd =
      ::open((prefix / ".install-lock").c_str(), O_CREAT | O_RDWR, 0644);
  REQUIRE(lock_fd >= 0);
  REQUIRE(::flock(lock_fd, LOCK_EX) == 0);
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }  // releases the flock
  } unlock{lock_fd};
  const std::string lock = ReadAll(kClientSource / "package-lock.json");
  const fs::path installed = prefix / "installed-package-lock.json";
  if (!fs::exists(installed) || ReadAll(installed) != lock) {
    WriteAll(prefix / "package.json", ReadAll(kClientSource / "package.json"));
    WriteAll(prefix / "package-lock.json", lock);
    auto [code, out] = RunProgram(
        {"npm", "ci", "--no-audit", "--no-fund", "--prefix", prefix.string()});
    INFO(out);
    REQUIRE(code == 0);
    WriteAll(installed, lock);
  }
  return prefix;
}

std::string Bin(const fs::path& prefix, const std::string& name) {
  return (prefix / "node_modules" / ".bin" / name).string();
}

// A fresh folder below the prefix (so that node finds its node_modules)
// holding the served document.
fs::path WorkDir(const fs::path& prefix, World& w, const std::string& name) {
  const fs::path dir = prefix / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  Response doc = Http("GET", w.server->url("/openapi.json"));
  REQUIRE(doc.status == 200);
  WriteAll(dir / "openapi.json", doc.body);
  return dir;
}

TEST_CASE("The OpenAPI document passes Redocly's lint without an error",
          "[e2e][openapi][npm]") {
  const fs::path prefix = ClientPrefix();
  World w;
  const fs::path dir = WorkDir(prefix, w, "lint");
  ::setenv("REDOCLY_TELEMETRY", "off", 1);
  ::setenv("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true", 1);
  auto [code, out] = RunProgram({Bin(prefix, "redocly"), "lint",
                                 (dir / "openapi.json").string(), "--config",
                                 (kClientSource / "redocly.yaml").string(),
                                 "--format", "stylish"});
  INFO(out);
  CHECK(code == 0);
  fs::remove_all(dir);
}

// Whether any schema below `j` still says "exactly one property" only by
// counting, which generators ignore.
bool CountsProperties(const Json& j) {
  if (j.is_array()) {
    for (const Json& v : j.as_array()) {
      if (CountsProperties(v)) return true;
    }
  }
  if (!j.is_object()) return false;
  if (j.Find("maxProperties") != nullptr) return true;
  for (const auto& [k, v] : j.as_object()) {
    if (CountsProperties(v)) return true;
  }
  return false;
}

TEST_CASE(
    "Every operation in the OpenAPI document has a unique camelCase "
    "operationId, a tag, a summary and its problem+json errors",
    "[e2e][openapi]") {
  World w;
  const Json doc = Http("GET", w.server->url("/openapi.json")).json();
  CHECK_FALSE(CountsProperties(doc));
  std::set<std::string> ids;
  for (const auto& [pattern, ops] : doc.Find("paths")->as_object()) {
    for (const auto& [method, op] : ops.as_object()) {
      INFO(method << " " << pattern);
      const std::string id(op.GetString("operationId"));
      CHECK(ids.insert(id).second);
      REQUIRE_FALSE(id.empty());
      CHECK(std::islower(static_cast<unsigned char>(id[0])));
      CHECK(std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c));
      }));
      REQUIRE(op.Find("tags") != nullptr);
      CHECK(op.Find("tags")->as_array().size() == 1);
      CHECK_FALSE(op.GetString("summary").empty());
      const Json& responses = *op.Find("responses");
      std::vector<std::string> errors = {"500"};
      const Json* security = op.Find("security");
      if (!security->as_array().empty()) errors.push_back("401");
      if (pattern.starts_with("/api/v1/")) {
        for (const char* s : {"400", "403", "404", "429"}) errors.push_back(s);
      }
      const Json* params = op.Find("parameters");
      const bool if_match =
          params != nullptr &&
          std::any_of(
              params->as_array().begin(), params->as_array().end(),
              [](const Json& p) { return p.GetString("name") == "If-Match"; });
      if (if_match) {
        for (const char* s : {"409", "412", "413", "507"}) errors.push_back(s);
      }
      for (const std::string& status : errors) {
        INFO(status);
        const Json* r = responses.Find(status);
        REQUIRE(r != nullptr);
        CHECK(r->Find("content")
                  ->Find("application/problem+json")
                  ->Find("schema")
                  ->GetString("$ref") == "#/components/schemas/Problem");
      }
    }
  }
  CHECK(ids.contains("getApiV1SitesById"));
  CHECK(ids.contains("getAdminTenantsByClientKeySitesById"));
}

TEST_CASE("Every request body example in the OpenAPI document is accepted",
          "[e2e][openapi]") {
  World w;
  Tenant t = w.Install("client-openapi-examples");
  const Json doc = Http("GET", w.server->url("/openapi.json")).json();
  // Path parameters that name no existing entity, for the routes that
  // create one at a path of their choosing.
  const std::map<std::string, std::string> params = {{"{keyword}", "HR"},
                                                     {"{contentId}", "12345"}};
  size_t sent = 0;
  for (const auto& [pattern, ops] : doc.Find("paths")->as_object()) {
    if (!pattern.starts_with("/api/v1/")) continue;
    for (const auto& [method, op] : ops.as_object()) {
      const Json* body = op.Find("requestBody");
      if (body == nullptr) continue;
      const Json* json = body->Find("content")->Find("application/json");
      const Json* example = json == nullptr ? nullptr : json->Find("example");
      if (example == nullptr) continue;
      std::string target = pattern;
      for (const auto& [param, value] : params) {
        const size_t at = target.find(param);
        if (at != std::string::npos) target.replace(at, param.size(), value);
      }
      if (target.find('{') != std::string::npos) {
        // Names an entity: made by the create route's own example first.
        Response sites = w.Call(t, "GET", "/api/v1/sites");
        REQUIRE(sites.json().Find("items")->as_array().size() >= 1);
        target.replace(
            target.find("{id}"), 4,
            sites.json().Find("items")->as_array()[0].GetString("id"));
      }
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(c));
      INFO(upper << " " << target << " " << example->Dump());
      Response r = w.Call(t, upper, target, example->Dump());
      INFO(r.body);
      CHECK(r.status / 100 == 2);
      ++sent;
    }
  }
  CHECK(sent >= 8);
}

TEST_CASE(
    "A TypeScript client generated from the OpenAPI document type-checks and "
    "drives every resource kind through the server",
    "[e2e][openapi][npm]") {
  const fs::path prefix = ClientPrefix();
  World w;
  Tenant t = w.Install("client-openapi-ts");
  const fs::path dir = WorkDir(prefix, w, "client");
  for (const char* file : {"flow.ts", "tsconfig.json"}) {
    fs::copy_file(kClientSource / file, dir / file);
  }
  {
    auto [code, out] = RunProgram({Bin(prefix, "openapi-typescript"),
                                   (dir / "openapi.json").string(), "--output",
                                   (dir / "schema.d.ts").string()});
    INFO(out);
    REQUIRE(code == 0);
  }
  {
    // Type-checks the flow against the generated types, then emits it.
    auto [code, out] = RunProgram(
        {Bin(prefix, "tsc"), "--project", (dir / "tsconfig.json").string()});
    INFO(out);
    REQUIRE(code == 0);
  }
  auto [code, out] = RunProgram({"node", (dir / "out" / "flow.js").string(),
                                 w.server->base_url(), t.client_key, t.secret,
                                 (dir / "openapi.json").string()});
  INFO(out);
  REQUIRE(code == 0);
  CHECK(out.find("ok") != std::string::npos);

  // The flow left nothing behind but the log of what it did.
  Response sites = w.Call(t, "GET", "/api/v1/sites");
  REQUIRE(sites.status == 200);
  CHECK(sites.json().Find("items")->as_array().empty());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace siteledger::e2e
