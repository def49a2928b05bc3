#pragma once

// App's insides, shared by the .cc files that implement its routes
// (app.cc: routing and authentication; api.cc: the tenant API;
// lifecycle.cc: lifecycle callbacks and the descriptor; ops.cc: health,
// metrics and the OpenAPI document). Not for use outside server/.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "projections/json.h"
#include "projections/projector.h"
#include "server/app.h"
#include "server/event_feed.h"
#include "server/jwt.h"
#include "server/metrics.h"
#include "server/operators.h"
#include "server/router.h"
#include "storage/base/rfc3339.h"

namespace siteledger::server {

using projections::Json;
using siteledger::Sequence;
using siteledger::StatusCode;
using siteledger::TenantId;
using siteledger::Timestamp;

// Every handler, numbered for the router.
enum Handler : int {
  kHealthz,
  kReadyz,
  kMetrics,
  kOpenApi,
  kDescriptor,
  kInstalled,
  kUninstalled,
  kEnabled,
  kDisabled,
  kListSites,
  kCreateSite,
  kGetSite,
  kUpdateSite,
  kDeleteSite,
  kAddDomain,
  kRemoveDomain,
  kAddSpace,
  kRemoveSpace,
  kGetNavigation,
  kReplaceNavigation,
  kAddNavigationItem,
  kMoveNavigationItem,
  kRemoveNavigationItem,
  kListThemes,
  kCreateTheme,
  kGetTheme,
  kUpdateTheme,
  kDeleteTheme,
  kListLayouts,
  kCreateLayout,
  kGetLayout,
  kSaveLayout,
  kDeleteLayout,
  kPublishLayout,
  kListAnnouncements,
  kCreateAnnouncement,
  kGetAnnouncement,
  kUpdateAnnouncement,
  kDeleteAnnouncement,
  kListPromoted,
  kGetPromoted,
  kSetPromoted,
  kClearPromoted,
  kGetFeatured,
  kSetFeatured,
  kClearFeatured,
  kListFeedback,
  kSubmitFeedback,
  kGetFeedback,
  kDeleteFeedback,
  kResolveFeedback,
  kListUsers,
  kGetUser,
  kListEvents,
  kStreamEvents,
  kAdminTenants,
  kAdminUsage,
  kAdminAudit,
  kAdminClock,
  kAdminRestore,
  kListMedia,
  kUploadMedia,
  kGetMedia,
  kDeleteMedia,
  kMediaUrl,
  kSignedMedia,
};

// A media view as the API answers it: id, kind, type, size, dimensions.
Json MediaJson(const Json& doc);

// One request on its way through the app. Shared, because a write answers
// later, from the commit thread.
struct Call {
  HttpRequest request;
  std::string path;   // raw (percent-encoded) path
  std::string query;  // raw query, without '?'
  std::vector<std::pair<std::string, std::string>> query_params;  // decoded
  const Route* route = nullptr;
  std::string route_label;        // the route template, or "unmatched"
  size_t route_index = SIZE_MAX;  // for metrics; SIZE_MAX when unmatched
  std::map<std::string, std::string> params;
  Responder respond{nullptr};
  std::chrono::steady_clock::time_point start;
  std::string client_ip;
  bool head = false;
  bool finished = false;

  // Set by tenant authentication.
  TenantId tenant;
  std::shared_ptr<const storage::TenantRecord> record;
  std::string actor;  // the token's sub: an Atlassian account id
  Timestamp token_expires{};

  // Set by operator authentication.
  const Operator* op = nullptr;  // valid while `operators` is held
  std::shared_ptr<const Operators> operators;
  std::string reason;         // X-Access-Reason
  bool audit_access = false;  // written to the audit log when answered

