#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>

#include "projections/projector.h"
#include "server/config.h"
#include "server/event_feed.h"
#include "server/internal/call.h"
#include "server/internal/finisher.h"
#include "server/internal/tenant_api.h"
#include "server/operators.h"
#include "storage/access_log.h"
#include "storage/audit_log.h"
#include "storage/base/mutex.h"
#include "storage/event_log.h"
#include "storage/tenant_registry.h"

namespace siteledger::server {

// Operator routes (/admin): bearer tokens from the operators file, a scope
// per route, and for every access to a tenant's data or to personal data (the
// access log) a stated reason and an audit record written before anything is
// answered. Reads of a tenant's data are the tenant API's own (`tenant_api`).
// Everything it is given must outlive it. Safe for concurrent use.
class OperatorApi {
 public:
  struct Deps {
    storage::TenantRegistry& registry;
    storage::AuditLog& audit;
    const storage::AccessLog& access_log;
    const storage::EventLog& log;
    projections::Projector& projector;
    TenantApi& tenant_api;
    EventFeed& feed;
    Finisher& finisher;
    const Clock& clock;
    TestClock* test_clock;  // null unless --test-clock
    // The bytes a tenant's data takes on disk (for /admin/tenants).
    std::function<uint64_t(TenantId)> tenant_bytes;
    // Serves a Handler::kResidency operator route once authenticated (and,
    // for a tenant's route, audited).
    std::function<void(const CallPtr&)> residency;
    // Serves POST /admin/users/erase once authenticated (EraseUsersApi).
    std::function<void(const CallPtr&)> erase_users;
    // Serves POST /admin/backups once authenticated (ServeBackup).
    std::function<void(const CallPtr&)> backup;
    const Config* config = nullptr;
  };
  // Without `operators_file`, every operator route answers 401.
  OperatorApi(Deps deps, std::filesystem::path operators_file)
      : d_(std::move(deps)), operators_file_(std::move(operators_file)) {}

  // Serves an operator route. Call from an HTTP thread.
  void Serve(const CallPtr& call);

  // Re-reads the operators file. On error (logged) the old operators stay
  // and the error is returned. Any thread.
  Status ReloadOperators();

 private:
  Status Authenticate(Call& call);
  std::shared_ptr<const Operators> CurrentOperators() const;
  void ServeTenants(const CallPtr& call);
  void ServeUsage(const CallPtr& call);
  void ServeAudit(const CallPtr& call);
  void ServeAccessLog(const CallPtr& call);
  void ServeClock(const CallPtr& call);
  void ServeRestore(const CallPtr& call);
  void ServeDigest(const CallPtr& call);

  Deps d_;
  const std::filesystem::path operators_file_;
  mutable Mutex operators_mu_;
  std::shared_ptr<const Operators> operators_ GUARDED_BY(operators_mu_);
};

}  // namespace siteledger::server
