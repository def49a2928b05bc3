// A bounded soak: about two minutes of mixed reads, writes, uploads and
// event-stream subscribers across 100 tenants on loopback. No answer is a
// 5xx, the server holds no more file descriptors at the end than after
// the warm-up (but table files, whose number follows the data), and its
// resident set at the end is within 1.5 times the one after the warm-up
// (sampled every 10 s and reported).
// SITELEDGER_SOAK_SECONDS sets the length (default 120).

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

using namespace std::chrono_literals;

// RocksDB's memory as /metrics reports it, in MiB: memtables, block cache,
// table readers.
std::string RocksDbMemory(World& w) {
  const std::string text = Http("GET", w.server->url("/metrics")).body;
  std::string out;
  for (const char* name :
       {"memtable_size_bytes", "memtable_pinned_size_bytes",
        "block_cache_usage_bytes", "table_readers_memory_bytes"}) {
    const std::string metric = std::string("siteledger_rocksdb_") + name + " ";
    const size_t at = text.find("\n" + metric);
    const double bytes = at == std::string::npos
                             ? -1
                             : std::stod(text.substr(at + 1 + metric.size()));
    out += std::string(" ") + name + " " +
           std::to_string(bytes / 1048576.0).substr(0, 5);
  }
  return out;
}

// VmRSS of `pid`, in KiB.
long RssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  }
  return -1;
}

// The descriptors of `pid` but RocksDB's table and blob files, whose number
// follows the data (it keeps every table file open): sockets, the WAL, the
// logs, pipes.
size_t FdCount(pid_t pid) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(
           "/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code ec;
    const std::filesystem::path target =
        std::filesystem::read_symlink(e.path(), ec);
    if (!ec &&
        (target.extension() == ".sst" || target.extension() == ".blob")) {
      continue;
    }
    ++n;
  }
  return n;
}

std::string Svg(uint32_t color) {
  char fill[8];
  std::snprintf(fill, sizeof fill, "#%06x", color & 0xffffff);
  return std::string(
             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"16\" "
             "height=\"16\"><rect width=\"16\" height=\"16\" "
             "fill=\"") +
         fill + "\"/></svg>";
}

struct Load {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> requests{0};
  std::mutex mu;
  std::map<int, uint64_t> statuses;  // GUARDED_BY(mu)
  std::string first_5xx;             // GUARDED_BY(mu)

  void Count(const Response& r, const std::string& what) {
    ++requests;
    std::lock_guard lock(mu);
    ++statuses[r.status];
    if ((r.status >= 500 || r.status <= 0) && first_5xx.empty()) {
      first_5xx = what + ": " + std::to_string(r.status) + " " + r.body;
    }
  }
};

// Runs the mixed workload on `tenants` with 8 clients and 10 event-stream
// subscribers until load.stop.
void RunLoad(World& w, const std::vector<Tenant>& tenants, Load& load,
             std::chrono::seconds length) {
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(static_cast<uint32_t>(c) * 7919u + 1);
      while (!load.stop) {
        const Tenant& t = tenants[rng() % tenants.size()];
        const uint32_t pick = rng() % 100;
        if (pick < 50) {
          load.Count(w.Call(t, "GET", "/api/v1/sites?limit=20"), "list");
        } else if (pick < 70) {
          load.Count(
              w.Call(t, "POST", "/api/v1/sites",
                     "{\"name\":\"Soak " + std::to_string(rng()) + "\"}"),
              "create");
        } else if (pick < 80) {
          load.Count(w.Call(t, "PUT", "/api/v1/search/promoted/soak",
                            R"({"results":[{"contentId":"1"}]})"),
                     "promote");
        } else if (pick < 90) {
          load.Count(w.Call(t, "POST", "/api/v1/media?kind=logo", Svg(rng()),
                            {"Content-Type: image/svg+xml"}),
                     "upload");
        } else {
          load.Count(w.Call(t, "GET", "/api/v1/events?limit=50"), "events");
        }
      }
    });
  }
  // Subscribers come and go: each lives 5 s, then another takes its place.
  std::vector<std::thread> subscribers;
  for (int s = 0; s < 10; ++s) {
    subscribers.emplace_back([&, s] {
      size_t round = 0;
      while (!load.stop) {
        const Tenant& t =
            tenants[(static_cast<size_t>(s) * 10 + round++) % tenants.size()];
        const std::string target = "/api/v1/events/stream";
        SseClient stream(w.server->url(target), {t.Auth("GET", target)});
        for (int i = 0; i < 50 && !load.stop; ++i) {
          std::this_thread::sleep_for(100ms);
        }
        stream.Stop();
      }
    });
  }
  const auto until = std::chrono::steady_clock::now() + length;
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  load.stop = true;
  for (auto& c : clients) c.join();
  for (auto& s : subscribers) s.join();
}

