#include "projections/projector.h"

#include <rocksdb/db.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <thread>

#include "projections/events.h"
#include "storage/base/coding.h"
#include "storage/base/rfc3339.h"
#include "tests/storage/rig.h"

namespace siteledger::projections {
namespace {

using siteledger::StatusCode;

Json P(std::string_view text) {
  auto j = ParseJson(text);
  REQUIRE(j.has_value());
  return *j;
}

struct World {
  testing::Rig rig;
  std::unique_ptr<Projector> projector;
  siteledger::TenantId tenant;

  World() {
    tenant = rig.NewTenant("client-a");
    projector = std::make_unique<Projector>(*rig.log, rig.clock);
  }
  ~World() { projector.reset(); }

  Result<CommandResult> Run(CommandType type, std::string id = {},
                            std::string_view body = {}, std::string item = {},
                            std::string actor = {}) {
    Command c;
    c.type = type;
    c.id = std::move(id);
    c.item = std::move(item);
    c.body = body.empty() ? Json() : P(body);
    c.actor = std::move(actor);
    return projector->ExecuteSync(tenant, std::move(c));
  }

  std::string CreateSite(std::string_view name = "Intranet") {
    auto r = Run(CommandType::kCreateSite, "",
                 std::string(R"({"name":")") + std::string(name) + "\"}");
    REQUIRE(r.has_value());
    return r->entity->id;
  }

  siteledger::Sequence Head() { return rig.log->GetHead(tenant)->seq; }
};

TEST_CASE("A created site is a view with its version", "[projector]") {
  World w;
  auto r = w.Run(CommandType::kCreateSite, "", R"({"name":"Intranet"})");
  REQUIRE(r.has_value());
  CHECK(r->first == Sequence(1));
  CHECK(r->last == Sequence(1));
  REQUIRE(r->view.has_value());
  CHECK(r->view->version == Sequence(1));
  CHECK(r->view->doc.GetString("name") == "Intranet");
  CHECK(r->entity->id.starts_with("s_"));

  auto stored = w.projector->Get(w.tenant, *r->entity);
  REQUIRE(stored.has_value());
  REQUIRE(stored->has_value());
  CHECK((*stored)->doc == r->view->doc);

  auto events = w.rig.log->Read(w.tenant, Sequence(1), 10);
  REQUIRE(events->size() == 1);
  CHECK((*events)[0].type == "site.created");
  CHECK(P((*events)[0].payload).GetInt("v") == 1);
}

TEST_CASE("Site commands fold into one view", "[projector]") {
  World w;
  const std::string site = w.CreateSite();
  auto theme = w.Run(CommandType::kCreateTheme, "", R"({"name":"Dark"})");
  REQUIRE(theme.has_value());
  REQUIRE(w.Run(CommandType::kAddDomain, site, "", "Intranet.Example.com"));
  REQUIRE(w.Run(CommandType::kAddSpace, site, "", "ENG"));
  REQUIRE(w.Run(CommandType::kAddSpace, site, "", "HR"));
  REQUIRE(w.Run(CommandType::kRemoveSpace, site, "", "ENG"));
  auto updated =
      w.Run(CommandType::kUpdateSite, site,
            R"({"name":"Hub","themeId":")" + theme->entity->id + "\"}");
  REQUIRE(updated.has_value());
  CHECK(updated->last.value() - updated->first.value() == 1);  // two events
  const Json& doc = updated->view->doc;
  CHECK(doc.GetString("name") == "Hub");
  CHECK(doc.Find("domains")->Dump() == R"(["intranet.example.com"])");
  CHECK(doc.Find("spaceKeys")->Dump() == R"(["HR"])");
  CHECK(doc.GetString("themeId") == theme->entity->id);

