// Create, read, update, list and delete on every resource of /api/v1.

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

const std::string kAccount = "5b10ac8d82e05b22cc7d4ef5";

std::string EtagOf(const Json& view) {
  return "\"" + std::to_string(view.GetInt("version")) + "\"";
}

// Creates an entity with POST and returns its body (REQUIREs 201).
Json Create(World& w, const Tenant& t, const std::string& collection,
            const std::string& body) {
  Response r = w.Call(t, "POST", collection, body);
  INFO(collection << " " << body << " -> " << r.body);
  REQUIRE(r.status == 201);
  const Json j = r.json();
  CHECK(r.header("location") ==
        collection + "/" + std::string(j.GetString("id")));
  CHECK(r.header("etag") == EtagOf(j));
  return j;
}

// Every item of a collection, following nextCursor with pages of `limit`.
std::vector<Json> ListAll(World& w, const Tenant& t,
                          const std::string& collection, int limit,
                          int* pages = nullptr) {
  std::vector<Json> all;
  std::string cursor;
  int n = 0;
  for (;;) {
    std::string target =
        collection +
        (collection.find('?') == std::string::npos ? "?limit=" : "&limit=") +
        std::to_string(limit);
    if (!cursor.empty()) target += "&cursor=" + cursor;
    Response r = w.Call(t, "GET", target);
    INFO(target << " -> " << r.body);
    REQUIRE(r.status == 200);
    const Json page = r.json();
    REQUIRE(page.Find("items") != nullptr);
    REQUIRE(page.Find("nextCursor") != nullptr);
    const auto& items = page.Find("items")->as_array();
    CHECK(items.size() <= static_cast<size_t>(limit));
    for (const Json& item : items) all.push_back(item);
    ++n;
    REQUIRE(n < 100);
    if (page.Find("nextCursor")->is_null()) break;
    cursor = page.Find("nextCursor")->as_string();
  }
  if (pages != nullptr) *pages = n;
  return all;
}

void ExpectDeletedThen404(World& w, const Tenant& t, const std::string& url) {
  Response del = w.Call(t, "DELETE", url);
  INFO("DELETE " << url << " -> " << del.body);
  CHECK(del.status == 204);
  CHECK(del.body.empty());
  Response got = w.Call(t, "GET", url);
  INFO("GET " << url << " -> " << got.body);
  CHECK(IsProblem(got, 404));
  Response again = w.Call(t, "DELETE", url);
  CHECK(IsProblem(again, 404));
}

