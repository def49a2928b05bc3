// Erasing users by Atlassian account id: POST /admin/users/erase and
// `siteledger erase-users`. The erased person's pseudonym rows go from every
// tenant (and from RocksDB's files, as ldb and a byte search of the data
// folder show), the users view says erased, history keeps the pseudonym,
// the hash chain still verifies, and nobody else is touched.

#include <catch2/catch.hpp>
#include <fstream>
#include <set>

#include "storage/base/clock.h"
#include "storage/crypto.h"
#include "storage/store.h"
#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

// The person erased (in two tenants), one who stays (the harness's default
// sub), and one no tenant has seen.
const std::string kErased = "557058:0e1f2a3b-erase-me-4c5d6e7f";
const std::string kStays = "5b10ac8d82e05b22cc7d4ef5";
const std::string kUnseen = "557058:never-seen-9a8b7c";

struct EraseWorld {
  OperatorsFile ops;
  std::string eraser = ops.Add("eraser", "erase-users");
  std::string auditor = ops.Add("auditor", "audit,usage");
  World w{ops.Flags()};
};

// A signed request to the tenant API as the user `sub`.
Response As(World& w, const Tenant& t, const std::string& sub,
            const std::string& method, const std::string& target,
            const std::string& body = "") {
  std::vector<std::string> headers = {t.Auth(method, target, sub)};
  if (!body.empty()) headers.push_back("Content-Type: application/json");
  return Http(method, w.server->url(target), headers, body);
}

// Submits feedback as `sub`; returns the submitter's pseudonym.
std::string Feedback(World& w, const Tenant& t, const std::string& sub,
                     const std::string& text) {
  Response r = As(w, t, sub, "POST", "/api/v1/feedback",
                  R"({"text":")" + text + R"(","rating":4})");
  INFO(r.body);
  REQUIRE(r.status == 201);
  const std::string pseudonym(r.json().GetString("submitter"));
  REQUIRE(pseudonym.starts_with("u_"));
  return pseudonym;
}

// A read with a token without a sub: no user is recorded by it.
Response Read(World& w, const Tenant& t, const std::string& target) {
  return As(w, t, "", "GET", target);
}

// The tenant's user view of `pseudonym`, once its user.seen is recorded.
Json User(World& w, const Tenant& t, const std::string& pseudonym) {
  Response r;
  REQUIRE(Eventually([&] {
    r = Read(w, t, "/api/v1/users/" + pseudonym);
    return r.status == 200;
  }));
  return r.json();
}

// The tenant's events after `after` (at most 1000).
std::vector<Json> Events(World& w, const Tenant& t, uint64_t after = 0) {
  Response r = Read(
      w, t, "/api/v1/events?after=" + std::to_string(after) + "&limit=1000");
  INFO(r.body);
  REQUIRE(r.status == 200);
  const Json page = r.json();
  return page.Find("items")->as_array();
}

uint64_t Head(World& w, const Tenant& t) {
  const std::vector<Json> events = Events(w, t);
  return events.empty() ? 0
                        : static_cast<uint64_t>(events.back().GetInt("seq"));
}

Response Erase(EraseWorld& ew, const std::string& body,
               const std::string& token = "") {
  return Admin(ew.w, token.empty() ? ew.eraser : token, "POST",
               "/admin/users/erase", "", body);
}

std::string Upper(std::string hex) {
  for (char& c : hex) c = static_cast<char>(std::toupper(c));
  return hex;
}

// The stopped region's rows of a family for tenants 1 and 2 (ldb --hex:
// key hex -> value bytes).
std::map<std::string, std::string> Rows(const std::filesystem::path& db,
                                        const std::string& family,
                                        const std::string& key_prefix_hex) {
  std::vector<std::string> values;
  const std::vector<std::string> keys = LdbKeys(db, family, nullptr, &values);
  REQUIRE(keys.size() == values.size());
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].starts_with(key_prefix_hex)) out[keys[i]] = Unhex(values[i]);
  }
  return out;
}

size_t CountPrefix(const std::map<std::string, std::string>& rows,
                   const std::string& prefix_hex) {
  size_t n = 0;
  for (const auto& [key, value] : rows) n += key.starts_with(prefix_hex);
  return n;
}

