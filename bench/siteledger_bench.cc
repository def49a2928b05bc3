// siteledger-bench: a load driver in the spirit of LevelDB's db_bench.
//
//   siteledger-bench [--benchmarks=append_one,append_concurrent,...]
//                    [--db=DIR] [--seconds=N] [--threads=16] [--tenants=1000]
//                    [--replay_events=1000000] [--value_size=200]
//
// Each workload prints one line: events/s and latency percentiles per
// operation. Workloads:
//   append_one         1 writer, 1 event per append, synced
//   append_concurrent  --threads writers across --tenants tenants, synced
//   append_batch       1 writer, 100 events per append, synced
//   replay             read and decode --replay_events events of one tenant
//   rocksdb_put_sync   the same writers doing plain synced Puts on raw
//                      RocksDB: the baseline for append_concurrent
//   rebuild            fold --rebuild_events events of mixed kinds into
//                      views, next to a raw replay of the same log, then
//                      the same log through the streamed rebuild
//   as_of              one view at a random seq of a --as_of_events tenant
//   audit              type AND actor over a --audit_events tenant (20
//                      actors, 12 types): through the event index
//                      (Projector::FindEvents, every page) against a full
//                      scan of the log in the same run, and the ratio
//   append_index       the server's write path (Projector::ExecuteSync,
//                      announcements by 20 users) from --threads writers
//                      over --tenants tenants, with the event index and
//                      without it, --index_pairs pairs of alternated
//                      rounds of --seconds in the same run: the medians,
//                      and the index's cost (the median of the pairs')
//   big_tenant         one tenant grown through the projector to
//                      --big_events events (issue 12, "Big tenants"): an
//                      announcement created per event up to --big_entities,
//                      then updates of them; at 1k, 10k, 100k and 1M events
//                      one row: appends/s and p99 of the last --seconds of
//                      --threads writers, p99 of a view read, a list page
//                      and an as-of read (--seconds each), and the RSS
//   migrate            residency migration between two real siteledgerd
//                      processes (--siteledgerd; us and eu, peers on
//                      loopback) of a tenant of each --migrate_events size,
//                      --migrate_runs times, while one client keeps writing
//                      to it: the time from the start request to the
//                      tenant's region reading eu, events/s moved, the
//                      cutover's lock window (the US server's log) and the
//                      writer's longest stretch of 503s
//   purge              a tenant of --purge_events events (views and
//                      versions folded) purged while --threads writers
//                      append to 100 other tenants: the purge's seconds, and
//                      the others' p99 during it next to their p99 alone
//                      (--seconds, just before, in the same run)
//   http_setup         prepares --db (a region folder) for bench/http_bench.sh:
//                      installs a tenant, creates a site, and prints the
//                      site id and signed tokens for the HTTP workloads
//   http_media         against --server (prepared by http_setup): uploads
//                      distinct 1 MiB images from --threads clients, then
//                      downloads them, in MB/s; next to the disk's own
//                      sequential write speed (1 MiB writes each followed by
//                      fdatasync, and 256 MiB written then synced once)

#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "projections/events.h"
#include "projections/media.h"
#include "projections/projector.h"
#include "server/jwt.h"
#include "storage/base/clock.h"
#include "storage/event_log.h"
#include "storage/key_store.h"
#include "storage/master_key.h"
#include "storage/store.h"
#include "storage/tenant_registry.h"

namespace sl = siteledger::storage;
using Clock = std::chrono::steady_clock;

namespace {

struct Flags {
  std::vector<std::string> benchmarks = {
      "append_one", "append_concurrent", "append_batch", "rocksdb_put_sync",
      "replay",     "rebuild",           "as_of"};
  std::filesystem::path db;
  double seconds = 3;
  int threads = 16;
  int tenants = 1000;
  uint64_t replay_events = 1'000'000;
  uint64_t rebuild_events = 1'000'000;
  uint64_t as_of_events = 100'000;
  uint64_t big_events = 1'000'000;
  uint64_t big_entities = 100'000;
  std::string server;
  size_t value_size = 200;
  std::vector<uint64_t> migrate_events = {10'000, 100'000};
  int migrate_runs = 5;
  uint64_t purge_events = 1'000'000;
  uint64_t audit_events = 1'000'000;
  int index_pairs = 10;
  std::filesystem::path siteledgerd;
};

constexpr const char* kUsage =
    "usage: siteledger-bench [--benchmarks=a,b,...] [--db=DIR] [--seconds=N]\n"
    "         [--threads=16] [--tenants=1000] [--value_size=200]\n"
    "         [--replay_events=1000000] [--rebuild_events=1000000]\n"
    "         [--as_of_events=100000] [--big_events=1000000]\n"
    "         [--big_entities=100000] [--server=URL]\n"
    "         [--migrate_events=10000,100000] [--migrate_runs=5]\n"
    "         [--siteledgerd=PATH] [--purge_events=1000000]\n"
    "         [--audit_events=1000000] [--index_pairs=10]\n"
    "workloads (default: append_one through as_of):\n"
    "  append_one, append_concurrent, append_batch, rocksdb_put_sync,\n"
    "  replay, rebuild, as_of, audit, append_index, big_tenant, migrate,\n"
    "  purge, http_setup, http_media.\n"
    "  Each prints events/s and p50/p99 latency per operation.\n"
    "--db=DIR is deleted when the run ends: it must be a new or empty folder,\n"
    "  or one an earlier run made (it leaves a .siteledger-bench file in "
    "it).\n";

// The most events a workload's flag may ask for.
constexpr uint64_t kMaxEvents = 1'000'000'000;

// A whole number flag from `lo` to `hi`, or exit 2 naming the flag.
uint64_t NumberFlag(const char* name, const char* text, uint64_t lo,
                    uint64_t hi) {
  uint64_t v = 0;
  const char* end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, v);
  if (ec != std::errc() || ptr != end || v < lo || v > hi) {
    std::fprintf(stderr,
                 "siteledger-bench: --%s: expected a whole number from %llu "
                 "to %llu, got '%s'\n",
                 name, static_cast<unsigned long long>(lo),
                 static_cast<unsigned long long>(hi), text);
    std::exit(2);
  }
  return v;
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  char* end = nullptr;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      const std::string prefix = std::string("--") + name + "=";
      return a.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (const char* v = value("benchmarks")) {
      f.benchmarks.clear();
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) f.benchmarks.push_back(item);
    } else if (const char* v2 = value("db")) {
      f.db = v2;
    } else if (const char* v3 = value("seconds")) {
      f.seconds = std::strtod(v3, &end);
      if (end == v3 || *end != '\0' || !(f.seconds > 0 && f.seconds <= 3600)) {
        std::fprintf(stderr,
                     "siteledger-bench: --seconds: expected more than 0 and "
                     "at most 3600, got '%s'\n",
                     v3);
        std::exit(2);
      }
    } else if (const char* v4 = value("threads")) {
      f.threads = static_cast<int>(NumberFlag("threads", v4, 1, 1024));
    } else if (const char* v5 = value("tenants")) {
      f.tenants = static_cast<int>(NumberFlag("tenants", v5, 1, 10000000));
    } else if (const char* v6 = value("replay_events")) {
      f.replay_events = NumberFlag("replay_events", v6, 1, kMaxEvents);
    } else if (const char* v8 = value("rebuild_events")) {
      f.rebuild_events = NumberFlag("rebuild_events", v8, 1, kMaxEvents);
    } else if (const char* v9 = value("as_of_events")) {
      f.as_of_events = NumberFlag("as_of_events", v9, 1, kMaxEvents);
    } else if (const char* v11 = value("big_events")) {
      f.big_events = NumberFlag("big_events", v11, 1, kMaxEvents);
    } else if (const char* v12 = value("big_entities")) {
      f.big_entities = NumberFlag("big_entities", v12, 1, kMaxEvents);
    } else if (const char* v10 = value("server")) {
      f.server = v10;
    } else if (const char* v13 = value("migrate_events")) {
      f.migrate_events.clear();
      std::stringstream ss(v13);
      std::string item;
      while (std::getline(ss, item, ','))
        f.migrate_events.push_back(
            NumberFlag("migrate_events", item.c_str(), 1, kMaxEvents));
    } else if (const char* v14 = value("migrate_runs")) {
      f.migrate_runs =
          static_cast<int>(NumberFlag("migrate_runs", v14, 1, 1000));
    } else if (const char* v18 = value("index_pairs")) {
      f.index_pairs = static_cast<int>(NumberFlag("index_pairs", v18, 1, 1000));
    } else if (const char* v17 = value("audit_events")) {
      f.audit_events = NumberFlag("audit_events", v17, 1, kMaxEvents);
    } else if (const char* v16 = value("purge_events")) {
      f.purge_events = NumberFlag("purge_events", v16, 1, kMaxEvents);
    } else if (const char* v15 = value("siteledgerd")) {
      f.siteledgerd = v15;
    } else if (const char* v7 = value("value_size")) {
      f.value_size = NumberFlag("value_size", v7, 1, 1 << 20);
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else {
      std::fprintf(stderr, "unknown flag %s (--help lists them)\n", argv[i]);
      std::exit(2);
    }
  }
  if (f.db.empty()) {
    f.db = std::filesystem::temp_directory_path() / "siteledger-bench";
  }
  // The run deletes --db when it ends: never a folder it did not make.
  namespace fs = std::filesystem;
  const fs::path marker = f.db / ".siteledger-bench";
  std::error_code ec;
  if (fs::exists(f.db, ec) && !fs::is_empty(f.db, ec) &&
      !fs::exists(marker, ec)) {
    std::fprintf(stderr,
                 "siteledger-bench: %s holds files this benchmark did not "
                 "make, and it deletes --db when it ends; name a new or "
                 "empty folder\n",
                 f.db.c_str());
    std::exit(2);
  }
  fs::create_directories(f.db, ec);
  fs::permissions(f.db, fs::perms::owner_all, ec);
  std::FILE* m = std::fopen(marker.c_str(), "w");
  if (m != nullptr) std::fclose(m);
  return f;
}