  SECTION("a change that changes nothing appends nothing") {
    const Sequence head = w.Head();
    auto again = w.Run(CommandType::kAddSpace, site, "", "HR");
    REQUIRE(again.has_value());
    CHECK(again->first == Sequence(0));
    CHECK(w.Head() == head);
  }
  SECTION("a theme in use cannot be deleted, until no site uses it") {
    const std::string id = theme->entity->id;
    const std::string other = w.CreateSite("Other");
    REQUIRE(
        w.Run(CommandType::kUpdateSite, other, R"({"themeId":")" + id + "\"}"));
    auto del = w.Run(CommandType::kDeleteTheme, id);
    REQUIRE_FALSE(del.has_value());
    CHECK(del.error().code() == StatusCode::kConflict);
    CHECK(del.error().message().find("2 site(s)") != std::string::npos);
    // The count follows assignments and deletions of sites.
    REQUIRE(w.Run(CommandType::kDeleteSite, other));
    del = w.Run(CommandType::kDeleteTheme, id);
    REQUIRE_FALSE(del.has_value());
    CHECK(del.error().message().find("1 site(s)") != std::string::npos);
    auto second = w.Run(CommandType::kCreateTheme, "", R"({"name":"Night"})");
    REQUIRE(second.has_value());
    REQUIRE(w.Run(CommandType::kUpdateSite, site,
                  R"({"themeId":")" + second->entity->id + "\"}"));
    REQUIRE(w.Run(CommandType::kDeleteTheme, id).has_value());
    CHECK_FALSE(
        w.projector
            ->Get(w.tenant, {ViewKind::kTotals, UseCountId("themeId", id)})
            ->has_value());
  }
  SECTION("deleting the site deletes its navigation") {
    REQUIRE(w.Run(
        CommandType::kReplaceNavigation, site,
        R"({"items":[{"id":"a","label":"A","link":{"url":"https://a.example"}}]})"));
    REQUIRE(w.Run(CommandType::kDeleteSite, site));
    CHECK_FALSE(
        w.projector->Get(w.tenant, {ViewKind::kSite, site})->has_value());
    CHECK_FALSE(
        w.projector->Get(w.tenant, {ViewKind::kNavigation, site})->has_value());
  }
}

TEST_CASE("Navigation items are added, moved and removed", "[projector]") {
  World w;
  const std::string site = w.CreateSite();
  auto link = [](std::string id) {
    return R"({"id":")" + id + R"(","label":")" + id +
           R"(","link":{"url":"https://e.example/)" + id + "\"}}";
  };
  REQUIRE(w.Run(CommandType::kReplaceNavigation, site,
                "{\"items\":[" + link("a") + "," + link("b") + "]}"));
  REQUIRE(w.Run(CommandType::kAddNavigationItem, site,
                R"({"parentId":"a","item":)" + link("c") + "}"));
  REQUIRE(w.Run(CommandType::kAddNavigationItem, site,
                R"({"index":0,"item":)" + link("d") + "}"));
  auto moved = w.Run(CommandType::kMoveNavigationItem, site,
                     R"({"parentId":"b","index":0})", "c");
  REQUIRE(moved.has_value());
  auto ids = [](const Json& items) {
    std::string out;
    std::function<void(const Json&)> walk = [&](const Json& list) {
      for (const Json& item : list.as_array()) {
        out += item.GetString("id");
        if (const Json* kids = item.Find("children")) {
          out += "(";
          walk(*kids);
          out += ")";
        }
      }
    };
    walk(items);
    return out;
  };
  CHECK(ids(*moved->view->doc.Find("items")) == "da()b(c)");
  auto removed = w.Run(CommandType::kRemoveNavigationItem, site, "", "b");
  REQUIRE(removed.has_value());
  CHECK(ids(*removed->view->doc.Find("items")) == "da()");

  SECTION("refusals") {
    CHECK(w.Run(CommandType::kAddNavigationItem, site,
                R"({"item":)" + link("a") + "}")
              .error()
              .code() == StatusCode::kConflict);
    CHECK(w.Run(CommandType::kMoveNavigationItem, site,
                R"({"parentId":"zz","index":0})", "a")
              .error()
              .code() == StatusCode::kInvalidArgument);
    CHECK(w.Run(CommandType::kRemoveNavigationItem, site, "", "nope")
              .error()
              .code() == StatusCode::kNotFound);
    CHECK(w.Run(CommandType::kReplaceNavigation, "s_missing", R"({"items":[]})")
              .error()
              .code() == StatusCode::kNotFound);
  }
}

TEST_CASE("Media references follow themes, layouts and featured pages",
          "[projector]") {
  World w;
  const std::string m1(64, 'a'), m2(64, 'b');
  SECTION("only media the tenant has can be referenced") {
    auto refused = w.Run(CommandType::kCreateTheme, "",
                         R"({"name":"T","media":{"logo":")" + m1 + "\"}}");
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code() == StatusCode::kInvalidArgument);
    CHECK(refused.error().message().find("upload it first") !=
          std::string::npos);
    CHECK(w.Head() == Sequence(0));
  }
  REQUIRE(w.Run(CommandType::kAttachMedia, m1, R"({"kind":"logo"})"));
  REQUIRE(w.Run(CommandType::kAttachMedia, m2, R"({"kind":"logo"})"));
  auto theme = w.Run(CommandType::kCreateTheme, "",
                     R"({"name":"T","media":{"logo":")" + m1 + "\"}}");
  REQUIRE(theme.has_value());
  auto refs = [&](const std::string& media) -> std::string {
    auto row = w.projector->Get(w.tenant, {ViewKind::kMedia, media});
    REQUIRE(row.has_value());
    return *row ? (*row)->doc.Find("references")->Dump() : "none";
  };
  CHECK(refs(m1) == "[\"theme:" + theme->entity->id + "\"]");
  REQUIRE(w.Run(CommandType::kUpdateTheme, theme->entity->id,
                R"({"name":"T","media":{"favicon":")" + m2 + "\"}}"));
  CHECK(refs(m1) == "[]");  // still uploaded, no longer used
  CHECK(refs(m2) == "[\"theme:" + theme->entity->id + "\"]");
  REQUIRE(w.Run(CommandType::kSetFeatured, "42",
                R"({"mediaId":")" + m2 + R"(","text":"Start here"})"));
  CHECK(refs(m2) == "[\"featured:42\",\"theme:" + theme->entity->id + "\"]");
  auto detach = w.Run(CommandType::kDetachMedia, m2);
  REQUIRE_FALSE(detach.has_value());
  CHECK(detach.error().code() == StatusCode::kConflict);
  REQUIRE(w.Run(CommandType::kDeleteTheme, theme->entity->id));
  REQUIRE(w.Run(CommandType::kClearFeatured, "42"));
  CHECK(refs(m2) == "[]");  // still attached
  REQUIRE(w.Run(CommandType::kDetachMedia, m2));
  CHECK(refs(m2) == "none");
}

TEST_CASE("If-Match guards an entity's version", "[projector]") {
  World w;
  const std::string site = w.CreateSite();
  Command c;
  c.type = CommandType::kUpdateSite;
  c.id = site;
  c.body = P(R"({"name":"Renamed"})");
  c.if_match = Sequence(7);
  auto stale = w.projector->ExecuteSync(w.tenant, c);
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.error().code() == StatusCode::kPreconditionFailed);
  CHECK(w.Head() == Sequence(1));
  c.if_match = Sequence(1);
  auto ok = w.projector->ExecuteSync(w.tenant, c);
  REQUIRE(ok.has_value());
  CHECK(ok->view->version == Sequence(2));
}

TEST_CASE("An idempotent retry returns the first answer", "[projector]") {
  World w;
  Command c;
  c.type = CommandType::kCreateSite;
  c.body = P(R"({"name":"Once"})");
  c.idempotency_key = "create-once";
  auto first = w.projector->ExecuteSync(w.tenant, c);
  REQUIRE(first.has_value());
  auto second = w.projector->ExecuteSync(w.tenant, c);
  REQUIRE(second.has_value());
  CHECK(second->replayed);
  CHECK(second->entity == first->entity);  // the same generated id
  CHECK(second->view->doc == first->view->doc);
  CHECK(w.Head() == Sequence(1));
  c.body = P(R"({"name":"Other"})");
  auto reused = w.projector->ExecuteSync(w.tenant, c);
  REQUIRE_FALSE(reused.has_value());
  CHECK(reused.error().code() == StatusCode::kConflict);
}

