#include "projections/commands.h"

#include "projections/events.h"
#include "storage/base/rfc3339.h"
#include "storage/crypto.h"

namespace siteledger::projections {
namespace {

using siteledger::Err;

Status NotFound(ViewKind kind, std::string_view id) {
  return Status::NotFound(std::string(ViewKindName(kind)) + " '" +
                          std::string(id) + "' does not exist");
}

// Builds an event payload from the request body plus the fields the server
// sets, refusing a body that tries to set them itself.
Result<Json> MakePayload(
    const Json& body,
    std::initializer_list<std::pair<std::string_view, Json>> server_fields) {
  Json payload;
  if (body.is_null()) {
    payload = Json::MakeObject();
  } else if (!body.is_object()) {
    return Err(Status::InvalidArgument("$: the body must be a JSON object"));
  } else {
    payload = body;
  }
  if (payload.Find("v") != nullptr) {
    return Err(Status::InvalidArgument("$.v: unknown field"));
  }
  for (const auto& [key, value] : server_fields) {
    if (payload.Find(key) != nullptr) {
      return Err(Status::InvalidArgument(
          "$." + std::string(key) +
          ": set by the server (from the path or generated), not the body"));
    }
    payload.Set(std::string(key), value);
  }
  payload.Set("v", kPayloadVersion);
  return payload;
}

class Decider {
 public:
  Decider(const Command& c, ViewStore& store, const DecideContext& ctx)
      : c_(c), store_(store), ctx_(ctx) {}

  Result<Decision> Run();

 private:
  // Loads an entity; NotFound when absent.
  Result<const ViewDoc*> Need(ViewKind kind, const std::string& id) {
    auto doc = store_.Get({kind, id});
    if (!doc) return doc;
    if (*doc == nullptr) return Err(NotFound(kind, id));
    return doc;
  }
  Result<const ViewDoc*> Maybe(ViewKind kind, const std::string& id) {
    return store_.Get({kind, id});
  }

  // If-Match against the entity's version (0 when it does not exist).
  Status CheckIfMatch(const ViewDoc* doc) const {
    if (!c_.if_match) return Status::Ok();
    if (*c_.if_match == kAnyVersion) {
      return doc != nullptr ? Status::Ok()
                            : Status::PreconditionFailed(
                                  "If-Match: * needs the entity to exist");
    }
    const Sequence actual = doc != nullptr ? doc->version : Sequence(0);
    if (actual != *c_.if_match) {
      return Status::PreconditionFailed(
          "the entity is at version " + std::to_string(actual.value()) +
          ", not " + std::to_string(c_.if_match->value()));
    }
    return Status::Ok();
  }

  Status Emit(std::string_view type, Json payload) {
    SL_RETURN_IF_ERROR(ValidatePayload(type, payload));
    SL_RETURN_IF_ERROR(CheckMediaReferences(type, payload));
    decision_.events.push_back({std::string(type), std::move(payload)});
    return Status::Ok();
  }

  // Themes, layouts and featured pages may reference only media the tenant
  // has uploaded (or attached).
  Status CheckMediaReferences(std::string_view type, const Json& payload) {
    std::vector<std::string> refs;
    if (type == event::kThemeCreated || type == event::kThemeUpdated) {
      refs = MediaReferences(ViewKind::kTheme, payload);
    } else if (type == event::kLayoutSaved) {
      Json wrapped = Json::MakeObject();
      wrapped.Set("draft", payload);
      refs = MediaReferences(ViewKind::kLayout, wrapped);
    } else if (type == event::kFeaturedSet) {
      refs = MediaReferences(ViewKind::kFeatured, payload);
    }
    for (const std::string& media : refs) {
      auto row = store_.Get({ViewKind::kMedia, media});
      if (!row) return row.error();
      const Json* attached = *row ? (*row)->doc.Find("attached") : nullptr;
      if (attached == nullptr || !attached->as_bool()) {
        return Status::InvalidArgument(
            "media '" + media +
            "' is not one of this site's images: upload it first");
      }
    }
    return Status::Ok();
  }