// Per-operation latencies (microseconds) from all threads, and the count of
// events they carried.
struct Recorder {
  std::vector<double> latencies_us;
  uint64_t events = 0;
};

void Report(const std::string& name, std::vector<Recorder>& recorders,
            double elapsed_s, const std::string& note) {
  std::vector<double> all;
  uint64_t events = 0;
  for (auto& r : recorders) {
    all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
    events += r.events;
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    if (all.empty()) return 0.0;
    return all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::printf(
      "%-18s : %10.0f events/s; p50 %8.3f ms; p99 %8.3f ms; %llu events, "
      "%zu ops in %.2f s%s%s\n",
      name.c_str(), events / elapsed_s, pct(0.50) / 1000, pct(0.99) / 1000,
      static_cast<unsigned long long>(events), all.size(), elapsed_s,
      note.empty() ? "" : "; ", note.c_str());
  std::fflush(stdout);
}

std::string Payload(size_t size, uint64_t n) {
  std::string p = "{\"n\":" + std::to_string(n) + ",\"text\":\"";
  while (p.size() + 2 < size)
    p.push_back('a' + static_cast<char>(p.size() % 26));
  p += "\"}";
  return p;
}

// The storage of one region in a fresh directory, opened as siteledgerd
// opens it.
struct Region {
  siteledger::SystemClock clock;
  std::unique_ptr<sl::Store> store;
  sl::TenantRegistry* registry = nullptr;
  sl::EventLog* log = nullptr;

  explicit Region(const std::filesystem::path& dir) {
    std::filesystem::remove_all(dir);
    sl::StoreOptions o;
    o.data = dir / "us";
    o.clock = &clock;
    auto opened = sl::Store::Open(o);
    if (!opened) {
      std::fprintf(stderr, "open: %s\n", opened.error().ToString().c_str());
      std::exit(1);
    }
    store = std::move(*opened);
    registry = &store->registry();
    log = &store->log();
  }

  // Waits until the loading's flushes and compactions are done, so that
  // what a workload measures after loading its data is not shared with them.
  void WaitQuiet() {
    if (siteledger::Status s = store->WaitForIdle(); !s.ok()) {
      std::fprintf(stderr, "flush: %s\n", s.ToString().c_str());
      std::exit(1);
    }
  }

  std::vector<siteledger::TenantId> MakeTenants(int n) {
    std::vector<siteledger::TenantId> out;
    for (int i = 0; i < n; ++i) {
      auto r = registry->Install(
          {"bench-" + std::to_string(i), "https://b.example", "secret"});
      if (!r) {
        std::fprintf(stderr, "install: %s\n", r.error().ToString().c_str());
        std::exit(1);
      }
      out.push_back(r->record.id);
    }
    return out;
  }
};

// Runs `threads` workers until `wait` returns; each calls op(thread, i) and
// records its latency. Returns the seconds they ran.
template <typename Op, typename Wait>
double RunUntil(int threads, std::vector<Recorder>& recorders, Op op,
                Wait wait) {
  recorders.assign(static_cast<size_t>(threads), Recorder{});
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      Recorder& rec = recorders[static_cast<size_t>(t)];
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const auto t0 = Clock::now();
        rec.events += op(t, i);
        rec.latencies_us.push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - t0)
                .count());
      }
    });
  }
  wait();
  stop = true;
  for (auto& w : workers) w.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs `threads` workers for `seconds`; each calls op(thread, i).
template <typename Op>
double RunTimed(int threads, double seconds, std::vector<Recorder>& recorders,
                Op op) {
  return RunUntil(threads, recorders, op, [seconds] {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  });
}

std::string GroupNote(const sl::EventLog::Stats& before,
                      const sl::EventLog::Stats& after) {
  const double groups = static_cast<double>(after.groups - before.groups);
  const double requests = static_cast<double>(after.requests - before.requests);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.1f appends per synced write",
                groups > 0 ? requests / groups : 0.0);
  return buf;
}

void AppendWorkload(const Flags& f, const std::string& name, int threads,
                    int tenants, int events_per_append) {
  Region region(f.db);
  auto ids = region.MakeTenants(tenants);
  std::vector<Recorder> recorders;
  const auto before = region.log->stats();
  const double elapsed = RunTimed(
      threads, f.seconds, recorders, [&](int t, uint64_t i) -> uint64_t {
        thread_local std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 1);
        const siteledger::TenantId tenant = ids[rng() % ids.size()];
        std::vector<sl::NewEvent> events;
        for (int k = 0; k < events_per_append; ++k) {
          events.push_back(
              {"bench.event", "p-bench", Payload(f.value_size, i)});
        }
        auto r = region.log->Append(tenant, std::nullopt, std::move(events));
        if (!r) {
          std::fprintf(stderr, "append: %s\n", r.error().ToString().c_str());
          std::exit(1);
        }
        return static_cast<uint64_t>(events_per_append);
      });
  Report(name, recorders, elapsed,
         std::to_string(threads) + " writers, " + std::to_string(tenants) +
             " tenants, " + GroupNote(before, region.log->stats()));
}

void RocksDbPutSync(const Flags& f) {
  const auto dir = f.db / "raw";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(f.db);
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, dir.string(), &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "open: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  std::vector<Recorder> recorders;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  const double elapsed = RunTimed(
      f.threads, f.seconds, recorders, [&](int t, uint64_t i) -> uint64_t {
        char key[32];
        std::snprintf(key, sizeof key, "%04d%016llu", t,
                      static_cast<unsigned long long>(i));
        auto st = db->Put(wo, key, Payload(f.value_size, i));
        if (!st.ok()) std::exit(1);
        return 1;
      });
  Report("rocksdb_put_sync", recorders, elapsed,
         std::to_string(f.threads) + " writers, raw RocksDB");
}

void Replay(const Flags& f) {
  Region region(f.db);
  const siteledger::TenantId tenant = region.MakeTenants(1)[0];
  // Populate in large appends; not timed.
  const uint64_t per_append = 1000;
  for (uint64_t done = 0; done < f.replay_events; done += per_append) {
    std::vector<sl::NewEvent> events;
    for (uint64_t k = 0; k < per_append && done + k < f.replay_events; ++k) {
      events.push_back(
          {"bench.event", "p-bench", Payload(f.value_size, done + k)});
    }
    if (!region.log->Append(tenant, std::nullopt, std::move(events))) {
      std::exit(1);
    }
  }
  region.WaitQuiet();
  std::vector<Recorder> recorders(1);
  const auto start = Clock::now();
  siteledger::Sequence from(1);
  uint64_t read = 0;
  for (;;) {
    const auto t0 = Clock::now();
    auto batch = region.log->Read(tenant, from, 10000);
    if (!batch) {
      std::fprintf(stderr, "read: %s\n", batch.error().ToString().c_str());
      std::exit(1);
    }
    if (batch->empty()) break;
    recorders[0].latencies_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    read += batch->size();
    from = batch->back().seq.next();
  }
  recorders[0].events = read;
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - start).count();
  Report("replay", recorders, elapsed,
         "read+decrypt+decode, batches of 10000 (latency per batch)");
}

// Valid events of mixed kinds, as a busy tenant would have: sites with
// domains and spaces, menus, themes, layouts, announcements, promoted
// results, feedback and users.
class MixedEvents {
 public:
  sl::NewEvent Next(uint64_t n) {
    namespace ev = siteledger::projections::event;
    const std::string site = "s_" + std::to_string(n % 50);
    const std::string num = std::to_string(n);
    switch (n % 12) {
      case 0:
        return Make(ev::kSiteCreated, R"({"v":1,"siteId":")" + site +
                                          R"(","name":"Site )" + num + "\"}");
      case 1:
        return Make(ev::kSiteDomainAdded,
                    R"({"v":1,"siteId":")" + site + R"(","domain":"d)" +
                        std::to_string(n % 7) + ".example.com\"}");
      case 2:
        return Make(ev::kSiteSpaceAdded, R"({"v":1,"siteId":")" + site +
                                             R"(","spaceKey":"SP)" +
                                             std::to_string(n % 13) + "\"}");
      case 3:
        return Make(
            ev::kNavigationReplaced,
            R"({"v":1,"siteId":")" + site +
                R"(","items":[{"id":"a","label":"Home","link":{"url":"https://e.example/"}},)"
                R"({"id":"b","label":"Docs","link":{"spaceKey":"DOCS"},"children":[)"
                R"({"id":"c","label":"Guide","link":{"contentId":"12345"}}]}]})");
      case 4:
        return Make(
            ev::kThemeCreated,
            R"({"v":1,"themeId":"t_)" + std::to_string(n % 20) +
                R"(","name":"Theme","colors":{"primary":"#0052cc","text":"#172b4d"},"fonts":{"body":"Inter"},"media":{}})");
      case 5:
        return Make(
            ev::kLayoutSaved,
            R"({"v":1,"layoutId":"l_)" + std::to_string(n % 30) +
                R"(","name":"Home","sections":[{"id":"s1","columns":[{"id":"c1","width":12,"modules":[{"id":"m1","type":"text","props":{"text":"Welcome to the intranet"}}]}]}]})");
      case 6:
        return Make(
            ev::kAnnouncementPublished,
            R"({"v":1,"announcementId":"a_)" + std::to_string(n % 40) +
                R"(","text":"Maintenance window tonight","severity":"info","startsAt":"2026-11-25T21:00:00Z","audience":{"all":true}})");
      case 7:
        return Make(
            ev::kPromotedSet,
            R"({"v":1,"keyword":"topic )" + std::to_string(n % 25) +
                R"(","results":[{"contentId":"42"},{"url":"https://e.example/x","title":"Handbook"}]})");
      case 8:
        return Make(
            ev::kFeedbackSubmitted,
            R"({"v":1,"feedbackId":"b_)" + num +
                R"(","text":"The new landing page is great","rating":5,"submitter":"u_0123456789abcdef0123"})");
      case 9:
        return Make(ev::kUserSeen, R"({"v":1,"user":"u_0123456789abcdef)" +
                                       Hex4(n % 500) +
                                       R"(","day":"2026-11-25"})");
      case 10:
        return Make(ev::kSiteRenamed, R"({"v":1,"siteId":")" + site +
                                          R"(","name":"Renamed )" + num +
                                          "\"}");
      default:
        return Make(ev::kFeaturedSet, R"({"v":1,"contentId":")" +
                                          std::to_string(1000 + n % 60) +
                                          R"(","text":"Read this first"})");
    }
  }

 private:
  static std::string Hex4(uint64_t v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04llx",
                  static_cast<unsigned long long>(v));
    return buf;
  }
  static sl::NewEvent Make(std::string_view type, std::string payload) {
    return {std::string(type), "u_0123456789abcdef0123", std::move(payload)};
  }
};

