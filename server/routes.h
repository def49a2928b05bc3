#pragma once

// The route table: every operation siteledgerd serves, described once. The
// router, the dispatch to handlers and the OpenAPI document are all made
// from it, so a route cannot be served without being documented, or
// documented without being served. Adding an operation is one row here (and,
// for a new kind of change, its command and fold in projections/).

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "projections/commands.h"
#include "projections/json.h"
#include "projections/views.h"
#include "server/operators.h"
#include "server/router.h"

namespace siteledger::server {

// The handler class that serves a route.
enum class Handler : uint8_t {
  kPublic,     // health, readiness, metrics, documents, signed media URLs
  kLifecycle,  // Atlassian's lifecycle callbacks
  kTenantApi,  // /api/v1 views, lists, commands and the event log
  kMedia,      // /api/v1/media: uploads, downloads, deletion, signed URLs
  kOperator,   // /admin: operator routes, and the tenant reads they mirror
  kResidency,  // residency: where a tenant lives, migrations, peers
};

// What a route does, for the handler that serves it. The generic actions
// (kGetView, kListViews, kCommand) are driven entirely by the row; the others
// name a handler's own code.
enum class Action : uint8_t {
  kGetView,    // one entity of RouteSpec::view, named by id_param
  kListViews,  // a page of RouteSpec::view entities
  kCommand,    // RouteSpec::command, with id_param / item_param / the body
  kHealthz,
  kReadyz,
  kMetrics,
  kOpenApi,
  kDescriptor,
  kInstalled,
  kUninstalled,
  kEnabled,
  kDisabled,
  kGetNavigation,  // a site's menu; an empty one for a site without
  kListEvents,
  kStreamEvents,
  kUploadMedia,
  kGetMedia,
  kDeleteMedia,
  kMediaUrl,
  kSignedMedia,
  kAdminTenants,
  kAdminUsage,
  kAdminAudit,
  kAdminAccessLog,
  kAdminClock,
  kAdminRestore,
  kAdminDigest,  // the digest of a tenant's views, now or ?as_of=
  kAdminEraseUsers,
  kAdminBackup,  // POST /admin/backups
  // Residency: the tenant's own routes, the operators', Atlassian's
  // realm-migration callbacks, and the region-to-region routes.
  kResidencyGet,
  kResidencyMigrate,
  kResidencyRollback,
  kAdminPage,       // GET /pages/residency: the administration page
  kAdminPageToken,  // a fresh token for the administration page
  kTenantUsage,     // the tenant's own usage figures
  kAdminMigrationGet,
  kAdminMigrationStart,
  kAdminMigrationRollback,
  kAdminSweep,
  kDareSchedule,
  kDareStart,
  kDareStatus,
  kDareCommit,
  kDareRollback,
  kPeerBegin,
  kPeerImport,
  kPeerStatus,
  kPeerDigest,
  kPeerCommit,
  kPeerAbort,
  kPeerReclaim,
  kPeerRollback,
  kPeerRelay,
};

// Whether a command takes a JSON body. Any body sent must be JSON (415).
enum class BodyUse : uint8_t { kNone, kOptional, kRequired };

// A query parameter beyond the ones the flags imply, for the document.
struct QueryParamDoc {
  std::string name;
  std::string description;
  // "string", "integer", "date-time", or "enum:a|b|c".
  std::string type = "string";
  bool required = false;
};

// Builds a request body's JSON schema for the document.
using BodySchema = std::function<projections::Json()>;

struct RouteSpec {
  std::string method;
  std::string path;  // "/api/v1/sites/{id}"
  Access access = Access::kPublic;
  Handler handler = Handler::kPublic;
  Action action = Action::kHealthz;

  // kGetView, kListViews: the entities; kCommand: the entity changed.
  projections::ViewKind view = projections::ViewKind::kSite;
  projections::CommandType command = projections::CommandType::kCreateSite;
  std::string id_param;    // the path parameter naming the entity
  std::string item_param;  // a second path parameter (Command::item)
  BodyUse body = BodyUse::kNone;
  int success = 200;     // 201 for creations, 204 for deletions
  std::string location;  // 201: the new entity is at location + its id

  // Lists: ?cursor=&limit= with these bounds. 0: not a list.
  size_t default_limit = 0;
  size_t max_limit = 0;
  bool as_of = false;     // takes ?as_of= (an RFC 3339 time or seq:N)
  bool write = false;     // takes If-Match and Idempotency-Key
  bool mirrored = false;  // also served read-only to operators, below
                          // /admin/tenants/{clientKey}
  Scope scope = Scope::kReadTenantData;  // operator routes
  // An operator route outside /admin/tenants/{clientKey} that reads
  // personal data: like a tenant's routes it needs X-Access-Reason and is
  // written to the audit log before anything is answered.
  bool personal_data = false;

  // The OpenAPI document.
  std::string summary;
  std::string description;
  std::string response;       // component schema ("Site"); "" for none
  BodySchema request_schema;  // the JSON request body; empty for none
  std::string example;        // a request body the route accepts (JSON)
  std::vector<QueryParamDoc> query;

  bool is_list() const { return max_limit > 0; }
};

struct RouteOptions {
  bool test_clock = false;  // serve POST /admin/clock
};

// Every route, in matching order: the table above, then each mirrored read
// again for operators (access kOperator, handler kOperator, its path below
// /admin/tenants/{clientKey}).
std::vector<RouteSpec> BuildRouteTable(const RouteOptions& options);

// A router over `routes`: Route::handler is the row's index in `routes`.
Router BuildRouter(std::span<const RouteSpec> routes);

// The prefix of the region-to-region routes.
inline constexpr std::string_view kPeerPrefix = "/internal/v1/";

// The prefix of the operator routes that touch one tenant's data.
inline constexpr std::string_view kOperatorTenantPrefix =
    "/admin/tenants/{clientKey}";

}  // namespace siteledger::server