TEST_CASE(
    "Sites are created, read, listed page by page, renamed, given a theme and "
    "a home layout, and deleted",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-crud-sites");

  const Json site = Create(w, t, "/api/v1/sites", R"({"name":"Intranet"})");
  const std::string id(site.GetString("id"));
  CHECK(id.rfind("s_", 0) == 0);
  CHECK(site.GetString("name") == "Intranet");
  CHECK(site.Find("domains")->as_array().empty());
  CHECK(site.Find("spaceKeys")->as_array().empty());
  CHECK(site.Find("themeId")->is_null());
  CHECK(site.Find("homeLayoutId")->is_null());

  Response got = w.Call(t, "GET", "/api/v1/sites/" + id);
  REQUIRE(got.status == 200);
  CHECK(got.header("content-type") == "application/json");
  CHECK(got.json() == site);

  // Four more, then page through all five two at a time.
  std::set<std::string> created = {id};
  for (int i = 0; i < 4; ++i) {
    created.insert(
        std::string(Create(w, t, "/api/v1/sites",
                           R"({"name":"Site )" + std::to_string(i) + R"("})")
                        .GetString("id")));
  }
  int pages = 0;
  const auto all = ListAll(w, t, "/api/v1/sites", 2, &pages);
  std::set<std::string> listed;
  for (const Json& s : all) listed.insert(std::string(s.GetString("id")));
  CHECK(all.size() == 5);
  CHECK(listed == created);
  CHECK(pages == 3);
  // One page of everything has no next cursor.
  Response whole = w.Call(t, "GET", "/api/v1/sites?limit=200");
  REQUIRE(whole.status == 200);
  CHECK(whole.json().Find("items")->as_array().size() == 5);
  CHECK(whole.json().Find("nextCursor")->is_null());
  CHECK(IsProblem(w.Call(t, "GET", "/api/v1/sites?limit=0"), 400));
  CHECK(IsProblem(w.Call(t, "GET", "/api/v1/sites?limit=201"), 400));
  CHECK(IsProblem(w.Call(t, "GET", "/api/v1/sites?cursor=%21%21"), 400));

  // Rename.
  Response renamed =
      w.Call(t, "PATCH", "/api/v1/sites/" + id, R"({"name":"Staff portal"})");
  INFO(renamed.body);
  REQUIRE(renamed.status == 200);
  CHECK(renamed.json().GetString("name") == "Staff portal");
  CHECK(renamed.json().GetInt("version") > site.GetInt("version"));
  CHECK(renamed.header("etag") == EtagOf(renamed.json()));
  CHECK(w.Call(t, "GET", "/api/v1/sites/" + id).json().GetString("name") ==
        "Staff portal");

  // A theme and a home layout.
  const Json theme = Create(w, t, "/api/v1/themes", R"({"name":"Dark"})");
  const std::string theme_id(theme.GetString("id"));
  const Json layout =
      Create(w, t, "/api/v1/layouts", R"({"name":"Home","sections":[]})");
  const std::string layout_id(layout.GetString("id"));
  Response themed = w.Call(t, "PATCH", "/api/v1/sites/" + id,
                           R"({"themeId":")" + theme_id +
                               R"(","homeLayoutId":")" + layout_id + "\"}");
  INFO(themed.body);
  REQUIRE(themed.status == 200);
  got = w.Call(t, "GET", "/api/v1/sites/" + id);
  CHECK(got.json().GetString("themeId") == theme_id);
  CHECK(got.json().GetString("homeLayoutId") == layout_id);
  CHECK(got.json().GetString("name") == "Staff portal");

  // A theme or layout in use cannot go.
  CHECK(IsProblem(w.Call(t, "DELETE", "/api/v1/themes/" + theme_id), 409));
  CHECK(IsProblem(w.Call(t, "DELETE", "/api/v1/layouts/" + layout_id), 409));
  // Unassigned (null), they can.
  Response cleared = w.Call(t, "PATCH", "/api/v1/sites/" + id,
                            R"({"themeId":null,"homeLayoutId":null})");
  REQUIRE(cleared.status == 200);
  CHECK(cleared.json().Find("themeId")->is_null());
  CHECK(cleared.json().Find("homeLayoutId")->is_null());

  // Unknown ids and bad bodies.
  CHECK(IsProblem(w.Call(t, "GET", "/api/v1/sites/s_doesnotexist"), 404));
  CHECK(IsProblem(
      w.Call(t, "PATCH", "/api/v1/sites/s_doesnotexist", R"({"name":"x"})"),
      404));
  CHECK(IsProblem(w.Call(t, "PATCH", "/api/v1/sites/" + id, R"({"name":""})"),
                  400));
  CHECK(IsProblem(w.Call(t, "POST", "/api/v1/sites", R"({})"), 400));
  CHECK(IsProblem(w.Call(t, "POST", "/api/v1/sites", ""), 400));
  // The id is the server's to choose.
  CHECK(IsProblem(
      w.Call(t, "POST", "/api/v1/sites", R"({"name":"x","siteId":"mine"})"),
      400));

  ExpectDeletedThen404(w, t, "/api/v1/sites/" + id);
  CHECK(ListAll(w, t, "/api/v1/sites", 50).size() == 4);
}

