// The OpenAPI 3.1 document, built from the router's routes and the very
// schemas that validate request bodies, so that the contract and the code
// cannot drift apart.

#include "server/openapi.h"

#include <cctype>
#include <cstdlib>
#include <map>
#include <set>

#include "projections/events.h"

namespace siteledger::server {
namespace {

namespace ev = projections::event;
using projections::Json;

Json Obj(std::initializer_list<std::pair<std::string, Json>> members) {
  Json o = Json::MakeObject();
  for (const auto& [k, v] : members) o.Set(k, v);
  return o;
}

Json Arr(std::initializer_list<Json> items) {
  Json a = Json::MakeArray();
  for (const Json& i : items) a.Push(i);
  return a;
}

Json Ref(const std::string& name) {
  return Obj({{"$ref", "#/components/schemas/" + name}});
}

Json Str() { return Obj({{"type", "string"}}); }
Json Int() { return Obj({{"type", "integer"}}); }
Json NullableStr() { return Obj({{"type", Arr({"string", "null"})}}); }
Json Time() { return Obj({{"type", "string"}, {"format", "date-time"}}); }
Json NullableTime() {
  return Obj({{"type", Arr({"string", "null"})}, {"format", "date-time"}});
}

// A view document: its own properties plus the version every view has.
Json View(std::initializer_list<std::pair<std::string, Json>> properties,
          std::initializer_list<std::string> required) {
  Json props = Obj(properties);
  props.Set("version", Obj({{"type", "integer"},
                            {"description",
                             "The seq of the last event that changed this "
                             "entity; the ETag"}}));
  Json req = Json::MakeArray();
  for (const auto& r : required) req.Push(r);
  req.Push("version");
  return Obj({{"type", "object"}, {"properties", props}, {"required", req}});
}

Json ListOf(const std::string& item) {
  return Obj({{"type", "object"},
              {"properties",
               Obj({{"items", Obj({{"type", "array"}, {"items", Ref(item)}})},
                    {"nextCursor",
                     Obj({{"type", Arr({"string", "null"})},
                          {"description",
                           "Pass as ?cursor= for the next page; null on the "
                           "last page"}})}})},
              {"required", Arr({"items", "nextCursor"})}});
}

}  // namespace

Json RequestBodyFromEvent(std::string_view type,
                          const std::vector<std::string>& server_fields) {
  Json schema = projections::EventSchema(type)->ToJsonSchema();
  std::set<std::string> drop(server_fields.begin(), server_fields.end());
  drop.insert("v");
  Json* props = schema.Find("properties");
  for (const auto& f : drop) props->Erase(f);
  if (Json* required = schema.Find("required")) {
    Json kept = Json::MakeArray();
    for (const Json& r : required->as_array()) {
      if (!drop.contains(r.as_string())) kept.Push(r);
    }
    if (kept.as_array().empty()) {
      schema.Erase("required");
    } else {
      *required = std::move(kept);
    }
  }
  return schema;
}

Json ParseSchema(std::string_view text) {
  auto json = projections::ParseJson(text);
  // The schemas are literals of this program: one that does not parse is a
  // bug that must not reach a client.
  if (!json) std::abort();
  return std::move(*json);
}

namespace {

Json QueryParam(const std::string& name, const std::string& description,
                Json schema = Str()) {
  return Obj({{"name", name},
              {"in", "query"},
              {"required", false},
              {"description", description},
              {"schema", schema}});
}

// A documented query parameter beyond those the route's flags imply.
Json ExtraQueryParam(const QueryParamDoc& q) {
  Json schema;
  if (q.type == "integer") {
    schema = Int();
  } else if (q.type == "date-time") {
    schema = Time();
  } else if (q.type.starts_with("enum:")) {
    Json values = Json::MakeArray();
    std::string_view rest = std::string_view(q.type).substr(5);
    while (!rest.empty()) {
      const size_t bar = rest.find('|');
      values.Push(std::string(rest.substr(0, bar)));
      rest = bar == std::string_view::npos ? std::string_view()
                                           : rest.substr(bar + 1);
    }
    schema = Obj({{"type", "string"}, {"enum", std::move(values)}});
  } else {
    schema = Str();
  }
  Json p = Obj({{"name", q.name}, {"in", "query"}, {"required", q.required}});
  if (!q.description.empty()) p.Set("description", q.description);
  p.Set("schema", std::move(schema));
  return p;
}

Json Components() {
  Json schemas = Json::MakeObject();
  schemas.Set("Problem",
              Obj({{"type", "object"},
                   {"properties", Obj({{"type", Str()},
                                       {"title", Str()},
                                       {"status", Int()},
                                       {"detail", Str()}})},
                   {"required", Arr({"type", "title", "status", "detail"})}}));
  schemas.Set("Status",
              Obj({{"type", "object"},
                   {"properties", Obj({{"status", Str()}, {"region", Str()}})},
                   {"required", Arr({"status"})}}));
  const Json str_array = Obj({{"type", "array"}, {"items", Str()}});
  schemas.Set("Site", View({{"id", Str()},
                            {"name", Str()},
                            {"domains", str_array},
                            {"spaceKeys", str_array},
                            {"themeId", NullableStr()},
                            {"homeLayoutId", NullableStr()},
                            {"createdAt", Time()},
                            {"updatedAt", Time()}},
                           {"id", "name", "domains", "spaceKeys", "themeId",
                            "homeLayoutId", "createdAt", "updatedAt"}));
  Json theme = RequestBodyFromEvent(ev::kThemeCreated, {"themeId"});
  Json theme_props = *theme.Find("properties");
  theme_props.Set("id", Str());
  theme_props.Set("createdAt", Time());
  theme_props.Set("updatedAt", Time());
  theme_props.Set("version", Int());
  schemas.Set("Theme", Obj({{"type", "object"},
                            {"properties", theme_props},
                            {"required", Arr({"id", "name", "colors", "fonts",
                                              "media", "version"})}}));
  schemas.Set("NavigationItem", projections::NavigationItemJsonSchema());
  schemas.Set("Navigation",
              View({{"siteId", Str()},
                    {"items", Obj({{"type", "array"},
                                   {"items", Ref("NavigationItem")}})},
                    {"updatedAt", Time()}},
                   {"siteId", "items"}));
  const Json sections = *RequestBodyFromEvent(ev::kLayoutSaved, {"layoutId"})
                             .Find("properties")
                             ->Find("sections");
  const Json layout_part =
      Obj({{"type", "object"}, {"properties", Obj({{"sections", sections}})}});
  schemas.Set(
      "Layout",
      View({{"id", Str()},
            {"name", Str()},
            {"siteId", Str()},
            {"draft", layout_part},
            {"published",
             Obj({{"anyOf", Arr({layout_part, Obj({{"type", "null"}})})}})},
            {"publishedAt",
             Obj({{"type", Arr({"string", "null"})}, {"format", "date-time"}})},
            {"createdAt", Time()},
            {"updatedAt", Time()}},
           {"id", "name", "draft", "published"}));
  Json announcement =
      RequestBodyFromEvent(ev::kAnnouncementPublished, {"announcementId"});
  Json announcement_props = *announcement.Find("properties");
  announcement_props.Set("id", Str());
  announcement_props.Set("createdAt", Time());
  announcement_props.Set("updatedAt", Time());
  announcement_props.Set("version", Int());
  schemas.Set("Announcement",
              Obj({{"type", "object"},
                   {"properties", announcement_props},
                   {"required", Arr({"id", "text", "severity", "startsAt",
                                     "audience", "version"})}}));
  schemas.Set(
      "Promoted",
      View({{"keyword", Str()},
            {"results", *RequestBodyFromEvent(ev::kPromotedSet, {"keyword"})
                             .Find("properties")
                             ->Find("results")},
            {"updatedAt", Time()}},
           {"keyword", "results"}));
  schemas.Set("Featured", View({{"contentId", Str()},
                                {"mediaId", Str()},
                                {"text", Str()},
                                {"updatedAt", Time()}},
                               {"contentId"}));
  schemas.Set(
      "Feedback",
      View({{"id", Str()},
            {"text", Str()},
            {"rating", Int()},
            {"contentId", Str()},
            {"submitter", Obj({{"type", "string"},
                               {"description", "the submitter's pseudonym"}})},
            {"status",
             Obj({{"type", "string"}, {"enum", Arr({"open", "resolved"})}})},
            {"submittedAt", Time()},
            {"resolvedAt", Obj({{"type", Arr({"string", "null"})},
                                {"format", "date-time"}})}},
           {"id", "text", "submitter", "status", "submittedAt"}));
  schemas.Set(
      "User",
      View({{"id", Obj({{"type", "string"}, {"description", "pseudonym"}})},
            {"firstSeen", Obj({{"type", "string"}, {"format", "date"}})},
            {"lastSeen", Obj({{"type", "string"}, {"format", "date"}})},
            {"erased",
             Obj({{"type", "boolean"},
                  {"description",
                   "true once an operator erased the person: the pseudonym "
                   "no longer leads to an account id"}})},
            {"erasedAt", Time()}},
           {"id"}));
  schemas.Set(
      "Event",
      Obj({{"type", "object"},
           {"properties", Obj({{"seq", Int()},
                               {"time", Time()},
                               {"type", Str()},
                               {"actor", NullableStr()},
                               {"payload", Obj({{"type", "object"}})}})},
           {"required", Arr({"seq", "time", "type", "actor", "payload"})}}));
  schemas.Set(
      "Media",
      Obj({{"type", "object"},
           {"properties",
            Obj({{"id", Str()},
                 {"kind", Str()},
                 {"type", Str()},
                 {"size", Int()},
                 {"width", Obj({{"type", Arr({"integer", "null"})}})},
                 {"height", Obj({{"type", Arr({"integer", "null"})}})}})},
           {"required", Arr({"id", "type", "size", "width", "height"})}}));
  schemas.Set(
      "MediaUrl",
      Obj({{"type", "object"},
           {"properties",
            Obj({{"url", Str()}, {"path", Str()}, {"expiresAt", Time()}})},
           {"required", Arr({"url", "path", "expiresAt"})}}));
  schemas.Set("Tenant",
              Obj({{"type", "object"},
                   {"properties", Obj({{"clientKey", Str()},
                                       {"state", Str()},
                                       {"homeRegion", Str()},
                                       {"events", Int()},
                                       {"bytes", Int()},
                                       {"lastChange", NullableStr()},
                                       {"installedAt", Time()},
                                       {"uninstalledAt", NullableTime()},
                                       {"purgeAt", NullableTime()}})},
                   {"required", Arr({"clientKey", "state", "homeRegion",
                                     "events", "bytes"})}}));
  const Json counts = Obj({{"type", "object"},
                           {"properties", Obj({{"clientKey", Str()},
                                               {"sites", Int()},
                                               {"themes", Int()},
                                               {"customDomains", Int()},
                                               {"spaces", Int()}})}});
  schemas.Set("Usage",
              Obj({{"type", "object"},
                   {"properties",
                    Obj({{"items", Obj({{"type", "array"}, {"items", counts}})},
                         {"totals", counts}})},
                   {"required", Arr({"items", "totals"})}}));
  schemas.Set(
      "UsageCounts",
      Obj({{"type", "object"},
           {"properties", Obj({{"sites", Int()},
                               {"themes", Int()},
                               {"customDomains", Int()},
                               {"spaces", Int()}})},
           {"required", Arr({"sites", "themes", "customDomains", "spaces"})}}));
  schemas.Set(
      "PageToken",
      Obj({{"type", "object"},
           {"properties", Obj({{"token", Str()}, {"expiresAt", Time()}})},
           {"required", Arr({"token", "expiresAt"})}}));
  const Json nullable_int = Obj({{"type", Arr({"integer", "null"})}});
  schemas.Set(
      "Residency",
      Obj({{"type", "object"},
           {"properties",
            Obj({{"region", Str()},
                 {"homeBaseUrl", Str()},
                 {"state", Obj({{"type", "string"},
                                {"enum", Arr({"home", "copying", "cutover",
                                              "rolling-back"})}})},
                 {"progress",
                  Obj({{"type", Arr({"object", "null"})},
                       {"properties",
                        Obj({{"eventsCopied", Int()},
                             {"eventsTotal", Int()},
                             {"mediaCopied", Int()},
                             {"mediaTotal", Int()},
                             {"bytesCopied", Int()},
                             {"rate", Obj({{"type", "number"},
                                           {"description", "events/s"}})},
                             {"etaSeconds", nullable_int}})}})},
                 {"rollbackDeadline", NullableStr()},
                 {"movedFrom",
                  Obj({{"type", Arr({"string", "null"})},
                       {"description",
                        "The region the data last moved from, while it "
                        "lives here"}})},
                 {"migrationId", NullableStr()},
                 {"lastError", NullableStr()}})},
           {"required", Arr({"region", "homeBaseUrl", "state", "progress",
                             "rollbackDeadline"})}}));
  schemas.Set(
      "Digest",
      Obj({{"type", "object"},
           {"properties",
            Obj({{"seq", Int()},
                 {"digest", Obj({{"type", "string"},
                                 {"pattern", "^[0-9a-f]{64}$"},
                                 {"description",
                                  "SHA-256 of the views, lowercase hex"}})}})},
           {"required", Arr({"seq", "digest"})}}));
  schemas.Set(
      "RestoreResult",
      Obj({{"type", "object"},
           {"properties",
            Obj({{"seq",
                  Obj({{"type", "integer"},
                       {"description", "the head after the restore"}})}})},
           {"required", Arr({"seq"})}}));
  schemas.Set("DareStatus",
              Obj({{"type", "object"},
                   {"properties",
                    Obj({{"status", Str()}, {"errorResponseCode", Str()}})},
                   {"required", Arr({"status"})}}));
  schemas.Set(
      "Sweep",
      Obj({{"type", "object"},
           {"properties",
            Obj({{"purged", Obj({{"type", "array"},
                                 {"items", Obj({{"type", "object"}})}})},
                 {"dryRun", Obj({{"type", "boolean"}})},
                 {"accessLog",
                  Obj({{"type", "object"},
                       {"description",
                        "The access log's entries and day keys older than "
                        "14 days: retired (or, in a dry run, due); error "
                        "when retiring failed (the next sweep tries again)"},
                       {"properties",
                        Obj({{"cutoff", Time()},
                             {"daysRetired",
                              Obj({{"type", "array"},
                                   {"items", Obj({{"type", "string"},
                                                  {"format", "date"}})}})},
                             {"entriesDeleted", Int()},
                             {"error", Str()}})},
                       {"required", Arr({"cutoff"})}})}})},
           {"required", Arr({"purged"})}}));
  schemas.Set(
      "Backup",
      Obj({{"type", "object"},
           {"properties",
            Obj({{"backupId", Int()},
                 {"dir", Str()},
                 {"createdAt", Time()},
                 {"bytes",
                  Obj({{"type", "integer"},
                       {"description", "the backup's database files"}})},
                 {"files", Int()},
                 {"newFiles",
                  Obj({{"type", "integer"},
                       {"description",
                        "files copied by this backup; the rest are reused "
                        "from earlier backups in dir"}})},
                 {"tenants",
                  Obj({{"type", "integer"},
                       {"description", "tenants with a live key"}})}})},
           {"required", Arr({"backupId", "dir", "createdAt"})}}));
  schemas.Set(
      "EraseUsers",
      Obj({{"type", "object"},
           {"properties",
            Obj({{"requested", Int()},
                 {"erased",
                  Obj({{"type", "integer"},
                       {"description", "(tenant, account) mappings erased"}})},
                 {"notFound",
                  Obj({{"type", "integer"},
                       {"description", "accounts no tenant here holds"}})},
                 {"deferred",
                  Obj({{"type", "integer"},
                       {"description",
                        "mappings of tenants changing region now: retry"}})},
                 {"tenants", Int()}})},
           {"required",
            Arr({"requested", "erased", "notFound", "deferred", "tenants"})}}));
  schemas.Set(
      "Audit",
      Obj({{"type", "object"},
           {"properties", Obj({{"id", Int()},
                               {"time", Time()},
                               {"actor", Str()},
                               {"action", Str()},
                               {"tenant", NullableStr()},
                               {"outcome", Str()},
                               {"reason", NullableStr()},
                               {"route", NullableStr()},
                               {"detail", NullableStr()}})},
           {"required", Arr({"id", "time", "actor", "action", "outcome"})}}));
  schemas.Set(
      "AccessEntry",
      Obj({{"type", "object"},
           {"properties",
            Obj({{"time", Time()},
                 {"tenant",
                  Obj({{"type", Arr({"string", "integer", "null"})},
                       {"description",
                        "The tenant's clientKey; its internal id once its "
                        "record is gone; null for a request that named no "
                        "tenant"}})},
                 {"clientIp", Str()},
                 {"method", Str()},
                 {"route", Obj({{"type", "string"},
                                {"description",
                                 "The route template, or \"unmatched\""}})},
                 {"status", Int()},
                 {"latencyUs", Int()}})},
           {"required", Arr({"time", "tenant", "clientIp", "method", "route",
                             "status", "latencyUs"})}}));
  for (const char* name :
       {"Site", "Theme", "Layout", "Announcement", "Promoted", "Feedback",
        "User", "Event", "Tenant", "Audit", "Media", "AccessEntry"}) {
    schemas.Set(std::string(name) + "List", ListOf(name));
  }

  Json security = Json::MakeObject();
  security.Set(
      "connectJwt",
      Obj({{"type", "apiKey"},
           {"in", "header"},
           {"name", "Authorization"},
           {"description",
            "`Authorization: JWT <token>`: an Atlassian Connect JWT (HS256 "
            "with the installation's sharedSecret, iss = clientKey, qsh of "
            "the request or context-qsh with a sub)."}}));
  security.Set("connectJwtQuery", Obj({{"type", "apiKey"},
                                       {"in", "query"},
                                       {"name", "jwt"},
                                       {"description",
                                        "The same token as ?jwt= (for "
                                        "EventSource and links)."}}));
  security.Set("operatorBearer",
               Obj({{"type", "http"},
                    {"scheme", "bearer"},
                    {"description",
                     "An operator token from the operators file; each route "
                     "needs a scope."}}));
  security.Set("installJwt",
               Obj({{"type", "apiKey"},
                    {"in", "header"},
                    {"name", "Authorization"},
                    {"description",
                     "`Authorization: JWT <token>`: RS256, signed with the "
                     "Atlassian install key named by its kid; aud = baseUrl, "
                     "iss = clientKey."}}));
  security.Set("peerJwt",
               Obj({{"type", "apiKey"},
                    {"in", "header"},
                    {"name", "Authorization"},
                    {"description",
                     "`Authorization: JWT <token>`: another region of this "
                     "deployment; HS256 with the peer secret, iss = "
                     "siteledger:<region>, qsh of the request."}}));
  const Json request_id_schema =
      Obj({{"type", "string"},
           {"pattern", "^[A-Za-z0-9._:/+=@-]{1,128}$"},
           {"example", "4bf92f3577b34da6a3ce929d0e0e4736"}});
  Json parameters = Json::MakeObject();
  parameters.Set(
      "XRequestId",
      Obj({{"name", "X-Request-Id"},
           {"in", "header"},
           {"required", false},
           {"description",
            "The request's id for correlation: echoed in the answer and "
            "kept in the access log. One that does not match the pattern "
            "is replaced, not refused."},
           {"schema", request_id_schema}}));
  Json headers = Json::MakeObject();
  headers.Set("XRequestId",
              Obj({{"description",
                    "The request's id: the client's X-Request-Id when it "
                    "matched the pattern, else one the server made (32 hex "
                    "digits)"},
                   {"schema", request_id_schema}}));
  return Obj({{"schemas", schemas},
              {"securitySchemes", security},
              {"parameters", parameters},
              {"headers", headers}});
}

Json ProblemResponse(const std::string& description) {
  return Obj({{"description", description},
              {"content", Obj({{"application/problem+json",
                                Obj({{"schema", Ref("Problem")}})}})}});
}

std::string ToLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(c));
  return s;
}