// Appends `n` mixed events to a new tenant (large unsynced-cost appends of
// 1,000 events each; not timed).
siteledger::TenantId Populate(Region& region, uint64_t n) {
  const siteledger::TenantId tenant = region.MakeTenants(1)[0];
  MixedEvents mixed;
  for (uint64_t done = 0; done < n; done += 1000) {
    std::vector<sl::NewEvent> events;
    for (uint64_t k = done; k < std::min(n, done + 1000); ++k) {
      events.push_back(mixed.Next(k));
    }
    if (!region.log->Append(tenant, std::nullopt, std::move(events))) {
      std::fprintf(stderr, "populate failed\n");
      std::exit(1);
    }
  }
  return tenant;
}

void Rebuild(const Flags& f) {
  Region region(f.db);
  const siteledger::TenantId tenant = Populate(region, f.rebuild_events);
  region.WaitQuiet();
  siteledger::projections::Projector projector(*region.log, region.clock);
  for (int round = 0; round < 2; ++round) {
    // The raw replay of the same log, in the same run: read, decrypt and
    // decode every event.
    std::vector<Recorder> raw(1);
    auto start = Clock::now();
    siteledger::Sequence from(1);
    for (;;) {
      auto batch = region.log->Read(tenant, from, 4096);
      if (!batch || batch->empty()) break;
      raw[0].events += batch->size();
      from = batch->back().seq.next();
    }
    const double raw_s =
        std::chrono::duration<double>(Clock::now() - start).count();
    raw[0].latencies_us.push_back(raw_s * 1e6);

    std::vector<Recorder> fold(1);
    start = Clock::now();
    auto state =
        projector.StateAt(tenant, siteledger::Sequence(f.rebuild_events),
                          /*from_history=*/false);
    const double fold_s =
        std::chrono::duration<double>(Clock::now() - start).count();
    if (!state) {
      std::fprintf(stderr, "rebuild: %s\n", state.error().ToString().c_str());
      std::exit(1);
    }
    fold[0].events = f.rebuild_events;
    fold[0].latencies_us.push_back(fold_s * 1e6);
    char note[160];
    std::snprintf(
        note, sizeof note,
        "raw replay %.0f events/s in the same run; ratio %.2f; %zu views",
        raw[0].events / raw_s,
        (f.rebuild_events / fold_s) / (raw[0].events / raw_s), state->size());
    Report("rebuild", fold, fold_s, note);

    // The streamed rebuild: the same fold, writing the views and their
    // versions in batches instead of holding the state.
    std::vector<Recorder> streamed(1);
    start = Clock::now();
    if (siteledger::Status s = projector.Rebuild(tenant); !s.ok()) {
      std::fprintf(stderr, "rebuild: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    const double streamed_s =
        std::chrono::duration<double>(Clock::now() - start).count();
    streamed[0].events = f.rebuild_events;
    streamed[0].latencies_us.push_back(streamed_s * 1e6);
    std::snprintf(note, sizeof note,
                  "writes views and versions; ratio to raw replay %.2f",
                  (f.rebuild_events / streamed_s) / (raw[0].events / raw_s));
    Report("rebuild_streamed", streamed, streamed_s, note);
  }
}

void AsOf(const Flags& f) {
  Region region(f.db);
  const siteledger::TenantId tenant = region.MakeTenants(1)[0];
  siteledger::projections::Projector projector(*region.log, region.clock);
  // Append with distinct times straight to the log, then write the views
  // and their versions with a rebuild.
  MixedEvents mixed;
  const auto t0 = region.clock.Now();
  for (uint64_t done = 0; done < f.as_of_events; done += 100) {
    std::vector<sl::NewEvent> events;
    for (uint64_t k = done; k < done + 100; ++k)
      events.push_back(mixed.Next(k));
    sl::AppendRequest request;
    request.tenant = tenant;
    request.events = std::move(events);
    request.time = t0 + std::chrono::milliseconds(done);
    auto r = region.log->Append(std::move(request));
    if (!r) std::exit(1);
  }
  if (!projector.Rebuild(tenant).ok()) std::exit(1);
  region.WaitQuiet();
  auto current = projector.CurrentViews(tenant);
  if (!current || current->size() == 0) std::exit(1);
  std::vector<siteledger::projections::ViewKey> keys;
  for (const auto& [key, doc] : current->rows()) keys.push_back(key);
  std::vector<Recorder> recorders(1);
  std::mt19937_64 rng(42);
  const auto start = Clock::now();
  for (int i = 0; i < 300; ++i) {
    const siteledger::Sequence seq(1 + rng() % f.as_of_events);
    const auto& key = keys[rng() % keys.size()];
    const auto q0 = Clock::now();
    auto view = projector.GetAt(tenant, key, seq);
    if (!view) std::exit(1);
    recorders[0].latencies_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - q0).count());
    recorders[0].events += 1;
  }
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - start).count();
  Report("as_of", recorders, elapsed,
         std::to_string(f.as_of_events) +
             "-event tenant, one view at a random seq; events/s = reads/s");
}

// Type AND actor over one big tenant: the event index against a full scan
// of the log (issue 15's benchmark).
void Audit(const Flags& f) {
  Region region(f.db);
  const siteledger::TenantId tenant = region.MakeTenants(1)[0];
  siteledger::projections::Projector projector(*region.log, region.clock);
  // 20 actors, independent of the 12 types: a type AND an actor match one
  // event in 240.
  auto actor = [](uint64_t k) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "u_0123456789abcdef%04llx",
                  static_cast<unsigned long long>((k / 12) % 20));
    return std::string(buf);
  };
  MixedEvents mixed;
  const auto t0 = region.clock.Now();
  for (uint64_t done = 0; done < f.audit_events; done += 1000) {
    sl::AppendRequest request;
    request.tenant = tenant;
    for (uint64_t k = done; k < std::min(done + 1000, f.audit_events); ++k) {
      sl::NewEvent e = mixed.Next(k);
      e.actor = actor(k);
      request.events.push_back(std::move(e));
    }
    request.time = t0 + std::chrono::milliseconds(done);
    if (!region.log->Append(std::move(request))) std::exit(1);
  }
  // The views, their versions and the event index, from the log.
  const auto build0 = Clock::now();
  if (siteledger::Status s = projector.Rebuild(tenant); !s.ok()) {
    std::fprintf(stderr, "audit: rebuild: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  const double build_s =
      std::chrono::duration<double>(Clock::now() - build0).count();
  region.WaitQuiet();
  const std::string type(siteledger::projections::event::kSiteRenamed);
  const std::string who = actor(12 * 7);

  std::vector<Recorder> indexed(1), scanned(1);
  uint64_t found = 0, expected = 0;
  const auto i0 = Clock::now();
  for (int rep = 0; rep < 9; ++rep) {
    const auto q0 = Clock::now();
    siteledger::projections::Projector::EventFilter filter;
    filter.type = type;
    filter.actor = who;
    filter.limit = 1000;
    found = 0;
    for (;;) {
      auto page = projector.FindEvents(tenant, filter);
      if (!page) std::exit(1);
      found += page->items.size();
      if (page->next_cursor.empty()) break;
      filter.after = siteledger::Sequence(std::stoull(page->next_cursor));
    }
    indexed[0].latencies_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - q0).count());
    indexed[0].events += found;
  }
  const double indexed_s =
      std::chrono::duration<double>(Clock::now() - i0).count();
  const auto s0 = Clock::now();
  for (int rep = 0; rep < 3; ++rep) {
    const auto q0 = Clock::now();
    expected = 0;
    for (siteledger::Sequence from(1);;) {
      auto events = region.log->Read(tenant, from, 10000);
      if (!events) std::exit(1);
      if (events->empty()) break;
      for (const sl::Event& e : *events) {
        if (e.type == type && e.actor == who) ++expected;
      }
      from = events->back().seq.next();
    }
    scanned[0].latencies_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - q0).count());
    scanned[0].events += expected;
  }
  const double scanned_s =
      std::chrono::duration<double>(Clock::now() - s0).count();
  if (found != expected || found == 0) {
    std::fprintf(stderr, "audit: the index found %llu events, a scan %llu\n",
                 static_cast<unsigned long long>(found),
                 static_cast<unsigned long long>(expected));
    std::exit(1);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double ratio =
      median(scanned[0].latencies_us) / median(indexed[0].latencies_us);
  char note[256];
  std::snprintf(note, sizeof note,
                "%llu-event tenant, %llu matches, median of 9 queries; index "
                "built by the rebuild in %.1f s",
                static_cast<unsigned long long>(f.audit_events),
                static_cast<unsigned long long>(found), build_s);
  Report("audit_indexed", indexed, indexed_s, note);
  std::snprintf(note, sizeof note,
                "a full scan of the same log, median of 3; the index is %.0fx "
                "faster (medians)",
                ratio);
  Report("audit_scan", scanned, scanned_s, note);
}

