#include "projections/schema.h"

#include <algorithm>
#include <set>

#include "storage/base/rfc3339.h"

namespace siteledger::projections::schema {
namespace {

Status Fail(const std::string& path, std::string_view what) {
  return Status::InvalidArgument(path + ": " + std::string(what));
}

bool AllOf(std::string_view s, bool (*ok)(char)) {
  return std::all_of(s.begin(), s.end(), ok);
}
bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLowerHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }
bool IsHex(char c) { return IsLowerHex(c) || (c >= 'A' && c <= 'F'); }

Status CheckString(Str kind, std::string_view s, const std::string& path) {
  switch (kind) {
    case Str::kText:
      for (unsigned char c : s) {
        if (c < 0x20 && c != '\n' && c != '\t') {
          return Fail(path, "control characters are not allowed");
        }
      }
      return Status::Ok();
    case Str::kId:
      if (!AllOf(s,
                 [](char c) { return IsAlnum(c) || c == '_' || c == '-'; })) {
        return Fail(path, "an id may hold only letters, digits, '_' and '-'");
      }
      return Status::Ok();
    case Str::kUrl: {
      const bool scheme = s.starts_with("https://") || s.starts_with("http://");
      if (!scheme) return Fail(path, "expected an http:// or https:// URL");
      for (unsigned char c : s) {
        if (c <= 0x20 || c == 0x7f) {
          return Fail(path,
                      "a URL may not contain spaces or control characters");
        }
      }
      return Status::Ok();
    }
    case Str::kSpaceKey:
      if (!AllOf(s,
                 [](char c) { return IsAlnum(c) || c == '_' || c == '~'; })) {
        return Fail(path,
                    "a space key may hold only letters, digits, '_' and '~'");
      }
      return Status::Ok();
    case Str::kContentId:
      if (!AllOf(s, IsDigit) || (s.size() > 1 && s[0] == '0')) {
        return Fail(path,
                    "a Confluence content id is a number (digits, no leading "
                    "zero)");
      }
      return Status::Ok();
    case Str::kMediaId:
      if (s.size() != 64 || !AllOf(s, IsLowerHex)) {
        return Fail(path,
                    "a media id is the lowercase hex SHA-256 of the bytes (64 "
                    "digits)");
      }
      return Status::Ok();
    case Str::kColor:
      if ((s.size() != 4 && s.size() != 7) || s[0] != '#' ||
          !AllOf(s.substr(1), IsHex)) {
        return Fail(path, "expected a colour such as #0052cc");
      }
      return Status::Ok();
    case Str::kTime:
      if (auto t = siteledger::ParseRfc3339(s); !t) {
        return Fail(path, t.error().message());
      }
      return Status::Ok();
    case Str::kDay: {
      if (s.size() != 10 || s[4] != '-' || s[7] != '-' ||
          !siteledger::ParseRfc3339(std::string(s) + "T00:00:00Z")) {
        return Fail(path, "expected a day such as 2026-11-25");
      }
      return Status::Ok();
    }
    case Str::kDomain: {
      if (s.empty() || s.front() == '.' || s.back() == '.' ||
          s.find("..") != std::string_view::npos ||
          s.find('.') == std::string_view::npos || !AllOf(s, [](char c) {
            return (c >= 'a' && c <= 'z') || IsDigit(c) || c == '-' || c == '.';
          })) {
        return Fail(
            path,
            "expected a lowercase host name such as intranet.example.com");
      }
      return Status::Ok();
    }
    case Str::kPseudonym:
      if (s.size() != 22 || !s.starts_with("u_") ||
          !AllOf(s.substr(2), IsLowerHex)) {
        return Fail(path, "expected a user pseudonym");
      }
      return Status::Ok();
  }
  return Status::Ok();
}

class StringV final : public Validator {
 public:
  StringV(Str kind, size_t min, size_t max)
      : kind_(kind), min_(min), max_(max) {}
  Status Check(const Json& v, std::string& path) const override {
    if (!v.is_string()) return Fail(path, "expected a string");
    const std::string& s = v.as_string();
    if (s.size() < min_) {
      return Fail(
          path, min_ == 1 ? "must not be empty"
                          : "shorter than " + std::to_string(min_) + " bytes");
    }
    if (s.size() > max_) {
      return Fail(path, "longer than " + std::to_string(max_) + " bytes");
    }
    return CheckString(kind_, s, path);
  }
  Json ToJsonSchema() const override {
    Json j = Json::MakeObject();
    j.Set("type", "string");
    if (min_ > 0) j.Set("minLength", static_cast<int64_t>(min_));
    j.Set("maxLength", static_cast<int64_t>(max_));
    switch (kind_) {
      case Str::kText:
        break;
      case Str::kId:
        j.Set("pattern", "^[A-Za-z0-9_-]+$");
        break;
      case Str::kUrl:
        j.Set("format", "uri");
        j.Set("pattern", "^https?://[^\\s]+$");
        break;
      case Str::kSpaceKey:
        j.Set("pattern", "^[A-Za-z0-9_~]+$");
        break;
      case Str::kContentId:
        j.Set("pattern", "^[0-9]+$");
        break;
      case Str::kMediaId:
        j.Set("pattern", "^[0-9a-f]{64}$");
        break;
      case Str::kColor:
        j.Set("pattern", "^#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$");
        break;
      case Str::kTime:
        j.Set("format", "date-time");
        break;
      case Str::kDay:
        j.Set("format", "date");
        break;
      case Str::kDomain:
        j.Set("format", "hostname");
        j.Set("pattern", "^[a-z0-9-]+(\\.[a-z0-9-]+)+$");
        break;
      case Str::kPseudonym:
        j.Set("pattern", "^u_[0-9a-f]{20}$");
        break;
    }
    return j;
  }