TEST_CASE("Domains and spaces are added to a site and removed from it",
          "[e2e]") {
  World w;
  Tenant t = w.Install("client-crud-domains");
  const std::string id(
      Create(w, t, "/api/v1/sites", R"({"name":"Docs"})").GetString("id"));
  const std::string site = "/api/v1/sites/" + id;

  Response added = w.Call(t, "PUT", site + "/domains/intranet.example.com");
  INFO(added.body);
  REQUIRE(added.status == 200);
  CHECK(added.json().Find("domains")->as_array() ==
        Json::Array{Json("intranet.example.com")});
  // Host names are case-insensitive: stored lowercase, and adding it again
  // changes nothing.
  Response again = w.Call(t, "PUT", site + "/domains/INTRANET.Example.com");
  REQUIRE(again.status == 200);
  CHECK(again.json().Find("domains")->as_array().size() == 1);
  CHECK(again.json().GetInt("version") == added.json().GetInt("version"));
  REQUIRE(w.Call(t, "PUT", site + "/domains/wiki.example.org").status == 200);
  CHECK(w.Call(t, "GET", site).json().Find("domains")->as_array().size() == 2);
  CHECK(IsProblem(w.Call(t, "PUT", site + "/domains/not_a_host"), 400));
  CHECK(IsProblem(
      w.Call(t, "PUT", "/api/v1/sites/s_missing/domains/a.example.com"), 404));

  Response removed =
      w.Call(t, "DELETE", site + "/domains/intranet.example.com");
  INFO(removed.body);
  CHECK((removed.status == 200 || removed.status == 204));
  CHECK(w.Call(t, "GET", site).json().Find("domains")->as_array() ==
        Json::Array{Json("wiki.example.org")});

  Response space = w.Call(t, "PUT", site + "/spaces/DOCS");
  INFO(space.body);
  REQUIRE(space.status == 200);
  REQUIRE(w.Call(t, "PUT", site + "/spaces/HR").status == 200);
  Json now = w.Call(t, "GET", site).json();
  CHECK(now.Find("spaceKeys")->as_array() ==
        Json::Array{Json("DOCS"), Json("HR")});
  CHECK(IsProblem(w.Call(t, "PUT", site + "/spaces/bad%20key"), 400));
  Response unspace = w.Call(t, "DELETE", site + "/spaces/DOCS");
  CHECK((unspace.status == 200 || unspace.status == 204));
  CHECK(w.Call(t, "GET", site).json().Find("spaceKeys")->as_array() ==
        Json::Array{Json("HR")});
}

