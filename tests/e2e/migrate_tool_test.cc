// `siteledger migrate` against real regions: a tenant moved to the EU and
// back with the tool alone, and the tool's exit statuses.

#include <catch2/catch.hpp>

#include "tests/e2e/regions.h"

namespace siteledger::e2e {
namespace {

// `siteledger migrate ...` with the operator token in the environment.
ProcessResult Migrate(const std::string& token, std::vector<std::string> args) {
  args.insert(args.begin(), "migrate");
  return RunTool(std::move(args), {"SITELEDGER_TOKEN=" + token});
}

TEST_CASE(
    "siteledger migrate moves a tenant to the EU, follows the move to its "
    "end and rolls it back",
    "[e2e][migrate-tool]") {
  Regions regions;
  Tenant t = regions.Install("tool-move");
  for (int i = 0; i < 300; ++i) {
    Response r =
        Regions::Call(*regions.us, t, "POST", "/api/v1/sites", SiteBody(i));
    REQUIRE(r.status == 201);
  }
  const std::string us = regions.us->base_url();
  const std::vector<std::string> common = {"--tenant", t.client_key, "--reason",
                                           "migrate tool test"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), common.begin(), common.end());
    return args;
  };

  ProcessResult start =
      Migrate(regions.admin, with({"start", "--to", "eu", "--server", us}));
  INFO(start.out << start.err);
  REQUIRE(start.exit_code == 0);
  CHECK(start.out.find("region us") != std::string::npos);
  CHECK(start.out.find("state copying") != std::string::npos);

  // Piped: plain lines, no carriage returns, until the tenant is in the EU.
  ProcessResult follow =
      Migrate(regions.admin, with({"status", "--follow", "--server", us}));
  INFO(follow.out << follow.err << regions.us->Log());
  CHECK(follow.exit_code == 0);
  CHECK(follow.out.find("region eu") != std::string::npos);
  CHECK(follow.out.find('\r') == std::string::npos);

  Response residency =
      Regions::Call(*regions.us, t, "GET", "/api/v1/residency");
  REQUIRE(residency.status == 200);
  CHECK(residency.json().GetString("region") == "eu");
  CHECK(residency.json().GetString("state") == "home");

  ProcessResult status =
      Migrate(regions.admin, with({"status", "--server", us}));
  CHECK(status.exit_code == 0);
  CHECK(status.out.find("region eu") != std::string::npos);
  CHECK(status.out.find("rollback possible until") != std::string::npos);

  // Asked at the old region, which hands the rollback to the EU.
  ProcessResult rollback =
      Migrate(regions.admin, with({"rollback", "--server", us}));
  INFO(rollback.out << rollback.err);
  REQUIRE(rollback.exit_code == 0);
  CHECK(rollback.out.find("state rolling-back") != std::string::npos);
  CHECK(rollback.out.find(regions.eu->base_url()) != std::string::npos);
  // Followed where it runs, as the tool suggests.
  ProcessResult home =
      Migrate(regions.admin,
              with({"status", "--follow", "--server", regions.eu->base_url()}));
  INFO(home.out << home.err);
  CHECK(home.exit_code == 0);
  CHECK(home.out.find("region us") != std::string::npos);
  regions.WaitResidency(*regions.us, t, [](const Json& j) {
    return j.GetString("region") == "us" && j.GetString("state") == "home";
  });
  ProcessResult back = Migrate(regions.admin, with({"status", "--server", us}));
  CHECK(back.exit_code == 0);
  CHECK(back.out.find("region us") != std::string::npos);
  CHECK(back.out.find("state home") != std::string::npos);
}

TEST_CASE(
    "siteledger migrate exits 2 on a usage error and 1 with the server's "
    "detail on a refusal",
    "[e2e][migrate-tool]") {
  OperatorsFile ops;
  const std::string mover = ops.Add("mover", "migrate");
  const std::string viewer = ops.Add("viewer", "usage");
  World w(ops.Flags());
  Tenant t = w.Install("tool-stays");
  const std::string server = w.server->base_url();

  SECTION("usage errors") {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {},
             {"teleport", "--tenant", "x", "--reason", "r"},
             {"start", "--tenant", t.client_key, "--reason", "r"},
             {"status", "--reason", "r", "--server", server},
             {"status", "--tenant", t.client_key, "--server", server},
             {"status", "--tenant", t.client_key, "--reason", "r", "--bogus",
              "1"},
             {"rollback", "--tenant", t.client_key, "--reason", "r", "extra"},
             {"status", "--tenant", t.client_key, "--reason"}}) {
      ProcessResult r = Migrate(mover, args);
      std::string command = "siteledger migrate";
      for (const std::string& a : args) command += " " + a;
      INFO(command << "\n" << r.err);
      CHECK(r.exit_code == 2);
      CHECK(r.err.find("Usage:") != std::string::npos);
    }
    ProcessResult no_token =
        RunTool({"migrate", "status", "--tenant", t.client_key, "--reason", "r",
                 "--server", server});
    CHECK(no_token.exit_code == 2);
    CHECK(no_token.err.find("SITELEDGER_TOKEN") != std::string::npos);
    ProcessResult help = Migrate(mover, {"status", "--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.out.find("--follow") != std::string::npos);
  }
  SECTION("a rollback of a tenant that never moved is refused") {
    ProcessResult r =
        Migrate(mover, {"rollback", "--tenant", t.client_key, "--reason",
                        "tool test", "--server", server});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("409") != std::string::npos);
    CHECK(r.err.find("nothing to roll back") != std::string::npos);
  }
  SECTION("the server's other refusals") {
    ProcessResult unknown =
        Migrate(mover, {"status", "--tenant", "no-such-tenant", "--reason",
                        "tool test", "--server", server});
    CHECK(unknown.exit_code == 1);
    CHECK(unknown.err.find("404") != std::string::npos);
    ProcessResult scope =
        Migrate(viewer, {"status", "--tenant", t.client_key, "--reason",
                         "tool test", "--server", server});
    CHECK(scope.exit_code == 1);
    CHECK(scope.err.find("migrate") != std::string::npos);
    ProcessResult nowhere =
        Migrate(mover, {"start", "--tenant", t.client_key, "--to", "mars",
                        "--reason", "tool test", "--server", server});
    CHECK(nowhere.exit_code == 1);
    CHECK(nowhere.err.find("mars") != std::string::npos);
    // Nothing under way: --follow prints the residency and stops.
    ProcessResult idle =
        Migrate(mover, {"status", "--follow", "--tenant", t.client_key,
                        "--reason", "tool test", "--server", server});
    CHECK(idle.exit_code == 0);
    CHECK(idle.out.find("state home") != std::string::npos);
    CHECK(idle.out.find("no migration is under way") != std::string::npos);
  }
}

}  // namespace
}  // namespace siteledger::e2e
