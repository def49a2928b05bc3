#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "storage/base/status.h"

namespace siteledger::projections {

using siteledger::Result;
using siteledger::Status;

// A JSON value as siteledger stores it: null, bool, a 64-bit integer, a
// string, an array, or an object whose members are kept sorted by key (so
// that writing it out is canonical). Numbers with a fraction or an exponent
// are not part of this model: every number in the data model is a whole one.
// A plain value: const methods may run on any number of threads at once; a
// Json being changed must not be read elsewhere meanwhile.
class Json {
 public:
  enum class Type : uint8_t { kNull, kBool, kInt, kString, kArray, kObject };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;  // sorted by key, unique keys

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : value_(b) {}
  Json(int v) : value_(static_cast<int64_t>(v)) {}
  Json(int64_t v) : value_(v) {}
  // REQUIRES: v <= INT64_MAX (larger values wrap to negative ones).
  Json(uint64_t v) : value_(static_cast<int64_t>(v)) {}
  Json(const char* s) : value_(std::string(s)) {}
  Json(std::string s) : value_(std::move(s)) {}
  Json(std::string_view s) : value_(std::string(s)) {}
  Json(Array a) : value_(std::move(a)) {}

  static Json MakeObject() {
    Json j;
    j.value_ = Object{};
    return j;
  }
  static Json MakeArray() {
    Json j;
    j.value_ = Array{};
    return j;
  }

  Type type() const { return static_cast<Type>(value_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_int() const { return type() == Type::kInt; }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  // Accessors. REQUIRES: the value has that type. References are valid until
  // the value is changed or destroyed.
  bool as_bool() const { return std::get<bool>(value_); }
  int64_t as_int() const { return std::get<int64_t>(value_); }
  const std::string& as_string() const { return std::get<std::string>(value_); }
  const Array& as_array() const { return std::get<Array>(value_); }
  Array& as_array() { return std::get<Array>(value_); }
  const Object& as_object() const { return std::get<Object>(value_); }
  Object& as_object() { return std::get<Object>(value_); }

  // Object members. Find returns nullptr when absent (or not an object);
  // the pointer is valid until this value is changed or destroyed.
  const Json* Find(std::string_view key) const;
  Json* Find(std::string_view key);
  // The member's string (a view valid until this value is changed or
  // destroyed), or `fallback` when absent or not a string. GetInt likewise.
  std::string_view GetString(std::string_view key,
                             std::string_view fallback = {}) const;
  int64_t GetInt(std::string_view key, int64_t fallback = 0) const;
  // Sets (inserting or replacing) a member, keeping keys sorted; returns it,
  // valid until the object is next changed. REQUIRES: is_object().
  Json& Set(std::string key, Json value);
  // Removes a member; returns whether it was there (false, too, when this is
  // not an object).
  bool Erase(std::string_view key);

  // Appends to an array. REQUIRES: is_array().
  void Push(Json value) { as_array().push_back(std::move(value)); }

  bool operator==(const Json& other) const = default;

  // Writes compact JSON; object keys come out sorted, so equal values give
  // equal bytes (the canonical form digests are taken over). Appends to
  // `out`; never fails.
  void Write(std::string& out) const;
  std::string Dump() const {
    std::string out;
    Write(out);
    return out;
  }

 private:
  std::variant<std::monostate, bool, int64_t, std::string, Array, Object>
      value_;
};

// Appends `s` as a JSON string literal (quoted, escaped) to `out`. Bytes at
// or above 0x80 are copied as they are: `s` should be UTF-8. Never fails;
// any thread.
void WriteJsonString(std::string& out, std::string_view s);

// Limits applied while parsing untrusted JSON.
struct JsonLimits {
  size_t max_bytes = 1 << 20;       // whole document
  size_t max_depth = 16;            // nesting of arrays and objects
  size_t max_string_bytes = 16384;  // any one string or key
  size_t max_array_items = 1000;    // any one array
  size_t max_object_members = 200;  // any one object
  // Text that is not valid UTF-8 is read with U+FFFD for each ill-formed
  // sequence rather than refused: for data stored before every input was
  // checked, so that it can still be read, listed and restored. Never for
  // input.
  bool repair_utf8 = false;
};

// Limits for JSON siteledger wrote itself (stored views, snapshots): only
// a guard against a damaged store; ill-formed UTF-8 is repaired.
inline JsonLimits TrustedJsonLimits() {
  return JsonLimits{.max_bytes = size_t{1} << 30,
                    .max_depth = 64,
                    .max_string_bytes = size_t{1} << 24,
                    .max_array_items = size_t{1} << 24,
                    .max_object_members = size_t{1} << 16,
                    .repair_utf8 = true};
}

// Parses `text` (which must be valid UTF-8) into a Json, enforcing `limits`.
// Errors are InvalidArgument (TooLarge for max_bytes) and name the JSON path
// at fault, e.g. "$.items[3].label: string longer than 16384 bytes".
// Duplicate keys, numbers with a fraction or exponent, and integers beyond
// int64 are refused (InvalidArgument). Any thread (each thread parses with
// its own parser).
Result<Json> ParseJson(std::string_view text, const JsonLimits& limits = {});

}  // namespace siteledger::projections
