// The canonical request (the qsh claim's input) and query parsing: never
// crash. The input is "<path>?<query>" (method from the first byte). The
// canonical request is the method, the path and the query joined by '&',
// and it does not change when the query's parameters are reordered.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/jwt.h"

namespace sv = siteledger::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view kMethods[] = {"GET", "POST", "PUT",
                                                  "DELETE", "PATCH"};
  const std::string_view method = kMethods[data[0] % 5];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1,
                              size - 1);
  const size_t q = text.find('?');
  const std::string_view path = text.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : text.substr(q + 1);
  const std::string canonical = sv::CanonicalRequest(method, path, query);
  if (!canonical.starts_with(std::string(method) + "&")) std::abort();
  // The same parameters in reverse order canonicalize the same.
  std::vector<std::string_view> parts;
  for (size_t at = 0; at <= query.size();) {
    const size_t amp = std::min(query.find('&', at), query.size());
    parts.push_back(query.substr(at, amp - at));
    at = amp + 1;
  }
  std::string reversed;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (!reversed.empty()) reversed.push_back('&');
    reversed += *it;
  }
  if (sv::CanonicalRequest(method, path, reversed) != canonical) std::abort();
  const auto params = sv::ParseQuery(query);
  for (const auto& [key, value] : params) {
    // What decodes re-encodes to something that decodes to it again.
    if (sv::DecodeQueryComponent(sv::EncodeRfc3986(key)) != key) std::abort();
    if (sv::DecodeQueryComponent(sv::EncodeRfc3986(value)) != value) {
      std::abort();
    }
  }
  (void)sv::QueryStringHash(method, path, query, "/base");
  return params.empty() ? 0 : 1;
}
