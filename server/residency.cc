// Data residency: the migration driver, the region-to-region routes, the
// tenant's and operators' residency routes, Atlassian's realm-migration
// callbacks, and the sweeper. docs/architecture.md, "Residency".

#include "server/internal/residency.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "projections/json.h"
#include "server/http_client.h"
#include "server/internal/access_log_retention.h"
#include "server/internal/admin_page.h"
#include "server/internal/peer_batch.h"
#include "server/internal/request_parts.h"
#include "server/jwt.h"
#include "server/log.h"
#include "server/problem.h"
#include "storage/backup.h"
#include "storage/base/rfc3339.h"
#include "storage/blob_keys.h"
#include "storage/crypto.h"

namespace siteledger::server {
namespace {

using projections::Json;
using storage::ResidencyState;
using storage::TenantRecord;

constexpr std::chrono::hours kRollbackWindow{7 * 24};
// A copy batch: at most this many events, or payload and media bytes.
constexpr size_t kBatchEvents = 2000;
constexpr size_t kBatchBytes = 8 << 20;
// Cut over once fewer events than this are left to copy (the lock then
// covers only them).
constexpr uint64_t kCutoverTail = 256;
// The longest a cutover waits for writes in flight before giving up (and
// trying again later).
constexpr std::chrono::milliseconds kDrainWrites{2000};
constexpr std::chrono::milliseconds kPeerTimeout{30000};
constexpr size_t kMaxMigrationIdBytes = 128;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(c));
  return s;
}

std::string HashHex(const Hash& h) { return storage::ToHex(h); }

// The path of a region-to-region route about one tenant.
std::string PeerPath(const std::string& client_key, std::string_view suffix) {
  return std::string(kPeerPrefix) + "tenants/" + EncodeRfc3986(client_key) +
         std::string(suffix);
}

// A region-to-region body naming only the migration.
Json MigrationIdBody(const std::string& migration_id) {
  Json body = Json::MakeObject();
  body.Set("migrationId", migration_id);
  return body;
}

std::string NewMigrationId() {
  auto bytes = storage::RandomBytes(12);
  return "m_" + (bytes ? storage::ToHex(*bytes) : std::string("0"));
}

// Test-only kill points, as RocksDB's tests have them: when the environment
// variable SITELEDGERD_CRASH_AT names `point`, the process kills itself
// there (SIGKILL: nothing is flushed or answered), so that an end-to-end
// test can stop either region at each step of the protocol.
void CrashPoint(std::string_view point) {
  static const char* const armed = std::getenv("SITELEDGERD_CRASH_AT");
  if (armed != nullptr && point == armed) {
    Log("warn", "crash point reached; killing the process",
        {{"point", std::string(point)}});
    ::kill(::getpid(), SIGKILL);
  }
}

// A system audit record (a residency step); a failure is logged.
void AuditSystem(storage::AuditLog& audit, std::string action, TenantId tenant,
                 std::string client_key, std::string detail) {
  storage::AuditRecord a;
  a.actor = "system";
  a.action = std::move(action);
  a.tenant = tenant;
  a.client_key = std::move(client_key);
  a.outcome = "ok";
  a.detail = std::move(detail);
  if (auto id = audit.Append(std::move(a)); !id) {
    Log("error", "writing the audit log failed",
        {{"error", id.error().ToString()}});
  }
}

// Answers a relayed lifecycle callback through the relaying call.
class RelaySink final : public Responder::Sink {
 public:
  RelaySink(CallPtr call, Finisher& finisher)
      : call_(std::move(call)), finisher_(finisher) {}
  void Send(HttpResponse response) override {
    finisher_.Finish(call_, std::move(response));
  }
  std::shared_ptr<StreamWriter> Stream(HttpResponse,
                                       std::function<void()>) override {
    return nullptr;
  }
  void Post(std::function<void()> work) override {
    call_->respond.Post(std::move(work));
  }

 private:
  CallPtr call_;
  Finisher& finisher_;
};

}  // namespace

std::optional<HttpResponse> HomeRedirect(const Config& config,
                                         const TenantRecord& record,
                                         std::string_view target) {
  if (record.home_region.empty() || record.home_region == config.region) {
    return std::nullopt;
  }
  auto peer = config.peers.find(record.home_region);
  if (peer == config.peers.end()) {
    return Problem(503, "this site's data lives in region " +
                            record.home_region +
                            ", which this region cannot reach");
  }
  HttpResponse r;
  r.status = 307;
  r.Set("Location", peer->second + std::string(target));
  r.Set("Cache-Control", "no-store");
  r.Set("Content-Type", "application/problem+json");
  Json body = Json::MakeObject();
  body.Set("type", "about:blank");
  body.Set("title", "Temporary Redirect");
  body.Set("status", 307);
  body.Set("detail", "this site's data lives in region " + record.home_region);
  r.body = body.Dump();
  return r;
}

Result<std::string> LoadPeerSecret(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Err(
        Status::IOError("--peer-secret-file: cannot read " + path.string()));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string secret = ss.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
    secret.pop_back();
  }
  if (secret.size() < 32) {
    return Err(
        Status::InvalidArgument("--peer-secret-file: " + path.string() +
                                " must hold at least 32 bytes (an HS256 key)"));
  }
  return secret;
}

// What a copy has done so far, for GET /api/v1/residency.
struct ResidencyApi::Progress {
  std::atomic<uint64_t> events_copied{0};
  std::atomic<uint64_t> events_total{0};
  std::atomic<uint64_t> media_copied{0};
  std::atomic<uint64_t> media_total{0};
  std::atomic<uint64_t> bytes_copied{0};
  std::chrono::steady_clock::time_point started =
      std::chrono::steady_clock::now();
  uint64_t events_at_start = 0;
};

// Writes in flight per tenant, and the tenants locked for a cutover.
class ResidencyApi::WriteGate {
 public:
  // A ticket, or nullptr while the tenant is locked.
  std::shared_ptr<void> TryEnter(TenantId tenant) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    Entry& e = map_[tenant.value()];
    if (e.locked) return nullptr;
    ++e.inflight;
    // Non-null (the gate itself) so that it tests true; the deleter only
    // counts the write out.
    return std::shared_ptr<void>(static_cast<void*>(this),
                                 [this, tenant](void*) { Leave(tenant); });
  }
  // Locks the tenant and waits for its writes in flight; false (unlocked
  // again) if they take longer than `wait`.
  bool Lock(TenantId tenant, std::chrono::milliseconds wait) EXCLUDES(mu_) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    MutexLock lock(mu_);
    map_[tenant.value()].locked = true;
    while (map_[tenant.value()].inflight != 0) {
      if (!drained_.WaitUntil(mu_, deadline) &&
          map_[tenant.value()].inflight != 0) {
        Release(tenant.value());
        return false;
      }
    }
    return true;
  }
  void Unlock(TenantId tenant) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    Release(tenant.value());
  }

 private:
  struct Entry {
    int inflight = 0;
    bool locked = false;
  };
  void Leave(TenantId tenant) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    auto it = map_.find(tenant.value());
    if (it == map_.end()) return;
    if (--it->second.inflight == 0) {
      if (!it->second.locked) map_.erase(it);
      drained_.SignalAll();
    }
  }
  void Release(uint64_t tenant) REQUIRES(mu_) {
    auto it = map_.find(tenant);
    if (it == map_.end()) return;
    it->second.locked = false;
    if (it->second.inflight == 0) map_.erase(it);
  }
  Mutex mu_;
  CondVar drained_;
  std::unordered_map<uint64_t, Entry> map_ GUARDED_BY(mu_);
};

ResidencyApi::ResidencyApi(Deps deps)
    : d_(std::move(deps)),
      store_(d_.store),
      region_(d_.config.region),
      gate_(std::make_unique<WriteGate>()) {}

ResidencyApi::~ResidencyApi() { Shutdown(); }

void ResidencyApi::Start() {
  {
    MutexLock lock(mu_);
    if (started_) return;
    started_ = true;
  }
  driver_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sl-migrate");
    DriverLoop();
  });
  sweeper_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sl-sweep");
    SweepLoop();
  });
  auto in_flight = store_.registry().InFlight();
  if (!in_flight) {
    Log("error", "cannot list the migrations under way",
        {{"error", in_flight.error().ToString()}});
    return;
  }
  for (TenantId t : *in_flight) Enqueue(t);
}

void ResidencyApi::Shutdown() {
  stopping_.store(true);
  {
    MutexLock lock(mu_);
    wake_.SignalAll();
  }
  if (driver_.joinable()) driver_.join();
  if (sweeper_.joinable()) sweeper_.join();
}

bool ResidencyApi::Sleep(std::chrono::milliseconds d) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  MutexLock lock(mu_);
  while (!stopping_.load() && wake_.WaitUntil(mu_, deadline)) {
  }
  return !stopping_.load();
}

std::string ResidencyApi::BaseUrlOf(const std::string& region) const {
  if (region == region_) return d_.config.base_url;
  auto it = d_.config.peers.find(region);
  return it == d_.config.peers.end() ? std::string() : it->second;
}

void ResidencyApi::SetError(TenantId tenant, std::string error) {
  MutexLock lock(mu_);
  if (error.empty()) {
    errors_.erase(tenant.value());
  } else {
    errors_[tenant.value()] = std::move(error);
  }
}

