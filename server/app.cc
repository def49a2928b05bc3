#include "server/app.h"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>

#include "server/event_feed.h"
#include "server/internal/admin_page.h"
#include "server/internal/backups.h"
#include "server/internal/call.h"
#include "server/internal/erase_users.h"
#include "server/internal/finisher.h"
#include "server/internal/install_keys.h"
#include "server/internal/lifecycle_api.h"
#include "server/internal/media_api.h"
#include "server/internal/operator_api.h"
#include "server/internal/public_routes.h"
#include "server/internal/rate_limiter.h"
#include "server/internal/request_parts.h"
#include "server/internal/residency.h"
#include "server/internal/tenant_api.h"
#include "server/internal/tenant_auth.h"
#include "server/jwt.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/openapi.h"
#include "server/problem.h"
#include "storage/base/utf8.h"

namespace siteledger::server {
namespace {

constexpr size_t kJsonBodyLimit = 1 << 20;
// Region-to-region messages carry batches of events and media.
constexpr size_t kPeerBodyLimit = 64 << 20;

// Uploads may be as large as the largest media kind allows, plus room for a
// multipart envelope; everything else is JSON.
size_t UploadLimit(const Config& config) {
  size_t largest = 0;
  for (const auto& [kind, limit] : config.media_max_bytes) {
    largest = std::max(largest, limit);
  }
  return largest + 64 * 1024;
}

// The path of the base URL, which canonical requests leave out.
std::string BasePath(const std::string& base_url) {
  const size_t scheme = base_url.find("://");
  const size_t slash = scheme == std::string::npos
                           ? std::string::npos
                           : base_url.find('/', scheme + 3);
  return slash == std::string::npos ? std::string() : base_url.substr(slash);
}

// Whether the route reads query parameter `name` (as one value).
bool ReadsQuery(const RouteSpec& route, std::string_view name) {
  if (name == "jwt") return true;
  if (route.as_of && name == "as_of") return true;
  if (route.is_list() && (name == "cursor" || name == "limit")) return true;
  return std::any_of(route.query.begin(), route.query.end(),
                     [&](const QueryParamDoc& q) { return q.name == name; });
}

// InvalidArgument naming the first path parameter, query parameter or
// query name that is not valid UTF-8 once decoded, or a parameter the route
// reads that is sent twice.
Status CheckText(const Call& call) {
  for (const auto& [name, value] : call.params) {
    if (!ValidUtf8(value)) {
      return Status::InvalidArgument("path parameter '" + name +
                                     "' is not valid UTF-8");
    }
  }
  for (size_t i = 0; i < call.query_params.size(); ++i) {
    const auto& [name, value] = call.query_params[i];
    // A parameter the route reads takes one value: a repeated one would be
    // read first here and sorted into the qsh, two different requests.
    // Others may repeat (the qsh joins their values).
    for (size_t j = 0; j < i && ReadsQuery(*call.route, name); ++j) {
      if (call.query_params[j].first == name) {
        return Status::InvalidArgument("query parameter '" + name +
                                       "' is repeated; send it once");
      }
    }
    if (!ValidUtf8(name)) {
      return Status::InvalidArgument(
          "a query parameter name is not valid "
          "UTF-8");
    }
    if (!ValidUtf8(value)) {
      return Status::InvalidArgument("query parameter '" + name +
                                     "' is not valid UTF-8");
    }
  }
  return Status::Ok();
}

// The peer secret, or empty (logged) when there is none to read.
std::string PeerSecret(const Config& config) {
  if (config.peer_secret_file.empty()) return "";
  auto secret = LoadPeerSecret(config.peer_secret_file);
  if (!secret) {
    Log("error", "no peer secret", {{"error", secret.error().message()}});
    return "";
  }
  return std::move(*secret);
}

// The request's id: its X-Request-Id when that is 1 to 128 characters of
// letters, digits and `-_.:/+=@` (what tracing systems send), else a new
// one: 32 hex digits, a random per-process prefix and a counter, unique
// without a lock or a system call per request. A header that does not
// qualify is replaced, never refused: it is for correlation, not identity.
std::string RequestIdOf(const HttpRequest& request) {
  std::string_view given = request.Header("x-request-id");
  if (!given.empty() && given.size() <= 128 &&
      std::all_of(given.begin(), given.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) ||
               std::string_view("-_.:/+=@").find(c) != std::string_view::npos;
      })) {
    return std::string(given);
  }
  static const uint64_t prefix = [] {
    uint64_t v = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) {
      v = static_cast<uint64_t>(
          std::chrono::system_clock::now().time_since_epoch().count());
    }
    return v;
  }();
  static std::atomic<uint64_t> counter{0};
  char id[33];
  std::snprintf(id, sizeof id, "%016llx%016llx",
                static_cast<unsigned long long>(prefix),
                static_cast<unsigned long long>(
                    counter.fetch_add(1, std::memory_order_relaxed)));
  return id;
}

