// Operator routes (/admin): bearer tokens from the operators file, a scope
// per route, and for every access to a tenant's data or to personal data a
// stated reason and an audit record written before anything is answered.

#include "server/internal/operator_api.h"

#include <charconv>
#include <map>

#include "projections/commands.h"
#include "server/config.h"
#include "server/internal/request_parts.h"
#include "server/internal/residency.h"
#include "server/jwt.h"
#include "server/log.h"
#include "server/problem.h"
#include "storage/base/rfc3339.h"
#include "storage/base/utf8.h"
#include "storage/crypto.h"

namespace siteledger::server {
namespace {

using projections::Json;

constexpr size_t kMaxReasonBytes = 500;

// A 401 for an operator route: the challenge names the Bearer scheme.
HttpResponse OperatorUnauthenticated(std::string_view detail) {
  HttpResponse r = Problem(401, detail);
  r.Set("WWW-Authenticate", "Bearer");
  return r;
}

Json CountsJson(const std::string& client_key, int64_t sites, int64_t themes,
                int64_t domains, int64_t spaces) {
  Json row = Json::MakeObject();
  if (!client_key.empty()) row.Set("clientKey", client_key);
  row.Set("sites", sites);
  row.Set("themes", themes);
  row.Set("customDomains", domains);
  row.Set("spaces", spaces);
  return row;
}

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::shared_ptr<const Operators> OperatorApi::CurrentOperators() const {
  MutexLock lock(operators_mu_);
  return operators_;
}

Status OperatorApi::ReloadOperators() {
  if (operators_file_.empty()) return Status::Ok();
  auto loaded = Operators::Load(operators_file_);
  if (!loaded) {
    Log("error", "operators file not reloaded; the old one stays",
        {{"error", loaded.error().message()}});
    return loaded.error();
  }
  auto shared = std::make_shared<const Operators>(std::move(*loaded));
  Log("info", "operators loaded",
      {{"operators", static_cast<long long>(shared->operators().size())}});
  MutexLock lock(operators_mu_);
  operators_ = std::move(shared);
  return Status::Ok();
}

Status OperatorApi::Authenticate(Call& call) {
  std::string_view auth = call.request.Header("authorization");
  if (auth.empty()) {
    return Status::Unauthenticated(
        "no token: send 'Authorization: Bearer <operator token>'");
  }
  std::string scheme(auth.substr(0, 7));
  for (char& c : scheme) c = static_cast<char>(std::tolower(c));
  if (scheme != "bearer " || auth.size() <= 7) {
    return Status::Unauthenticated(
        "operator routes take 'Authorization: Bearer <operator token>'");
  }
  call.operators = CurrentOperators();
  if (!call.operators) {
    return Status::Unauthenticated("no operators are configured");
  }
  call.op = call.operators->Authenticate(auth.substr(7));
  if (call.op == nullptr) {
    return Status::Unauthenticated("the operator token is not known");
  }
  return Status::Ok();
}

void OperatorApi::Serve(const CallPtr& call) {
  Finisher& f = d_.finisher;
  if (Status s = Authenticate(*call); !s.ok()) {
    return f.Finish(call, OperatorUnauthenticated(s.message()));
  }
  const RouteSpec& route = *call->route;
  const bool tenant_route = call->params.contains("clientKey");
  const bool audited = tenant_route || route.personal_data;
  std::string_view reason = call->request.Header("x-access-reason");
  while (!reason.empty() && reason.front() == ' ') reason.remove_prefix(1);
  // As given, cut to the limit, and always UTF-8: a refused reason is
  // recorded too, and the audit log must stay readable. Routes that audit
  // what they did (erasures) record it when given.
  call->reason = RepairUtf8(reason.substr(0, kMaxReasonBytes));
  if (audited) {
    // Every attempt at a tenant's data, or at personal data, leaves a
    // record, refused ones too.
    call->audit_access = true;
  }
  if (!call->op->scopes.contains(route.scope)) {
    return f.Finish(
        call, Problem(403, "this route needs the scope '" +
                               std::string(ScopeName(route.scope)) + "'"));
  }

  // Routes under /admin/tenants/{clientKey} and those that read personal
  // data: a reason and an audit record; for a tenant's, the tenant.
  if (audited) {
    if (reason.empty()) {
      return f.Finish(
          call, Problem(400, tenant_route ? "access to a tenant's data needs a "
                                            "reason: send X-Access-Reason"
                                          : "access to personal data needs a "
                                            "reason: send X-Access-Reason"));
    }
    if (reason.size() > kMaxReasonBytes) {
      return f.Finish(call, Problem(400, "X-Access-Reason: at most 500 bytes"));
    }
    if (!ValidUtf8(reason) ||
        std::any_of(reason.begin(), reason.end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        })) {
      return f.Finish(call, Problem(400,
                                    "X-Access-Reason: UTF-8 text without "
                                    "control characters"));
    }
  }
  if (tenant_route) {
    auto record = d_.registry.GetByClientKey(call->Param("clientKey"));
    if (!record) return f.Fail(call, record.error());
    call->tenant = record->id;
    call->record =
        std::make_shared<const storage::TenantRecord>(std::move(*record));
    if (route.handler == Handler::kResidency) return d_.residency(call);
    // A tenant whose home is another region is read and restored there.
    if (auto r =
            HomeRedirect(*d_.config, *call->record, call->request.target)) {
      return f.Finish(call, std::move(*r));
    }
    if (route.action == Action::kAdminRestore) {
      if (!call->record->residency.writable()) {
        HttpResponse r = Problem(503,
                                 "a residency migration is finishing; try "
                                 "again in a moment");
        r.Set("Retry-After", "1");
        return f.Finish(call, std::move(r));
      }
      return ServeRestore(call);
    }
    if (route.action == Action::kAdminDigest) return ServeDigest(call);
    return d_.tenant_api.Serve(call);  // the same reads as the tenant API
  }

