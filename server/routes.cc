#include "server/routes.h"

#include "projections/events.h"
#include "server/openapi.h"

namespace siteledger::server {
namespace {

namespace ev = projections::event;
using projections::CommandType;
using projections::Json;
using projections::ViewKind;

// Request body schemas for the document: most are an event's payload
// schema without the fields the server sets (FromEvent), the rest literals.
BodySchema FromEvent(std::string_view type,
                     std::initializer_list<std::string> server_fields) {
  return [type, fields = std::vector<std::string>(server_fields)] {
    return RequestBodyFromEvent(type, fields);
  };
}

Json SiteUpdateBody() {
  return ParseSchema(R"({"type":"object","properties":{
      "name":{"type":"string","minLength":1,"maxLength":200},
      "themeId":{"type":["string","null"]},
      "homeLayoutId":{"type":["string","null"]}},
    "additionalProperties":false,"minProperties":1})");
}
Json NavigationItemBody() {
  Json schema = RequestBodyFromEvent(ev::kNavigationItemAdded, {"siteId"});
  Json required = Json::MakeArray();
  required.Push("item");
  schema.Set("required", std::move(required));
  return schema;
}
Json LifecycleBody() {
  return ParseSchema(R"({"type":"object","properties":{
      "key":{"type":"string"},"clientKey":{"type":"string"},
      "sharedSecret":{"type":"string"},"baseUrl":{"type":"string"},
      "eventType":{"type":"string"},"productType":{"type":"string"}},
    "required":["clientKey"]})");
}
Json InstalledBody() {
  Json schema = LifecycleBody();
  schema.Set("required",
             ParseSchema(R"(["clientKey","sharedSecret","baseUrl"])"));
  return schema;
}
Json ClockBody() {
  return ParseSchema(R"({"type":"object","properties":{
      "advance":{"type":"string","pattern":"^[0-9]+[smhd]$","examples":["31d"]}},
    "required":["advance"],"additionalProperties":false})");
}
Json RestoreBody() {
  return ParseSchema(R"({"type":"object","properties":{
      "toSeq":{"type":"integer","minimum":0},
      "asOf":{"type":"string","format":"date-time"}},
    "minProperties":1,"maxProperties":1,"additionalProperties":false})");
}

Json EraseUsersBody() {
  return ParseSchema(R"({"type":"object","properties":{
      "accountIds":{"type":"array","minItems":1,"maxItems":1000,
        "items":{"type":"string","pattern":"^[A-Za-z0-9:_-]{1,128}$"},
        "description":"Atlassian account ids of closed accounts",
        "examples":[["5b10ac8d82e05b22cc7d4ef5"]]}},
    "required":["accountIds"],"additionalProperties":false})");
}

Json BackupBody() {
  return ParseSchema(R"({"type":"object","properties":{
      "dir":{"type":"string","pattern":"^/",
             "description":"Absolute folder on the server's machine",
             "examples":["/backups/us"]},
      "keep":{"type":"integer","minimum":0,
              "description":"Backups kept in dir; older ones are deleted; 0 or absent keeps all"}},
    "required":["dir"],"additionalProperties":false})");
}

Json MigrationBody() {
  return ParseSchema(R"({"type":"object","properties":{
      "target":{"type":"string","pattern":"^[A-Za-z0-9-]{1,16}$",
                "description":"The region to move to: eu, or Atlassian's EU",
                "examples":["eu"]}},
    "required":["target"],"additionalProperties":false})");
}
Json DareScheduleBody() {
  return ParseSchema(R"({"type":"object","properties":{
      "startTime":{"type":"string","format":"date-time"},
      "endTime":{"type":"string","format":"date-time"},
      "location":{"type":"string","examples":["EU"]},
      "migrationId":{"type":"string","minLength":1,"maxLength":128}},
    "required":["location","migrationId"]})");
}
Json DareIdBody() {
  return ParseSchema(R"({"type":"object","properties":{
      "migrationId":{"type":"string","minLength":1,"maxLength":128}},
    "required":["migrationId"]})");
}
Json PeerBody() {
  return ParseSchema(R"({"type":"object",
    "description":"Region-to-region message: docs/formats.md, Residency"})");
}

constexpr size_t kViewPage = 50, kMaxViewPage = 200;
constexpr size_t kEventPage = 100, kMaxEventPage = 1000;
constexpr size_t kAuditPage = 100, kMaxAuditPage = 1000;

