#pragma once

// Error answers (application/problem+json, RFC 9457) and the one mapping of
// status codes onto HTTP. Every answer of the server that is an error is
// built here, the HTTP server's own (413, 431, 400) included.

#include <string_view>

#include "projections/json.h"
#include "server/http_server.h"
#include "storage/base/status.h"

namespace siteledger::server {

// The HTTP status for an error code (StatusCode::kOk: 200).
int HttpStatusOf(StatusCode code);

// An error answer with `detail`, which the client sees. Any thread.
HttpResponse Problem(int status, std::string_view detail);

// The answer for `status`. Server faults (500, 503) are logged (with
// `request_id`, when given) and answered without their message, which may
// name internals; 503 says Retry-After.
HttpResponse ProblemFor(const Status& status, std::string_view request_id = {});

// A JSON answer, not cached.
HttpResponse JsonResponse(int status, const projections::Json& body);

}  // namespace siteledger::server