  const std::string& Param(const std::string& name) const {
    static const std::string kEmpty;
    auto it = params.find(name);
    return it == params.end() ? kEmpty : it->second;
  }
  // The first value of a query parameter, if present.
  std::optional<std::string> Query(std::string_view name) const {
    for (const auto& [k, v] : query_params) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
};
using CallPtr = std::shared_ptr<Call>;

// An error answer in application/problem+json.
HttpResponse Problem(int status, std::string_view detail);
// The HTTP status for an error code.
int HttpStatusOf(StatusCode code);
HttpResponse ProblemFor(const Status& status);
HttpResponse JsonResponse(int status, const Json& body);

class App::Impl {
 public:
  Impl(storage::Store& store, Config config, siteledger::TestClock* test_clock,
       std::shared_ptr<const storage::MasterKey> media_url_key);
  ~Impl();

  void Handle(HttpRequest request, Responder respond);
  void Finish(const CallPtr& call, HttpResponse response);
  void Fail(const CallPtr& call, const Status& status) {
    Finish(call, ProblemFor(status));
  }

  // app.cc
  void Dispatch(const CallPtr& call);
  Status AuthenticateTenant(Call& call, bool allow_context_qsh);
  Result<std::shared_ptr<const storage::TenantRecord>> TenantByClientKey(
      const std::string& client_key);
  void ForgetTenant(const std::string& client_key);
  std::string ClientIp(const HttpRequest& request) const;
  Result<std::string> TokenOf(const Call& call, std::string_view scheme) const;

  // api.cc
  void HandleApi(const CallPtr& call);
  void RecordUserSeen(const Call& call);
  std::string FormatEvent(const storage::Event& e) const;

  // lifecycle.cc
  void HandleLifecycle(const CallPtr& call);
  HttpResponse Descriptor() const;

  // admin.cc
  void HandleAdmin(const CallPtr& call);
  Status AuthenticateOperator(Call& call);
  Status ReloadOperators();
  std::shared_ptr<const Operators> CurrentOperators() const;

  // media.cc
  void HandleMedia(const CallPtr& call);
  void ServeMedia(const CallPtr& call, TenantId tenant,
                  const std::string& media_id);
  void HandleSignedMedia(const CallPtr& call);

  // ops.cc
  void HandleOps(const CallPtr& call);
  std::string RenderMetrics() const;

  storage::Store& store_;
  const Config config_;
  siteledger::TestClock* test_clock_;  // set only with --test-clock
  // Signs media URLs and seals the tenant named in them.
  std::shared_ptr<const storage::MasterKey> media_url_key_;

  mutable std::mutex operators_mu_;
  std::shared_ptr<const Operators> operators_;  // GUARDED_BY(operators_mu_)
  std::string openapi_;                         // built once from the routes
  std::string base_path_;  // the path part of --base-url ("" for none)
  projections::Projector projector_;
  Router router_;
  std::unique_ptr<Metrics> metrics_;  // made once the routes are known

  // Tokens already verified for a request (token and method and target):
  // verifying costs base64, two JSON parses, an HMAC and a hash, and clients
  // reuse tokens. Cleared whenever an installation changes.
  struct VerifiedToken {
    std::shared_ptr<const storage::TenantRecord> record;
    std::string actor;
    Timestamp expires{};
  };
  static constexpr size_t kMaxVerifiedTokens = 10000;
  std::mutex verified_mu_;
  std::unordered_map<std::string, VerifiedToken> verified_;  // GUARDED_BY
  EventFeed feed_;

  mutable std::mutex tenants_mu_;
  std::unordered_map<std::string, std::shared_ptr<const storage::TenantRecord>>
      tenants_;  // clientKey -> record; GUARDED_BY(tenants_mu_)

  mutable std::mutex keys_mu_;
  struct CachedKey {
    std::string pem;
    std::chrono::steady_clock::time_point fetched;
  };
  std::unordered_map<std::string, CachedKey> install_keys_;  // GUARDED_BY

  // Accounts seen today, to append user.seen at most once a day without a
  // lookup per request: (tenant, account) -> day.
  std::mutex seen_mu_;
  std::map<std::pair<uint64_t, std::string>, std::string> seen_;
};

}  // namespace siteledger::server