Status ResidencyApi::Save(TenantRecord& rec) {
  SL_RETURN_IF_ERROR(store_.registry().Update(rec));
  d_.auth.Forget(rec.client_key);
  return Status::Ok();
}

// ----- the peer channel ------------------------------------------------

Result<ResidencyApi::PeerAnswer> ResidencyApi::CallPeer(
    const std::string& region, std::string method, std::string path,
    const Json* body, std::chrono::milliseconds timeout) {
  auto peer = d_.config.peers.find(region);
  if (peer == d_.config.peers.end()) {
    return Err(
        Status::InvalidArgument("no peer is configured for region " + region));
  }
  if (d_.peer_secret.empty()) {
    return Err(Status::InvalidArgument("no --peer-secret-file"));
  }
  const size_t q = path.find('?');
  const std::string bare = path.substr(0, q);
  const std::string query = q == std::string::npos ? "" : path.substr(q + 1);
  // The peer's base path, which its canonical requests leave out.
  std::string base_path;
  if (const size_t scheme = peer->second.find("://");
      scheme != std::string::npos) {
    const size_t slash = peer->second.find('/', scheme + 3);
    if (slash != std::string::npos) base_path = peer->second.substr(slash);
  }
  const int64_t now_s = MillisOf(store_.clock().Now()) / 1000;
  Json claims = Json::MakeObject();
  claims.Set("iss", "siteledger:" + region_);
  claims.Set("iat", now_s);
  claims.Set("exp", now_s + 120);
  claims.Set("qsh",
             QueryStringHash(method, base_path + bare, query, base_path));
  OutboundRequest request;
  request.method = method;
  request.url = peer->second + path;
  request.headers.emplace_back("Authorization",
                               "JWT " + SignHs256(claims, d_.peer_secret));
  if (body != nullptr) {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = body->Dump();
  }
  request.timeout = timeout;
  request.max_response_bytes = 4 << 20;
  request.cancel = &stopping_;
  request.ca_file = d_.config.peer_ca_file.string();
  auto response = Fetch(request);
  if (!response) return Err(response.error());
  PeerAnswer answer;
  answer.status = response->status;
  if (!response->body.empty()) {
    auto parsed = projections::ParseJson(response->body, PeerJsonLimits());
    if (parsed) answer.body = std::move(*parsed);
  }
  return answer;
}

Status ResidencyApi::VerifyPeer(const Call& call, std::string& region) const {
  if (d_.peer_secret.empty()) {
    return Status::Unauthenticated("this region has no peers");
  }
  auto token = TokenOf(call, "JWT");
  if (!token) return token.error();
  auto jwt = ParseJwt(*token);
  if (!jwt) return jwt.error();
  if (jwt->alg() != "HS256") {
    return Status::Unauthenticated("a peer token is HS256");
  }
  SL_RETURN_IF_ERROR(VerifyHs256(*jwt, d_.peer_secret));
  if (auto exp = CheckTokenTimes(*jwt, store_.clock().Now()); !exp) {
    return exp.error();
  }
  const std::string iss(jwt->claims.GetString("iss"));
  if (!iss.starts_with("siteledger:") ||
      !d_.config.peers.contains(iss.substr(11))) {
    return Status::Unauthenticated("the token's iss is not a known region");
  }
  if (!storage::ConstantTimeEquals(
          jwt->claims.GetString("qsh"),
          QueryStringHash(call.request.method, call.path, call.query,
                          d_.auth.base_path()))) {
    return Status::Unauthenticated("the token's qsh does not match");
  }
  region = iss.substr(11);
  return Status::Ok();
}

// ----- the request side ------------------------------------------------

std::optional<HttpResponse> ResidencyApi::Redirect(const Call& call) {
  std::string_view auth = call.request.Header("authorization");
  std::string token;
  if (auth.size() > 4 && Lower(std::string(auth.substr(0, 4))) == "jwt ") {
    token = std::string(auth.substr(4));
  } else if (auto q = call.Query("jwt")) {
    token = *q;
  }
  if (token.empty()) return std::nullopt;
  auto jwt = ParseJwt(token);
  if (!jwt) return std::nullopt;
  const std::string iss(jwt->claims.GetString("iss"));
  if (iss.empty()) return std::nullopt;
  auto record = d_.auth.ByClientKey(iss);
  if (!record) return std::nullopt;
  return HomeRedirect(d_.config, **record, call.request.target);
}

Result<std::shared_ptr<void>> ResidencyApi::AdmitWrite(const Call& call) {
  if (call.record && !call.record->residency.writable()) {
    return Err(Status::Unavailable(
        "a residency migration is finishing; try again in a moment"));
  }
  auto ticket = gate_->TryEnter(call.tenant);
  if (!ticket) {
    return Err(Status::Unavailable(
        "a residency migration is finishing; try again in a moment"));
  }
  // The record as it is now: a change of home happens while the gate is
  // locked, so what the ticket holder reads here is the latest.
  if (call.record) {
    auto now = d_.auth.ByClientKey(call.record->client_key);
    if (!now) return Err(now.error());
    if ((*now)->home_region != region_ || !(*now)->residency.writable()) {
      return Err(Status::Unavailable(
          "the site's data is changing region; try again in a moment"));
    }
  }
  return ticket;
}

bool ResidencyApi::RelayLifecycle(const CallPtr& call) {
  if (call->request.Header("x-siteledger-relayed") == "1") return false;
  auto body = projections::ParseJson(call->request.body);
  if (!body || !body->is_object()) return false;
  const std::string client_key(body->GetString("clientKey"));
  if (client_key.empty()) return false;
  auto record = d_.auth.ByClientKey(client_key);
  if (!record) return false;
  const std::string home = (*record)->home_region;
  if (home.empty() || home == region_) return false;
  Json relay = Json::MakeObject();
  relay.Set("target", call->request.target);
  relay.Set("authorization",
            std::string(call->request.Header("authorization")));
  relay.Set("body", call->request.body);
  relay.Set("baseUrl", d_.config.base_url);
  auto answer = CallPeer(home, "POST", std::string(kPeerPrefix) + "relay",
                         &relay, kPeerTimeout);
  if (!answer) {
    d_.finisher.Fail(call, Status::Unavailable("the site's home region " +
                                               home + " cannot be reached: " +
                                               answer.error().message()));
    return true;
  }
  HttpResponse r;
  r.status = static_cast<int>(answer->status);
  if (!answer->body.is_null()) {
    r.Set("Content-Type",
          r.status >= 400 ? "application/problem+json" : "application/json");
    r.body = answer->body.Dump();
  }
  d_.finisher.Finish(call, std::move(r));
  return true;
}

// ----- routes ----------------------------------------------------------

Json ResidencyApi::ResidencyJson(const TenantRecord& rec) {
  Json j = Json::MakeObject();
  const bool here = rec.home_region.empty() || rec.home_region == region_;
  const std::string home = here ? region_ : rec.home_region;
  j.Set("region", home);
  j.Set("homeBaseUrl", BaseUrlOf(home));
  std::string state = "home";
  if (here) {
    switch (rec.residency.state) {
      case ResidencyState::kCopying:
        state = "copying";
        break;
      case ResidencyState::kCutover:
        state = "cutover";
        break;
      case ResidencyState::kRollingBack:
        state = "rolling-back";
        break;
      default:
        break;
    }
  }
  j.Set("state", state);
  j.Set("migrationId", rec.residency.migration_id.empty()
                           ? Json()
                           : Json(rec.residency.migration_id));
  std::shared_ptr<Progress> progress;
  std::string error;
  {
    MutexLock lock(mu_);
    if (auto it = progress_.find(rec.id.value()); it != progress_.end()) {
      progress = it->second;
    }
    if (auto it = errors_.find(rec.id.value()); it != errors_.end()) {
      error = it->second;
    }
  }
  j.Set("lastError", error.empty() ? Json() : Json(error));
  if (here && rec.residency.state == ResidencyState::kCopying && progress) {
    Json p = Json::MakeObject();
    const uint64_t copied = progress->events_copied.load();
    const uint64_t total = progress->events_total.load();
    p.Set("eventsCopied", copied);
    p.Set("eventsTotal", total);
    p.Set("mediaCopied", progress->media_copied.load());
    p.Set("mediaTotal", progress->media_total.load());
    p.Set("bytesCopied", progress->bytes_copied.load());
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                      progress->started)
            .count();
    const double rate =
        secs > 0 ? static_cast<double>(
                       copied - std::min(copied, progress->events_at_start)) /
                       secs
                 : 0;
    // Json holds integers: the rate in whole events per second.
    p.Set("rate", static_cast<int64_t>(rate));
    p.Set(
        "etaSeconds",
        rate > 0
            ? Json(static_cast<int64_t>(
                  static_cast<double>(total - std::min(total, copied)) / rate))
            : Json());
    j.Set("progress", std::move(p));
  } else {
    j.Set("progress", Json());
  }
  // The rollback deadline: on the new home, 7 days after the move; on the
  // old one, while it keeps its frozen copy.
  std::optional<Timestamp> deadline;
  const Timestamp now = store_.clock().Now();
  if (here && !rec.residency.moved_from.empty() && rec.residency.moved_at) {
    deadline = *rec.residency.moved_at + kRollbackWindow;
  } else if (!here && rec.residency.state == ResidencyState::kMoved &&
             rec.residency.moved_at) {
    deadline = *rec.residency.moved_at + kRollbackWindow;
  }
  if (deadline && *deadline <= now) deadline.reset();
  j.Set("rollbackDeadline", deadline ? Json(FormatRfc3339(*deadline)) : Json());
  j.Set("movedFrom", here && !rec.residency.moved_from.empty()
                         ? Json(rec.residency.moved_from)
                         : Json());
  return j;
}