// --- big_tenant: one tenant grown large (issue 12, "Big tenants") ---

namespace proj = siteledger::projections;

// Latencies kept per writer: the newest this many appends, enough for the
// measured window at any rate the log reaches.
constexpr size_t kBigRing = 16384;

// The view of `key` as of event `seq`, or nullopt when it did not exist
// then. Kept to one function: the one-seek read (Projector::GetAt) is to
// replace its body, and the rest of the workload stays as it is.
siteledger::Result<std::optional<proj::ViewDoc>> AsOfRead(
    proj::Projector& projector, siteledger::TenantId tenant,
    const proj::ViewKey& key, siteledger::Sequence seq) {
  return projector.GetAt(tenant, key, seq);
}

// This process's resident set (VmRSS), in MiB; 0 when it cannot be read.
double RssMiB() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  double kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) kib = std::atof(line + 6);
  }
  std::fclose(f);
  return kib / 1024;
}

double DirMiB(const std::filesystem::path& dir) {
  std::error_code ec;
  uintmax_t bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) bytes += e.file_size(ec);
  }
  return static_cast<double>(bytes) / (1 << 20);
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

proj::Command AnnouncementCommand(proj::CommandType type, std::string id,
                                  uint64_t n) {
  proj::Command c;
  c.type = type;
  c.id = std::move(id);
  c.body = *proj::ParseJson(
      R"({"text":"Maintenance window tonight, notice )" + std::to_string(n) +
      R"(","severity":"info","startsAt":"2026-11-25T21:00:00Z","audience":{"all":true}})");
  return c;
}

// The tenant's entities and when each was created, shared by the writers
// (which add them) and the readers (which pick among them).
class BigEntities {
 public:
  struct Entity {
    std::array<char, 24> id{};  // "a_" and 16 hex digits: no heap per id
    siteledger::Sequence created;
  };

  void Add(const std::string& id, siteledger::Sequence created) {
    Entity e;
    std::memcpy(e.id.data(), id.data(), std::min(id.size(), e.id.size() - 1));
    e.created = created;
    std::lock_guard lock(mu_);
    all_.push_back(e);
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return all_.size();
  }
  Entity Pick(std::mt19937_64& rng) {
    std::lock_guard lock(mu_);
    return all_[rng() % all_.size()];
  }

 private:
  std::mutex mu_;
  std::vector<Entity> all_;  // guarded by mu_
};

// One writer's newest appends: when each ended and how long it took.
struct BigSamples {
  struct Sample {
    Clock::time_point end;
    double latency_us;
  };
  std::vector<Sample> ring;
  size_t next = 0;
  void Add(Clock::time_point end, double latency_us) {
    if (ring.size() < kBigRing) {
      ring.push_back({end, latency_us});
    } else {
      ring[next] = {end, latency_us};
      next = (next + 1) % kBigRing;
    }
  }
};

// Grows one tenant through the projector, as the server would (a synced
// append per command, --threads writers), and measures it at 1k, 10k,
// 100k and 1M events. The appends' figures are those of the last
// --seconds before each checkpoint, so that the tenant is at that size and
// no event is added beyond it; the reads run with the writers stopped.
void BigTenant(const Flags& f) {
  Region region(f.db);
  const siteledger::TenantId tenant = region.MakeTenants(1)[0];
  proj::Projector projector(*region.log, region.clock);
  BigEntities entities;
  std::atomic<uint64_t> claimed{0};  // events the writers have taken on

  std::vector<uint64_t> checkpoints;
  for (uint64_t c = 1000; c <= f.big_events; c *= 10) checkpoints.push_back(c);
  if (checkpoints.empty() || checkpoints.back() != f.big_events) {
    checkpoints.push_back(f.big_events);
  }
  std::printf(
      "big_tenant: one tenant, announcements created up to %llu, then "
      "updated; %d writers; %.1f s per read; RSS at start %.0f MiB\n",
      static_cast<unsigned long long>(f.big_entities), f.threads, f.seconds,
      RssMiB());
  std::printf("%9s %8s %10s %9s %9s %9s %9s %9s %6s %8s %8s\n", "events",
              "entities", "append/s", "app p99", "view p99", "list p99",
              "asof p50", "asof p99", "asofs", "RSS MiB", "db MiB");
  std::fflush(stdout);

  const auto run_start = Clock::now();
  for (const uint64_t target : checkpoints) {
    // Writers, until the tenant holds `target` events.
    std::vector<BigSamples> samples(static_cast<size_t>(f.threads));
    std::vector<std::thread> writers;
    const auto segment_start = Clock::now();
    for (int t = 0; t < f.threads; ++t) {
      writers.emplace_back([&, t] {
        std::mt19937_64 rng(target * 131 + static_cast<uint64_t>(t));
        BigSamples& mine = samples[static_cast<size_t>(t)];
        for (;;) {
          const uint64_t n = claimed.fetch_add(1);
          if (n >= target) return;
          proj::Command c =
              n < f.big_entities
                  ? AnnouncementCommand(proj::CommandType::kCreateAnnouncement,
                                        "", n)
                  : AnnouncementCommand(proj::CommandType::kUpdateAnnouncement,
                                        entities.Pick(rng).id.data(), n);
          const auto t0 = Clock::now();
          auto r = projector.ExecuteSync(tenant, std::move(c));
          const auto t1 = Clock::now();
          if (!r || r->last.value() == 0) {
            std::fprintf(stderr, "big_tenant append: %s\n",
                         r ? "no event" : r.error().ToString().c_str());
            std::exit(1);
          }
          mine.Add(t1,
                   std::chrono::duration<double, std::micro>(t1 - t0).count());
          if (n < f.big_entities) entities.Add(r->entity->id, r->last);
        }
      });
    }
    for (auto& w : writers) w.join();
    claimed = target;  // each writer took one claim past the end
    const auto segment_end = Clock::now();
    const auto window_start =
        std::max(segment_start,
                 segment_end - std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(f.seconds)));
    std::vector<double> append_us;
    for (const BigSamples& s : samples) {
      for (const BigSamples::Sample& x : s.ring) {
        if (x.end >= window_start) append_us.push_back(x.latency_us);
      }
    }
    const double window_s =
        std::chrono::duration<double>(segment_end - window_start).count();

    auto head = region.log->GetHead(tenant);
    if (!head || head->seq.value() != target) {
      std::fprintf(stderr, "big_tenant: the log is not at %llu\n",
                   static_cast<unsigned long long>(target));
      std::exit(1);
    }
    const siteledger::Sequence now = head->seq;

    // Reads, one at a time, of random entities.
    std::mt19937_64 rng(target);
    auto latencies = [](std::vector<Recorder>& r) { return r[0].latencies_us; };
    std::vector<Recorder> view;
    RunTimed(1, f.seconds, view, [&](int, uint64_t) -> uint64_t {
      const proj::ViewKey key{proj::ViewKind::kAnnouncement,
                              entities.Pick(rng).id.data()};
      auto v = projector.GetStored(tenant, key);
      if (!v || *v == nullptr) {
        std::fprintf(stderr, "big_tenant view read failed\n");
        std::exit(1);
      }
      return 1;
    });
    std::vector<Recorder> list;
    RunTimed(1, f.seconds, list, [&](int, uint64_t) -> uint64_t {
      auto page = projector.List(tenant, proj::ViewKind::kAnnouncement,
                                 entities.Pick(rng).id.data(), 50);
      if (!page) {
        std::fprintf(stderr, "big_tenant list: %s\n",
                     page.error().ToString().c_str());
        std::exit(1);
      }
      return 1;
    });
    std::vector<Recorder> as_of;
    RunTimed(1, f.seconds, as_of, [&](int, uint64_t) -> uint64_t {
      const BigEntities::Entity e = entities.Pick(rng);
      const uint64_t span = now.value() - e.created.value() + 1;
      const siteledger::Sequence seq(e.created.value() + rng() % span);
      auto doc = AsOfRead(projector, tenant,
                          {proj::ViewKind::kAnnouncement, e.id.data()}, seq);
      if (!doc || !doc->has_value()) {
        std::fprintf(stderr, "big_tenant as-of read failed\n");
        std::exit(1);
      }
      return 1;
    });

    std::printf(
        "%9llu %8zu %10.0f %9.4f %9.4f %9.4f %9.4f %9.4f %6zu %8.0f %8.0f\n",
        static_cast<unsigned long long>(target), entities.size(),
        static_cast<double>(append_us.size()) / window_s,
        Percentile(append_us, 0.99) / 1000,
        Percentile(latencies(view), 0.99) / 1000,
        Percentile(latencies(list), 0.99) / 1000,
        Percentile(latencies(as_of), 0.50) / 1000,
        Percentile(latencies(as_of), 0.99) / 1000, as_of[0].latencies_us.size(),
        RssMiB(), DirMiB(f.db));
    std::fflush(stdout);
  }
  // The issue's comparison: the big tenant against a new one of 1,000
  // announcements, in the same run, with the same operations (creates,
  // updates, reads), alternated over three rounds.
  auto fresh_install =
      region.registry->Install({"bench-fresh", "https://b.example", "secret"});
  if (!fresh_install) std::exit(1);
  const siteledger::TenantId fresh = fresh_install->record.id;
  BigEntities fresh_entities;
  for (uint64_t n = 0; n < 1000; ++n) {
    auto r = projector.ExecuteSync(
        fresh,
        AnnouncementCommand(proj::CommandType::kCreateAnnouncement, "", n));
    if (!r) std::exit(1);
    fresh_entities.Add(r->entity->id, r->last);
  }
  struct Figures {
    double create_rate, create_p99, update_rate, update_p99, view_p99, list_p99,
        asof_p99;
  };
  auto measure = [&](siteledger::TenantId t, BigEntities& ents, uint64_t salt) {
    Figures out{};
    std::atomic<uint64_t> serial{salt * 1000000000ULL};
    auto appends = [&](proj::CommandType type, double* rate, double* p99) {
      std::vector<Recorder> recs;
      const double elapsed =
          RunTimed(f.threads, f.seconds / 2, recs, [&](int w, uint64_t i) {
            std::mt19937_64 rng(salt * 7919 + static_cast<uint64_t>(w) * 31 +
                                i);
            const uint64_t n = serial.fetch_add(1);
            auto r = projector.ExecuteSync(
                t,
                type == proj::CommandType::kCreateAnnouncement
                    ? AnnouncementCommand(type, "", n)
                    : AnnouncementCommand(type, ents.Pick(rng).id.data(), n));
            if (!r) std::exit(1);
            return uint64_t{1};
          });
      std::vector<double> all;
      uint64_t events = 0;
      for (const Recorder& r : recs) {
        all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
        events += r.events;
      }
      *rate = static_cast<double>(events) / elapsed;
      *p99 = Percentile(all, 0.99) / 1000;
    };
    appends(proj::CommandType::kCreateAnnouncement, &out.create_rate,
            &out.create_p99);
    appends(proj::CommandType::kUpdateAnnouncement, &out.update_rate,
            &out.update_p99);
    auto head = region.log->GetHead(t);
    if (!head) std::exit(1);
    std::mt19937_64 rng(salt);
    std::vector<Recorder> recs;
    RunTimed(1, f.seconds / 2, recs, [&](int, uint64_t) -> uint64_t {
      auto v = projector.GetStored(
          t, {proj::ViewKind::kAnnouncement, ents.Pick(rng).id.data()});
      if (!v || *v == nullptr) std::exit(1);
      return 1;
    });
    out.view_p99 = Percentile(recs[0].latencies_us, 0.99) / 1000;
    RunTimed(1, f.seconds / 2, recs, [&](int, uint64_t) -> uint64_t {
      auto page = projector.List(t, proj::ViewKind::kAnnouncement,
                                 ents.Pick(rng).id.data(), 50);
      if (!page) std::exit(1);
      return 1;
    });
    out.list_p99 = Percentile(recs[0].latencies_us, 0.99) / 1000;
    RunTimed(1, f.seconds / 2, recs, [&](int, uint64_t) -> uint64_t {
      const BigEntities::Entity e = ents.Pick(rng);
      const uint64_t span = head->seq.value() - e.created.value() + 1;
      auto doc =
          AsOfRead(projector, t, {proj::ViewKind::kAnnouncement, e.id.data()},
                   siteledger::Sequence(e.created.value() + rng() % span));
      if (!doc || !doc->has_value()) std::exit(1);
      return 1;
    });
    out.asof_p99 = Percentile(recs[0].latencies_us, 0.99) / 1000;
    return out;
  };
  std::vector<Figures> big_rounds, fresh_rounds;
  for (uint64_t round = 0; round < 3; ++round) {
    big_rounds.push_back(measure(tenant, entities, 2 * round + 1));
    fresh_rounds.push_back(measure(fresh, fresh_entities, 2 * round + 2));
  }
  auto median = [](std::vector<Figures>& rounds, double Figures::*field) {
    std::vector<double> v;
    for (const Figures& r : rounds) v.push_back(r.*field);
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf(
      "big_tenant vs a new tenant, same run, medians of 3 alternated rounds "
      "(big / new):\n");
  for (const auto& [name, field] :
       std::initializer_list<std::pair<const char*, double Figures::*>>{
           {"create/s", &Figures::create_rate},
           {"create p99 ms", &Figures::create_p99},
           {"update/s", &Figures::update_rate},
           {"update p99 ms", &Figures::update_p99},
           {"view p99 ms", &Figures::view_p99},
           {"list p99 ms", &Figures::list_p99},
           {"as-of p99 ms", &Figures::asof_p99}}) {
    const double big = median(big_rounds, field);
    const double small = median(fresh_rounds, field);
    std::printf("  %-14s %10.4f %10.4f  ratio %.2f\n", name, big, small,
                small > 0 ? big / small : 0.0);
  }
  const auto end = Clock::now();
  std::printf(
      "big_tenant: %.1f s in all; RSS %.0f MiB\n"
      "  (ms; append/s and app p99 over the last %.1f s of writes before "
      "each row; asofs: as-of reads made)\n",
      std::chrono::duration<double>(end - run_start).count(), RssMiB(),
      f.seconds);
}