std::vector<std::string> RouteNames(const Router& router) {
  std::vector<std::string> names;
  for (const Route& route : router.routes()) names.push_back(route.pattern);
  return names;
}

}  // namespace

// The app's parts, each given only what it uses. Members are declared in the
// order they depend on each other.
class App::Impl {
 public:
  Impl(storage::Store& store, Config config, TestClock* test_clock,
       std::shared_ptr<const storage::MasterKey> media_url_key)
      : config_(std::move(config)),
        peer_origins_(PeerOrigins(config_)),
        log_(store.log()),
        routes_(BuildRouteTable({.test_clock = test_clock != nullptr})),
        router_(BuildRouter(routes_)),
        metrics_(RouteNames(router_)),
        projector_(store.log(), store.clock(),
                   projections::Projector::Options{
                       .session_cache_bytes = config_.view_cache_bytes,
                       .view_cache_bytes = config_.view_cache_bytes,
                       .media_quota_bytes = config_.media_quota_bytes}),
        feed_(store.log(), store.clock(), FormatEvent),
        finisher_(metrics_, store.access_log(), store.audit(), store.clock()),
        auth_(store.registry(), store.clock(), BasePath(config_.base_url)),
        limiter_(config_.tenant_rate, config_.tenant_burst),
        tenant_api_(projector_, store.log(), feed_, finisher_, store.clock()),
        media_api_(projector_, store.log(), feed_, finisher_, auth_,
                   store.clock(), config_, std::move(media_url_key)),
        install_keys_(config_.install_keys_url),
        lifecycle_(store.registry(), store.audit(), auth_, projector_,
                   finisher_, store.clock(), config_.base_url, install_keys_),
        operators_(
            OperatorApi::Deps{
                .registry = store.registry(),
                .audit = store.audit(),
                .access_log = store.access_log(),
                .log = store.log(),
                .projector = projector_,
                .tenant_api = tenant_api_,
                .feed = feed_,
                .finisher = finisher_,
                .clock = store.clock(),
                .test_clock = test_clock,
                .tenant_bytes =
                    [&store](TenantId t) { return store.TenantBytes(t); },
                .residency =
                    [this](const CallPtr& call) { residency_.Serve(call); },
                .erase_users =
                    [this](const CallPtr& call) { erase_users_.Serve(call); },
                .backup =
                    [this, &store](const CallPtr& call) {
                      ServeBackup(store, finisher_, call);
                    },
                .config = &config_},
            config_.operators_file),
        residency_(ResidencyApi::Deps{
            .store = store,
            .projector = projector_,
            .auth = auth_,
            .finisher = finisher_,
            .metrics = metrics_,
            .config = config_,
            .peer_secret = PeerSecret(config_),
            .relay =
                [this](HttpRequest request, Responder respond,
                       std::string audience) {
                  HandleRelayed(std::move(request), std::move(respond),
                                std::move(audience));
                }}),
        erase_users_(EraseUsersApi::Deps{.store = store,
                                         .projector = projector_,
                                         .feed = feed_,
                                         .finisher = finisher_,
                                         .config = config_,
                                         .admit_write =
                                             [this](const Call& call) {
                                               return residency_.AdmitWrite(
                                                   call);
                                             }}),
        public_(store, metrics_, feed_, finisher_, config_,
                BuildOpenApi(routes_, config_.base_url).Dump()) {}

