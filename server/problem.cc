#include "server/problem.h"

#include "server/log.h"

namespace siteledger::server {
namespace {

std::string_view Title(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    case 507:
      return "Insufficient Storage";
    default:
      return status >= 500 ? "Internal Server Error" : "Error";
  }
}

// An answer that is never cached.
HttpResponse Uncached(int status, std::string content_type, std::string body) {
  HttpResponse r;
  r.status = status;
  r.Set("Content-Type", std::move(content_type));
  r.Set("Cache-Control", "no-store");
  r.Set("X-Content-Type-Options", "nosniff");
  r.Set("Referrer-Policy", "no-referrer");
  r.body = std::move(body);
  return r;
}

}  // namespace

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kPreconditionFailed:
      return 412;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kTooLarge:
      return 413;
    case StatusCode::kUnsupported:
      return 415;
    case StatusCode::kRateLimited:
      return 429;
    case StatusCode::kQuotaExceeded:
      return 507;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kCorruption:
    case StatusCode::kIOError:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

HttpResponse Problem(int status, std::string_view detail) {
  projections::Json body = projections::Json::MakeObject();
  body.Set("type", "about:blank");
  body.Set("title", Title(status));
  body.Set("status", status);
  body.Set("detail", detail);
  return Uncached(status, "application/problem+json", body.Dump());
}

HttpResponse ProblemFor(const Status& status, std::string_view request_id) {
  const int code = HttpStatusOf(status.code());
  if (code >= 500 && code != 507) {
    // Internal details stay in the log; the client learns only that it
    // failed.
    if (request_id.empty()) {
      Log("error", "request failed", {{"error", status.ToString()}});
    } else {
      Log("error", "request failed",
          {{"error", status.ToString()}, {"request_id", request_id}});
    }
    if (status.code() == StatusCode::kUnavailable) {
      HttpResponse r = Problem(503, status.message());
      r.Set("Retry-After", "1");
      return r;
    }
    return Problem(code, "the server could not complete the request");
  }
  HttpResponse r = Problem(code, status.message());
  if (code == 401) r.Set("WWW-Authenticate", "JWT");
  // A full disk (or its reserve) clears when an operator frees space; a
  // tenant over its media quota may retry once it deleted some.
  if (code == 507) r.Set("Retry-After", "30");
  return r;
}

HttpResponse JsonResponse(int status, const projections::Json& body) {
  return Uncached(status, "application/json", body.Dump());
}

}  // namespace siteledger::server