TEST_CASE("Actors and feedback submitters are stored as pseudonyms",
          "[projector]") {
  World w;
  const std::string account = "5b10ac8d82e05b22cc7d4ef5";
  auto fb = w.Run(CommandType::kSubmitFeedback, "",
                  R"({"text":"Nice landing page","rating":5})", "", account);
  REQUIRE(fb.has_value());
  const std::string pseudonym(fb->view->doc.GetString("submitter"));
  CHECK(pseudonym.starts_with("u_"));
  auto events = w.rig.log->Read(w.tenant, Sequence(1), 10);
  REQUIRE(events->size() == 1);
  CHECK((*events)[0].actor == pseudonym);
  CHECK((*events)[0].payload.find(account) == std::string::npos);
  CHECK(**w.projector->PseudonymOf(w.tenant, account) == pseudonym);
  CHECK(**w.projector->AccountIdOf(w.tenant, pseudonym) == account);
  // The same person keeps one pseudonym.
  auto seen = w.Run(CommandType::kSeeUser, "", "", "", account);
  REQUIRE(seen.has_value());
  CHECK(seen->entity->id == pseudonym);
  SECTION("users are recorded at most once a day") {
    const Sequence head = w.Head();
    REQUIRE(w.Run(CommandType::kSeeUser, "", "", "", account));
    CHECK(w.Head() == head);
    w.rig.clock.Advance(std::chrono::hours(24));
    REQUIRE(w.Run(CommandType::kSeeUser, "", "", "", account));
    CHECK(w.Head() == head.next());
  }
}

TEST_CASE("Refused inputs write nothing and say why", "[projector]") {
  World w;
  const std::string site = w.CreateSite();
  const Sequence head = w.Head();
  auto refused = [&](Result<CommandResult> r, std::string_view contains) {
    REQUIRE_FALSE(r.has_value());
    INFO(r.error().message());
    CHECK(r.error().message().find(contains) != std::string::npos);
    CHECK(w.Head() == head);
    auto views = w.projector->CurrentViews(w.tenant);
    REQUIRE(views.has_value());
    CHECK(views->size() == 1);  // just the site
  };
  SECTION("page body") {
    refused(w.Run(CommandType::kSetFeatured, "123",
                  R"({"text":"x","body":"<p>the whole page</p>"})"),
            "Confluence page content is never stored");
  }
  SECTION("page title") {
    refused(w.Run(CommandType::kSetPromoted, "onboarding",
                  R"({"results":[{"contentId":"9","title":"Onboarding"}]})"),
            "Confluence page content is never stored");
  }
  SECTION("e-mail as user id") {
    refused(w.Run(CommandType::kSubmitFeedback, "", R"({"text":"hi"})", "",
                  "jane.doe@example.com"),
            "e-mail address is not an account id");
  }
  SECTION("name as user id") {
    refused(w.Run(CommandType::kSubmitFeedback, "", R"({"text":"hi"})", "",
                  "Jane Doe"),
            "a name is not an account id");
  }
  SECTION("credential field") {
    refused(w.Run(CommandType::kCreateTheme, "",
                  R"({"name":"T","apiKey":"k-123"})"),
            "$.apiKey: credentials are never stored");
  }
  SECTION("unknown field") {
    refused(w.Run(CommandType::kUpdateSite, site, R"({"nmae":"typo"})"),
            "$.nmae: unknown field");
  }
  SECTION("too deep") {
    std::string item =
        R"({"id":"e","label":"e","link":{"url":"https://e.example"}})";
    for (char c : std::string("dcba")) {
      item =
          std::string(R"({"id":")") + c +
          R"(","label":"x","link":{"url":"https://e.example"},"children":[)" +
          item + "]}";
    }
    refused(w.Run(CommandType::kReplaceNavigation, site,
                  "{\"items\":[" + item + "]}"),
            "nested deeper than 4 levels");
  }
  SECTION("too long") {
    refused(w.Run(CommandType::kUpdateSite, site,
                  "{\"name\":\"" + std::string(300, 'n') + "\"}"),
            "$.name: longer than 200 bytes");
  }
  SECTION("an id the server sets") {
    refused(
        w.Run(CommandType::kCreateSite, "", R"({"name":"x","siteId":"mine"})"),
        "$.siteId: set by the server");
  }
}

TEST_CASE("Commands of one tenant from many threads all commit",
          "[projector]") {
  World w;
  const std::string site = w.CreateSite();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto r = w.Run(CommandType::kAddSpace, site, "",
                       "S" + std::to_string(t) + "x" + std::to_string(i));
        if (!r) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(w.Head() == Sequence(201));
  auto site_view = w.projector->Get(w.tenant, {ViewKind::kSite, site});
  CHECK((*site_view)->doc.Find("spaceKeys")->as_array().size() == 200);
  auto rebuilt = w.projector->StateAt(w.tenant, w.Head(), false);
  REQUIRE(rebuilt.has_value());
  CHECK(rebuilt->rows() == w.projector->CurrentViews(w.tenant)->rows());
}

// Describes the first difference between two sets of rows ("" when equal).
std::string Diff(const std::map<ViewKey, ViewDoc>& a,
                 const std::map<ViewKey, ViewDoc>& b) {
  auto describe = [](const ViewKey& k) {
    return std::string(1, static_cast<char>(k.kind)) + "/" + k.id;
  };
  for (const auto& [key, row] : a) {
    auto it = b.find(key);
    if (it == b.end()) return "only left: " + describe(key);
    if (it->second.version != row.version) {
      return describe(key) + " version " + std::to_string(row.version.value()) +
             " vs " + std::to_string(it->second.version.value());
    }
    if (it->second.doc != row.doc) {
      return describe(key) + " doc " + row.doc.Dump() + " vs " +
             it->second.doc.Dump();
    }
  }
  for (const auto& [key, row] : b) {
    if (!a.contains(key)) return "only right: " + describe(key);
  }
  return "";
}

