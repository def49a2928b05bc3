#include "projections/events.h"

#include <array>
#include <map>

namespace siteledger::projections {
namespace {

using namespace schema;

Json Ref(std::string_view name) {
  Json j = Json::MakeObject();
  j.Set("$ref", "#/components/schemas/" + std::string(name));
  return j;
}

Json ArrayOfRef(std::string_view name, int64_t max) {
  Json j = Json::MakeObject();
  j.Set("type", "array");
  j.Set("items", Ref(name));
  j.Set("maxItems", max);
  return j;
}

Json OneOfSchemas(std::vector<Json> options) {
  Json j = Json::MakeObject();
  Json list = Json::MakeArray();
  for (Json& o : options) list.Push(std::move(o));
  j.Set("oneOf", std::move(list));
  return j;
}

V Id() { return String(Str::kId, 1, 64); }
V Name() { return String(Str::kText, 1, 200); }
V MediaId() { return String(Str::kMediaId, 64, 64); }
V ContentId() { return String(Str::kContentId, 1, 20); }
V SpaceKey() { return String(Str::kSpaceKey, 1, 255); }
V Time() { return String(Str::kTime, 1, 40); }
V Version() { return Int(kPayloadVersion, kPayloadVersion); }

V MakeLink() {
  return OneOf({Req("url", String(Str::kUrl, 8, 2048)),
                Req("contentId", ContentId()), Req("spaceKey", SpaceKey())});
}

// Counts items and depth of a navigation tree while validating each item.
V NavigationItemFields() {
  return Object({Req("id", Id()), Req("label", Name()), Req("link", MakeLink()),
                 Opt("children",
                     Custom(
                         [](const Json&, std::string&) {
                           return Status::Ok();  // checked by the walk below
                         },
                         ArrayOfRef("NavigationItem", kMaxNavigationItems)))});
}

V MakeNavigationItem() {
  V fields = NavigationItemFields();
  auto walk = std::make_shared<
      std::function<Status(const Json&, std::string&, size_t, size_t&)>>();
  *walk = [fields, walk](const Json& item, std::string& path, size_t depth,
                         size_t& count) -> Status {
    if (depth > kMaxNavigationDepth) {
      return Status::InvalidArgument(
          path + ": navigation is nested deeper than " +
          std::to_string(kMaxNavigationDepth) + " levels");
    }
    if (++count > kMaxNavigationItems) {
      return Status::InvalidArgument(path + ": navigation has more than " +
                                     std::to_string(kMaxNavigationItems) +
                                     " items");
    }
    SL_RETURN_IF_ERROR(fields->Check(item, path));
    const Json* children = item.Find("children");
    if (children == nullptr) return Status::Ok();
    if (!children->is_array()) {
      return Status::InvalidArgument(path + ".children: expected an array");
    }
    for (size_t i = 0; i < children->as_array().size(); ++i) {
      const size_t mark = path.size();
      path += ".children[" + std::to_string(i) + "]";
      SL_RETURN_IF_ERROR(
          (*walk)(children->as_array()[i], path, depth + 1, count));
      path.resize(mark);
    }
    return Status::Ok();
  };
  return Custom(
      [walk](const Json& item, std::string& path) {
        size_t count = 0;
        return (*walk)(item, path, 1, count);
      },
      Ref("NavigationItem"));
}

// A whole tree: ids unique, at most kMaxNavigationItems in all.
V MakeNavigationTree() {
  return Custom(
      [](const Json& items, std::string& path) -> Status {
        if (!items.is_array())
          return Status::InvalidArgument(path + ": expected an array");
        size_t total = 0;
        std::map<std::string, int> ids;
        std::function<void(const Json&)> count = [&](const Json& item) {
          ++total;
          ++ids[std::string(item.GetString("id"))];
          if (const Json* c = item.Find("children"); c && c->is_array()) {
            for (const Json& child : c->as_array()) count(child);
          }
        };
        for (size_t i = 0; i < items.as_array().size(); ++i) {
          const size_t mark = path.size();
          path += "[" + std::to_string(i) + "]";
          SL_RETURN_IF_ERROR(
              NavigationItemSchema()->Check(items.as_array()[i], path));
          path.resize(mark);
          count(items.as_array()[i]);
        }
        if (total > kMaxNavigationItems) {
          return Status::InvalidArgument(path + ": navigation has more than " +
                                         std::to_string(kMaxNavigationItems) +
                                         " items");
        }
        for (const auto& [id, n] : ids) {
          if (n > 1) {
            return Status::InvalidArgument(path + ": item id '" + id +
                                           "' appears more than once");
          }
        }
        return Status::Ok();
      },
      ArrayOfRef("NavigationItem", kMaxNavigationItems));
}

V MakeModule() {
  V title = String(Str::kText, 0, 200);
  std::map<std::string, V, std::less<>> props = {
      {"text", Object({Opt("title", title),
                       Req("text", String(Str::kText, 1, 10000))})},
      {"image", Object({Req("mediaId", MediaId()),
                        Opt("alt", String(Str::kText, 0, 300)),
                        Opt("link", MakeLink())})},
      {"hero", Object({Req("heading", Name()),
                       Opt("subheading", String(Str::kText, 0, 500)),
                       Opt("backgroundMediaId", MediaId())})},
      {"links", Object({Opt("title", title),
                        Req("links", ArrayOf(Object({Req("label", Name()),
                                                     Req("link", MakeLink())}),
                                             1, 50))})},
      {"spaces", Object({Opt("title", title),
                         Req("spaceKeys", ArrayOf(SpaceKey(), 1, 50, true))})},
      {"pages", Object({Opt("title", title),
                        Req("contentIds", ArrayOf(ContentId(), 1, 50, true))})},
      {"search", Object({Opt("placeholder", String(Str::kText, 0, 200))})},
      {"announcements", Object({Opt("limit", Int(1, 20))})},
  };
  V base = Object({Req("id", Id()),
                   Req("type", Enum({"text", "image", "hero", "links", "spaces",
                                     "pages", "search", "announcements"})),
                   Req("props", Custom(
                                    [](const Json& v, std::string& path) {
                                      return v.is_object()
                                                 ? Status::Ok()
                                                 : Status::InvalidArgument(
                                                       path +
                                                       ": expected an object");
                                    },
                                    Json::MakeObject()))});
  // Published as one object shape per module type.
  std::vector<Json> shapes;
  for (const auto& [type, prop_schema] : props) {
    Json shape = Json::MakeObject();
    shape.Set("type", "object");
    Json properties = Json::MakeObject();
    properties.Set("id", Id()->ToJsonSchema());
    Json type_schema = Json::MakeObject();
    type_schema.Set("const", type);
    properties.Set("type", std::move(type_schema));
    properties.Set("props", prop_schema->ToJsonSchema());
    shape.Set("properties", std::move(properties));
    Json required = Json::MakeArray();
    for (const char* r : {"id", "type", "props"}) required.Push(r);
    shape.Set("required", std::move(required));
    shape.Set("additionalProperties", false);
    shapes.push_back(std::move(shape));
  }
  return Custom(
      [base, props](const Json& v, std::string& path) -> Status {
        SL_RETURN_IF_ERROR(base->Check(v, path));
        const auto it = props.find(v.GetString("type"));
        const size_t mark = path.size();
        path += ".props";
        SL_RETURN_IF_ERROR(it->second->Check(*v.Find("props"), path));
        path.resize(mark);
        return Status::Ok();
      },
      OneOfSchemas(std::move(shapes)));
}

V Sections() {
  V column = Object({Req("id", Id()), Req("width", Int(1, 12)),
                     Req("modules", ArrayOf(MakeModule(), 0, 50))});
  V section = Object({Req("id", Id()), Req("columns", ArrayOf(column, 1, 6))});
  return ArrayOf(section, 0, 50);
}

V ThemeBody(bool with_version) {
  V colors = Object({Opt("primary", String(Str::kColor, 4, 7)),
                     Opt("secondary", String(Str::kColor, 4, 7)),
                     Opt("background", String(Str::kColor, 4, 7)),
                     Opt("text", String(Str::kColor, 4, 7)),
                     Opt("link", String(Str::kColor, 4, 7)),
                     Opt("headerBackground", String(Str::kColor, 4, 7)),
                     Opt("headerText", String(Str::kColor, 4, 7))});
  V fonts = Object({Opt("heading", String(Str::kText, 1, 100)),
                    Opt("body", String(Str::kText, 1, 100))});
  V media = Object({Opt("logo", MediaId()), Opt("favicon", MediaId()),
                    Opt("appIcon", MediaId()),
                    Opt("backgroundImages", ArrayOf(MediaId(), 0, 10, true))});
  std::vector<Field> fields = {Req("themeId", Id()), Req("name", Name()),
                               Opt("colors", colors), Opt("fonts", fonts),
                               Opt("media", media)};
  if (with_version) fields.push_back(Req("v", Version()));
  return Object(std::move(fields));
}

V AnnouncementBody() {
  Json true_only = Json::MakeObject();
  true_only.Set("const", true);
  V audience =
      OneOf({Req("all", Custom(
                            [](const Json& v, std::string& path) {
                              return v.is_bool() && v.as_bool()
                                         ? Status::Ok()
                                         : Status::InvalidArgument(
                                               path + ": expected true");
                            },
                            true_only)),
             Req("spaceKeys", ArrayOf(SpaceKey(), 1, 100, true))});
  return Object({Req("v", Version()), Req("announcementId", Id()),
                 Req("text", String(Str::kText, 1, 2000)),
                 Req("severity", Enum({"info", "warning", "critical"})),
                 Req("startsAt", Time()), Opt("endsAt", Time()),
                 Req("audience", audience)});
}

V PromotedResult() {
  static const V kUrl =
      Object({Req("url", String(Str::kUrl, 8, 2048)), Req("title", Name())});
  static const V kContent = Object({Req("contentId", ContentId())});
  return Custom(
      [](const Json& v, std::string& path) -> Status {
        if (v.Find("contentId") != nullptr) return kContent->Check(v, path);
        return kUrl->Check(v, path);
      },
      OneOfSchemas({kUrl->ToJsonSchema(), kContent->ToJsonSchema()}));
}

struct Catalogue {
  std::map<std::string_view, V> schemas;
  std::vector<std::string_view> types;

