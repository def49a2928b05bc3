// Health, readiness, metrics and the OpenAPI document.

#include "server/internal/public_routes.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>

#include "server/problem.h"

namespace siteledger::server {

using projections::Json;

namespace {

// One unlabelled sample with its HELP and TYPE lines.
void AppendFamily(std::string& out, std::string_view name,
                  std::string_view help, std::string_view type,
                  uint64_t value) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  AppendSample(out, name, "", static_cast<double>(value));
}

// "estimate_num_keys" in words for a HELP line: "estimate num keys".
std::string Words(std::string name) {
  for (char& c : name) {
    if (c == '_') c = ' ';
  }
  return name;
}

// The synced writes' latency histogram and the commit queue's depth.
void RenderCommitFigures(std::string& out,
                         const storage::EventLog::Stats& stats) {
  using Stats = storage::EventLog::Stats;
  out +=
      "# HELP siteledger_wal_sync_duration_seconds Time of each synced write "
      "of the commit path (the WAL write and its fsync).\n"
      "# TYPE siteledger_wal_sync_duration_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < Stats::kSyncBucketsSeconds.size(); ++i) {
    cumulative += stats.sync_histogram[i];
    char le[32];
    std::snprintf(le, sizeof le, "%g", Stats::kSyncBucketsSeconds[i]);
    AppendSample(out, "siteledger_wal_sync_duration_seconds_bucket",
                 std::string("le=\"") + le + "\"",
                 static_cast<double>(cumulative));
  }
  cumulative += stats.sync_histogram.back();
  AppendSample(out, "siteledger_wal_sync_duration_seconds_bucket",
               "le=\"+Inf\"", static_cast<double>(cumulative));
  AppendSample(out, "siteledger_wal_sync_duration_seconds_sum", "",
               stats.sync_seconds_sum);
  AppendSample(out, "siteledger_wal_sync_duration_seconds_count", "",
               static_cast<double>(cumulative));
  AppendFamily(out, "siteledger_commit_queue_depth",
               "Appends accepted and not yet answered: waiting for a group "
               "commit or in the one being written.",
               "gauge", stats.queue_depth);
}

}  // namespace

// The registry's figures, each from an index or a kept count, never a walk
// of the region's tenants per scrape: tenants held (counted once, then kept
// by installs and purges), migrations under way by state (the in-flight
// index: only those), and purges due and overdue (the purge-due index,
// read up to kMaxPurgesShown).
void PublicRoutes::RenderRegistryFigures(std::string& out) const {
  constexpr size_t kMaxPurgesShown = 10000;
  storage::TenantRegistry& registry = store_.registry();
  const std::string region = "region=\"" + config_.region + "\"";
  if (auto n = registry.Count()) {
    out +=
        "# HELP siteledger_tenants Tenant records this region holds, in any "
        "state (copies kept for a rollback and purged tombstones "
        "included).\n# TYPE siteledger_tenants gauge\n";
    AppendSample(out, "siteledger_tenants", region, static_cast<double>(*n));
  }
  if (auto in_flight = registry.InFlight()) {
    std::map<std::string, uint64_t> by_state = {
        {"copying", 0}, {"cutover", 0}, {"rolling_back", 0}};
    for (TenantId t : *in_flight) {
      if (auto rec = registry.Get(t)) {
        switch (rec->residency.state) {
          case storage::ResidencyState::kCopying:
            ++by_state["copying"];
            break;
          case storage::ResidencyState::kCutover:
            ++by_state["cutover"];
            break;
          case storage::ResidencyState::kRollingBack:
            ++by_state["rolling_back"];
            break;
          default:
            break;
        }
      }
    }
    out +=
        "# HELP siteledger_migrations Migrations and rollbacks under way "
        "from this region, by state.\n# TYPE siteledger_migrations gauge\n";
    for (const auto& [state, n] : by_state) {
      AppendSample(out, "siteledger_migrations", "state=\"" + state + "\"",
                   static_cast<double>(n));
    }
  }
  const Timestamp now = store_.clock().Now();
  auto due = registry.PurgesDue(now, kMaxPurgesShown);
  auto overdue =
      registry.PurgesDue(now - std::chrono::hours(24), kMaxPurgesShown);
  if (due && overdue) {
    AppendFamily(out, "siteledger_purges_due",
                 "Tenant copies whose purge time has come (30 days after an "
                 "uninstall, 7 after a move) and that are not purged yet "
                 "(at most 10000 counted).",
                 "gauge", due->size());
    AppendFamily(out, "siteledger_purges_overdue",
                 "Of those, the ones due for more than 24 hours: the sweeper "
                 "is not keeping the deletion promise.",
                 "gauge", overdue->size());
  }
}

