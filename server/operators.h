#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "storage/base/status.h"

namespace siteledger::server {

using siteledger::Result;
using siteledger::Status;

// What an operator may do. Each /admin route names the scope it needs.
enum class Scope : uint8_t {
  kReadTenantData,  // read-tenant-data
  kRestore,         // restore
  kMigrate,         // migrate
  kPurge,           // purge
  kEraseUsers,      // erase-users
  kUsage,           // usage
  kAudit,           // audit
  kClock,           // clock (only with --test-clock)
  kBackup,          // backup
};

std::string_view ScopeName(Scope scope);
std::optional<Scope> ScopeFromName(std::string_view name);
// Every scope's name, in order.
std::vector<std::string_view> AllScopeNames();

struct Operator {
  std::string name;
  std::set<Scope> scopes;
  std::string token_sha256;  // lowercase hex of SHA-256(token as sent)
};

// The operators file: one operator a line, `NAME SCOPES SHA256HEX` separated
// by single spaces (scopes comma-separated; `#` starts a comment). Tokens
// are never stored, only their hashes. Immutable once loaded.
class Operators {
 public:
  // Parses `text`; InvalidArgument names the line at fault.
  static Result<Operators> Parse(std::string_view text);
  // Reads and parses the file: NotFound when it cannot be read, else as
  // Parse. Any thread.
  static Result<Operators> Load(const std::filesystem::path& path);

  // The operator whose token this is, or nullptr. Compares hashes in
  // constant time, against every entry.
  const Operator* Authenticate(std::string_view token) const;

  const std::vector<Operator>& operators() const { return operators_; }

 private:
  std::vector<Operator> operators_;
};

// A comma-separated list of scope names ("usage,audit"). InvalidArgument
// naming the first unknown scope and listing the valid ones, or saying the
// list is empty.
Result<std::set<Scope>> ParseScopeList(std::string_view list);

// The line `siteledger operators add` appends: "NAME SCOPES HASH\n".
// InvalidArgument naming the bad name or the unknown scope (with the valid
// ones), as ParseScopeList.
Result<std::string> OperatorLine(std::string_view name, std::string_view scopes,
                                 std::string_view token);

}  // namespace siteledger::server
