#pragma once

#include <string>

#include "projections/projector.h"
#include "server/internal/call.h"
#include "server/internal/finisher.h"
#include "server/internal/install_keys.h"
#include "server/internal/tenant_auth.h"
#include "server/jwt.h"
#include "storage/audit_log.h"
#include "storage/tenant_registry.h"

namespace siteledger::server {

// Atlassian's lifecycle callbacks: installed and uninstalled (RS256 JWTs
// signed with Atlassian's install keys, which `keys` fetches by kid),
// enabled and disabled (the installation's own HS256 JWT). Each change is
// audited. Everything it is given must outlive it, and `keys` must be shut
// down before it is destroyed (a key arriving later would call it back).
// Safe for concurrent use.
class LifecycleApi {
 public:
  LifecycleApi(storage::TenantRegistry& registry, storage::AuditLog& audit,
               TenantAuth& auth, projections::Projector& projector,
               Finisher& finisher, const Clock& clock, std::string base_url,
               InstallKeys& keys)
      : registry_(registry),
        audit_(audit),
        auth_(auth),
        projector_(projector),
        finisher_(finisher),
        clock_(clock),
        base_url_(std::move(base_url)),
        keys_(keys) {}

  // Serves a lifecycle callback; call from the connection's strand. Never
  // waits for the install key server: installed and uninstalled refuse a
  // token (401) or body (400) that is wrong in anything the key is not needed
  // for before asking `keys` for it, and are answered from the connection's
  // strand once the key is there (401 when the kid has no key; 503 with
  // Retry-After when the key server cannot be reached or too many keys are
  // being fetched). installed refuses a sharedSecret under 32 bytes (400).
  // May block on synced writes (registry, audit log).
  void Serve(const CallPtr& call);

 private:
  // A lifecycle token whose claims hold, waiting for its key.
  struct Signed {
    Jwt jwt;
    projections::Json body;
    std::string client_key;
  };

  void Audit(const Call& call, std::string action,
             const storage::TenantRecord* record, std::string outcome,
             std::string detail = {});
  void SetEnabled(const CallPtr& call);
  // 401 with `detail`, logged.
  void Refuse(const CallPtr& call, std::string detail);
  // The installed / uninstalled callback once its key (or why there is none)
  // is known. On the connection's strand.
  void OnKey(const CallPtr& call, const Signed& token,
             const Result<std::string>& pem);

  storage::TenantRegistry& registry_;
  storage::AuditLog& audit_;
  TenantAuth& auth_;
  projections::Projector& projector_;
  Finisher& finisher_;
  const Clock& clock_;
  const std::string base_url_;
  InstallKeys& keys_;
};

}  // namespace siteledger::server