  if (route.handler == Handler::kResidency) return d_.residency(call);
  switch (route.action) {
    case Action::kAdminTenants:
      return ServeTenants(call);
    case Action::kAdminUsage:
      return ServeUsage(call);
    case Action::kAdminAudit:
      return ServeAudit(call);
    case Action::kAdminAccessLog:
      return ServeAccessLog(call);
    case Action::kAdminClock:
      return ServeClock(call);
    case Action::kAdminEraseUsers:
      return d_.erase_users(call);
    case Action::kAdminBackup:
      return d_.backup(call);
    default:
      return f.Fail(call, Status::Internal("operators have no action for " +
                                           route.method + " " + route.path));
  }
}

void OperatorApi::ServeRestore(const CallPtr& call) {
  auto body = JsonBodyOf(*call, BodyUse::kRequired);
  if (!body) {
    return d_.finisher.Fail(
        call, body.error().code() == StatusCode::kUnsupported
                  ? body.error()
                  : Status::InvalidArgument(
                        "the body must be a JSON object: {\"toSeq\":N} or "
                        "{\"asOf\":\"<RFC 3339 time>\"}"));
  }
  projections::Command c;
  c.type = projections::CommandType::kRestore;
  c.body = std::move(*body);
  d_.projector.Execute(
      call->tenant, std::move(c),
      [this, call](Result<projections::CommandResult> result) {
        if (result) d_.feed.Notify(call->tenant);
        // The answer waits for a synced audit record: never on the commit
        // thread.
        Finisher::Later(call, [this, call, result = std::move(result)] {
          if (!result) return d_.finisher.Fail(call, result.error());
          Json answer = Json::MakeObject();
          answer.Set("seq", result->last.value());
          d_.finisher.Finish(call, JsonResponse(200, answer));
        });
      });
}

void OperatorApi::ServeDigest(const CallPtr& call) {
  auto as_of = AsOfOf(*call);
  if (!as_of) return d_.finisher.Fail(call, as_of.error());
  auto head = d_.log.GetHead(call->tenant);
  if (!head) return d_.finisher.Fail(call, head.error());
  Sequence seq = head->seq;
  if (as_of->seq) {
    if (*as_of->seq > head->seq) {
      return d_.finisher.Fail(
          call, Status::InvalidArgument("as_of: the log is only at seq " +
                                        std::to_string(head->seq.value())));
    }
    seq = *as_of->seq;
  } else if (as_of->time) {
    auto at = d_.log.SequenceAt(call->tenant, *as_of->time);
    if (!at) return d_.finisher.Fail(call, at.error());
    seq = *at;
  }
  // From the views' versions at a seq read once, not the current rows: a
  // command committed meanwhile cannot make the digest disagree with seq.
  auto digest = d_.projector.DigestAt(call->tenant, seq);
  if (!digest) return d_.finisher.Fail(call, digest.error());
  Json answer = Json::MakeObject();
  answer.Set("seq", seq.value());
  answer.Set("digest", storage::ToHex(*digest));
  d_.finisher.Finish(call, JsonResponse(200, answer));
}

void OperatorApi::ServeTenants(const CallPtr& call) {
  auto tenants = d_.registry.List(siteledger::TenantId(0), SIZE_MAX);
  if (!tenants) return d_.finisher.Fail(call, tenants.error());
  Json items = Json::MakeArray();
  for (const auto& t : *tenants) {
    auto head = d_.log.GetHead(t.id);
    Json item = Json::MakeObject();
    item.Set("clientKey", t.client_key);
    item.Set("state", storage::LifecycleStateName(t.state));
    item.Set("homeRegion", t.home_region);
    item.Set("events", head ? head->seq.value() : uint64_t{0});
    item.Set("bytes", d_.tenant_bytes(t.id));
    item.Set("lastChange", head && head->seq.value() > 0
                               ? Json(FormatRfc3339(head->time))
                               : Json());
    item.Set("installedAt", FormatRfc3339(t.created));
    item.Set("uninstalledAt", t.uninstalled_at
                                  ? Json(FormatRfc3339(*t.uninstalled_at))
                                  : Json());
    item.Set("purgeAt", t.purge_at ? Json(FormatRfc3339(*t.purge_at)) : Json());
    items.Push(std::move(item));
  }
  return d_.finisher.Finish(call,
                            JsonResponse(200, ListBody(std::move(items), "")));
}

void OperatorApi::ServeUsage(const CallPtr& call) {
  auto tenants = d_.registry.List(siteledger::TenantId(0), SIZE_MAX);
  if (!tenants) return d_.finisher.Fail(call, tenants.error());
  Json items = Json::MakeArray();
  int64_t total_sites = 0, total_themes = 0, total_domains = 0,
          total_spaces = 0;
  std::string csv = "clientKey,sites,themes,customDomains,spaces\n";
  for (const auto& t : *tenants) {
    if (t.state == storage::LifecycleState::kPurged) continue;
    auto counts = CountUsage(d_.projector, t.id);
    if (!counts) return d_.finisher.Fail(call, counts.error());
    const int64_t sites = counts->sites, themes = counts->themes,
                  domains = counts->custom_domains, spaces = counts->spaces;
    items.Push(CountsJson(t.client_key, sites, themes, domains, spaces));
    csv += CsvField(t.client_key) + "," + std::to_string(sites) + "," +
           std::to_string(themes) + "," + std::to_string(domains) + "," +
           std::to_string(spaces) + "\n";
    total_sites += sites;
    total_themes += themes;
    total_domains += domains;
    total_spaces += spaces;
  }
  std::string_view accept = call->request.Header("accept");
  if (accept.find("text/csv") != std::string_view::npos) {
    csv += "TOTAL," + std::to_string(total_sites) + "," +
           std::to_string(total_themes) + "," + std::to_string(total_domains) +
           "," + std::to_string(total_spaces) + "\n";
    HttpResponse r;
    r.status = 200;
    r.Set("Content-Type", "text/csv; charset=utf-8");
    r.Set("Cache-Control", "no-store");
    r.body = std::move(csv);
    return d_.finisher.Finish(call, std::move(r));
  }
  Json body = Json::MakeObject();
  body.Set("items", std::move(items));
  body.Set("totals", CountsJson("", total_sites, total_themes, total_domains,
                                total_spaces));
  return d_.finisher.Finish(call, JsonResponse(200, body));
}

void OperatorApi::ServeAudit(const CallPtr& call) {
  storage::AuditFilter filter;
  if (auto tenant = call->Query("tenant")) {
    auto id = d_.registry.Find(*tenant);
    // A purged tenant's clientKey is gone; its records keep their id.
    filter.tenant = id ? *id : siteledger::TenantId(UINT64_MAX);
  }
  if (auto op = call->Query("operator")) filter.actor = *op;
  if (Status s = TimeWindowOf(*call, filter.since, filter.until); !s.ok()) {
    return d_.finisher.Fail(call, s);
  }
  auto limit =
      LimitOf(*call, call->route->default_limit, call->route->max_limit);
  if (!limit) return d_.finisher.Fail(call, limit.error());
  auto cursor = DecodeCursor(*call);
  if (!cursor) return d_.finisher.Fail(call, cursor.error());
  uint64_t after = 0;
  if (!cursor->empty()) {
    auto seq = SeqOf(*cursor, "cursor");
    if (!seq) return d_.finisher.Fail(call, seq.error());
    after = seq->value();
  }
  // One more than asked: a next page exists only if it has a record.
  auto entries = d_.audit.Query(filter, after, *limit + 1);
  if (!entries) return d_.finisher.Fail(call, entries.error());
  const bool more = entries->size() > *limit;
  if (more) entries->resize(*limit);
  Json items = Json::MakeArray();
  // Records written before every text was checked still read as UTF-8.
  for (const auto& e : *entries) {
    Json item = Json::MakeObject();
    item.Set("id", e.id);
    item.Set("time", FormatRfc3339(e.record.time));
    item.Set("actor", RepairUtf8(e.record.actor));
    item.Set("action", e.record.action);
    item.Set("tenant", e.record.client_key.empty()
                           ? Json()
                           : Json(RepairUtf8(e.record.client_key)));
    item.Set("outcome", e.record.outcome);
    item.Set("reason", e.record.reason.empty()
                           ? Json()
                           : Json(RepairUtf8(e.record.reason)));
    item.Set("route", e.record.route.empty()
                          ? Json()
                          : Json(RepairUtf8(e.record.route)));
    item.Set("detail", e.record.detail.empty()
                           ? Json()
                           : Json(RepairUtf8(e.record.detail)));
    items.Push(std::move(item));
  }
  return d_.finisher.Finish(
      call, JsonResponse(200, ListBody(std::move(items),
                                       more ? std::to_string(entries->back().id)
                                            : std::string())));
}

void OperatorApi::ServeAccessLog(const CallPtr& call) {
  std::optional<Timestamp> since, until;
  if (Status s = TimeWindowOf(*call, since, until); !s.ok()) {
    return d_.finisher.Fail(call, s);
  }
  storage::AccessLogQuery query;
  query.since = since.value_or(Timestamp{});
  query.until = until;
  auto limit =
      LimitOf(*call, call->route->default_limit, call->route->max_limit);
  if (!limit) return d_.finisher.Fail(call, limit.error());
  query.limit = *limit;
  auto cursor = DecodeCursor(*call);
  if (!cursor) return d_.finisher.Fail(call, cursor.error());
  query.after = std::move(*cursor);
  auto page = d_.access_log.Read(query);
  if (!page) {
    return d_.finisher.Fail(
        call,
        page.error().code() == StatusCode::kInvalidArgument
            ? Status::InvalidArgument("cursor: not a cursor this API returned")
            : page.error());
  }
  // A tenant is shown by its clientKey; one whose record is gone (purged)
  // by its id.
  std::map<uint64_t, Json> tenants;
  auto tenant_of = [&](TenantId id) -> const Json& {
    auto [it, added] = tenants.try_emplace(id.value());
    if (!added) return it->second;
    if (id.value() == 0) return it->second;  // null: no tenant
    auto record = d_.registry.Get(id);
    it->second = record && !record->client_key.empty()
                     ? Json(RepairUtf8(record->client_key))
                     : Json(id.value());
    return it->second;
  };
  Json items = Json::MakeArray();
  for (const storage::AccessEntry& e : page->entries) {
    Json item = Json::MakeObject();
    item.Set("time", FormatRfc3339(e.time));
    item.Set("tenant", tenant_of(e.tenant));
    item.Set("clientIp", RepairUtf8(e.client_ip));
    item.Set("method", RepairUtf8(e.method));
    item.Set("route", RepairUtf8(e.route));
    item.Set("status", e.status);
    item.Set("latencyUs", static_cast<int64_t>(e.latency_us));
    item.Set("requestId", e.request_id);
    items.Push(std::move(item));
  }
  return d_.finisher.Finish(
      call, JsonResponse(200, ListBody(std::move(items), page->next)));
}

void OperatorApi::ServeClock(const CallPtr& call) {
  auto body = JsonBodyOf(*call, BodyUse::kRequired);
  if (!body && body.error().code() == StatusCode::kUnsupported) {
    return d_.finisher.Fail(call, body.error());
  }
  const Json* advance = body ? body->Find("advance") : nullptr;
  if (advance == nullptr || !advance->is_string() ||
      body->as_object().size() != 1) {
    return d_.finisher.Fail(
        call,
        Status::InvalidArgument("the body must be {\"advance\":\"31d\"}"));
  }
  auto delta = ParseDuration("$.advance", advance->as_string());
  if (!delta) return d_.finisher.Fail(call, delta.error());
  d_.test_clock->Advance(*delta);
  storage::AuditRecord a;
  a.actor = call->op->name;
  a.action = "operator.clock";
  a.outcome = "ok";
  a.route = call->route_label;
  a.detail = "clock advanced by " + advance->as_string();
  if (auto id = d_.audit.Append(std::move(a)); !id) {
    return d_.finisher.Fail(call, id.error());
  }
  Json out = Json::MakeObject();
  out.Set("now", FormatRfc3339(d_.clock.Now()));
  return d_.finisher.Finish(call, JsonResponse(200, out));
}

}  // namespace siteledger::server