 private:
  Str kind_;
  size_t min_, max_;
};

class IntV final : public Validator {
 public:
  IntV(int64_t min, int64_t max) : min_(min), max_(max) {}
  Status Check(const Json& v, std::string& path) const override {
    if (!v.is_int()) return Fail(path, "expected a whole number");
    if (v.as_int() < min_ || v.as_int() > max_) {
      return Fail(path, "must be from " + std::to_string(min_) + " to " +
                            std::to_string(max_));
    }
    return Status::Ok();
  }
  Json ToJsonSchema() const override {
    Json j = Json::MakeObject();
    j.Set("type", "integer");
    j.Set("minimum", min_);
    j.Set("maximum", max_);
    return j;
  }

 private:
  int64_t min_, max_;
};

class BoolV final : public Validator {
 public:
  Status Check(const Json& v, std::string& path) const override {
    return v.is_bool() ? Status::Ok() : Fail(path, "expected true or false");
  }
  Json ToJsonSchema() const override {
    Json j = Json::MakeObject();
    j.Set("type", "boolean");
    return j;
  }
};

class NullV final : public Validator {
 public:
  Status Check(const Json& v, std::string& path) const override {
    return v.is_null() ? Status::Ok() : Fail(path, "expected null");
  }
  Json ToJsonSchema() const override {
    Json j = Json::MakeObject();
    j.Set("type", "null");
    return j;
  }
};

class EnumV final : public Validator {
 public:
  explicit EnumV(std::initializer_list<std::string_view> values)
      : values_(values.begin(), values.end()) {}
  Status Check(const Json& v, std::string& path) const override {
    if (v.is_string()) {
      for (const auto& allowed : values_) {
        if (v.as_string() == allowed) return Status::Ok();
      }
    }
    std::string list;
    for (const auto& allowed : values_) {
      if (!list.empty()) list += ", ";
      list += allowed;
    }
    return Fail(path, "expected one of: " + list);
  }
  Json ToJsonSchema() const override {
    Json j = Json::MakeObject();
    j.Set("type", "string");
    Json values = Json::MakeArray();
    for (const auto& v : values_) values.Push(v);
    j.Set("enum", std::move(values));
    return j;
  }

