// SIGTERM drains: requests in flight are answered, the process exits 0, and
// every acknowledged write is there after a restart.

#include <catch2/catch.hpp>
#include <mutex>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

TEST_CASE(
    "SIGTERM answers the requests in flight, exits 0 and keeps every "
    "acknowledged write",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-drain");
  Response before = w.Call(t, "POST", "/api/v1/sites", R"({"name":"Before"})",
                           {"Idempotency-Key: before-the-restart"});
  REQUIRE(before.status == 201);

  // A slow upload: a body just under 1 MiB, half of it sent now.
  const std::string prefix = R"({"name":"Slow upload"})";
  const std::string body = prefix + std::string((1 << 20) - 64, ' ');
  RawConnection slow(w.server->base_url());
  const std::string head =
      "POST /api/v1/sites HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      t.Auth("POST", "/api/v1/sites") +
      "\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";
  REQUIRE(slow.Send(head));
  REQUIRE(slow.Send(std::string_view(body).substr(0, body.size() / 2)));

  // Writers that keep creating sites until the server goes away.
  struct Outcome {
    long status;
    std::string id;
  };
  std::mutex mu;
  std::vector<Outcome> outcomes;
  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0};
  // Threads are joined however the test ends.
  struct Threads {
    std::atomic<bool>& stop;
    std::vector<std::thread> all;
    ~Threads() {
      stop = true;
      for (auto& th : all) {
        if (th.joinable()) th.join();
      }
    }
  } threads{stop, {}};
  const std::string base = w.server->base_url();
  for (int i = 0; i < 4; ++i) {
    threads.all.emplace_back([&, i] {
      for (int n = 0; !stop; ++n) {
        const std::string name =
            "W" + std::to_string(i) + "-" + std::to_string(n);
        Response r = Http(
            "POST", base + "/api/v1/sites",
            {t.Auth("POST", "/api/v1/sites"), "Content-Type: application/json"},
            R"({"name":")" + name + "\"}");
        std::string id;
        if (r.status == 201) {
          id = std::string(r.json().GetString("id"));
          ++acknowledged;
        }
        {
          std::lock_guard lock(mu);
          outcomes.push_back({r.status, id});
        }
        if (r.status < 0) return;  // refused or closed: the server is going
      }
    });
  }
  REQUIRE(Eventually([&] { return acknowledged >= 8; }));

  // SIGTERM, while the upload is half done and writes are under way.
  const pid_t pid = w.server->pid();
  int status = -1;
  std::atomic<bool> exited{false};
  threads.all.emplace_back([&] {
    status = w.server->Stop(SIGTERM);
    exited = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Still draining: the upload holds it open.
  CHECK_FALSE(exited);
  CHECK(::kill(pid, 0) == 0);
  // The rest of the body, slowly.
  const size_t half = body.size() / 2;
  const size_t chunk = (body.size() - half + 7) / 8;
  for (size_t at = half; at < body.size(); at += chunk) {
    CHECK(slow.Send(std::string_view(body).substr(at, chunk)));
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  Response answer = slow.Read();
  INFO(answer.status << " " << answer.body);
  CHECK(answer.status == 201);
  std::string slow_id;
  if (answer.status == 201) {
    slow_id = std::string(ParseOrFail(answer.body).GetString("id"));
  }
  CHECK(answer.header("connection") == "close");

  if (!Eventually([&] { return exited.load(); }, std::chrono::seconds(20))) {
    ::kill(pid, SIGKILL);  // lets the stopping thread return
    FAIL("siteledgerd did not exit within 20 s of SIGTERM");
  }
  stop = true;
  for (auto& th : threads.all) th.join();
  INFO(w.server->Log());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  // Every request was either answered properly or never got in.
  std::vector<std::string> ids;
  for (const Outcome& o : outcomes) {
    INFO(o.status);
    CHECK((o.status == 201 || o.status < 0));
    if (o.status == 201) ids.push_back(o.id);
  }
  if (!slow_id.empty()) ids.push_back(slow_id);
  REQUIRE(ids.size() >= 8);

  // A new process on the same data has every acknowledged write.
  w.server = std::make_unique<Server>(w.dir.path(), w.keys.url());
  ids.push_back(std::string(before.json().GetString("id")));
  for (const std::string& id : ids) {
    Response r = w.Call(t, "GET", "/api/v1/sites/" + id);
    INFO(id << " -> " << r.body);
    CHECK(r.status == 200);
  }
  if (!slow_id.empty()) {
    CHECK(
        w.Call(t, "GET", "/api/v1/sites/" + slow_id).json().GetString("name") ==
        "Slow upload");
  }
  Response list = w.Call(t, "GET", "/api/v1/sites?limit=200");
  REQUIRE(list.status == 200);
  CHECK(list.json().Find("items")->as_array().size() >= ids.size());
  // An idempotent retry is still answered from the first attempt.
  Response retry = w.Call(t, "POST", "/api/v1/sites", R"({"name":"Before"})",
                          {"Idempotency-Key: before-the-restart"});
  CHECK(retry.status == 201);
  CHECK(retry.json().GetString("id") == before.json().GetString("id"));
  // And it drains as cleanly when idle.
  const int idle = w.server->Stop(SIGTERM);
  CHECK(WIFEXITED(idle));
  CHECK(WEXITSTATUS(idle) == 0);
}

TEST_CASE("SIGTERM with an idle event stream open closes it and exits promptly",
          "[e2e]") {
  World w;
  Tenant t = w.Install("client-drain-idle-stream");
  const std::string target = "/api/v1/events/stream";
  SseClient stream(w.server->url(target), {t.Auth("GET", target)});
  REQUIRE(stream.WaitFor([](const std::string& s) {
    return s.find("retry:") != std::string::npos;
  }));
  // The stream is live (its first event arrived), then idle.
  REQUIRE(w.Call(t, "POST", "/api/v1/sites", R"({"name":"Quiet"})").status ==
          201);
  REQUIRE(stream.WaitFor([](const std::string& s) {
    return s.find("site.created") != std::string::npos;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // Server bug: the drain waits for the session, which the event feed keeps
  // (server/event_feed.cc holds the stream's writer, and with it the
  // session, until its loop next wakes: a write or the 15 s heartbeat), so
  // siteledgerd takes about 15 s to exit.
  const auto [status, in_time] =
      w.server->StopWithin(SIGTERM, std::chrono::seconds(3));
  INFO(w.server->Log());
  CHECK(in_time);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(Eventually([&] { return stream.ended(); }));
}

// Creates `n` sites from 4 threads.
void CreateSites(World& w, const Tenant& t, int n) {
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      while (next++ < n) {
        w.Call(t, "POST", "/api/v1/sites", R"({"name":"Filler"})");
      }
    });
  }
  for (auto& th : threads) th.join();
}

TEST_CASE(
    "SIGTERM while event streams are being written closes them and exits 0",
    "[e2e]") {
  // Server bug (server/http_server.cc, Session::EndStream and
  // DoStreamWrite): closing a stream clears stream_queue_ while an
  // async_write of its front element is still in flight; the write's
  // completion handler then pops the empty deque. siteledgerd aborts with
  // "double free or corruption" (or crashes) instead of exiting 0 when it
  // drains with a stream mid-write.
  World w;
  Tenant t = w.Install("client-drain-streams");
  CreateSites(w, t, 300);
  const std::string target = "/api/v1/events/stream";
  std::vector<std::unique_ptr<SseClient>> streams;
  for (int i = 0; i < 8; ++i) {
    // From the start: the server has hundreds of frames to write to each.
    streams.push_back(std::make_unique<SseClient>(
        w.server->url(target),
        std::vector<std::string>{t.Auth("GET", target), "Last-Event-ID: 0"}));
  }
  for (auto& s : streams) {
    REQUIRE(s->WaitFor([](const std::string& text) {
      return text.find("site.created") != std::string::npos;
    }));
  }
  // More events while the streams are being written, then SIGTERM.
  std::thread more([&] { CreateSites(w, t, 40); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // (It may also be late, by the feed's heartbeat, as in the test above.)
  const auto [status, in_time] =
      w.server->StopWithin(SIGTERM, std::chrono::seconds(5));
  more.join();
  INFO(w.server->Log());
  CHECK(in_time);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  for (auto& s : streams) CHECK(Eventually([&] { return s->ended(); }));
}

}  // namespace
}  // namespace siteledger::e2e