TEST_CASE(
    "A site's navigation is replaced, grown item by item, rearranged and "
    "pruned",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-crud-nav");
  const std::string id(
      Create(w, t, "/api/v1/sites", R"({"name":"Nav"})").GetString("id"));
  const std::string nav = "/api/v1/sites/" + id + "/navigation";

  // A menu never saved is empty, version 0.
  Response empty = w.Call(t, "GET", nav);
  INFO(empty.body);
  REQUIRE(empty.status == 200);
  CHECK(empty.json().Find("items")->as_array().empty());
  CHECK(empty.header("etag") == "\"0\"");
  CHECK(IsProblem(w.Call(t, "GET", "/api/v1/sites/s_none/navigation"), 404));

  Response put = w.Call(t, "PUT", nav, R"({"items":[
      {"id":"home","label":"Home","link":{"url":"https://intranet.example.com/"}},
      {"id":"docs","label":"Docs","link":{"spaceKey":"DOCS"},"children":[
        {"id":"guide","label":"Guide","link":{"contentId":"12345"}}]}]})");
  INFO(put.body);
  REQUIRE(put.status == 200);
  CHECK(put.header("etag") == EtagOf(put.json()));
  auto labels = [](const Json& items) {
    std::vector<std::string> out;
    for (const Json& i : items.as_array()) {
      out.emplace_back(i.GetString("id"));
    }
    return out;
  };
  Json menu = w.Call(t, "GET", nav).json();
  CHECK(labels(*menu.Find("items")) ==
        std::vector<std::string>{"home", "docs"});

  // Add an item under docs, at the front.
  Response added =
      w.Call(t, "POST", nav + "/items", R"({"parentId":"docs","index":0,
      "item":{"id":"news","label":"News","link":{"url":"https://news.example.com"}}})");
  INFO(added.body);
  REQUIRE(added.status == 201);
  menu = w.Call(t, "GET", nav).json();
  const Json& docs = menu.Find("items")->as_array()[1];
  CHECK(labels(*docs.Find("children")) ==
        std::vector<std::string>{"news", "guide"});
  // Ids are unique in the whole menu.
  CHECK(IsProblem(w.Call(t, "POST", nav + "/items",
                         R"({"item":{"id":"guide","label":"Again",
                             "link":{"contentId":"1"}}})"),
                  409));
  CHECK(IsProblem(w.Call(t, "POST", nav + "/items",
                         R"({"parentId":"nope","item":{"id":"x","label":"X",
                             "link":{"contentId":"1"}}})"),
                  400));

  // Move news to the top level, first.
  Response moved = w.Call(t, "POST", nav + "/items/news/move",
                          R"({"parentId":null,"index":0})");
  INFO(moved.body);
  REQUIRE(moved.status == 200);
  menu = w.Call(t, "GET", nav).json();
  CHECK(labels(*menu.Find("items")) ==
        std::vector<std::string>{"news", "home", "docs"});
  CHECK(labels(*menu.Find("items")->as_array()[2].Find("children")) ==
        std::vector<std::string>{"guide"});
  CHECK(IsProblem(w.Call(t, "POST", nav + "/items/ghost/move",
                         R"({"parentId":null,"index":0})"),
                  404));
  CHECK(IsProblem(w.Call(t, "POST", nav + "/items/docs/move",
                         R"({"parentId":"guide","index":0})"),
                  400));

  // Remove home, then docs (with its child).
  Response removed = w.Call(t, "DELETE", nav + "/items/home");
  INFO(removed.body);
  CHECK((removed.status == 200 || removed.status == 204));
  REQUIRE(w.Call(t, "DELETE", nav + "/items/docs").status < 300);
  menu = w.Call(t, "GET", nav).json();
  CHECK(labels(*menu.Find("items")) == std::vector<std::string>{"news"});
  CHECK(IsProblem(w.Call(t, "DELETE", nav + "/items/docs"), 404));
  CHECK(IsProblem(w.Call(t, "DELETE", nav + "/items/guide"), 404));

  // A deleted site's menu goes with it.
  REQUIRE(w.Call(t, "DELETE", "/api/v1/sites/" + id).status == 204);
  CHECK(IsProblem(w.Call(t, "GET", nav), 404));
}

TEST_CASE("Themes are created, read, listed, replaced and deleted", "[e2e]") {
  World w;
  Tenant t = w.Install("client-crud-themes");
  const Json theme = Create(w, t, "/api/v1/themes", R"({"name":"Corporate",
      "colors":{"primary":"#0052cc","text":"#172B4D"},
      "fonts":{"heading":"Inter"}})");
  const std::string id(theme.GetString("id"));
  CHECK(id.rfind("t_", 0) == 0);
  const std::string url = "/api/v1/themes/" + id;
  Json got = w.Call(t, "GET", url).json();
  CHECK(got.GetString("name") == "Corporate");
  CHECK(got.Find("colors")->GetString("primary") == "#0052cc");
  CHECK(got.Find("fonts")->GetString("heading") == "Inter");

  Create(w, t, "/api/v1/themes", R"({"name":"Second"})");
  CHECK(ListAll(w, t, "/api/v1/themes", 1).size() == 2);

  // PUT replaces the whole theme.
  Response put = w.Call(t, "PUT", url,
                        R"({"name":"Corporate 2","colors":{"link":"#fff"}})");
  INFO(put.body);
  REQUIRE(put.status == 200);
  got = w.Call(t, "GET", url).json();
  CHECK(got.GetString("name") == "Corporate 2");
  CHECK(got.Find("colors")->GetString("link") == "#fff");
  CHECK(got.Find("colors")->Find("primary") == nullptr);
  CHECK(got.Find("fonts")->as_object().empty());
  CHECK(IsProblem(
      w.Call(t, "PUT", url, R"({"name":"x","colors":{"primary":"blue"}})"),
      400));
  CHECK(IsProblem(w.Call(t, "PUT", "/api/v1/themes/t_none", R"({"name":"x"})"),
                  404));

  ExpectDeletedThen404(w, t, url);
  CHECK(ListAll(w, t, "/api/v1/themes", 10).size() == 1);
}

