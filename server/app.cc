#include "server/app.h"

#include "server/log.h"

namespace siteledger::server {
namespace {

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.Set("Content-Type", "application/json");
  r.Set("Cache-Control", "no-store");
  r.body = std::move(body);
  return r;
}

HttpResponse Problem(int status, std::string_view title,
                     std::string_view detail) {
  HttpResponse r;
  r.status = status;
  r.Set("Content-Type", "application/problem+json");
  std::string body = R"({"type":"about:blank","title":)";
  AppendJsonString(body, title);
  body += ",\"status\":" + std::to_string(status) + ",\"detail\":";
  AppendJsonString(body, detail);
  body += "}";
  r.body = std::move(body);
  return r;
}

std::string_view PathOf(std::string_view target) {
  return target.substr(0, target.find('?'));
}

}  // namespace

App::App(storage::Store& store, const Config& config)
    : store_(store), config_(config) {}

void App::Handle(HttpRequest request, Responder respond) {
  const std::string_view path = PathOf(request.target);
  const bool read = request.method == "GET" || request.method == "HEAD";
  if (path == "/healthz" || path == "/readyz") {
    if (!read) {
      HttpResponse r =
          Problem(405, "Method Not Allowed", "this route answers GET and HEAD");
      r.Set("Allow", "GET, HEAD");
      return respond(std::move(r));
    }
    if (path == "/healthz") return respond(Json(200, R"({"status":"ok"})"));
    if (!store_.Healthy()) {
      return respond(Json(503, R"({"status":"unavailable"})"));
    }
    return respond(
        Json(200, R"({"status":"ready","region":")" + config_.region + "\"}"));
  }
  respond(Problem(404, "Not Found", "no route for this path"));
}

}  // namespace siteledger::server
