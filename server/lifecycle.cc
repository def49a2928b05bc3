// The app descriptor and Atlassian's lifecycle callbacks.

#include <chrono>

#include "server/http_client.h"
#include "server/internal/lifecycle_api.h"
#include "server/internal/request_parts.h"
#include "server/jwt.h"
#include "server/log.h"
#include "server/problem.h"
#include "storage/crypto.h"

namespace siteledger::server {
namespace {

constexpr std::chrono::seconds kJwtLeeway{30};
constexpr auto kKeyCacheTtl = std::chrono::hours(1);

bool ValidKid(std::string_view kid) {
  if (kid.empty() || kid.size() > 200) return false;
  for (char c : kid) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool AudienceMatches(const Json* aud, std::string_view base_url) {
  if (aud == nullptr) return false;
  if (aud->is_string()) return aud->as_string() == base_url;
  if (aud->is_array()) {
    for (const Json& a : aud->as_array()) {
      if (a.is_string() && a.as_string() == base_url) return true;
    }
  }
  return false;
}

}  // namespace

void LifecycleApi::Audit(const Call& call, std::string action,
                         const storage::TenantRecord* record,
                         std::string outcome, std::string detail) {
  storage::AuditRecord a;
  a.actor = "atlassian";
  a.action = std::move(action);
  if (record != nullptr) {
    a.tenant = record->id;
    a.client_key = record->client_key;
  }
  a.outcome = std::move(outcome);
  a.route = call.route_label;
  a.detail = std::move(detail);
  if (auto id = audit_.Append(std::move(a)); !id) {
    Log("error", "writing the audit log failed",
        {{"error", id.error().ToString()}});
  }
}

// enabled / disabled: the installation's own HS256 token, real qsh.
void LifecycleApi::SetEnabled(const CallPtr& call) {
  if (Status s = auth_.Authenticate(*call, /*allow_context_qsh=*/false);
      !s.ok() && s.code() != StatusCode::kPermissionDenied) {
    return finisher_.Fail(call, s);
  }
  if (call->record == nullptr) {
    return finisher_.Fail(call,
                          Status::PermissionDenied("the app is uninstalled"));
  }
  // Atlassian sends the installation's JSON; any body sent must be JSON.
  if (auto body = JsonBodyOf(*call, BodyUse::kOptional); !body) {
    return finisher_.Fail(call, body.error());
  }
  const bool enable = call->route->action == Action::kEnabled;
  storage::TenantRecord record = *call->record;
  record.enabled = enable;
  if (Status s = registry_.Update(record); !s.ok()) {
    return finisher_.Fail(call, s);
  }
  auth_.Forget(record.client_key);
  Audit(*call, enable ? "lifecycle.enabled" : "lifecycle.disabled", &record,
        "ok");
  finisher_.Finish(call, NoContent());
}

void LifecycleApi::Serve(const CallPtr& call) {
  const Action action = call->route->action;
  if (action == Action::kEnabled || action == Action::kDisabled) {
    return SetEnabled(call);
  }

  // installed / uninstalled: an RS256 token signed with Atlassian's install
  // key, fetched by kid.
  auto fail = [&](std::string detail) {
    Log("warn", "lifecycle callback refused",
        {{"route", call->route_label}, {"reason", detail}});
    finisher_.Fail(call, Status::Unauthenticated(std::move(detail)));
  };
  auto token = TokenOf(*call, "JWT");
  if (!token) return fail(token.error().message());
  auto jwt = ParseJwt(*token);
  if (!jwt) return fail(jwt.error().message());
  if (jwt->alg() != "RS256") {
    return fail(
        "a lifecycle token's alg must be RS256 (Atlassian's install "
        "keys)");
  }
  const std::string kid(jwt->header.GetString("kid"));
  if (!ValidKid(kid)) return fail("the token's kid is missing or malformed");

  std::string pem;
  {
    MutexLock lock(keys_mu_);
    auto it = install_keys_.find(kid);
    if (it != install_keys_.end() &&
        std::chrono::steady_clock::now() - it->second.fetched < kKeyCacheTtl) {
      pem = it->second.pem;
    }
  }
  if (pem.empty()) {
    OutboundRequest request;
    request.url = install_keys_url_ + "/" + kid;
    request.max_response_bytes = 16384;
    auto fetched = Fetch(request);
    if (!fetched) {
      return finisher_.Fail(
          call,
          Status::Unavailable("the install key server could not be reached"));
    }
    if (fetched->status != 200) {
      return fail("no install key for the token's kid");
    }
    pem = fetched->body;
    MutexLock lock(keys_mu_);
    install_keys_[kid] = {pem, std::chrono::steady_clock::now()};
  }
  if (Status s = VerifyRs256(*jwt, pem); !s.ok()) return fail(s.message());

  auto body = JsonBodyOf(*call, BodyUse::kRequired);
  if (!body) return finisher_.Fail(call, body.error());
  const std::string client_key(body->GetString("clientKey"));
  if (client_key.empty()) {
    return finisher_.Fail(call,
                          Status::InvalidArgument("$.clientKey: is required"));
  }
  const Json* iss = jwt->claims.Find("iss");
  if (iss == nullptr || !iss->is_string() || iss->as_string() != client_key) {
    return fail("the token's iss is not the body's clientKey");
  }
  if (!AudienceMatches(jwt->claims.Find("aud"), base_url_)) {
    return fail("the token's aud is not this app's base URL");
  }
  const Json* exp = jwt->claims.Find("exp");
  if (exp == nullptr || !exp->is_int()) return fail("the token has no exp");
  if (clock_.Now() >
      siteledger::TimestampFromMillis(exp->as_int() * 1000) + kJwtLeeway) {
    return fail("the token has expired");
  }
  const Json* qsh = jwt->claims.Find("qsh");
  if (qsh == nullptr || !qsh->is_string()) return fail("the token has no qsh");
  if (qsh->as_string() == "context-qsh") {
    return fail("a context-qsh token is not accepted on lifecycle callbacks");
  }
  if (!storage::ConstantTimeEquals(
          qsh->as_string(), QueryStringHash(call->request.method, call->path,
                                            call->query, auth_.base_path()))) {
    return fail("the token's qsh does not match this request");
  }

  if (action == Action::kInstalled) {
    storage::Installation installation;
    installation.client_key = client_key;
    installation.base_url = std::string(body->GetString("baseUrl"));
    installation.shared_secret = std::string(body->GetString("sharedSecret"));
    auto installed = registry_.Install(installation);
    if (!installed) return finisher_.Fail(call, installed.error());
    auth_.Forget(client_key);
    projector_.Forget(installed->record.id);
    call->tenant = installed->record.id;
    Audit(*call, "lifecycle.installed", &installed->record, "ok",
          installed->created    ? "new installation"
          : installed->restored ? "reinstalled: data restored"
                                : "installation updated");
    return finisher_.Finish(call, NoContent());
  }

  // uninstalled
  auto record = registry_.GetByClientKey(client_key);
  if (!record) return finisher_.Fail(call, record.error());
  call->tenant = record->id;
  if (record->state == storage::LifecycleState::kInstalled) {
    record->state = storage::LifecycleState::kUninstalled;
    record->uninstalled_at = clock_.Now();
    if (Status s = registry_.Update(*record); !s.ok()) {
      return finisher_.Fail(call, s);
    }
  }
  auth_.Forget(client_key);
  Audit(*call, "lifecycle.uninstalled", &*record, "ok",
        "data kept; requests refused until installed again");
  finisher_.Finish(call, NoContent());
}

}  // namespace siteledger::server