std::string PublicRoutes::RenderMetrics() const {
  std::string out;
  metrics_.Render(out);
  const storage::EventLog::Stats stats = store_.log().stats();
  AppendFamily(out, "siteledger_append_requests_total", "Appends committed.",
               "counter", stats.requests);
  AppendFamily(out, "siteledger_events_appended_total", "Events written.",
               "counter", stats.events);
  AppendFamily(out, "siteledger_group_commits_total",
               "Synced writes of the commit path.", "counter", stats.groups);
  out +=
      "# HELP siteledger_group_commit_size Appends per synced write.\n"
      "# TYPE siteledger_group_commit_size histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < stats.group_size_histogram.size(); ++i) {
    cumulative += stats.group_size_histogram[i];
    const uint64_t le =
        (uint64_t{2} << i) - 1;  // bucket i holds [2^i, 2^(i+1))
    AppendSample(out, "siteledger_group_commit_size_bucket",
                 "le=\"" + std::to_string(le) + "\"",
                 static_cast<double>(cumulative));
  }
  AppendSample(out, "siteledger_group_commit_size_bucket", "le=\"+Inf\"",
               static_cast<double>(cumulative));
  AppendSample(out, "siteledger_group_commit_size_count", "",
               static_cast<double>(stats.groups));
  AppendSample(out, "siteledger_group_commit_size_sum", "",
               static_cast<double>(stats.requests));
  AppendFamily(out, "siteledger_sse_subscribers", "Live event streams.",
               "gauge", feed_.subscribers());
  const storage::DiskSpace disk = store_.disk_space();
  AppendFamily(out, "siteledger_disk_free_bytes",
               "Free bytes on the data folder's file system.", "gauge",
               disk.free_bytes);
  AppendFamily(out, "siteledger_disk_reserve_bytes",
               "Free bytes kept back: below them writes are refused (507).",
               "gauge", disk.reserve_bytes);
  AppendFamily(out, "siteledger_disk_writes_refused",
               "1 while writes are refused to keep the disk reserve.", "gauge",
               disk.writes_refused ? 1 : 0);
  for (const auto& [name, value] : store_.DatabaseFigures()) {
    const std::string metric = "siteledger_rocksdb_" + name;
    out += "# HELP " + metric + " RocksDB's " + Words(name) +
           ", summed over the column families.\n";
    out += "# TYPE " + metric + " gauge\n";
    AppendSample(out, metric, "", static_cast<double>(value));
  }
  RenderCommitFigures(out, stats);
  RenderRegistryFigures(out);
  return out;
}