namespace {

// The administration page's token for the authenticated call's user, and
// when it expires.
struct PageToken {
  std::string token;
  std::string expires_at;
};
PageToken MintPageToken(const Call& call, Timestamp now) {
  return {AdminPageToken(call.record->client_key, call.actor,
                         call.record->shared_secret, now),
          FormatRfc3339(now + kAdminPageTokenLifetime)};
}

}  // namespace

void ResidencyApi::Serve(const CallPtr& call) {
  Finisher& f = d_.finisher;
  switch (call->route->action) {
    case Action::kResidencyGet:
    case Action::kResidencyMigrate:
    case Action::kResidencyRollback: {
      // GET answers wherever the tenant has a record, tombstones included;
      // a tombstone holds no secret to verify a token with, and says only
      // where the tenant went.
      auto token = TokenOf(*call, "JWT");
      std::string iss;
      if (token) {
        if (auto jwt = ParseJwt(*token)) {
          iss = std::string(jwt->claims.GetString("iss"));
        }
      }
      if (call->route->action == Action::kResidencyGet && !iss.empty()) {
        auto rec = d_.auth.ByClientKey(iss);
        if (rec && (*rec)->shared_secret.empty()) {
          return f.Finish(call, JsonResponse(200, ResidencyJson(**rec)));
        }
      }
      if (call->route->action != Action::kResidencyGet) {
        if (auto r = Redirect(*call)) return f.Finish(call, std::move(*r));
      }
      if (Status s = d_.auth.Authenticate(*call, /*allow_context_qsh=*/true);
          !s.ok()) {
        return f.Fail(call, s);
      }
      const TenantRecord rec = *call->record;
      if (call->route->action == Action::kResidencyGet) {
        return f.Finish(call, JsonResponse(200, ResidencyJson(rec)));
      }
      if (!call->admin_page) {
        return f.Fail(
            call,
            Status::PermissionDenied(
                "moving a site's data needs the administration page's token: "
                "open the app's Data residency page in Confluence's "
                "administration (Manage apps); an ordinary user's token "
                "cannot start a migration or a rollback"));
      }
      if (call->route->action == Action::kResidencyRollback) {
        return ServeRollback(call, rec);
      }
      auto body = JsonBodyOf(*call, BodyUse::kRequired);
      if (!body) return f.Fail(call, body.error());
      return ServeStart(call, rec,
                        Lower(std::string(body->GetString("target"))),
                        NewMigrationId());
    }
    case Action::kAdminPage:
      return ServeAdminPage(call);
    case Action::kAdminPageToken: {
      if (auto r = Redirect(*call)) return f.Finish(call, std::move(*r));
      if (Status s = d_.auth.Authenticate(*call, /*allow_context_qsh=*/true);
          !s.ok()) {
        return f.Fail(call, s);
      }
      if (!call->admin_page) {
        return f.Fail(call, Status::PermissionDenied(
                                "only the administration page's token can be "
                                "renewed"));
      }
      const PageToken page = MintPageToken(*call, store_.clock().Now());
      Json body = Json::MakeObject();
      body.Set("token", page.token);
      body.Set("expiresAt", page.expires_at);
      HttpResponse r = JsonResponse(200, body);
      r.Set("Cache-Control", "no-store");
      return f.Finish(call, std::move(r));
    }
    case Action::kAdminMigrationGet:
      return f.Finish(call, JsonResponse(200, ResidencyJson(*call->record)));
    case Action::kAdminMigrationStart: {
      auto body = JsonBodyOf(*call, BodyUse::kRequired);
      if (!body) return f.Fail(call, body.error());
      return ServeStart(call, *call->record,
                        Lower(std::string(body->GetString("target"))),
                        NewMigrationId());
    }
    case Action::kAdminMigrationRollback:
      return ServeRollback(call, *call->record);
    case Action::kAdminSweep:
      return ServeSweep(call);
    case Action::kDareSchedule:
    case Action::kDareStart:
    case Action::kDareStatus:
    case Action::kDareCommit:
    case Action::kDareRollback:
      return ServeDare(call);
    default:
      return ServePeer(call);
  }
}

void ResidencyApi::ServeAdminPage(const CallPtr& call) {
  Finisher& f = d_.finisher;
  // Confluence loads the page from the region the site lives in; a page
  // asked of another region is sent there, token and all (its qsh binds
  // method, path and query, not the host).
  if (auto r = Redirect(*call)) return f.Finish(call, std::move(*r));
  if (Status s = d_.auth.Authenticate(*call, /*allow_context_qsh=*/false);
      !s.ok()) {
    const int status = s.code() == StatusCode::kUnauthenticated    ? 401
                       : s.code() == StatusCode::kPermissionDenied ? 403
                                                                   : 503;
    std::string why = s.message();
    if (s.code() != StatusCode::kUnauthenticated &&
        s.code() != StatusCode::kPermissionDenied) {
      why = "the service cannot check the page's token now; try again";
    }
    return f.Finish(call, AdminPageError(status, why));
  }
  if (call->actor.empty()) {
    return f.Finish(
        call, AdminPageError(403,
                             "the page's token names no user (no sub): "
                             "open it as a signed-in site administrator"));
  }
  const Timestamp now = store_.clock().Now();
  PageToken page = MintPageToken(*call, now);
  AdminPageContext c;
  c.token = std::move(page.token);
  c.expires_at = std::move(page.expires_at);
  c.now = FormatRfc3339(now);
  c.region = region_;
  for (const auto& [region, url] : d_.config.peers) c.peers.push_back(region);
  c.peer_origins = PeerOrigins(d_.config);
  auto nonce = storage::RandomBytes(18);
  if (!nonce) return f.Fail(call, nonce.error());
  c.nonce = Base64UrlEncode(*nonce);
  return f.Finish(call, AdminPageResponse(c));
}

void ResidencyApi::ServeStart(const CallPtr& call, const TenantRecord& rec,
                              std::string target, std::string migration_id) {
  Finisher& f = d_.finisher;
  if (target.empty()) {
    return f.Fail(call, Status::InvalidArgument("$.target: is required"));
  }
  if (rec.state != storage::LifecycleState::kInstalled) {
    return f.Fail(call, Status::PermissionDenied("the app is uninstalled"));
  }
  if (rec.home_region != region_) {
    return f.Finish(call, Problem(409, "the site's data lives in region " +
                                           rec.home_region + ", not here"));
  }
  if (target == region_) {
    return f.Finish(call,
                    Problem(409, "the site's data is already in " + target));
  }
  if (!d_.config.peers.contains(target)) {
    return f.Finish(call, Problem(422, "no region named '" + target +
                                           "' is configured as a peer"));
  }
  if (rec.residency.state != ResidencyState::kHome) {
    if (rec.residency.state == ResidencyState::kCopying &&
        rec.residency.peer == target) {
      return f.Finish(call, JsonResponse(202, ResidencyJson(rec)));
    }
    return f.Finish(call,
                    Problem(409, "a residency change is already under way (" +
                                     std::string(storage::ResidencyStateName(
                                         rec.residency.state)) +
                                     ")"));
  }
  TenantRecord next = rec;
  next.residency.state = ResidencyState::kCopying;
  next.residency.peer = target;
  next.residency.migration_id = std::move(migration_id);
  next.residency.error_code.clear();
  if (Status s = Save(next); !s.ok()) return f.Fail(call, s);
  SetError(next.id, "");
  Log("info", "residency migration started",
      {{"tenant", static_cast<long long>(next.id.value())},
       {"to", target},
       {"migration", next.residency.migration_id}});
  Enqueue(next.id);
  f.Finish(call, JsonResponse(202, ResidencyJson(next)));
}

void ResidencyApi::ServeRollback(const CallPtr& call, const TenantRecord& rec) {
  Finisher& f = d_.finisher;
  if (rec.home_region != region_) {
    // The old region: the home drives a rollback.
    if (rec.residency.state != ResidencyState::kMoved) {
      return f.Finish(call, Problem(409,
                                    "this region holds no copy of the "
                                    "site to roll back to"));
    }
    Json body = MigrationIdBody(rec.residency.migration_id);
    auto answer =
        CallPeer(rec.home_region, "POST", PeerPath(rec.client_key, "/rollback"),
                 &body, kPeerTimeout);
    if (!answer)
      return f.Fail(call, Status::Unavailable(answer.error().message()));
    HttpResponse r;
    r.status = static_cast<int>(answer->status);
    r.Set("Content-Type",
          r.status >= 400 ? "application/problem+json" : "application/json");
    r.body = answer->body.Dump();
    return f.Finish(call, std::move(r));
  }
  if (Status s = StartRollback(rec); !s.ok()) {
    if (s.code() == StatusCode::kConflict) {
      return f.Finish(call, Problem(409, s.message()));
    }
    return f.Fail(call, s);
  }
  auto now = store_.registry().Get(rec.id);
  if (!now) return f.Fail(call, now.error());
  f.Finish(call, JsonResponse(202, ResidencyJson(*now)));
}

