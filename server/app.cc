#include "server/app.h"

#include "projections/schema.h"
#include "server/internal/app_impl.h"
#include "server/log.h"
#include "server/openapi.h"
#include "storage/base/clock.h"
#include "storage/crypto.h"

namespace siteledger::server {

// Clock skew allowed on a token's exp.
constexpr std::chrono::seconds kJwtLeeway{30};
constexpr size_t kJsonBodyLimit = 1 << 20;

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kPreconditionFailed:
      return 412;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kTooLarge:
      return 413;
    case StatusCode::kUnsupported:
      return 415;
    case StatusCode::kRateLimited:
      return 429;
    case StatusCode::kQuotaExceeded:
      return 507;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kCorruption:
    case StatusCode::kIOError:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

namespace {

std::string_view Title(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 503:
      return "Service Unavailable";
    case 507:
      return "Insufficient Storage";
    default:
      return status >= 500 ? "Internal Server Error" : "Error";
  }
}

}  // namespace

HttpResponse Problem(int status, std::string_view detail) {
  Json body = Json::MakeObject();
  body.Set("type", "about:blank");
  body.Set("title", Title(status));
  body.Set("status", status);
  body.Set("detail", detail);
  HttpResponse r;
  r.status = status;
  r.Set("Content-Type", "application/problem+json");
  r.Set("Cache-Control", "no-store");
  r.body = body.Dump();
  return r;
}

HttpResponse ProblemFor(const Status& status) {
  const int code = HttpStatusOf(status.code());
  if (code >= 500 && code != 507) {
    // Internal details stay in the log; the client learns only that it
    // failed.
    Log("error", "request failed", {{"error", status.ToString()}});
    if (status.code() == StatusCode::kUnavailable) {
      HttpResponse r = Problem(503, status.message());
      r.Set("Retry-After", "1");
      return r;
    }
    return Problem(code, "the server could not complete the request");
  }
  HttpResponse r = Problem(code, status.message());
  if (code == 401) r.Set("WWW-Authenticate", "JWT");
  return r;
}

HttpResponse JsonResponse(int status, const Json& body) {
  HttpResponse r;
  r.status = status;
  r.Set("Content-Type", "application/json");
  r.Set("Cache-Control", "no-store");
  r.body = body.Dump();
  return r;
}