// The names of a path's parameters, in order: "/a/{id}/b/{item}" -> id, item.
std::vector<std::string> ParamsOf(std::string_view path) {
  std::vector<std::string> names;
  for (size_t at = path.find('{'); at != std::string_view::npos;
       at = path.find('{', at + 1)) {
    names.emplace_back(path.substr(at + 1, path.find('}', at) - at - 1));
  }
  return names;
}

RouteSpec Public(std::string method, std::string path, Action action,
                 std::string summary, std::string response = "") {
  RouteSpec r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.access = Access::kPublic;
  r.handler = Handler::kPublic;
  r.action = action;
  r.summary = std::move(summary);
  r.response = std::move(response);
  return r;
}

RouteSpec Lifecycle(std::string path, Action action, Access access,
                    std::string summary, BodySchema body) {
  RouteSpec r;
  r.method = "POST";
  r.path = std::move(path);
  r.access = access;
  r.handler = Handler::kLifecycle;
  r.action = action;
  r.success = 204;
  r.summary = std::move(summary);
  r.request_schema = std::move(body);
  return r;
}

RouteSpec Tenant(std::string method, std::string path, Action action,
                 std::string summary) {
  RouteSpec r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.access = Access::kTenant;
  r.handler = Handler::kTenantApi;
  r.action = action;
  r.summary = std::move(summary);
  // The first path parameter names the entity, a second one an item of it.
  const std::vector<std::string> params = ParamsOf(r.path);
  if (!params.empty()) r.id_param = params[0];
  if (params.size() > 1) r.item_param = params[1];
  return r;
}

// A media route: the tenant API's access, served by the media handler.
RouteSpec Media(std::string method, std::string path, Action action,
                std::string summary) {
  RouteSpec r =
      Tenant(std::move(method), std::move(path), action, std::move(summary));
  r.handler = Handler::kMedia;
  return r;
}

// A read of one entity, served as it is now or ?as_of= an earlier point.
RouteSpec Get(std::string path, ViewKind view, std::string summary,
              std::string response) {
  RouteSpec r =
      Tenant("GET", std::move(path), Action::kGetView, std::move(summary));
  r.view = view;
  r.as_of = true;
  r.mirrored = true;
  r.response = std::move(response);
  return r;
}

// A page of entities, as they are now or ?as_of= an earlier point.
RouteSpec List(std::string path, ViewKind view, std::string summary,
               std::string response) {
  RouteSpec r =
      Get(std::move(path), view, std::move(summary), std::move(response));
  r.action = Action::kListViews;
  r.default_limit = kViewPage;
  r.max_limit = kMaxViewPage;
  return r;
}

// A change: one command, answered with the entity's new view.
RouteSpec Change(std::string method, std::string path, CommandType command,
                 std::string summary, std::string response,
                 BodySchema body = nullptr) {
  RouteSpec r = Tenant(std::move(method), std::move(path), Action::kCommand,
                       std::move(summary));
  r.command = command;
  r.write = true;
  r.response = std::move(response);
  r.request_schema = std::move(body);
  r.body = r.request_schema ? BodyUse::kRequired : BodyUse::kOptional;
  return r;
}

RouteSpec Create(std::string path, CommandType command, std::string summary,
                 std::string response, BodySchema body) {
  RouteSpec r = Change("POST", path, command, std::move(summary),
                       std::move(response), body);
  r.success = 201;
  r.location = path + "/";
  return r;
}

RouteSpec Delete(std::string path, CommandType command, std::string summary) {
  RouteSpec r =
      Change("DELETE", std::move(path), command, std::move(summary), "");
  r.success = 204;
  return r;
}

RouteSpec ResidencyRoute(std::string method, std::string path, Access access,
                         Action action, std::string summary,
                         std::string response = "") {
  RouteSpec r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.access = access;
  r.handler = Handler::kResidency;
  r.action = action;
  r.summary = std::move(summary);
  r.response = std::move(response);
  return r;
}

RouteSpec AdminRoute(std::string method, std::string path, Action action,
                     Scope scope, std::string summary, std::string response) {
  RouteSpec r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.access = Access::kOperator;
  r.handler = Handler::kOperator;
  r.action = action;
  r.scope = scope;
  r.summary = std::move(summary);
  r.response = std::move(response);
  return r;
}

}  // namespace