constexpr char kBenchClient[] = "bench-client";
constexpr char kBenchSecret[] = "bench-secret-0123456789abcdef0123456789";

std::string BenchToken(const std::string& method, const std::string& path,
                       const std::string& query = "") {
  siteledger::projections::Json claims =
      siteledger::projections::Json::MakeObject();
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  claims.Set("iss", kBenchClient);
  claims.Set("iat", now);
  claims.Set("exp", now + 3600);
  claims.Set("sub", "5b10ac8d82e05b22cc7d4ef5");
  claims.Set("qsh", siteledger::server::QueryStringHash(method, path, query));
  return siteledger::server::SignHs256(claims, kBenchSecret);
}

size_t CurlSink(char* data, size_t size, size_t n, void* user) {
  auto* total = static_cast<size_t*>(user);
  *total += size * n;
  (void)data;
  return size * n;
}

// One HTTP request with libcurl on a reused handle; returns the status.
long CurlRequest(CURL* c, const std::string& method, const std::string& url,
                 const std::string& auth, const std::string* body,
                 size_t* received) {
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &CurlSink);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, received);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("Authorization: JWT " + auth).c_str());
  headers = curl_slist_append(headers, "Expect:");
  if (body != nullptr) {
    headers = curl_slist_append(headers, "Content-Type: image/png");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(body->size()));
  } else {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  const CURLcode code = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  return code == CURLE_OK ? status : -1;
}

// A 1 MiB "PNG": a real PNG header, then bytes unique to (thread, n).
std::string BenchImage(int thread, uint64_t n) {
  std::string img = "\x89PNG\r\n\x1a\n";
  img += std::string("\0\0\0\x0dIHDR\0\0\x04\0\0\0\x04\0\x08\x06\0\0\0", 25);
  std::mt19937_64 rng(static_cast<uint64_t>(thread) * 1'000'003 + n);
  while (img.size() < (1 << 20)) {
    const uint64_t v = rng();
    img.append(reinterpret_cast<const char*>(&v), 8);
  }
  img.resize(1 << 20);
  return img;
}

