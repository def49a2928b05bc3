#include "server/internal/access_log_retention.h"

#include <string>

#include "server/log.h"
#include "storage/base/rfc3339.h"

namespace siteledger::server {

using projections::Json;

Json RetireAccessLog(storage::Store& store, bool dry_run) {
  const Timestamp now = store.clock().Now();
  auto retired = dry_run ? store.access_log().PlanRetire(now)
                         : store.access_log().Retire(now);
  if (!retired) {
    Log("error", "retiring the access log failed",
        {{"error", retired.error().ToString()}});
    Json failed = Json::MakeObject();
    failed.Set("cutoff", FormatRfc3339(now - storage::AccessLog::kRetention));
    failed.Set("error", retired.error().ToString());
    return failed;
  }
  Json days = Json::MakeArray();
  for (Day day : retired->days) {
    days.Push(FormatRfc3339(StartOfDay(day)).substr(0, 10));  // YYYY-MM-DD
  }
  Json out = Json::MakeObject();
  out.Set("cutoff", FormatRfc3339(retired->cutoff));
  out.Set("daysRetired", std::move(days));
  out.Set("entriesDeleted", retired->entries);
  if (dry_run || (retired->days.empty() && retired->entries == 0)) return out;
  storage::AuditRecord a;
  a.actor = "system";
  a.action = "access_log.retired";
  a.outcome = "ok";
  a.detail = out.Dump();  // days and counts: nothing of the entries
  if (auto id = store.audit().Append(std::move(a)); !id) {
    Log("error", "writing the audit log failed",
        {{"error", id.error().ToString()}});
  }
  Log("info", "access log retired",
      {{"days", static_cast<unsigned long long>(retired->days.size())},
       {"entries", static_cast<unsigned long long>(retired->entries)}});
  return out;
}

}  // namespace siteledger::server
