#include "server/operators.h"

#include <fstream>
#include <sstream>

#include "storage/crypto.h"

namespace siteledger::server {
namespace {

constexpr std::string_view kScopeNames[] = {"read-tenant-data",
                                            "restore",
                                            "migrate",
                                            "purge",
                                            "erase-users",
                                            "usage",
                                            "audit",
                                            "clock",
                                            "backup"};

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<std::set<Scope>> ParseScopes(std::string_view list) {
  std::set<Scope> scopes;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view name = list.substr(0, comma);
    auto scope = ScopeFromName(name);
    if (!scope) {
      std::string known;
      for (auto n : kScopeNames) {
        if (!known.empty()) known += ", ";
        known += n;
      }
      return siteledger::Err(Status::InvalidArgument(
          "unknown scope '" + std::string(name) + "' (scopes: " + known + ")"));
    }
    scopes.insert(*scope);
    list = comma == std::string_view::npos ? std::string_view()
                                           : list.substr(comma + 1);
  }
  if (scopes.empty()) {
    return siteledger::Err(
        Status::InvalidArgument("an operator needs a scope"));
  }
  return scopes;
}

}  // namespace

std::string_view ScopeName(Scope scope) {
  return kScopeNames[static_cast<size_t>(scope)];
}

std::optional<Scope> ScopeFromName(std::string_view name) {
  for (size_t i = 0; i < std::size(kScopeNames); ++i) {
    if (kScopeNames[i] == name) return static_cast<Scope>(i);
  }
  return std::nullopt;
}

std::vector<std::string_view> AllScopeNames() {
  return {std::begin(kScopeNames), std::end(kScopeNames)};
}

Result<Operators> Operators::Parse(std::string_view text) {
  Operators out;
  std::set<std::string> names;
  size_t number = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text =
        nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++number;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    while (!line.empty() &&
           (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (line.empty()) continue;
    auto fail = [&](const std::string& why) {
      return siteledger::Err(Status::InvalidArgument(
          "operators file line " + std::to_string(number) + ": " + why));
    };
    const size_t a = line.find(' ');
    const size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos ||
        line.find(' ', b + 1) != std::string_view::npos) {
      return fail("expected NAME SCOPES SHA256HEX separated by single spaces");
    }
    Operator op;
    op.name = std::string(line.substr(0, a));
    if (!ValidName(op.name)) return fail("a name is 1 to 64 of [A-Za-z0-9._-]");
    if (!names.insert(op.name).second) return fail("duplicate name " + op.name);
    auto scopes = ParseScopes(line.substr(a + 1, b - a - 1));
    if (!scopes) return fail(scopes.error().message());
    op.scopes = std::move(*scopes);
    op.token_sha256 = std::string(line.substr(b + 1));
    auto bytes = storage::FromHex(op.token_sha256);
    if (op.token_sha256.size() != 64 || !bytes) {
      return fail("the hash must be 64 hex digits (SHA-256 of the token)");
    }
    for (char& c : op.token_sha256) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    out.operators_.push_back(std::move(op));
  }
  return out;
}

Result<Operators> Operators::Load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    return siteledger::Err(
        Status::NotFound("cannot read the operators file " + path.string()));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto ops = Parse(buffer.str());
  if (!ops) return siteledger::Err(ops.error().WithContext(path.string()));
  return ops;
}

const Operator* Operators::Authenticate(std::string_view token) const {
  if (token.empty()) return nullptr;
  const std::string hash = storage::ToHex(storage::Sha256(token));
  const Operator* found = nullptr;
  for (const Operator& op : operators_) {
    // Every entry is compared, whatever matched, in constant time each.
    if (storage::ConstantTimeEquals(hash, op.token_sha256)) found = &op;
  }
  return found;
}

Result<std::set<Scope>> ParseScopeList(std::string_view list) {
  return ParseScopes(list);
}

Result<std::string> OperatorLine(std::string_view name, std::string_view scopes,
                                 std::string_view token) {
  // Checked here, not through Parse, so that a bad value is reported as the
  // flag it came from rather than as a line of a file.
  if (!ValidName(name)) {
    return siteledger::Err(
        Status::InvalidArgument("bad operator name '" + std::string(name) +
                                "': a name is 1 to 64 of [A-Za-z0-9._-]"));
  }
  if (auto parsed = ParseScopes(scopes); !parsed) {
    return siteledger::Err(parsed.error());
  }
  std::string line = std::string(name) + " " + std::string(scopes) + " " +
                     storage::ToHex(storage::Sha256(token));
  auto parsed = Operators::Parse(line);
  if (!parsed) return siteledger::Err(parsed.error());
  return line + "\n";
}

}  // namespace siteledger::server