Status ResidencyApi::StartRollback(TenantRecord rec) {
  if (rec.residency.state == ResidencyState::kRollingBack) return Status::Ok();
  if (rec.state != storage::LifecycleState::kInstalled) {
    return Status::Conflict(
        "the app is uninstalled: the site's data waits here for its purge and "
        "does not move");
  }
  if (rec.residency.moved_from.empty() || !rec.residency.moved_at) {
    return Status::Conflict(
        "the site has not moved here: nothing to roll back");
  }
  if (rec.residency.state != ResidencyState::kHome) {
    return Status::Conflict(
        "a residency change is under way (" +
        std::string(storage::ResidencyStateName(rec.residency.state)) + ")");
  }
  const Timestamp deadline = *rec.residency.moved_at + kRollbackWindow;
  if (store_.clock().Now() > deadline) {
    return Status::Conflict("the rollback window ended at " +
                            FormatRfc3339(deadline) +
                            " (7 days after the move)");
  }
  if (!gate_->Lock(rec.id, kDrainWrites)) {
    return Status::Unavailable("writes did not finish; try again");
  }
  rec.residency.state = ResidencyState::kRollingBack;
  rec.residency.peer = rec.residency.moved_from;
  Status s = Save(rec);
  if (s.ok()) CrashPoint("rollback-recorded");
  gate_->Unlock(rec.id);  // the record now refuses writes by itself
  if (!s.ok()) return s;
  Log("info", "residency rollback started",
      {{"tenant", static_cast<long long>(rec.id.value())},
       {"to", rec.residency.peer}});
  Enqueue(rec.id);
  return Status::Ok();
}

// ----- the driver ------------------------------------------------------

void ResidencyApi::Enqueue(TenantId tenant) {
  MutexLock lock(mu_);
  if (queued_.insert(tenant.value()).second) {
    queue_.push_back(tenant);
    wake_.SignalAll();
  }
}

void ResidencyApi::DriverLoop() {
  while (!stopping_.load()) {
    TenantId tenant;
    {
      MutexLock lock(mu_);
      while (!stopping_.load() && queue_.empty()) wake_.Wait(mu_);
      if (stopping_.load()) return;
      tenant = queue_.front();
      queue_.pop_front();
      queued_.erase(tenant.value());
    }
    Drive(tenant);
  }
}

void ResidencyApi::Drive(TenantId tenant) {
  int failures = 0;
  while (!stopping_.load()) {
    auto got = store_.registry().Get(tenant);
    if (!got) {
      Log("error", "residency: cannot read the tenant",
          {{"tenant", static_cast<long long>(tenant.value())},
           {"error", got.error().ToString()}});
      return;
    }
    TenantRecord rec = std::move(*got);
    Result<bool> step = false;
    switch (rec.residency.state) {
      case ResidencyState::kCopying:
        if (auto copied = Copy(rec, /*tail=*/false); !copied) {
          // Conflict: the peer refused the copy, and it was given up.
          if (copied.error().code() == StatusCode::kConflict) return;
          step = Err(copied.error());
        } else {
          step = Cutover(rec, *copied);
        }
        break;
      case ResidencyState::kCutover:
        step = ResolveCutover(rec, 0);
        break;
      case ResidencyState::kRollingBack:
        step = ResolveRollback(rec);
        break;
      default:
        return;  // nothing under way
    }
    if (step) {
      if (*step) return;  // done, or given up (and recorded)
      failures = 0;
      continue;  // the next step
    }
    const Status& s = step.error();
    SetError(tenant, s.message());
    Log("warn", "residency: a step failed; retrying",
        {{"tenant", static_cast<long long>(tenant.value())},
         {"state",
          std::string(storage::ResidencyStateName(rec.residency.state))},
         {"error", s.ToString()}});
    ++failures;
    const auto backoff = std::chrono::milliseconds(
        std::min(30000, 250 * (1 << std::min(failures, 7))));
    if (!Sleep(backoff)) return;
  }
}

// Sends the tenant's events after what the peer holds, in batches, with
// the pseudonyms of their actors and the media they uploaded. Copies until
// fewer than kCutoverTail events are left (or everything, for the tail).
Result<uint64_t> ResidencyApi::Copy(TenantRecord& rec, bool tail) {
  const std::string& peer = rec.residency.peer;
  const std::string base = PeerPath(rec.client_key, "");
  auto progress = std::make_shared<Progress>();
  {
    MutexLock lock(mu_);
    auto [it, inserted] = progress_.try_emplace(rec.id.value(), progress);
    progress = it->second;
  }
  // begin: the peer takes (or already holds) its copy, and says how far.
  Json begin = MigrationIdBody(rec.residency.migration_id);
  begin.Set("clientKey", rec.client_key);
  begin.Set("sharedSecret", rec.shared_secret);
  begin.Set("baseUrl", rec.base_url);
  begin.Set("enabled", rec.enabled);
  begin.Set("createdMs", MillisOf(rec.created));
  auto answer = CallPeer(peer, "POST", base + "/begin", &begin, kPeerTimeout);
  if (!answer) return Err(answer.error());
  if (answer->status != 200) {
    const std::string detail(answer->body.GetString("detail"));
    if (answer->status == 409) {
      Abandon(rec, "region " + peer + " refused the copy: " + detail);
      return Err(Status::Conflict("abandoned"));
    }
    return Err(Status::Unavailable("region " + peer + " answered " +
                                   std::to_string(answer->status) + ": " +
                                   detail));
  }
  uint64_t acked = static_cast<uint64_t>(answer->body.GetInt("seq"));
  std::unordered_set<std::string> sent_actors;
  std::unordered_set<std::string> sent_keys;
  if (progress->events_total.load() == 0) {
    progress->events_at_start = acked;
    uint64_t media = 0;
    auto it = store_.log().NewRowIterator(rec.id, storage::Family::kBlobs);
    if (it) {
      for ((*it)->Seek(""); (*it)->Valid(); (*it)->Next()) ++media;
    }
    progress->media_total.store(media);
  }
  // Behind a writer as fast as the copy, cut over after this many batches
  // anyway: the lock then waits for the rest.
  size_t batches = 0;
  size_t max_batches = 0;
  for (;;) {
    if (stopping_.load()) return Err(Status::Unavailable("shutting down"));
    auto head = store_.log().GetHead(rec.id);
    if (!head) return Err(head.error());
    progress->events_total.store(head->seq.value());
    progress->events_copied.store(acked);
    const uint64_t left =
        head->seq.value() - std::min(acked, head->seq.value());
    if (max_batches == 0) max_batches = 2 * (left / kBatchEvents) + 16;
    if (tail ? left == 0 : (left < kCutoverTail || batches >= max_batches)) {
      return acked;
    }
    ++batches;
    if (acked > head->seq.value()) {
      return Err(Status::Corruption("region " + peer + " holds more events (" +
                                    std::to_string(acked) + ") than the log (" +
                                    std::to_string(head->seq.value()) + ")"));
    }
    // One batch.
    auto events = store_.log().Read(rec.id, Sequence(acked + 1), kBatchEvents);
    if (!events) return Err(events.error());
    if (events->empty()) continue;
    Json batch = MigrationIdBody(rec.residency.migration_id);
    Json items = Json::MakeArray();
    Json pseudonyms = Json::MakeArray();
    Json blobs = Json::MakeArray();
    Json idempotency = Json::MakeArray();
    size_t bytes = 0;
    uint64_t media = 0;
    for (const storage::Event& e : *events) {
      if (bytes >= kBatchBytes && !items.as_array().empty()) break;
      bytes += e.payload.size() + 256;
      if (!e.actor.empty() && sent_actors.insert(e.actor).second) {
        auto account = d_.projector.AccountIdOf(rec.id, e.actor);
        if (!account) return Err(account.error());
        if (*account) {
          Json p = Json::MakeObject();
          p.Set("pseudonym", e.actor);
          p.Set("accountId", **account);
          pseudonyms.Push(std::move(p));
        }
      }
      if (e.type == "media.uploaded") {
        auto payload =
            projections::ParseJson(e.payload, projections::TrustedJsonLimits());
        if (!payload) return Err(payload.error());
        const std::string id(payload->GetString("mediaId"));
        if (!id.empty()) {
          auto blob = store_.log().GetRow(rec.id, storage::Family::kBlobs,
                                          storage::BlobRowKey(id));
          if (!blob) return Err(blob.error());
          if (*blob) {
            bytes += (*blob)->size();
            ++media;
            Json b = Json::MakeObject();
            b.Set("mediaId", id);
            b.Set("data", Base64UrlEncode(**blob));
            blobs.Push(std::move(b));
          }
        }
      }
      // The record of its idempotency key, so that a retry at the new home
      // is answered as here.
      if (!e.idempotency_key.empty() &&
          sent_keys.insert(e.idempotency_key).second) {
        auto record = store_.log().ExportIdempotency(rec.id, e.idempotency_key);
        if (!record) return Err(record.error());
        if (*record) {
          Json r = Json::MakeObject();
          r.Set("key", (*record)->key);
          r.Set("usedMs", (*record)->used_ms);
          r.Set("first", static_cast<int64_t>((*record)->result.first.value()));
          r.Set("last", static_cast<int64_t>((*record)->result.last.value()));
          r.Set("timeMs", MillisOf((*record)->result.time));
          r.Set("fingerprint", HashHex((*record)->fingerprint));
          r.Set("response", (*record)->response);
          idempotency.Push(std::move(r));
        }
      }
      items.Push(EventJson(e));
    }
    batch.Set("events", std::move(items));
    batch.Set("idempotency", std::move(idempotency));
    batch.Set("pseudonyms", std::move(pseudonyms));
    batch.Set("media", std::move(blobs));
    auto imported =
        CallPeer(peer, "POST", base + "/events", &batch, kPeerTimeout);
    if (!imported) return Err(imported.error());
    if (imported->status != 200) {
      const std::string detail(imported->body.GetString("detail"));
      if (imported->status == 409 || imported->status == 422) {
        // The copies disagree: start over from what the peer holds.
        return Err(Status::Unavailable("region " + peer +
                                       " refused a batch: " + detail));
      }
      return Err(Status::Unavailable("region " + peer + " answered " +
                                     std::to_string(imported->status) + ": " +
                                     detail));
    }
    acked = static_cast<uint64_t>(imported->body.GetInt("seq"));
    CrashPoint(tail ? "tail-batch" : "copy-batch");
    progress->events_copied.store(acked);
    progress->media_copied.fetch_add(media);
    progress->bytes_copied.fetch_add(bytes);
  }
}