App::Impl::Impl(storage::Store& store, Config config,
                siteledger::TestClock* test_clock,
                std::shared_ptr<const storage::MasterKey> media_url_key)
    : store_(store),
      config_(std::move(config)),
      test_clock_(test_clock),
      media_url_key_(std::move(media_url_key)),
      projector_(store.log(), store.clock(),
                 projections::Projector::Options{
                     .media_quota_bytes = config_.media_quota_bytes}),
      feed_(store.log(), store.clock(),
            [this](const storage::Event& e) { return FormatEvent(e); }) {
  // The path of the base URL: canonical requests drop it.
  const size_t scheme = config_.base_url.find("://");
  const size_t slash = scheme == std::string::npos
                           ? std::string::npos
                           : config_.base_url.find('/', scheme + 3);
  if (slash != std::string::npos) base_path_ = config_.base_url.substr(slash);

  auto& r = router_;
  r.Add("GET", "/healthz", kHealthz, Access::kPublic);
  r.Add("GET", "/readyz", kReadyz, Access::kPublic);
  r.Add("GET", "/metrics", kMetrics, Access::kPublic);
  r.Add("GET", "/openapi.json", kOpenApi, Access::kPublic);
  r.Add("GET", "/atlassian-connect.json", kDescriptor, Access::kPublic);
  r.Add("POST", "/lifecycle/installed", kInstalled, Access::kInstallSigned);
  r.Add("POST", "/lifecycle/uninstalled", kUninstalled, Access::kInstallSigned);
  r.Add("POST", "/lifecycle/enabled", kEnabled, Access::kTenantSigned);
  r.Add("POST", "/lifecycle/disabled", kDisabled, Access::kTenantSigned);

  const Access t = Access::kTenant;
  r.Add("GET", "/api/v1/sites", kListSites, t);
  r.Add("POST", "/api/v1/sites", kCreateSite, t);
  r.Add("GET", "/api/v1/sites/{id}", kGetSite, t);
  r.Add("PATCH", "/api/v1/sites/{id}", kUpdateSite, t);
  r.Add("DELETE", "/api/v1/sites/{id}", kDeleteSite, t);
  r.Add("PUT", "/api/v1/sites/{id}/domains/{domain}", kAddDomain, t);
  r.Add("DELETE", "/api/v1/sites/{id}/domains/{domain}", kRemoveDomain, t);
  r.Add("PUT", "/api/v1/sites/{id}/spaces/{spaceKey}", kAddSpace, t);
  r.Add("DELETE", "/api/v1/sites/{id}/spaces/{spaceKey}", kRemoveSpace, t);
  r.Add("GET", "/api/v1/sites/{id}/navigation", kGetNavigation, t);
  r.Add("PUT", "/api/v1/sites/{id}/navigation", kReplaceNavigation, t);
  r.Add("POST", "/api/v1/sites/{id}/navigation/items", kAddNavigationItem, t);
  r.Add("POST", "/api/v1/sites/{id}/navigation/items/{itemId}/move",
        kMoveNavigationItem, t);
  r.Add("DELETE", "/api/v1/sites/{id}/navigation/items/{itemId}",
        kRemoveNavigationItem, t);
  r.Add("GET", "/api/v1/themes", kListThemes, t);
  r.Add("POST", "/api/v1/themes", kCreateTheme, t);
  r.Add("GET", "/api/v1/themes/{id}", kGetTheme, t);
  r.Add("PUT", "/api/v1/themes/{id}", kUpdateTheme, t);
  r.Add("DELETE", "/api/v1/themes/{id}", kDeleteTheme, t);
  r.Add("GET", "/api/v1/layouts", kListLayouts, t);
  r.Add("POST", "/api/v1/layouts", kCreateLayout, t);
  r.Add("GET", "/api/v1/layouts/{id}", kGetLayout, t);
  r.Add("PUT", "/api/v1/layouts/{id}", kSaveLayout, t);
  r.Add("DELETE", "/api/v1/layouts/{id}", kDeleteLayout, t);
  r.Add("POST", "/api/v1/layouts/{id}/publish", kPublishLayout, t);
  r.Add("GET", "/api/v1/announcements", kListAnnouncements, t);
  r.Add("POST", "/api/v1/announcements", kCreateAnnouncement, t);
  r.Add("GET", "/api/v1/announcements/{id}", kGetAnnouncement, t);
  r.Add("PUT", "/api/v1/announcements/{id}", kUpdateAnnouncement, t);
  r.Add("DELETE", "/api/v1/announcements/{id}", kDeleteAnnouncement, t);
  r.Add("GET", "/api/v1/search/promoted", kListPromoted, t);
  r.Add("GET", "/api/v1/search/promoted/{keyword}", kGetPromoted, t);
  r.Add("PUT", "/api/v1/search/promoted/{keyword}", kSetPromoted, t);
  r.Add("DELETE", "/api/v1/search/promoted/{keyword}", kClearPromoted, t);
  r.Add("GET", "/api/v1/pages/{contentId}/featured", kGetFeatured, t);
  r.Add("PUT", "/api/v1/pages/{contentId}/featured", kSetFeatured, t);
  r.Add("DELETE", "/api/v1/pages/{contentId}/featured", kClearFeatured, t);
  r.Add("GET", "/api/v1/feedback", kListFeedback, t);
  r.Add("POST", "/api/v1/feedback", kSubmitFeedback, t);
  r.Add("GET", "/api/v1/feedback/{id}", kGetFeedback, t);
  r.Add("DELETE", "/api/v1/feedback/{id}", kDeleteFeedback, t);
  r.Add("POST", "/api/v1/feedback/{id}/resolve", kResolveFeedback, t);
  r.Add("GET", "/api/v1/users", kListUsers, t);
  r.Add("GET", "/api/v1/users/{id}", kGetUser, t);
  r.Add("GET", "/api/v1/events", kListEvents, t);
  r.Add("GET", "/api/v1/events/stream", kStreamEvents, t);
  r.Add("GET", "/api/v1/media", kListMedia, t);
  r.Add("POST", "/api/v1/media", kUploadMedia, t);
  r.Add("GET", "/api/v1/media/{id}", kGetMedia, t);
  r.Add("DELETE", "/api/v1/media/{id}", kDeleteMedia, t);
  r.Add("POST", "/api/v1/media/{id}/url", kMediaUrl, t);
  r.Add("GET", "/media/{handle}", kSignedMedia, Access::kSignedUrl);

  // Operators. Every route under /admin/tenants/{clientKey} touches a
  // tenant's data: it needs a reason and is audited.
  const Access o = Access::kOperator;
  r.Add("GET", "/admin/tenants", kAdminTenants, o);
  r.Add("GET", "/admin/usage", kAdminUsage, o);
  r.Add("GET", "/admin/audit", kAdminAudit, o);
  if (test_clock_ != nullptr) r.Add("POST", "/admin/clock", kAdminClock, o);
  const std::string tenant_prefix = "/admin/tenants/{clientKey}";
  for (const auto& [pattern, handler] :
       std::vector<std::pair<std::string, int>>{
           {"/sites", kListSites},
           {"/sites/{id}", kGetSite},
           {"/sites/{id}/navigation", kGetNavigation},
           {"/themes", kListThemes},
           {"/themes/{id}", kGetTheme},
           {"/layouts", kListLayouts},
           {"/layouts/{id}", kGetLayout},
           {"/announcements", kListAnnouncements},
           {"/announcements/{id}", kGetAnnouncement},
           {"/search/promoted", kListPromoted},
           {"/search/promoted/{keyword}", kGetPromoted},
           {"/pages/{contentId}/featured", kGetFeatured},
           {"/feedback", kListFeedback},
           {"/feedback/{id}", kGetFeedback},
           {"/users", kListUsers},
           {"/users/{id}", kGetUser},
           {"/events", kListEvents},
       }) {
    r.Add("GET", tenant_prefix + pattern, handler, o);
  }
  r.Add("POST", tenant_prefix + "/restore", kAdminRestore, o);
  openapi_ = BuildOpenApi(router_, config_.base_url).Dump();
  std::vector<std::string> names;
  for (const Route& route : router_.routes()) names.push_back(route.pattern);
  metrics_ = std::make_unique<Metrics>(std::move(names));
}

