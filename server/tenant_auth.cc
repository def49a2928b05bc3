#include "server/internal/tenant_auth.h"

#include "projections/json.h"
#include "projections/schema.h"
#include "server/internal/request_parts.h"
#include "server/jwt.h"
#include "storage/crypto.h"

namespace siteledger::server {

using projections::Json;

Result<std::shared_ptr<const storage::TenantRecord>> TenantAuth::ByClientKey(
    const std::string& client_key) {
  {
    MutexLock lock(tenants_mu_);
    auto it = tenants_.find(client_key);
    if (it != tenants_.end()) return it->second;
  }
  auto record = registry_.GetByClientKey(client_key);
  if (!record) return siteledger::Err(record.error());
  auto shared =
      std::make_shared<const storage::TenantRecord>(std::move(*record));
  MutexLock lock(tenants_mu_);
  tenants_[client_key] = shared;
  return shared;
}

void TenantAuth::Forget(const std::string& client_key) {
  {
    MutexLock lock(tenants_mu_);
    tenants_.erase(client_key);
  }
  MutexLock lock(verified_mu_);
  verified_.clear();
}

Status TenantAuth::Authenticate(Call& call, bool allow_context_qsh) {
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
    MutexLock lock(verified_mu_);
    auto it = verified_.find(cache_key);
    if (it != verified_.end() && clock_.Now() <= it->second.expires) {
      call.tenant = it->second.record->id;
      call.record = it->second.record;
      call.actor = it->second.actor;
      call.token_expires = it->second.expires;
      call.admin_page = it->second.admin_page;
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
  // An unknown clientKey and a bad signature are one answer: which
  // clientKeys are installed here is nobody's business.
  const Status not_verified = Status::Unauthenticated(
      "the token does not verify: its iss is not an installed clientKey or "
      "its signature is not the installation's");
  auto record = ByClientKey(iss->as_string());
  if (!record) {
    if (record.error().code() == StatusCode::kNotFound) return not_verified;
    return record.error();
  }
  if (!VerifyHs256(*jwt, (*record)->shared_secret).ok()) return not_verified;
  auto expires = CheckTokenTimes(*jwt, clock_.Now());
  if (!expires) return expires.error();
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
    // Only a context token carries the page's mark: a qsh-bound one is made
    // by whoever holds a page URL, not by the server.
    const Json* page = jwt->claims.Find(kAdminPageClaim);
    call.admin_page = page != nullptr && page->is_string() &&
                      page->as_string() == kAdminPageClaimValue;
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
  if (!(*record)->enabled) {
    // Known, so that the enabled callback can turn it back on.
    call.tenant = (*record)->id;
    call.record = *record;
    return Status::PermissionDenied(
        "the app is disabled on this site; its data is kept but not served "
        "until it is enabled");
  }
  call.tenant = (*record)->id;
  call.record = *record;
  call.token_expires = *expires + kTokenLeeway;
  MutexLock lock(verified_mu_);
  if (verified_.size() >= kMaxVerifiedTokens) verified_.clear();
  verified_.emplace(std::move(cache_key),
                    VerifiedToken{call.record, call.actor, call.token_expires,
                                  call.admin_page});
  return Status::Ok();
}

}  // namespace siteledger::server
