// The HTTP request path after Beast's parser: routing against the real
// route table, percent-decoding of path parameters, query parsing, and the
// request parts every handler reads (limit, cursor, as_of, time windows,
// If-Match, Idempotency-Key, the token, the JSON body). Never crashes;
// decoded path parameters never hold '/' or a control character.
//
// Input: "<METHOD> <target>\n<header>: <value>\n...\n\n<body>".
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/internal/call.h"
#include "server/internal/request_parts.h"
#include "server/jwt.h"
#include "server/routes.h"

namespace sv = siteledger::server;

namespace {

const std::vector<sv::RouteSpec>& Table() {
  static const auto* table =
      new std::vector<sv::RouteSpec>(sv::BuildRouteTable({}));
  return *table;
}

const sv::Router& TheRouter() {
  static const auto* router = new sv::Router(sv::BuildRouter(Table()));
  return *router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  sv::Call call;
  const size_t eol = text.find('\n');
  std::string_view line = text.substr(0, eol);
  text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
  const size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return 0;
  call.request.method = std::string(line.substr(0, sp));
  call.request.target = std::string(line.substr(sp + 1));
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view header = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (header.empty()) break;
    const size_t colon = header.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(header.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    std::string_view value = header.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    call.request.headers.emplace_back(std::move(name), std::string(value));
  }
  call.request.body = std::string(text);
  const std::string& target = call.request.target;
  const size_t q = target.find('?');
  call.path = target.substr(0, q);
  call.query = q == std::string::npos ? std::string() : target.substr(q + 1);
  call.query_params = sv::ParseQuery(call.query);
  const sv::RouteMatch match =
      TheRouter().Match(call.request.method, call.path);
  for (const auto& [name, value] : match.params) {
    for (const char c : value) {
      if (c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        std::abort();
      }
    }
  }
  if (match.route != nullptr) {
    call.route = &Table()[static_cast<size_t>(match.route->handler)];
    call.params = match.params;
  }
  (void)sv::LimitOf(call, 50, 200);
  (void)sv::DecodeCursor(call);
  (void)sv::AsOfOf(call);
  std::optional<siteledger::Timestamp> since, until;
  (void)sv::TimeWindowOf(call, since, until);
  (void)sv::IfMatchOf(call);
  (void)sv::IdempotencyKeyOf(call);
  (void)sv::TokenOf(call, "JWT");
  (void)sv::JsonBodyOf(call, sv::BodyUse::kOptional, {});
  return match.route != nullptr ? 1 : 0;
}
