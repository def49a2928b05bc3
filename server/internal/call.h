#pragma once

// One request on its way through the server: what the router and the
// authentication found out about it, and how it is answered. Not for use
// outside server/.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/http_server.h"
#include "server/operators.h"
#include "server/routes.h"
#include "storage/base/ids.h"
#include "storage/tenant_registry.h"

namespace siteledger::server {

// Shared, because a write answers later, after its commit.
struct Call {
  HttpRequest request;
  std::string path;   // raw (percent-encoded) path
  std::string query;  // raw query, without '?'
  std::vector<std::pair<std::string, std::string>> query_params;  // decoded
  const RouteSpec* route = nullptr;  // null until matched
  std::string route_label;           // the route template, or "unmatched"
  size_t route_index = SIZE_MAX;     // for metrics; SIZE_MAX when unmatched
  std::map<std::string, std::string> params;  // decoded path parameters
  Responder respond{nullptr};
  std::chrono::steady_clock::time_point start;
  std::string client_ip;
  // X-Request-Id: the client's when it sent a valid one, else made here
  // (RequestIdOf); echoed in the answer, kept in the access log and in the
  // log lines of a failed request.
  std::string request_id;
  bool head = false;
  bool finished = false;

  // Set by tenant authentication (or, for operators, by the clientKey).
  TenantId tenant;
  std::shared_ptr<const storage::TenantRecord> record;
  std::string actor;  // the token's sub: an Atlassian account id
  Timestamp token_expires{};
  // The token is one the administration page was given (kAdminPageClaim).
  bool admin_page = false;
  // The Origin of a cross-origin request from a peer region's page: echoed
  // in Access-Control-Allow-Origin. Empty otherwise.
  std::string cors_origin;

  // A lifecycle callback relayed by another region: that region's base URL,
  // which the token's aud may name instead of this one's.
  std::string relay_audience;
  // Held while a write is in flight (ResidencyApi::AdmitWrite).
  std::shared_ptr<void> write_ticket;

  // Set by operator authentication.
  const Operator* op = nullptr;  // valid while `operators` is held
  std::shared_ptr<const Operators> operators;
  std::string reason;         // X-Access-Reason
  bool audit_access = false;  // written to the audit log when answered

  // A path parameter, or "" when the route has none of that name.
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

}  // namespace siteledger::server