// ---------------------------------------------------------------------------
// Property tests: random command sequences (seeded, reproducible).

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  Command Next(const TenantState& state) {
    Command c;
    const int pick = Uniform(0, 99);
    auto ids = [&](ViewKind kind) {
      std::vector<std::string> out;
      state.ForEachText([&](const ViewKey& key, Sequence, const std::string&) {
        if (key.kind == kind) out.push_back(key.id);
      });
      return out;
    };
    const auto sites = ids(ViewKind::kSite);
    const auto themes = ids(ViewKind::kTheme);
    const auto layouts = ids(ViewKind::kLayout);
    const auto announcements = ids(ViewKind::kAnnouncement);
    const auto feedback = ids(ViewKind::kFeedback);
    auto any = [&](const std::vector<std::string>& v) {
      return v.empty() ? std::string("missing")
                       : v[Uniform(size_t{0}, v.size() - 1)];
    };
    if (pick < 8 || sites.empty()) {
      c.type = CommandType::kCreateSite;
      c.body = Obj({{"name", Word()}});
    } else if (pick < 14) {
      c.type = CommandType::kUpdateSite;
      c.id = any(sites);
      Json body = Json::MakeObject();
      if (Coin()) body.Set("name", Word());
      if (Coin() && !themes.empty()) body.Set("themeId", any(themes));
      if (Coin())
        body.Set("homeLayoutId",
                 layouts.empty() || Coin() ? Json() : Json(any(layouts)));
      c.body = body;
    } else if (pick < 20) {
      c.type = Coin() ? CommandType::kAddDomain : CommandType::kRemoveDomain;
      c.id = any(sites);
      c.item = Word() + ".example.com";
    } else if (pick < 26) {
      c.type = Coin() ? CommandType::kAddSpace : CommandType::kRemoveSpace;
      c.id = any(sites);
      c.item = "SP" + std::to_string(Uniform(0, 6));
    } else if (pick < 32) {
      c.type = CommandType::kReplaceNavigation;
      c.id = any(sites);
      Json items = Json::MakeArray();
      for (int i = Uniform(0, 4); i > 0; --i) items.Push(NavItem(2));
      c.body = Obj({{"items", items}});
    } else if (pick < 37) {
      c.type = CommandType::kAddNavigationItem;
      c.id = any(sites);
      c.body = Obj({{"item", NavItem(1)}, {"index", Uniform(0, 3)}});
    } else if (pick < 40) {
      c.type = Coin() ? CommandType::kRemoveNavigationItem
                      : CommandType::kMoveNavigationItem;
      c.id = any(sites);
      c.item = "n" + std::to_string(Uniform(0, 30));
      c.body = Obj({{"parentId", Json()}, {"index", Uniform(0, 2)}});
    } else if (pick < 46) {
      c.type = themes.empty() || Coin() ? CommandType::kCreateTheme
                                        : CommandType::kUpdateTheme;
      c.id = any(themes);
      Json media = Json::MakeObject();
      if (Coin()) media.Set("logo", Media());
      c.body = Obj({{"name", Word()},
                    {"colors", Obj({{"primary", Coin() ? "#0052cc" : "#fff"}})},
                    {"media", media}});
    } else if (pick < 48) {
      c.type = CommandType::kDeleteTheme;
      c.id = any(themes);
    } else if (pick < 55) {
      c.type = layouts.empty() || Coin() ? CommandType::kCreateLayout
                                         : CommandType::kSaveLayout;
      c.id = any(layouts);
      Json module = Obj({{"id", "m1"},
                         {"type", "image"},
                         {"props", Obj({{"mediaId", Media()}})}});
      Json column = Obj({{"id", "c1"},
                         {"width", Uniform(1, 12)},
                         {"modules", Json(Json::Array{module})}});
      c.body = Obj(
          {{"name", Word()},
           {"sections",
            Json(Json::Array{Obj(
                {{"id", "s1"}, {"columns", Json(Json::Array{column})}})})}});
    } else if (pick < 59) {
      c.type =
          Coin() ? CommandType::kPublishLayout : CommandType::kDeleteLayout;
      c.id = any(layouts);
    } else if (pick < 66) {
      c.type = announcements.empty() || Coin()
                   ? CommandType::kCreateAnnouncement
                   : CommandType::kUpdateAnnouncement;
      c.id = any(announcements);
      c.body = Obj({{"text", Word() + " " + Word()},
                    {"severity", Coin() ? "info" : "critical"},
                    {"startsAt", "2026-01-0" + std::to_string(Uniform(1, 9)) +
                                     "T00:00:00Z"},
                    {"audience", Obj({{"all", true}})}});
    } else if (pick < 68) {
      c.type = CommandType::kDeleteAnnouncement;
      c.id = any(announcements);
    } else if (pick < 74) {
      c.type = Uniform(0, 3) ? CommandType::kSetPromoted
                             : CommandType::kClearPromoted;
      c.id = "Key " + std::to_string(Uniform(0, 5));
      c.body = Obj({{"results",
                     Json(Json::Array{Obj(
                         {{"contentId", std::to_string(Uniform(1, 99))}})})}});
    } else if (pick < 80) {
      c.type = Uniform(0, 3) ? CommandType::kSetFeatured
                             : CommandType::kClearFeatured;
      c.id = std::to_string(Uniform(100, 110));
      c.body = Obj({{"text", Word()}, {"mediaId", Media()}});
    } else if (pick < 86) {
      c.type = CommandType::kSubmitFeedback;
      c.body = Obj({{"text", Word()}, {"rating", Uniform(1, 5)}});
      c.actor = Account();
    } else if (pick < 89) {
      c.type =
          Coin() ? CommandType::kResolveFeedback : CommandType::kDeleteFeedback;
      c.id = any(feedback);
    } else if (pick < 95) {
      c.type = CommandType::kSeeUser;
      c.actor = Account();
    } else {
      c.type = Coin() ? CommandType::kAttachMedia : CommandType::kDetachMedia;
      c.id = Media();
      c.body = Obj({{"kind", "logo"}});
    }
    return c;
  }

  int Uniform(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  size_t Uniform(size_t lo, size_t hi) {
    return std::uniform_int_distribution<size_t>(lo, hi)(rng_);
  }
  bool Coin() { return Uniform(0, 1) == 1; }

 private:
  static Json Obj(std::initializer_list<std::pair<std::string, Json>> members) {
    Json o = Json::MakeObject();
    for (const auto& [k, v] : members) o.Set(k, v);
    return o;
  }
  std::string Word() {
    static const char* kWords[] = {"alpha", "beta",  "gamma", "delta",
                                   "omega", "kappa", "sigma", "zeta"};
    return kWords[Uniform(0, 7)];
  }
  std::string Media() { return std::string(64, "abcdef"[Uniform(0, 5)]); }
  std::string Account() {
    return "acct" + std::to_string(Uniform(0, 9)) + "x5b10ac8d82e05b22";
  }
  Json NavItem(int depth) {
    Json item = Obj({{"id", "n" + std::to_string(Uniform(0, 30))},
                     {"label", Word()},
                     {"link", Coin() ? Obj({{"spaceKey", "DOCS"}})
                                     : Obj({{"url", "https://e.example/x"}})}});
    if (depth > 1 && Coin()) {
      item.Set("children", Json(Json::Array{NavItem(depth - 1)}));
    }
    return item;
  }

  std::mt19937 rng_;
};