TEST_CASE(
    "Erasing an account id removes its pseudonym from every tenant and from "
    "the files, keeps history and the chain, and leaves others alone",
    "[e2e][erase]") {
  EraseWorld ew;
  World& w = ew.w;
  const Tenant a = w.Install("client-erase-a");  // tenant 1
  const Tenant b = w.Install("client-erase-b");  // tenant 2
  const std::string erased_a = Feedback(w, a, kErased, "Menu is great");
  const std::string stays_a = Feedback(w, a, kStays, "Search is slow");
  const std::string erased_b = Feedback(w, b, kErased, "Love the theme");
  CHECK(erased_a != erased_b);  // pseudonyms are per tenant
  REQUIRE_FALSE(User(w, a, erased_a).Find("erased"));
  REQUIRE_FALSE(User(w, a, stays_a).Find("erased"));
  REQUIRE_FALSE(User(w, b, erased_b).Find("erased"));
  const uint64_t head_a = Head(w, a);
  const uint64_t head_b = Head(w, b);

  // The rows as RocksDB holds them before: tenant 1 maps both people,
  // tenant 2 the erased one; the region's account index has an entry for
  // each mapping (tenant 0 'U' rows) and each tenant its own ('u').
  const std::filesystem::path root = w.dir.path();
  const std::filesystem::path db = root / "us";
  REQUIRE(w.server->Stop() == 0);
  const std::string t1 = PrefixHex(1), t2 = PrefixHex(2);
  const auto before_1 = Rows(db, "pseudonyms", t1);
  const auto before_2 = Rows(db, "pseudonyms", t2);
  const std::string reverse_a = t1 + "70" + Upper(storage::ToHex(erased_a));
  const std::string reverse_b = t2 + "70" + Upper(storage::ToHex(erased_b));
  const std::string reverse_stays = t1 + "70" + Upper(storage::ToHex(stays_a));
  REQUIRE(before_1.contains(reverse_a));
  REQUIRE(before_1.contains(reverse_stays));
  REQUIRE(before_2.contains(reverse_b));
  REQUIRE(CountPrefix(before_1, t1 + "61") == 2);  // forward rows
  REQUIRE(CountPrefix(before_2, t2 + "61") == 1);
  const auto index_before = Rows(db, "tenants", PrefixHex(0) + "55");
  CHECK(index_before.size() == 3);
  CHECK(CountPrefix(Rows(db, "tenants", t1 + "75"), t1 + "75") == 2);
  // Encryption at rest: the account id is in no file, even now.
  CHECK(FilesHolding(root, kErased).empty());
  w.server->Start();

  Response erased = Erase(
      ew, R"({"accountIds":[")" + kErased + R"(",")" + kUnseen + R"("]})");
  INFO(erased.body << "\n" << w.server->Log());
  REQUIRE(erased.status == 200);
  const Json report = erased.json();
  CHECK(report.GetInt("requested") == 2);
  CHECK(report.GetInt("erased") == 2);
  CHECK(report.GetInt("tenants") == 2);
  CHECK(report.GetInt("notFound") == 1);
  CHECK(report.GetInt("deferred") == 0);
  CHECK(erased.body.find(kErased) == std::string::npos);

  // The users views say erased in both tenants; the other user is as was.
  for (const auto& [t, pseudonym] :
       {std::pair{&a, erased_a}, std::pair{&b, erased_b}}) {
    const Json user = User(w, *t, pseudonym);
    INFO(user.Dump());
    REQUIRE(user.Find("erased") != nullptr);
    CHECK(user.Find("erased")->as_bool());
    CHECK_FALSE(user.GetString("erasedAt").empty());
    CHECK_FALSE(user.GetString("firstSeen").empty());
  }
  CHECK(User(w, a, stays_a).Find("erased") == nullptr);
  // History keeps the pseudonym; the erasure is one more event.
  const std::vector<Json> events_a = Events(w, a, head_a);
  REQUIRE(events_a.size() == 1);
  CHECK(events_a[0].GetString("type") == "user.erased");
  CHECK(events_a[0].Find("payload")->GetString("user") == erased_a);
  CHECK(events_a[0].Find("actor")->is_null());
  const std::vector<Json> events_b = Events(w, b, head_b);
  REQUIRE(events_b.size() == 1);
  CHECK(events_b[0].Find("payload")->GetString("user") == erased_b);
  Response list = Read(w, a, "/api/v1/feedback");
  REQUIRE(list.status == 200);
  std::set<std::string> submitters;
  const Json feedback = list.json();
  for (const Json& item : feedback.Find("items")->as_array()) {
    submitters.insert(std::string(item.GetString("submitter")));
  }
  CHECK(submitters == std::set<std::string>{erased_a, stays_a});
  // The person who stays goes on as before, under the same pseudonym.
  CHECK(Feedback(w, a, kStays, "Search is fast now") == stays_a);

  // Audited by count and pseudonym, never by account id.
  Response audit = Admin(w, ew.auditor, "GET", "/admin/audit?limit=1000");
  REQUIRE(audit.status == 200);
  CHECK(audit.body.find(kErased) == std::string::npos);
  std::set<std::string> details;
  std::string summary;
  const Json records = audit.json();
  for (const Json& item : records.Find("items")->as_array()) {
    if (item.GetString("action") == "user.erased") {
      CHECK(item.GetString("actor") == "eraser");
      details.insert(std::string(item.GetString("detail")));
    }
    if (item.GetString("action") == "operator.erase-users") {
      summary = std::string(item.GetString("detail"));
    }
  }
  CHECK(details == std::set<std::string>{"pseudonym " + erased_a,
                                         "pseudonym " + erased_b});
  CHECK(summary ==
        "2 account ids: 2 erased in 2 tenants, 1 not found, 0 "
        "deferred");

  // Erasing again finds nothing.
  Response again = Erase(ew, R"({"accountIds":[")" + kErased + R"("]})");
  REQUIRE(again.status == 200);
  CHECK(again.json().GetInt("erased") == 0);
  CHECK(again.json().GetInt("notFound") == 1);

  REQUIRE(w.server->Stop() == 0);
  CHECK(w.server->Log().find(kErased) == std::string::npos);
  CHECK(FilesHolding(root, kErased).empty());
  // ldb: the erased person's rows are gone from both tenants, the other's
  // are there; the index keeps one entry.
  const auto after_1 = Rows(db, "pseudonyms", t1);
  const auto after_2 = Rows(db, "pseudonyms", t2);
  CHECK_FALSE(after_1.contains(reverse_a));
  CHECK(after_1.contains(reverse_stays));
  CHECK(after_2.empty());
  CHECK(CountPrefix(after_1, t1 + "61") == 1);
  CHECK(Rows(db, "tenants", PrefixHex(0) + "55").size() == 1);
  CHECK(CountPrefix(Rows(db, "tenants", t1 + "75"), t1 + "75") == 1);
  CHECK(Rows(db, "tenants", t2 + "75").empty());
  // No file holds the sealed bytes of a row that went; the rows that stay
  // are stored as they were.
  std::vector<std::string> gone;
  for (const auto* rows : {&before_1, &before_2}) {
    for (const auto& [key, value] : *rows) {
      const auto& now = rows == &before_1 ? after_1 : after_2;
      if (!now.contains(key)) gone.push_back(value);
    }
  }
  REQUIRE(gone.size() == 4);  // forward and reverse, in two tenants
  for (const std::string& value : gone) {
    REQUIRE(value.size() > 29);
    const auto holding = FilesHolding(root, value);
    INFO((holding.empty() ? std::string() : holding.front()));
    CHECK(holding.empty());
  }
  for (const auto& [key, value] : after_1) {
    CHECK(before_1.at(key) == value);
  }

  // Both tenants' hash chains still verify.
  siteledger::SystemClock clock;
  storage::StoreOptions options;
  options.data = db;
  options.clock = &clock;
  auto store = storage::Store::Open(options);
  INFO((store ? std::string() : store.error().ToString()));
  REQUIRE(store.has_value());
  for (const Tenant* t : {&a, &b}) {
    auto id = (*store)->registry().Find(t->client_key);
    REQUIRE(id.has_value());
    auto verified = (*store)->log().Verify(*id);
    REQUIRE(verified.has_value());
    INFO(verified->problem);
    CHECK(verified->ok);
    CHECK(verified->events_checked > 2);
  }
}

