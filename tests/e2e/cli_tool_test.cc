// The siteledger tool's command line against a real siteledgerd: errors name
// what was tried and what to do, and `siteledger restore` restores a tenant
// by seq and by time, printing digests that GET .../digest agrees with.

#include <netinet/in.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <regex>
#include <thread>

#include "tests/e2e/harness.h"
#include "tests/e2e/regions.h"

namespace siteledger::e2e {
namespace {

struct Digest {
  uint64_t seq = 0;
  std::string digest;
};

// The line "<what>: seq N digest HEX" of the tool's output.
Digest DigestLine(const std::string& out, const std::string& what) {
  std::smatch m;
  const std::regex line(what + ": seq ([0-9]+) digest ([0-9a-f]{64})");
  INFO(out);
  REQUIRE(std::regex_search(out, m, line));
  return {std::stoull(m[1]), m[2]};
}

Digest DigestOf(World& w, const std::string& token,
                const std::string& client_key, const std::string& query = "") {
  Response r =
      Admin(w, token, "GET", "/admin/tenants/" + client_key + "/digest" + query,
            "checking a restore");
  INFO(r.body);
  REQUIRE(r.status == 200);
  const Json j = r.json();
  return {static_cast<uint64_t>(j.GetInt("seq")),
          std::string(j.GetString("digest"))};
}

// The tenant's sites, by id -> name.
std::map<std::string, std::string> Sites(World& w, const Tenant& t) {
  Response r = w.Call(t, "GET", "/api/v1/sites?limit=200");
  INFO(r.body);
  REQUIRE(r.status == 200);
  std::map<std::string, std::string> out;
  const Json page = r.json();
  for (const Json& s : page.Find("items")->as_array()) {
    out[std::string(s.GetString("id"))] = s.GetString("name");
  }
  return out;
}

std::string CreateSite(World& w, const Tenant& t, const std::string& name) {
  Response r =
      w.Call(t, "POST", "/api/v1/sites", R"({"name":")" + name + R"("})");
  INFO(r.body);
  REQUIRE(r.status == 201);
  return std::string(r.json().GetString("id"));
}

TEST_CASE("siteledger names the URL it could not reach and what to do",
          "[e2e][cli]") {
  const std::string url = "http://127.0.0.1:" + std::to_string(FreePort());
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"tenants"},
        {"restore", "--tenant", "k", "--as-of", "seq:1", "--reason", "r"},
        {"migrate", "status", "--tenant", "k", "--reason", "r"}}) {
    std::vector<std::string> args = command;
    args.push_back("--server");
    args.push_back(url);
    ProcessResult r = RunTool(args, {"SITELEDGER_TOKEN=slop_x"});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find("cannot reach " + url + "/admin/tenants") !=
          std::string::npos);
    CHECK(r.err.find("is siteledgerd running there? pass --server URL") !=
          std::string::npos);
  }
  // A --server that is no URL is refused before anything is tried.
  ProcessResult bad = RunTool({"tenants", "--server", "127.0.0.1:8080"},
                              {"SITELEDGER_TOKEN=slop_x"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("expected an http:// or https:// URL") !=
        std::string::npos);
}

TEST_CASE("operators add names a bad scope and lists the valid ones",
          "[e2e][cli]") {
  OperatorsFile ops;
  ProcessResult r = RunTool({"operators", "add", "--file", ops.path().string(),
                             "--name", "bob", "--scopes", "usage,fly"});
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.find("--scopes usage,fly: unknown scope 'fly' (scopes: "
                   "read-tenant-data, restore, migrate, purge, erase-users, "
                   "usage, audit, clock, backup)") != std::string::npos);
  CHECK(r.err.find("operators file line") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(ops.path()));
  ProcessResult empty =
      RunTool({"operators", "add", "--file", ops.path().string(), "--name",
               "bob", "--scopes", "usage,,audit"});
  CHECK(empty.exit_code == 2);
  CHECK(empty.err.find("unknown scope ''") != std::string::npos);
  ProcessResult name =
      RunTool({"operators", "add", "--file", ops.path().string(), "--name",
               "bob smith", "--scopes", "usage"});
  CHECK(name.exit_code == 2);
  CHECK(name.err.find("bad operator name 'bob smith'") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(ops.path()));
}