TEST_CASE(
    "Inline views equal a full fold and the versions, and as-of reads, "
    "restores and a streamed rebuild agree with history",
    "[projector][property]") {
  const uint32_t seed = GENERATE(1u, 2u, 3u);
  INFO("seed " << seed);
  World w;
  Generator gen(seed);
  for (char c : std::string("abcdef")) {
    REQUIRE(w.Run(CommandType::kAttachMedia, std::string(64, c),
                  R"({"kind":"layout-image","size":1000})"));
  }
  struct Observation {
    siteledger::Timestamp time;
    Sequence seq;
    TenantState state;
  };
  std::vector<Observation> observed;
  for (int i = 0; i < 2500; ++i) {
    auto current = w.projector->CurrentViews(w.tenant);
    REQUIRE(current.has_value());
    Command c = gen.Next(*current);
    auto r = w.projector->ExecuteSync(w.tenant, c);
    // Random commands may be refused (a missing entity, a duplicate item);
    // a refusal must be one of the client's errors, never a server fault.
    if (!r) {
      INFO(r.error().ToString());
      CHECK((r.error().code() == StatusCode::kNotFound ||
             r.error().code() == StatusCode::kInvalidArgument ||
             r.error().code() == StatusCode::kConflict));
    }
    if (i % 50 == 0) {
      auto now = w.projector->CurrentViews(w.tenant);
      REQUIRE(now.has_value());
      observed.push_back({w.rig.clock.Now(), now->seq(), std::move(*now)});
    }
    w.rig.clock.Advance(std::chrono::milliseconds(gen.Uniform(1, 20)));
  }
  const Sequence head = w.Head();
  INFO("events: " << head.value());
  REQUIRE(head.value() > 1500);

  auto inline_views = w.projector->CurrentViews(w.tenant);
  auto full = w.projector->StateAt(w.tenant, head, /*from_history=*/false);
  auto from_history = w.projector->StateAt(w.tenant, head, true);
  REQUIRE(inline_views.has_value());
  REQUIRE(full.has_value());
  REQUIRE(from_history.has_value());
  CHECK(Diff(inline_views->rows(), full->rows()) == "");
  CHECK(Diff(from_history->rows(), full->rows()) == "");
  CHECK(inline_views->Digest() == full->Digest());

  for (const Observation& o : observed) {
    auto as_of = w.projector->StateAtTime(w.tenant, o.time);
    REQUIRE(as_of.has_value());
    INFO("as of seq " << o.seq.value());
    CHECK(as_of->seq() == o.seq);
    CHECK(Diff(as_of->rows(), o.state.rows()) == "");
    // One view at a time, and a page at a time, read the same.
    for (const auto& [key, doc] : o.state.rows()) {
      auto one = w.projector->GetAt(w.tenant, key, o.seq);
      REQUIRE(one.has_value());
      REQUIRE(one->has_value());
      CHECK(**one == doc);
    }
    for (ViewKind kind : {ViewKind::kSite, ViewKind::kLayout,
                          ViewKind::kPromoted, ViewKind::kMedia}) {
      std::vector<ViewKey> listed;
      std::string cursor;
      do {
        auto page = w.projector->ListAt(w.tenant, kind, o.seq, cursor, 3);
        REQUIRE(page.has_value());
        for (const auto& item : page->items) listed.push_back(item.first);
        cursor = page->next_cursor;
      } while (!cursor.empty());
      std::vector<ViewKey> expected;
      for (const auto& [key, doc] : o.state.rows()) {
        if (key.kind == kind) expected.push_back(key);
      }
      if (kind == ViewKind::kPromoted) {
        // Listed in the order of their keys' HMACs.
        std::sort(listed.begin(), listed.end());
      }
      CHECK(listed == expected);
    }
  }

  // Restore to an observed time; then undo the restore.
  const Observation& target = observed[observed.size() / 3];
  const std::string digest_before = storage::ToHex(inline_views->Digest());
  REQUIRE(storage::ToHex(target.state.Digest()) != digest_before);
  Command restore;
  restore.type = CommandType::kRestore;
  restore.body = P(std::string(R"({"asOf":")") +
                   siteledger::FormatRfc3339(target.time) + "\"}");
  auto restored = w.projector->ExecuteSync(w.tenant, restore);
  REQUIRE(restored.has_value());
  auto after = w.projector->CurrentViews(w.tenant);
  CHECK(storage::ToHex(after->Digest()) ==
        storage::ToHex(target.state.Digest()));
  // History is kept: the log grew by one event.
  CHECK(w.Head() == head.next());
  // A rebuild folds the restore the same way.
  CHECK(Diff(w.projector->StateAt(w.tenant, w.Head(), false)->rows(),
             after->rows()) == "");

  Command undo;
  undo.type = CommandType::kRestore;
  undo.body = P("{\"toSeq\":" + std::to_string(head.value()) + "}");
  REQUIRE(w.projector->ExecuteSync(w.tenant, undo).has_value());
  CHECK(storage::ToHex(w.projector->CurrentViews(w.tenant)->Digest()) ==
        digest_before);

  // A streamed rebuild writes the same views and the same versions.
  auto before_rebuild = w.projector->CurrentViews(w.tenant);
  REQUIRE(before_rebuild.has_value());
  REQUIRE(w.projector->Rebuild(w.tenant).ok());
  auto rebuilt = w.projector->CurrentViews(w.tenant);
  REQUIRE(rebuilt.has_value());
  CHECK(Diff(rebuilt->rows(), before_rebuild->rows()) == "");
  for (const Observation& o : observed) {
    INFO("after the rebuild, as of seq " << o.seq.value());
    CHECK(Diff(w.projector->StateAt(w.tenant, o.seq)->rows(), o.state.rows()) ==
          "");
  }
  CHECK(Diff(w.projector->StateAt(w.tenant, restored->last)->rows(),
             after->rows()) == "");
}

