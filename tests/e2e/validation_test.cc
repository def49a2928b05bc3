// Bodies the server refuses: malformed, too large, not JSON, unknown fields,
// and content siteledger never stores. Each answer is problem+json and
// nothing is written.

#include <catch2/catch.hpp>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

TEST_CASE(
    "Malformed, oversized, non-JSON, unknown and forbidden bodies are refused "
    "with problem+json and store nothing",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-validation");
  Response site = w.Call(t, "POST", "/api/v1/sites", R"({"name":"Valid"})");
  REQUIRE(site.status == 201);
  const std::string id(site.json().GetString("id"));
  REQUIRE(Eventually([&] { return LastSeq(w, t) == 2; }));  // + user.seen
  const uint64_t before = LastSeq(w, t);

  struct Case {
    std::string name;
    std::string method, target, body;
    long status;
    std::string detail;  // a part the problem's detail must name
    std::string content_type = "Content-Type: application/json";
  };
  const std::string site_url = "/api/v1/sites/" + id;
  const std::vector<Case> cases = {
      {"truncated JSON", "POST", "/api/v1/sites", R"({"name":)", 400, ""},
      {"trailing garbage", "POST", "/api/v1/sites", R"({"name":"a"} x)", 400,
       ""},
      {"a duplicate key", "POST", "/api/v1/sites", R"({"name":"a","name":"b"})",
       400, ""},
      {"an array body", "POST", "/api/v1/sites", R"(["name"])", 400, ""},
      {"a fraction", "POST", "/api/v1/feedback", R"({"text":"x","rating":4.5})",
       400, ""},
      {"bad UTF-8 in a string", "POST", "/api/v1/sites",
       "{\"name\":\"caf\xc3\x28\"}", 400, ""},
      {"a lone continuation byte", "PATCH", site_url, "{\"name\":\"\x80\x80\"}",
       400, ""},
      {"an overlong encoding", "POST", "/api/v1/sites",
       "{\"name\":\"\xc0\xaf\"}", 400, ""},
      {"text/plain", "POST", "/api/v1/sites", R"({"name":"Plain"})", 415, "",
       "Content-Type: text/plain"},
      {"form encoded", "POST", "/api/v1/sites", "name=Form", 415, "",
       "Content-Type: application/x-www-form-urlencoded"},
      {"no content type", "POST", "/api/v1/sites", R"({"name":"None"})", 415,
       "", "Content-Type:"},
      {"an unknown field", "POST", "/api/v1/sites",
       R"({"name":"x","colour":"red"})", 400, "colour"},
      {"an unknown nested field", "POST", "/api/v1/themes",
       R"({"name":"x","colors":{"primary":"#fff","glow":"#000"}})", 400,
       "glow"},
      {"an unknown field in a PATCH", "PATCH", site_url,
       R"({"name":"x","owner":"me"})", 400, "owner"},
      {"a password field", "POST", "/api/v1/sites",
       R"({"name":"x","password":"hunter2"})", 400, "password"},
      {"an apiKey field", "PATCH", site_url, R"({"name":"x","apiKey":"abc"})",
       400, "apiKey"},
      {"a token-shaped value", "POST", "/api/v1/sites",
       R"({"name":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc"})", 400,
       "credential"},
      {"a private key", "POST", "/api/v1/feedback",
       R"({"text":"-----BEGIN RSA PRIVATE KEY-----\nMIIB"})", 400,
       "credential"},
      {"a Confluence page body", "PUT", "/api/v1/pages/123/featured",
       R"({"text":"x","body":"<p>The page</p>"})", 400, "Confluence"},
      {"a page body in feedback", "POST", "/api/v1/feedback",
       R"({"text":"x","contentId":"123","body":{"storage":"<p/>"}})", 400,
       "Confluence"},
      {"a page title next to a contentId", "PUT",
       "/api/v1/search/promoted/handbook",
       R"({"results":[{"contentId":"123","title":"Secret page title"}]})", 400,
       "Confluence"},
      {"an excerpt", "POST", "/api/v1/announcements",
       R"({"text":"x","severity":"info","startsAt":"2030-01-01T00:00:00Z",
           "audience":{"all":true},"excerpt":"from the page"})",
       400, "Confluence"},
      {"an e-mail address as text", "POST", "/api/v1/feedback",
       R"({"text":"Please write to jane.doe@example.com"})", 400, "e-mail"},
      {"an e-mail address as a site name", "PATCH", site_url,
       R"({"name":"owner: ops@corp.example.org"})", 400, "e-mail"},
      {"an e-mail address in a menu label", "PUT", site_url + "/navigation",
       R"({"items":[{"id":"m","label":"bob@example.com",
                     "link":{"url":"https://example.com"}}]})",
       400, "e-mail"},
      {"a mailto link", "PUT", site_url + "/navigation",
       R"({"items":[{"id":"m","label":"Mail",
                     "link":{"url":"https://example.com/?to=a.b@example.com"}}]})",
       400, "e-mail"},
  };
  for (const Case& c : cases) {
    INFO(c.name << ": " << c.method << " " << c.target);
    std::vector<std::string> headers = {t.Auth(c.method, c.target),
                                        c.content_type};
    Response r = Http(c.method, w.server->url(c.target), headers, c.body);
    INFO(r.status << " " << r.body);
    CHECK(IsProblem(r, c.status));
    if (!c.detail.empty()) {
      CHECK(DetailOf(r).find(c.detail) != std::string::npos);
    }
  }

  // Over 1 MiB (valid JSON, padded with spaces): 413, sent whole.
  {
    std::string big = R"({"name":"Big")" + std::string(1 << 20, ' ') + "}";
    Response r = w.Call(t, "POST", "/api/v1/sites", big);
    INFO(r.status << " " << r.body.substr(0, 300));
    CHECK(IsProblem(r, 413));
  }
  // And announced by Content-Length before the body is sent.
  {
    RawConnection c(w.server->base_url());
    const std::string request =
        "POST /api/v1/sites HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
        t.Auth("POST", "/api/v1/sites") +
        "\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n";
    REQUIRE(c.Send(request));
    Response r = c.Read();
    INFO(r.status << " " << r.body);
    CHECK(IsProblem(r, 413));
  }
  // Just under the limit is fine.
  {
    std::string fits = R"({"name":"Fits"})" + std::string((1 << 20) - 100, ' ');
    Response r = w.Call(t, "POST", "/api/v1/sites", fits);
    INFO(r.status << " " << r.body.substr(0, 300));
    CHECK(r.status == 201);
  }

  // Nothing was stored but the one site that fits.
  const auto changes = ChangesAfter(w, t, before);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].Find("payload")->GetString("name") == "Fits");
  Response now = w.Call(t, "GET", site_url);
  CHECK(now.json().GetString("name") == "Valid");
  CHECK(w.Call(t, "GET", site_url + "/navigation")
            .json()
            .Find("items")
            ->as_array()
            .empty());
  CHECK(w.Call(t, "GET", "/api/v1/feedback")
            .json()
            .Find("items")
            ->as_array()
            .empty());
  CHECK(IsProblem(w.Call(t, "GET", "/api/v1/pages/123/featured"), 404));
}

TEST_CASE(
    "A JSON body is accepted with a charset parameter on its Content-Type",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-charset");
  for (const std::string& type :
       std::vector<std::string>{"application/json; charset=utf-8",
                                "application/json;charset=UTF-8"}) {
    INFO(type);
    Response r =
        Http("POST", w.server->url("/api/v1/sites"),
             {t.Auth("POST", "/api/v1/sites"), "Content-Type: " + type},
             R"({"name":"Charset"})");
    INFO(r.body);
    CHECK(r.status == 201);
  }
}

}  // namespace
}  // namespace siteledger::e2e
