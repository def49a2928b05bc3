// A full disk (issue 11, item 7): with the data folder on a small file
// system and 8 clients writing until the disk reserve is reached, writes
// answer 507 with Retry-After (never 409, never a crash), reads go on,
// every acknowledged write stays readable, a restart on the full disk comes
// up, and writes succeed again once space is freed. Needs root for the
// tmpfs mount; skipped with a message otherwise.

#include <sys/mount.h>
#include <sys/wait.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

// A tmpfs of `size` mounted on `dir` for the life of the object.
class SmallDisk {
 public:
  SmallDisk(const std::filesystem::path& dir, const std::string& size)
      : dir_(dir) {
    std::filesystem::create_directories(dir);
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0,
                       ("size=" + size + ",mode=0700").c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  bool Resize(const std::string& size) {
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT,
                   ("size=" + size + ",mode=0700").c_str()) == 0;
  }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
  std::string error_;
};

std::string FeedbackBody(int writer, int i) {
  std::string text =
      "writer " + std::to_string(writer) + " note " + std::to_string(i) + " ";
  text.resize(2000, static_cast<char>('a' + (writer + i) % 26));
  Json body = Json::MakeObject();
  body.Set("text", text);
  return body.Dump();
}

bool Alive(pid_t pid) {
  int status = 0;
  return pid != 0 && ::waitpid(pid, &status, WNOHANG) == 0;
}

TEST_CASE("A full disk answers 507, keeps reads, loses nothing and recovers",
          "[e2e][full_disk]") {
  World w;
  const std::filesystem::path disk_dir = w.dir / "disk";
  w.server.reset();  // the data goes on the small disk below
  SmallDisk disk(disk_dir, "40m");
  if (!disk.mounted()) {
    WARN("skipped: mounting a 40 MiB tmpfs needs root (" << disk.error()
                                                         << ")");
    return;
  }
  // No rate limit: the reads below check every acknowledged write (over a
  // thousand) as fast as the server answers.
  const std::vector<std::string> flags = {
      "--disk-reserve-bytes", std::to_string(6 << 20), "--tenant-rate", "0"};
  w.server = std::make_unique<Server>(disk_dir, w.keys.url(), flags);
  const Tenant t = w.Install("client-full-disk");

  // 8 writers until each has been refused a few times.
  std::mutex mu;
  std::map<std::string, std::string> acknowledged;  // id -> text sent
  std::map<long, int> answers;
  std::string retry_after;
  std::vector<std::thread> writers;
  for (int wr = 0; wr < 8; ++wr) {
    writers.emplace_back([&, wr] {
      int refused = 0;
      for (int i = 0; i < 20000 && refused < 5; ++i) {
        const std::string body = FeedbackBody(wr, i);
        Response r = w.Call(t, "POST", "/api/v1/feedback", body);
        std::lock_guard lock(mu);
        ++answers[r.status];
        if (r.status == 201) {
          acknowledged[std::string(r.json().GetString("id"))] = body;
        } else {
          ++refused;
          if (r.status == 507) retry_after = r.header("retry-after");
        }
        if (r.status == 0) return;  // the server is gone
      }
    });
  }
  for (auto& th : writers) th.join();
  for (const auto& [status, n] : answers) {
    UNSCOPED_INFO("HTTP " << status << ": " << n);
  }
  INFO("siteledgerd's log:\n" << w.server->Log().substr(0, 4000));
  REQUIRE(Alive(w.server->pid()));
  CHECK(answers.count(409) == 0);
  CHECK(answers.count(500) == 0);
  CHECK(answers.count(0) == 0);
  REQUIRE(answers[507] > 0);
  CHECK(answers[201] > 1000);  // ~30 MiB of the 40 went to feedback
  CHECK(!retry_after.empty());

  // The reserve is reported.
  Response ready = Http("GET", w.server->url("/readyz"));
  CHECK(ready.status == 200);
  Json readyz = ready.json();
  CHECK(readyz.GetString("writes") == "refused: disk reserve");
  const Json* space = readyz.Find("disk");
  REQUIRE(space != nullptr);
  CHECK(space->GetInt("reserveBytes") == 6 << 20);
  const Json* refused = space->Find("writesRefused");
  REQUIRE(refused != nullptr);
  CHECK(refused->as_bool());
  const std::string metrics = Http("GET", w.server->url("/metrics")).body;
  for (const char* gauge :
       {"siteledger_disk_free_bytes", "siteledger_disk_reserve_bytes",
        "siteledger_disk_writes_refused"}) {
    CHECK(metrics.find(std::string("# HELP ") + gauge) != std::string::npos);
    CHECK(metrics.find(std::string("# TYPE ") + gauge + " gauge") !=
          std::string::npos);
  }
  CHECK(metrics.find("siteledger_disk_writes_refused 1") != std::string::npos);

  // Reads go on, and every acknowledged write is there.
  auto check_all = [&] {
    for (const auto& [id, body] : acknowledged) {
      Response got = w.Call(t, "GET", "/api/v1/feedback/" + id);
      REQUIRE(got.status == 200);
      REQUIRE(got.json().GetString("text") ==
              ParseOrFail(body).GetString("text"));
    }
  };
  check_all();

  // A restart on the full disk comes up. (Closing cut the zeros laid ahead
  // of the WAL, so a little space came back: fill it again.)
  REQUIRE(w.server->Stop(SIGTERM) == 0);
  w.server = std::make_unique<Server>(disk_dir, w.keys.url(), flags);
  CHECK(Http("GET", w.server->url("/readyz")).status == 200);
  check_all();
  Response last;
  for (int i = 0; i < 5000; ++i) {
    last = w.Call(t, "POST", "/api/v1/feedback", FeedbackBody(9, i));
    if (last.status != 201) break;
    acknowledged[std::string(last.json().GetString("id"))] = FeedbackBody(9, i);
  }
  CHECK(IsProblem(last, 507));
  CHECK(Alive(w.server->pid()));
  check_all();

  // Space given back: writes go through again.
  REQUIRE(disk.Resize("80m"));
  Response again;
  // RocksDB clears a disk-full error of its own when it sees the space
  // (its SstFileManager looks every few seconds, slower under a loaded
  // CI machine: one run of 30 s was not enough there).
  const bool recovered = Eventually(
      [&] {
        again = w.Call(t, "POST", "/api/v1/feedback", FeedbackBody(10, 1));
        return again.status == 201;
      },
      std::chrono::seconds(90));
  if (!recovered) {
    const std::string log = w.server->Log();
    INFO("the last answer: "
         << again.status << " " << again.body
         << "\nthe restarted siteledgerd's log (end):\n"
         << log.substr(log.size() > 6000 ? log.size() - 6000 : 0));
    CHECK(recovered);
  }
  CHECK(Http("GET", w.server->url("/readyz")).json().GetString("writes") ==
        "accepted");
  w.server.reset();
}

}  // namespace
}  // namespace siteledger::e2e
