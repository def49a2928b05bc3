// siteledger verify: checks a region's data without changing it, through a
// read-only open that works beside a running siteledgerd.

#include <cstdio>
#include <string>
#include <vector>

#include "projections/json.h"
#include "projections/projector.h"
#include "storage/crypto.h"
#include "tools/flags.h"
#include "tools/offline.h"
#include "tools/offline_commands.h"
#include "tools/progress.h"

namespace siteledger::tools {

const char kVerifyUsage[] =
    "siteledger verify [--data DIR] [--tenant CLIENTKEY] [--json] [region "
    "flags]";

const char kVerifyHelp[] =
    R"(  Checks a region's data, read-only: for each tenant (or the one named),
  its hash chain (dense seqs, every envelope opens, every previous hash,
  the head), then its stored views against a fold of its log, then its
  media bytes (each reads, opens and hashes to its id), then the region's
  audit chain. One line per tenant (ok, or what is damaged and
  the first bad seq or view), then a summary; --json prints one JSON
  report instead.
  Read-only: opens the region read-only (beside a running siteledgerd, or
  a stopped region) and writes nothing to its data folder, key store or
  master key file. It sees the region as it was when it
  opened.
  Exit status: 0 all is well; 1 anything damaged, or the region could not
  be read; 2 a bad command line.
)";

std::string_view VerifyHelp() {
  static const std::string text =
      std::string(kVerifyHelp) + "\n" + kRegionFlagsHelp;
  return text;
}

namespace {

using projections::Json;

// The tenant's media bytes: every row reads (RocksDB's checksums, blob files
// included), opens (the seal) and hashes to the id it is kept under. The
// bytes are not in the log: a damaged row can be reported, not rebuilt.
struct MediaCheck {
  uint64_t rows = 0;
  std::string problem;  // empty when every row is whole
};

MediaCheck CheckMedia(const storage::EventLog& log, TenantId tenant) {
  MediaCheck check;
  auto it = log.NewRowIterator(tenant, storage::Family::kBlobs);
  if (!it) {
    check.problem = "could not be read: " + it.error().ToString();
    return check;
  }
  for ((*it)->Seek(""); (*it)->Valid(); (*it)->Next()) {
    ++check.rows;
    const Hash id = [&] {
      Hash h{};
      const std::string_view key = (*it)->key();
      std::copy_n(key.begin(), std::min(key.size(), h.size()), h.begin());
      return h;
    }();
    auto bytes = (*it)->value();
    if (!bytes) {
      check.problem =
          "media " + HexOf(id) + " does not open: " + bytes.error().ToString();
      return check;
    }
    if ((*it)->key().size() != id.size() || storage::Sha256(*bytes) != id) {
      check.problem = "media " + HexOf(id) + ": its bytes hash to another id";
      return check;
    }
  }
  if (Status s = (*it)->status(); !s.ok()) {
    check.problem = "could not be read after " + std::to_string(check.rows) +
                    " rows: " + s.ToString();
  }
  return check;
}

struct TenantResult {
  Json json = Json::MakeObject();
  bool ok = true;
  bool skipped = false;
};

// Checks one tenant: its chain, then its views.
TenantResult VerifyTenant(storage::Store& store,
                          projections::Projector& projector,
                          const storage::TenantRecord& rec) {
  TenantResult r;
  r.json.Set("tenant", rec.id.value());
  r.json.Set("clientKey", rec.client_key);
  if (auto why = NothingToCheck(rec)) {
    r.skipped = true;
    r.json.Set("skipped", *why);
    return r;
  }
  Json problems = Json::MakeArray();
  auto fail = [&](std::string what, std::string problem) {
    r.ok = false;
    Json p = Json::MakeObject();
    p.Set("check", std::move(what));
    p.Set("problem", std::move(problem));
    problems.Push(std::move(p));
  };

  // The hash chain.
  auto chain = store.log().Verify(rec.id);
  if (!chain) {
    if (chain.error().code() == StatusCode::kNotFound) {
      r.skipped = true;
      r.json.Set("skipped", chain.error().message());
      return r;
    }
    fail("chain", "could not be read: " + chain.error().ToString());
  } else {
    r.json.Set("events", chain->events_checked);
    if (!chain->ok) {
      r.json.Set("firstBadSeq", chain->first_bad.value());
      fail("chain", "seq " + std::to_string(chain->first_bad.value()) + ": " +
                        chain->problem);
    }
  }
  if (auto head = store.log().GetHead(rec.id); head) {
    r.json.Set("headSeq", head->seq.value());
    r.json.Set("headHash", HexOf(head->hash));
  }

  // The views, against a fold of the log. A broken chain is reported
  // already; the fold would stop at the same place.
  if (r.ok) {
    auto views = CheckViews(projector, store.log(), rec, 5);
    if (!views) {
      fail("views", "could not be checked: " + views.error().ToString());
    } else {
      r.json.Set("views", static_cast<uint64_t>(views->views));
      r.json.Set("viewsDigest", HexOf(views->stored_digest));
      if (!views->views_ok()) {
        r.json.Set("logDigest", HexOf(views->log_digest));
        std::string problem =
            std::to_string(views->total_differences) +
            " view(s) differ from a fold of the log up to seq " +
            std::to_string(views->seq.value());
        if (!views->differences.empty()) {
          problem += "; the first: " + views->differences.front().view + " (" +
                     views->differences.front().problem + ")";
          r.json.Set("firstBadView", views->differences.front().view);
        }
        fail("views", problem + "; siteledger replay --repair rebuilds them");
      }
      if (views->index) {
        r.json.Set("indexRows", views->index->rows_checked);
        if (!views->index->ok) {
          fail("index", IndexProblem(*views->index) +
                            "; siteledger replay --repair rebuilds it");
        }
      }
    }
  }

  // The media bytes, which nothing else holds.
  const MediaCheck media = CheckMedia(store.log(), rec.id);
  r.json.Set("media", media.rows);
  if (!media.problem.empty()) fail("media", media.problem);

  r.json.Set("ok", r.ok);
  if (!problems.as_array().empty()) r.json.Set("problems", std::move(problems));
  return r;
}

std::string Line(const storage::TenantRecord& rec, const TenantResult& r) {
  std::string line = TenantName(rec) + ": ";
  if (r.skipped) {
    return "skipped  " + line + std::string(r.json.GetString("skipped"));
  }
  if (r.ok) {
    return "ok       " + line + std::to_string(r.json.GetInt("events")) +
           " events, head " + std::to_string(r.json.GetInt("headSeq")) + " " +
           std::string(r.json.GetString("headHash")).substr(0, 16) + ", " +
           std::to_string(r.json.GetInt("views")) + " views";
  }
  std::string out = "DAMAGED  " + line;
  const Json* problems = r.json.Find("problems");
  bool first = true;
  for (const Json& p : problems->as_array()) {
    if (!first) out += "; ";
    first = false;
    out += std::string(p.GetString("check")) + ": " +
           std::string(p.GetString("problem"));
  }
  return out;
}

}  // namespace