TEST_CASE("A theme's body font is stored like its heading font", "[e2e]") {
  // Server bug: the theme schema (projections/events.cc, ThemeBody) has
  // fonts.body, but the content guard (projections/schema.cc,
  // IsPageContentName via CheckForbiddenContent) refuses any field named
  // "body" anywhere as Confluence page content, so no theme can set its body
  // font: POST /api/v1/themes {"name":"T","fonts":{"body":"Georgia"}} is 400
  // "$.fonts.body: Confluence page content is never stored".
  World w;
  Tenant t = w.Install("client-theme-fonts");
  Response r = w.Call(t, "POST", "/api/v1/themes",
                      R"({"name":"Readable","fonts":{"heading":"Inter",
                          "body":"Georgia"}})");
  INFO(r.body);
  REQUIRE(r.status == 201);
  Response got = w.Call(
      t, "GET", "/api/v1/themes/" + std::string(r.json().GetString("id")));
  CHECK(got.json().Find("fonts")->GetString("body") == "Georgia");
}

TEST_CASE("Layouts are drafted, published, redrafted, listed and deleted",
          "[e2e]") {
  World w;
  Tenant t = w.Install("client-crud-layouts");
  const std::string site(
      Create(w, t, "/api/v1/sites", R"({"name":"S"})").GetString("id"));
  const std::string sections = R"([{"id":"top","columns":[{"id":"c1","width":8,
      "modules":[{"id":"m1","type":"hero","props":{"heading":"Welcome"}},
                 {"id":"m2","type":"pages","props":{"contentIds":["42","43"]}}]},
      {"id":"c2","width":4,"modules":[{"id":"m3","type":"announcements",
                                        "props":{"limit":3}}]}]}])";
  const Json layout = Create(w, t, "/api/v1/layouts",
                             R"({"name":"Home","siteId":")" + site +
                                 R"(","sections":)" + sections + "}");
  const std::string id(layout.GetString("id"));
  CHECK(id.rfind("l_", 0) == 0);
  CHECK(layout.Find("published")->is_null());
  const std::string url = "/api/v1/layouts/" + id;
  Json got = w.Call(t, "GET", url).json();
  CHECK(got.GetString("siteId") == site);
  CHECK(got.Find("draft")->Find("sections")->as_array().size() == 1);

  Response published = w.Call(t, "POST", url + "/publish");
  INFO(published.body);
  REQUIRE(published.status == 200);
  got = w.Call(t, "GET", url).json();
  REQUIRE(got.Find("published") != nullptr);
  CHECK(*got.Find("published") == *got.Find("draft"));
  CHECK(got.Find("publishedAt")->is_string());

  // A new draft leaves the published version as it was.
  Response saved = w.Call(t, "PUT", url, R"({"name":"Home v2","sections":[]})");
  INFO(saved.body);
  REQUIRE(saved.status == 200);
  got = w.Call(t, "GET", url).json();
  CHECK(got.GetString("name") == "Home v2");
  CHECK(got.Find("draft")->Find("sections")->as_array().empty());
  CHECK(got.Find("published")->Find("sections")->as_array().size() == 1);
  CHECK(got.Find("siteId") == nullptr);

  CHECK(IsProblem(w.Call(t, "POST", "/api/v1/layouts",
                         R"({"name":"Bad","sections":[{"id":"s","columns":[
                             {"id":"c","width":13,"modules":[]}]}]})"),
                  400));
  // A layout for a site that does not exist is refused.
  Response orphan =
      w.Call(t, "POST", "/api/v1/layouts",
             R"({"name":"Orphan","siteId":"s_none","sections":[]})");
  CHECK((IsProblem(orphan, 400) || IsProblem(orphan, 404)));
  CHECK(IsProblem(w.Call(t, "POST", "/api/v1/layouts/l_none/publish"), 404));
  Create(w, t, "/api/v1/layouts", R"({"name":"Other","sections":[]})");
  CHECK(ListAll(w, t, "/api/v1/layouts", 1).size() == 2);

  ExpectDeletedThen404(w, t, url);
  CHECK(ListAll(w, t, "/api/v1/layouts", 5).size() == 1);
}