// A readable, stable operationId: the method, then each path segment in
// PascalCase, a parameter as By<Name>: GET /api/v1/sites/{id} is
// getApiV1SitesById. Generators name their functions after it, so it must
// not change once published.
std::string OperationId(const RouteSpec& route) {
  std::string id = ToLower(route.method);
  bool upper = true;
  for (size_t i = 0; i < route.path.size(); ++i) {
    const char c = route.path[i];
    if (c == '{') {
      id += "By";
      upper = true;
    } else if (std::isalnum(static_cast<unsigned char>(c))) {
      id += upper
                ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                : c;
      upper = false;
    } else {
      upper = true;  // '/', '-', '.', '}' start a new word
    }
  }
  return id;
}

// The operation's group in the document (and in generated clients).
std::string TagOf(const RouteSpec& route) {
  const std::string_view path = route.path;
  if (path.starts_with(kPeerPrefix)) return "peers";
  if (route.access == Access::kOperator) return "operators";
  switch (route.handler) {
    case Handler::kLifecycle:
      return "lifecycle";
    case Handler::kMedia:
      return "media";
    case Handler::kResidency:
      return "residency";
    case Handler::kOperator:
      return "operators";
    case Handler::kPublic:
      return "public";
    case Handler::kTenantApi:
      break;
  }
  // /api/v1/<resource>/...
  constexpr std::string_view kApi = "/api/v1/";
  if (!path.starts_with(kApi)) return "public";
  const std::string_view rest = path.substr(kApi.size());
  return std::string(rest.substr(0, rest.find('/')));
}

