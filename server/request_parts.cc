#include "server/internal/request_parts.h"

#include <charconv>

#include "server/jwt.h"
#include "server/problem.h"
#include "storage/base/rfc3339.h"
#include "storage/event_log.h"

namespace siteledger::server {

using projections::Json;

Result<size_t> LimitOf(const Call& call, size_t fallback, size_t max) {
  auto text = call.Query("limit");
  if (!text) return fallback;
  size_t n = 0;
  auto [ptr, ec] =
      std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || ptr != text->data() + text->size() || n == 0 ||
      n > max) {
    return Err(Status::InvalidArgument(
        "limit: expected a whole number from 1 to " + std::to_string(max)));
  }
  return n;
}

Status TimeWindowOf(const Call& call, std::optional<Timestamp>& since,
                    std::optional<Timestamp>& until) {
  for (const auto& [name, slot] :
       {std::pair{"since", &since}, std::pair{"until", &until}}) {
    if (auto text = call.Query(name)) {
      auto t = ParseRfc3339(*text);
      if (!t) {
        return Status::InvalidArgument(std::string(name) + ": " +
                                       t.error().message());
      }
      *slot = *t;
    }
  }
  return Status::Ok();
}

Result<Sequence> SeqOf(std::string_view text, std::string_view what) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return Err(Status::InvalidArgument(std::string(what) +
                                       ": expected a sequence number"));
  }
  return Sequence(n);
}

Result<AsOf> AsOfOf(const Call& call) {
  AsOf out;
  auto text = call.Query("as_of");
  if (!text) return out;
  out.set = true;
  if (text->starts_with("seq:")) {
    auto seq = SeqOf(std::string_view(*text).substr(4), "as_of");
    if (!seq) return Err(seq.error());
    out.seq = *seq;
  } else {
    auto t = ParseRfc3339(*text);
    if (!t) {
      return Err(Status::InvalidArgument(
          "as_of: expected an RFC 3339 time or seq:N (" + t.error().message() +
          ")"));
    }
    out.time = *t;
  }
  return out;
}

std::string EncodeCursor(std::string_view position) {
  return Base64UrlEncode(position);
}

Result<std::string> DecodeCursor(const Call& call) {
  auto text = call.Query("cursor");
  if (!text || text->empty()) return std::string();
  auto decoded = Base64UrlDecode(*text);
  if (!decoded) {
    return Err(
        Status::InvalidArgument("cursor: not a cursor this API returned"));
  }
  return *decoded;
}

Json ListBody(Json items, const std::string& next) {
  Json body = Json::MakeObject();
  body.Set("items", std::move(items));
  body.Set("nextCursor", next.empty() ? Json() : Json(EncodeCursor(next)));
  return body;
}

Result<std::optional<Sequence>> IfMatchOf(const Call& call) {
  std::string_view h = call.request.Header("if-match");
  if (h.empty()) return std::optional<Sequence>();
  // "*": any current version, that is, the entity must exist.
  if (h == "*") return std::optional<Sequence>(projections::kAnyVersion);
  if (h.size() < 3 || h.front() != '"' || h.back() != '"') {
    return Err(Status::InvalidArgument(
        "If-Match: expected the entity's ETag, such as \"42\""));
  }
  auto seq = SeqOf(h.substr(1, h.size() - 2), "If-Match");
  if (!seq) return Err(seq.error());
  return std::optional<Sequence>(*seq);
}

Result<std::string> IdempotencyKeyOf(const Call& call) {
  std::string_view h = call.request.Header("idempotency-key");
  if (h.empty()) return std::string();
  bool ok = h.size() <= storage::kMaxIdempotencyKeyBytes;
  for (unsigned char c : h) ok = ok && c >= 0x21 && c <= 0x7e;
  if (!ok) {
    return Err(Status::InvalidArgument(
        "Idempotency-Key: at most 128 printable ASCII characters"));
  }
  return std::string(h);
}