 private:
  std::vector<std::string> values_;
};

class AnyOfV final : public Validator {
 public:
  AnyOfV(V a, V b) : a_(std::move(a)), b_(std::move(b)) {}
  Status Check(const Json& v, std::string& path) const override {
    Status first = a_->Check(v, path);
    if (first.ok()) return first;
    if (b_->Check(v, path).ok()) return Status::Ok();
    return first;
  }
  Json ToJsonSchema() const override {
    Json j = Json::MakeObject();
    Json any = Json::MakeArray();
    any.Push(a_->ToJsonSchema());
    any.Push(b_->ToJsonSchema());
    j.Set("anyOf", std::move(any));
    return j;
  }

 private:
  V a_, b_;
};

class ArrayV final : public Validator {
 public:
  ArrayV(V item, size_t min, size_t max, bool unique)
      : item_(std::move(item)), min_(min), max_(max), unique_(unique) {}
  Status Check(const Json& v, std::string& path) const override {
    if (!v.is_array()) return Fail(path, "expected an array");
    const auto& items = v.as_array();
    if (items.size() < min_) {
      return Fail(path, "needs at least " + std::to_string(min_) + " item(s)");
    }
    if (items.size() > max_) {
      return Fail(path, "more than " + std::to_string(max_) + " items");
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < items.size(); ++i) {
      const size_t mark = path.size();
      path += "[" + std::to_string(i) + "]";
      SL_RETURN_IF_ERROR(item_->Check(items[i], path));
      if (unique_ && !seen.insert(items[i].Dump()).second) {
        return Fail(path, "repeats an earlier item");
      }
      path.resize(mark);
    }
    return Status::Ok();
  }
  Json ToJsonSchema() const override {
    Json j = Json::MakeObject();
    j.Set("type", "array");
    j.Set("items", item_->ToJsonSchema());
    if (min_ > 0) j.Set("minItems", static_cast<int64_t>(min_));
    j.Set("maxItems", static_cast<int64_t>(max_));
    if (unique_) j.Set("uniqueItems", true);
    return j;
  }

 private:
  V item_;
  size_t min_, max_;
  bool unique_;
};

class ObjectV final : public Validator {
 public:
  ObjectV(std::vector<Field> fields, bool one_of)
      : fields_(std::move(fields)), one_of_(one_of) {}
  Status Check(const Json& v, std::string& path) const override {
    if (!v.is_object()) return Fail(path, "expected an object");
    // Unknown fields first: they are refused, never silently dropped.
    for (const auto& [key, value] : v.as_object()) {
      if (!Known(key)) {
        return Fail(path + "." + key, "unknown field");
      }
    }
    size_t present = 0;
    for (const Field& f : fields_) {
      const Json* value = v.Find(f.name);
      if (value == nullptr) {
        if (f.required && !one_of_) {
          return Fail(path + "." + std::string(f.name), "is required");
        }
        continue;
      }
      ++present;
      const size_t mark = path.size();
      path += ".";
      path += f.name;
      SL_RETURN_IF_ERROR(f.validator->Check(*value, path));
      path.resize(mark);
    }
    if (one_of_ && present != 1) {
      std::string names;
      for (const Field& f : fields_) {
        if (!names.empty()) names += ", ";
        names += f.name;
      }
      return Fail(path, "needs exactly one of: " + names);
    }
    return Status::Ok();
  }

  Json ToJsonSchema() const override {
    Json j = Json::MakeObject();
    j.Set("type", "object");
    Json props = Json::MakeObject();
    Json required = Json::MakeArray();
    for (const Field& f : fields_) {
      props.Set(std::string(f.name), f.validator->ToJsonSchema());
      if (f.required && !one_of_) required.Push(std::string(f.name));
    }
    j.Set("properties", std::move(props));
    if (!required.as_array().empty()) j.Set("required", std::move(required));
    j.Set("additionalProperties", false);
    if (one_of_) {
      j.Set("minProperties", 1);
      j.Set("maxProperties", 1);
    }
    return j;
  }

