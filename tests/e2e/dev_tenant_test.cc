// `siteledger dev tenant` and `dev token`: a first authenticated write from
// a clean clone without knowing Connect, as README.md's "First request"
// shows it, run here as written (the printed curl commands through bash).

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/e2e/harness.h"
#include "tests/e2e/regions.h"

namespace siteledger::e2e {
namespace {

// The lines of the tool's output from the `export` line on, as a script:
// the token's export and the curl commands, their continuations joined.
std::string PrintedScript(const std::string& out) {
  const size_t from = out.find("  export SITELEDGER_JWT=");
  if (from == std::string::npos) return "";
  std::string script = "set -e\n";
  std::istringstream lines(out.substr(from));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("  export") || line.starts_with("  curl") ||
        line.starts_with("       ")) {
      script += line + "\n";
    }
  }
  return script;
}

TEST_CASE(
    "siteledger dev tenant installs a tenant without Atlassian and its "
    "printed curl commands write and read, and dev token gives a fresh "
    "token",
    "[e2e][dev]") {
  const uint16_t keys_port = FreePort();
  const std::string keys = "127.0.0.1:" + std::to_string(keys_port);
  World w({"--install-keys-url", "http://" + keys});
  const std::filesystem::path credentials = w.dir / "dev-tenant.json";
  ProcessResult dev = RunTool(
      {"dev", "tenant", "--server", w.server->base_url(), "--keys-listen", keys,
       "--out", credentials.string(), "--client-key", "dev-e2e"});
  INFO(dev.out << dev.err << w.server->Log());
  REQUIRE(dev.exit_code == 0);
  CHECK(dev.out.find("Installed tenant dev-e2e") != std::string::npos);
  // The credentials, readable by their owner only.
  struct stat st {};
  REQUIRE(::stat(credentials.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const Json saved = ParseOrFail(ReadFile(credentials));
  CHECK(saved.GetString("clientKey") == "dev-e2e");
  CHECK(saved.GetString("sharedSecret").size() == 64);

  // The printed commands, run as printed: a site is made and listed.
  const std::string script = PrintedScript(dev.out);
  REQUIRE(script.find("curl") != std::string::npos);
  ProcessResult ran = RunProcess({"/bin/bash", "-c", script});
  INFO(script << ran.out << ran.err);
  REQUIRE(ran.exit_code == 0);
  CHECK(ran.out.find("\"name\":\"My first site\"") != std::string::npos);
  CHECK(ran.out.find("\"items\":[") != std::string::npos);

  // dev token: a new token; with it, an update with If-Match, and a stale
  // version refused.
  ProcessResult token =
      RunTool({"dev", "token", "--file", credentials.string()});
  REQUIRE(token.exit_code == 0);
  std::string jwt = token.out;
  while (!jwt.empty() && jwt.back() == '\n') jwt.pop_back();
  const std::string auth = "Authorization: JWT " + jwt;
  Response list = Http("GET", w.server->url("/api/v1/sites"), {auth});
  REQUIRE(list.status == 200);
  const auto ids = IdsOf(list.json());
  REQUIRE(ids.size() == 1);
  const std::string site = w.server->url("/api/v1/sites/" + ids[0]);
  Response read = Http("GET", site, {auth});
  REQUIRE(read.status == 200);
  const std::string etag = read.header("etag");
  Response patched =
      Http("PATCH", site,
           {auth, "Content-Type: application/json", "If-Match: " + etag},
           R"({"name":"Renamed"})");
  CHECK(patched.status == 200);
  Response stale =
      Http("PATCH", site,
           {auth, "Content-Type: application/json", "If-Match: " + etag},
           R"({"name":"Again"})");
  CHECK(IsProblem(stale, 412));
  // The change's actor is the development account.
  Response events = Http("GET", w.server->url("/api/v1/events"), {auth});
  REQUIRE(events.status == 200);
  CHECK(events.body.find("site.renamed") != std::string::npos);

  // A token from a wrong file is a usage error; so is a bad --ttl.
  CHECK(RunTool({"dev", "token", "--file", (w.dir / "none.json").string()})
            .exit_code == 2);
  CHECK(RunTool({"dev", "token", "--file", credentials.string(), "--ttl", "5"})
            .exit_code == 2);
}

TEST_CASE(
    "siteledger dev tenant says how to start a server that does not trust "
    "its key, and refuses a port that is taken",
    "[e2e][dev]") {
  World w;  // trusts the test's own key server, not the tool's
  const std::string keys = "127.0.0.1:" + std::to_string(FreePort());
  ProcessResult dev =
      RunTool({"dev", "tenant", "--server", w.server->base_url(),
               "--keys-listen", keys, "--out", (w.dir / "c.json").string()});
  INFO(dev.out << dev.err);
  CHECK(dev.exit_code == 1);
  CHECK(dev.err.find("--install-keys-url http://" + keys) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(w.dir / "c.json"));

  // The port is the test's own key server's.
  const std::string taken = w.keys.url().substr(std::string("http://").size());
  ProcessResult busy =
      RunTool({"dev", "tenant", "--server", w.server->base_url(),
               "--keys-listen", taken, "--out", (w.dir / "c.json").string()});
  INFO(busy.err);
  CHECK(busy.exit_code == 1);
  CHECK(busy.err.find("cannot listen on") != std::string::npos);
  CHECK(RunTool({"dev", "tenant", "--keys-listen", "nowhere"}).exit_code == 2);
}

}  // namespace
}  // namespace siteledger::e2e
