// Backups end to end: `siteledger backup` against a live siteledgerd under
// writes, `siteledger restore-backup` into a new folder, a second server on
// the restored region; and the promise that a purge reaches every backup, so
// that a restored backup never brings a purged tenant back.

#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <thread>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

using namespace std::chrono_literals;

// A region with an operator who may back up, purge, move the clock and
// read tenants' data; and a second folder for restores.
struct BackupWorld {
  OperatorsFile ops;
  std::string admin =
      ops.Add("ops", "backup,purge,clock,usage,audit,read-tenant-data");
  World w{[this] {
    std::vector<std::string> flags = ops.Flags();
    flags.push_back("--test-clock");
    return flags;
  }()};
  testing::TempDir backups;
  testing::TempDir restored;

  std::filesystem::path master() const { return w.dir / "master-us.key"; }

  Response AdminCall(World& world, const std::string& method,
                     const std::string& target, const std::string& body = "") {
    return Admin(world, admin, method, target, "backup test", body);
  }

  ProcessResult Tool(std::vector<std::string> args) {
    args.push_back("--server");
    args.push_back(w.server->url());
    return RunTool(std::move(args), {"SITELEDGER_TOKEN=" + admin});
  }

  // `siteledger backup DIR --json`; the server's answer.
  Json Backup() {
    ProcessResult r = Tool({"backup", backups.path().string(), "--json"});
    INFO(r.out << r.err << "\n" << w.server->Log());
    REQUIRE(r.exit_code == 0);
    auto j = projections::ParseJson(r.out, projections::TrustedJsonLimits());
    REQUIRE(j);
    return *j;
  }

  ProcessResult Restore(const std::filesystem::path& data,
                        std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "restore-backup", backups.path().string(), "--data",
        data.string(),    "--master-key-file",     master().string()};
    for (auto& e : extra) args.push_back(std::move(e));
    return RunTool(std::move(args));
  }

  // A server on the restored region (restored/us, with a copy of the master
  // key beside it, as an operator would place it).
  std::unique_ptr<World> StartRestored() {
    std::filesystem::copy_file(master(), restored / "master-us.key");
    std::vector<std::string> flags = ops.Flags();
    flags.push_back("--test-clock");
    flags.push_back("--data");
    flags.push_back((restored / "us").string());
    flags.push_back("--master-key-file");
    flags.push_back((restored / "master-us.key").string());
    auto world = std::make_unique<World>(flags);
    return world;
  }
};

std::string CreateSite(World& w, const Tenant& t, const std::string& name) {
  Response r =
      w.Call(t, "POST", "/api/v1/sites", "{\"name\":\"" + name + "\"}");
  INFO(r.body);
  REQUIRE(r.status == 201);
  return std::string(r.json().GetString("id"));
}

std::set<std::string> SiteIds(World& w, const Tenant& t) {
  std::set<std::string> ids;
  std::string cursor;
  for (;;) {
    std::string target = "/api/v1/sites?limit=100";
    if (!cursor.empty()) target += "&cursor=" + cursor;
    Response r = w.Call(t, "GET", target);
    INFO(r.body);
    REQUIRE(r.status == 200);
    const Json page = r.json();
    for (const auto& id : IdsOf(page)) ids.insert(id);
    const Json* next = page.Find("nextCursor");
    if (next == nullptr || !next->is_string()) break;
    cursor = next->as_string();
  }
  return ids;
}

