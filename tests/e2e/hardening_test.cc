// Regressions from the hostile review of the running server (the hardening
// issue): each test names what broke.

#include <catch2/catch.hpp>

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

}  // namespace
}  // namespace siteledger::e2e
