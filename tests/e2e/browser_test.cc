// The administration page in a real browser (Debian's Chromium, driven by
// npm's playwright-core through browser_residency.js) against two real
// siteledgerd processes: a page opened with a signed ?jwt= moves the site
// to the EU and back; expired and forged tokens get the error page. The
// screenshots of each state land in the build folder's
// tests/e2e/browser-screenshots.

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/e2e/regions.h"

namespace siteledger::e2e {
namespace {

// playwright-core, pinned, in a prefix of its own.
std::string PlaywrightPrefix() {
  return NpmPrefix("-browser", "playwright-core@1.65.1", "playwright-core");
}

TEST_CASE(
    "In Chromium, the administration page moves a site to the EU with a "
    "live progress bar and rolls it back, and bad tokens get the error page",
    "[browser]") {
  REQUIRE(std::filesystem::exists("/usr/bin/chromium"));
  const std::string prefix = PlaywrightPrefix();
  const std::filesystem::path shots =
      std::filesystem::path(E2E_NODE_PREFIX).parent_path() /
      "browser-screenshots";
  std::filesystem::remove_all(shots);
  std::filesystem::create_directories(shots);

  Regions regions;
  Tenant t = regions.Install("browser-residency");
  // Enough events for the copy to show progress.
  for (int i = 0; i < 300; ++i) {
    REQUIRE(Regions::Call(*regions.us, t, "POST", "/api/v1/sites", SiteBody(i))
                .status == 201);
  }
  const std::string sub = "5b10ac8d82e05b22cc7d4ef5";
  const std::string page = regions.us->url(
      "/pages/residency?jwt=" + t.Token("GET", "/pages/residency", sub, 600));
  const std::string expired = regions.us->url(
      "/pages/residency?jwt=" + t.Token("GET", "/pages/residency", sub, -120));
  Tenant forged = t;
  forged.secret = "a-secret-that-is-not-the-sites-0123456789abcdef";
  const std::string forged_url =
      regions.us->url("/pages/residency?jwt=" +
                      forged.Token("GET", "/pages/residency", sub, 600));

  auto [code, out] =
      RunProgram({"node", std::string(E2E_SOURCE_DIR) + "/browser_residency.js",
                  prefix, shots.string(), page, expired, forged_url});
  INFO(out);
  REQUIRE(code == 0);
  const Json result = ParseOrFail(out);
  for (const Json& s : result.Find("steps")->as_array()) {
    UNSCOPED_INFO(s.as_string());
  }
  CHECK(result.GetString("error") == "");
  REQUIRE(result.Find("ok")->as_bool());
  // What the browser saw is what the servers hold.
  Response home = Regions::Call(*regions.us, t, "GET", "/api/v1/residency");
  REQUIRE(home.status == 200);
  CHECK(home.json().GetString("region") == "us");
  CHECK(home.json().GetString("state") == "home");
  for (const char* shot :
       {"01-expired-token", "02-forged-token", "03-home-us",
        "04-confirm-migration", "05-migrating", "06-moved-eu",
        "07-confirm-rollback", "08-back-us"}) {
    INFO(shot);
    CHECK(std::filesystem::file_size(shots / (std::string(shot) + ".png")) >
          1000);
  }
}

}  // namespace
}  // namespace siteledger::e2e