TEST_CASE("A bad erase body is a clear 400 or 413 and erases nothing",
          "[e2e][erase]") {
  EraseWorld ew;
  World& w = ew.w;
  const Tenant a = w.Install("client-erase-bad");
  const std::string pseudonym = Feedback(w, a, kErased, "Keep me");
  REQUIRE(User(w, a, pseudonym).Find("erased") == nullptr);
  const uint64_t head = Head(w, a);

  std::string many = R"({"accountIds":[)";
  for (int i = 0; i < 1001; ++i) {
    many +=
        (i ? ",\"" : "\"") + kErased.substr(0, 20) + std::to_string(i) + "\"";
  }
  many += "]}";
  struct Case {
    std::string body;
    long status;
    std::string detail;  // a part of the problem's detail
  };
  const std::vector<Case> cases = {
      {R"(["x"])", 400, "the body must be a JSON object"},
      {R"({"accountIds":")" + kErased + R"("})", 400,
       "$.accountIds: an array of Atlassian account ids is required"},
      {R"({"accountIds":[]})", 400, "$.accountIds: no account id given"},
      {R"({"accountIds":[")" + kErased + R"(",7]})", 400,
       "$.accountIds[1]: expected a string"},
      {R"({"accountIds":[")" + kErased + R"(","jane@example.com"]})", 400,
       "$.accountIds[1]: an e-mail address is not an account id"},
      {R"({"accountIds":[")" + kErased + R"(","Jane Doe"]})", 400,
       "$.accountIds[1]: a name is not an account id"},
      {R"({"accountIds":[")" + kErased + R"(","bad/id"]})", 400,
       "$.accountIds[1]: an account id is 1 to 128 characters"},
      {R"({"accountIds":[")" + kErased + R"("],"dryRun":true})", 400,
       "$.dryRun: unknown field"},
      {many, 413, "at most 1000 account ids in one request"},
      {"", 400, "this request needs a JSON body"},
  };
  for (const Case& c : cases) {
    INFO(c.body.substr(0, 200));
    Response r = Erase(ew, c.body);
    INFO(r.body);
    CHECK(IsProblem(r, c.status));
    CHECK(DetailOf(r).find(c.detail) != std::string::npos);
    // No id of the body is echoed.
    CHECK(r.body.find(kErased) == std::string::npos);
    CHECK(r.body.find("jane") == std::string::npos);
  }
  // Not JSON at all: 415.
  Response text =
      Http("POST", w.server->url("/admin/users/erase"),
           {"Authorization: Bearer " + ew.eraser, "Content-Type: text/plain"},
           kErased);
  CHECK(IsProblem(text, 415));
  // Without the scope, or without a token.
  Response denied =
      Erase(ew, R"({"accountIds":[")" + kErased + R"("]})", ew.auditor);
  CHECK(IsProblem(denied, 403));
  CHECK(DetailOf(denied).find("'erase-users'") != std::string::npos);
  CHECK(IsProblem(Http("POST", w.server->url("/admin/users/erase"),
                       {"Content-Type: application/json"},
                       R"({"accountIds":[")" + kErased + R"("]})"),
                  401));
  // Nothing was erased.
  CHECK(User(w, a, pseudonym).Find("erased") == nullptr);
  CHECK(Head(w, a) == head);
  CHECK(w.server->Log().find(kErased) == std::string::npos);
}