TEST_CASE(
    "Announcements are published, filtered by the time they are active at, "
    "updated and deleted",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-crud-announcements");
  const Json maintenance = Create(w, t, "/api/v1/announcements", R"({
      "text":"Maintenance on Saturday","severity":"warning",
      "startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z",
      "audience":{"all":true}})");
  const Json welcome = Create(w, t, "/api/v1/announcements", R"({
      "text":"Welcome to the new intranet","severity":"info",
      "startsAt":"2029-06-01T00:00:00Z","audience":{"spaceKeys":["HR","DOCS"]}})");
  const std::string m(maintenance.GetString("id"));
  const std::string wel(welcome.GetString("id"));
  CHECK(m.rfind("a_", 0) == 0);
  CHECK(w.Call(t, "GET", "/api/v1/announcements/" + m)
            .json()
            .GetString("severity") == "warning");

  auto active_at = [&](const std::string& when) {
    Response r = w.Call(t, "GET", "/api/v1/announcements?active_at=" + when);
    INFO(when << " -> " << r.body);
    REQUIRE(r.status == 200);
    auto ids = IdsOf(r.json());
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  CHECK(active_at("2029-01-01T00:00:00Z").empty());
  CHECK(active_at("2029-07-01T00:00:00Z") == std::vector<std::string>{wel});
  CHECK(active_at("2030-01-01T12:00:00Z") == sorted({m, wel}));
  CHECK(active_at("2030-01-01T12:00:00.250Z") == sorted({m, wel}));
  // endsAt is exclusive.
  CHECK(active_at("2030-01-02T00:00:00Z") == std::vector<std::string>{wel});
  CHECK(IsProblem(
      w.Call(t, "GET", "/api/v1/announcements?active_at=next-tuesday"), 400));
  CHECK(ListAll(w, t, "/api/v1/announcements", 1).size() == 2);

  Response updated = w.Call(t, "PUT", "/api/v1/announcements/" + m, R"({
      "text":"Maintenance moved to Sunday","severity":"critical",
      "startsAt":"2030-01-02T00:00:00Z","endsAt":"2030-01-03T00:00:00Z",
      "audience":{"all":true}})");
  INFO(updated.body);
  REQUIRE(updated.status == 200);
  CHECK(updated.json().GetString("text") == "Maintenance moved to Sunday");
  CHECK(active_at("2030-01-01T12:00:00Z") == std::vector<std::string>{wel});
  CHECK(active_at("2030-01-02T12:00:00Z") == sorted({m, wel}));
  CHECK(IsProblem(w.Call(t, "POST", "/api/v1/announcements", R"({
      "text":"x","severity":"meh","startsAt":"2030-01-01T00:00:00Z",
      "audience":{"all":true}})"),
                  400));

  ExpectDeletedThen404(w, t, "/api/v1/announcements/" + m);
  CHECK(active_at("2030-01-02T12:00:00Z") == std::vector<std::string>{wel});
}

TEST_CASE("Listing announcements active at a time pages through all of them",
          "[e2e]") {
  // Server bug (api.cc, serve_list): with a filter, the list reads further
  // pages until it has `limit` items, then cuts the extra items off but
  // returns the cursor after the last page it read, so the cut items are
  // never listed.
  World w;
  Tenant t = w.Install("client-announcement-pages");
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.emplace_back(Create(w, t, "/api/v1/announcements", R"({
        "text":"Note )" + std::to_string(i) + R"(","severity":"info",
        "startsAt":"2030-01-01T00:00:00Z","audience":{"all":true}})")
                         .GetString("id"));
  }
  std::sort(ids.begin(), ids.end());
  // The first one (in list order) starts later, so it is not active then.
  Response later = w.Call(t, "PUT", "/api/v1/announcements/" + ids[0], R"({
      "text":"Later","severity":"info","startsAt":"2031-01-01T00:00:00Z",
      "audience":{"all":true}})");
  REQUIRE(later.status == 200);

  const auto active =
      ListAll(w, t, "/api/v1/announcements?active_at=2030-06-01T00:00:00Z", 2);
  std::vector<std::string> listed;
  for (const Json& a : active) listed.emplace_back(a.GetString("id"));
  std::sort(listed.begin(), listed.end());
  CHECK(listed == std::vector<std::string>{ids[1], ids[2], ids[3]});
}