  ~Impl() { Shutdown(); }

  void Handle(HttpRequest request, Responder respond) {
    HandleRelayed(std::move(request), std::move(respond), "");
  }
  void HandleRelayed(HttpRequest request, Responder respond,
                     std::string relay_audience);
  void Start() { residency_.Start(); }
  Status ReloadOperators() { return operators_.ReloadOperators(); }
  // Nothing of the app may be called back once it is gone: the appends it
  // queued complete (and are answered, logged and audited) first.
  void Shutdown() {
    erase_users_.Shutdown();  // its appends answered before the log stops
    residency_.Shutdown();
    feed_.Shutdown();
    install_keys_.Shutdown();  // lifecycle calls waiting for a key: 503
    log_.WaitForAppends();
  }
  size_t BodyLimit(std::string_view method, std::string_view target) const;
  const Router& router() const { return router_; }
  std::span<const RouteSpec> routes() const { return routes_; }

 private:
  void Dispatch(const CallPtr& call);
  std::string ClientIp(const HttpRequest& request) const;

  const Config config_;
  // The origins of the peers' base URLs: the only ones CORS answers.
  const std::vector<std::string> peer_origins_;
  storage::EventLog& log_;  // waited for on shutdown
  const std::vector<RouteSpec> routes_;
  const Router router_;
  Metrics metrics_;
  projections::Projector projector_;
  EventFeed feed_;
  Finisher finisher_;
  TenantAuth auth_;
  RateLimiter limiter_;
  TenantApi tenant_api_;
  MediaApi media_api_;
  InstallKeys install_keys_;
  LifecycleApi lifecycle_;
  OperatorApi operators_;
  ResidencyApi residency_;
  EraseUsersApi erase_users_;
  PublicRoutes public_;
};

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

void App::Impl::HandleRelayed(HttpRequest request, Responder respond,
                              std::string relay_audience) {
  auto call = std::make_shared<Call>();
  call->relay_audience = std::move(relay_audience);
  call->start = std::chrono::steady_clock::now();
  call->client_ip = ClientIp(request);
  call->request_id = RequestIdOf(request);
  call->head = request.method == "HEAD";
  const std::string& target = request.target;
  const size_t q = target.find('?');
  call->path = target.substr(0, q);
  if (q != std::string::npos) call->query = target.substr(q + 1);
  call->query_params = ParseQuery(call->query);
  call->request = std::move(request);
  call->respond = std::move(respond);

  // The administration page of one region calls the tenant API of another
  // once the site lives there: each region allows its peers' origins (and
  // only them) to read its answers. Credentials are a header, never cookies.
  if (std::string_view origin = call->request.Header("origin");
      !origin.empty() && call->path.starts_with("/api/v1/")) {
    if (std::find(peer_origins_.begin(), peer_origins_.end(), origin) !=
        peer_origins_.end()) {
      call->cors_origin = std::string(origin);
    }
  }
  if (call->request.method == "OPTIONS" && !call->cors_origin.empty() &&
      !call->request.Header("access-control-request-method").empty()) {
    call->route_label = "preflight";
    HttpResponse r;
    r.status = 204;
    r.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE");
    r.Set("Access-Control-Allow-Headers",
          "Authorization, Content-Type, If-Match, Idempotency-Key");
    r.Set("Access-Control-Max-Age", "600");
    return finisher_.Finish(call, std::move(r));
  }

  RouteMatch match = router_.Match(call->request.method, call->path);
  if (match.route == nullptr) {
    call->route_label = "unmatched";
    if (match.path_known) {
      HttpResponse r = Problem(405, "this route answers " + match.allow);
      r.Set("Allow", match.allow);
      return finisher_.Finish(call, std::move(r));
    }
    return finisher_.Finish(call, Problem(404, "no route for this path"));
  }
  call->route = &routes_[static_cast<size_t>(match.route->handler)];
  call->route_label = match.route->pattern;
  call->route_index = match.route->index;
  call->params = std::move(match.params);
  // Every text that enters is UTF-8, or nothing is done with it: a decoded
  // path or query that is not would reach events and views.
  if (Status s = CheckText(*call); !s.ok()) {
    return finisher_.Fail(call, s);
  }
  Dispatch(call);
}

