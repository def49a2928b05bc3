#include "tools/operator_client.h"

#include <cstdlib>
#include <fstream>

#include "projections/json.h"
#include "server/jwt.h"

namespace siteledger::tools {

Result<ServerFlags> LoadServerFlags(const Flags& f) {
  ServerFlags s;
  s.server = f.Get("server", "http://127.0.0.1:8080");
  while (!s.server.empty() && s.server.back() == '/') s.server.pop_back();
  s.reason = f.Get("reason");
  if (f.Has("token-file")) {
    std::ifstream in(f.Get("token-file"));
    if (!in) {
      return Err(Status::InvalidArgument("cannot read the token file " +
                                         f.Get("token-file")));
    }
    std::getline(in, s.token);
  } else if (const char* env = std::getenv("SITELEDGER_TOKEN")) {
    s.token = env;
  }
  while (!s.token.empty() &&
         (s.token.back() == '\n' || s.token.back() == '\r' ||
          s.token.back() == ' ')) {
    s.token.pop_back();
  }
  if (s.token.empty()) {
    return Err(Status::InvalidArgument(
        "no operator token: pass --token-file or set SITELEDGER_TOKEN"));
  }
  return s;
}

Result<server::OutboundResponse> SendRequest(
    const ServerFlags& s, const std::string& method, const std::string& path,
    const std::string& body,
    std::vector<std::pair<std::string, std::string>> headers) {
  server::OutboundRequest request;
  request.method = method;
  request.url = s.server + path;
  request.headers = std::move(headers);
  request.headers.push_back({"Authorization", "Bearer " + s.token});
  if (!s.reason.empty()) {
    request.headers.push_back({"X-Access-Reason", s.reason});
  }
  if (!body.empty()) {
    request.headers.push_back({"Content-Type", "application/json"});
    request.body = body;
  }
  request.timeout = std::chrono::seconds(60);
  request.max_response_bytes = size_t{256} << 20;
  return server::Fetch(request);
}

std::string ProblemDetail(const server::OutboundResponse& response) {
  auto problem = projections::ParseJson(response.body);
  if (problem && problem->is_object() && problem->Find("detail") != nullptr) {
    return std::string(problem->GetString("detail"));
  }
  return response.body;
}

std::string PathSegment(const std::string& s) {
  if (s == "." || s == "..") return s == "." ? "%2E" : "%2E%2E";
  return server::EncodeRfc3986(s);
}

}  // namespace siteledger::tools
