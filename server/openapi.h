#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "projections/json.h"
#include "server/routes.h"

namespace siteledger::server {

// The OpenAPI 3.1 document for `routes` (the route table), with request body
// schemas taken from the validators that check them. Any thread.
projections::Json BuildOpenApi(std::span<const RouteSpec> routes,
                               const std::string& base_url);

// A request body schema: event `type`'s payload schema without the fields
// the server sets (the payload version, and `server_fields`: ids from the
// path or generated). REQUIRES: `type` is a catalogued event type.
projections::Json RequestBodyFromEvent(
    std::string_view type, const std::vector<std::string>& server_fields);

// `text`, a JSON literal of this program, parsed. Aborts if it does not
// parse (a bug, never input).
projections::Json ParseSchema(std::string_view text);

}  // namespace siteledger::server