App::Impl::~Impl() { feed_.Shutdown(); }

std::string App::Impl::ClientIp(const HttpRequest& request) const {
  // X-Forwarded-For is believed only from a trusted proxy; then the client
  // is the right-most address that is not itself a trusted proxy.
  auto trusted = [&](std::string_view ip) {
    for (const Cidr& c : config_.trusted_proxies) {
      if (c.Contains(ip)) return true;
    }
    return false;
  };
  std::string ip = request.remote_address;
  if (!trusted(ip)) return ip;
  std::string_view xff = request.Header("x-forwarded-for");
  while (!xff.empty()) {
    const size_t comma = xff.rfind(',');
    std::string_view hop =
        comma == std::string_view::npos ? xff : xff.substr(comma + 1);
    xff = comma == std::string_view::npos ? std::string_view()
                                          : xff.substr(0, comma);
    while (!hop.empty() && hop.front() == ' ') hop.remove_prefix(1);
    while (!hop.empty() && hop.back() == ' ') hop.remove_suffix(1);
    if (hop.empty()) continue;
    ip = std::string(hop);
    if (!trusted(hop)) break;
  }
  return ip;
}

void App::Impl::Finish(const CallPtr& call, HttpResponse response) {
  if (call->finished) return;
  call->finished = true;
  if (call->audit_access) {
    // No operator access to a tenant's data without a trace: the record is
    // durable before anything is answered.
    storage::AuditRecord a;
    a.actor = call->op->name;
    a.action =
        call->request.method == "GET" ? "operator.read" : "operator.write";
    a.tenant = call->tenant;
    // The clientKey asked for, known or not.
    a.client_key =
        call->record ? call->record->client_key : call->Param("clientKey");
    a.outcome = std::to_string(response.status);
    a.reason = call->reason;
    a.route = call->route_label;
    if (auto id = store_.audit().Append(std::move(a)); !id) {
      Log("error", "writing the audit log failed",
          {{"error", id.error().ToString()}});
      response = Problem(500,
                         "the access could not be recorded; nothing is "
                         "returned");
    }
  }
  const auto elapsed = std::chrono::steady_clock::now() - call->start;
  const double seconds = std::chrono::duration<double>(elapsed).count();
  metrics_->Observe(call->route_index, call->request.method, response.status,
                    seconds);
  storage::AccessEntry entry;
  entry.time = store_.clock().Now();
  entry.tenant = call->tenant;
  entry.client_ip = call->client_ip;
  entry.method = call->request.method;
  entry.route = call->route_label;
  entry.status = response.status;
  entry.latency_us = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  store_.access_log().Record(std::move(entry));
  response.head_only = call->head;
  call->respond(std::move(response));
}