Result<bool> ResidencyApi::Cutover(TenantRecord& rec, uint64_t verified) {
  // Before the lock: both sides' views as of `verified` (the peer's head)
  // must agree, so that the lock checks only what the tail changes. The
  // whole comparison reads every view; writes go on meanwhile, so the copy
  // and the comparison of what they changed are repeated (each round
  // shorter) until little is left for the lock.
  const std::string base = PeerPath(rec.client_key, "/digest");
  uint64_t since = 0;
  uint64_t checked = 0;  // the last seq compared
  for (int round = 0; round < 4; ++round) {
    auto own = since == 0 ? d_.projector.DigestAt(rec.id, Sequence(verified))
                          : d_.projector.ChangesDigest(rec.id, Sequence(since),
                                                       Sequence(verified));
    if (!own) return Err(own.error());
    std::string query = "?seq=" + std::to_string(verified);
    if (since != 0) query += "&since=" + std::to_string(since);
    auto theirs = CallPeer(rec.residency.peer, "GET", base + query, nullptr,
                           kPeerTimeout);
    if (!theirs) return Err(theirs.error());
    if (theirs->status != 200) {
      return Err(Status::Unavailable(
          "region " + rec.residency.peer + " answered " +
          std::to_string(theirs->status) + " for its digest"));
    }
    if (theirs->body.GetString("digest") != HashHex(*own)) {
      Abandon(rec, "the views of region " + rec.residency.peer +
                       " differ from this region's at seq " +
                       std::to_string(verified));
      return true;
    }
    checked = verified;
    auto copied = Copy(rec, /*tail=*/false);
    if (!copied) {
      if (copied.error().code() == StatusCode::kConflict) return true;
      return Err(copied.error());
    }
    if (*copied - checked < kCutoverTail) break;
    since = checked;
    verified = *copied;
  }
  const auto start = std::chrono::steady_clock::now();
  if (!gate_->Lock(rec.id, kDrainWrites)) {
    return Err(Status::Unavailable("writes in flight did not finish"));
  }
  struct Unlock {
    WriteGate& gate;
    TenantId tenant;
    ~Unlock() { gate.Unlock(tenant); }
  } unlock{*gate_, rec.id};
  // Step 1 of the handshake: this region stops taking writes, durably.
  rec.residency.state = ResidencyState::kCutover;
  SL_RETURN_ERR_IF_ERROR(Save(rec));
  CrashPoint("cutover-locked");
  const auto locked = std::chrono::steady_clock::now();
  const auto tail_from = store_.log().GetHead(rec.id);
  if (auto tail = Copy(rec, /*tail=*/true); !tail) return Err(tail.error());
  const auto copied = std::chrono::steady_clock::now();
  Result<bool> s = ResolveCutover(rec, checked);
  const auto ms = [](auto from, auto to) {
    return static_cast<long long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(to - from)
            .count());
  };
  const auto end = std::chrono::steady_clock::now();
  Log("info", "residency cutover",
      {{"tenant", static_cast<long long>(rec.id.value())},
       {"lock_ms", ms(start, end)},
       {"drain_ms", ms(start, locked)},
       {"tail_ms", ms(locked, copied)},
       {"commit_ms", ms(copied, end)},
       {"tail_from",
        static_cast<long long>(tail_from ? tail_from->seq.value() : 0)},
       {"outcome", s ? "ok" : s.error().message()}});
  return s;
}

// In kCutover: asks the peer to become home (or whether it already is),
// then records the move. Safe to repeat after a crash on either side.
Result<bool> ResidencyApi::ResolveCutover(TenantRecord& rec,
                                          uint64_t verified) {
  const std::string& peer = rec.residency.peer;
  const std::string base = PeerPath(rec.client_key, "");
  auto head = store_.log().GetHead(rec.id);
  if (!head) return Err(head.error());
  auto status = CallPeer(peer, "GET", base, nullptr, kPeerTimeout);
  if (!status) return Err(status.error());
  const std::string peer_state(status->body.GetString("state"));
  const bool same_migration =
      status->body.GetString("migrationId") == rec.residency.migration_id;
  if (status->status == 200 && peer_state == "home" && same_migration) {
    // The peer is home already (it answered before a crash here).
  } else if (status->status == 200 && peer_state == "incoming" &&
             same_migration &&
             static_cast<uint64_t>(status->body.GetInt("seq")) ==
                 head->seq.value()) {
    // Step 2: the peer becomes home if its copy is ours: the same log
    // (head and hash) and the same views changed since `verified` (0 after
    // a crash: every view).
    auto digest =
        d_.projector.ChangesDigest(rec.id, Sequence(verified), head->seq);
    if (!digest) return Err(digest.error());
    Json commit = MigrationIdBody(rec.residency.migration_id);
    commit.Set("seq", static_cast<int64_t>(head->seq.value()));
    commit.Set("hash", HashHex(head->hash));
    commit.Set("since", static_cast<int64_t>(verified));
    commit.Set("changes", HashHex(*digest));
    auto answer =
        CallPeer(peer, "POST", base + "/commit", &commit, kPeerTimeout);
    if (!answer) return Err(answer.error());
    if (answer->status == 409) {
      Abandon(rec, "region " + peer + " did not accept the copy: " +
                       std::string(answer->body.GetString("detail")));
      return true;
    }
    if (answer->status != 200) {
      return Err(Status::Unavailable("region " + peer + " answered " +
                                     std::to_string(answer->status)));
    }
    CrashPoint("cutover-committed");
  } else if (status->status == 200 && peer_state == "incoming" &&
             same_migration) {
    // The peer's copy is behind (a crash during the tail): copy again,
    // still locked.
    rec.residency.state = ResidencyState::kCutover;
    if (auto tail = Copy(rec, /*tail=*/true); !tail) return Err(tail.error());
    return false;  // commit next
  } else {
    // The peer lost its copy, or never became home: the tenant stays here.
    Abandon(rec, "region " + peer + " holds no matching copy (" +
                     (peer_state.empty() ? std::to_string(status->status)
                                         : peer_state) +
                     ")");
    return true;
  }
  // Step 3: this region records the move; its copy is frozen for 7 days.
  const Timestamp now = store_.clock().Now();
  rec.home_region = peer;
  rec.residency.state = ResidencyState::kMoved;
  rec.residency.moved_at = now;
  rec.residency.moved_from.clear();
  rec.residency.cutover_seq = head->seq.value();
  rec.purge_at = now + kRollbackWindow;
  SL_RETURN_ERR_IF_ERROR(Save(rec));
  d_.projector.Forget(rec.id);
  {
    MutexLock lock(mu_);
    progress_.erase(rec.id.value());
    errors_.erase(rec.id.value());
  }
  Log("info", "residency migration done",
      {{"tenant", static_cast<long long>(rec.id.value())},
       {"home", peer},
       {"seq", static_cast<long long>(head->seq.value())}});
  AuditSystem(
      store_.audit(), "residency.moved", rec.id, rec.client_key,
      "home is now " + peer + " at seq " + std::to_string(head->seq.value()));
  return true;
}

// Gives up a migration: the tenant stays home here, and the peer is asked
// to drop its copy.
void ResidencyApi::Abandon(TenantRecord& rec, const std::string& why) {
  const std::string peer = rec.residency.peer;
  Json abort = MigrationIdBody(rec.residency.migration_id);
  // Best effort: a copy left behind is dropped by the next begin.
  auto dropped = CallPeer(peer, "POST", PeerPath(rec.client_key, "/abort"),
                          &abort, kPeerTimeout);
  (void)dropped;
  rec.residency.state = ResidencyState::kHome;
  rec.residency.peer.clear();
  rec.residency.error_code = "E9999";
  if (Status s = Save(rec); !s.ok()) {
    Log("error", "residency: cannot record an abandoned migration",
        {{"error", s.ToString()}});
  }
  {
    MutexLock lock(mu_);
    progress_.erase(rec.id.value());
  }
  SetError(rec.id, why);
  Log("warn", "residency migration abandoned",
      {{"tenant", static_cast<long long>(rec.id.value())}, {"reason", why}});
}