const std::map<std::string, std::string>& TagDescriptions() {
  static const auto* descriptions = new std::map<std::string, std::string>{
      {"public", "Health, readiness, metrics and the documents"},
      {"lifecycle", "Atlassian's lifecycle callbacks"},
      {"residency", "Where a tenant's data lives, and moving it"},
      {"usage", "The site's own usage figures"},
      {"sites", "Sites, their domains, spaces and navigation"},
      {"themes", "Themes"},
      {"layouts", "Layouts, their drafts and publication"},
      {"announcements", "Announcements"},
      {"search", "Promoted search results"},
      {"pages", "Featured images and text of Confluence pages"},
      {"feedback", "Feedback"},
      {"users", "Users seen, by pseudonym"},
      {"events", "The tenant's event log and its live stream"},
      {"media", "Uploaded images"},
      {"operators", "Operator routes (bearer tokens with scopes)"},
      {"peers", "Region-to-region routes"},
  };
  return *descriptions;
}

// Rewrites, in place, every object schema that admits exactly one of its
// properties (minProperties = maxProperties = 1, as the validators' one-of
// objects say it) as a oneOf of objects that each require one of them:
// code generators ignore the property counts but honour oneOf.
void ExpressExactlyOneOf(Json& j) {
  if (j.is_array()) {
    for (Json& v : j.as_array()) ExpressExactlyOneOf(v);
    return;
  }
  if (!j.is_object()) return;
  for (auto& [k, v] : j.as_object()) ExpressExactlyOneOf(v);
  const Json* min = j.Find("minProperties");
  const Json* max = j.Find("maxProperties");
  const Json* props = j.Find("properties");
  if (min == nullptr || max == nullptr || props == nullptr || !min->is_int() ||
      !max->is_int() || min->as_int() != 1 || max->as_int() != 1 ||
      !props->is_object()) {
    return;
  }
  const Json* additional = j.Find("additionalProperties");
  const bool closed =
      additional != nullptr && additional->is_bool() && !additional->as_bool();
  Json alternatives = Json::MakeArray();
  for (const auto& [name, schema] : props->as_object()) {
    Json one = Obj({{"type", "object"},
                    {"properties", Obj({{name, schema}})},
                    {"required", Arr({name})}});
    if (closed) one.Set("additionalProperties", false);
    alternatives.Push(std::move(one));
  }
  Json rewritten = Json::MakeObject();
  for (const auto& [k, v] : j.as_object()) {
    if (k == "type" || k == "properties" || k == "minProperties" ||
        k == "maxProperties" || k == "additionalProperties" ||
        k == "required") {
      continue;
    }
    rewritten.Set(k, v);
  }
  rewritten.Set("oneOf", std::move(alternatives));
  j = std::move(rewritten);
}

}  // namespace