void App::Impl::Handle(HttpRequest request, Responder respond) {
  auto call = std::make_shared<Call>();
  call->start = std::chrono::steady_clock::now();
  call->client_ip = ClientIp(request);
  call->head = request.method == "HEAD";
  const std::string& target = request.target;
  const size_t q = target.find('?');
  call->path = target.substr(0, q);
  if (q != std::string::npos) call->query = target.substr(q + 1);
  call->query_params = ParseQuery(call->query);
  call->request = std::move(request);
  call->respond = std::move(respond);

  RouteMatch match = router_.Match(call->request.method, call->path);
  if (match.route == nullptr) {
    call->route_label = "unmatched";
    if (match.path_known) {
      HttpResponse r = Problem(405, "this route answers " + match.allow);
      r.Set("Allow", match.allow);
      return Finish(call, std::move(r));
    }
    return Finish(call, Problem(404, "no route for this path"));
  }
  call->route = match.route;
  call->route_label = match.route->pattern;
  call->route_index = match.route->index;
  call->params = std::move(match.params);
  Dispatch(call);
}

void App::Impl::Dispatch(const CallPtr& call) {
  switch (call->route->access) {
    case Access::kPublic:
      if (call->route->handler == kDescriptor) {
        return Finish(call, Descriptor());
      }
      return HandleOps(call);
    case Access::kInstallSigned:
    case Access::kTenantSigned:
      return HandleLifecycle(call);
    case Access::kTenant: {
      if (Status s = AuthenticateTenant(*call, /*allow_context_qsh=*/true);
          !s.ok()) {
        return Fail(call, s);
      }
      RecordUserSeen(*call);
      if (call->route->handler > kListMedia) return HandleMedia(call);
      return HandleApi(call);
    }
    case Access::kOperator:
      return HandleAdmin(call);
    case Access::kSignedUrl:
      return HandleSignedMedia(call);
    default:
      return Finish(call, Problem(404, "no route for this path"));
  }
}

Result<std::string> App::Impl::TokenOf(const Call& call,
                                       std::string_view scheme) const {
  std::string_view auth = call.request.Header("authorization");
  if (!auth.empty()) {
    if (auth.size() > scheme.size() + 1 &&
        auth.substr(0, scheme.size()) == scheme && auth[scheme.size()] == ' ') {
      return std::string(auth.substr(scheme.size() + 1));
    }
    return siteledger::Err(
        Status::Unauthenticated("the Authorization header must be '" +
                                std::string(scheme) + " <token>'"));
  }
  if (auto jwt = call.Query("jwt")) return *jwt;
  return siteledger::Err(Status::Unauthenticated(
      "no token: send 'Authorization: " + std::string(scheme) +
      " <token>' or ?jwt="));
}

Result<std::shared_ptr<const storage::TenantRecord>>
App::Impl::TenantByClientKey(const std::string& client_key) {
  {
    std::lock_guard lock(tenants_mu_);
    auto it = tenants_.find(client_key);
    if (it != tenants_.end()) return it->second;
  }
  auto record = store_.registry().GetByClientKey(client_key);
  if (!record) return siteledger::Err(record.error());
  auto shared =
      std::make_shared<const storage::TenantRecord>(std::move(*record));
  std::lock_guard lock(tenants_mu_);
  tenants_[client_key] = shared;
  return shared;
}

void App::Impl::ForgetTenant(const std::string& client_key) {
  {
    std::lock_guard lock(tenants_mu_);
    tenants_.erase(client_key);
  }
  std::lock_guard lock(verified_mu_);
  verified_.clear();
}