TEST_CASE("A backup restored after a purge does not bring the tenant back",
          "[e2e][backup]") {
  BackupWorld bw;
  Tenant doomed = bw.w.Install("backup-doomed");  // tenant 1
  Tenant keeper = bw.w.Install("backup-keeper");  // tenant 2
  const std::string canary = "BackupCanaryZ9q";
  CreateSite(bw.w, doomed, canary);
  const std::string kept = CreateSite(bw.w, keeper, "Kept");
  const Json backup = bw.Backup();
  CHECK(backup.GetInt("tenants") == 2);

  // Uninstall, 31 days, sweep: the purge also rewrites the backup's key file.
  REQUIRE(
      bw.w.Lifecycle("uninstalled", doomed.client_key, doomed.secret).status ==
      204);
  REQUIRE(bw.AdminCall(bw.w, "POST", "/admin/clock", "{\"advance\":\"31d\"}")
              .status == 200);
  Response sweep = bw.AdminCall(bw.w, "POST", "/admin/sweep");
  INFO(sweep.body);
  REQUIRE(sweep.status == 200);
  const Json swept = sweep.json();
  REQUIRE(swept.Find("purged")->as_array().size() == 1);
  const Json& purged = swept.Find("purged")->as_array()[0];
  CHECK(purged.Find("backups")->GetInt("keysRemoved") == 1);
  CHECK(purged.Find("backups")->Find("failed")->as_array().empty());

  ProcessResult r = bw.Restore(bw.restored / "us");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("1 tenants were purged after this backup") !=
        std::string::npos);
  CHECK(r.out.find("master key") != std::string::npos);

  // In the restored key store, tenant 1's row is a destroyed marker (its
  // value starts with 02), tenant 2's a live key (01).
  std::vector<std::string> values;
  const std::vector<std::string> keys =
      LdbKeys(bw.restored / "us.keys", "default", nullptr, &values);
  std::map<std::string, std::string> rows;
  for (size_t i = 0; i < keys.size(); ++i) rows[keys[i]] = values[i];
  REQUIRE(rows.contains(PrefixHex(1)));
  CHECK(rows[PrefixHex(1)].starts_with("02"));
  REQUIRE(rows.contains(PrefixHex(2)));
  CHECK(rows[PrefixHex(2)].starts_with("01"));

  // The restored region serves the keeper, and nothing of the doomed tenant,
  // even before its sweep.
  auto again = bw.StartRestored();
  Response keeper_site = again->Call(keeper, "GET", "/api/v1/sites/" + kept);
  INFO(keeper_site.body);
  CHECK(keeper_site.status == 200);
  Response doomed_sites = again->Call(doomed, "GET", "/api/v1/sites");
  INFO(doomed_sites.body);
  CHECK(doomed_sites.status >= 400);
  CHECK(doomed_sites.body.find(canary) == std::string::npos);

  // Its first sweep purges the doomed tenant's rows: the one siteledgerd
  // runs at start, or this one if that had not come to it yet.
  Response restored_sweep = bw.AdminCall(*again, "POST", "/admin/sweep");
  INFO(restored_sweep.body);
  REQUIRE(restored_sweep.status == 200);
  const Json rs = restored_sweep.json();
  REQUIRE(rs.Find("purged")->as_array().size() <= 1);
  Response audit = bw.AdminCall(*again, "GET", "/admin/audit?limit=1000");
  INFO(audit.body);
  REQUIRE(audit.status == 200);
  bool purge_audited = false;
  const Json audit_page = audit.json();
  for (const Json& a : audit_page.Find("items")->as_array()) {
    const Json* key = a.Find("tenant");
    purge_audited = purge_audited ||
                    (std::string(a.GetString("action")) == "tenant.purged" &&
                     key != nullptr && key->is_string() &&
                     key->as_string() == "backup-doomed");
  }
  CHECK(purge_audited);
  CHECK(bw.AdminCall(*again, "POST", "/admin/sweep")
            .json()
            .Find("purged")
            ->as_array()
            .empty());
  REQUIRE(again->server->Stop() == 0);
  size_t keeper_rows = 0;
  for (const std::string family : {"events", "views", "snapshots", "tenants",
                                   "blobs", "pseudonyms", "index"}) {
    for (const std::string& key :
         LdbKeys(bw.restored / "us", family, nullptr)) {
      INFO(family << " key " << key);
      CHECK_FALSE(key.starts_with(PrefixHex(1)));
      if (key.starts_with(PrefixHex(2))) ++keeper_rows;
    }
  }
  CHECK(keeper_rows >= 3);
}