void App::Impl::Dispatch(const CallPtr& call) {
  const RouteSpec& route = *call->route;
  switch (route.handler) {
    case Handler::kPublic:
      return public_.Serve(call);
    case Handler::kLifecycle:
      // A tenant whose home is another region is installed, uninstalled,
      // enabled and disabled there.
      if (call->relay_audience.empty() && residency_.RelayLifecycle(call)) {
        return;
      }
      return lifecycle_.Serve(call);
    case Handler::kOperator:
      return operators_.Serve(call);
    case Handler::kResidency:
      if (route.access == Access::kOperator) return operators_.Serve(call);
      return residency_.Serve(call);
    case Handler::kTenantApi:
    case Handler::kMedia:
      break;
  }
  if (route.access == Access::kTenant) {
    // A tenant whose home is another region is served there: a 307 before
    // anything else, never data.
    if (auto redirect = residency_.Redirect(*call)) {
      return finisher_.Finish(call, std::move(*redirect));
    }
    if (Status s = auth_.Authenticate(*call, /*allow_context_qsh=*/true);
        !s.ok()) {
      return finisher_.Fail(call, s);
    }
    // One tenant flooding the server is throttled; the others are served.
    int retry_after = 0;
    if (!limiter_.Admit(call->tenant, RateLimiter::Clock::now(), retry_after)) {
      HttpResponse r =
          Problem(429, "this site made more requests than its limit of " +
                           std::to_string(config_.tenant_rate) +
                           " a second allows; retry after " +
                           std::to_string(retry_after) + " s");
      r.Set("Retry-After", std::to_string(retry_after));
      metrics_.CountRateLimited();
      return finisher_.Finish(call, std::move(r));
    }
    const std::string& method = call->request.method;
    if (method != "GET" && method != "HEAD") {
      auto ticket = residency_.AdmitWrite(*call);
      if (!ticket) return finisher_.Fail(call, ticket.error());
      call->write_ticket = std::move(*ticket);
    }
    tenant_api_.RecordUserSeen(*call);
  }
  if (route.handler == Handler::kMedia) return media_api_.Serve(call);
  tenant_api_.Serve(call);
}

size_t App::Impl::BodyLimit(std::string_view method,
                            std::string_view target) const {
  if (method == "POST" && target.starts_with(kPeerPrefix)) {
    return kPeerBodyLimit;
  }
  if (method == "POST" &&
      (target == "/api/v1/media" || target.starts_with("/api/v1/media?"))) {
    return UploadLimit(config_);
  }
  return kJsonBodyLimit;
}

size_t App::LargestBody(const Config& config) {
  return std::max({kJsonBodyLimit, UploadLimit(config),
                   config.peers.empty() ? size_t{0} : kPeerBodyLimit});
}

App::App(storage::Store& store, Config config, TestClock* test_clock,
         std::shared_ptr<const storage::MasterKey> media_url_key)
    : impl_(std::make_unique<Impl>(store, std::move(config), test_clock,
                                   std::move(media_url_key))) {}

Status App::ReloadOperators() { return impl_->ReloadOperators(); }

App::~App() = default;

void App::Handle(HttpRequest request, Responder respond) {
  impl_->Handle(std::move(request), std::move(respond));
}

size_t App::BodyLimit(std::string_view method, std::string_view target) const {
  return impl_->BodyLimit(method, target);
}

void App::Shutdown() { impl_->Shutdown(); }

void App::Start() { impl_->Start(); }

const Router& App::router() const { return impl_->router(); }

std::span<const RouteSpec> App::routes() const { return impl_->routes(); }

}  // namespace siteledger::server