Status App::Impl::AuthenticateTenant(Call& call, bool allow_context_qsh) {
  auto token = TokenOf(call, "JWT");
  if (!token) return token.error();
  // A token verified before for exactly this request and still in date.
  std::string cache_key = *token;
  cache_key += '\n';
  cache_key += allow_context_qsh ? 'a' : 'l';
  cache_key += call.request.method;
  cache_key += ' ';
  cache_key += call.request.target;
  {
    std::lock_guard lock(verified_mu_);
    auto it = verified_.find(cache_key);
    if (it != verified_.end() && store_.clock().Now() <= it->second.expires) {
      call.tenant = it->second.record->id;
      call.record = it->second.record;
      call.actor = it->second.actor;
      call.token_expires = it->second.expires;
      return Status::Ok();
    }
  }
  auto jwt = ParseJwt(*token);
  if (!jwt) return jwt.error();
  if (jwt->alg() != "HS256") {
    return Status::Unauthenticated(
        "the token's alg must be HS256 (signed with the installation's "
        "shared secret)");
  }
  const Json* iss = jwt->claims.Find("iss");
  if (iss == nullptr || !iss->is_string() || iss->as_string().empty()) {
    return Status::Unauthenticated("the token has no iss (the clientKey)");
  }
  auto record = TenantByClientKey(iss->as_string());
  if (!record) {
    if (record.error().code() == StatusCode::kNotFound) {
      return Status::Unauthenticated(
          "the token's iss is not an installed clientKey");
    }
    return record.error();
  }
  SL_RETURN_IF_ERROR(VerifyHs256(*jwt, (*record)->shared_secret));
  const Json* exp = jwt->claims.Find("exp");
  if (exp == nullptr || !exp->is_int()) {
    return Status::Unauthenticated("the token has no exp");
  }
  const Timestamp now = store_.clock().Now();
  const Timestamp expires = siteledger::TimestampFromMillis(exp->as_int() * 1000);
  if (now > expires + kJwtLeeway) {
    return Status::Unauthenticated("the token has expired");
  }
  const Json* qsh = jwt->claims.Find("qsh");
  if (qsh == nullptr || !qsh->is_string()) {
    return Status::Unauthenticated("the token has no qsh");
  }
  const Json* sub = jwt->claims.Find("sub");
  if (qsh->as_string() == "context-qsh") {
    if (!allow_context_qsh || !call.path.starts_with("/api/v1/")) {
      return Status::Unauthenticated(
          "a context-qsh token is not accepted on this route");
    }
    if (sub == nullptr || !sub->is_string() || sub->as_string().empty()) {
      return Status::Unauthenticated("a context-qsh token needs a sub");
    }
  } else if (!storage::ConstantTimeEquals(
                 qsh->as_string(),
                 QueryStringHash(call.request.method, call.path, call.query,
                                 base_path_))) {
    return Status::Unauthenticated(
        "the token's qsh does not match this request (method, path and "
        "query)");
  }
  if (sub != nullptr) {
    if (!sub->is_string()) {
      return Status::Unauthenticated("the token's sub is not a string");
    }
    if (Status s = projections::schema::CheckAccountId(sub->as_string());
        !s.ok()) {
      return Status::Unauthenticated("the token's sub: " + s.message());
    }
    call.actor = sub->as_string();
  }
  if ((*record)->state != storage::LifecycleState::kInstalled) {
    return Status::PermissionDenied(
        "the app is uninstalled from this site; its data is kept but not "
        "served");
  }
  call.tenant = (*record)->id;
  call.record = *record;
  call.token_expires = expires + kJwtLeeway;
  std::lock_guard lock(verified_mu_);
  if (verified_.size() >= kMaxVerifiedTokens) verified_.clear();
  verified_.emplace(std::move(cache_key),
                    VerifiedToken{call.record, call.actor, call.token_expires});
  return Status::Ok();
}

App::App(storage::Store& store, Config config, siteledger::TestClock* test_clock,
         std::shared_ptr<const storage::MasterKey> media_url_key)
    : impl_(std::make_unique<Impl>(store, std::move(config), test_clock,
                                   std::move(media_url_key))) {}

Status App::ReloadOperators() { return impl_->ReloadOperators(); }

App::~App() = default;

void App::Handle(HttpRequest request, Responder respond) {
  impl_->Handle(std::move(request), std::move(respond));
}

size_t App::BodyLimit(std::string_view method, std::string_view target) const {
  // Uploads may be as large as the largest media kind allows, plus room for
  // a multipart envelope; everything else is JSON.
  if (method == "POST" &&
      (target == "/api/v1/media" || target.starts_with("/api/v1/media?"))) {
    size_t largest = 0;
    for (const auto& [kind, limit] : impl_->config_.media_max_bytes) {
      largest = std::max(largest, limit);
    }
    return largest + 64 * 1024;
  }
  return kJsonBodyLimit;
}

void App::Shutdown() { impl_->feed_.Shutdown(); }

const Router& App::router() const { return impl_->router_; }

}  // namespace siteledger::server