TEST_CASE(
    "A big tenant's versions cost bounded bytes per event, and as-of reads "
    "at random points equal a full fold",
    "[projector][big]") {
  World w;
  constexpr uint64_t kSites = 20000;
  constexpr uint64_t kEvents = 200000;
  std::mt19937_64 rng(7);
  auto site = [](uint64_t i) { return "s_" + std::to_string(i); };
  // Appended straight to the log in large batches (the quick way to a big
  // log); the streamed rebuild then writes the views and their versions
  // exactly as inline appends do (the property test above checks that).
  const siteledger::Timestamp t0 = w.rig.clock.Now();
  for (uint64_t done = 0; done < kEvents; done += 1000) {
    storage::AppendRequest request;
    request.tenant = w.tenant;
    request.time = t0 + std::chrono::milliseconds(done);
    for (uint64_t i = done; i < done + 1000; ++i) {
      if (i < kSites) {
        request.events.push_back({std::string(event::kSiteCreated), "",
                                  R"({"v":1,"siteId":")" + site(i) +
                                      R"(","name":"Site )" + std::to_string(i) +
                                      "\"}"});
      } else if (rng() % 100 == 0) {
        request.events.push_back(
            {std::string(event::kSiteDeleted), "",
             R"({"v":1,"siteId":")" + site(rng() % kSites) + "\"}"});
      } else {
        request.events.push_back(
            {std::string(event::kSiteRenamed), "",
             R"({"v":1,"siteId":")" + site(rng() % kSites) +
                 R"(","name":"Renamed at )" + std::to_string(i) + "\"}"});
      }
    }
    REQUIRE(w.rig.log->Append(std::move(request)).has_value());
  }
  REQUIRE(w.projector->Rebuild(w.tenant).ok());

  // What the versions take on disk, per event: about one row and a change
  // list, whatever the tenant's size. (Whole-state snapshots every 1,000
  // events took the state's size, ~3 KB here, per event.)
  auto* raw = w.rig.db->db();
  auto* snapshots = w.rig.db->cf(storage::Family::kSnapshots);
  REQUIRE(raw->Flush(rocksdb::FlushOptions(), snapshots).ok());
  // The tenant's key range: keys start with its id, 8 bytes big-endian.
  std::string begin, end;
  coding::PutU64(begin, w.tenant.value());
  coding::PutU64(end, w.tenant.value() + 1);
  rocksdb::Range range(begin, end);
  uint64_t bytes = 0;
  REQUIRE(raw->GetApproximateSizes(rocksdb::SizeApproximationOptions(),
                                   snapshots, &range, 1, &bytes)
              .ok());
  WARN("snapshots family: " << bytes << " bytes for " << kEvents << " events");
  CHECK(bytes > 0);
  CHECK(bytes / kEvents <= 400);

  // One forward fold, compared with the versions at 100 random points.
  std::vector<uint64_t> points;
  for (int i = 0; i < 100; ++i) points.push_back(1 + rng() % kEvents);
  std::sort(points.begin(), points.end());
  TenantState folded;
  Sequence next(1);
  size_t point = 0;
  while (point < points.size()) {
    auto events = w.rig.log->Read(w.tenant, next, 4096);
    REQUIRE(events.has_value());
    REQUIRE_FALSE(events->empty());
    for (const storage::Event& e : *events) {
      auto payload = ParseJson(e.payload, TrustedJsonLimits());
      REQUIRE(payload.has_value());
      REQUIRE(Apply(folded, EventRef{e.seq, e.time, e.type, e.actor, *payload})
                  .ok());
      for (; point < points.size() && points[point] == e.seq.value(); ++point) {
        INFO("as of seq " << e.seq.value());
        for (int k = 0; k < 20; ++k) {
          const ViewKey key{ViewKind::kSite, site(rng() % kSites)};
          auto expected = folded.Get(key);
          REQUIRE(expected.has_value());
          auto got = w.projector->GetAt(w.tenant, key, e.seq);
          REQUIRE(got.has_value());
          REQUIRE(got->has_value() == (*expected != nullptr));
          if (*expected != nullptr) CHECK(**got == **expected);
        }
        auto page = w.projector->ListAt(w.tenant, ViewKind::kSite, e.seq,
                                        site(rng() % kSites), 50);
        REQUIRE(page.has_value());
        for (const auto& [key, doc] : page->items) {
          auto expected = folded.Get(key);
          REQUIRE(expected.has_value());
          REQUIRE(*expected != nullptr);
          CHECK(doc == **expected);
        }
        if (point % 25 == 0) {
          auto whole = w.projector->StateAt(w.tenant, e.seq);
          REQUIRE(whole.has_value());
          CHECK(whole->Digest() == folded.Digest());
          CHECK(whole->size() == folded.size());
        }
      }
    }
    next = events->back().seq.next();
  }
}

