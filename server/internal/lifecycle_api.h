#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "projections/projector.h"
#include "server/internal/call.h"
#include "server/internal/finisher.h"
#include "server/internal/tenant_auth.h"
#include "storage/audit_log.h"
#include "storage/base/mutex.h"
#include "storage/tenant_registry.h"

namespace siteledger::server {

// Atlassian's lifecycle callbacks: installed and uninstalled (RS256 JWTs
// signed with Atlassian's install keys, fetched by kid from
// `install_keys_url` and cached), enabled and disabled (the installation's
// own HS256 JWT). Each change is audited. Everything it is given must outlive
// it. Safe for concurrent use.
class LifecycleApi {
 public:
  LifecycleApi(storage::TenantRegistry& registry, storage::AuditLog& audit,
               TenantAuth& auth, projections::Projector& projector,
               Finisher& finisher, const Clock& clock, std::string base_url,
               std::string install_keys_url)
      : registry_(registry),
        audit_(audit),
        auth_(auth),
        projector_(projector),
        finisher_(finisher),
        clock_(clock),
        base_url_(std::move(base_url)),
        install_keys_url_(std::move(install_keys_url)) {}

  // Serves a lifecycle callback. May block on the install key server (up to
  // its timeout) and on synced writes: call from an HTTP thread.
  void Serve(const CallPtr& call);

 private:
  void Audit(const Call& call, std::string action,
             const storage::TenantRecord* record, std::string outcome,
             std::string detail = {});
  void SetEnabled(const CallPtr& call);

  storage::TenantRegistry& registry_;
  storage::AuditLog& audit_;
  TenantAuth& auth_;
  projections::Projector& projector_;
  Finisher& finisher_;
  const Clock& clock_;
  const std::string base_url_;
  const std::string install_keys_url_;

  Mutex keys_mu_;
  struct CachedKey {
    std::string pem;
    std::chrono::steady_clock::time_point fetched;
  };
  std::unordered_map<std::string, CachedKey> install_keys_ GUARDED_BY(keys_mu_);
};

}  // namespace siteledger::server