HttpResponse PublicRoutes::Descriptor() const {
  Json d = Json::MakeObject();
  d.Set("key", "siteledger");
  d.Set("name", "Site builder");
  d.Set("description",
        "Landing pages, themes and navigation for Confluence and Jira sites");
  d.Set("baseUrl", config_.base_url);
  Json vendor = Json::MakeObject();
  vendor.Set("name", "siteledger");
  vendor.Set("url", config_.base_url);
  d.Set("vendor", std::move(vendor));
  Json auth = Json::MakeObject();
  auth.Set("type", "jwt");
  d.Set("authentication", std::move(auth));
  Json lifecycle = Json::MakeObject();
  lifecycle.Set("installed", "/lifecycle/installed");
  lifecycle.Set("uninstalled", "/lifecycle/uninstalled");
  lifecycle.Set("enabled", "/lifecycle/enabled");
  lifecycle.Set("disabled", "/lifecycle/disabled");
  // Atlassian's realm migrations call <path>/schedule, /start, /status,
  // /commit and /rollback.
  lifecycle.Set("dare-migration", "/migration");
  d.Set("lifecycle", std::move(lifecycle));
  // Realm pinning: each region's base URL, keyed by Atlassian's location.
  if (!config_.peers.empty()) {
    Json regions = Json::MakeObject();
    auto upper = [](std::string s) {
      for (char& c : s) c = static_cast<char>(std::toupper(c));
      return s;
    };
    regions.Set(upper(config_.region), config_.base_url);
    for (const auto& [region, url] : config_.peers) {
      regions.Set(upper(region), url);
    }
    d.Set("regionBaseUrls", std::move(regions));
  }
  Json migrations = Json::MakeObject();
  migrations.Set("signed-install", true);
  migrations.Set("context-qsh", true);
  migrations.Set("gdpr", true);
  d.Set("apiMigrations", std::move(migrations));
  // Site administrators find the administration page under Manage apps.
  Json page = Json::MakeObject();
  page.Set("key", "data-residency");
  Json name = Json::MakeObject();
  name.Set("value", "Data residency");
  page.Set("name", std::move(name));
  page.Set("url", "/pages/residency");
  page.Set("location", "system.admin/globalsettings");
  Json admin_pages = Json::MakeArray();
  admin_pages.Push(std::move(page));
  Json modules = Json::MakeObject();
  modules.Set("adminPages", std::move(admin_pages));
  d.Set("modules", std::move(modules));
  Json scopes = Json::MakeArray();
  scopes.Push("READ");
  d.Set("scopes", std::move(scopes));
  d.Set("apiVersion", 1);
  HttpResponse r = JsonResponse(200, d);
  return r;
}

void PublicRoutes::Serve(const CallPtr& call) {
  switch (call->route->action) {
    case Action::kHealthz: {
      Json body = Json::MakeObject();
      body.Set("status", "ok");
      return finisher_.Finish(call, JsonResponse(200, body));
    }
    case Action::kReadyz: {
      Json body = Json::MakeObject();
      const bool ready = store_.Healthy();
      body.Set("status", ready ? "ready" : "unavailable");
      body.Set("region", config_.region);
      // Under the disk reserve the server still serves reads, so it stays
      // ready (200); "writes" and "disk" say that writes are refused.
      const storage::DiskSpace disk = store_.disk_space();
      body.Set("writes",
               disk.writes_refused ? "refused: disk reserve" : "accepted");
      Json space = Json::MakeObject();
      space.Set("freeBytes", static_cast<int64_t>(disk.free_bytes));
      space.Set("reserveBytes", static_cast<int64_t>(disk.reserve_bytes));
      space.Set("writesRefused", disk.writes_refused);
      body.Set("disk", std::move(space));
      return finisher_.Finish(call, JsonResponse(ready ? 200 : 503, body));
    }
    case Action::kMetrics: {
      HttpResponse r;
      r.status = 200;
      r.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      r.Set("Cache-Control", "no-store");
      r.body = RenderMetrics();
      return finisher_.Finish(call, std::move(r));
    }
    case Action::kOpenApi: {
      HttpResponse r;
      r.status = 200;
      r.Set("Content-Type", "application/json");
      r.body = openapi_;
      return finisher_.Finish(call, std::move(r));
    }
    case Action::kDescriptor:
      return finisher_.Finish(call, Descriptor());
    default:
      return finisher_.Fail(
          call,
          Status::Internal("public routes have no action for " +
                           call->route->method + " " + call->route->path));
  }
}

}  // namespace siteledger::server