TEST_CASE(
    "Identical states digest identically, and any change changes the "
    "digest",
    "[projector]") {
  World a, b;
  for (World* w : {&a, &b}) {
    REQUIRE(w->Run(CommandType::kSetPromoted, "hr",
                   R"({"results":[{"contentId":"1"}]})"));
  }
  CHECK(a.projector->CurrentViews(a.tenant)->Digest() ==
        b.projector->CurrentViews(b.tenant)->Digest());
  REQUIRE(b.Run(CommandType::kSetPromoted, "hr",
                R"({"results":[{"contentId":"2"}]})"));
  CHECK(a.projector->CurrentViews(a.tenant)->Digest() !=
        b.projector->CurrentViews(b.tenant)->Digest());
}

TEST_CASE("Promoted keywords never appear in keys", "[projector]") {
  World w;
  REQUIRE(w.Run(CommandType::kSetPromoted, "Payroll Questions",
                R"({"results":[{"contentId":"77"}]})"));
  auto rows =
      w.rig.log->ScanRows(w.tenant, storage::Family::kViews, "p", "", 10);
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].first.find("payroll") == std::string::npos);
  auto page = w.projector->List(w.tenant, ViewKind::kPromoted, "", 10);
  REQUIRE(page->items.size() == 1);
  CHECK(page->items[0].first.id == "payroll questions");
}

TEST_CASE("Lists page with a cursor", "[projector]") {
  World w;
  for (int i = 0; i < 5; ++i) w.CreateSite("site " + std::to_string(i));
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = w.projector->List(w.tenant, ViewKind::kSite, cursor, 2);
    REQUIRE(page.has_value());
    for (auto& [key, doc] : page->items) seen.insert(key.id);
    cursor = page->next_cursor;
    ++pages;
  } while (!cursor.empty());
  CHECK(seen.size() == 5);
  CHECK(pages == 3);
}

}  // namespace
}  // namespace siteledger::projections

namespace siteledger::projections {
namespace {

Result<CommandResult> Erase(World& w, const std::string& account) {
  Command c;
  c.type = CommandType::kEraseUser;
  c.subject = account;
  return w.projector->ExecuteSync(w.tenant, std::move(c));
}

TEST_CASE(
    "Erasing a user deletes its pseudonym rows with a user.erased event and "
    "the users view shows it erased",
    "[projector][erase]") {
  World w;
  const std::string gone = "5b10ac8d82e05b22cc7d4ef5";
  const std::string stays = "557058:0a1b2c3d-stays";
  auto fb = w.Run(CommandType::kSubmitFeedback, "", R"({"text":"Nice menu"})",
                  "", gone);
  REQUIRE(fb.has_value());
  REQUIRE(w.Run(CommandType::kSeeUser, "", "", "", gone));
  REQUIRE(w.Run(CommandType::kSeeUser, "", "", "", stays));
  const std::string pseudonym(fb->view->doc.GetString("submitter"));
  const std::string other = **w.projector->PseudonymOf(w.tenant, stays);
  CHECK(*w.rig.log->TenantsOfAccount(gone) ==
        std::vector<siteledger::TenantId>{w.tenant});
  const Sequence before = w.Head();

  auto erased = Erase(w, gone);
  INFO((erased ? std::string() : erased.error().ToString()));
  REQUIRE(erased.has_value());
  CHECK(erased->first == before.next());
  REQUIRE(erased->entity.has_value());
  CHECK(erased->entity->kind == ViewKind::kUser);
  CHECK(erased->entity->id == pseudonym);

  // The mapping is gone both ways, and from the region's index.
  CHECK_FALSE(w.projector->PseudonymOf(w.tenant, gone)->has_value());
  CHECK_FALSE(w.projector->AccountIdOf(w.tenant, pseudonym)->has_value());
  CHECK(w.rig.log->TenantsOfAccount(gone)->empty());
  // The view says so; the user's days stay.
  auto user = w.projector->Get(w.tenant, {ViewKind::kUser, pseudonym});
  REQUIRE(user.has_value());
  REQUIRE(user->has_value());
  CHECK((*user)->doc.Find("erased")->as_bool());
  CHECK((*user)->doc.GetString("erasedAt") ==
        siteledger::FormatRfc3339(w.rig.clock.Now()));
  CHECK_FALSE((*user)->doc.GetString("firstSeen").empty());
  // History keeps the pseudonym: the feedback, the earlier events.
  auto feedback = w.projector->Get(w.tenant, *fb->entity);
  CHECK((*feedback)->doc.GetString("submitter") == pseudonym);
  auto events = w.rig.log->Read(w.tenant, Sequence(1), 100);
  REQUIRE(events.has_value());
  CHECK(events->front().actor == pseudonym);
  CHECK(events->back().type == "user.erased");
  CHECK(events->back().actor.empty());
  CHECK(P(events->back().payload).GetString("user") == pseudonym);
  for (const auto& e : *events) {
    CHECK(e.payload.find(gone) == std::string::npos);
  }
  testing::RequireChainVerifies(w.rig, w.tenant);
  // The other person is untouched.
  CHECK(**w.projector->PseudonymOf(w.tenant, stays) == other);
  CHECK(**w.projector->AccountIdOf(w.tenant, other) == stays);
  auto kept = w.projector->Get(w.tenant, {ViewKind::kUser, other});
  CHECK((*kept)->doc.Find("erased") == nullptr);
  // The fold from the log gives the same views.
  auto folded = w.projector->StateAt(w.tenant, w.Head(), false);
  REQUIRE(folded.has_value());
  CHECK(folded->Digest() == w.projector->CurrentViews(w.tenant)->Digest());

  SECTION("erasing again finds nothing and writes nothing") {
    auto again = Erase(w, gone);
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().code() == StatusCode::kNotFound);
    CHECK(again.error().message().find(gone) == std::string::npos);
    CHECK(w.Head() == before.next());
  }
  SECTION("the person coming back gets a new pseudonym") {
    auto back = w.Run(CommandType::kSeeUser, "", "", "", gone);
    REQUIRE(back.has_value());
    CHECK(back->entity->id != pseudonym);
    CHECK(**w.projector->PseudonymOf(w.tenant, gone) == back->entity->id);
    CHECK(*w.rig.log->TenantsOfAccount(gone) ==
          std::vector<siteledger::TenantId>{w.tenant});
  }
  SECTION("a malformed account id is refused without echoing it") {
    auto bad = Erase(w, "someone@example.com");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code() == StatusCode::kInvalidArgument);
    CHECK(bad.error().message().find("someone") == std::string::npos);
    CHECK(w.Head() == before.next());
  }
}

