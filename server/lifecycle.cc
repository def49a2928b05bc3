// The app descriptor and Atlassian's lifecycle callbacks.

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "server/internal/lifecycle_api.h"
#include "server/internal/request_parts.h"
#include "server/jwt.h"
#include "server/log.h"
#include "server/problem.h"
#include "storage/base/rfc3339.h"
#include "storage/crypto.h"

namespace siteledger::server {
namespace {

// How long an uninstalled tenant's data is kept, so that installing the app
// again restores it; then the sweeper purges it (the product's promise).
constexpr auto kUninstallRetention = std::chrono::days(30);

// HS256 keys are 256 bits; Atlassian's shared secrets are longer.
constexpr size_t kMinSharedSecretBytes = 32;

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

void LifecycleApi::Refuse(const CallPtr& call, std::string detail) {
  Log("warn", "lifecycle callback refused",
      {{"route", call->route_label}, {"reason", detail}});
  finisher_.Fail(call, Status::Unauthenticated(std::move(detail)));
}

void LifecycleApi::Serve(const CallPtr& call) {
  const Action action = call->route->action;
  if (action == Action::kEnabled || action == Action::kDisabled) {
    return SetEnabled(call);
  }

  // installed / uninstalled: an RS256 token signed with Atlassian's install
  // key, fetched by kid. Anyone can send one, so everything that can be
  // checked without the key is checked first: a made-up token costs no fetch.
  auto token = TokenOf(*call, "JWT");
  if (!token) return Refuse(call, token.error().message());
  auto jwt = ParseJwt(*token);
  if (!jwt) return Refuse(call, jwt.error().message());
  if (jwt->alg() != "RS256") {
    return Refuse(call,
                  "a lifecycle token's alg must be RS256 (Atlassian's install "
                  "keys)");
  }
  const std::string kid(jwt->header.GetString("kid"));
  if (!InstallKeys::ValidKid(kid)) {
    return Refuse(call, "the token's kid is missing or malformed");
  }
  if (auto expires = CheckTokenTimes(*jwt, clock_.Now()); !expires) {
    return Refuse(call, expires.error().message());
  }
  const Json* qsh = jwt->claims.Find("qsh");
  if (qsh == nullptr || !qsh->is_string()) {
    return Refuse(call, "the token has no qsh");
  }
  if (qsh->as_string() == "context-qsh") {
    return Refuse(call,
                  "a context-qsh token is not accepted on lifecycle callbacks");
  }
  if (!storage::ConstantTimeEquals(
          qsh->as_string(), QueryStringHash(call->request.method, call->path,
                                            call->query, auth_.base_path()))) {
    return Refuse(call, "the token's qsh does not match this request");
  }
  if (!AudienceMatches(jwt->claims.Find("aud"), base_url_) &&
      (call->relay_audience.empty() ||
       !AudienceMatches(jwt->claims.Find("aud"), call->relay_audience))) {
    return Refuse(call, "the token's aud is not this app's base URL");
  }
  auto body = JsonBodyOf(*call, BodyUse::kRequired);
  if (!body) return finisher_.Fail(call, body.error());
  std::string client_key(body->GetString("clientKey"));
  if (client_key.empty()) {
    return finisher_.Fail(call,
                          Status::InvalidArgument("$.clientKey: is required"));
  }
  const Json* iss = jwt->claims.Find("iss");
  if (iss == nullptr || !iss->is_string() || iss->as_string() != client_key) {
    return Refuse(call, "the token's iss is not the body's clientKey");
  }

  // The key may take a fetch: this thread goes back to its other
  // connections, and the answer comes from this connection's strand.
  auto token_ok = std::make_shared<const Signed>(
      Signed{std::move(*jwt), std::move(*body), std::move(client_key)});
  keys_.Get(kid, [this, call, token_ok](Result<std::string> pem) {
    Finisher::Later(call, [this, call, token_ok, pem = std::move(pem)] {
      OnKey(call, *token_ok, pem);
    });
  });
}

void LifecycleApi::OnKey(const CallPtr& call, const Signed& token,
                         const Result<std::string>& pem) {
  if (!pem) {
    if (pem.error().code() == StatusCode::kNotFound) {
      return Refuse(call, pem.error().message());
    }
    return finisher_.Fail(call, pem.error());
  }
  if (Status s = VerifyRs256(token.jwt, *pem); !s.ok()) {
    return Refuse(call, s.message());
  }
  const Json& body = token.body;
  const std::string& client_key = token.client_key;

  if (call->route->action == Action::kInstalled) {
    storage::Installation installation;
    installation.client_key = client_key;
    installation.base_url = std::string(body.GetString("baseUrl"));
    installation.shared_secret = std::string(body.GetString("sharedSecret"));
    // The secret is the HS256 key of every token of the installation: a
    // short one could be guessed offline from any token seen.
    if (installation.shared_secret.size() < kMinSharedSecretBytes) {
      return finisher_.Fail(
          call, Status::InvalidArgument(
                    "$.sharedSecret: must be at least " +
                    std::to_string(kMinSharedSecretBytes) +
                    " bytes (an HS256 key); the installation was not changed"));
    }
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
    record->purge_at = *record->uninstalled_at + kUninstallRetention;
    if (Status s = registry_.Update(*record); !s.ok()) {
      return finisher_.Fail(call, s);
    }
  }
  auth_.Forget(client_key);
  Audit(*call, "lifecycle.uninstalled", &*record, "ok",
        "data kept until " +
            (record->purge_at ? FormatRfc3339(*record->purge_at)
                              : std::string("its purge")) +
            "; requests refused until installed again");
  finisher_.Finish(call, NoContent());
}

}  // namespace siteledger::server
