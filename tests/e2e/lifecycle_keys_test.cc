// Atlassian's install keys: fetched off the HTTP threads, one fetch per kid,
// misses remembered, fetches bounded, and nothing fetched for a token that
// fails without its key (issue 11, item 3; and item 9's short sharedSecret).

#include <catch2/catch.hpp>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// The installed callback for `client_key`, signed with `key` under `kid`,
// with claims as given.
Response PostInstalled(
    World& w, const Json& claims, const std::string& kid,
    const std::string& client_key,
    const std::string& secret = "a-shared-secret-of-32-bytes-or-more",
    long timeout_ms = 20000) {
  return Http("POST", w.server->url("/lifecycle/installed"),
              {"Authorization: JWT " + SignRs(claims, w.install_key, kid),
               "Content-Type: application/json"},
              LifecycleBody("installed", client_key, secret).Dump(),
              timeout_ms);
}

Json InstalledClaims(World& w, const std::string& client_key) {
  return LifecycleClaims(w.server->base_url(), client_key,
                         "/lifecycle/installed");
}

struct Timed {
  Response response;
  milliseconds elapsed{0};
};

// Runs `n` calls of `f(i)` at once, each on its own thread; returns their
// answers and how long each took.
template <typename F>
std::vector<Timed> AllAtOnce(int n, F f) {
  std::vector<Timed> out(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      const auto start = Clock::now();
      Timed& t = out[static_cast<size_t>(i)];
      t.response = f(i);
      t.elapsed =
          std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

TEST_CASE(
    "Lifecycle calls waiting on a slow install key server do not hold up "
    "other requests",
    "[e2e]") {
  World w;
  w.keys.SetDelay(milliseconds(3000));
  // More waiting calls than the server has HTTP threads (2), each for a kid
  // of its own, with claims that hold: only the key is missing.
  constexpr int kCalls = 4;
  std::atomic<int> answered{0};
  std::vector<Response> answers(kCalls);
  std::vector<std::thread> calls;
  for (int i = 0; i < kCalls; ++i) {
    calls.emplace_back([&, i] {
      const std::string client_key = "client-slow-" + std::to_string(i);
      answers[static_cast<size_t>(i)] =
          PostInstalled(w, InstalledClaims(w, client_key),
                        "kid-slow-" + std::to_string(i), client_key);
      ++answered;
    });
  }
  REQUIRE(Eventually([&] { return w.keys.requests() >= 1; }));

  const auto start = Clock::now();
  Response health = Http("GET", w.server->url("/healthz"));
  const auto took = Clock::now() - start;
  const int answered_by_then = answered.load();
  for (auto& t : calls) t.join();

  INFO(health.status << " " << health.body);
  CHECK(health.status == 200);
  // The key server takes 3 s: /healthz was answered while every lifecycle
  // call still waited for it.
  CHECK(took < std::chrono::seconds(2));
  CHECK(answered_by_then == 0);
  for (const Response& r : answers) {
    INFO(r.status << " " << r.body);
    CHECK(IsProblem(r, 401));  // the key server has no such kid
  }
}

TEST_CASE(
    "Concurrent lifecycle calls for one kid make one fetch and a repeated "
    "miss makes none",
    "[e2e]") {
  World w;
  w.keys.SetDelay(milliseconds(1500));

  SECTION("an unknown kid") {
    auto answers = AllAtOnce(6, [&](int i) {
      const std::string client_key = "client-miss-" + std::to_string(i);
      return PostInstalled(w, InstalledClaims(w, client_key), "kid-unknown",
                           client_key);
    });
    for (const Timed& t : answers) {
      INFO(t.response.status << " " << t.response.body);
      CHECK(IsProblem(t.response, 401));
      CHECK(DetailOf(t.response).find("no install key") != std::string::npos);
    }
    CHECK(w.keys.requests_for("kid-unknown") == 1);

    // Within the miss window: refused at once, from memory.
    const auto start = Clock::now();
    Response again = PostInstalled(w, InstalledClaims(w, "client-miss-again"),
                                   "kid-unknown", "client-miss-again");
    CHECK(IsProblem(again, 401));
    CHECK(Clock::now() - start < milliseconds(1500));
    CHECK(w.keys.requests_for("kid-unknown") == 1);
    CHECK(w.keys.requests() == 1);
  }

  SECTION("a known kid") {
    auto answers = AllAtOnce(5, [&](int i) {
      const std::string client_key = "client-hit-" + std::to_string(i);
      return PostInstalled(w, InstalledClaims(w, client_key), "kid-1",
                           client_key);
    });
    for (const Timed& t : answers) {
      INFO(t.response.status << " " << t.response.body);
      CHECK(t.response.status == 204);
    }
    CHECK(w.keys.requests_for("kid-1") == 1);
    // Each of them is installed.
    for (int i = 0; i < 5; ++i) {
      Tenant t{"client-hit-" + std::to_string(i),
               "a-shared-secret-of-32-bytes-or-more"};
      CHECK(w.Call(t, "GET", "/api/v1/sites").status == 200);
    }
    CHECK(w.keys.requests() == 1);
  }
}

TEST_CASE(
    "A lifecycle token with bad claims is refused 401 without fetching its "
    "key",
    "[e2e]") {
  World w;
  const std::string client_key = "client-claims";
  struct Case {
    std::string name;
    Json claims;
  };
  std::vector<Case> cases;
  {
    Json c = InstalledClaims(w, client_key);
    c.Set("exp", NowSeconds() - 120);
    cases.push_back({"expired", c});
  }
  {
    Json c = InstalledClaims(w, client_key);
    c.Set("aud", "https://elsewhere.example.com");
    cases.push_back({"another aud", c});
  }
  {
    Json c = InstalledClaims(w, client_key);
    c.Set("qsh", server::QueryStringHash("POST", "/lifecycle/uninstalled", ""));
    cases.push_back({"the qsh of another path", c});
  }
  {
    Json c = InstalledClaims(w, client_key);
    c.Set("qsh", "context-qsh");
    cases.push_back({"context-qsh", c});
  }
  cases.push_back({"iss another clientKey", InstalledClaims(w, "client-else")});
  for (const Case& c : cases) {
    INFO(c.name);
    Response r = PostInstalled(w, c.claims, "kid-1", client_key);
    INFO(r.status << " " << r.body);
    CHECK(IsProblem(r, 401));
    CHECK(r.header("www-authenticate") == "JWT");
  }
  // A malformed kid is not asked for either.
  Response bad_kid = PostInstalled(w, InstalledClaims(w, client_key),
                                   "kid/../../etc", client_key);
  CHECK(IsProblem(bad_kid, 401));
  CHECK(w.keys.requests() == 0);

  // The same call with good claims does fetch the key, and installs.
  Response good =
      PostInstalled(w, InstalledClaims(w, client_key), "kid-1", client_key);
  INFO(good.body);
  CHECK(good.status == 204);
  CHECK(w.keys.requests() == 1);
}

TEST_CASE(
    "Lifecycle calls for more distinct kids than the fetch bound are "
    "refused 503 with Retry-After at once",
    "[e2e]") {
  World w;
  constexpr milliseconds kDelay(1500);
  w.keys.SetDelay(kDelay);
  // The server fetches at most 8 kids at a time: of 12 arriving together,
  // 4 are refused.
  constexpr int kCalls = 12;
  auto answers = AllAtOnce(kCalls, [&](int i) {
    const std::string client_key = "client-many-" + std::to_string(i);
    return PostInstalled(w, InstalledClaims(w, client_key),
                         "kid-many-" + std::to_string(i), client_key);
  });
  int refused = 0;
  int unknown = 0;
  for (const Timed& t : answers) {
    INFO(t.response.status << " " << t.response.body);
    if (t.response.status == 503) {
      ++refused;
      CHECK(IsProblem(t.response, 503));
      CHECK(!t.response.header("retry-after").empty());
      CHECK(t.elapsed < kDelay);  // not after a fetch
    } else {
      ++unknown;
      CHECK(IsProblem(t.response, 401));
    }
  }
  CHECK(refused == 4);
  CHECK(unknown == 8);
  CHECK(w.keys.requests() == 8);
  // Once the fetches are done, a new kid is fetched again.
  Response later = PostInstalled(w, InstalledClaims(w, "client-later"),
                                 "kid-many-later", "client-later");
  CHECK(IsProblem(later, 401));
  CHECK(w.keys.requests() == 9);
}

TEST_CASE(
    "An install with a sharedSecret under 32 bytes is refused 400 and "
    "installs nothing",
    "[e2e]") {
  World w;
  for (const std::string& secret :
       {std::string("short"), std::string(31, 'x'), std::string()}) {
    INFO("secret of " << secret.size() << " bytes");
    Response r = w.Lifecycle("installed", "client-short", secret);
    INFO(r.body);
    CHECK(IsProblem(r, 400));
    CHECK(DetailOf(r).find("sharedSecret") != std::string::npos);
    Tenant t{"client-short", secret};
    CHECK(IsProblem(w.Call(t, "GET", "/api/v1/sites"), 401));
  }
  // 32 bytes is enough.
  Tenant t{"client-short", std::string(32, 'k')};
  Response ok = w.Lifecycle("installed", t.client_key, t.secret);
  INFO(ok.body);
  REQUIRE(ok.status == 204);
  CHECK(w.Call(t, "GET", "/api/v1/sites").status == 200);
  // And a reinstall with a short secret keeps the old one.
  Response shorter = w.Lifecycle("installed", t.client_key, "short");
  CHECK(IsProblem(shorter, 400));
  CHECK(w.Call(t, "GET", "/api/v1/sites").status == 200);
}

TEST_CASE(
    "siteledgerd stops promptly while a lifecycle call waits on the install "
    "key server",
    "[e2e]") {
  World w;
  w.keys.SetDelay(milliseconds(30000));
  Response waiting;
  std::thread call([&] {
    waiting = PostInstalled(w, InstalledClaims(w, "client-stop"), "kid-stop",
                            "client-stop");
  });
  REQUIRE(Eventually([&] { return w.keys.requests() >= 1; }));
  auto [status, in_time] =
      w.server->StopWithin(SIGTERM, std::chrono::seconds(15));
  call.join();
  CHECK(in_time);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // Answered before the server went: the key server could not answer in
  // time.
  INFO(waiting.status << " " << waiting.body);
  CHECK(IsProblem(waiting, 503));
}

}  // namespace
}  // namespace siteledger::e2e