 private:
  bool Known(std::string_view key) const {
    for (const Field& f : fields_) {
      if (f.name == key) return true;
    }
    return false;
  }
  std::vector<Field> fields_;
  bool one_of_;
};

class CustomV final : public Validator {
 public:
  CustomV(std::function<Status(const Json&, std::string&)> f, Json schema)
      : f_(std::move(f)), schema_(std::move(schema)) {}
  Status Check(const Json& v, std::string& path) const override {
    return f_(v, path);
  }
  Json ToJsonSchema() const override { return schema_; }

 private:
  std::function<Status(const Json&, std::string&)> f_;
  Json schema_;
};

std::string Normalize(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '_' || c == '-' || c == '.' || c == ' ') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

bool IsCredentialName(std::string_view name) {
  static const std::set<std::string, std::less<>> kNames = {
      "password",    "passwd",        "pwd",          "passphrase",
      "secret",      "sharedsecret",  "clientsecret", "token",
      "accesstoken", "refreshtoken",  "idtoken",      "apitoken",
      "apikey",      "authorization", "auth",         "privatekey",
      "credential",  "credentials",   "sessionid",    "cookie",
      "bearer",      "jwt",           "otp",          "pin"};
  const std::string n = Normalize(name);
  if (kNames.contains(n)) return true;
  return n.ends_with("password") || n.ends_with("secret") ||
         n.ends_with("token") || n.ends_with("apikey");
}

// Names that only ever mean a Confluence page's content.
bool IsPageContentName(std::string_view name) {
  static const std::set<std::string, std::less<>> kNames = {
      "pagebody",       "excerpt",  "pageexcerpt", "pagetitle", "pagecontent",
      "atlasdocformat", "bodyhtml", "bodystorage", "adf",       "pagetext"};
  return kNames.contains(Normalize(name));
}

// Names that mean page content when they sit next to a page reference (a
// contentId): elsewhere "body" may be a font and "title" a heading.
bool IsPageFieldNextToContentId(std::string_view name) {
  static const std::set<std::string, std::less<>> kNames = {
      "body", "title", "content", "storage", "html"};
  return kNames.contains(Normalize(name));
}

bool LooksLikeJwt(std::string_view s) {
  if (!s.starts_with("eyJ")) return false;
  const size_t a = s.find('.');
  if (a == std::string_view::npos) return false;
  const size_t b = s.find('.', a + 1);
  return b != std::string_view::npos && s.substr(a + 1).starts_with("eyJ");
}

bool LooksLikeEmail(std::string_view s) {
  auto local_char = [](char c) {
    return IsAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' ||
           c == '-';
  };
  for (size_t at = s.find('@'); at != std::string_view::npos;
       at = s.find('@', at + 1)) {
    if (at == 0 || !local_char(s[at - 1])) continue;
    // The domain: [A-Za-z0-9.-]+ with a dot followed by two or more letters.
    size_t end = at + 1;
    while (end < s.size() &&
           (IsAlnum(s[end]) || s[end] == '.' || s[end] == '-')) {
      ++end;
    }
    const std::string_view domain = s.substr(at + 1, end - at - 1);
    const size_t dot = domain.rfind('.');
    if (dot == std::string_view::npos || dot == 0) continue;
    const std::string_view tld = domain.substr(dot + 1);
    if (tld.size() >= 2 && AllOf(tld, [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        })) {
      return true;
    }
  }
  return false;
}

bool LooksLikeCredential(std::string_view s) {
  if (LooksLikeJwt(s)) return true;
  if (s.find("-----BEGIN") != std::string_view::npos &&
      s.find("PRIVATE KEY") != std::string_view::npos) {
    return true;
  }
  for (std::string_view prefix : {"Bearer ", "bearer ", "Basic ", "JWT "}) {
    if (s.starts_with(prefix) && s.size() > prefix.size() + 15 &&
        s.find(' ', prefix.size()) == std::string_view::npos) {
      return true;
    }
  }
  return false;
}

Status Walk(const Json& v, std::string& path) {
  if (v.is_string()) {
    const std::string& s = v.as_string();
    if (LooksLikeCredential(s)) {
      return Fail(path,
                  "looks like a credential (a token or key); credentials are "
                  "never stored");
    }
    if (LooksLikeEmail(s)) {
      return Fail(path,
                  "holds an e-mail address; personal data other than account "
                  "ids is never stored");
    }
    return Status::Ok();
  }
  if (v.is_array()) {
    const auto& items = v.as_array();
    for (size_t i = 0; i < items.size(); ++i) {
      const size_t mark = path.size();
      path += "[" + std::to_string(i) + "]";
      SL_RETURN_IF_ERROR(Walk(items[i], path));
      path.resize(mark);
    }
    return Status::Ok();
  }
  if (!v.is_object()) return Status::Ok();
  const bool references_page = v.Find("contentId") != nullptr;
  for (const auto& [key, value] : v.as_object()) {
    const std::string where = path + "." + key;
    if (IsCredentialName(key)) {
      return Fail(where,
                  "credentials are never stored (passwords, tokens, secrets, "
                  "keys): remove this field");
    }
    if (IsPageContentName(key) ||
        (references_page && IsPageFieldNextToContentId(key))) {
      return Fail(where,
                  "Confluence page content is never stored (bodies, titles, "
                  "excerpts): reference the page by contentId only");
    }
    const size_t mark = path.size();
    path += ".";
    path += key;
    SL_RETURN_IF_ERROR(Walk(value, path));
    path.resize(mark);
  }
  return Status::Ok();
}

}  // namespace

