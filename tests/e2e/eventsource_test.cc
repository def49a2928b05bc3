// A W3C EventSource (npm eventsource, pinned) on the event stream: its
// onmessage receives every event, it resumes from Last-Event-ID after the
// server restarts, and named events reach addEventListener when asked for.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/e2e/harness.h"
#include "tests/e2e/regions.h"

namespace siteledger::e2e {
namespace {

// The client's notes so far, one JSON object per line.
std::vector<Json> Notes(const std::filesystem::path& file) {
  std::vector<Json> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(ParseOrFail(line));
  }
  return out;
}

size_t CountNotes(const std::filesystem::path& file, const char* key) {
  size_t n = 0;
  for (const Json& j : Notes(file)) n += j.Find(key) != nullptr;
  return n;
}

// Runs the node client in a thread of its own until it exits.
class NodeClient {
 public:
  explicit NodeClient(std::vector<std::string> args)
      : thread_(
            [this, args = std::move(args)] { result_ = RunProgram(args); }) {}
  std::pair<int, std::string> Wait() {
    thread_.join();
    return result_;
  }
  ~NodeClient() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::pair<int, std::string> result_;
  std::thread thread_;
};

TEST_CASE(
    "A plain EventSource's onmessage receives every event, and after the "
    "server restarts it resumes from Last-Event-ID, nothing lost or repeated",
    "[e2e][sse]") {
  const std::string prefix =
      NpmPrefix("-eventsource", "eventsource@2.0.2", "eventsource");
  const std::string script =
      std::string(E2E_SOURCE_DIR) + "/eventsource_client.js";
  // A fixed port, so that the restarted server is where the client
  // reconnects.
  World w({"--listen", "127.0.0.1:" + std::to_string(FreePort())});
  Tenant t = w.Install("client-eventsource");
  const std::string target = "/api/v1/events/stream";
  // A browser's EventSource cannot set headers: the token goes in ?jwt=.
  const std::string url =
      w.server->url(target) + "?jwt=" + t.Token("GET", target);
  const std::filesystem::path notes = w.dir / "notes.jsonl";
  // The account's first request appends user.seen: let it land before the
  // client connects, so that the stream holds only the sites below.
  REQUIRE(Eventually([&] {
    Response events = w.Call(t, "GET", "/api/v1/events");
    return events.status == 200 &&
           !events.json().Find("items")->as_array().empty();
  }));

  NodeClient client({"node", script, prefix, url, "6", notes.string()});
  REQUIRE(Eventually([&] { return CountNotes(notes, "open") == 1; }));
  for (int i = 0; i < 3; ++i) {
    REQUIRE(w.Call(t, "POST", "/api/v1/sites",
                   "{\"name\":\"Before " + std::to_string(i) + "\"}")
                .status == 201);
  }
  REQUIRE(Eventually([&] { return CountNotes(notes, "message") == 3; }));

  // The server goes away and comes back; three more changes are made at
  // once, before the client's next try (2 s later, the stream's retry). A
  // reconnection without Last-Event-ID would start after them.
  REQUIRE(w.server->Stop(SIGTERM) == 0);
  w.server->Start();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(w.Call(t, "POST", "/api/v1/sites",
                   "{\"name\":\"After " + std::to_string(i) + "\"}")
                .status == 201);
  }
  auto [code, out] = client.Wait();
  const std::vector<Json> all = Notes(notes);
  std::string shown;
  for (const Json& j : all) shown += j.Dump() + "\n";
  INFO(out << shown);
  REQUIRE(code == 0);
  std::vector<int64_t> seqs;
  for (const Json& j : all) {
    const Json* m = j.Find("message");
    if (m == nullptr) continue;
    CHECK(m->GetString("name") == "message");
    CHECK(m->GetString("type") == "site.created");
    CHECK(m->GetString("id") == std::to_string(m->GetInt("seq")));
    seqs.push_back(m->GetInt("seq"));
  }
  REQUIRE(seqs.size() == 6);
  CHECK(CountNotes(notes, "open") >= 2);  // it reconnected
  // Exactly the log's site.created events, in order, each once.
  Response log = w.Call(t, "GET", "/api/v1/events?limit=100");
  REQUIRE(log.status == 200);
  std::vector<int64_t> created;
  const Json body = log.json();
  for (const Json& e : body.Find("items")->as_array()) {
    if (e.GetString("type") == "site.created")
      created.push_back(e.GetInt("seq"));
  }
  CHECK(seqs == created);
}

TEST_CASE(
    "With named_events=true, events reach addEventListener by type and "
    "onmessage gets none",
    "[e2e][sse]") {
  const std::string prefix =
      NpmPrefix("-eventsource", "eventsource@2.0.2", "eventsource");
  const std::string script =
      std::string(E2E_SOURCE_DIR) + "/eventsource_client.js";
  World w;
  Tenant t = w.Install("client-eventsource-named");
  const std::string target = "/api/v1/events/stream?named_events=true";
  const std::string url =
      w.server->url(target) + "&jwt=" + t.Token("GET", target);
  const std::filesystem::path notes = w.dir / "notes.jsonl";

  NodeClient client(
      {"node", script, prefix, url, "3", notes.string(), "named"});
  REQUIRE(Eventually([&] { return CountNotes(notes, "open") == 1; }));
  Response site = w.Call(t, "POST", "/api/v1/sites", R"({"name":"Named"})");
  REQUIRE(site.status == 201);
  REQUIRE(w.Call(t, "PATCH",
                 "/api/v1/sites/" + std::string(site.json().GetString("id")),
                 R"({"name":"Renamed"})")
              .status == 200);
  REQUIRE(w.Call(t, "POST", "/api/v1/themes", R"({"name":"T"})").status == 201);
  auto [code, out] = client.Wait();
  INFO(out);
  REQUIRE(code == 0);
  std::vector<std::string> names;
  for (const Json& j : Notes(notes)) {
    CHECK(j.Find("unexpected") == nullptr);
    if (const Json* m = j.Find("message")) {
      CHECK(m->GetString("name") == m->GetString("type"));
      names.emplace_back(m->GetString("name"));
    }
  }
  CHECK(names == std::vector<std::string>{"site.created", "site.renamed",
                                          "theme.created"});
}

}  // namespace
}  // namespace siteledger::e2e
