// The OpenAPI 3.1 document, built from the router's routes and the very
// schemas that validate request bodies, so that the contract and the code
// cannot drift apart.

#include "server/openapi.h"

#include <map>
#include <set>

#include "projections/events.h"
#include "server/internal/app_impl.h"

namespace siteledger::server {
namespace {

namespace ev = projections::event;

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

// A request body schema: the event's payload schema without the fields the
// server sets (the payload version and ids from the path or generated).
Json BodyFromEvent(std::string_view type,
                   std::initializer_list<std::string> server_fields) {
  Json schema = projections::EventSchema(type)->ToJsonSchema();
  std::set<std::string> drop(server_fields);
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

struct Operation {
  std::string summary;
  Json body = Json();  // null: no request body
  int success = 200;
  std::string response = "";     // component name, "" for none
  bool list = false;             // answers {items, nextCursor}
  bool read = false;             // takes ?as_of=
  bool write = false;            // takes If-Match and Idempotency-Key
  std::vector<Json> query = {};  // extra query parameters
  std::string description = "";
};

Json QueryParam(const std::string& name, const std::string& description,
                Json schema = Str()) {
  return Obj({{"name", name},
              {"in", "query"},
              {"required", false},
              {"description", description},
              {"schema", schema}});
}

std::map<int, Operation> Operations() {
  std::map<int, Operation> ops;
  auto body = [](std::string_view type,
                 std::initializer_list<std::string> server) {
    return BodyFromEvent(type, server);
  };
  ops[kHealthz] = {"Liveness: the process is up", {}, 200, "Status"};
  ops[kReadyz] = {"Readiness: the database answers", {}, 200, "Status"};
  ops[kMetrics] = {"Prometheus metrics (text format)", {}, 200, ""};
  ops[kOpenApi] = {"This document", {}, 200, ""};
  ops[kDescriptor] = {"The Atlassian Connect app descriptor", {}, 200, ""};
  Json lifecycle_body = Obj({{"type", "object"},
                             {"properties", Obj({{"key", Str()},
                                                 {"clientKey", Str()},
                                                 {"sharedSecret", Str()},
                                                 {"baseUrl", Str()},
                                                 {"eventType", Str()},
                                                 {"productType", Str()}})},
                             {"required", Arr({"clientKey"})}});
  Json installed_body = lifecycle_body;
  installed_body.Set("required", Arr({"clientKey", "sharedSecret", "baseUrl"}));
  ops[kInstalled] = {"Atlassian installed the app (RS256 JWT)", installed_body,
                     204, ""};
  ops[kUninstalled] = {"Atlassian uninstalled the app (RS256 JWT)",
                       lifecycle_body, 204, ""};
  ops[kEnabled] = {"The app was enabled (HS256 JWT)", lifecycle_body, 204, ""};
  ops[kDisabled] = {"The app was disabled (HS256 JWT)", lifecycle_body, 204,
                    ""};

  ops[kListSites] = {"List sites", {}, 200, "Site", true, true};
  ops[kCreateSite] = {"Create a site",
                      body(ev::kSiteCreated, {"siteId"}),
                      201,
                      "Site",
                      false,
                      false,
                      true};
  ops[kGetSite] = {"Get a site", {}, 200, "Site", false, true};
  ops[kUpdateSite] = {
      "Rename a site, assign its theme or home layout",
      Obj({{"type", "object"},
           {"properties", Obj({{"name", Obj({{"type", "string"},
                                             {"minLength", 1},
                                             {"maxLength", 200}})},
                               {"themeId", NullableStr()},
                               {"homeLayoutId", NullableStr()}})},
           {"additionalProperties", false},
           {"minProperties", 1}}),
      200,
      "Site",
      false,
      false,
      true};
  ops[kDeleteSite] = {
      "Delete a site (and its navigation)", {}, 204, "", false, false, true};
  ops[kAddDomain] = {
      "Add a custom domain to a site", {}, 200, "Site", false, false, true};
  ops[kRemoveDomain] = {
      "Remove a custom domain", {}, 200, "Site", false, false, true};
  ops[kAddSpace] = {
      "Add a Confluence space to a site", {}, 200, "Site", false, false, true};
  ops[kRemoveSpace] = {
      "Remove a Confluence space", {}, 200, "Site", false, false, true};
  ops[kGetNavigation] = {
      "Get a site's navigation", {}, 200, "Navigation", false, true};
  ops[kReplaceNavigation] = {"Replace a site's whole menu",
                             body(ev::kNavigationReplaced, {"siteId"}),
                             200,
                             "Navigation",
                             false,
                             false,
                             true};
  Json add_item = body(ev::kNavigationItemAdded, {"siteId"});
  add_item.Set("required", Arr({"item"}));
  ops[kAddNavigationItem] = {"Add a menu item (at the end unless index)",
                             add_item,
                             201,
                             "Navigation",
                             false,
                             false,
                             true};
  ops[kMoveNavigationItem] = {
      "Move a menu item",
      body(ev::kNavigationItemMoved, {"siteId", "itemId"}),
      200,
      "Navigation",
      false,
      false,
      true};
  ops[kRemoveNavigationItem] = {"Remove a menu item (and its children)",
                                {},
                                200,
                                "Navigation",
                                false,
                                false,
                                true};
  ops[kListThemes] = {"List themes", {}, 200, "Theme", true, true};
  ops[kCreateTheme] = {"Create a theme",
                       body(ev::kThemeCreated, {"themeId"}),
                       201,
                       "Theme",
                       false,
                       false,
                       true};
  ops[kGetTheme] = {"Get a theme", {}, 200, "Theme", false, true};
  ops[kUpdateTheme] = {"Replace a theme",
                       body(ev::kThemeUpdated, {"themeId"}),
                       200,
                       "Theme",
                       false,
                       false,
                       true};
  ops[kDeleteTheme] = {"Delete a theme (409 while a site uses it)",
                       {},
                       204,
                       "",
                       false,
                       false,
                       true};
  ops[kListLayouts] = {"List layouts", {}, 200, "Layout", true, true};
  ops[kCreateLayout] = {"Create a layout (its draft)",
                        body(ev::kLayoutSaved, {"layoutId"}),
                        201,
                        "Layout",
                        false,
                        false,
                        true};
  ops[kGetLayout] = {"Get a layout", {}, 200, "Layout", false, true};
  ops[kSaveLayout] = {"Save a layout's draft",
                      body(ev::kLayoutSaved, {"layoutId"}),
                      200,
                      "Layout",
                      false,
                      false,
                      true};
  ops[kDeleteLayout] = {"Delete a layout (409 while it is a home layout)",
                        {},
                        204,
                        "",
                        false,
                        false,
                        true};
  ops[kPublishLayout] = {
      "Publish a layout's draft", {}, 200, "Layout", false, false, true};
  Operation list_announcements{"List announcements", {},   200,
                               "Announcement",       true, true};
  list_announcements.query.push_back(
      QueryParam("active_at",
                 "Only announcements active at this time (RFC 3339)", Time()));
  ops[kListAnnouncements] = list_announcements;
  ops[kCreateAnnouncement] = {
      "Publish an announcement",
      body(ev::kAnnouncementPublished, {"announcementId"}),
      201,
      "Announcement",
      false,
      false,
      true};
  ops[kGetAnnouncement] = {"Get an announcement", {},    200,
                           "Announcement",        false, true};
  ops[kUpdateAnnouncement] = {
      "Replace an announcement",
      body(ev::kAnnouncementUpdated, {"announcementId"}),
      200,
      "Announcement",
      false,
      false,
      true};
  ops[kDeleteAnnouncement] = {
      "Delete an announcement", {}, 204, "", false, false, true};
  ops[kListPromoted] = {
      "List promoted results by keyword", {}, 200, "Promoted", true, true};
  ops[kGetPromoted] = {"Get the results promoted for a keyword",
                       {},
                       200,
                       "Promoted",
                       false,
                       true};
  ops[kSetPromoted] = {"Set the results promoted for a keyword",
                       body(ev::kPromotedSet, {"keyword"}),
                       200,
                       "Promoted",
                       false,
                       false,
                       true};
  ops[kClearPromoted] = {
      "Clear a keyword's promoted results", {}, 204, "", false, false, true};
  ops[kGetFeatured] = {
      "Get a page's featured image and text", {}, 200, "Featured", false, true};
  ops[kSetFeatured] = {"Set a page's featured image and text",
                       body(ev::kFeaturedSet, {"contentId"}),
                       200,
                       "Featured",
                       false,
                       false,
                       true};
  ops[kClearFeatured] = {
      "Clear a page's featured metadata", {}, 204, "", false, false, true};
  ops[kListFeedback] = {"List feedback", {}, 200, "Feedback", true, true};
  ops[kSubmitFeedback] = {
      "Submit feedback (the submitter is the token's sub)",
      body(ev::kFeedbackSubmitted, {"feedbackId", "submitter"}),
      201,
      "Feedback",
      false,
      false,
      true};
  ops[kGetFeedback] = {"Get feedback", {}, 200, "Feedback", false, true};
  ops[kDeleteFeedback] = {"Delete feedback", {}, 204, "", false, false, true};
  ops[kResolveFeedback] = {
      "Resolve feedback", {}, 200, "Feedback", false, false, true};
  ops[kListUsers] = {
      "List users seen (pseudonyms only)", {}, 200, "User", true, true};
  ops[kGetUser] = {
      "Get a user seen, by pseudonym", {}, 200, "User", false, true};
  Operation events{
      "Page through the tenant's event log", {}, 200, "Event", true};
  events.query.push_back(
      QueryParam("after", "Events with a seq greater than this", Int()));
  ops[kListEvents] = events;
  Operation stream{"Live event stream (Server-Sent Events)", {}, 200, ""};
  stream.description =
      "text/event-stream: each event is `id: <seq>`, `event: <type>`, "
      "`data: <Event JSON>`. Resumes after the Last-Event-ID header (or "
      "?last_event_id=); without one, starts with the next event.";
  stream.query.push_back(
      QueryParam("last_event_id",
                 "Resume after this seq (for clients that cannot set "
                 "Last-Event-ID)",
                 Int()));
  ops[kStreamEvents] = stream;

  ops[kListMedia] = {
      "List the site's uploaded media", {}, 200, "Media", true, true};
  Operation upload{"Upload an image", {}, 201, "Media"};
  upload.description =
      "The body is the image itself (Content-Type: its image type) or "
      "multipart/form-data with one file part. The id is the lowercase hex "
      "SHA-256 of the bytes; the same bytes again answer 200 with the same "
      "id. 413 beyond the kind's limit, 415 for an unknown format or a "
      "declared type that disagrees with the bytes, 507 over the site's "
      "quota; SVGs with scripts, event handlers or external references are "
      "refused.";
  upload.query.push_back(
      Obj({{"name", "kind"},
           {"in", "query"},
           {"required", true},
           {"schema", Obj({{"type", "string"},
                           {"enum", Arr({"layout-image", "theme-image", "logo",
                                         "favicon", "app-icon"})}})}}));
  upload.write = true;
  ops[kUploadMedia] = upload;
  Operation get_media{"Download an image (byte ranges allowed)", {}, 200, ""};
  get_media.description =
      "The stored Content-Type, ETag = id, Cache-Control: private, "
      "max-age=31536000, immutable; one byte range per request (206, or 416 "
      "when outside the image).";
  ops[kGetMedia] = get_media;
  ops[kDeleteMedia] = {
      "Delete an image (409 while a theme, layout or "
      "featured page uses it)",
      {},
      204,
      "",
      false,
      false,
      true};
  ops[kMediaUrl] = {"A signed URL that serves the image without a token",
                    {},
                    200,
                    "MediaUrl"};
  Operation signed_media{
      "An image through a signed URL (no token)", {}, 200, ""};
  signed_media.query.push_back(Obj({{"name", "exp"},
                                    {"in", "query"},
                                    {"required", true},
                                    {"schema", Int()}}));
  signed_media.query.push_back(Obj({{"name", "sig"},
                                    {"in", "query"},
                                    {"required", true},
                                    {"schema", Str()}}));
  ops[kSignedMedia] = signed_media;

  ops[kAdminTenants] = {
      "List the region's tenants (scope usage)", {}, 200, "TenantList"};
  ops[kAdminUsage] = {
      "Usage per customer, with totals (scope usage)", {}, 200, "Usage"};
  ops[kAdminUsage].description =
      "JSON, or CSV with Accept: text/csv. Counts sites, themes, custom "
      "domains and Confluence spaces; nothing about individual users.";
  Operation audit{"Page the audit log (scope audit)", {}, 200, "Audit", true};
  audit.query.push_back(QueryParam("tenant", "Only this clientKey's records"));
  audit.query.push_back(QueryParam("operator", "Only this actor's records"));
  audit.query.push_back(
      QueryParam("since", "From this time (RFC 3339)", Time()));
  audit.query.push_back(
      QueryParam("until", "Before this time (RFC 3339)", Time()));
  ops[kAdminAudit] = audit;
  ops[kAdminClock] = {
      "Move the server's clock forward (scope clock; --test-clock only)",
      Obj({{"type", "object"},
           {"properties",
            Obj({{"advance", Obj({{"type", "string"},
                                  {"pattern", "^[0-9]+[smhd]$"},
                                  {"examples", Arr({"31d"})}})}})},
           {"required", Arr({"advance"})},
           {"additionalProperties", false}}),
      200, ""};
  ops[kAdminRestore] = {
      "Restore a tenant to an earlier seq or time (scope restore)",
      Obj({{"type", "object"},
           {"properties",
            Obj({{"toSeq", Obj({{"type", "integer"}, {"minimum", 0}})},
                 {"asOf", Time()}})},
           {"minProperties", 1},
           {"maxProperties", 1},
           {"additionalProperties", false}}),
      200, ""};
  return ops;
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
  Json theme = BodyFromEvent(ev::kThemeCreated, {"themeId"});
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
  const Json sections = *BodyFromEvent(ev::kLayoutSaved, {"layoutId"})
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
      BodyFromEvent(ev::kAnnouncementPublished, {"announcementId"});
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
  schemas.Set("Promoted",
              View({{"keyword", Str()},
                    {"results", *BodyFromEvent(ev::kPromotedSet, {"keyword"})
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
            {"lastSeen", Obj({{"type", "string"}, {"format", "date"}})}},
           {"id", "firstSeen", "lastSeen"}));
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
                                       {"installedAt", Time()}})},
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
  for (const char* name :
       {"Site", "Theme", "Layout", "Announcement", "Promoted", "Feedback",
        "User", "Event", "Tenant", "Audit", "Media"}) {
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
  return Obj({{"schemas", schemas}, {"securitySchemes", security}});
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

}  // namespace

Json BuildOpenApi(const Router& router, const std::string& base_url) {
  const auto ops = Operations();
  Json paths = Json::MakeObject();
  for (const Route& route : router.routes()) {
    auto op_it = ops.find(route.handler);
    if (op_it == ops.end()) continue;
    const Operation& op = op_it->second;
    Json o = Json::MakeObject();
    o.Set("summary", op.summary);
    if (!op.description.empty()) o.Set("description", op.description);
    std::string operation_id = ToLower(route.method);
    for (char c : route.pattern) {
      if (std::isalnum(static_cast<unsigned char>(c))) operation_id += c;
      if (c == '/' || c == '{') operation_id += '_';
    }
    o.Set("operationId", operation_id);
    Json params = Json::MakeArray();
    // Path parameters, in the order they appear.
    for (size_t at = route.pattern.find('{'); at != std::string::npos;
         at = route.pattern.find('{', at + 1)) {
      const size_t end = route.pattern.find('}', at);
      params.Push(Obj({{"name", route.pattern.substr(at + 1, end - at - 1)},
                       {"in", "path"},
                       {"required", true},
                       {"schema", Str()}}));
    }
    if (op.read) {
      params.Push(QueryParam(
          "as_of",
          "Read the state at an earlier point: an RFC 3339 time or seq:N"));
    }
    if (op.list) {
      params.Push(QueryParam("cursor", "From a previous page's nextCursor"));
      params.Push(QueryParam(
          "limit", "Items per page",
          Obj({{"type", "integer"},
               {"minimum", 1},
               {"maximum", route.handler == kListEvents ? 1000 : 200}})));
    }
    for (const Json& q : op.query) params.Push(q);
    if (op.write) {
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
        route.pattern.starts_with("/admin/tenants/{clientKey}")) {
      params.Push(Obj(
          {{"name", "X-Access-Reason"},
           {"in", "header"},
           {"required", true},
           {"description",
            "Why the operator reads this tenant's data; written "
            "to the audit log before anything is answered"},
           {"schema",
            Obj({{"type", "string"}, {"minLength", 1}, {"maxLength", 500}})}}));
    }
    if (route.handler == kStreamEvents) {
      params.Push(Obj({{"name", "Last-Event-ID"},
                       {"in", "header"},
                       {"required", false},
                       {"schema", Str()}}));
    }
    if (!params.as_array().empty()) o.Set("parameters", std::move(params));
    if (route.handler == kUploadMedia) {
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
    if (!op.body.is_null()) {
      o.Set("requestBody",
            Obj({{"required", true},
                 {"content",
                  Obj({{"application/json", Obj({{"schema", op.body}})}})}}));
    }
    Json responses = Json::MakeObject();
    Json ok = Obj({{"description", "Success"}});
    if (!op.response.empty()) {
      const std::string schema = op.list ? op.response + "List" : op.response;
      ok.Set("content",
             Obj({{"application/json", Obj({{"schema", Ref(schema)}})}}));
      if (!op.list && route.access == Access::kTenant) {
        ok.Set("headers",
               Obj({{"ETag", Obj({{"description", "The entity's version"},
                                  {"schema", Str()}})}}));
      }
    } else if (route.handler == kGetMedia || route.handler == kSignedMedia) {
      const Json binary = Obj({{"type", "string"}, {"format", "binary"}});
      ok.Set("content", Obj({{"image/*", Obj({{"schema", binary}})}}));
    } else if (route.handler == kStreamEvents) {
      ok.Set("content", Obj({{"text/event-stream", Obj({{"schema", Str()}})}}));
    } else if (route.handler == kMetrics) {
      ok.Set("content", Obj({{"text/plain", Obj({{"schema", Str()}})}}));
    } else if (route.handler == kOpenApi || route.handler == kDescriptor) {
      ok.Set("content", Obj({{"application/json",
                              Obj({{"schema", Obj({{"type", "object"}})}})}}));
    }
    responses.Set(std::to_string(op.success), std::move(ok));
    if (route.access != Access::kPublic) {
      responses.Set("400", ProblemResponse("Malformed request or body"));
      responses.Set("401", ProblemResponse("Missing or invalid token"));
    }
    if (route.access == Access::kOperator) {
      responses.Set("403",
                    ProblemResponse("The token lacks this route's scope"));
      responses.Set("404", ProblemResponse("No such tenant or entity"));
    }
    if (route.access == Access::kTenant) {
      responses.Set("403", ProblemResponse("The app is uninstalled"));
      responses.Set("404", ProblemResponse("No such entity"));
      if (op.write) {
        responses.Set("409", ProblemResponse("Conflicts with current state"));
        responses.Set("412", ProblemResponse("If-Match does not match"));
        responses.Set("413", ProblemResponse("Body larger than 1 MiB"));
        responses.Set("415", ProblemResponse("Body is not JSON"));
      }
    }
    if (route.handler == kReadyz) {
      responses.Set("503", Obj({{"description", "Not ready"}}));
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
      default:
        o.Set("security", Json::MakeArray());  // public, or a signed URL
    }
    o.Set("responses", std::move(responses));
    Json* path = paths.Find(route.pattern);
    if (path == nullptr) path = &paths.Set(route.pattern, Json::MakeObject());
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
  doc.Set("paths", std::move(paths));
  doc.Set("components", Components());
  return doc;
}

}  // namespace siteledger::server