V String(Str kind, size_t min_bytes, size_t max_bytes) {
  return std::make_shared<StringV>(kind, min_bytes, max_bytes);
}
V Int(int64_t min, int64_t max) { return std::make_shared<IntV>(min, max); }
V Bool() { return std::make_shared<BoolV>(); }
V Null() { return std::make_shared<NullV>(); }
V Enum(std::initializer_list<std::string_view> values) {
  return std::make_shared<EnumV>(values);
}
V AnyOf(V first, V second) {
  return std::make_shared<AnyOfV>(std::move(first), std::move(second));
}
V Nullable(V inner) { return AnyOf(Null(), std::move(inner)); }
V ArrayOf(V item, size_t min_items, size_t max_items, bool unique) {
  return std::make_shared<ArrayV>(std::move(item), min_items, max_items,
                                  unique);
}
V Object(std::vector<Field> fields) {
  return std::make_shared<ObjectV>(std::move(fields), false);
}
V OneOf(std::vector<Field> fields) {
  return std::make_shared<ObjectV>(std::move(fields), true);
}
V Custom(std::function<Status(const Json&, std::string&)> check,
         Json json_schema) {
  return std::make_shared<CustomV>(std::move(check), std::move(json_schema));
}

Status CheckForbiddenContent(const Json& payload) {
  std::string path = "$";
  return Walk(payload, path);
}

Status CheckAccountId(std::string_view id) {
  if (id.find('@') != std::string_view::npos) {
    return Status::InvalidArgument(
        "an e-mail address is not an account id: users are identified by "
        "their Atlassian account id only");
  }
  if (id.find(' ') != std::string_view::npos) {
    return Status::InvalidArgument(
        "a name is not an account id: users are identified by their "
        "Atlassian account id only");
  }
  if (id.empty() || id.size() > 128 || !AllOf(id, [](char c) {
        return IsAlnum(c) || c == ':' || c == '_' || c == '-';
      })) {
    return Status::InvalidArgument(
        "an account id is 1 to 128 characters of letters, digits, ':', '_' "
        "and '-'");
  }
  return Status::Ok();
}

}  // namespace siteledger::projections::schema