std::vector<RouteSpec> BuildRouteTable(const RouteOptions& options) {
  using A = Action;
  using C = CommandType;
  using V = ViewKind;
  std::vector<RouteSpec> t;

  // ----- public --------------------------------------------------------
  t.push_back(Public("GET", "/healthz", A::kHealthz,
                     "Liveness: the process is up", "Status"));
  t.push_back(Public("GET", "/readyz", A::kReadyz,
                     "Readiness: the database answers", "Status"));
  t.push_back(Public("GET", "/metrics", A::kMetrics,
                     "Prometheus metrics (text format)"));
  t.push_back(Public("GET", "/openapi.json", A::kOpenApi, "This document"));
  t.push_back(Public("GET", "/atlassian-connect.json", A::kDescriptor,
                     "The Atlassian Connect app descriptor"));

  // ----- lifecycle -----------------------------------------------------
  t.push_back(
      Lifecycle("/lifecycle/installed", A::kInstalled, Access::kInstallSigned,
                "Atlassian installed the app (RS256 JWT)", InstalledBody));
  t.push_back(Lifecycle(
      "/lifecycle/uninstalled", A::kUninstalled, Access::kInstallSigned,
      "Atlassian uninstalled the app (RS256 JWT)", LifecycleBody));
  t.push_back(Lifecycle("/lifecycle/enabled", A::kEnabled,
                        Access::kTenantSigned,
                        "The app was enabled (HS256 JWT)", LifecycleBody));
  t.push_back(Lifecycle("/lifecycle/disabled", A::kDisabled,
                        Access::kTenantSigned,
                        "The app was disabled (HS256 JWT)", LifecycleBody));

  // ----- residency: Atlassian's realm-migration callbacks ---------------
  {
    const std::pair<const char*, Action> dare[] = {
        {"schedule", A::kDareSchedule},
        {"start", A::kDareStart},
        {"commit", A::kDareCommit},
        {"rollback", A::kDareRollback}};
    for (const auto& [name, action] : dare) {
      RouteSpec r =
          ResidencyRoute("POST", std::string("/migration/") + name,
                         Access::kTenantSigned, action,
                         std::string("Atlassian's data residency migration: ") +
                             name + " (HS256 JWT)",
                         "DareStatus");
      r.request_schema = action == A::kDareSchedule || action == A::kDareStart
                             ? BodySchema(DareScheduleBody)
                             : BodySchema(DareIdBody);
      t.push_back(std::move(r));
    }
    RouteSpec status = ResidencyRoute(
        "GET", "/migration/status", Access::kTenantSigned, A::kDareStatus,
        "Atlassian's data residency migration: status (HS256 JWT)",
        "DareStatus");
    status.query.push_back({"migrationId", "The migration asked about"});
    t.push_back(std::move(status));
  }

  // ----- the tenant API ------------------------------------------------
  {
    RouteSpec get = ResidencyRoute(
        "GET", "/api/v1/residency", Access::kTenant, A::kResidencyGet,
        "Where the tenant's data lives, and any migration under way",
        "Residency");
    get.description =
        "Never redirected: the home region and any region that holds the "
        "tenant's tombstone answer it.";
    t.push_back(std::move(get));
    RouteSpec migrate =
        ResidencyRoute("POST", "/api/v1/residency/migration", Access::kTenant,
                       A::kResidencyMigrate,
                       "Move the tenant's data to another region", "Residency");
    migrate.success = 202;
    migrate.request_schema = MigrationBody;
    migrate.description =
        "Only with a token the administration page was given "
        "(GET /pages/residency): any other token is refused with 403, so an "
        "ordinary user's token cannot move a site's data.";
    t.push_back(std::move(migrate));
    RouteSpec rollback = ResidencyRoute(
        "POST", "/api/v1/residency/rollback", Access::kTenant,
        A::kResidencyRollback,
        "Move the tenant back to the region it left (within 7 days); "
        "changes made since the move are lost",
        "Residency");
    rollback.success = 202;
    rollback.description = migrate.description;
    t.push_back(std::move(rollback));
    RouteSpec page_token = ResidencyRoute(
        "POST", "/api/v1/residency/page-token", Access::kTenant,
        A::kAdminPageToken,
        "A fresh token for the administration page (15 minutes)", "PageToken");
    page_token.description =
        "Only with a token the administration page was given: the page "
        "calls it before its token expires.";
    t.push_back(std::move(page_token));
    RouteSpec page = ResidencyRoute(
        "GET", "/pages/residency", Access::kTenant, A::kAdminPage,
        "The administration page (HTML): data residency and "
        "privacy, for Confluence's adminPages module");
    page.description =
        "Confluence loads it in an iframe with ?jwt= (a token bound to this "
        "request by its qsh). The page holds a context-qsh token for the "
        "tenant API, marked as the administration page's (claim "
        "siteledgerPage: admin, 15 minutes): the only tokens that may start "
        "a migration or a rollback. A bad or expired token gets an HTML "
        "error page and no data.";
    t.push_back(std::move(page));
  }
  {
    RouteSpec usage = Tenant("GET", "/api/v1/usage", A::kTenantUsage,
                             "The site's own usage figures");
    usage.response = "UsageCounts";
    t.push_back(std::move(usage));
  }
  t.push_back(List("/api/v1/sites", V::kSite, "List sites", "Site"));
  t.push_back(Create("/api/v1/sites", C::kCreateSite, "Create a site", "Site",
                     FromEvent(ev::kSiteCreated, {"siteId"})));
  t.back().example = R"({"name":"Intranet"})";
  t.push_back(Get("/api/v1/sites/{id}", V::kSite, "Get a site", "Site"));
  t.push_back(Change("PATCH", "/api/v1/sites/{id}", C::kUpdateSite,
                     "Rename a site, assign its theme or home layout", "Site",
                     SiteUpdateBody));
  t.back().example = R"({"name":"Intranet","themeId":null})";
  t.push_back(Delete("/api/v1/sites/{id}", C::kDeleteSite,
                     "Delete a site (and its navigation)"));
  t.push_back(Change("PUT", "/api/v1/sites/{id}/domains/{domain}",
                     C::kAddDomain, "Add a custom domain to a site", "Site"));
  t.push_back(Change("DELETE", "/api/v1/sites/{id}/domains/{domain}",
                     C::kRemoveDomain, "Remove a custom domain", "Site"));
  t.push_back(Change("PUT", "/api/v1/sites/{id}/spaces/{spaceKey}",
                     C::kAddSpace, "Add a Confluence space to a site", "Site"));
  t.push_back(Change("DELETE", "/api/v1/sites/{id}/spaces/{spaceKey}",
                     C::kRemoveSpace, "Remove a Confluence space", "Site"));
  {
    RouteSpec nav = Get("/api/v1/sites/{id}/navigation", V::kNavigation,
                        "Get a site's navigation", "Navigation");
    nav.action = A::kGetNavigation;
    t.push_back(std::move(nav));
  }
  t.push_back(Change("PUT", "/api/v1/sites/{id}/navigation",
                     C::kReplaceNavigation, "Replace a site's whole menu",
                     "Navigation",
                     FromEvent(ev::kNavigationReplaced, {"siteId"})));
  {
    RouteSpec add = Change("POST", "/api/v1/sites/{id}/navigation/items",
                           C::kAddNavigationItem,
                           "Add a menu item (at the end unless index)",
                           "Navigation", NavigationItemBody);
    add.success = 201;
    t.push_back(std::move(add));
  }
  t.push_back(
      Change("POST", "/api/v1/sites/{id}/navigation/items/{itemId}/move",
             C::kMoveNavigationItem, "Move a menu item", "Navigation",
             FromEvent(ev::kNavigationItemMoved, {"siteId", "itemId"})));
  t.push_back(Change("DELETE", "/api/v1/sites/{id}/navigation/items/{itemId}",
                     C::kRemoveNavigationItem,
                     "Remove a menu item (and its children)", "Navigation"));

  t.push_back(List("/api/v1/themes", V::kTheme, "List themes", "Theme"));
  t.push_back(Create("/api/v1/themes", C::kCreateTheme, "Create a theme",
                     "Theme", FromEvent(ev::kThemeCreated, {"themeId"})));
  t.back().example = R"({"name":"Dark","colors":{"primary":"#1d4ed8",)"
                     R"("background":"#0b1020"},"fonts":{"heading":"Inter"}})";
  t.push_back(Get("/api/v1/themes/{id}", V::kTheme, "Get a theme", "Theme"));
  t.push_back(Change("PUT", "/api/v1/themes/{id}", C::kUpdateTheme,
                     "Replace a theme", "Theme",
                     FromEvent(ev::kThemeUpdated, {"themeId"})));
  t.push_back(Delete("/api/v1/themes/{id}", C::kDeleteTheme,
                     "Delete a theme (409 while a site uses it)"));

  t.push_back(List("/api/v1/layouts", V::kLayout, "List layouts", "Layout"));
  t.push_back(Create("/api/v1/layouts", C::kCreateLayout,
                     "Create a layout (its draft)", "Layout",
                     FromEvent(ev::kLayoutSaved, {"layoutId"})));
  t.back().example =
      R"({"name":"Home","sections":[{"id":"s1","columns":[{"id":"c1",)"
      R"("width":12,"modules":[{"id":"m1","type":"text",)"
      R"("props":{"text":"Welcome"}}]}]}]})";
  t.push_back(
      Get("/api/v1/layouts/{id}", V::kLayout, "Get a layout", "Layout"));
  t.push_back(Change("PUT", "/api/v1/layouts/{id}", C::kSaveLayout,
                     "Save a layout's draft", "Layout",
                     FromEvent(ev::kLayoutSaved, {"layoutId"})));
  t.push_back(Delete("/api/v1/layouts/{id}", C::kDeleteLayout,
                     "Delete a layout (409 while it is a home layout)"));
  t.push_back(Change("POST", "/api/v1/layouts/{id}/publish", C::kPublishLayout,
                     "Publish a layout's draft", "Layout"));

  {
    RouteSpec list = List("/api/v1/announcements", V::kAnnouncement,
                          "List announcements", "Announcement");
    list.query.push_back({"active_at",
                          "Only announcements active at this time (RFC 3339)",
                          "date-time"});
    t.push_back(std::move(list));
  }
  t.push_back(
      Create("/api/v1/announcements", C::kCreateAnnouncement,
             "Publish an announcement", "Announcement",
             FromEvent(ev::kAnnouncementPublished, {"announcementId"})));
  t.back().example =
      R"({"text":"Office closed on Friday","severity":"info",)"
      R"("startsAt":"2026-01-01T00:00:00Z","audience":{"spaceKeys":["HR"]}})";
  t.push_back(Get("/api/v1/announcements/{id}", V::kAnnouncement,
                  "Get an announcement", "Announcement"));
  t.push_back(Change("PUT", "/api/v1/announcements/{id}",
                     C::kUpdateAnnouncement, "Replace an announcement",
                     "Announcement",
                     FromEvent(ev::kAnnouncementUpdated, {"announcementId"})));
  t.push_back(Delete("/api/v1/announcements/{id}", C::kDeleteAnnouncement,
                     "Delete an announcement"));

  t.push_back(List("/api/v1/search/promoted", V::kPromoted,
                   "List promoted results by keyword", "Promoted"));
  t.push_back(Get("/api/v1/search/promoted/{keyword}", V::kPromoted,
                  "Get the results promoted for a keyword", "Promoted"));
  t.push_back(Change("PUT", "/api/v1/search/promoted/{keyword}",
                     C::kSetPromoted, "Set the results promoted for a keyword",
                     "Promoted", FromEvent(ev::kPromotedSet, {"keyword"})));
  t.back().example =
      R"({"results":[{"contentId":"12345"},)"
      R"({"url":"https://hr.example.com/","title":"HR portal"}]})";
  t.push_back(Delete("/api/v1/search/promoted/{keyword}", C::kClearPromoted,
                     "Clear a keyword's promoted results"));

  t.push_back(Get("/api/v1/pages/{contentId}/featured", V::kFeatured,
                  "Get a page's featured image and text", "Featured"));
  t.push_back(Change("PUT", "/api/v1/pages/{contentId}/featured",
                     C::kSetFeatured, "Set a page's featured image and text",
                     "Featured", FromEvent(ev::kFeaturedSet, {"contentId"})));
  t.back().example = R"({"text":"Our new office"})";
  t.push_back(Delete("/api/v1/pages/{contentId}/featured", C::kClearFeatured,
                     "Clear a page's featured metadata"));

  t.push_back(
      List("/api/v1/feedback", V::kFeedback, "List feedback", "Feedback"));
  t.push_back(
      Create("/api/v1/feedback", C::kSubmitFeedback,
             "Submit feedback (the submitter is the token's sub)", "Feedback",
             FromEvent(ev::kFeedbackSubmitted, {"feedbackId", "submitter"})));
  t.back().example = R"({"text":"Very useful","rating":5})";
  t.push_back(
      Get("/api/v1/feedback/{id}", V::kFeedback, "Get feedback", "Feedback"));
  t.push_back(
      Delete("/api/v1/feedback/{id}", C::kDeleteFeedback, "Delete feedback"));
  t.push_back(Change("POST", "/api/v1/feedback/{id}/resolve",
                     C::kResolveFeedback, "Resolve feedback", "Feedback"));

  t.push_back(List("/api/v1/users", V::kUser,
                   "List users seen (pseudonyms only)", "User"));
  t.push_back(Get("/api/v1/users/{id}", V::kUser,
                  "Get a user seen, by pseudonym", "User"));

  {
    RouteSpec events = Tenant("GET", "/api/v1/events", A::kListEvents,
                              "Page through the tenant's event log");
    events.response = "Event";
    events.default_limit = kEventPage;
    events.max_limit = kMaxEventPage;
    events.mirrored = true;
    events.description =
        "Without filters, the log in order. With any of type, actor and "
        "entity (combinable: all must match), answered from the event "
        "index, reading only the matching events; since and until bound "
        "the events' times. An unknown actor or entity gives an empty page.";
    events.query.push_back(
        {"after", "Events with a seq greater than this", "integer"});
    events.query.push_back({"type", "Only events of this type", "string"});
    events.query.push_back(
        {"actor",
         "Only events by this user: an Atlassian account id or a pseudonym",
         "string"});
    events.query.push_back(
        {"entity",
         "Only events that changed this entity (its id; a promoted "
         "result's keyword)",
         "string"});
    events.query.push_back(
        {"since", "Only events at or after this time (RFC 3339)", "date-time"});
    events.query.push_back({"until",
                            "Only events at or before this time (RFC 3339)",
                            "date-time"});
    t.push_back(std::move(events));
  }
  {
    RouteSpec stream = Tenant("GET", "/api/v1/events/stream", A::kStreamEvents,
                              "Live event stream (Server-Sent Events)");
    stream.description =
        "text/event-stream: each event is `id: <seq>` and `data: <Event "
        "JSON>` (its `type` included), unnamed, so that an EventSource's "
        "onmessage receives every event. With ?named_events=true each also "
        "has `event: <type>`, for addEventListener(type) (onmessage then "
        "receives none). Resumes after the Last-Event-ID header (or "
        "?last_event_id=); without one, starts with the next event.";
    stream.query.push_back({"last_event_id",
                            "Resume after this seq (for clients that cannot "
                            "set Last-Event-ID)",
                            "integer"});
    stream.query.push_back(
        {"named_events",
         "true: name each event after its type (`event: <type>`); default "
         "false",
         "enum:true|false"});
    t.push_back(std::move(stream));
  }

  // ----- media ---------------------------------------------------------
  {
    RouteSpec list = List("/api/v1/media", V::kMedia,
                          "List the site's uploaded media", "Media");
    list.mirrored = false;
    t.push_back(std::move(list));
  }
  {
    RouteSpec upload =
        Media("POST", "/api/v1/media", A::kUploadMedia, "Upload an image");
    upload.success = 201;
    upload.response = "Media";
    upload.write = true;
    upload.description =
        "The body is the image itself (Content-Type: its image type) or "
        "multipart/form-data with one file part. The id is the lowercase hex "
        "SHA-256 of the bytes; the same bytes again answer 200 with the same "
        "id. 413 beyond the kind's limit, 415 for an unknown format or a "
        "declared type that disagrees with the bytes, 507 over the site's "
        "quota; SVGs with scripts, event handlers or external references are "
        "refused.";
    upload.query.push_back(
        {"kind", "", "enum:layout-image|theme-image|logo|favicon|app-icon",
         true});
    t.push_back(std::move(upload));
  }
  {
    RouteSpec get = Media("GET", "/api/v1/media/{id}", A::kGetMedia,
                          "Download an image (byte ranges allowed)");
    get.description =
        "The stored Content-Type, ETag = id, Cache-Control: private, "
        "max-age=31536000, immutable; one byte range per request (206, or 416 "
        "when outside the image).";
    t.push_back(std::move(get));
  }
  {
    RouteSpec del = Media("DELETE", "/api/v1/media/{id}", A::kDeleteMedia,
                          "Delete an image (409 while a theme, layout or "
                          "featured page uses it)");
    del.success = 204;
    del.write = true;
    t.push_back(std::move(del));
  }
  {
    RouteSpec url = Media("POST", "/api/v1/media/{id}/url", A::kMediaUrl,
                          "A signed URL that serves the image without a "
                          "token");
    url.response = "MediaUrl";
    t.push_back(std::move(url));
  }
  {
    RouteSpec media = Public("GET", "/media/{handle}", A::kSignedMedia,
                             "An image through a signed URL (no token)");
    media.access = Access::kSignedUrl;
    media.handler = Handler::kMedia;
    media.query.push_back({"exp", "", "integer", true});
    media.query.push_back({"sig", "", "string", true});
    t.push_back(std::move(media));
  }

  // ----- operators -----------------------------------------------------
  t.push_back(
      AdminRoute("GET", "/admin/tenants", A::kAdminTenants, Scope::kUsage,
                 "List the region's tenants (scope usage)", "TenantList"));
  {
    RouteSpec usage =
        AdminRoute("GET", "/admin/usage", A::kAdminUsage, Scope::kUsage,
                   "Usage per customer, with totals (scope usage)", "Usage");
    usage.description =
        "JSON, or CSV with Accept: text/csv. Counts sites, themes, custom "
        "domains and Confluence spaces; nothing about individual users.";
    t.push_back(std::move(usage));
  }
  {
    RouteSpec audit =
        AdminRoute("GET", "/admin/audit", A::kAdminAudit, Scope::kAudit,
                   "Page the audit log (scope audit)", "Audit");
    audit.default_limit = kAuditPage;
    audit.max_limit = kMaxAuditPage;
    audit.query.push_back({"tenant", "Only this clientKey's records"});
    audit.query.push_back({"operator", "Only this actor's records"});
    audit.query.push_back({"since", "From this time (RFC 3339)", "date-time"});
    audit.query.push_back(
        {"until", "Before this time (RFC 3339)", "date-time"});
    t.push_back(std::move(audit));
  }
  {
    RouteSpec access = AdminRoute(
        "GET", "/admin/access-log", A::kAdminAccessLog, Scope::kAudit,
        "Page the access log of the last 14 days (scope audit)", "AccessEntry");
    access.description =
        "Each request: time, tenant, client IP, method, route template, "
        "status and latency, oldest first. Client IPs are personal data: "
        "every read needs X-Access-Reason and is written to the audit log. "
        "Entries older than 14 days are retired by the sweeper.";
    access.personal_data = true;
    access.default_limit = kAuditPage;
    access.max_limit = kMaxAuditPage;
    access.query.push_back({"since", "From this time (RFC 3339)", "date-time"});
    access.query.push_back(
        {"until", "Before this time (RFC 3339)", "date-time"});
    t.push_back(std::move(access));
  }
  {
    RouteSpec sweep =
        AdminRoute("POST", "/admin/sweep", A::kAdminSweep, Scope::kPurge,
                   "Run the purges that are due now (scope purge)", "Sweep");
    sweep.handler = Handler::kResidency;
    sweep.query.push_back({"dry_run",
                           "true: list what would be purged, purge nothing",
                           "enum:true|false"});
    t.push_back(std::move(sweep));
  }
  {
    RouteSpec erase = AdminRoute(
        "POST", "/admin/users/erase", A::kAdminEraseUsers, Scope::kEraseUsers,
        "Erase people by Atlassian account id from every tenant of the region "
        "(scope erase-users)",
        "EraseUsers");
    erase.description =
        "Deletes the rows that map each account id to its pseudonym in every "
        "tenant holding one (found through the region's account index), "
        "records a user.erased event in each tenant's log so that its users "
        "view shows the user as erased, and compacts the deleted rows out of "
        "the data files. The ids travel only in this body: they are never "
        "logged, audited or answered. At most 1000 ids per request (413 "
        "beyond); a malformed body or id is 400 and erases nothing. "
        "`deferred` counts mappings of tenants that are changing region "
        "right now: send the request again later.";
    erase.request_schema = EraseUsersBody;
    t.push_back(std::move(erase));
  }
  {
    RouteSpec backup = AdminRoute(
        "POST", "/admin/backups", A::kAdminBackup, Scope::kBackup,
        "Back up the region online, incrementally, into a folder on the "
        "server's machine (scope backup)",
        "Backup");
    backup.description =
        "RocksDB's BackupEngine copies the database into dir/db (table and "
        "blob files already there are reused), and the key store is written "
        "apart to dir/keys/<backupId>, sealed under the master key (which is "
        "not in the backup). Every write acknowledged before the request is "
        "in the backup. The server remembers dir: each later purge replaces "
        "the purged tenant's key in every key file there by a destroyed "
        "marker, so a restored backup never brings the tenant back. Restore "
        "offline with `siteledger restore-backup`. Audited.";
    backup.request_schema = BackupBody;
    t.push_back(std::move(backup));
  }
  if (options.test_clock) {
    RouteSpec clock = AdminRoute(
        "POST", "/admin/clock", A::kAdminClock, Scope::kClock,
        "Move the server's clock forward (scope clock; --test-clock only)", "");
    clock.request_schema = ClockBody;
    t.push_back(std::move(clock));
  }
  // Operators read a tenant's data through the tenant API's own reads.
  const size_t tenant_rows = t.size();
  for (size_t i = 0; i < tenant_rows; ++i) {
    if (!t[i].mirrored) continue;
    RouteSpec mirror = t[i];
    mirror.path = std::string(kOperatorTenantPrefix) +
                  mirror.path.substr(std::string_view("/api/v1").size());
    mirror.access = Access::kOperator;
    mirror.handler = Handler::kOperator;
    mirror.scope = Scope::kReadTenantData;
    mirror.mirrored = false;
    t.push_back(std::move(mirror));
  }
  {
    RouteSpec restore = AdminRoute(
        "POST", std::string(kOperatorTenantPrefix) + "/restore",
        A::kAdminRestore, Scope::kRestore,
        "Restore a tenant to an earlier seq or time (scope restore)", "");
    restore.request_schema = RestoreBody;
    restore.response = "RestoreResult";
    restore.description =
        "Appends the events that bring every view back to how it was after "
        "toSeq (or at asOf); history stays. Answers the new head seq. Check "
        "the result with GET .../digest: the digest now equals the digest "
        "?as_of= the point restored to.";
    t.push_back(std::move(restore));
  }
  {
    RouteSpec digest = AdminRoute(
        "GET", std::string(kOperatorTenantPrefix) + "/digest", A::kAdminDigest,
        Scope::kReadTenantData,
        "The digest of a tenant's views, now or as of an earlier seq or time "
        "(scope read-tenant-data)",
        "Digest");
    digest.description =
        "SHA-256 over the views' canonical documents (kind, id, document; "
        "versions left out), as docs/formats.md describes: two states with "
        "the same views have the same digest, so a restore's result can be "
        "compared with the state it restored. seq is the event the digest "
        "stands after.";
    digest.as_of = true;
    t.push_back(std::move(digest));
  }
  {
    const std::string base = std::string(kOperatorTenantPrefix) + "/migration";
    RouteSpec get =
        AdminRoute("GET", base, A::kAdminMigrationGet, Scope::kMigrate,
                   "A tenant's residency (scope migrate)", "Residency");
    get.handler = Handler::kResidency;
    t.push_back(std::move(get));
    RouteSpec start = AdminRoute(
        "POST", base, A::kAdminMigrationStart, Scope::kMigrate,
        "Move a tenant to another region (scope migrate)", "Residency");
    start.handler = Handler::kResidency;
    start.success = 202;
    start.request_schema = MigrationBody;
    t.push_back(std::move(start));
    RouteSpec rollback = AdminRoute(
        "POST", base + "/rollback", A::kAdminMigrationRollback, Scope::kMigrate,
        "Move a tenant back within 7 days of a move (scope migrate)",
        "Residency");
    rollback.handler = Handler::kResidency;
    rollback.success = 202;
    t.push_back(std::move(rollback));
  }
  // ----- region to region ----------------------------------------------
  {
    const std::string base = std::string(kPeerPrefix) + "tenants/{clientKey}";
    const std::tuple<const char*, std::string, Action, const char*> peer[] = {
        {"POST", base + "/begin", A::kPeerBegin,
         "Peer: take a copy of a tenant (it stays at its home)"},
        {"POST", base + "/events", A::kPeerImport,
         "Peer: a batch of the tenant's log, pseudonyms and media"},
        {"GET", base, A::kPeerStatus, "Peer: the copy's state and head"},
        {"GET", base + "/digest", A::kPeerDigest,
         "Peer: the digest of the copy's views as of ?seq= (or of what changed "
         "after ?since=)"},
        {"POST", base + "/commit", A::kPeerCommit,
         "Peer: become the tenant's home (the handshake's second step)"},
        {"POST", base + "/abort", A::kPeerAbort, "Peer: drop an arriving copy"},
        {"POST", base + "/reclaim", A::kPeerReclaim,
         "Peer: become home again (a rollback)"},
        {"POST", base + "/rollback", A::kPeerRollback,
         "Peer: start a rollback at the tenant's home"},
        {"POST", std::string(kPeerPrefix) + "relay", A::kPeerRelay,
         "Peer: a lifecycle callback relayed to the tenant's home"}};
    for (const auto& [method, path, action, summary] : peer) {
      RouteSpec r =
          ResidencyRoute(method, path, Access::kPeer, action, summary);
      if (std::string_view(method) == "POST") r.request_schema = PeerBody;
      if (action == A::kPeerDigest) {
        r.query.push_back({"seq", "As of this seq", "integer", true});
        r.query.push_back(
            {"since", "Only what events after this seq changed", "integer"});
      }
      t.push_back(std::move(r));
    }
  }
  return t;
}

Router BuildRouter(std::span<const RouteSpec> routes) {
  Router router;
  for (size_t i = 0; i < routes.size(); ++i) {
    router.Add(routes[i].method, routes[i].path, static_cast<int>(i),
               routes[i].access);
  }
  return router;
}

}  // namespace siteledger::server
