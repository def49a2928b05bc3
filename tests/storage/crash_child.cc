// Helper for crash_test: appends to the given tenants from several threads
// forever, writing "tenant first last counter" to stdout after each
// acknowledged append, until it is killed.
//
// Usage: crash_child DATA_DIR KEYS_DIR TENANT...

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "storage/base/clock.h"
#include "storage/event_log.h"
#include "storage/internal/database.h"
#include "storage/key_store.h"
#include "storage/master_key.h"

namespace sl = siteledger::storage;

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  siteledger::SystemClock clock;
  auto master = *sl::MasterKey::FromBytes(std::string(32, '\x42'));
  sl::internal::DatabaseOptions o;
  o.path = argv[1];
  o.clock = &clock;
  auto db = sl::internal::Database::Open(o);
  if (!db) {
    std::fprintf(stderr, "open: %s\n", db.error().ToString().c_str());
    return 3;
  }
  auto keys = sl::KeyStore::Open(argv[2], master);
  if (!keys) return 3;
  sl::EventLog log(**db, **keys, clock);
  std::vector<uint64_t> tenants;
  for (int i = 3; i < argc; ++i) tenants.push_back(std::stoull(argv[i]));

  std::vector<std::thread> threads;
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&, th] {
      for (uint64_t counter = 0;; ++counter) {
        const uint64_t tenant = tenants[(th + counter) % tenants.size()];
        const std::string tag =
            std::to_string(th) + "-" + std::to_string(counter);
        std::vector<sl::NewEvent> events;
        for (int k = 0; k < 1 + static_cast<int>(counter % 3); ++k) {
          events.push_back(
              {"crash.test", "p-1", tag + "-" + std::to_string(k)});
        }
        auto r = log.Append(siteledger::TenantId(tenant), std::nullopt,
                            std::move(events));
        if (!r) {
          std::fprintf(stderr, "append: %s\n", r.error().ToString().c_str());
          std::_Exit(4);
        }
        char line[128];
        const int n = std::snprintf(
            line, sizeof line, "%llu %llu %llu %s\n",
            static_cast<unsigned long long>(tenant),
            static_cast<unsigned long long>(r->first.value()),
            static_cast<unsigned long long>(r->last.value()), tag.c_str());
        // One write(2) of a short line to a pipe is atomic.
        if (::write(STDOUT_FILENO, line, static_cast<size_t>(n)) != n) {
          std::_Exit(5);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return 0;
}