TEST_CASE(
    "siteledger erase-users erases the closed accounts of a personal data "
    "reporting answer, in batches",
    "[e2e][erase]") {
  EraseWorld ew;
  World& w = ew.w;
  const Tenant a = w.Install("client-erase-tool");
  const std::string closed_1 = "557058:closed-one-0a1b2c";
  const std::string closed_2 = "557058:closed-two-3d4e5f";
  const std::string updated = kStays;
  const std::string p1 = Feedback(w, a, closed_1, "One");
  const std::string p2 = Feedback(w, a, closed_2, "Two");
  const std::string pu = Feedback(w, a, updated, "Three");
  for (const std::string& p : {p1, p2, pu}) {
    REQUIRE(User(w, a, p).Find("erased") == nullptr);
  }
  {
    std::ofstream token(ew.ops.dir / "token");
    token << ew.eraser << "\n";
  }
  const std::vector<std::string> server = {
      "--server",     w.server->url(),
      "--token-file", (ew.ops.dir / "token").string(),
      "--reason",     "PDR report 2026-11-28"};
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.end(), server.begin(), server.end());
    return RunTool(std::move(args));
  };
  auto write = [&](const std::string& name, const std::string& text) {
    const auto path = ew.ops.dir / name;
    std::ofstream(path) << text;
    return path.string();
  };

  SECTION("a malformed file is refused and nothing is sent") {
    for (const auto& [text, message] :
         std::vector<std::pair<std::string, std::string>>{
             {"not json", "is not JSON"},
             {R"({"accounts":{}})", "is not a personal data reporting answer"},
             {R"({"accounts":[{"accountId":")" + closed_1 +
                  R"(","status":"deleted"}]})",
              R"(accounts[0].status: expected "closed" or "updated")"},
             {R"({"accounts":[{"accountId":"a@b.c","status":"closed"}]})",
              "accounts[0].accountId: an e-mail address"},
             {R"({"accounts":[{"status":"closed"}]})",
              "accounts[0]: expected an object with a string accountId"}}) {
      INFO(text);
      ProcessResult r = run({"erase-users", "--file", write("bad.json", text)});
      INFO(r.err);
      CHECK(r.exit_code == 2);
      CHECK(r.err.find(message) != std::string::npos);
      CHECK(r.err.find("nothing was sent") != std::string::npos);
      CHECK(r.out.empty());
    }
    ProcessResult missing = run({"erase-users", "--file", "/nonexistent"});
    CHECK(missing.exit_code == 2);
    CHECK(missing.err.find("cannot read /nonexistent") != std::string::npos);
    ProcessResult no_file = run({"erase-users"});
    CHECK(no_file.exit_code == 2);
    CHECK(no_file.err.find("--file is required") != std::string::npos);
    for (const std::string& p : {p1, p2, pu}) {
      CHECK(User(w, a, p).Find("erased") == nullptr);
    }
  }

  SECTION("the closed accounts are erased, the updated one is left alone") {
    const std::string file = write("report.json", R"({"accounts":[
          {"accountId":")" + closed_1 + R"(","status":"closed"},
          {"accountId":")" + updated + R"(","status":"updated"},
          {"accountId":")" + closed_2 + R"(","status":"closed"},
          {"accountId":")" + kUnseen + R"(","status":"closed"},
          {"accountId":")" + closed_1 + R"(","status":"closed"}]})");
    ProcessResult r = run({"erase-users", "--file", file, "--batch", "2"});
    INFO(r.out << r.err << w.server->Log());
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("5 accounts in the file: 4 closed (3 distinct), 1 "
                     "updated (left alone)") != std::string::npos);
    CHECK(r.out.find("batch 1: 2 account ids: 2 pseudonym mappings erased") !=
          std::string::npos);
    CHECK(r.out.find("batch 2: 1 account ids: 0 pseudonym mappings erased, 1 "
                     "accounts held by no tenant here") != std::string::npos);
    CHECK(r.out.find("done: 3 closed accounts sent; 2 pseudonym mappings "
                     "erased; 1 accounts held by no tenant here; 0 deferred") !=
          std::string::npos);
    for (const std::string& id : {closed_1, closed_2, updated, kUnseen}) {
      CHECK(r.out.find(id) == std::string::npos);
      CHECK(r.err.find(id) == std::string::npos);
    }
    CHECK(User(w, a, p1).Find("erased")->as_bool());
    CHECK(User(w, a, p2).Find("erased")->as_bool());
    CHECK(User(w, a, pu).Find("erased") == nullptr);
    // The reason is audited with each erasure.
    Response audit = Admin(w, ew.auditor, "GET", "/admin/audit?limit=1000");
    REQUIRE(audit.status == 200);
    int erasures = 0;
    const Json records = audit.json();
    for (const Json& item : records.Find("items")->as_array()) {
      if (item.GetString("action") != "user.erased") continue;
      ++erasures;
      CHECK(item.GetString("reason") == "PDR report 2026-11-28");
    }
    CHECK(erasures == 2);
  }

  SECTION("--help explains the file and the exit status") {
    ProcessResult help = RunTool({"erase-users", "--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.out.find("personal data reporting") != std::string::npos);
    CHECK(help.out.find("Exit status") != std::string::npos);
    ProcessResult overall = RunTool({"--help"});
    CHECK(overall.out.find("erase-users") != std::string::npos);
  }
}

}  // namespace
}  // namespace siteledger::e2e
