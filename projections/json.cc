#include "projections/json.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>

#include "storage/base/utf8.h"

namespace siteledger::projections {
namespace {

auto LowerBound(const Json::Object& obj, std::string_view key) {
  return std::lower_bound(
      obj.begin(), obj.end(), key,
      [](const Json::Member& m, std::string_view k) { return m.first < k; });
}
auto LowerBound(Json::Object& obj, std::string_view key) {
  return std::lower_bound(
      obj.begin(), obj.end(), key,
      [](const Json::Member& m, std::string_view k) { return m.first < k; });
}

}  // namespace

const Json* Json::Find(std::string_view key) const {
  if (!is_object()) return nullptr;
  const Object& obj = as_object();
  auto it = LowerBound(obj, key);
  if (it == obj.end() || it->first != key) return nullptr;
  return &it->second;
}

Json* Json::Find(std::string_view key) {
  if (!is_object()) return nullptr;
  Object& obj = as_object();
  auto it = LowerBound(obj, key);
  if (it == obj.end() || it->first != key) return nullptr;
  return &it->second;
}

std::string_view Json::GetString(std::string_view key,
                                 std::string_view fallback) const {
  const Json* v = Find(key);
  return v != nullptr && v->is_string() ? std::string_view(v->as_string())
                                        : fallback;
}

int64_t Json::GetInt(std::string_view key, int64_t fallback) const {
  const Json* v = Find(key);
  return v != nullptr && v->is_int() ? v->as_int() : fallback;
}

Json& Json::Set(std::string key, Json value) {
  Object& obj = as_object();
  auto it = LowerBound(obj, key);
  if (it != obj.end() && it->first == key) {
    it->second = std::move(value);
    return it->second;
  }
  it = obj.emplace(it, std::move(key), std::move(value));
  return it->second;
}

bool Json::Erase(std::string_view key) {
  if (!is_object()) return false;
  Object& obj = as_object();
  auto it = LowerBound(obj, key);
  if (it == obj.end() || it->first != key) return false;
  obj.erase(it);
  return true;
}

void WriteJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the current run of bytes needing no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void Json::Write(std::string& out) const {
  switch (type()) {
    case Type::kNull:
      out += "null";
      return;
    case Type::kBool:
      out += as_bool() ? "true" : "false";
      return;
    case Type::kInt:
      out += std::to_string(as_int());
      return;
    case Type::kString:
      WriteJsonString(out, as_string());
      return;
    case Type::kArray: {
      out.push_back('[');
      bool first = true;
      for (const Json& v : as_array()) {
        if (!first) out.push_back(',');
        first = false;
        v.Write(out);
      }
      out.push_back(']');
      return;
    }
    case Type::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, v] : as_object()) {
        if (!first) out.push_back(',');
        first = false;
        WriteJsonString(out, k);
        out.push_back(':');
        v.Write(out);
      }
      out.push_back('}');
      return;
    }
  }
}

namespace {

class Converter {
 public:
  explicit Converter(const JsonLimits& limits) : limits_(limits) {}