Json BuildOpenApi(std::span<const RouteSpec> routes,
                  const std::string& base_url) {
  Json paths = Json::MakeObject();
  std::set<std::string> tags;
  for (const RouteSpec& route : routes) {
    Json o = Json::MakeObject();
    o.Set("summary", route.summary);
    if (!route.description.empty()) o.Set("description", route.description);
    o.Set("operationId", OperationId(route));
    o.Set("tags", Arr({TagOf(route)}));
    tags.insert(TagOf(route));
    Json params = Json::MakeArray();
    // Path parameters, in the order they appear.
    for (size_t at = route.path.find('{'); at != std::string::npos;
         at = route.path.find('{', at + 1)) {
      const size_t end = route.path.find('}', at);
      params.Push(Obj({{"name", route.path.substr(at + 1, end - at - 1)},
                       {"in", "path"},
                       {"required", true},
                       {"schema", Str()}}));
    }
    if (route.as_of) {
      params.Push(QueryParam(
          "as_of",
          "Read the state at an earlier point: an RFC 3339 time or seq:N"));
    }
    if (route.is_list()) {
      params.Push(QueryParam("cursor", "From a previous page's nextCursor"));
      params.Push(QueryParam(
          "limit", "Items per page",
          Obj({{"type", "integer"},
               {"minimum", 1},
               {"maximum", static_cast<int64_t>(route.max_limit)}})));
    }
    for (const QueryParamDoc& q : route.query) params.Push(ExtraQueryParam(q));
    params.Push(Obj({{"$ref", "#/components/parameters/XRequestId"}}));
    if (route.write) {
      params.Push(Obj({{"name", "If-Match"},
                       {"in", "header"},
                       {"required", false},
                       {"description",
                        "The entity's ETag; 412 and nothing written if it "
                        "changed"},
                       {"schema", Str()}}));
      params.Push(
          Obj({{"name", "Idempotency-Key"},
               {"in", "header"},
               {"required", false},
               {"description",
                "A retry with the same key within 24 h returns the "
                "first answer"},
               {"schema", Obj({{"type", "string"}, {"maxLength", 128}})}}));
    }
    if (route.access == Access::kOperator &&
        (route.path.starts_with(kOperatorTenantPrefix) ||
         route.personal_data)) {
      params.Push(Obj(
          {{"name", "X-Access-Reason"},
           {"in", "header"},
           {"required", true},
           {"description",
            route.personal_data
                ? "Why the operator reads this personal data; written to "
                  "the audit log before anything is answered"
                : "Why the operator reads this tenant's data; written "
                  "to the audit log before anything is answered"},
           {"schema",
            Obj({{"type", "string"}, {"minLength", 1}, {"maxLength", 500}})}}));
    }
    if (route.action == Action::kStreamEvents) {
      params.Push(Obj({{"name", "Last-Event-ID"},
                       {"in", "header"},
                       {"required", false},
                       {"schema", Str()}}));
    }
    if (!params.as_array().empty()) o.Set("parameters", std::move(params));
    if (route.action == Action::kUploadMedia) {
      const Json binary = Obj({{"type", "string"}, {"format", "binary"}});
      Json content = Json::MakeObject();
      for (const char* type : {"image/png", "image/jpeg", "image/gif",
                               "image/webp", "image/x-icon", "image/svg+xml"}) {
        content.Set(type, Obj({{"schema", binary}}));
      }
      content.Set(
          "multipart/form-data",
          Obj({{"schema", Obj({{"type", "object"},
                               {"properties", Obj({{"file", binary}})}})}}));
      o.Set("requestBody", Obj({{"required", true}, {"content", content}}));
    }
    if (route.request_schema) {
      Json media = Obj({{"schema", route.request_schema()}});
      if (!route.example.empty()) {
        media.Set("example", ParseSchema(route.example));
      }
      o.Set("requestBody",
            Obj({{"required", true},
                 {"content", Obj({{"application/json", std::move(media)}})}}));
    }
    Json responses = Json::MakeObject();
    Json ok = Obj({{"description", "Success"}});
    if (!route.response.empty()) {
      const std::string schema =
          route.is_list() ? route.response + "List" : route.response;
      ok.Set("content",
             Obj({{"application/json", Obj({{"schema", Ref(schema)}})}}));
      if (!route.is_list() && route.access == Access::kTenant) {
        ok.Set("headers",
               Obj({{"ETag", Obj({{"description", "The entity's version"},
                                  {"schema", Str()}})}}));
      }
    } else if (route.action == Action::kGetMedia ||
               route.action == Action::kSignedMedia) {
      const Json binary = Obj({{"type", "string"}, {"format", "binary"}});
      ok.Set("content", Obj({{"image/*", Obj({{"schema", binary}})}}));
    } else if (route.action == Action::kStreamEvents) {
      ok.Set("content", Obj({{"text/event-stream", Obj({{"schema", Str()}})}}));
    } else if (route.action == Action::kMetrics) {
      ok.Set("content", Obj({{"text/plain", Obj({{"schema", Str()}})}}));
    } else if (route.action == Action::kOpenApi ||
               route.action == Action::kDescriptor) {
      ok.Set("content", Obj({{"application/json",
                              Obj({{"schema", Obj({{"type", "object"}})}})}}));
    }
    if (route.action == Action::kUploadMedia) {
      // The same bytes again: the image already stored, its id unchanged.
      Json again = ok;
      again.Set("description", "The same bytes were uploaded before");
      responses.Set("200", std::move(again));
    }
    responses.Set(std::to_string(route.success), std::move(ok));
    const bool signed_url = route.access == Access::kSignedUrl;
    const bool has_body = route.request_schema || route.write;
    if (has_body || route.access != Access::kPublic || !route.query.empty()) {
      responses.Set("400", ProblemResponse("Malformed request or body"));
    }
    if (signed_url) {
      responses.Set("403", ProblemResponse("Bad or expired signature"));
    } else if (route.access != Access::kPublic) {
      responses.Set("401", ProblemResponse("Missing or invalid token"));
    }
    if (route.action == Action::kGetMedia ||
        route.action == Action::kSignedMedia) {
      const Json binary = Obj({{"type", "string"}, {"format", "binary"}});
      responses.Set(
          "206",
          Obj({{"description", "The byte range asked for (Range)"},
               {"content", Obj({{"image/*", Obj({{"schema", binary}})}})}}));
      responses.Set(
          "304",
          Obj({{"description", "Unchanged since the If-None-Match ETag"}}));
      responses.Set("416", ProblemResponse("The range lies outside the image"));
    }
    if (route.access == Access::kOperator) {
      responses.Set("403",
                    ProblemResponse("The token lacks this route's scope"));
    }
    if (route.access == Access::kTenant) {
      responses.Set("403", ProblemResponse("The app is uninstalled"));
    }
    if (route.access == Access::kOperator || route.access == Access::kTenant ||
        route.access == Access::kPeer || signed_url) {
      responses.Set("404", ProblemResponse("No such tenant or entity"));
    }
    if (route.write) {
      responses.Set("409", ProblemResponse("Conflicts with current state"));
      responses.Set("412", ProblemResponse("If-Match does not match"));
    }
    if (has_body) {
      responses.Set("413", ProblemResponse("Body too large"));
      responses.Set("415", ProblemResponse("Body of an unsupported type"));
    }
    if (route.access == Access::kTenant) {
      responses.Set("429", ProblemResponse("Over the site's request rate "
                                           "(--tenant-rate); retry after "
                                           "the Retry-After header's seconds"));
    }
    responses.Set("500", ProblemResponse("The server failed"));
    if (route.action == Action::kReadyz) {
      responses.Set("503", Obj({{"description", "Not ready"}}));
    } else if (route.access != Access::kPublic) {
      responses.Set("503", ProblemResponse("Unavailable for now (the tenant "
                                           "is moving region, or the server "
                                           "is draining)"));
    }
    if (route.write) {
      responses.Set("507", ProblemResponse("Over the site's storage quota, or "
                                           "the disk is full"));
    }
    switch (route.access) {
      case Access::kTenant:
        o.Set("security", Arr({Obj({{"connectJwt", Json::MakeArray()}}),
                               Obj({{"connectJwtQuery", Json::MakeArray()}})}));
        break;
      case Access::kInstallSigned:
        o.Set("security", Arr({Obj({{"installJwt", Json::MakeArray()}})}));
        break;
      case Access::kTenantSigned:
        o.Set("security", Arr({Obj({{"connectJwt", Json::MakeArray()}})}));
        break;
      case Access::kOperator:
        o.Set("security", Arr({Obj({{"operatorBearer", Json::MakeArray()}})}));
        break;
      case Access::kPeer:
        o.Set("security", Arr({Obj({{"peerJwt", Json::MakeArray()}})}));
        break;
      default:
        o.Set("security", Json::MakeArray());  // public, or a signed URL
    }
    // Every answer, errors and streams included, names its request.
    for (auto& [status, response] : responses.as_object()) {
      Json* headers = response.Find("headers");
      if (headers == nullptr) {
        headers = &response.Set("headers", Json::MakeObject());
      }
      headers->Set("X-Request-Id",
                   Obj({{"$ref", "#/components/headers/XRequestId"}}));
    }
    o.Set("responses", std::move(responses));
    Json* path = paths.Find(route.path);
    if (path == nullptr) path = &paths.Set(route.path, Json::MakeObject());
    path->Set(ToLower(route.method), std::move(o));
  }
  Json doc = Json::MakeObject();
  doc.Set("openapi", "3.1.0");
  doc.Set("info",
          Obj({{"title", "siteledger"},
               {"version", "1.0.0"},
               {"description",
                "Event-sourced storage for a site-builder app for Confluence "
                "and Jira Cloud. Errors are application/problem+json. Lists "
                "answer {items, nextCursor} and take ?cursor=&limit=. Times "
                "are RFC 3339 UTC."}}));
  doc.Set("servers", Arr({Obj({{"url", base_url}})}));
  Json tag_list = Json::MakeArray();
  for (const std::string& tag : tags) {
    const auto it = TagDescriptions().find(tag);
    Json t = Obj({{"name", tag}});
    if (it != TagDescriptions().end()) t.Set("description", it->second);
    tag_list.Push(std::move(t));
  }
  doc.Set("tags", std::move(tag_list));
  doc.Set("paths", std::move(paths));
  doc.Set("components", Components());
  ExpressExactlyOneOf(doc);
  return doc;
}

}  // namespace siteledger::server
