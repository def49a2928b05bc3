#pragma once

#include <string>

#include "projections/json.h"
#include "server/router.h"

namespace siteledger::server {

// The OpenAPI 3.1 document for every route of `router`, with request body
// schemas taken from the validators that check them.
projections::Json BuildOpenApi(const Router& router,
                               const std::string& base_url);

}  // namespace siteledger::server
