#include "server/router.h"

#include <set>

namespace siteledger::server {
namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

namespace {

// NUL and the other C0 controls and DEL: never part of an id, a key or a
// keyword, raw or percent-encoded.
bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

}  // namespace

bool DecodePathSegment(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      if (IsControl(in[i])) return false;
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || Hex(in[i + 1]) < 0 || Hex(in[i + 2]) < 0) {
      return false;
    }
    const char c = static_cast<char>(Hex(in[i + 1]) * 16 + Hex(in[i + 2]));
    if (c == '/' || IsControl(c)) return false;
    out.push_back(c);
    i += 2;
  }
  return true;
}

void Router::Add(std::string method, std::string pattern, int handler,
                 Access access) {
  Route route{std::move(method), std::move(pattern),
              handler,           access,
              routes_.size(),    {}};
  std::string_view rest(route.pattern);
  while (!rest.empty()) {
    rest.remove_prefix(1);  // '/'
    const size_t end = rest.find('/');
    const std::string_view seg = rest.substr(0, end);
    if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
      route.segments.push_back(
          {std::string(seg.substr(1, seg.size() - 2)), true});
    } else {
      route.segments.push_back({std::string(seg), false});
    }
    rest =
        end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  routes_.push_back(std::move(route));
}

RouteMatch Router::Match(std::string_view method, std::string_view path) const {
  RouteMatch m;
  // Split the path once; a path must start with '/'.
  std::vector<std::string_view> segments;
  if (path.empty() || path[0] != '/') return m;
  for (std::string_view rest = path; !rest.empty();) {
    rest.remove_prefix(1);
    const size_t end = rest.find('/');
    segments.push_back(rest.substr(0, end));
    rest =
        end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  const std::string_view want = method == "HEAD" ? "GET" : method;
  std::set<std::string_view> allowed;
  for (const Route& r : routes_) {
    if (r.segments.size() != segments.size()) continue;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      const Route::Segment& s = r.segments[i];
      match = s.param ? !segments[i].empty() : s.text == segments[i];
    }
    if (!match) continue;
    std::map<std::string, std::string> params;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      if (!r.segments[i].param) continue;
      std::string decoded;
      match = DecodePathSegment(segments[i], decoded);
      params[r.segments[i].text] = std::move(decoded);
    }
    if (!match) continue;
    m.path_known = true;
    allowed.insert(r.method);
    if (r.method == "GET") allowed.insert("HEAD");
    if (m.route == nullptr && r.method == want) {
      m.route = &r;
      m.params = std::move(params);
    }
  }
  for (std::string_view a : allowed) {
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += a;
  }
  return m;
}

}  // namespace siteledger::server