TEST_CASE("An erasure queued behind the person's own write follows it",
          "[projector][erase]") {
  World w;
  const std::string account = "5b10ac8d82e05b22cc7d4ef5";
  // Both decided before either is written: the erasure sees the pseudonym
  // the first one allocates through the session's overlay.
  std::atomic<int> done{0};
  Command seen;
  seen.type = CommandType::kSeeUser;
  seen.actor = account;
  Command erase;
  erase.type = CommandType::kEraseUser;
  erase.subject = account;
  std::optional<Result<CommandResult>> first, second;
  w.projector->Execute(w.tenant, std::move(seen), [&](Result<CommandResult> r) {
    first = std::move(r);
    ++done;
  });
  w.projector->Execute(w.tenant, std::move(erase),
                       [&](Result<CommandResult> r) {
                         second = std::move(r);
                         ++done;
                       });
  w.rig.log->WaitForAppends();
  REQUIRE(done == 2);
  REQUIRE(first->has_value());
  REQUIRE(second->has_value());
  CHECK((*second)->entity->id == (*first)->entity->id);
  CHECK_FALSE(w.projector->PseudonymOf(w.tenant, account)->has_value());
  CHECK(w.rig.log->TenantsOfAccount(account)->empty());
}

TEST_CASE(
    "A copy's rows are erased without an event, also when it imports its "
    "home's erasure",
    "[projector][erase]") {
  World w;
  const std::string account = "5b10ac8d82e05b22cc7d4ef5";
  // A copy as a migration's target writes it: rows and index, no command.
  auto copy_rows = [&] {
    std::vector<storage::ExtraWrite> rows;
    std::vector<storage::AccountIndexWrite> index;
    REQUIRE(w.projector
                ->AddPseudonymRows(w.tenant, "u_0123456789abcdef0123", account,
                                   rows, index)
                .ok());
    REQUIRE(w.rig.log->WriteRows(w.tenant, rows, true, index).ok());
    REQUIRE(**w.projector->AccountIdOf(w.tenant, "u_0123456789abcdef0123") ==
            account);
    REQUIRE(*w.rig.log->TenantsOfAccount(account) ==
            std::vector<siteledger::TenantId>{w.tenant});
  };
  copy_rows();
  const Sequence head = w.Head();

  SECTION("erased here") {
    auto erased = w.projector->ErasePseudonymRows(w.tenant, account);
    REQUIRE(erased.has_value());
    CHECK(**erased == "u_0123456789abcdef0123");
    auto again = w.projector->ErasePseudonymRows(w.tenant, account);
    REQUIRE(again.has_value());
    CHECK_FALSE(again->has_value());
  }
  SECTION("an imported user.erased") {
    storage::Event imported;
    imported.seq = Sequence(7);
    imported.type = "user.erased";
    imported.payload = R"({"user":"u_0123456789abcdef0123","v":1})";
    std::vector<storage::ExtraWrite> rows;
    std::vector<storage::AccountIndexWrite> index;
    REQUIRE(w.projector->AddImportedErasures(w.tenant, {imported}, rows, index)
                .ok());
    CHECK(rows.size() == 2);
    REQUIRE(w.rig.log->WriteRows(w.tenant, rows, true, index).ok());
  }
  CHECK_FALSE(w.projector->PseudonymOf(w.tenant, account)->has_value());
  CHECK_FALSE(w.projector->AccountIdOf(w.tenant, "u_0123456789abcdef0123")
                  ->has_value());
  CHECK(w.rig.log->TenantsOfAccount(account)->empty());
  CHECK(w.Head() == head);
}

TEST_CASE("Accounts written before the account index are indexed once",
          "[projector][erase]") {
  World w;
  // Rows as an older version wrote them: no index entry.
  std::vector<std::string> accounts;
  std::vector<storage::ExtraWrite> rows;
  for (int i = 0; i < 2500; ++i) {
    const std::string account = "acc-" + std::to_string(i);
    char pseudonym[32];
    std::snprintf(pseudonym, sizeof pseudonym, "u_%020d", i);
    rows.push_back({storage::Family::kPseudonyms, storage::WriteOp::kPut,
                    std::string("p") + pseudonym, account});
    accounts.push_back(account);
  }
  REQUIRE(w.rig.log->WriteRows(w.tenant, rows, true).ok());
  CHECK(w.rig.log->TenantsOfAccount("acc-7")->empty());
  CHECK_FALSE(*w.rig.log->AccountIndexBuilt());

  REQUIRE(w.projector->IndexAccounts(w.tenant).ok());
  REQUIRE(w.rig.log->MarkAccountIndexBuilt().ok());
  CHECK(*w.rig.log->AccountIndexBuilt());
  for (const std::string& account :
       {accounts.front(), accounts[1000], accounts.back()}) {
    CHECK(*w.rig.log->TenantsOfAccount(account) ==
          std::vector<siteledger::TenantId>{w.tenant});
  }
}

}  // namespace
}  // namespace siteledger::projections