  void Add(std::string_view type, V schema) {
    schemas.emplace(type, std::move(schema));
    types.push_back(type);
  }

  Catalogue() {
    const V site_id = Id();
    Add(event::kSiteCreated,
        Object({Req("v", Version()), Req("siteId", site_id),
                Req("name", Name())}));
    Add(event::kSiteRenamed,
        Object({Req("v", Version()), Req("siteId", site_id),
                Req("name", Name())}));
    Add(event::kSiteDeleted,
        Object({Req("v", Version()), Req("siteId", site_id)}));
    const V domain = String(Str::kDomain, 3, 253);
    Add(event::kSiteDomainAdded,
        Object({Req("v", Version()), Req("siteId", site_id),
                Req("domain", domain)}));
    Add(event::kSiteDomainRemoved,
        Object({Req("v", Version()), Req("siteId", site_id),
                Req("domain", domain)}));
    Add(event::kSiteSpaceAdded,
        Object({Req("v", Version()), Req("siteId", site_id),
                Req("spaceKey", SpaceKey())}));
    Add(event::kSiteSpaceRemoved,
        Object({Req("v", Version()), Req("siteId", site_id),
                Req("spaceKey", SpaceKey())}));
    Add(event::kSiteThemeAssigned,
        Object({Req("v", Version()), Req("siteId", site_id),
                Req("themeId", Nullable(Id()))}));
    Add(event::kSiteHomeLayoutSet,
        Object({Req("v", Version()), Req("siteId", site_id),
                Req("layoutId", Nullable(Id()))}));
    Add(event::kThemeCreated, ThemeBody(true));
    Add(event::kThemeUpdated, ThemeBody(true));
    Add(event::kThemeDeleted,
        Object({Req("v", Version()), Req("themeId", Id())}));
    Add(event::kNavigationReplaced,
        Object({Req("v", Version()), Req("siteId", site_id),
                Req("items", MakeNavigationTree())}));
    Add(event::kNavigationItemAdded,
        Object({Req("v", Version()), Req("siteId", site_id),
                Req("parentId", Nullable(Id())),
                Req("index", Int(0, kMaxNavigationItems)),
                Req("item", NavigationItemSchema())}));
    Add(event::kNavigationItemMoved,
        Object({Req("v", Version()), Req("siteId", site_id),
                Req("itemId", Id()), Req("parentId", Nullable(Id())),
                Req("index", Int(0, kMaxNavigationItems))}));
    Add(event::kNavigationItemRemoved,
        Object({Req("v", Version()), Req("siteId", site_id),
                Req("itemId", Id())}));
    Add(event::kLayoutSaved,
        Object({Req("v", Version()), Req("layoutId", Id()), Req("name", Name()),
                Opt("siteId", site_id), Req("sections", Sections())}));
    Add(event::kLayoutPublished,
        Object({Req("v", Version()), Req("layoutId", Id())}));
    Add(event::kLayoutDeleted,
        Object({Req("v", Version()), Req("layoutId", Id())}));
    Add(event::kAnnouncementPublished, AnnouncementBody());
    Add(event::kAnnouncementUpdated, AnnouncementBody());
    Add(event::kAnnouncementDeleted,
        Object({Req("v", Version()), Req("announcementId", Id())}));
    const V keyword = String(Str::kText, 1, 100);
    Add(event::kPromotedSet,
        Object({Req("v", Version()), Req("keyword", keyword),
                Req("results", ArrayOf(PromotedResult(), 1, 20))}));
    Add(event::kPromotedCleared,
        Object({Req("v", Version()), Req("keyword", keyword)}));
    Add(event::kFeaturedSet,
        Object({Req("v", Version()), Req("contentId", ContentId()),
                Opt("mediaId", MediaId()),
                Opt("text", String(Str::kText, 1, 1000))}));
    Add(event::kFeaturedCleared,
        Object({Req("v", Version()), Req("contentId", ContentId())}));
    Add(event::kFeedbackSubmitted,
        Object({Req("v", Version()), Req("feedbackId", Id()),
                Req("text", String(Str::kText, 1, 5000)),
                Opt("rating", Int(1, 5)), Opt("contentId", ContentId()),
                Req("submitter", String(Str::kPseudonym, 22, 22))}));
    Add(event::kFeedbackResolved,
        Object({Req("v", Version()), Req("feedbackId", Id())}));
    Add(event::kFeedbackDeleted,
        Object({Req("v", Version()), Req("feedbackId", Id())}));
    Add(event::kUserSeen, Object({Req("v", Version()),
                                  Req("user", String(Str::kPseudonym, 22, 22)),
                                  Req("day", String(Str::kDay, 10, 10))}));
    Add(event::kUserErased,
        Object({Req("v", Version()),
                Req("user", String(Str::kPseudonym, 22, 22))}));
    const V kind =
        Enum({"layout-image", "theme-image", "logo", "favicon", "app-icon"});
    const V type = Enum({"image/png", "image/jpeg", "image/gif", "image/webp",
                         "image/x-icon", "image/svg+xml"});
    Add(event::kMediaAttached,
        Object(
            {Req("v", Version()), Req("mediaId", MediaId()), Opt("kind", kind),
             Opt("type", type), Opt("size", Int(0, int64_t{1} << 40)),
             Opt("width", Int(0, 1 << 20)), Opt("height", Int(0, 1 << 20))}));
    // An upload: the bytes were stored with the event.
    Add(event::kMediaUploaded,
        Object(
            {Req("v", Version()), Req("mediaId", MediaId()), Req("kind", kind),
             Req("type", type), Req("size", Int(0, int64_t{1} << 40)),
             Opt("width", Int(0, 1 << 24)), Opt("height", Int(0, 1 << 24))}));
    Add(event::kMediaDetached,
        Object({Req("v", Version()), Req("mediaId", MediaId())}));
    Add(event::kTenantRestored,
        Object({Req("v", Version()), Req("toSeq", Int(0, INT64_MAX)),
                Opt("asOf", Time())}));
  }
};

const Catalogue& TheCatalogue() {
  static const Catalogue* catalogue = new Catalogue();
  return *catalogue;
}

}  // namespace

const schema::V& LinkSchema() {
  static const V* v = new V(MakeLink());
  return *v;
}

Json NavigationItemJsonSchema() {
  return NavigationItemFields()->ToJsonSchema();
}

const schema::V& NavigationItemSchema() {
  static const V* v = new V(MakeNavigationItem());
  return *v;
}

const schema::Validator* EventSchema(std::string_view type) {
  const auto& schemas = TheCatalogue().schemas;
  auto it = schemas.find(type);
  return it == schemas.end() ? nullptr : it->second.get();
}

std::span<const std::string_view> EventTypes() { return TheCatalogue().types; }

Status ValidatePayload(std::string_view type, const Json& payload) {
  const schema::Validator* s = EventSchema(type);
  if (s == nullptr) {
    return Status::InvalidArgument("unknown event type '" + std::string(type) +
                                   "'");
  }
  SL_RETURN_IF_ERROR(schema::CheckForbiddenContent(payload));
  std::string path = "$";
  return s->Check(payload, path);
}

}  // namespace siteledger::projections
