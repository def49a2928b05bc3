// siteledger replay [--repair]: the stored views against a fold of the log,
// and the event index, and with --repair (offline only) a rebuild of both
// from the log.

#include <cstdio>
#include <string>
#include <vector>

#include "projections/projector.h"
#include "tools/flags.h"
#include "tools/offline.h"
#include "tools/offline_commands.h"
#include "tools/progress.h"

namespace siteledger::tools {

const char kReplayUsage[] =
    "siteledger replay [--data DIR] [--tenant CLIENTKEY] [--repair] [region "
    "flags]";

const char kReplayHelp[] =
    R"(  Folds each tenant's log (or the named tenant's) from its first event and
  compares the result with the stored views and the event index (the
  bitmaps behind GET /api/v1/events?type=&actor=&entity= and siteledger
  audit): one line per tenant, ok or the views that differ (up to 20
  each) and the first bad index row.
  Without --repair: read-only, as verify (beside a running siteledgerd or
  on a stopped region); exit status 1 if any view differs.
  With --repair: OFFLINE ONLY (it writes; it refuses while siteledgerd
  holds the region): rebuilds each selected tenant's views, their
  versions and its event index from its log (Projector::Rebuild), then
  checks them again. First it reads the views, snapshots and index
  families whole with their checksums: one with a damaged file is
  dropped and created again empty, and every tenant is rebuilt (a damaged
  log is never rebuilt: restore it from a backup).
  Exit status 1 if a rebuild failed or the views still differ.
  Exit status: 0 all views match (or were repaired); 1 otherwise, or the
  region could not be opened; 2 a bad command line.
)";

std::string_view ReplayHelp() {
  static const std::string text =
      std::string(kReplayHelp) + "\n" + kRegionFlagsHelp;
  return text;
}

namespace {

constexpr size_t kMaxShown = 20;

// Prints the differences of one tenant; returns whether its views match.
bool Report(const storage::TenantRecord& rec, const ViewsCheck& check,
            const char* prefix) {
  if (check.ok()) {
    std::printf(
        "%sok       %s: %zu views and the event index match the log up to "
        "seq %llu\n",
        prefix, TenantName(rec).c_str(), check.views,
        static_cast<unsigned long long>(check.seq.value()));
    return true;
  }
  if (check.views_ok()) {
    std::printf("%sDIFFERS  %s: the event index differs from the log: %s\n",
                prefix, TenantName(rec).c_str(),
                IndexProblem(*check.index).c_str());
    return false;
  }
  if (check.index && !check.index->ok) {
    std::printf("%sDIFFERS  %s: the event index differs from the log: %s\n",
                prefix, TenantName(rec).c_str(),
                IndexProblem(*check.index).c_str());
  }
  std::printf(
      "%sDIFFERS  %s: %zu view(s) differ from a fold of the log up to seq "
      "%llu (stored digest %s, log's %s)\n",
      prefix, TenantName(rec).c_str(), check.total_differences,
      static_cast<unsigned long long>(check.seq.value()),
      HexOf(check.stored_digest).substr(0, 16).c_str(),
      HexOf(check.log_digest).substr(0, 16).c_str());
  for (const ViewDifference& d : check.differences) {
    std::printf("           %s: %s\n", d.view.c_str(), d.problem.c_str());
  }
  if (check.total_differences > check.differences.size()) {
    std::printf("           ... and %zu more\n",
                check.total_differences - check.differences.size());
  }
  return false;
}

}  // namespace