void DiskBaseline(const Flags& f) {
  std::filesystem::create_directories(f.db);
  const auto path = f.db / "disk-baseline";
  std::string block(1 << 20, 'd');
  // 1 MiB, fdatasync, repeated: what one synced upload costs the disk.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<Recorder> synced(1);
  auto start = Clock::now();
  while (Clock::now() - start < std::chrono::duration<double>(f.seconds)) {
    const auto t0 = Clock::now();
    if (::write(fd, block.data(), block.size()) < 0 || ::fdatasync(fd) != 0) {
      std::exit(1);
    }
    synced[0].latencies_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    synced[0].events += 1;
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  std::printf(
      "%-18s : %10.1f MB/s; p50 %8.3f ms; p99 %8.3f ms (1 MiB writes, "
      "each fdatasync'd)\n",
      "disk_write_synced", synced[0].events / secs,
      [&] {
        auto v = synced[0].latencies_us;
        std::sort(v.begin(), v.end());
        return v.empty() ? 0 : v[v.size() / 2] / 1000;
      }(),
      [&] {
        auto v = synced[0].latencies_us;
        std::sort(v.begin(), v.end());
        return v.empty() ? 0 : v[v.size() * 99 / 100] / 1000;
      }());
  // 256 MiB then one fdatasync: the disk's sequential bandwidth.
  fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  start = Clock::now();
  for (int i = 0; i < 256; ++i) {
    if (::write(fd, block.data(), block.size()) < 0) std::exit(1);
  }
  ::fdatasync(fd);
  secs = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  std::filesystem::remove(path);
  std::printf("%-18s : %10.1f MB/s (256 MiB, one fdatasync)\n",
              "disk_write_bulk", 256 / secs);
}

void HttpMedia(const Flags& f) {
  if (f.server.empty()) {
    std::fprintf(stderr, "http_media needs --server\n");
    std::exit(2);
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const std::string upload_token =
      BenchToken("POST", "/api/v1/media", "kind=layout-image");
  std::mutex ids_mu;
  std::vector<std::string> ids;
  std::vector<Recorder> up;
  double up_s =
      RunTimed(f.threads, f.seconds, up, [&](int t, uint64_t i) -> uint64_t {
        thread_local CURL* c = curl_easy_init();
        const std::string img = BenchImage(t, i);
        size_t received = 0;
        const long status =
            CurlRequest(c, "POST", f.server + "/api/v1/media?kind=layout-image",
                        upload_token, &img, &received);
        if (status != 201) {
          std::fprintf(stderr, "upload answered %ld\n", status);
          std::exit(1);
        }
        std::lock_guard lock(ids_mu);
        ids.push_back(siteledger::projections::MediaId(img));
        return 1;
      });
  std::vector<double> up_lat;
  for (auto& r : up)
    up_lat.insert(up_lat.end(), r.latencies_us.begin(), r.latencies_us.end());
  std::sort(up_lat.begin(), up_lat.end());
  uint64_t uploads = 0;
  for (auto& r : up) uploads += r.events;
  std::printf(
      "%-18s : %10.1f MB/s; p50 %8.3f ms; p99 %8.3f ms; %llu images "
      "of 1 MiB, %d clients\n",
      "http_media_upload", uploads / up_s, up_lat[up_lat.size() / 2] / 1000,
      up_lat[up_lat.size() * 99 / 100] / 1000,
      static_cast<unsigned long long>(uploads), f.threads);

  std::vector<std::string> tokens;
  for (const auto& id : ids)
    tokens.push_back(BenchToken("GET", "/api/v1/media/" + id));
  std::vector<Recorder> down;
  std::atomic<size_t> bytes{0};
  double down_s =
      RunTimed(f.threads, f.seconds, down, [&](int t, uint64_t i) -> uint64_t {
        thread_local CURL* c = curl_easy_init();
        const size_t k = (static_cast<size_t>(t) * 7919 + i) % ids.size();
        size_t received = 0;
        const long status =
            CurlRequest(c, "GET", f.server + "/api/v1/media/" + ids[k],
                        tokens[k], nullptr, &received);
        if (status != 200 || received != (1 << 20)) {
          std::fprintf(stderr, "download answered %ld (%zu bytes)\n", status,
                       received);
          std::exit(1);
        }
        bytes += received;
        return 1;
      });
  std::vector<double> down_lat;
  for (auto& r : down)
    down_lat.insert(down_lat.end(), r.latencies_us.begin(),
                    r.latencies_us.end());
  std::sort(down_lat.begin(), down_lat.end());
  std::printf("%-18s : %10.1f MB/s; p50 %8.3f ms; p99 %8.3f ms; %d clients\n",
              "http_media_download", bytes / down_s / (1 << 20),
              down_lat[down_lat.size() / 2] / 1000,
              down_lat[down_lat.size() * 99 / 100] / 1000, f.threads);
  DiskBaseline(f);
}

// Prepares a region for the HTTP workloads and prints, one per line:
//   site=<id>
//   read_token=<JWT for GET /api/v1/sites/<id>>
//   append_token=<JWT for PUT /api/v1/sites/<id>/navigation>
//   any_token=<JWT with qsh "context-qsh": any /api/v1 request>
void HttpSetup(const Flags& f) {
  siteledger::SystemClock clock;
  sl::StoreOptions options;
  options.data = f.db;
  options.clock = &clock;
  auto store = sl::Store::Open(options);
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.error().ToString().c_str());
    std::exit(1);
  }
  const std::string secret = "bench-secret-0123456789abcdef0123456789";
  auto installed = (*store)->registry().Install(
      {"bench-client", "https://bench.example", secret});
  if (!installed) std::exit(1);
  siteledger::projections::Projector projector((*store)->log(), clock);
  siteledger::projections::Command create;
  create.type = siteledger::projections::CommandType::kCreateSite;
  create.body = *siteledger::projections::ParseJson(R"({"name":"Bench site"})");
  auto site = projector.ExecuteSync(installed->record.id, create);
  if (!site) std::exit(1);
  const std::string id = site->entity->id;
  auto token = [&](const std::string& qsh) {
    siteledger::projections::Json claims =
        siteledger::projections::Json::MakeObject();
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    claims.Set("iss", "bench-client");
    claims.Set("iat", now);
    claims.Set("exp", now + 3600);
    claims.Set("sub", "5b10ac8d82e05b22cc7d4ef5");
    claims.Set("qsh", qsh);
    return siteledger::server::SignHs256(claims, secret);
  };
  using siteledger::server::QueryStringHash;
  std::printf("site=%s\n", id.c_str());
  std::printf("read_token=%s\n",
              token(QueryStringHash("GET", "/api/v1/sites/" + id, "")).c_str());
  std::printf(
      "append_token=%s\n",
      token(QueryStringHash("PUT", "/api/v1/sites/" + id + "/navigation", ""))
          .c_str());
  std::printf("any_token=%s\n", token("context-qsh").c_str());
}

// ----- migrate -----------------------------------------------------------

// A loopback port free right now: the two regions must know each other's
// address before either starts.
uint16_t FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::fprintf(stderr, "migrate: no free loopback port\n");
    std::exit(1);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// One siteledgerd process, its stderr (the JSON log) in `log`. Stopped
// (SIGTERM, then SIGKILL after 10 s) when destroyed.
class Daemon {
 public:
  Daemon(const std::filesystem::path& binary, std::vector<std::string> args,
         std::filesystem::path log)
      : log_(std::move(log)) {
    args.insert(args.begin(), binary.string());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(),
                      environ) != 0) {
      std::fprintf(stderr, "migrate: cannot start %s\n", binary.c_str());
      std::exit(1);
    }
    posix_spawn_file_actions_destroy(&actions);
    // Serving once the log says so (2 minutes at most).
    for (int i = 0; i < 12000; ++i) {
      if (Log().find("\"msg\":\"serving\"") != std::string::npos) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::fprintf(stderr, "migrate: siteledgerd did not start:\n%s\n",
                 Log().c_str());
    std::exit(1);
  }
  ~Daemon() {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 1000; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // The CPU time (user and system, all threads) the process has used.
  double CpuSeconds() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    // Fields 14 and 15 (utime, stime), counted after the ")" ending field 2.
    std::stringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string skip;
    for (int i = 3; i < 14; ++i) fields >> skip;
    double utime = 0, stime = 0;
    fields >> utime >> stime;
    return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = 0;
};

struct HttpAnswer {
  long status = -1;  // -1: no answer (connection refused, timeout)
  std::string body;
  std::string location;  // of a redirect
};

size_t CurlAppend(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// One request with a JSON body (none when empty) and a bench-client token
// signed for it, on a reused handle (its connection kept alive). Redirects
// are returned, not followed.
HttpAnswer JsonRequest(CURL* c, const std::string& method,
                       const std::string& base, const std::string& path,
                       const std::string& body) {
  HttpAnswer a;
  curl_easy_reset(c);
  const std::string url = base + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &CurlAppend);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
  curl_slist* headers = nullptr;
  // Only the administration page's token moves a site's data.
  const std::string token =
      path.starts_with("/api/v1/residency/migration") ||
              path.starts_with("/api/v1/residency/rollback")
          ? siteledger::server::AdminPageToken(
                kBenchClient, "5b10ac8d82e05b22cc7d4ef5", kBenchSecret,
                std::chrono::time_point_cast<siteledger::Timestamp::duration>(
                    std::chrono::system_clock::now()))
          : BenchToken(method, path);
  headers = curl_slist_append(headers, ("Authorization: JWT " + token).c_str());
  headers = curl_slist_append(headers, "Expect:");
  if (!body.empty()) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (curl_easy_perform(c) == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
    char* location = nullptr;
    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location);
    if (location != nullptr) a.location = location;
  }
  curl_slist_free_all(headers);
  return a;
}

// scheme://host:port of a URL.
std::string OriginOf(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t path =
      url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return path == std::string::npos ? url : url.substr(0, path);
}

