#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "server/internal/call.h"
#include "storage/base/clock.h"
#include "storage/base/mutex.h"
#include "storage/tenant_registry.h"

namespace siteledger::server {

// Authenticates tenant requests (Atlassian Connect JWTs: HS256 with the
// installation's sharedSecret, iss = clientKey, a qsh bound to the request
// or context-qsh with a sub) and caches installations by clientKey. The
// registry and clock must outlive it. Safe for concurrent use.
class TenantAuth {
 public:
  // `base_path`: the path part of the app's base URL, which canonical
  // requests leave out ("" for none).
  TenantAuth(storage::TenantRegistry& registry, const Clock& clock,
             std::string base_path)
      : registry_(registry), clock_(clock), base_path_(std::move(base_path)) {}

  // Verifies the call's token and sets call.tenant, call.record, call.actor
  // and call.token_expires. Errors: Unauthenticated (no token, a bad one, an
  // unknown clientKey, expired, a qsh that does not match, context-qsh
  // where `allow_context_qsh` is false or outside /api/v1/),
  // PermissionDenied (the app is uninstalled: nothing is set then; or
  // disabled: call.tenant and call.record are set, for the enabled
  // callback), or a storage error reading the registry. A token must carry
  // exp, may carry iat and nbf (neither later than now plus 30 s), and lives
  // an hour at most.
  Status Authenticate(Call& call, bool allow_context_qsh);

  // The installation of `client_key`, cached. NotFound if there is none.
  Result<std::shared_ptr<const storage::TenantRecord>> ByClientKey(
      const std::string& client_key);

  // Drops what is cached about `client_key` (and every verified token), after
  // its installation changed.
  void Forget(const std::string& client_key);

  const std::string& base_path() const { return base_path_; }

 private:
  storage::TenantRegistry& registry_;
  const Clock& clock_;
  const std::string base_path_;

  // Tokens already verified for a request (token and method and target):
  // verifying costs base64, two JSON parses, an HMAC and a hash, and clients
  // reuse tokens. Cleared whenever an installation changes.
  struct VerifiedToken {
    std::shared_ptr<const storage::TenantRecord> record;
    std::string actor;
    Timestamp expires{};
    bool admin_page = false;
  };
  static constexpr size_t kMaxVerifiedTokens = 10000;
  Mutex verified_mu_;
  std::unordered_map<std::string, VerifiedToken> verified_
      GUARDED_BY(verified_mu_);

  Mutex tenants_mu_;
  std::unordered_map<std::string, std::shared_ptr<const storage::TenantRecord>>
      tenants_  // clientKey -> record
          GUARDED_BY(tenants_mu_);
};

}  // namespace siteledger::server
