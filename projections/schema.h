#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "projections/json.h"

namespace siteledger::projections::schema {

// A validator checks a Json value found at `path` (e.g. "$.items[3]") and
// returns InvalidArgument naming the path and the problem. Immutable once
// built, so safe for concurrent use (a Custom one as far as its function is).
// Shared: a V lives as long as any holder.
class Validator {
 public:
  virtual ~Validator() = default;
  // OK, or InvalidArgument ("$.items[3].label: longer than ...") at the
  // first problem. `path` is used as scratch: restored on OK, possibly left
  // longer on an error.
  virtual Status Check(const Json& value, std::string& path) const = 0;
  // The same shape as a JSON Schema (2020-12, as OpenAPI 3.1 uses it), for
  // the API's published contract. Never fails.
  virtual Json ToJsonSchema() const = 0;
};
using V = std::shared_ptr<const Validator>;

// The shapes of strings the data model knows.
enum class Str : uint8_t {
  kText,       // free text: no control characters but \n and \t
  kId,         // an entity id: [A-Za-z0-9_-]
  kUrl,        // http:// or https:// URL without spaces
  kSpaceKey,   // a Confluence space key: [A-Za-z0-9_~]
  kContentId,  // a Confluence content id: digits
  kMediaId,    // lowercase hex SHA-256 (64 digits)
  kColor,      // #rgb or #rrggbb
  kTime,       // RFC 3339 date-time
  kDay,        // YYYY-MM-DD
  kDomain,     // a host name: labels of [a-z0-9-] joined by dots
  kPseudonym,  // u_ followed by 20 lowercase hex digits
};

// The builders below never fail (any thread) and return validators whose
// Check returns InvalidArgument, as above, for a value of the wrong type or
// outside the bounds.
V String(Str kind, size_t min_bytes, size_t max_bytes);
V Int(int64_t min, int64_t max);
V Bool();
V Enum(std::initializer_list<std::string_view> values);
V Null();
// Either of the two (tried in order; the first one's error is reported).
V AnyOf(V first, V second);
V Nullable(V inner);
// An array of items, at most `max_items`; `unique` refuses repeats.
V ArrayOf(V item, size_t min_items, size_t max_items, bool unique = false);

struct Field {
  std::string_view name;
  V validator;
  bool required = true;
};
inline Field Req(std::string_view name, V v) {
  return {name, std::move(v), true};
}
inline Field Opt(std::string_view name, V v) {
  return {name, std::move(v), false};
}

// An object with exactly these fields: unknown fields are refused (before
// a missing required field is reported).
V Object(std::vector<Field> fields);
// An object with exactly one of these fields (the rest refused).
V OneOf(std::vector<Field> fields);
// A validator defined by a function (for recursive and custom shapes), with
// the JSON Schema that describes what it accepts. `check` must follow
// Check's contract and may be called from any thread at once.
V Custom(std::function<Status(const Json&, std::string&)> check,
         Json json_schema);

// Checks a whole payload for what siteledger never stores, before any schema
// so that the answer says why: credentials (fields named like password,
// token or secret, and values shaped like JWTs, bearer tokens or private
// keys), e-mail addresses anywhere, and Confluence page content (bodies,
// excerpts, page titles: pages are referenced by contentId only).
// InvalidArgument naming the JSON path and the reason. Pure, any thread.
Status CheckForbiddenContent(const Json& payload);

// Checks an Atlassian account id: 1 to 128 bytes of [A-Za-z0-9:_-]. E-mail
// addresses and names are refused with a message that says so. All errors
// are InvalidArgument. Pure, any thread.
Status CheckAccountId(std::string_view account_id);

}  // namespace siteledger::projections::schema