// Makes `dir` a US region folder (dir/us and dir/master-us.key) holding the
// bench client's tenant with `n` mixed events and their views. The events
// go in appends of 1,000, then Projector::Rebuild writes the views and
// versions once: the state the projector leaves after one command per
// event, in seconds instead of the ~20 minutes 1M synced creates over HTTP
// take on two cores.
void SeedMigrateTenant(const std::filesystem::path& dir, uint64_t n) {
  Region region(dir);
  auto installed = region.registry->Install(
      {kBenchClient, "https://bench.example", kBenchSecret});
  if (!installed) {
    std::fprintf(stderr, "install: %s\n", installed.error().ToString().c_str());
    std::exit(1);
  }
  const siteledger::TenantId tenant = installed->record.id;
  MixedEvents mixed;
  for (uint64_t done = 0; done < n; done += 1000) {
    std::vector<sl::NewEvent> events;
    for (uint64_t k = done; k < std::min(n, done + 1000); ++k) {
      events.push_back(mixed.Next(k));
    }
    if (!region.log->Append(tenant, std::nullopt, std::move(events))) {
      std::fprintf(stderr, "seeding failed\n");
      std::exit(1);
    }
  }
  siteledger::projections::Projector projector(*region.log, region.clock);
  if (siteledger::Status s = projector.Rebuild(tenant); !s.ok()) {
    std::fprintf(stderr, "rebuild: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  // The views are in the format of server/main.cc's kViewsFormat, which
  // otherwise has siteledgerd rebuild them all again at start.
  constexpr uint32_t kViewsFormat = 2;
  if (siteledger::Status s = region.registry->SetViewsFormat(kViewsFormat);
      !s.ok()) {
    std::fprintf(stderr, "views format: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  region.WaitQuiet();
}

// A client creating sites in the tenant one after another, as an app
// would: a 307 moves it to the region named (a new token for the new
// request), a 503 is retried after 1 ms.
class MigrateWriter {
 public:
  explicit MigrateWriter(std::string base) : base_(std::move(base)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~MigrateWriter() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Whether a write has been acknowledged since the last refusal by a
  // region other than the first.
  bool MovedAndWriting() const { return moved_and_writing_.load(); }

  uint64_t written = 0;
  uint64_t refused = 0;
  uint64_t redirects = 0;
  uint64_t unexpected = 0;
  std::string last_unexpected;
  double longest_refusal_ms = 0;  // first 503 to the next 201
  double longest_gap_ms = 0;      // between two 201s

 private:
  void Run() {
    CURL* c = curl_easy_init();
    const std::string first = base_;
    // Zero: not refused since the last 201, no 201 yet.
    Clock::time_point refused_since{};
    Clock::time_point last_ok{};
    for (uint64_t n = 0; !stop_.load(); ++n) {
      const HttpAnswer a =
          JsonRequest(c, "POST", base_, "/api/v1/sites",
                      "{\"name\":\"w" + std::to_string(n) + "\"}");
      const auto now = Clock::now();
      auto ms = [&](Clock::time_point since) {
        return std::chrono::duration<double, std::milli>(now - since).count();
      };
      if (a.status == 201) {
        ++written;
        if (refused_since != Clock::time_point{}) {
          longest_refusal_ms = std::max(longest_refusal_ms, ms(refused_since));
          refused_since = {};
        }
        if (last_ok != Clock::time_point{}) {
          longest_gap_ms = std::max(longest_gap_ms, ms(last_ok));
        }
        last_ok = now;
        if (base_ != first) moved_and_writing_ = true;
      } else if (a.status == 307 && !a.location.empty()) {
        ++redirects;
        base_ = OriginOf(a.location);
      } else if (a.status == 503) {
        ++refused;
        if (refused_since == Clock::time_point{}) refused_since = now;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      } else {
        ++unexpected;
        last_unexpected = std::to_string(a.status) + " " + a.body;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    curl_easy_cleanup(c);
  }

  std::string base_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> moved_and_writing_{false};
  std::thread thread_;
};

// The integer after "name": in a JSON log line; -1 if absent.
long long LogField(const std::string& line, const std::string& name) {
  const size_t at = line.find("\"" + name + "\":");
  if (at == std::string::npos) return -1;
  return std::strtoll(line.c_str() + at + name.size() + 3, nullptr, 10);
}

// The last line of `log` holding `msg`, and how many do.
std::pair<std::string, int> LastLogLine(const std::string& log,
                                        const std::string& msg) {
  std::stringstream in(log);
  std::string line, last;
  int count = 0;
  while (std::getline(in, line)) {
    if (line.find("\"msg\":\"" + msg + "\"") == std::string::npos) continue;
    last = line;
    ++count;
  }
  return {last, count};
}

struct MigrateResult {
  double total_s = 0;
  uint64_t moved = 0;  // the log's head when the EU became home
  long long lock_ms = 0, drain_ms = 0, tail_ms = 0, commit_ms = 0;
  int cutovers = 0;                   // attempts (one unless a drain timed out)
  double us_cpu_s = 0, eu_cpu_s = 0;  // used by each process meanwhile
  double writer_503_ms = 0;
  double writer_gap_ms = 0;
  uint64_t written = 0, refused = 0;
};

// One migration of a copy of `seed` from a new us process to a new eu one.
MigrateResult MigrateOnce(const Flags& f, const std::filesystem::path& binary,
                          const std::filesystem::path& seed) {
  namespace fs = std::filesystem;
  const fs::path run = f.db / "run";
  fs::remove_all(run);
  fs::copy(seed, run, fs::copy_options::recursive);
  const fs::path secret = f.db / "peer.secret";
  {
    std::ofstream out(secret);
    out << "bench-peer-secret-0123456789abcdef0123456789abcdef\n";
  }
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
  const uint16_t us_port = FreeLoopbackPort();
  const uint16_t eu_port = FreeLoopbackPort();
  auto flags = [&](const std::string& region, uint16_t port,
                   const std::string& peer, uint16_t peer_port) {
    return std::vector<std::string>{
        "--listen",
        "127.0.0.1:" + std::to_string(port),
        "--region",
        region,
        "--data",
        (run / region).string(),
        "--peer",
        peer + "=http://127.0.0.1:" + std::to_string(peer_port),
        "--peer-secret-file",
        secret.string()};
  };
  Daemon us(binary, flags("us", us_port, "eu", eu_port), run / "us.log");
  Daemon eu(binary, flags("eu", eu_port, "us", us_port), run / "eu.log");
  const std::string us_url = "http://127.0.0.1:" + std::to_string(us_port);

  MigrateResult r;
  MigrateWriter writer(us_url);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CURL* c = curl_easy_init();
  const double us_cpu = us.CpuSeconds();
  const double eu_cpu = eu.CpuSeconds();
  const auto start = Clock::now();
  const HttpAnswer started = JsonRequest(
      c, "POST", us_url, "/api/v1/residency/migration", "{\"target\":\"eu\"}");
  if (started.status != 202) {
    std::fprintf(stderr, "migrate: the start answered %ld %s\n", started.status,
                 started.body.c_str());
    std::exit(1);
  }
  for (;;) {
    const HttpAnswer a = JsonRequest(c, "GET", us_url, "/api/v1/residency", "");
    if (a.status == 200 &&
        a.body.find("\"region\":\"eu\"") != std::string::npos)
      break;
    if (Clock::now() - start > std::chrono::minutes(30)) {
      std::fprintf(stderr, "migrate: not moved after 30 minutes: %s\n%s\n",
                   a.body.c_str(), us.Log().c_str());
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.total_s = std::chrono::duration<double>(Clock::now() - start).count();
  r.us_cpu_s = us.CpuSeconds() - us_cpu;
  r.eu_cpu_s = eu.CpuSeconds() - eu_cpu;
  curl_easy_cleanup(c);
  // The writer's refusals end with its first write in the EU.
  for (int i = 0; i < 1000 && !writer.MovedAndWriting(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  writer.Stop();
  if (!writer.MovedAndWriting() || writer.unexpected > 0) {
    std::fprintf(stderr,
                 "migrate: the writer did not move cleanly (%llu unexpected "
                 "answers; last %s)\n",
                 static_cast<unsigned long long>(writer.unexpected),
                 writer.last_unexpected.c_str());
    std::exit(1);
  }
  r.writer_503_ms = writer.longest_refusal_ms;
  r.writer_gap_ms = writer.longest_gap_ms;
  r.written = writer.written;
  r.refused = writer.refused;
  const std::string log = us.Log();
  const auto [cutover, cutovers] = LastLogLine(log, "residency cutover");
  const auto [done, dones] = LastLogLine(log, "residency migration done");
  if (cutover.empty() || done.empty()) {
    std::fprintf(stderr, "migrate: no cutover in the US log:\n%s\n",
                 log.c_str());
    std::exit(1);
  }
  r.cutovers = cutovers;
  r.lock_ms = LogField(cutover, "lock_ms");
  r.drain_ms = LogField(cutover, "drain_ms");
  r.tail_ms = LogField(cutover, "tail_ms");
  r.commit_ms = LogField(cutover, "commit_ms");
  r.moved = static_cast<uint64_t>(std::max(0LL, LogField(done, "seq")));
  return r;
}

std::filesystem::path SiteledgerdBinary(const Flags& f) {
  if (!f.siteledgerd.empty()) return f.siteledgerd;
  // Beside this binary in the build tree: build/<type>/server/siteledgerd.
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return self.parent_path().parent_path() / "server" / "siteledgerd";
}

// The median (of an even count, the mean of the middle two).
double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// CPU seconds the threads named `name` have used so far (utime + stime
// from /proc): what one stage of a pipeline costs, apart from its waits.
double ThreadCpuSeconds(std::string_view name) {
  double ticks = 0;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string n;
    std::getline(comm, n);
    if (n != name) continue;
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // After the ")" closing the name: state, then fields 4..; utime and
    // stime are fields 14 and 15.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i >= 14) ticks += std::stod(field);
    }
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds the whole process has used so far.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// --- append_index: what the event index costs concurrent appends ---

// The server's write path (Projector::ExecuteSync, one synced append per
// command) from --threads writers across --tenants tenants, through two
// projectors on the same region: one writing the event index in each
// append's batch, one not (Projector::Options::event_index). Each has its
// own tenants, so neither waits on the other's sessions. Rounds of
// --seconds alternate (on off, off on, on off) so drift in the disk
// falls on both; the medians and the cost, 1 - on/off.
void AppendIndex(const Flags& f) {
  Region region(f.db);
  auto ids = region.MakeTenants(2 * f.tenants);
  proj::Projector::Options on_options;
  on_options.event_index = true;
  proj::Projector::Options off_options;
  off_options.event_index = false;
  proj::Projector on(*region.log, region.clock, on_options);
  proj::Projector off(*region.log, region.clock, off_options);
  std::atomic<uint64_t> serial{0};

  // One side's rounds.
  struct Side {
    const char* name;
    proj::Projector* projector;
    std::vector<siteledger::TenantId> tenants;
    std::vector<double> rate, p99_ms, cpu_us, commit_us, group;
  };
  Side sides[2] = {
      {"on", &on, {ids.begin(), ids.begin() + f.tenants}, {}, {}, {}, {}, {}},
      {"off", &off, {ids.begin() + f.tenants, ids.end()}, {}, {}, {}, {}, {}}};

  // One round: announcements created by 20 account ids, as a site's
  // editors would make them. Records events/s, p99, the process's CPU per
  // event, the commit thread's CPU per event and appends per synced write.
  auto round = [&](Side& side, double seconds, bool record) {
    std::vector<Recorder> recs;
    const double cpu_before = ProcessCpuSeconds();
    const double commit_before = ThreadCpuSeconds("sl-commit");
    const auto stats_before = region.log->stats();
    const double elapsed =
        RunTimed(f.threads, seconds, recs, [&](int t, uint64_t) -> uint64_t {
          thread_local std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 +
                                           11);
          const uint64_t n = serial.fetch_add(1);
          proj::Command c = AnnouncementCommand(
              proj::CommandType::kCreateAnnouncement, "", n);
          c.actor = "557058:bench-user-" + std::to_string(rng() % 20);
          auto r = side.projector->ExecuteSync(
              side.tenants[rng() % side.tenants.size()], std::move(c));
          if (!r || r->last.value() == 0) {
            std::fprintf(stderr, "append_index: %s\n",
                         r ? "no event" : r.error().ToString().c_str());
            std::exit(1);
          }
          return 1;
        });
    if (!record) return;
    const auto stats_after = region.log->stats();
    uint64_t events = 0;
    std::vector<double> all;
    for (const Recorder& r : recs) {
      events += r.events;
      all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
    }
    const double per_event =
        1e6 / static_cast<double>(std::max<uint64_t>(events, 1));
    side.rate.push_back(static_cast<double>(events) / elapsed);
    side.p99_ms.push_back(Percentile(all, 0.99) / 1000);
    side.cpu_us.push_back((ProcessCpuSeconds() - cpu_before) * per_event);
    side.commit_us.push_back((ThreadCpuSeconds("sl-commit") - commit_before) *
                             per_event);
    const double groups =
        static_cast<double>(stats_after.groups - stats_before.groups);
    side.group.push_back(groups > 0
                             ? static_cast<double>(stats_after.requests -
                                                   stats_before.requests) /
                                   groups
                             : 0);
  };

  // Warm-up: every tenant's session and pseudonyms, on both sides.
  round(sides[0], 1, false);
  round(sides[1], 1, false);
  region.WaitQuiet();

  // The cost of each pair of neighbouring rounds: drift in the machine
  // (other tenants of the host, the region's compactions) falls on both.
  std::vector<double> pair_cost;
  const int pairs = f.index_pairs;
  for (int pair = 0; pair < pairs; ++pair) {
    const int first = pair % 2;  // on off, off on, on off
    round(sides[first], f.seconds, true);
    round(sides[1 - first], f.seconds, true);
    pair_cost.push_back(1 - sides[0].rate.back() / sides[1].rate.back());
    for (const Side& s : sides) {
      std::printf(
          "%-18s   round %d, index %-3s: %6.0f events/s, p99 %6.2f ms, CPU "
          "%5.1f us/event (commit thread %5.1f), %4.1f appends per synced "
          "write\n",
          "append_index", pair + 1, s.name, s.rate.back(), s.p99_ms.back(),
          s.cpu_us.back(), s.commit_us.back(), s.group.back());
    }
    std::fflush(stdout);
  }
  const Side& a = sides[0];
  const Side& b = sides[1];
  std::printf(
      "%-18s : index on %6.0f events/s, off %6.0f events/s (medians); "
      "cost %.1f%% (median of %d pairs of alternated %.1f s rounds); CPU "
      "per event on %.1f us, off %.1f us (+%.1f%%); p99 on %.2f ms, off "
      "%.2f ms; %d writers, %d tenants each\n",
      "append_index", Median(a.rate), Median(b.rate), 100 * Median(pair_cost),
      pairs, f.seconds, Median(a.cpu_us), Median(b.cpu_us),
      100 * (Median(a.cpu_us) / Median(b.cpu_us) - 1), Median(a.p99_ms),
      Median(b.p99_ms), f.threads, f.tenants);
  std::fflush(stdout);
}

// --- purge: a big tenant's data erased while other tenants write ---

void Purge(const Flags& f) {
  Region region(f.db);
  const auto seed_start = Clock::now();
  const siteledger::TenantId doomed = Populate(region, f.purge_events);
  // Populate's tenant is "bench-0": the others are the next 100.
  auto others = region.MakeTenants(101);
  others.erase(others.begin());
  siteledger::projections::Projector projector(*region.log, region.clock);
  if (siteledger::Status s = projector.Rebuild(doomed); !s.ok()) {
    std::fprintf(stderr, "purge: folding: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  region.WaitQuiet();
  std::printf("%-18s : seeded %llu events with views in %.1f s; %.0f MiB\n",
              "purge", static_cast<unsigned long long>(f.purge_events),
              std::chrono::duration<double>(Clock::now() - seed_start).count(),
              DirMiB(f.db));
  std::fflush(stdout);
  // Other tenants' requests: one synced append each, as a create would be.
  auto append = [&](int t, uint64_t i) -> uint64_t {
    thread_local std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 3);
    const siteledger::TenantId tenant = others[rng() % others.size()];
    std::vector<sl::NewEvent> events;
    events.push_back({"bench.event", "p-bench", Payload(f.value_size, i)});
    if (auto r = region.log->Append(tenant, std::nullopt, std::move(events));
        !r) {
      std::fprintf(stderr, "append: %s\n", r.error().ToString().c_str());
      std::exit(1);
    }
    return 1;
  };
  std::vector<Recorder> alone;
  const double alone_s = RunTimed(f.threads, f.seconds, alone, append);
  std::vector<Recorder> during;
  siteledger::Result<sl::PurgeReceipt> receipt =
      siteledger::Err(siteledger::Status::Internal("not run"));
  double purge_s = 0;
  const double during_s = RunUntil(f.threads, during, append, [&] {
    const auto t0 = Clock::now();
    receipt = region.store->PurgeTenant(doomed);
    purge_s = std::chrono::duration<double>(Clock::now() - t0).count();
  });
  if (!receipt) {
    std::fprintf(stderr, "purge: %s\n", receipt.error().ToString().c_str());
    std::exit(1);
  }
  auto p99 = [](std::vector<Recorder>& rs) {
    std::vector<double> all;
    for (auto& r : rs) {
      all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
    }
    return Percentile(std::move(all), 0.99) / 1000;
  };
  const double alone_p99 = p99(alone), during_p99 = p99(during);
  Report("purge_others_alone", alone, alone_s,
         std::to_string(f.threads) + " writers, 100 tenants, no purge");
  Report("purge_others_during", during, during_s,
         std::to_string(f.threads) + " writers while the purge ran");
  std::printf(
      "%-18s : %llu events (%llu views, %llu versions) purged in %.2f s, "
      "%.0f events/s; others' p99 %.2f ms during it vs %.2f ms alone "
      "(ratio %.2f)\n",
      "purge", static_cast<unsigned long long>(receipt->events.rows),
      static_cast<unsigned long long>(receipt->views.rows),
      static_cast<unsigned long long>(receipt->snapshots.rows), purge_s,
      static_cast<double>(receipt->events.rows) / purge_s, during_p99,
      alone_p99, alone_p99 > 0 ? during_p99 / alone_p99 : 0.0);
  std::fflush(stdout);
}

void Migrate(const Flags& f) {
  const std::filesystem::path binary = SiteledgerdBinary(f);
  if (::access(binary.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "migrate: no siteledgerd at %s (--siteledgerd)\n",
                 binary.c_str());
    std::exit(2);
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  for (const uint64_t n : f.migrate_events) {
    const std::filesystem::path seed = f.db / "seed";
    const auto seed_start = Clock::now();
    SeedMigrateTenant(seed, n);
    const std::string name = "migrate_" + std::to_string(n);
    std::printf(
        "%-18s : seeded %llu events in %.1f s; %.0f MiB\n", name.c_str(),
        static_cast<unsigned long long>(n),
        std::chrono::duration<double>(Clock::now() - seed_start).count(),
        DirMiB(seed));
    std::fflush(stdout);
    std::vector<double> total, rate, lock, writer_503;
    for (int run = 1; run <= f.migrate_runs; ++run) {
      const MigrateResult r = MigrateOnce(f, binary, seed);
      total.push_back(r.total_s);
      rate.push_back(static_cast<double>(r.moved) / r.total_s);
      lock.push_back(static_cast<double>(r.lock_ms));
      writer_503.push_back(r.writer_503_ms);
      std::printf(
          "%-18s   run %d: %.2f s, %llu events, %.0f events/s; lock %lld ms "
          "(drain %lld, tail %lld, commit %lld; %d "
          "cutover%s); writer: 503s for %.0f ms (%llu refused), longest gap "
          "%.0f ms, %llu writes; CPU us %.1f s, eu %.1f s\n",
          name.c_str(), run, r.total_s,
          static_cast<unsigned long long>(r.moved), rate.back(), r.lock_ms,
          r.drain_ms, r.tail_ms, r.commit_ms, r.cutovers,
          r.cutovers == 1 ? "" : "s", r.writer_503_ms,
          static_cast<unsigned long long>(r.refused), r.writer_gap_ms,
          static_cast<unsigned long long>(r.written), r.us_cpu_s, r.eu_cpu_s);
      std::fflush(stdout);
      std::filesystem::remove_all(f.db / "run");
    }
    // Few runs: medians and maxima (the p99 of fewer than 100 runs).
    auto max = [](const std::vector<double>& v) {
      return *std::max_element(v.begin(), v.end());
    };
    std::printf(
        "%-18s : %10.0f events/s; total median %.2f s, max %.2f s; lock "
        "median %.0f ms, max %.0f ms; writer 503s median %.0f ms, max %.0f "
        "ms; %d run%s\n",
        name.c_str(), Median(rate), Median(total), max(total), Median(lock),
        max(lock), Median(writer_503), max(writer_503), f.migrate_runs,
        f.migrate_runs == 1 ? "" : "s");
    std::fflush(stdout);
    std::filesystem::remove_all(seed);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  for (const std::string& b : f.benchmarks) {
    if (b == "append_one") {
      AppendWorkload(f, b, 1, 1, 1);
    } else if (b == "append_concurrent") {
      AppendWorkload(f, b, f.threads, f.tenants, 1);
    } else if (b == "append_batch") {
      AppendWorkload(f, b, 1, 1, 100);
    } else if (b == "rocksdb_put_sync") {
      RocksDbPutSync(f);
    } else if (b == "replay") {
      Replay(f);
    } else if (b == "rebuild") {
      Rebuild(f);
    } else if (b == "as_of") {
      AsOf(f);
    } else if (b == "audit") {
      Audit(f);
    } else if (b == "append_index") {
      AppendIndex(f);
    } else if (b == "big_tenant") {
      BigTenant(f);
    } else if (b == "migrate") {
      Migrate(f);
    } else if (b == "purge") {
      Purge(f);
    } else if (b == "http_media") {
      HttpMedia(f);
    } else if (b == "http_setup") {
      HttpSetup(f);
      return 0;  // keeps --db: the server runs on it next
    } else {
      std::fprintf(stderr, "unknown benchmark %s\n", b.c_str());
      return 2;
    }
  }
  std::filesystem::remove_all(f.db);
  return 0;
}