// In kRollingBack at the home: the old region takes the tenant back, then
// this copy is purged.
Result<bool> ResidencyApi::ResolveRollback(TenantRecord& rec) {
  const std::string peer = rec.residency.peer;
  Json body = MigrationIdBody(rec.residency.migration_id);
  auto answer = CallPeer(peer, "POST", PeerPath(rec.client_key, "/reclaim"),
                         &body, kPeerTimeout);
  if (!answer) return Err(answer.error());
  if (answer->status == 409) {
    // Too late, or the old copy is gone: the tenant stays here.
    rec.residency.state = ResidencyState::kHome;
    rec.residency.peer.clear();
    SL_RETURN_ERR_IF_ERROR(Save(rec));
    SetError(rec.id, "rollback refused by region " + peer + ": " +
                         std::string(answer->body.GetString("detail")));
    return true;
  }
  if (answer->status != 200) {
    return Err(Status::Unavailable("region " + peer + " answered " +
                                   std::to_string(answer->status)));
  }
  const std::string client_key = rec.client_key;
  rec.home_region = peer;
  rec.residency.state = ResidencyState::kMoved;
  rec.residency.moved_from.clear();
  rec.purge_at = store_.clock().Now();  // right away
  SL_RETURN_ERR_IF_ERROR(Save(rec));
  d_.projector.Forget(rec.id);
  Log("info", "residency rollback done",
      {{"tenant", static_cast<long long>(rec.id.value())}, {"home", peer}});
  auto purged = PurgeCopy(rec.id, "rolled back to " + peer);
  if (!purged) return Err(purged.error());
  d_.auth.Forget(client_key);
  return true;
}

// ----- the peer's side -------------------------------------------------

void ResidencyApi::ServePeer(const CallPtr& call) {
  Finisher& f = d_.finisher;
  std::string from;
  if (Status s = VerifyPeer(*call, from); !s.ok()) {
    return f.Fail(call, s);
  }
  const Action action = call->route->action;
  Json body = Json::MakeObject();
  if (call->request.method == "POST") {
    auto parsed = projections::ParseJson(call->request.body, PeerJsonLimits());
    if (!parsed || !parsed->is_object()) {
      return f.Fail(call, Status::InvalidArgument("the body must be a JSON "
                                                  "object"));
    }
    body = std::move(*parsed);
  }
  if (action == Action::kPeerRelay) {
    HttpRequest relayed;
    relayed.method = "POST";
    relayed.target = std::string(body.GetString("target"));
    relayed.headers.emplace_back("authorization",
                                 std::string(body.GetString("authorization")));
    relayed.headers.emplace_back("content-type", "application/json");
    relayed.headers.emplace_back("x-siteledger-relayed", "1");
    relayed.body = std::string(body.GetString("body"));
    relayed.remote_address = call->request.remote_address;
    if (!relayed.target.starts_with("/lifecycle/")) {
      return f.Fail(call, Status::InvalidArgument(
                              "only lifecycle callbacks are relayed"));
    }
    // The answer to the relayed callback is this call's answer.
    d_.relay(std::move(relayed),
             Responder(std::make_shared<RelaySink>(call, d_.finisher)),
             BaseUrlOf(from));
    return;
  }
  const std::string& client_key = call->Param("clientKey");
  Result<Json> answer = Err(Status::Internal("no action"));
  switch (action) {
    case Action::kPeerBegin:
      answer = PeerBegin(from, body);
      break;
    case Action::kPeerImport:
      answer = PeerImport(client_key, body);
      break;
    case Action::kPeerStatus:
      answer = PeerStatusOf(client_key);
      break;
    case Action::kPeerDigest:
      answer = PeerDigest(client_key, call->Query("seq").value_or(""),
                          call->Query("since").value_or(""));
      break;
    case Action::kPeerCommit:
      answer = PeerCommit(from, client_key, body);
      break;
    case Action::kPeerAbort:
      answer = PeerAbort(client_key, body);
      break;
    case Action::kPeerReclaim:
      answer = PeerReclaim(from, client_key, body);
      break;
    case Action::kPeerRollback: {
      auto rec = store_.registry().GetByClientKey(client_key);
      if (!rec) return f.Fail(call, rec.error());
      if (rec->home_region != region_) {
        return f.Finish(call, Problem(409,
                                      "this region is not the site's "
                                      "home"));
      }
      if (Status s = StartRollback(*rec); !s.ok()) {
        if (s.code() == StatusCode::kConflict) {
          return f.Finish(call, Problem(409, s.message()));
        }
        return f.Fail(call, s);
      }
      auto now = store_.registry().Get(rec->id);
      if (!now) return f.Fail(call, now.error());
      return f.Finish(call, JsonResponse(202, ResidencyJson(*now)));
    }
    default:
      break;
  }
  if (!answer) {
    if (answer.error().code() == StatusCode::kConflict) {
      return f.Finish(call, Problem(409, answer.error().message()));
    }
    return f.Fail(call, answer.error());
  }
  f.Finish(call, JsonResponse(200, *answer));
}

Result<Json> ResidencyApi::PeerBegin(const std::string& from,
                                     const Json& body) {
  const std::string migration_id(body.GetString("migrationId"));
  if (migration_id.empty() || migration_id.size() > kMaxMigrationIdBytes) {
    return Err(Status::InvalidArgument("$.migrationId: 1 to 128 bytes"));
  }
  TenantRecord incoming;
  incoming.client_key = std::string(body.GetString("clientKey"));
  incoming.shared_secret = std::string(body.GetString("sharedSecret"));
  incoming.base_url = std::string(body.GetString("baseUrl"));
  const Json* enabled = body.Find("enabled");
  incoming.enabled =
      enabled == nullptr || !enabled->is_bool() || enabled->as_bool();
  incoming.created = TimestampFromMillis(body.GetInt("createdMs"));
  incoming.home_region = from;
  incoming.residency.state = ResidencyState::kIncoming;
  incoming.residency.peer = from;
  incoming.residency.migration_id = migration_id;
  auto rec = store_.registry().Adopt(incoming);
  if (!rec) return Err(rec.error());
  d_.auth.Forget(rec->client_key);
  auto head = store_.log().GetHead(rec->id);
  if (!head) return Err(head.error());
  Json out = Json::MakeObject();
  out.Set("seq", static_cast<int64_t>(head->seq.value()));
  out.Set("hash", HashHex(head->hash));
  return out;
}

// Folds what was imported and not yet folded (after a crash between the
// import and its fold).
static Status CatchUpViews(storage::TenantRegistry& registry,
                           projections::Projector& projector,
                           storage::EventLog& log, TenantRecord& rec) {
  auto head = log.GetHead(rec.id);
  if (!head) return head.error();
  if (rec.residency.folded_seq >= head->seq.value()) return Status::Ok();
  SL_RETURN_IF_ERROR(
      projector.CatchUp(rec.id, Sequence(rec.residency.folded_seq + 1)));
  rec.residency.folded_seq = head->seq.value();
  return registry.Update(rec);
}

Result<Json> ResidencyApi::PeerImport(const std::string& client_key,
                                      const Json& body) {
  auto rec = store_.registry().GetByClientKey(client_key);
  if (!rec) return Err(rec.error());
  if (rec->residency.state != ResidencyState::kIncoming ||
      rec->residency.migration_id != body.GetString("migrationId")) {
    return Err(Status::Conflict("no copy of this migration is arriving here"));
  }
  SL_RETURN_ERR_IF_ERROR(
      CatchUpViews(store_.registry(), d_.projector, store_.log(), *rec));
  // The whole batch is checked before anything of it is written.
  auto batch = DecodePeerBatch(body);
  if (!batch) return Err(batch.error());
  storage::AppendRequest request;
  request.tenant = rec->id;
  request.imported = std::move(batch->events);
  // Pseudonyms and media first (unsynced; the synced import makes them
  // durable): an event never lands without them.
  std::vector<storage::ExtraWrite> rows;
  std::vector<storage::AccountIndexWrite> accounts;
  for (const auto& [pseudonym, account] : batch->pseudonyms) {
    SL_RETURN_ERR_IF_ERROR(d_.projector.AddPseudonymRows(
        rec->id, pseudonym, account, rows, accounts));
  }
  // A person erased at the home is erased from this copy too.
  SL_RETURN_ERR_IF_ERROR(d_.projector.AddImportedErasures(
      rec->id, request.imported, rows, accounts));
  for (auto& [id, bytes] : batch->media) {
    rows.push_back({storage::Family::kBlobs, storage::WriteOp::kPut,
                    storage::BlobRowKey(id), std::move(bytes)});
  }
  if (!rows.empty()) {
    SL_RETURN_ERR_IF_ERROR(
        store_.log().WriteRows(rec->id, rows, false, accounts));
  }
  const std::vector<storage::IdempotencyExport>& records = batch->idempotency;
  SL_RETURN_ERR_IF_ERROR(store_.log().ImportIdempotency(rec->id, records));
  auto head = store_.log().GetHead(rec->id);
  if (!head) return Err(head.error());
  // A batch the peer sent again (its answer was lost) is skipped.
  while (!request.imported.empty() &&
         request.imported.front().seq <= head->seq) {
    request.imported.erase(request.imported.begin());
  }
  if (!request.imported.empty()) {
    auto appended = store_.log().Append(std::move(request));
    if (!appended) return Err(appended.error());
    CrashPoint("import-batch");
    SL_RETURN_ERR_IF_ERROR(
        CatchUpViews(store_.registry(), d_.projector, store_.log(), *rec));
  }
  head = store_.log().GetHead(rec->id);
  if (!head) return Err(head.error());
  Json out = Json::MakeObject();
  out.Set("seq", static_cast<int64_t>(head->seq.value()));
  out.Set("hash", HashHex(head->hash));
  return out;
}

