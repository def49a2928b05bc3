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
  if (!s.server.starts_with("http://") && !s.server.starts_with("https://")) {
    return Err(
        Status::InvalidArgument("--server " + s.server +
                                ": expected an http:// or https:// URL, e.g. "
                                "--server http://127.0.0.1:8080"));
  }
  s.reason = f.Get("reason");
  if (f.Has("token-file")) {
    std::ifstream in(f.Get("token-file"));
    if (!in) {
      return Err(Status::InvalidArgument(
          "cannot read the token file " + f.Get("token-file") +
          ": pass --token-file with the file `siteledger operators add` "
          "printed the token into, or set SITELEDGER_TOKEN"));
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
        "no operator token: pass --token-file PATH or set SITELEDGER_TOKEN "
        "(an operator's token comes from siteledger operators add)"));
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
  auto response = server::Fetch(request);
  if (!response && response.error().code() == StatusCode::kUnavailable) {
    std::string why = response.error().message();
    if (why.starts_with("request failed: ")) {
      why = why.substr(std::string_view("request failed: ").size());
    }
    std::string target = request.url;
    if (const size_t query = target.find('?'); query != std::string::npos) {
      target.resize(query);
    }
    return Err(Status::Unavailable("cannot reach " + target + ": " + why +
                                   "; is siteledgerd running there? pass "
                                   "--server URL"));
  }
  return response;
}

std::string ProblemDetail(const server::OutboundResponse& response) {
  auto problem = projections::ParseJson(response.body);
  if (problem && problem->is_object() && problem->Find("detail") != nullptr) {
    return std::string(problem->GetString("detail"));
  }
  return response.body;
}

std::string Refusal(const std::string& method, const std::string& path,
                    const server::OutboundResponse& response) {
  std::string target = path.substr(0, path.find('?'));
  std::string out = "the server answered " + std::to_string(response.status) +
                    " to " + method + " " + target + ": " +
                    ProblemDetail(response);
  switch (response.status) {
    case 401:
      out +=
          "; pass the token of an operator of this server with --token-file "
          "PATH or SITELEDGER_TOKEN (siteledger operators add makes one; "
          "siteledgerd reads its --operators-file on SIGHUP)";
      break;
    case 403: {
      // The route's problem names the scope: "needs the scope 'usage'".
      const std::string detail = ProblemDetail(response);
      const size_t open = detail.find("scope '");
      if (open != std::string::npos) {
        const size_t from = open + 7;
        const std::string scope =
            detail.substr(from, detail.find('\'', from) - from);
        out += "; use the token of an operator with the scope " + scope +
               " (siteledger operators add --scopes " + scope + ")";
      }
      break;
    }
    case 307:
    case 308: {
      const std::string& location = response.location;
      out += "; the tenant lives in another region: ask it with --server " +
             (location.empty() ? std::string("URL")
                               : location.substr(0, location.find("/admin")));
      break;
    }
    default:
      break;
  }
  return out;
}

std::string PathSegment(const std::string& s) {
  if (s == "." || s == "..") return s == "." ? "%2E" : "%2E%2E";
  return server::EncodeRfc3986(s);
}

}  // namespace siteledger::tools