TEST_CASE(
    "Promoted search results are set per keyword, read in any case, listed and "
    "cleared",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-crud-promoted");
  Response set = w.Call(t, "PUT", "/api/v1/search/promoted/HR%20Portal", R"({
      "results":[{"url":"https://hr.example.com","title":"HR portal"},
                 {"contentId":"98765"}]})");
  INFO(set.body);
  REQUIRE(set.status == 200);
  CHECK(set.json().GetString("keyword") == "hr portal");
  CHECK(set.header("etag") == EtagOf(set.json()));

  for (const char* k : {"hr%20portal", "HR%20PORTAL", "HR%20Portal"}) {
    Response got =
        w.Call(t, "GET", std::string("/api/v1/search/promoted/") + k);
    INFO(k << " -> " << got.body);
    REQUIRE(got.status == 200);
    CHECK(got.json().Find("results")->as_array().size() == 2);
  }
  REQUIRE(w.Call(t, "PUT", "/api/v1/search/promoted/benefits",
                 R"({"results":[{"contentId":"1"}]})")
              .status == 200);
  const auto all = ListAll(w, t, "/api/v1/search/promoted", 1);
  std::set<std::string> keywords;
  for (const Json& p : all)
    keywords.insert(std::string(p.GetString("keyword")));
  CHECK(keywords == std::set<std::string>{"hr portal", "benefits"});

  // Setting again replaces the results.
  REQUIRE(w.Call(t, "PUT", "/api/v1/search/promoted/benefits",
                 R"({"results":[{"contentId":"2"},{"contentId":"3"}]})")
              .status == 200);
  CHECK(w.Call(t, "GET", "/api/v1/search/promoted/benefits")
            .json()
            .Find("results")
            ->as_array()
            .size() == 2);
  CHECK(IsProblem(
      w.Call(t, "PUT", "/api/v1/search/promoted/x", R"({"results":[]})"), 400));
  CHECK(IsProblem(w.Call(t, "GET", "/api/v1/search/promoted/nothing"), 404));

  ExpectDeletedThen404(w, t, "/api/v1/search/promoted/HR%20Portal");
  CHECK(ListAll(w, t, "/api/v1/search/promoted", 10).size() == 1);
}

TEST_CASE(
    "Featured page metadata is set, read, replaced and cleared per content id",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-crud-featured");
  const std::string url = "/api/v1/pages/123456/featured";
  CHECK(IsProblem(w.Call(t, "GET", url), 404));
  Response set = w.Call(t, "PUT", url, R"({"text":"Start here"})");
  INFO(set.body);
  REQUIRE(set.status == 200);
  Json got = w.Call(t, "GET", url).json();
  CHECK(got.GetString("contentId") == "123456");
  CHECK(got.GetString("text") == "Start here");
  CHECK(got.GetInt("version") == set.json().GetInt("version"));

  REQUIRE(w.Call(t, "PUT", url, R"({"text":"Read me first"})").status == 200);
  CHECK(w.Call(t, "GET", url).json().GetString("text") == "Read me first");
  CHECK(IsProblem(
      w.Call(t, "PUT", "/api/v1/pages/abc/featured", R"({"text":"x"})"), 400));
  CHECK(IsProblem(w.Call(t, "GET", "/api/v1/pages/999/featured"), 404));
  ExpectDeletedThen404(w, t, url);
}