  Status Convert(simdjson::dom::element e, size_t depth, Json& out) {
    switch (e.type()) {
      case simdjson::dom::element_type::NULL_VALUE:
        out = Json();
        return Status::Ok();
      case simdjson::dom::element_type::BOOL:
        out = Json(e.get_bool().value_unsafe());
        return Status::Ok();
      case simdjson::dom::element_type::INT64:
        out = Json(e.get_int64().value_unsafe());
        return Status::Ok();
      case simdjson::dom::element_type::UINT64:
        return Fail("number too large");
      case simdjson::dom::element_type::DOUBLE:
        return Fail("expected a whole number");
      case simdjson::dom::element_type::STRING: {
        std::string_view s = e.get_string().value_unsafe();
        if (s.size() > limits_.max_string_bytes) {
          return Fail("string longer than " +
                      std::to_string(limits_.max_string_bytes) + " bytes");
        }
        out = Json(s);
        return Status::Ok();
      }
      case simdjson::dom::element_type::ARRAY: {
        if (depth >= limits_.max_depth) {
          return Fail("nested deeper than " +
                      std::to_string(limits_.max_depth) + " levels");
        }
        simdjson::dom::array arr = e.get_array().value_unsafe();
        if (arr.size() > limits_.max_array_items) {
          return Fail("array longer than " +
                      std::to_string(limits_.max_array_items) + " items");
        }
        out = Json::MakeArray();
        out.as_array().reserve(arr.size());
        size_t i = 0;
        for (simdjson::dom::element item : arr) {
          const size_t mark = path_.size();
          AppendIndex(i++);
          Json v;
          SL_RETURN_IF_ERROR(Convert(item, depth + 1, v));
          path_.resize(mark);
          out.Push(std::move(v));
        }
        return Status::Ok();
      }
      case simdjson::dom::element_type::OBJECT: {
        if (depth >= limits_.max_depth) {
          return Fail("nested deeper than " +
                      std::to_string(limits_.max_depth) + " levels");
        }
        simdjson::dom::object obj = e.get_object().value_unsafe();
        if (obj.size() > limits_.max_object_members) {
          return Fail("object with more than " +
                      std::to_string(limits_.max_object_members) + " members");
        }
        out = Json::MakeObject();
        Json::Object& members = out.as_object();
        members.reserve(obj.size());
        for (auto field : obj) {
          const size_t mark = path_.size();
          path_.push_back('.');
          path_.append(field.key);
          if (field.key.size() > limits_.max_string_bytes) {
            return Fail("key longer than " +
                        std::to_string(limits_.max_string_bytes) + " bytes");
          }
          Json v;
          SL_RETURN_IF_ERROR(Convert(field.value, depth + 1, v));
          path_.resize(mark);
          members.emplace_back(std::string(field.key), std::move(v));
        }
        // Sort once rather than insert in order: most objects are small, but
        // this is the hot path of every fold. Not a stable sort (which
        // allocates a buffer): equal keys are refused below anyway.
        std::sort(members.begin(), members.end(),
                  [](const Json::Member& a, const Json::Member& b) {
                    return a.first < b.first;
                  });
        for (size_t i = 1; i < members.size(); ++i) {
          if (members[i].first == members[i - 1].first) {
            path_ += "." + members[i].first;
            return Fail("duplicate key");
          }
        }
        return Status::Ok();
      }
    }
    return Fail("unsupported JSON value");
  }

 private:
  // Appends "[i]" to the path without a temporary string: the path is kept
  // for every value of every fold, and only read when something fails.
  void AppendIndex(size_t i) {
    char buf[24];
    buf[0] = '[';
    auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf - 1, i);
    *end++ = ']';
    path_.append(buf, end);
  }

  Status Fail(const std::string& what) {
    return Status::InvalidArgument(path_ + ": " + what);
  }

  const JsonLimits& limits_;
  std::string path_ = "$";
};

}  // namespace

Result<Json> ParseJson(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return siteledger::Err(Status::TooLarge("JSON document larger than " +
                                            std::to_string(limits.max_bytes) +
                                            " bytes"));
  }
  // One parser per thread: parsers reuse their buffers and are not
  // thread-safe.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto error = parser.parse(text.data(), text.size()).get(root);
  std::string repaired;
  if (error == simdjson::UTF8_ERROR && limits.repair_utf8) {
    repaired = RepairUtf8(text);
    error = parser.parse(repaired.data(), repaired.size()).get(root);
  }
  if (error) {
    std::string detail = simdjson::error_message(error);
    if (error == simdjson::UTF8_ERROR) {
      detail = "the body is not valid UTF-8";
    } else if (error == simdjson::DEPTH_ERROR) {
      detail = "nested too deeply";
    } else if (error == simdjson::EMPTY) {
      detail = "the body is empty";
    }
    return siteledger::Err(
        Status::InvalidArgument("malformed JSON: " + detail));
  }
  Json out;
  Converter converter(limits);
  SL_RETURN_ERR_IF_ERROR(converter.Convert(root, 0, out));
  return out;
}

}  // namespace siteledger::projections