Result<Json> ResidencyApi::PeerStatusOf(const std::string& client_key) {
  Json out = Json::MakeObject();
  auto rec = store_.registry().GetByClientKey(client_key);
  if (!rec) {
    if (rec.error().code() != StatusCode::kNotFound) return Err(rec.error());
    out.Set("state", "none");
    return out;
  }
  const bool home = rec->home_region == region_;
  std::string state(storage::ResidencyStateName(rec->residency.state));
  if (home && rec->residency.state == ResidencyState::kHome) state = "home";
  out.Set("state", state);
  out.Set("home", rec->home_region);
  out.Set("migrationId", rec->residency.migration_id);
  auto head = store_.log().GetHead(rec->id);
  if (!head) return Err(head.error());
  out.Set("seq", static_cast<int64_t>(head->seq.value()));
  out.Set("hash", HashHex(head->hash));
  return out;
}

Result<Json> ResidencyApi::PeerDigest(const std::string& client_key,
                                      const std::string& seq_text,
                                      const std::string& since_text) {
  auto rec = store_.registry().GetByClientKey(client_key);
  if (!rec) return Err(rec.error());
  if (rec->residency.state != ResidencyState::kIncoming) {
    return Err(Status::Conflict("no copy is arriving here"));
  }
  SL_RETURN_ERR_IF_ERROR(
      CatchUpViews(store_.registry(), d_.projector, store_.log(), *rec));
  auto seq = SeqOf(seq_text, "seq");
  if (!seq) return Err(seq.error());
  auto head = store_.log().GetHead(rec->id);
  if (!head) return Err(head.error());
  if (*seq > head->seq) {
    return Err(Status::Conflict("the copy ends at seq " +
                                std::to_string(head->seq.value())));
  }
  Result<Hash> digest = Err(Status::Internal("no digest"));
  if (since_text.empty()) {
    digest = d_.projector.DigestAt(rec->id, *seq);
  } else {
    auto since = SeqOf(since_text, "since");
    if (!since) return Err(since.error());
    if (*since > *seq) {
      return Err(Status::InvalidArgument("since: at most seq"));
    }
    digest = d_.projector.ChangesDigest(rec->id, *since, *seq);
  }
  if (!digest) return Err(digest.error());
  Json out = Json::MakeObject();
  out.Set("seq", static_cast<int64_t>(seq->value()));
  out.Set("digest", HashHex(*digest));
  return out;
}

Result<Json> ResidencyApi::PeerCommit(const std::string& from,
                                      const std::string& client_key,
                                      const Json& body) {
  auto rec = store_.registry().GetByClientKey(client_key);
  if (!rec) return Err(rec.error());
  const std::string migration_id(body.GetString("migrationId"));
  if (rec->residency.migration_id != migration_id) {
    return Err(Status::Conflict("another migration's copy is here"));
  }
  Json out = Json::MakeObject();
  if (rec->home_region == region_ &&
      rec->residency.state == ResidencyState::kHome) {
    out.Set("state", "home");  // committed already; the answer was lost
    return out;
  }
  if (rec->residency.state != ResidencyState::kIncoming) {
    return Err(Status::Conflict("no copy is arriving here"));
  }
  SL_RETURN_ERR_IF_ERROR(
      CatchUpViews(store_.registry(), d_.projector, store_.log(), *rec));
  auto head = store_.log().GetHead(rec->id);
  if (!head) return Err(head.error());
  if (static_cast<uint64_t>(body.GetInt("seq")) != head->seq.value() ||
      body.GetString("hash") != HashHex(head->hash)) {
    return Err(Status::Conflict("the copy ends at seq " +
                                std::to_string(head->seq.value()) +
                                " with another hash than the home's log"));
  }
  const int64_t since = body.GetInt("since");
  if (since < 0 || static_cast<uint64_t>(since) > head->seq.value()) {
    return Err(Status::InvalidArgument("$.since: a seq of the copy"));
  }
  auto digest = d_.projector.ChangesDigest(
      rec->id, Sequence(static_cast<uint64_t>(since)), head->seq);
  if (!digest) return Err(digest.error());
  if (body.GetString("changes") != HashHex(*digest)) {
    return Err(Status::Conflict("the views' digests differ"));
  }
  const Timestamp now = store_.clock().Now();
  rec->home_region = region_;
  rec->residency.state = ResidencyState::kHome;
  rec->residency.peer.clear();
  rec->residency.moved_from = from;
  rec->residency.moved_at = now;
  rec->residency.cutover_seq = head->seq.value();
  rec->residency.folded_seq = 0;
  SL_RETURN_ERR_IF_ERROR(Save(*rec));
  CrashPoint("commit-recorded");
  d_.projector.Forget(rec->id);
  AuditSystem(store_.audit(), "residency.arrived", rec->id, rec->client_key,
              "home is now " + region_ + " (from " + from + ") at seq " +
                  std::to_string(head->seq.value()));
  out.Set("state", "home");
  return out;
}

Result<Json> ResidencyApi::PeerAbort(const std::string& client_key,
                                     const Json& body) {
  Json out = Json::MakeObject();
  auto rec = store_.registry().GetByClientKey(client_key);
  if (!rec) {
    if (rec.error().code() != StatusCode::kNotFound) return Err(rec.error());
    out.Set("state", "none");
    return out;
  }
  if (rec->residency.state == ResidencyState::kIncoming &&
      rec->residency.migration_id == body.GetString("migrationId")) {
    d_.auth.Forget(client_key);
    auto purged = PurgeCopy(rec->id, "migration abandoned");
    if (!purged) return Err(purged.error());
    out.Set("state", "gone");
    return out;
  }
  if (rec->home_region == region_ &&
      rec->residency.state == ResidencyState::kHome &&
      rec->residency.migration_id == body.GetString("migrationId")) {
    return Err(Status::Conflict("the migration was committed here"));
  }
  out.Set("state",
          std::string(storage::ResidencyStateName(rec->residency.state)));
  return out;
}

Result<Json> ResidencyApi::PeerReclaim(const std::string& from,
                                       const std::string& client_key,
                                       const Json& body) {
  (void)body;
  auto rec = store_.registry().GetByClientKey(client_key);
  if (!rec) {
    if (rec.error().code() == StatusCode::kNotFound) {
      return Err(Status::Conflict("this region holds no copy of the site"));
    }
    return Err(rec.error());
  }
  Json out = Json::MakeObject();
  if (rec->home_region == region_ &&
      rec->residency.state == ResidencyState::kHome) {
    out.Set("state", "home");  // reclaimed already
    return out;
  }
  if (rec->residency.state != ResidencyState::kMoved ||
      rec->home_region != from) {
    return Err(Status::Conflict(
        "this region's copy cannot be reclaimed (" +
        std::string(storage::ResidencyStateName(rec->residency.state)) + ")"));
  }
  if (!rec->purge_at || store_.clock().Now() > *rec->purge_at) {
    return Err(Status::Conflict(
        "the rollback window ended: the copy here is due to be purged"));
  }
  rec->home_region = region_;
  rec->residency.state = ResidencyState::kHome;
  rec->residency.peer.clear();
  rec->purge_at.reset();
  rec->residency.moved_at.reset();
  rec->residency.moved_from.clear();
  SL_RETURN_ERR_IF_ERROR(Save(*rec));
  CrashPoint("reclaim-recorded");
  d_.projector.Forget(rec->id);
  AuditSystem(store_.audit(), "residency.rolled-back", rec->id, rec->client_key,
              "home is " + region_ + " again, as at seq " +
                  std::to_string(rec->residency.cutover_seq));
  out.Set("state", "home");
  return out;
}

// ----- Atlassian's realm-migration callbacks ----------------------------