TEST_CASE("siteledger says which scope a refused token lacks", "[e2e][cli]") {
  OperatorsFile ops;
  const std::string reader = ops.Add("reader", "read-tenant-data");
  World w(ops.Flags());
  w.Install("client-cli-scope");
  ProcessResult usage = RunTool({"usage", "--server", w.server->base_url()},
                                {"SITELEDGER_TOKEN=" + reader});
  INFO(usage.err);
  CHECK(usage.exit_code == 1);
  CHECK(usage.err.find("the server answered 403 to GET /admin/usage") !=
        std::string::npos);
  CHECK(usage.err.find("operators add --scopes usage") != std::string::npos);
  // restore needs restore besides read-tenant-data: it stops at the
  // restore, having changed nothing.
  ProcessResult restore =
      RunTool({"restore", "--server", w.server->base_url(), "--tenant",
               "client-cli-scope", "--as-of", "seq:0", "--reason", "test"},
              {"SITELEDGER_TOKEN=" + reader});
  INFO(restore.out << restore.err);
  CHECK(restore.exit_code == 1);
  CHECK(restore.err.find("--scopes restore") != std::string::npos);
  CHECK(restore.err.find("nothing was restored") != std::string::npos);
  ProcessResult unknown = RunTool({"tenants", "--server", w.server->base_url()},
                                  {"SITELEDGER_TOKEN=slop_unknown"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("401") != std::string::npos);
  CHECK(unknown.err.find("SITELEDGER_TOKEN") != std::string::npos);
}

TEST_CASE(
    "GET /admin/tenants/{clientKey}/digest answers the views' digest now and "
    "as of a seq, needs a reason and is audited",
    "[e2e][cli]") {
  OperatorsFile ops;
  const std::string reader = ops.Add("reader", "read-tenant-data,audit");
  const std::string viewer = ops.Add("viewer", "usage");
  World w(ops.Flags());
  Tenant t = w.Install("client-cli-digest");
  const Digest empty = DigestOf(w, reader, t.client_key);
  CreateSite(w, t, "One");
  const uint64_t one = LastSeq(w, t);
  const Digest at_one = DigestOf(w, reader, t.client_key);
  CHECK(at_one.seq == one);
  CHECK(at_one.digest != empty.digest);
  CreateSite(w, t, "Two");
  const Digest now = DigestOf(w, reader, t.client_key);
  CHECK(now.seq > one);
  CHECK(now.digest != at_one.digest);
  // As of an earlier seq: the digest it had then.
  const Digest then =
      DigestOf(w, reader, t.client_key, "?as_of=seq:" + std::to_string(one));
  CHECK(then.seq == one);
  CHECK(then.digest == at_one.digest);
  CHECK(DigestOf(w, reader, t.client_key, "?as_of=seq:0").digest ==
        empty.digest);

  // A seq past the head, a bad as_of, no reason, no scope: refused.
  CHECK(IsProblem(
      Admin(w, reader, "GET",
            "/admin/tenants/client-cli-digest/digest?as_of=seq:999", "r"),
      400));
  CHECK(IsProblem(
      Admin(w, reader, "GET",
            "/admin/tenants/client-cli-digest/digest?as_of=soon", "r"),
      400));
  CHECK(IsProblem(
      Admin(w, reader, "GET", "/admin/tenants/client-cli-digest/digest"), 400));
  CHECK(IsProblem(
      Admin(w, viewer, "GET", "/admin/tenants/client-cli-digest/digest", "r"),
      403));
  CHECK(IsProblem(
      Admin(w, reader, "GET", "/admin/tenants/no-such-tenant/digest", "r"),
      404));
  // Each read is in the audit log with its reason.
  Response audit =
      Admin(w, reader, "GET", "/admin/audit?tenant=client-cli-digest");
  REQUIRE(audit.status == 200);
  int reads = 0;
  const Json records = audit.json();
  for (const Json& e : records.Find("items")->as_array()) {
    if (std::string(e.GetString("route")).ends_with("/digest") &&
        e.GetString("reason") == "checking a restore") {
      ++reads;
    }
  }
  CHECK(reads >= 5);
}

TEST_CASE(
    "siteledger restore by seq and by time prints the digests before and "
    "after, and the data is as it was",
    "[e2e][cli]") {
  OperatorsFile ops;
  const std::string restorer = ops.Add("restorer", "restore,read-tenant-data");
  World w(ops.Flags());
  Tenant t = w.Install("client-cli-restore");
  const std::string a = CreateSite(w, t, "Alpha");
  const std::string b = CreateSite(w, t, "Beta");
  const uint64_t at_two = LastSeq(w, t);
  const auto sites_at_two = Sites(w, t);
  REQUIRE(sites_at_two.size() == 2);
  const Digest digest_at_two = DigestOf(w, restorer, t.client_key);
  // The time of the last event so far; what follows comes later.
  const std::vector<Json> events = EventsAfter(w, t, 0);
  const std::string time_at_two(events.back().GetString("time"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  REQUIRE(w.Call(t, "PATCH", "/api/v1/sites/" + a, R"({"name":"Renamed"})")
              .status == 200);
  REQUIRE(w.Call(t, "DELETE", "/api/v1/sites/" + b).status == 204);
  CreateSite(w, t, "Gamma");
  const auto sites_later = Sites(w, t);
  const Digest digest_later = DigestOf(w, restorer, t.client_key);
  REQUIRE(sites_later != sites_at_two);
  REQUIRE(digest_later.digest != digest_at_two.digest);

  const std::vector<std::string> server = {"--server", w.server->base_url(),
                                           "--tenant", t.client_key,
                                           "--reason", "SUP-42 restore"};
  auto restore = [&](const std::string& as_of) {
    std::vector<std::string> args = {"restore", "--as-of", as_of};
    args.insert(args.end(), server.begin(), server.end());
    return RunTool(args, {"SITELEDGER_TOKEN=" + restorer});
  };

  SECTION("by seq") {
    ProcessResult r = restore("seq:" + std::to_string(at_two));
    INFO(r.out << r.err << w.server->Log());
    REQUIRE(r.exit_code == 0);
    const Digest before = DigestLine(r.out, "before");
    const Digest target = DigestLine(r.out, "target");
    const Digest after = DigestLine(r.out, "after");
    CHECK(before.seq == digest_later.seq);
    CHECK(before.digest == digest_later.digest);
    CHECK(target.seq == at_two);
    CHECK(target.digest == digest_at_two.digest);
    CHECK(after.seq == before.seq + 1);  // one restore event
    CHECK(after.digest == digest_at_two.digest);
    CHECK(after.digest != before.digest);
    CHECK(r.out.find("the views are as they were at seq " +
                     std::to_string(at_two)) != std::string::npos);
    // The digest route agrees, and so does the data.
    CHECK(DigestOf(w, restorer, t.client_key).digest == after.digest);
    CHECK(Sites(w, t) == sites_at_two);
    // History stays: the state before the restore can be restored again.
    ProcessResult undo = restore("seq:" + std::to_string(before.seq));
    INFO(undo.out << undo.err);
    REQUIRE(undo.exit_code == 0);
    CHECK(DigestLine(undo.out, "after").digest == digest_later.digest);
    CHECK(Sites(w, t) == sites_later);
  }
  SECTION("by time") {
    ProcessResult r = restore(time_at_two);
    INFO(r.out << r.err << w.server->Log());
    REQUIRE(r.exit_code == 0);
    const Digest target = DigestLine(r.out, "target");
    CHECK(target.seq == at_two);
    CHECK(DigestLine(r.out, "before").digest == digest_later.digest);
    CHECK(DigestLine(r.out, "after").digest == digest_at_two.digest);
    CHECK(Sites(w, t) == sites_at_two);
  }
  SECTION("a point after the head is refused and nothing changes") {
    ProcessResult r = restore("seq:999999");
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("the log is only at seq") != std::string::npos);
    CHECK(r.err.find("nothing was restored") != std::string::npos);
    CHECK(DigestOf(w, restorer, t.client_key).digest == digest_later.digest);
    CHECK(Sites(w, t) == sites_later);
  }
  SECTION("a bad --as-of is refused before anything is sent") {
    ProcessResult r = restore("2026-13-40T00:00:00Z");
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find("nothing was sent") != std::string::npos);
    ProcessResult missing = RunTool(
        {"restore", "--tenant", t.client_key, "--reason", "r", "--as-of"},
        {"SITELEDGER_TOKEN=" + restorer});
    CHECK(missing.exit_code == 2);
    CHECK(missing.err.find("--as-of needs a value") != std::string::npos);
    CHECK(Sites(w, t) == sites_later);
  }
}

TEST_CASE(
    "For a tenant living in another region the digest route redirects and "
    "siteledger restore names that region's URL",
    "[e2e][cli]") {
  Regions regions;
  Tenant t = regions.Install("client-cli-moved");
  for (int i = 0; i < 5; ++i) {
    REQUIRE(Regions::Call(*regions.us, t, "POST", "/api/v1/sites", SiteBody(i))
                .status == 201);
  }
  REQUIRE(regions
              .AdminCall(*regions.us, "POST",
                         "/admin/tenants/" + t.client_key + "/migration",
                         R"({"target":"eu"})")
              .status == 202);
  regions.WaitResidency(*regions.us, t, [](const Json& j) {
    return j.GetString("region") == "eu" && j.GetString("state") == "home";
  });
  const std::string path = "/admin/tenants/" + t.client_key + "/digest";
  Response us = regions.AdminCall(*regions.us, "GET", path);
  INFO(us.body);
  CHECK(us.status == 307);
  CHECK(us.header("location") == regions.eu->base_url() + path);
  Response eu = regions.AdminCall(*regions.eu, "GET", path);
  INFO(eu.body);
  REQUIRE(eu.status == 200);
  CHECK(eu.json().GetString("digest").size() == 64);

  ProcessResult r =
      RunTool({"restore", "--tenant", t.client_key, "--as-of", "seq:1",
               "--reason", "cli test", "--server", regions.us->base_url()},
              {"SITELEDGER_TOKEN=" + regions.admin});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("the server answered 307") != std::string::npos);
  CHECK(r.err.find("ask it with --server " + regions.eu->base_url()) !=
        std::string::npos);
  CHECK(r.err.find("nothing was restored") != std::string::npos);
}

}  // namespace
}  // namespace siteledger::e2e