TEST_CASE(
    "A two-minute soak over 100 tenants answers no 5xx and leaks no file "
    "descriptor, and reports its memory",
    "[soak]") {
  const char* env = std::getenv("SITELEDGER_SOAK_SECONDS");
  const auto length = std::chrono::seconds(env ? std::atoi(env) : 120);
  // Small memtables and WAL budget (a third of the disk reserve, here 2
  // MiB) and a small block cache (8 MiB): the warm-up fills both, so growth
  // after it is what is kept, not a cache still filling up.
  // The projector's caches are small too (1 MiB each).
  World w({"--disk-reserve-bytes", "6291456", "--block-cache-bytes", "8388608",
           "--view-cache-bytes", "1048576"});
  std::vector<Tenant> tenants;
  for (int i = 0; i < 100; ++i) {
    tenants.push_back(w.Install("soak-" + std::to_string(i)));
  }
  const pid_t pid = w.server->pid();
  // Warm-up: the same load for 15 s, then the baseline.
  Load warm;
  RunLoad(w, tenants, warm, 15s);
  std::this_thread::sleep_for(1s);
  const long rss_warm = RssKib(pid);
  const std::string rocksdb_warm = RocksDbMemory(w);
  const size_t fds_warm = FdCount(pid);

  Load soak;
  std::vector<long> samples;  // MiB, every 10 s
  std::atomic<bool> loading{true};
  std::thread sampler([&] {
    while (loading) {
      for (int i = 0; i < 100 && loading; ++i) {
        std::this_thread::sleep_for(100ms);
      }
      if (loading) samples.push_back(RssKib(pid) / 1024);
    }
  });
  RunLoad(w, tenants, soak, length);
  loading = false;
  sampler.join();
  std::this_thread::sleep_for(2s);  // subscribers' streams end
  const long rss_end = RssKib(pid);
  const std::string rocksdb_end = RocksDbMemory(w);
  const size_t fds_end = FdCount(pid);

  std::string counts;
  for (const auto& [status, n] : soak.statuses) {
    counts += " " + std::to_string(status) + ":" + std::to_string(n);
  }
  std::string series;
  for (long m : samples) series += " " + std::to_string(m);
  WARN("soak: " << length.count() << " s, " << soak.requests << " requests ("
                << counts << " ); RSS " << rss_warm / 1024 << " MiB after "
                << "warm-up, every 10 s:" << series << ", " << rss_end / 1024
                << " MiB at the end; " << fds_warm << " then " << fds_end
                << " descriptors; RocksDB (MiB) after warm-up" << rocksdb_warm
                << ", at the end" << rocksdb_end);
  INFO(soak.first_5xx << warm.first_5xx);
  CHECK(soak.first_5xx.empty());
  CHECK(warm.first_5xx.empty());
  CHECK(soak.requests > 1000);
  CHECK(rss_end > 0);
  CHECK(rss_warm > 0);
  // Caches are full after the warm-up: what grows after it is kept. (Under
  // AddressSanitizer the baseline holds its quarantine of freed memory.)
  CHECK(rss_end * 2 <= rss_warm * 3);
  // Connections and streams are all given back (a WAL file may have
  // rolled over meanwhile).
  CHECK(fds_end <= fds_warm + 2);
  // Everything still answers.
  for (const Tenant& t : {tenants.front(), tenants.back()}) {
    CHECK(w.Call(t, "GET", "/api/v1/sites?limit=1").status == 200);
  }
}

}  // namespace
}  // namespace siteledger::e2e