int Verify(const Invocation& in) {
  const Flags& f = in.flags;
  const bool json = f.Has("json");
  SystemClock clock;
  auto region = OpenReadOnly(f, clock);
  if (!region) return OfflineFail(region.error().message(), 1);
  storage::Store& store = *(*region)->store;
  auto tenants = SelectTenants(store, f.Get("tenant"));
  if (!tenants) return OfflineFail(tenants.error().message(), 1);

  projections::Projector projector(store.log(), store.clock());
  Json report = Json::MakeObject();
  Json items = Json::MakeArray();
  size_t ok = 0, damaged = 0, skipped = 0;
  {
    Progress progress("verify", "tenants", tenants->size());
    for (size_t i = 0; i < tenants->size(); ++i) {
      const storage::TenantRecord& rec = (*tenants)[i];
      TenantResult r = VerifyTenant(store, projector, rec);
      projector.Forget(rec.id);  // one tenant's state at a time
      if (r.skipped) {
        ++skipped;
      } else if (r.ok) {
        ++ok;
      } else {
        ++damaged;
      }
      if (!json) {
        ClearProgressLine();
        std::printf("%s\n", Line(rec, r).c_str());
        std::fflush(stdout);
      }
      items.Push(std::move(r.json));
      progress.Update(i + 1);
    }
  }

  // The region's audit chain.
  Json audit = Json::MakeObject();
  bool audit_ok = true;
  auto chain = store.audit().Verify();
  if (!chain) {
    audit_ok = false;
    audit.Set("problem", "could not be read: " + chain.error().ToString());
  } else {
    audit.Set("records", chain->records);
    if (!chain->ok) {
      audit_ok = false;
      audit.Set("firstBadRecord", chain->first_bad);
      audit.Set("problem", "record " + std::to_string(chain->first_bad) + ": " +
                               chain->problem);
    }
  }
  audit.Set("ok", audit_ok);
  const bool all_ok = damaged == 0 && audit_ok;
  if (json) {
    report.Set("region", store.options().region);
    report.Set("tenants", std::move(items));
    report.Set("audit", std::move(audit));
    report.Set("ok", all_ok);
    std::printf("%s\n", report.Dump().c_str());
    return all_ok ? kOk : 1;
  }
  if (audit_ok) {
    std::printf("ok       audit log: %lld records\n",
                static_cast<long long>(audit.GetInt("records")));
  } else {
    std::printf("DAMAGED  audit log: %s\n",
                std::string(audit.GetString("problem")).c_str());
  }
  std::printf(
      "verify: region %s, %zu tenant%s checked: %zu ok, %zu damaged, %zu "
      "skipped; audit log %s\n",
      store.options().region.c_str(), ok + damaged,
      ok + damaged == 1 ? "" : "s", ok, damaged, skipped,
      audit_ok ? "ok" : "DAMAGED");
  if (!all_ok) {
    std::fprintf(stderr,
                 "siteledger: damage found. A damaged hash chain or audit log "
                 "means stored events were altered or lost: restore them from "
                 "a backup. Views that differ from the log are rebuilt by "
                 "siteledger replay --repair (with siteledgerd stopped).\n");
  }
  return all_ok ? kOk : 1;
}

}  // namespace siteledger::tools