TEST_CASE(
    "Feedback is submitted under a pseudonym, listed, resolved and deleted",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-crud-feedback");
  Response sent = w.Call(t, "POST", "/api/v1/feedback",
                         R"({"text":"The menu is great","rating":5,
                             "contentId":"777"})");
  INFO(sent.body);
  REQUIRE(sent.status == 201);
  const Json fb = sent.json();
  const std::string id(fb.GetString("id"));
  CHECK(id.rfind("b_", 0) == 0);
  CHECK(sent.header("location") == "/api/v1/feedback/" + id);
  CHECK(fb.GetString("status") == "open");
  CHECK(fb.GetString("submitter").substr(0, 2) == "u_");
  CHECK(sent.body.find(kAccount) == std::string::npos);

  // Without a user (no sub) there is nobody to submit it.
  Response anonymous = Http("POST", w.server->url("/api/v1/feedback"),
                            {t.Auth("POST", "/api/v1/feedback", ""),
                             "Content-Type: application/json"},
                            R"({"text":"who am I"})");
  CHECK(IsProblem(anonymous, 400));
  CHECK(IsProblem(w.Call(t, "POST", "/api/v1/feedback", R"({"text":"x",
      "rating":6})"),
                  400));

  Create(w, t, "/api/v1/feedback", R"({"text":"Search is slow"})");
  CHECK(ListAll(w, t, "/api/v1/feedback", 1).size() == 2);

  const std::string url = "/api/v1/feedback/" + id;
  Response resolved = w.Call(t, "POST", url + "/resolve");
  INFO(resolved.body);
  REQUIRE(resolved.status == 200);
  CHECK(resolved.json().GetString("status") == "resolved");
  Json got = w.Call(t, "GET", url).json();
  CHECK(got.GetString("status") == "resolved");
  CHECK(got.Find("resolvedAt")->is_string());
  // Resolving twice is harmless.
  Response twice = w.Call(t, "POST", url + "/resolve");
  CHECK(twice.status == 200);
  CHECK(twice.json().GetInt("version") == got.GetInt("version"));
  CHECK(IsProblem(w.Call(t, "POST", "/api/v1/feedback/b_none/resolve"), 404));

  ExpectDeletedThen404(w, t, url);
  CHECK(ListAll(w, t, "/api/v1/feedback", 5).size() == 1);
}

TEST_CASE("Users are listed by pseudonym only and never by account id",
          "[e2e]") {
  World w;
  Tenant t = w.Install("client-users");
  const std::string other = "557058:f0e1d2c3-b4a5-4697-8899-aabbccddeeff";
  REQUIRE(w.Call(t, "GET", "/api/v1/sites").status == 200);
  REQUIRE(Http("GET", w.server->url("/api/v1/sites"),
               {t.Auth("GET", "/api/v1/sites", other)})
              .status == 200);
  // A user is recorded in the background: wait until both are.
  Response users;
  CHECK(Eventually([&] {
    users = w.Call(t, "GET", "/api/v1/users");
    return users.status == 200 &&
           users.json().Find("items")->as_array().size() == 2;
  }));
  INFO(users.body);
  const auto ids = IdsOf(users.json());
  REQUIRE(ids.size() == 2);
  for (const std::string& id : ids) {
    CHECK(id.size() == 22);
    CHECK(id.rfind("u_", 0) == 0);
    Response one = w.Call(t, "GET", "/api/v1/users/" + id);
    INFO(one.body);
    CHECK(one.status == 200);
    CHECK(one.json().Find("lastSeen")->is_string());
    CHECK(one.body.find(kAccount) == std::string::npos);
  }
  CHECK(ids[0] != ids[1]);
  CHECK(users.body.find(kAccount) == std::string::npos);
  CHECK(users.body.find("557058") == std::string::npos);
  CHECK(users.body.find("f0e1d2c3") == std::string::npos);
  // The same person is the same pseudonym everywhere: the events' actor.
  for (const Json& e : EventsAfter(w, t, 0)) {
    CHECK(std::find(ids.begin(), ids.end(), e.GetString("actor")) != ids.end());
  }
  // Read only.
  CHECK(w.Call(t, "POST", "/api/v1/users", R"({"id":"x"})").status == 405);
  CHECK(w.Call(t, "DELETE", "/api/v1/users/" + ids[0]).status == 405);
  CHECK(
      IsProblem(w.Call(t, "GET", "/api/v1/users/u_00000000000000000000"), 404));
}

}  // namespace
}  // namespace siteledger::e2e