TEST_CASE(
    "A backup under concurrent writes restores every write acknowledged "
    "before it, and the next backup reuses its files",
    "[e2e][backup]") {
  BackupWorld bw;
  Tenant t = bw.w.Install("backup-busy");
  for (int i = 0; i < 20; ++i)
    CreateSite(bw.w, t, "before-" + std::to_string(i));

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> acked;
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      Response r = bw.w.Call(t, "POST", "/api/v1/sites",
                             "{\"name\":\"during-" + std::to_string(i) + "\"}");
      if (r.status != 201) continue;
      std::lock_guard<std::mutex> lock(mu);
      acked.emplace_back(r.json().GetString("id"));
    }
  });
  std::this_thread::sleep_for(200ms);
  std::vector<std::string> before;
  {
    std::lock_guard<std::mutex> lock(mu);
    before = acked;
  }
  const Json first = bw.Backup();
  std::this_thread::sleep_for(100ms);
  stop = true;
  writer.join();
  CHECK(first.GetInt("backupId") == 1);
  CHECK(first.GetInt("files") > 0);
  CHECK(first.GetInt("newFiles") == first.GetInt("files"));

  // The second backup copies only what changed since.
  const Json second = bw.Backup();
  INFO(first.Dump() << "\n" << second.Dump());
  CHECK(second.GetInt("backupId") == 2);
  CHECK(second.GetInt("newFiles") < second.GetInt("files"));
  CHECK(second.GetInt("files") - second.GetInt("newFiles") >= 2);

  // --list reads the folder only.
  ProcessResult list =
      RunTool({"backup", "--list", bw.backups.path().string()});
  INFO(list.err);
  REQUIRE(list.exit_code == 0);
  CHECK(list.out.find("\n1 ") != std::string::npos);
  CHECK(list.out.find("\n2 ") != std::string::npos);

  SECTION("restore-backup refuses a folder that is not empty") {
    std::filesystem::create_directories(bw.restored / "us");
    std::ofstream(bw.restored / "us" / "something") << "x";
    ProcessResult r = bw.Restore(bw.restored / "us");
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("not empty") != std::string::npos);
  }
  SECTION("restore-backup refuses another master key") {
    const auto other = bw.restored / "other.key";
    {
      std::ofstream out(other);
      out << std::string(64, 'a') << "\n";
    }
    std::filesystem::permissions(other,
                                 std::filesystem::perms::owner_read |
                                     std::filesystem::perms::owner_write);
    ProcessResult r = RunTool({"restore-backup", bw.backups.path().string(),
                               "--data", (bw.restored / "us").string(),
                               "--master-key-file", other.string()});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("master key") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(bw.restored / "us"));
  }
  SECTION("the first backup restores what was acknowledged before it") {
    ProcessResult r = bw.Restore(bw.restored / "us", {"--backup-id", "1"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    auto again = bw.StartRestored();
    const std::set<std::string> ids = SiteIds(*again, t);
    CHECK(ids.size() >= 20 + before.size());
    for (const std::string& id : before) {
      INFO(id);
      CHECK(ids.contains(id));
    }
    // The same views as the original at the restored head.
    Response now = bw.AdminCall(*again, "GET",
                                "/admin/tenants/" + t.client_key + "/digest");
    INFO(now.body);
    REQUIRE(now.status == 200);
    const int64_t seq = now.json().GetInt("seq");
    Response then =
        bw.AdminCall(bw.w, "GET",
                     "/admin/tenants/" + t.client_key +
                         "/digest?as_of=seq:" + std::to_string(seq));
    INFO(then.body);
    REQUIRE(then.status == 200);
    CHECK(then.json().GetString("digest") == now.json().GetString("digest"));
  }
}

}  // namespace
}  // namespace siteledger::e2e