Result<Json> JsonBodyOf(const Call& call, BodyUse use,
                        const projections::JsonLimits& limits) {
  const std::string& body = call.request.body;
  if (body.empty()) {
    if (use == BodyUse::kRequired) {
      return Err(Status::InvalidArgument("this request needs a JSON body"));
    }
    return Json();
  }
  std::string type(call.request.Header("content-type"));
  type = type.substr(0, type.find(';'));
  for (char& c : type) c = static_cast<char>(std::tolower(c));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (type != "application/json") {
    return Err(Status::Unsupported(
        "the body must be JSON (Content-Type: application/json)"));
  }
  auto json = projections::ParseJson(body, limits);
  if (!json) return Err(json.error());
  if (!json->is_object()) {
    return Err(Status::InvalidArgument("$: the body must be a JSON object"));
  }
  return json;
}

Result<std::string> TokenOf(const Call& call, std::string_view scheme) {
  std::string_view auth = call.request.Header("authorization");
  if (!auth.empty()) {
    if (auth.size() > scheme.size() + 1 &&
        auth.substr(0, scheme.size()) == scheme && auth[scheme.size()] == ' ') {
      return std::string(auth.substr(scheme.size() + 1));
    }
    return Err(Status::Unauthenticated("the Authorization header must be '" +
                                       std::string(scheme) + " <token>'"));
  }
  if (auto jwt = call.Query("jwt")) return *jwt;
  return Err(Status::Unauthenticated(
      "no token: send 'Authorization: " + std::string(scheme) +
      " <token>' or ?jwt="));
}

Json ViewBody(const projections::ViewDoc& view) {
  Json body = view.doc;
  body.Set("version", view.version.value());
  return body;
}

HttpResponse ViewResponse(int status, const projections::ViewDoc& view) {
  HttpResponse r = JsonResponse(status, ViewBody(view));
  r.Set("ETag", "\"" + std::to_string(view.version.value()) + "\"");
  return r;
}

HttpResponse StoredViewResponse(const projections::Projector::StoredView& v) {
  HttpResponse r;
  r.status = 200;
  r.Set("Content-Type", "application/json");
  r.Set("Cache-Control", "no-store");
  r.Set("ETag", "\"" + std::to_string(v.version.value()) + "\"");
  // The document's canonical JSON with its version added as the last member.
  const std::string& json = v.json;
  r.body.reserve(json.size() + 24);
  r.body.append(json, 0, json.size() - 1);  // without the closing brace
  if (json.size() > 2) r.body.push_back(',');
  r.body += "\"version\":" + std::to_string(v.version.value()) + "}";
  return r;
}

HttpResponse NoContent() {
  HttpResponse r;
  r.status = 204;
  r.Set("Cache-Control", "no-store");
  return r;
}

Json EventItem(const storage::Event& e) {
  Json item = Json::MakeObject();
  item.Set("seq", e.seq.value());
  item.Set("time", FormatRfc3339(e.time));
  item.Set("type", e.type);
  item.Set("actor", e.actor.empty() ? Json() : Json(e.actor));
  auto payload =
      projections::ParseJson(e.payload, projections::TrustedJsonLimits());
  item.Set("payload", payload ? std::move(*payload) : Json());
  return item;
}

std::string FormatEvent(const storage::Event& e, bool named) {
  return "id: " + std::to_string(e.seq.value()) +
         (named ? "\nevent: " + e.type : std::string()) +
         "\ndata: " + EventItem(e).Dump() + "\n\n";
}

Result<UsageCounts> CountUsage(projections::Projector& projector,
                               TenantId tenant) {
  UsageCounts counts;
  for (auto kind :
       {projections::ViewKind::kSite, projections::ViewKind::kTheme}) {
    std::string cursor;
    do {
      auto page = projector.List(tenant, kind, cursor, 500);
      if (!page) return Err(page.error());
      for (const auto& [key, view] : page->items) {
        if (kind == projections::ViewKind::kTheme) {
          ++counts.themes;
          continue;
        }
        ++counts.sites;
        if (const Json* d = view.doc.Find("domains"); d && d->is_array()) {
          counts.custom_domains += static_cast<int64_t>(d->as_array().size());
        }
        if (const Json* k = view.doc.Find("spaceKeys"); k && k->is_array()) {
          counts.spaces += static_cast<int64_t>(k->as_array().size());
        }
      }
      cursor = page->next_cursor;
    } while (!cursor.empty());
  }
  return counts;
}

}  // namespace siteledger::server
