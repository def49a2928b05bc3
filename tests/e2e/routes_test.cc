// The route table drives the router, the dispatch and the OpenAPI document:
// every operation the document names is served by a real siteledgerd, with
// real credentials, by a handler of its own, and none sets a cookie.

#include <catch2/catch.hpp>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

// `path` with each {parameter} replaced by a value a handler will look at.
std::string Fill(std::string path, const std::string& client_key) {
  for (size_t at = path.find('{'); at != std::string::npos;
       at = path.find('{', at)) {
    const size_t end = path.find('}', at);
    const std::string name = path.substr(at + 1, end - at - 1);
    const std::string value = name == "clientKey"   ? client_key
                              : name == "contentId" ? "12345"
                              : name == "domain"    ? "intranet.example.com"
                              : name == "spaceKey"  ? "DOCS"
                                                    : "no-such-" + name;
    path.replace(at, end - at + 1, value);
    at += value.size();
  }
  return path;
}

TEST_CASE(
    "Every documented operation is served by its handler and no answer sets "
    "a cookie",
    "[routes]") {
  OperatorsFile operators;
  const std::string token = operators.Add(
      "root",
      "read-tenant-data,restore,migrate,purge,erase-users,usage,audit,clock");
  std::vector<std::string> flags = operators.Flags();
  flags.push_back("--test-clock");
  World w(flags);
  Tenant t = w.Install("routes-tenant");

  Response doc = Http("GET", w.server->url("/openapi.json"));
  REQUIRE(doc.status == 200);
  const Json spec = doc.json();
  size_t operations = 0;
  // Uninstalling ends the tenant's access: that callback goes last.
  std::vector<std::pair<std::string, std::string>> order;
  for (const auto& [path, methods] : spec.Find("paths")->as_object()) {
    for (const auto& [method, op] : methods.as_object()) {
      if (path != "/lifecycle/uninstalled") order.emplace_back(path, method);
    }
  }
  order.emplace_back("/lifecycle/uninstalled", "post");

  for (const auto& [path, lower_method] : order) {
    const Json& op = *spec.Find("paths")->Find(path)->Find(lower_method);
    std::string method = lower_method;
    for (char& c : method) c = static_cast<char>(std::toupper(c));
    std::string target = Fill(path, t.client_key);
    // The live stream would stay open: ask it to resume from a bad id,
    // which its handler refuses.
    if (path == "/api/v1/events/stream") target += "?last_event_id=x";
    std::string body;
    if (op.Find("requestBody") != nullptr) body = "{}";
    if (path == "/admin/clock") body = R"({"advance":"0s"})";

    Response r;
    const Json* security = op.Find("security");
    const std::string scheme =
        security != nullptr && !security->as_array().empty()
            ? security->as_array()[0].as_object().begin()->first
            : std::string();
    if (path == "/lifecycle/installed" || path == "/lifecycle/uninstalled") {
      r = w.Lifecycle(path.substr(11), t.client_key, t.secret);
    } else if (scheme == "connectJwt") {
      r = w.Call(t, method, target, body);
    } else if (scheme == "operatorBearer") {
      r = Admin(w, token, method, target, "checking every route", body);
    } else {
      r = Http(method, w.server->url(target), {}, body);
    }
    ++operations;
    INFO(method << " " << target << " -> " << r.status << " " << r.body);
    CHECK(r.status != 405);
    CHECK_FALSE((r.status == 404 && DetailOf(r) == "no route for this path"));
    CHECK(r.status < 500);
    // siteledger keeps no session: no answer, success or error, sets a
    // cookie (the privacy promise; tokens travel in headers).
    CHECK(r.header("set-cookie").empty());
    // A success is one the document promises.
    if (r.status >= 200 && r.status < 300) {
      CHECK(op.Find("responses")->Find(std::to_string(r.status)) != nullptr);
    }
  }
  // The table has some sixty operations with the test clock on.
  CHECK(operations >= 60);
}

}  // namespace
}  // namespace siteledger::e2e