void ResidencyApi::ServeDare(const CallPtr& call) {
  Finisher& f = d_.finisher;
  if (Status s = d_.auth.Authenticate(*call, /*allow_context_qsh=*/false);
      !s.ok()) {
    return f.Fail(call, s);
  }
  const TenantRecord rec = *call->record;
  auto status_json = [](std::string status, std::string code = "") {
    Json j = Json::MakeObject();
    j.Set("status", std::move(status));
    if (!code.empty()) j.Set("errorResponseCode", std::move(code));
    return j;
  };
  const Action action = call->route->action;
  std::string migration_id;
  Json body = Json::MakeObject();
  if (action == Action::kDareStatus) {
    migration_id = call->Query("migrationId").value_or("");
  } else {
    auto parsed = JsonBodyOf(*call, BodyUse::kRequired);
    if (!parsed) return f.Fail(call, parsed.error());
    body = std::move(*parsed);
    migration_id = std::string(body.GetString("migrationId"));
    if (migration_id.empty() || migration_id.size() > kMaxMigrationIdBytes) {
      return f.Fail(call,
                    Status::InvalidArgument("$.migrationId: 1 to 128 bytes"));
    }
  }
  switch (action) {
    case Action::kDareSchedule:
    case Action::kDareStart: {
      const std::string target = Lower(std::string(body.GetString("location")));
      if (target != region_ && !d_.config.peers.contains(target)) {
        // Remembered, so that /status says so too.
        TenantRecord r = rec;
        r.residency.migration_id = migration_id;
        r.residency.error_code = "E0002";
        if (Status s = Save(r); !s.ok()) return f.Fail(call, s);
        return f.Finish(call,
                        JsonResponse(422, status_json("failed", "E0002")));
      }
      if (action == Action::kDareSchedule || target == region_ ||
          (rec.residency.migration_id == migration_id &&
           rec.residency.error_code.empty())) {
        return f.Finish(call, JsonResponse(200, status_json("scheduled")));
      }
      return ServeStart(call, rec, target, migration_id);
    }
    case Action::kDareStatus: {
      if (rec.residency.migration_id == migration_id &&
          !rec.residency.error_code.empty()) {
        return f.Finish(
            call,
            JsonResponse(200, status_json("failed", rec.residency.error_code)));
      }
      if (rec.residency.migration_id != migration_id) {
        // Nothing to move: the site is already where it should be.
        return f.Finish(call,
                        JsonResponse(200, status_json("ready-to-commit")));
      }
      const bool moving = rec.residency.state == ResidencyState::kCopying ||
                          rec.residency.state == ResidencyState::kCutover;
      return f.Finish(call, JsonResponse(200, status_json(moving ? "in-progress"
                                                                 : "ready-to-"
                                                                   "commit")));
    }
    case Action::kDareCommit:
      return f.Finish(call, JsonResponse(200, status_json("committed")));
    case Action::kDareRollback:
      if (rec.residency.migration_id == migration_id &&
          rec.residency.state == ResidencyState::kCopying) {
        TenantRecord r = rec;
        Abandon(r, "rolled back by Atlassian");
        return f.Finish(call, JsonResponse(200, status_json("rolled-back")));
      }
      if (rec.residency.migration_id == migration_id &&
          rec.home_region != region_) {
        return ServeRollback(call, rec);
      }
      return f.Finish(call, JsonResponse(200, status_json("rolled-back")));
    default:
      return f.Fail(call, Status::Internal("no such migration callback"));
  }
}

// ----- purges and the sweeper --------------------------------------------

namespace {

// storage::ScrubBackups as the sweep's and the purge's answers show it:
// {locations, filesRewritten, keysRemoved, failed:[{dir, error}]}; a
// failure is logged and shown, never fails the purge (the key is destroyed
// already; the next sweep rescans).
Json ScrubBackupsJson(storage::Store& store) {
  Json out = Json::MakeObject();
  auto report = storage::ScrubBackups(store);
  Json failed = Json::MakeArray();
  if (!report) {
    Log("error", "rewriting key-store backups failed",
        {{"error", report.error().ToString()}});
    Json f = Json::MakeObject();
    f.Set("dir", "");
    f.Set("error", report.error().ToString());
    failed.Push(std::move(f));
    out.Set("failed", std::move(failed));
    return out;
  }
  out.Set("locations", report->locations);
  out.Set("filesRewritten", report->files_rewritten);
  out.Set("keysRemoved", report->keys_removed);
  for (const auto& fail : report->failed) {
    Log("error", "a key-store backup could not be rewritten",
        {{"dir", fail.dir}, {"error", fail.error}});
    Json f = Json::MakeObject();
    f.Set("dir", fail.dir);
    f.Set("error", fail.error);
    failed.Push(std::move(f));
  }
  out.Set("failed", std::move(failed));
  return out;
}

}  // namespace

Result<Json> ResidencyApi::PurgeCopy(TenantId tenant, std::string reason) {
  MutexLock purging(purge_mu_);
  auto not_purged = [&](std::string why) {
    Json out = Json::MakeObject();
    out.Set("tenant", static_cast<int64_t>(tenant.value()));
    out.Set("reason", std::move(why));
    return out;
  };
  auto rec = store_.registry().Get(tenant);
  if (!rec) {
    if (rec.error().code() == StatusCode::kNotFound) {
      return not_purged("purged already");
    }
    return Err(rec.error());
  }
  if (rec->residency.state == ResidencyState::kGone) {
    return not_purged("purged already");
  }
  // An uninstalled tenant is claimed first: from then on an install starts
  // a new tenant, and a reinstall that came first calls the purge off.
  const bool uninstalled = rec->state != storage::LifecycleState::kInstalled;
  if (uninstalled) {
    auto claimed = store_.registry().ClaimPurge(tenant, store_.clock().Now());
    if (!claimed) return Err(claimed.error());
    if (!*claimed) return not_purged("installed again: not purged");
  }
  // The digest before, for the receipt (none once the key is gone).
  std::string digest;
  if (auto d = d_.projector.ViewsDigest(tenant)) digest = HashHex(*d);
  auto receipt = store_.PurgeTenant(tenant);
  if (!receipt) return Err(receipt.error());
  SL_RETURN_ERR_IF_ERROR(uninstalled ? store_.registry().Remove(tenant)
                                     : store_.registry().MarkPurged(tenant));
  d_.projector.Forget(tenant);
  // The key also goes from every key-store backup (storage/backup.h). A
  // folder that fails is retried by every sweep, which rescans.
  Json backups = ScrubBackupsJson(store_);
  Json counts = Json::MakeObject();
  counts.Set("events", receipt->events.rows);
  counts.Set("views", receipt->views.rows);
  counts.Set("versions", receipt->snapshots.rows);
  counts.Set("media", receipt->blobs.rows);
  counts.Set("pseudonyms", receipt->pseudonyms.rows);
  Json out = Json::MakeObject();
  out.Set("tenant", static_cast<int64_t>(tenant.value()));
  out.Set("reason", reason);
  out.Set("headSeq", static_cast<int64_t>(receipt->head_before.value()));
  out.Set("erased", counts);
  out.Set("digestBefore", digest);
  out.Set("backups", std::move(backups));
  AuditSystem(store_.audit(), "tenant.purged", tenant, rec->client_key,
              out.Dump());
  Log("info", "tenant copy purged",
      {{"tenant", static_cast<long long>(tenant.value())}, {"reason", reason}});
  return out;
}

Result<Json> ResidencyApi::Sweep(bool dry_run) {
  MutexLock lock(sweep_mu_);
  // First, so that a purge that fails keeps no IP past its 14 days.
  Json access_log = RetireAccessLog(store_, dry_run);
  Json purged = Json::MakeArray();
  auto due = store_.registry().PurgesDue(store_.clock().Now(), 1000);
  if (!due) return Err(due.error());
  for (TenantId t : *due) {
    auto rec = store_.registry().Get(t);
    if (!rec) return Err(rec.error());
    const std::string reason =
        rec->state != storage::LifecycleState::kInstalled
            ? "uninstalled on " +
                  (rec->uninstalled_at ? FormatRfc3339(*rec->uninstalled_at)
                                       : std::string("an unknown date")) +
                  "; retention over"
        : rec->residency.state == ResidencyState::kMoved
            ? "moved to " + rec->home_region + "; rollback window over"
            : "due";
    if (dry_run) {
      Json item = Json::MakeObject();
      item.Set("tenant", static_cast<int64_t>(t.value()));
      item.Set("clientKey", rec->client_key);
      item.Set("reason", reason);
      purged.Push(std::move(item));
      continue;
    }
    const std::string client_key = rec->client_key;
    auto receipt = PurgeCopy(t, reason);
    if (!receipt) return Err(receipt.error());
    d_.auth.Forget(client_key);
    receipt->Set("clientKey", client_key);
    purged.Push(std::move(*receipt));
  }
  Json out = Json::MakeObject();
  out.Set("purged", std::move(purged));
  out.Set("dryRun", dry_run);
  // Catches up key-store backups a purge could not rewrite (a crash after
  // the key was destroyed, a folder not mounted).
  if (!dry_run) out.Set("backups", ScrubBackupsJson(store_));
  out.Set("accessLog", std::move(access_log));
  return out;
}

void ResidencyApi::ServeSweep(const CallPtr& call) {
  const bool dry_run = call->Query("dry_run").value_or("false") == "true";
  auto result = Sweep(dry_run);
  if (!dry_run) {
    d_.metrics.SweepDone(result.has_value());
  }
  if (!result) return d_.finisher.Fail(call, result.error());
  d_.finisher.Finish(call, JsonResponse(200, *result));
}

void ResidencyApi::SweepLoop() {
  // Counts the region's tenants once, here at start rather than in a scrape
  // of /metrics; the registry keeps the count from then on.
  if (auto n = store_.registry().Count(); !n) {
    Log("error", "counting the tenants failed",
        {{"error", n.error().ToString()}});
  }
  do {
    const auto result = Sweep(false);
    if (!result) {
      Log("error", "the sweep failed", {{"error", result.error().ToString()}});
    }
    d_.metrics.SweepDone(result.has_value());
  } while (Sleep(d_.config.sweep_interval));
}

}  // namespace siteledger::server
