// Durability: every acknowledged append survives a crash.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "storage/event_log.h"
#include "tests/storage/fault_fs.h"
#include "tests/storage/rig.h"

extern char** environ;

namespace siteledger::storage {
namespace {

using testing::Ev;
using testing::Rig;

struct Ack {
  uint64_t first = 0;
  uint64_t last = 0;
  std::string tag;
};

// Checks that every acknowledged append is in the log with its payloads, and
// that each tenant's chain verifies.
void CheckSurvivors(Rig& rig, const std::multimap<uint64_t, Ack>& acks) {
  std::map<uint64_t, std::vector<Event>> logs;
  for (const auto& [tenant, ack] : acks) {
    auto& events = logs[tenant];
    if (events.empty()) {
      // Reads come in bounded batches: page through the whole log.
      for (;;) {
        auto read =
            rig.log->Read(TenantId(tenant), Sequence(events.size() + 1), 10000);
        REQUIRE(read.has_value());
        if (read->empty()) break;
        for (Event& e : *read) events.push_back(std::move(e));
      }
    }
    INFO("tenant " << tenant << " seqs " << ack.first << ".." << ack.last);
    REQUIRE(events.size() >= ack.last);
    for (uint64_t s = ack.first; s <= ack.last; ++s) {
      const Event& e = events[s - 1];
      REQUIRE(e.seq.value() == s);
      REQUIRE(e.payload == ack.tag + "-" + std::to_string(s - ack.first));
    }
  }
  for (const auto& [tenant, events] : logs) {
    testing::RequireChainVerifies(rig, TenantId(tenant));
  }
}

TEST_CASE("Every acknowledged append survives SIGKILL of the writer",
          "[crash]") {
  Rig rig;
  std::vector<std::string> args = {CRASH_CHILD_PATH, rig.data_path().string(),
                                   rig.keys_path().string()};
  for (int i = 0; i < 6; ++i) {
    args.push_back(
        std::to_string(rig.NewTenant("c" + std::to_string(i)).value()));
  }
  rig.Close();

  std::mt19937 rng(Catch::rngSeed());
  std::multimap<uint64_t, Ack> acks;
  for (int round = 0; round < 5; ++round) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    REQUIRE(::posix_spawn(&pid, CRASH_CHILD_PATH, &actions, nullptr,
                          argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);

    // Read acknowledgements while the child runs; kill it at a random moment.
    std::string output;
    std::thread reader([&] {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fds[0], buf, sizeof buf)) > 0) output.append(buf, n);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int>(150, 600)(rng)));
    REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    reader.join();
    ::close(fds[0]);
    INFO("child status " << status);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);

    std::istringstream lines(output);
    std::string line;
    size_t round_acks = 0;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      uint64_t tenant;
      Ack ack;
      if (fields >> tenant >> ack.first >> ack.last >> ack.tag) {
        acks.emplace(tenant, ack);
        ++round_acks;
      }
    }
    INFO("round " << round);
    REQUIRE(round_acks > 0);  // the child did get to work before the kill

    rig.Open();
    CheckSurvivors(rig, acks);
    rig.Close();
  }
  rig.Open();
}

TEST_CASE("Every acknowledged append survives losing unsynced writes",
          "[crash]") {
  auto fs = std::make_shared<testing::CrashableFileSystem>(
      rocksdb::FileSystem::Default());
  Rig rig(fs);
  std::vector<TenantId> tenants;
  for (int i = 0; i < 8; ++i) {
    tenants.push_back(rig.NewTenant("c" + std::to_string(i)));
  }
  std::mt19937 rng(Catch::rngSeed());
  std::multimap<uint64_t, Ack> acks;
  for (int round = 0; round < 4; ++round) {
    std::mutex mu;
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int th = 0; th < 8; ++th) {
      writers.emplace_back([&, th] {
        for (uint64_t counter = 0; !stop; ++counter) {
          const TenantId t = tenants[(th + counter) % tenants.size()];
          const std::string tag = std::to_string(round) + "." +
                                  std::to_string(th) + "-" +
                                  std::to_string(counter);
          std::vector<NewEvent> events;
          for (int k = 0; k < 1 + static_cast<int>(counter % 3); ++k) {
            events.push_back(Ev("crash.test", tag + "-" + std::to_string(k)));
          }
          auto r = rig.log->Append(t, std::nullopt, std::move(events));
          if (!r) return;  // the crash: nothing after it is acknowledged
          std::lock_guard lock(mu);
          acks.emplace(t.value(), Ack{r->first.value(), r->last.value(), tag});
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int>(100, 400)(rng)));
    fs->Crash();
    stop = true;
    for (auto& w : writers) w.join();
    rig.Close();
    const uint64_t dropped = fs->unsynced_bytes();
    fs->DropUnsyncedData();
    INFO("round " << round << ", unsynced bytes dropped: " << dropped);
    // Recover with the real file system, as a rebooted machine would.
    rig.Open();
    CheckSurvivors(rig, acks);
    rig.Close();
    // Next round: a fresh crashable file system over the recovered files.
    fs = std::make_shared<testing::CrashableFileSystem>(
        rocksdb::FileSystem::Default());
    rig.Open(fs);
  }
}

}  // namespace
}  // namespace siteledger::storage
