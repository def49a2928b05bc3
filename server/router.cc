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

bool DecodePathSegment(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || Hex(in[i + 1]) < 0 || Hex(in[i + 2]) < 0) {
      return false;
    }
    const char c = static_cast<char>(Hex(in[i + 1]) * 16 + Hex(in[i + 2]));
    if (c == '/' || c == '\0') return false;
    out.push_back(c);
    i += 2;
  }
  return true;
}

void Router::Add(std::string method, std::string pattern, int handler,
                 Access access) {
  routes_.push_back(
      Route{std::move(method), std::move(pattern), handler, access});
}

bool Router::MatchPattern(std::string_view pattern, std::string_view path,
                          std::map<std::string, std::string>* params) {
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty()) return false;
    if (pattern[0] != '/' || path[0] != '/') return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    const size_t pe = pattern.find('/');
    const size_t se = path.find('/');
    const std::string_view pseg = pattern.substr(0, pe);
    const std::string_view sseg = path.substr(0, se);
    if (pseg.size() > 2 && pseg.front() == '{' && pseg.back() == '}') {
      std::string decoded;
      if (sseg.empty() || !DecodePathSegment(sseg, decoded)) return false;
      if (params != nullptr) {
        (*params)[std::string(pseg.substr(1, pseg.size() - 2))] = decoded;
      }
    } else if (pseg != sseg) {
      return false;
    }
    pattern =
        pe == std::string_view::npos ? std::string_view() : pattern.substr(pe);
    path = se == std::string_view::npos ? std::string_view() : path.substr(se);
  }
  return true;
}

RouteMatch Router::Match(std::string_view method, std::string_view path) const {
  RouteMatch m;
  const std::string_view want = method == "HEAD" ? "GET" : method;
  std::set<std::string> allowed;
  for (const Route& r : routes_) {
    std::map<std::string, std::string> params;
    if (!MatchPattern(r.pattern, path, &params)) continue;
    m.path_known = true;
    allowed.insert(r.method);
    if (r.method == "GET") allowed.insert("HEAD");
    if (m.route == nullptr && r.method == want) {
      m.route = &r;
      m.params = std::move(params);
    }
  }
  for (const std::string& a : allowed) {
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += a;
  }
  return m;
}

}  // namespace siteledger::server