namespace siteledger::e2e {
namespace {

// Every event of the tenant, through the unfiltered operator read.
std::vector<Json> AllEvents(World& w, const std::string& token,
                            const std::string& client_key) {
  Response r = Admin(w, token, "GET",
                     "/admin/tenants/" + client_key + "/events?limit=1000",
                     "checking audit");
  INFO(r.body);
  REQUIRE(r.status == 200);
  const Json page = r.json();
  REQUIRE(page.Find("nextCursor")->is_null());
  return page.Find("items")->as_array();
}

// The seqs of NDJSON event lines.
std::vector<int64_t> SeqsOf(const std::string& ndjson) {
  std::vector<int64_t> out;
  std::istringstream in(ndjson);
  for (std::string line; std::getline(in, line);) {
    auto j = projections::ParseJson(line);
    INFO(line);
    REQUIRE(j);
    out.push_back(j->GetInt("seq"));
  }
  return out;
}

TEST_CASE(
    "siteledger audit answers type, actor (account id or pseudonym), entity "
    "and time filters as a scan of the log would, as a table or NDJSON",
    "[e2e][cli]") {
  OperatorsFile ops;
  const std::string reader = ops.Add("reader", "read-tenant-data");
  World w(ops.Flags());
  Tenant t = w.Install("client-cli-audit");
  Tenant other = w.Install("client-cli-audit-other");
  const std::string alice = "557058:aaaaaaaa-0000-4000-8000-000000000001";
  const std::string bob = "557058:bbbbbbbb-0000-4000-8000-000000000002";
  std::vector<std::string> alice_sites;
  for (int i = 0; i < 12; ++i) {
    const std::string& who = i % 3 == 0 ? bob : alice;
    Response r = Http("POST", w.server->url("/api/v1/sites"),
                      {t.Auth("POST", "/api/v1/sites", who),
                       "Content-Type: application/json"},
                      R"({"name":"audit )" + std::to_string(i) + R"("})");
    INFO(r.body);
    REQUIRE(r.status == 201);
    if (who == alice)
      alice_sites.push_back(std::string(r.json().GetString("id")));
  }
  const std::string target = alice_sites[2];
  REQUIRE(w.Call(t, "PATCH", "/api/v1/sites/" + target, R"({"name":"renamed"})")
                  .status /
              100 ==
          2);
  REQUIRE(w.Call(t, "DELETE", "/api/v1/sites/" + target).status / 100 == 2);
  // The other tenant's events never show.
  REQUIRE(w.Call(other, "POST", "/api/v1/sites", R"({"name":"elsewhere"})")
              .status == 201);

  const std::vector<Json> events = AllEvents(w, reader, t.client_key);
  std::string alice_pseudonym;
  for (const Json& e : events) {
    if (std::string(e.GetString("type")) == "site.created" &&
        std::string(e.Find("payload")->GetString("siteId")) == alice_sites[0]) {
      alice_pseudonym = e.GetString("actor");
    }
  }
  REQUIRE(!alice_pseudonym.empty());
  auto expected = [&](auto keep) {
    std::vector<int64_t> out;
    for (const Json& e : events) {
      if (keep(e)) out.push_back(e.GetInt("seq"));
    }
    return out;
  };
  auto audit = [&](std::vector<std::string> filters) {
    std::vector<std::string> args = {"audit",
                                     "--server",
                                     w.server->base_url(),
                                     "--tenant",
                                     t.client_key,
                                     "--reason",
                                     "investigating a support ticket"};
    args.insert(args.end(), filters.begin(), filters.end());
    return RunTool(args, {"SITELEDGER_TOKEN=" + reader});
  };

  const auto created_by_alice = expected([&](const Json& e) {
    const Json* actor = e.Find("actor");
    return std::string(e.GetString("type")) == "site.created" &&
           actor->is_string() && actor->as_string() == alice_pseudonym;
  });
  REQUIRE(created_by_alice.size() == 8);
  for (const std::string& actor : {alice, alice_pseudonym}) {
    ProcessResult r =
        audit({"--type", "site.created", "--actor", actor, "--json"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(SeqsOf(r.out) == created_by_alice);
  }

  const auto about_target = expected([&](const Json& e) {
    const Json* payload = e.Find("payload");
    const Json* site = payload->Find("siteId");
    return site != nullptr && site->is_string() && site->as_string() == target;
  });
  REQUIRE(about_target.size() == 3);  // created, renamed, deleted
  ProcessResult entity = audit({"--entity", target, "--json"});
  INFO(entity.out << entity.err);
  CHECK(entity.exit_code == 0);
  CHECK(SeqsOf(entity.out) == about_target);

  // A time window: everything up to the last event's time is everything.
  const std::string last_time(events.back().GetString("time"));
  ProcessResult window = audit({"--until", last_time, "--json"});
  CHECK(window.exit_code == 0);
  CHECK(SeqsOf(window.out).size() == events.size());

  // The table: a header and one line per event, the pseudonym shown.
  ProcessResult table = audit({"--type", "site.deleted"});
  INFO(table.out << table.err);
  CHECK(table.exit_code == 0);
  CHECK(table.out.starts_with("SEQ"));
  CHECK(table.out.find("site.deleted") != std::string::npos);
  CHECK(std::count(table.out.begin(), table.out.end(), '\n') == 2);

  // An unknown actor matches nothing; an unknown type is refused by the
  // server; no filter at all is a usage error.
  ProcessResult nobody = audit({"--actor", "nobody-at-all", "--json"});
  CHECK(nobody.exit_code == 0);
  CHECK(nobody.out.empty());
  ProcessResult bad_type = audit({"--type", "site.exploded"});
  CHECK(bad_type.exit_code == 1);
  CHECK(bad_type.err.find("unknown event type") != std::string::npos);
  CHECK(audit({}).exit_code == 2);
  CHECK(RunTool({"audit", "--help"}).exit_code == 0);
}

}  // namespace
}  // namespace siteledger::e2e
