#pragma once

// Data residency: where each tenant lives, moving it to another region while
// it keeps working, moving it back within 7 days, the region-to-region
// channel, and the sweeper that purges what is due. docs/architecture.md,
// "Residency", describes the protocol; docs/formats.md the messages.

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "projections/projector.h"
#include "server/config.h"
#include "server/http_server.h"
#include "server/internal/call.h"
#include "server/internal/finisher.h"
#include "server/internal/tenant_auth.h"
#include "server/metrics.h"
#include "storage/base/mutex.h"
#include "storage/store.h"

namespace siteledger::server {

// The 307 that sends a request for a tenant whose home is another region
// there (Location = the home's base URL + `target`, the path and query as
// sent), or nullopt when this region is the tenant's home. A home region
// this region has no peer for is a 503 naming it. Pure; any thread.
std::optional<HttpResponse> HomeRedirect(const Config& config,
                                         const storage::TenantRecord& record,
                                         std::string_view target);

// Reads the peer secret file: at least 32 bytes (trailing newlines
// dropped). InvalidArgument or IOError naming the file.
Result<std::string> LoadPeerSecret(const std::filesystem::path& path);

// Serves Handler::kResidency routes, keeps writes out of a tenant while it
// changes home, and runs the migration driver and the sweeper threads.
// Everything it is given must outlive it. Safe for concurrent use.
class ResidencyApi {
 public:
  struct Deps {
    storage::Store& store;
    projections::Projector& projector;
    TenantAuth& auth;
    Finisher& finisher;
    Metrics& metrics;  // the sweeper's runs
    const Config& config;
    std::string peer_secret;  // empty: no peer calls made or accepted
    // Serves a lifecycle callback relayed from another region as if it had
    // arrived here, accepting a token whose aud is `audience` (the relaying
    // region's base URL).
    std::function<void(HttpRequest, Responder, std::string audience)> relay;
  };
  explicit ResidencyApi(Deps deps);
  // Stops the threads (Shutdown).
  ~ResidencyApi();

  // Resumes the migrations and rollbacks under way, and starts the sweeper
  // (which runs at once, then every --sweep-interval). Once, after the HTTP
  // server listens.
  void Start();
  // Stops the driver and the sweeper; a migration under way stops between
  // steps and resumes at the next Start. Idempotent; any thread.
  void Shutdown();

  // Serves a route of Handler::kResidency (the operator ones authenticated
  // by OperatorApi first). Call from an HTTP thread.
  void Serve(const CallPtr& call);

  // For a tenant request (Access::kTenant), before its token is verified:
  // the 307 to the tenant's home, or nullopt to serve it here. The clientKey
  // comes from the token's iss; a request without one is left to
  // authentication. Any thread.
  std::optional<HttpResponse> Redirect(const Call& call);

  // Admits a write of the call's (authenticated) tenant: a ticket that
  // keeps a cutover waiting until the write is answered, or Unavailable
  // (503 with Retry-After: 1) while the tenant changes home. Any thread.
  Result<std::shared_ptr<void>> AdmitWrite(const Call& call);

  // A lifecycle callback for a tenant whose home is another region is
  // relayed there and its answer returned: true if so (the call is then
  // answered). The clientKey is the body's. Any thread.
  bool RelayLifecycle(const CallPtr& call);

 private:
  struct Progress;
  class WriteGate;

  // Routes.
  void ServeResidency(const CallPtr& call, const storage::TenantRecord& rec);
  void ServeStart(const CallPtr& call, const storage::TenantRecord& rec,
                  std::string target, std::string migration_id);
  void ServeRollback(const CallPtr& call, const storage::TenantRecord& rec);
  // GET /pages/residency: the administration page, or an error page.
  void ServeAdminPage(const CallPtr& call);
  void ServeSweep(const CallPtr& call);
  void ServeDare(const CallPtr& call);
  void ServePeer(const CallPtr& call);
  Status VerifyPeer(const Call& call, std::string& region) const;

  // The peer's side of the protocol (target, or old home).
  Result<projections::Json> PeerBegin(const std::string& from,
                                      const projections::Json& body);
  Result<projections::Json> PeerImport(const std::string& client_key,
                                       const projections::Json& body);
  Result<projections::Json> PeerStatusOf(const std::string& client_key);
  Result<projections::Json> PeerDigest(const std::string& client_key,
                                       const std::string& seq,
                                       const std::string& since);
  Result<projections::Json> PeerCommit(const std::string& from,
                                       const std::string& client_key,
                                       const projections::Json& body);
  Result<projections::Json> PeerAbort(const std::string& client_key,
                                      const projections::Json& body);
  Result<projections::Json> PeerReclaim(const std::string& from,
                                        const std::string& client_key,
                                        const projections::Json& body);

  // The driver (source side, and the home side of a rollback).
  void DriverLoop();
  void Enqueue(TenantId tenant);
  void Drive(TenantId tenant);
  // The seq the peer holds once the copy stops.
  Result<uint64_t> Copy(storage::TenantRecord& rec, bool tail);
  // Result<bool>: true when the migration or rollback is finished (or
  // given up, and recorded), false when there is a next step.
  // `verified`: a seq at which both sides' views were compared whole.
  Result<bool> Cutover(storage::TenantRecord& rec, uint64_t verified);
  Result<bool> ResolveCutover(storage::TenantRecord& rec, uint64_t verified);
  Result<bool> ResolveRollback(storage::TenantRecord& rec);
  Status StartRollback(storage::TenantRecord rec);
  void Abandon(storage::TenantRecord& rec, const std::string& why);
  Status Save(storage::TenantRecord& rec);
  bool Sleep(std::chrono::milliseconds d);

  // Purges this region's copy of a tenant: the data, then a tombstone.
  Result<projections::Json> PurgeCopy(TenantId tenant, std::string reason);
  void SweepLoop();
  Result<projections::Json> Sweep(bool dry_run);

  // A signed call to region `region`'s /internal/v1 route.
  struct PeerAnswer {
    long status = 0;
    projections::Json body;
  };
  Result<PeerAnswer> CallPeer(const std::string& region, std::string method,
                              std::string path, const projections::Json* body,
                              std::chrono::milliseconds timeout);

  projections::Json ResidencyJson(const storage::TenantRecord& rec);
  std::string BaseUrlOf(const std::string& region) const;
  void SetError(TenantId tenant, std::string error);

  Deps d_;
  storage::Store& store_;
  const std::string region_;
  std::unique_ptr<WriteGate> gate_;

  std::atomic<bool> stopping_{false};
  Mutex mu_;
  CondVar wake_;  // the queue grew, or stopping_ was set
  std::deque<TenantId> queue_ GUARDED_BY(mu_);
  std::unordered_set<uint64_t> queued_ GUARDED_BY(mu_);
  std::unordered_map<uint64_t, std::shared_ptr<Progress>> progress_
      GUARDED_BY(mu_);
  std::unordered_map<uint64_t, std::string> errors_ GUARDED_BY(mu_);
  bool started_ GUARDED_BY(mu_) = false;
  std::thread driver_;
  std::thread sweeper_;
  Mutex sweep_mu_;  // one sweep at a time
  Mutex purge_mu_;  // one purge at a time
};

}  // namespace siteledger::server