int Replay(const Invocation& in) {
  const Flags& f = in.flags;
  const bool repair = f.Has("repair");
  SystemClock clock;
  std::unique_ptr<ReadOnlyRegion> read_only;
  std::unique_ptr<storage::Store> writable;
  if (repair) {
    auto store = OpenOffline(f, clock, "replay --repair",
                             "run replay without --repair (read-only)");
    if (!store) return OfflineFail(store.error().message(), 1);
    writable = std::move(*store);
  } else {
    auto region = OpenReadOnly(f, clock);
    if (!region) return OfflineFail(region.error().message(), 1);
    read_only = std::move(*region);
  }
  // A damaged file (a flipped byte in a table or blob file) in a derived
  // family: the family is dropped with its files and every tenant's views,
  // versions and event index are rebuilt from its log. A compaction over
  // the damaged block would fail, so the rows cannot be repaired in place.
  // A damaged log is reported and never rebuilt.
  bool every_tenant = false;
  if (repair) {
    using storage::Family;
    for (const auto& [family, name] :
         {std::pair{Family::kViews, "views"},
          std::pair{Family::kSnapshots, "snapshots"},
          std::pair{Family::kIndex, "index"}}) {
      const Status s = writable->VerifyFamily(family);
      if (s.ok()) continue;
      if (s.code() != StatusCode::kCorruption) {
        return OfflineFail(s.ToString(), 1);
      }
      std::printf("DAMAGED  the %s family: %s\n", name, s.ToString().c_str());
      if (Status r = writable->RecreateDerivedFamily(family); !r.ok()) {
        return OfflineFail("dropping the damaged " + std::string(name) +
                               " family failed: " + r.ToString(),
                           1);
      }
      std::printf(
          "dropped  the %s family (it is derived from the logs): every "
          "tenant's views, versions and event index are rebuilt\n",
          name);
      every_tenant = true;
    }
    if (every_tenant) {
      // A compaction that met the damaged block before the drop leaves the
      // database refusing every write (RocksDB's background error, which
      // only a reopen clears); reopening also deletes the dropped files.
      writable.reset();
      auto again = OpenOffline(f, clock, "replay --repair",
                               "run replay without --repair (read-only)");
      if (!again) return OfflineFail(again.error().message(), 1);
      writable = std::move(*again);
    }
  }
  storage::Store& store = repair ? *writable : *read_only->store;
  if (repair) {
    if (Status s = store.VerifyFamily(storage::Family::kEvents); !s.ok()) {
      std::printf(
          "DAMAGED  the log (events family): %s. A damaged log is never "
          "rebuilt: restore the tenants that fail below from a backup\n",
          s.ToString().c_str());
    }
    std::fflush(stdout);
  }
  auto tenants =
      SelectTenants(store, every_tenant ? std::string() : f.Get("tenant"));
  if (!tenants) return OfflineFail(tenants.error().message(), 1);

  projections::Projector projector(store.log(), store.clock());
  size_t matched = 0, differed = 0, repaired = 0, failed = 0, skipped = 0;
  Progress progress("replay", "tenants", tenants->size());
  for (size_t i = 0; i < tenants->size(); ++i) {
    const storage::TenantRecord& rec = (*tenants)[i];
    ClearProgressLine();
    if (auto why = NothingToCheck(rec)) {
      std::printf("skipped  %s: %s\n", TenantName(rec).c_str(), why->c_str());
      ++skipped;
      progress.Update(i + 1);
      continue;
    }
    auto check = CheckViews(projector, store.log(), rec, kMaxShown);
    projector.Forget(rec.id);
    if (!check) {
      if (check.error().code() == StatusCode::kNotFound) {
        std::printf("skipped  %s: %s\n", TenantName(rec).c_str(),
                    check.error().message().c_str());
        ++skipped;
      } else {
        std::printf("FAILED   %s: %s\n", TenantName(rec).c_str(),
                    check.error().ToString().c_str());
        ++failed;
      }
      progress.Update(i + 1);
      continue;
    }
    const bool ok = Report(rec, *check, "");
    if (ok) {
      ++matched;
    } else {
      ++differed;
    }
    // A copy still arriving is rebuilt by its migration, not here: its
    // views stand after the seq it folded, not the head.
    // Rebuilt even when the views match: a repair asked for is done (and
    // the versions, which the check compares only where a view is, are
    // rewritten too).
    if (repair && rec.residency.state != storage::ResidencyState::kIncoming) {
      // Rebuild writes the views, their versions and the event index.
      Status s = projector.Rebuild(rec.id);
      projector.Forget(rec.id);
      if (!s.ok()) {
        std::printf("FAILED   %s: the rebuild failed: %s\n",
                    TenantName(rec).c_str(), s.ToString().c_str());
        ++failed;
      } else {
        auto after = CheckViews(projector, store.log(), rec, kMaxShown);
        projector.Forget(rec.id);
        if (!after) {
          std::printf("FAILED   %s: rebuilt, but the check after failed: %s\n",
                      TenantName(rec).c_str(),
                      after.error().ToString().c_str());
          ++failed;
        } else if (Report(rec, *after, "rebuilt ")) {
          if (!ok) ++repaired;
        } else {
          ++failed;
        }
        if (Status a = AuditOffline(
                store, rec, "tool.views-rebuilt",
                after && after->ok() ? "ok" : "views still differ",
                "views and versions rebuilt from the log up to seq " +
                    std::to_string(check->seq.value()) + "; " +
                    std::to_string(check->total_differences) +
                    " view(s) differed before");
            !a.ok()) {
          std::printf(
              "FAILED   %s: recording the rebuild in the audit log: %s\n",
              TenantName(rec).c_str(), a.ToString().c_str());
          ++failed;
        }
      }
    }
    std::fflush(stdout);
    progress.Update(i + 1);
  }
  progress.Finish();
  std::printf(
      "replay: region %s, %zu tenant%s: %zu match, %zu differ%s, %zu failed, "
      "%zu skipped\n",
      store.options().region.c_str(), tenants->size(),
      tenants->size() == 1 ? "" : "s", matched, differed,
      repair ? (" (" + std::to_string(repaired) + " repaired)").c_str() : "",
      failed, skipped);
  if (failed > 0) return 1;
  if (differed > 0 && !repair) {
    std::fprintf(stderr,
                 "siteledger: views differ from the log. Stop siteledgerd and "
                 "run siteledger replay --repair to rebuild them.\n");
    return 1;
  }
  if (differed > repaired) return 1;
  return kOk;
}

}  // namespace siteledger::tools