  Status EmitFromBody(
      std::string_view type,
      std::initializer_list<std::pair<std::string_view, Json>> server_fields) {
    auto payload = MakePayload(c_.body, server_fields);
    if (!payload) return payload.error();
    return Emit(type, std::move(*payload));
  }

  Status NeedActor() const {
    if (ctx_.actor_pseudonym.empty()) {
      return Status::InvalidArgument(
          "this action needs the acting user's account id (the token's sub)");
    }
    return Status::Ok();
  }

  Status Site();
  Status Navigation();
  Status Theme();
  Status Layout();
  Status Announcement();
  Status Promoted();
  Status Featured();
  Status Feedback();
  Status Other();

  const Command& c_;
  ViewStore& store_;
  const DecideContext& ctx_;
  Decision decision_;
};

Status Decider::Site() {
  switch (c_.type) {
    case CommandType::kCreateSite: {
      auto new_id = NewId("s_");
      if (!new_id) return new_id.error();
      const std::string& id = *new_id;
      decision_.entity = ViewKey{ViewKind::kSite, id};
      return EmitFromBody(event::kSiteCreated, {{"siteId", Json(id)}});
    }
    case CommandType::kUpdateSite: {
      decision_.entity = ViewKey{ViewKind::kSite, c_.id};
      auto site = Need(ViewKind::kSite, c_.id);
      if (!site) return site.error();
      SL_RETURN_IF_ERROR(CheckIfMatch(*site));
      static const schema::V kBody = schema::Object(
          {schema::Opt("name", schema::String(schema::Str::kText, 1, 200)),
           schema::Opt("themeId", schema::Nullable(
                                      schema::String(schema::Str::kId, 1, 64))),
           schema::Opt("homeLayoutId", schema::Nullable(schema::String(
                                           schema::Str::kId, 1, 64)))});
      if (!c_.body.is_object()) {
        return Status::InvalidArgument("$: the body must be a JSON object");
      }
      SL_RETURN_IF_ERROR(schema::CheckForbiddenContent(c_.body));
      std::string path = "$";
      SL_RETURN_IF_ERROR(kBody->Check(c_.body, path));
      const Json& doc = (*site)->doc;
      if (const Json* name = c_.body.Find("name");
          name && *name != *doc.Find("name")) {
        Json p = Json::MakeObject();
        p.Set("v", kPayloadVersion);
        p.Set("siteId", c_.id);
        p.Set("name", *name);
        SL_RETURN_IF_ERROR(Emit(event::kSiteRenamed, std::move(p)));
      }
      if (const Json* theme = c_.body.Find("themeId");
          theme && *theme != *doc.Find("themeId")) {
        if (theme->is_string()) {
          auto t = Need(ViewKind::kTheme, theme->as_string());
          if (!t) {
            return Status::InvalidArgument("$.themeId: " + t.error().message());
          }
        }
        Json p = Json::MakeObject();
        p.Set("v", kPayloadVersion);
        p.Set("siteId", c_.id);
        p.Set("themeId", *theme);
        SL_RETURN_IF_ERROR(Emit(event::kSiteThemeAssigned, std::move(p)));
      }
      if (const Json* layout = c_.body.Find("homeLayoutId");
          layout && *layout != *doc.Find("homeLayoutId")) {
        if (layout->is_string()) {
          auto l = Need(ViewKind::kLayout, layout->as_string());
          if (!l) {
            return Status::InvalidArgument("$.homeLayoutId: " +
                                           l.error().message());
          }
        }
        Json p = Json::MakeObject();
        p.Set("v", kPayloadVersion);
        p.Set("siteId", c_.id);
        p.Set("layoutId", *layout);
        SL_RETURN_IF_ERROR(Emit(event::kSiteHomeLayoutSet, std::move(p)));
      }
      return Status::Ok();
    }
    case CommandType::kDeleteSite: {
      decision_.entity = ViewKey{ViewKind::kSite, c_.id};
      auto site = Need(ViewKind::kSite, c_.id);
      if (!site) return site.error();
      SL_RETURN_IF_ERROR(CheckIfMatch(*site));
      Json p = Json::MakeObject();
      p.Set("v", kPayloadVersion);
      p.Set("siteId", c_.id);
      return Emit(event::kSiteDeleted, std::move(p));
    }
    case CommandType::kAddDomain:
    case CommandType::kRemoveDomain:
    case CommandType::kAddSpace:
    case CommandType::kRemoveSpace: {
      decision_.entity = ViewKey{ViewKind::kSite, c_.id};
      auto site = Need(ViewKind::kSite, c_.id);
      if (!site) return site.error();
      SL_RETURN_IF_ERROR(CheckIfMatch(*site));
      const bool domain = c_.type == CommandType::kAddDomain ||
                          c_.type == CommandType::kRemoveDomain;
      const bool add = c_.type == CommandType::kAddDomain ||
                       c_.type == CommandType::kAddSpace;
      const std::string item = domain ? NormalizeKeyword(c_.item) : c_.item;
      const Json* list = (*site)->doc.Find(domain ? "domains" : "spaceKeys");
      bool present = false;
      for (const Json& v : list->as_array()) present |= v.as_string() == item;
      if (present == add) return Status::Ok();  // already so: nothing to do
      if (add && list->as_array().size() >= (domain ? 20u : 500u)) {
        return Status::InvalidArgument(
            domain ? "a site has at most 20 custom domains"
                   : "a site has at most 500 spaces");
      }
      Json p = Json::MakeObject();
      p.Set("v", kPayloadVersion);
      p.Set("siteId", c_.id);
      p.Set(domain ? "domain" : "spaceKey", item);
      const std::string_view type =
          domain ? (add ? event::kSiteDomainAdded : event::kSiteDomainRemoved)
                 : (add ? event::kSiteSpaceAdded : event::kSiteSpaceRemoved);
      return Emit(type, std::move(p));
    }
    default:
      return Status::Internal("not a site command");
  }
}

Status Decider::Navigation() {
  decision_.entity = ViewKey{ViewKind::kNavigation, c_.id};
  auto site = Need(ViewKind::kSite, c_.id);
  if (!site) return site.error();
  auto nav = Maybe(ViewKind::kNavigation, c_.id);
  if (!nav) return nav.error();
  SL_RETURN_IF_ERROR(CheckIfMatch(*nav));
  const Json empty = Json::MakeArray();
  const Json& items = *nav ? *(*nav)->doc.Find("items") : empty;
  // Finds an item by id anywhere in the tree.
  std::function<const Json*(const Json&, std::string_view)> find =
      [&](const Json& list, std::string_view id) -> const Json* {
    for (const Json& item : list.as_array()) {
      if (item.GetString("id") == id) return &item;
      if (const Json* kids = item.Find("children")) {
        if (const Json* f = find(*kids, id)) return f;
      }
    }
    return nullptr;
  };
  std::function<size_t(const Json&)> depth = [&](const Json& item) -> size_t {
    size_t d = 0;
    if (const Json* kids = item.Find("children")) {
      for (const Json& k : kids->as_array()) d = std::max(d, depth(k));
    }
    return d + 1;
  };
  // The depth of the item `id` from the root (1 for a top-level item).
  std::function<size_t(const Json&, std::string_view, size_t)> level =
      [&](const Json& list, std::string_view id, size_t d) -> size_t {
    for (const Json& item : list.as_array()) {
      if (item.GetString("id") == id) return d;
      if (const Json* kids = item.Find("children")) {
        if (size_t l = level(*kids, id, d + 1)) return l;
      }
    }
    return 0;
  };
  switch (c_.type) {
    case CommandType::kReplaceNavigation:
      return EmitFromBody(event::kNavigationReplaced,
                          {{"siteId", Json(c_.id)}});
    case CommandType::kAddNavigationItem: {
      Json body = c_.body.is_object() ? c_.body : Json::MakeObject();
      if (body.Find("parentId") == nullptr) body.Set("parentId", nullptr);
      if (body.Find("index") == nullptr) body.Set("index", kMaxNavigationItems);
      auto payload = MakePayload(body, {{"siteId", Json(c_.id)}});
      if (!payload) return payload.error();
      SL_RETURN_IF_ERROR(
          ValidatePayload(event::kNavigationItemAdded, *payload));
      const Json& item = *payload->Find("item");
      if (find(items, item.GetString("id"))) {
        return Status::Conflict("$.item.id: the menu already has an item '" +
                                std::string(item.GetString("id")) + "'");
      }
      const Json& parent = *payload->Find("parentId");
      size_t parent_level = 0;
      if (!parent.is_null()) {
        parent_level = level(items, parent.as_string(), 1);
        if (parent_level == 0) {
          return Status::InvalidArgument("$.parentId: no item '" +
                                         parent.as_string() + "' in the menu");
        }
      }
      if (parent_level + depth(item) > kMaxNavigationDepth) {
        return Status::InvalidArgument("$.item: navigation may nest at most " +
                                       std::to_string(kMaxNavigationDepth) +
                                       " levels");
      }
      return Emit(event::kNavigationItemAdded, std::move(*payload));
    }
    case CommandType::kMoveNavigationItem: {
      const Json* item = find(items, c_.item);
      if (item == nullptr) {
        return Status::NotFound("no item '" + c_.item + "' in the menu");
      }
      auto payload = MakePayload(
          c_.body, {{"siteId", Json(c_.id)}, {"itemId", Json(c_.item)}});
      if (!payload) return payload.error();
      SL_RETURN_IF_ERROR(
          ValidatePayload(event::kNavigationItemMoved, *payload));
      const Json& parent = *payload->Find("parentId");
      size_t parent_level = 0;
      if (!parent.is_null()) {
        if (parent.as_string() == c_.item ||
            (item->Find("children") &&
             find(*item->Find("children"), parent.as_string()))) {
          return Status::InvalidArgument(
              "$.parentId: an item cannot move under itself");
        }
        parent_level = level(items, parent.as_string(), 1);
        if (parent_level == 0) {
          return Status::InvalidArgument("$.parentId: no item '" +
                                         parent.as_string() + "' in the menu");
        }
      }
      if (parent_level + depth(*item) > kMaxNavigationDepth) {
        return Status::InvalidArgument(
            "$.parentId: navigation may nest at most " +
            std::to_string(kMaxNavigationDepth) + " levels");
      }
      return Emit(event::kNavigationItemMoved, std::move(*payload));
    }
    case CommandType::kRemoveNavigationItem: {
      if (find(items, c_.item) == nullptr) {
        return Status::NotFound("no item '" + c_.item + "' in the menu");
      }
      Json p = Json::MakeObject();
      p.Set("v", kPayloadVersion);
      p.Set("siteId", c_.id);
      p.Set("itemId", c_.item);
      return Emit(event::kNavigationItemRemoved, std::move(p));
    }
    default:
      return Status::Internal("not a navigation command");
  }
}

Status Decider::Theme() {
  switch (c_.type) {
    case CommandType::kCreateTheme: {
      auto new_id = NewId("t_");
      if (!new_id) return new_id.error();
      const std::string& id = *new_id;
      decision_.entity = ViewKey{ViewKind::kTheme, id};
      return EmitFromBody(event::kThemeCreated, {{"themeId", Json(id)}});
    }
    case CommandType::kUpdateTheme: {
      decision_.entity = ViewKey{ViewKind::kTheme, c_.id};
      auto theme = Need(ViewKind::kTheme, c_.id);
      if (!theme) return theme.error();
      SL_RETURN_IF_ERROR(CheckIfMatch(*theme));
      return EmitFromBody(event::kThemeUpdated, {{"themeId", Json(c_.id)}});
    }
    case CommandType::kDeleteTheme: {
      decision_.entity = ViewKey{ViewKind::kTheme, c_.id};
      auto theme = Need(ViewKind::kTheme, c_.id);
      if (!theme) return theme.error();
      SL_RETURN_IF_ERROR(CheckIfMatch(*theme));
      // A count kept by the folds, not a walk over the sites.
      auto uses = store_.Get({ViewKind::kTotals, UseCountId("themeId", c_.id)});
      if (!uses) return uses.error();
      if (*uses != nullptr) {
        return Status::Conflict("theme '" + c_.id + "' is assigned to " +
                                std::to_string((*uses)->doc.GetInt("sites")) +
                                " site(s): assign another theme first");
      }
      Json p = Json::MakeObject();
      p.Set("v", kPayloadVersion);
      p.Set("themeId", c_.id);
      return Emit(event::kThemeDeleted, std::move(p));
    }
    default:
      return Status::Internal("not a theme command");
  }
}

Status Decider::Layout() {
  switch (c_.type) {
    case CommandType::kCreateLayout:
    case CommandType::kSaveLayout: {
      std::string id = c_.id;
      if (c_.type == CommandType::kCreateLayout) {
        auto new_id = NewId("l_");
        if (!new_id) return new_id.error();
        id = std::move(*new_id);
      } else {
        auto layout = Need(ViewKind::kLayout, id);
        if (!layout) return layout.error();
        SL_RETURN_IF_ERROR(CheckIfMatch(*layout));
      }
      decision_.entity = ViewKey{ViewKind::kLayout, id};
      if (const Json* site = c_.body.Find("siteId");
          site && site->is_string()) {
        auto s = Need(ViewKind::kSite, site->as_string());
        if (!s) return s.error().WithContext("$.siteId");
      }
      return EmitFromBody(event::kLayoutSaved, {{"layoutId", Json(id)}});
    }
    case CommandType::kPublishLayout:
    case CommandType::kDeleteLayout: {
      decision_.entity = ViewKey{ViewKind::kLayout, c_.id};
      auto layout = Need(ViewKind::kLayout, c_.id);
      if (!layout) return layout.error();
      SL_RETURN_IF_ERROR(CheckIfMatch(*layout));
      if (c_.type == CommandType::kDeleteLayout) {
        auto uses =
            store_.Get({ViewKind::kTotals, UseCountId("homeLayoutId", c_.id)});
        if (!uses) return uses.error();
        if (*uses != nullptr) {
          return Status::Conflict(
              "layout '" + c_.id + "' is the home layout of " +
              std::to_string((*uses)->doc.GetInt("sites")) + " site(s)");
        }
      }
      Json p = Json::MakeObject();
      p.Set("v", kPayloadVersion);
      p.Set("layoutId", c_.id);
      return Emit(c_.type == CommandType::kPublishLayout
                      ? event::kLayoutPublished
                      : event::kLayoutDeleted,
                  std::move(p));
    }
    default:
      return Status::Internal("not a layout command");
  }
}

Status Decider::Announcement() {
  if (const Json* ends = c_.body.Find("endsAt"); ends && ends->is_string()) {
    const Json* starts = c_.body.Find("startsAt");
    auto end = siteledger::ParseRfc3339(ends->as_string());
    auto start = starts && starts->is_string()
                     ? siteledger::ParseRfc3339(starts->as_string())
                     : Result<Timestamp>(siteledger::Err(Status::NotFound("")));
    if (end && start && *end <= *start) {
      return Status::InvalidArgument("$.endsAt: must be after startsAt");
    }
  }
  switch (c_.type) {
    case CommandType::kCreateAnnouncement: {
      auto new_id = NewId("a_");
      if (!new_id) return new_id.error();
      const std::string& id = *new_id;
      decision_.entity = ViewKey{ViewKind::kAnnouncement, id};
      return EmitFromBody(event::kAnnouncementPublished,
                          {{"announcementId", Json(id)}});
    }
    case CommandType::kUpdateAnnouncement:
    case CommandType::kDeleteAnnouncement: {
      decision_.entity = ViewKey{ViewKind::kAnnouncement, c_.id};
      auto a = Need(ViewKind::kAnnouncement, c_.id);
      if (!a) return a.error();
      SL_RETURN_IF_ERROR(CheckIfMatch(*a));
      if (c_.type == CommandType::kUpdateAnnouncement) {
        return EmitFromBody(event::kAnnouncementUpdated,
                            {{"announcementId", Json(c_.id)}});
      }
      Json p = Json::MakeObject();
      p.Set("v", kPayloadVersion);
      p.Set("announcementId", c_.id);
      return Emit(event::kAnnouncementDeleted, std::move(p));
    }
    default:
      return Status::Internal("not an announcement command");
  }
}

Status Decider::Promoted() {
  const std::string keyword = NormalizeKeyword(c_.id);
  decision_.entity = ViewKey{ViewKind::kPromoted, keyword};
  auto current = Maybe(ViewKind::kPromoted, keyword);
  if (!current) return current.error();
  SL_RETURN_IF_ERROR(CheckIfMatch(*current));
  if (c_.type == CommandType::kSetPromoted) {
    return EmitFromBody(event::kPromotedSet, {{"keyword", Json(keyword)}});
  }
  if (*current == nullptr) {
    return NotFound(ViewKind::kPromoted, keyword);
  }
  Json p = Json::MakeObject();
  p.Set("v", kPayloadVersion);
  p.Set("keyword", keyword);
  return Emit(event::kPromotedCleared, std::move(p));
}

Status Decider::Featured() {
  decision_.entity = ViewKey{ViewKind::kFeatured, c_.id};
  auto current = Maybe(ViewKind::kFeatured, c_.id);
  if (!current) return current.error();
  SL_RETURN_IF_ERROR(CheckIfMatch(*current));
  if (c_.type == CommandType::kSetFeatured) {
    return EmitFromBody(event::kFeaturedSet, {{"contentId", Json(c_.id)}});
  }
  if (*current == nullptr) return NotFound(ViewKind::kFeatured, c_.id);
  Json p = Json::MakeObject();
  p.Set("v", kPayloadVersion);
  p.Set("contentId", c_.id);
  return Emit(event::kFeaturedCleared, std::move(p));
}

Status Decider::Feedback() {
  if (c_.type == CommandType::kSubmitFeedback) {
    SL_RETURN_IF_ERROR(NeedActor());
    auto new_id = NewId("b_");
    if (!new_id) return new_id.error();
    const std::string& id = *new_id;
    decision_.entity = ViewKey{ViewKind::kFeedback, id};
    return EmitFromBody(
        event::kFeedbackSubmitted,
        {{"feedbackId", Json(id)}, {"submitter", Json(ctx_.actor_pseudonym)}});
  }
  decision_.entity = ViewKey{ViewKind::kFeedback, c_.id};
  auto fb = Need(ViewKind::kFeedback, c_.id);
  if (!fb) return fb.error();
  SL_RETURN_IF_ERROR(CheckIfMatch(*fb));
  if (c_.type == CommandType::kResolveFeedback &&
      (*fb)->doc.GetString("status") == "resolved") {
    return Status::Ok();  // already resolved
  }
  Json p = Json::MakeObject();
  p.Set("v", kPayloadVersion);
  p.Set("feedbackId", c_.id);
  return Emit(c_.type == CommandType::kResolveFeedback
                  ? event::kFeedbackResolved
                  : event::kFeedbackDeleted,
              std::move(p));
}

Status Decider::Other() {
  switch (c_.type) {
    case CommandType::kSeeUser: {
      SL_RETURN_IF_ERROR(NeedActor());
      decision_.entity = ViewKey{ViewKind::kUser, ctx_.actor_pseudonym};
      auto user = Maybe(ViewKind::kUser, ctx_.actor_pseudonym);
      if (!user) return user.error();
      const std::string day = siteledger::FormatRfc3339(ctx_.now).substr(0, 10);
      // At most once a day per user.
      if (*user && (*user)->doc.GetString("lastSeen") == day) {
        return Status::Ok();
      }
      Json p = Json::MakeObject();
      p.Set("v", kPayloadVersion);
      p.Set("user", ctx_.actor_pseudonym);
      p.Set("day", day);
      return Emit(event::kUserSeen, std::move(p));
    }
    case CommandType::kEraseUser: {
      if (ctx_.subject_pseudonym.empty()) {
        return Status::InvalidArgument(
            "erasing a user needs the pseudonym of the account erased");
      }
      decision_.entity = ViewKey{ViewKind::kUser, ctx_.subject_pseudonym};
      Json p = Json::MakeObject();
      p.Set("v", kPayloadVersion);
      p.Set("user", ctx_.subject_pseudonym);
      return Emit(event::kUserErased, std::move(p));
    }
    case CommandType::kAttachMedia:
      decision_.entity = ViewKey{ViewKind::kMedia, c_.id};
      return EmitFromBody(event::kMediaAttached, {{"mediaId", Json(c_.id)}});
    case CommandType::kUploadMedia: {
      decision_.entity = ViewKey{ViewKind::kMedia, c_.id};
      auto media = Maybe(ViewKind::kMedia, c_.id);
      if (!media) return media.error();
      if (*media && (*media)->doc.Find("attached")->as_bool()) {
        return Status::Ok();  // the same bytes again: nothing to store
      }
      auto totals = Maybe(ViewKind::kTotals, "media");
      if (!totals) return totals.error();
      const int64_t used = *totals ? (*totals)->doc.GetInt("bytes") : 0;
      const int64_t size = c_.body.GetInt("size");
      if (used + size > ctx_.media_quota_bytes) {
        return Status::QuotaExceeded(
            "this site's media would take " + std::to_string(used + size) +
            " bytes; its quota is " + std::to_string(ctx_.media_quota_bytes));
      }
      return EmitFromBody(event::kMediaUploaded, {{"mediaId", Json(c_.id)}});
    }
    case CommandType::kDeleteMedia:
    case CommandType::kDetachMedia: {
      decision_.entity = ViewKey{ViewKind::kMedia, c_.id};
      auto media = Need(ViewKind::kMedia, c_.id);
      if (!media) return media.error();
      if (!(*media)->doc.Find("attached")->as_bool()) {
        return Status::NotFound("media '" + c_.id + "' does not exist");
      }
      const Json* refs = (*media)->doc.Find("references");
      if (refs != nullptr && !refs->as_array().empty()) {
        return Status::Conflict("media '" + c_.id + "' is still used by " +
                                refs->as_array()[0].as_string());
      }
      Json p = Json::MakeObject();
      p.Set("v", kPayloadVersion);
      p.Set("mediaId", c_.id);
      return Emit(event::kMediaDetached, std::move(p));
    }
    case CommandType::kRestore: {
      static const schema::V kBody = schema::OneOf(
          {schema::Req("toSeq", schema::Int(0, INT64_MAX)),
           schema::Req("asOf", schema::String(schema::Str::kTime, 1, 40))});
      std::string path = "$";
      SL_RETURN_IF_ERROR(kBody->Check(c_.body, path));
      Json p = Json::MakeObject();
      p.Set("v", kPayloadVersion);
      Sequence to;
      if (const Json* as_of = c_.body.Find("asOf")) {
        auto t = siteledger::ParseRfc3339(as_of->as_string());
        if (!t) return t.error();
        auto seq = ctx_.seq_at(*t);
        if (!seq) return seq.error();
        to = *seq;
        p.Set("asOf", *as_of);
      } else {
        to = Sequence(static_cast<uint64_t>(c_.body.Find("toSeq")->as_int()));
      }
      if (to > ctx_.head) {
        return Status::InvalidArgument("$.toSeq: the log is only at seq " +
                                       std::to_string(ctx_.head.value()));
      }
      p.Set("toSeq", to.value());
      return Emit(event::kTenantRestored, std::move(p));
    }
    default:
      return Status::Internal("unknown command");
  }
}

Result<Decision> Decider::Run() {
  Status s;
  switch (c_.type) {
    case CommandType::kCreateSite:
    case CommandType::kUpdateSite:
    case CommandType::kDeleteSite:
    case CommandType::kAddDomain:
    case CommandType::kRemoveDomain:
    case CommandType::kAddSpace:
    case CommandType::kRemoveSpace:
      s = Site();
      break;
    case CommandType::kReplaceNavigation:
    case CommandType::kAddNavigationItem:
    case CommandType::kMoveNavigationItem:
    case CommandType::kRemoveNavigationItem:
      s = Navigation();
      break;
    case CommandType::kCreateTheme:
    case CommandType::kUpdateTheme:
    case CommandType::kDeleteTheme:
      s = Theme();
      break;
    case CommandType::kCreateLayout:
    case CommandType::kSaveLayout:
    case CommandType::kPublishLayout:
    case CommandType::kDeleteLayout:
      s = Layout();
      break;
    case CommandType::kCreateAnnouncement:
    case CommandType::kUpdateAnnouncement:
    case CommandType::kDeleteAnnouncement:
      s = Announcement();
      break;
    case CommandType::kSetPromoted:
    case CommandType::kClearPromoted:
      s = Promoted();
      break;
    case CommandType::kSetFeatured:
    case CommandType::kClearFeatured:
      s = Featured();
      break;
    case CommandType::kSubmitFeedback:
    case CommandType::kResolveFeedback:
    case CommandType::kDeleteFeedback:
      s = Feedback();
      break;
    default:
      s = Other();
  }
  if (!s.ok()) return Err(std::move(s));
  return std::move(decision_);
}

}  // namespace

Result<std::string> NewId(std::string_view prefix) {
  // No fallback: any fixed or guessable id would, on a second failure, give
  // two entities the same id. The command fails instead and writes nothing.
  auto bytes = storage::RandomBytes(8);
  if (!bytes) return Err(bytes.error());
  std::string id(prefix);
  id += storage::ToHex(*bytes);
  return id;
}

Result<Decision> Decide(const Command& command, ViewStore& store,
                        const DecideContext& context) {
  return Decider(command, store, context).Run();
}

std::string CommandResult::Serialize() const {
  Json j = Json::MakeObject();
  j.Set("first", first.value());
  j.Set("last", last.value());
  if (entity) {
    j.Set("kind", std::string(1, static_cast<char>(entity->kind)));
    j.Set("id", entity->id);
  }
  if (view) {
    j.Set("version", view->version.value());
    j.Set("doc", view->doc);
  }
  return j.Dump();
}

Result<CommandResult> CommandResult::Deserialize(std::string_view text) {
  auto j = ParseJson(text, TrustedJsonLimits());
  if (!j) return Err(Status::Corruption("stored response does not parse"));
  CommandResult r;
  r.first = Sequence(static_cast<uint64_t>(j->GetInt("first")));
  r.last = Sequence(static_cast<uint64_t>(j->GetInt("last")));
  if (auto kind = j->GetString("kind"); kind.size() == 1) {
    if (auto k = ViewKindFromChar(kind[0])) {
      r.entity = ViewKey{*k, std::string(j->GetString("id"))};
    }
  }
  if (const Json* doc = j->Find("doc")) {
    r.view =
        ViewDoc{*doc, Sequence(static_cast<uint64_t>(j->GetInt("version")))};
  }
  return r;
}

}  // namespace siteledger::projections
