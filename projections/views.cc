#include "projections/views.h"

#include <algorithm>
#include <functional>
#include <set>

#include "projections/events.h"
#include "storage/base/coding.h"
#include "storage/base/rfc3339.h"
#include "storage/crypto.h"

namespace siteledger::projections {

std::string_view ViewKindName(ViewKind kind) {
  switch (kind) {
    case ViewKind::kSite:
      return "site";
    case ViewKind::kTheme:
      return "theme";
    case ViewKind::kNavigation:
      return "navigation";
    case ViewKind::kLayout:
      return "layout";
    case ViewKind::kAnnouncement:
      return "announcement";
    case ViewKind::kPromoted:
      return "promoted";
    case ViewKind::kFeatured:
      return "featured";
    case ViewKind::kFeedback:
      return "feedback";
    case ViewKind::kUser:
      return "user";
    case ViewKind::kMedia:
      return "media";
    case ViewKind::kTotals:
      return "totals";
  }
  return "unknown";
}

std::optional<ViewKind> ViewKindFromChar(char c) {
  switch (c) {
    case 's':
    case 't':
    case 'n':
    case 'l':
    case 'a':
    case 'p':
    case 'f':
    case 'b':
    case 'u':
    case 'm':
    case 'z':
      return static_cast<ViewKind>(c);
    default:
      return std::nullopt;
  }
}

std::string UseCountId(std::string_view field, std::string_view id) {
  return std::string(field == "themeId" ? "theme:" : "home-layout:") +
         std::string(id);
}

std::string NormalizeKeyword(std::string_view keyword) {
  std::string out;
  bool space = false;
  for (char c : keyword) {
    if (c == ' ' || c == '\t' || c == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

bool AnnouncementActiveAt(const Json& doc, Timestamp t) {
  auto starts = siteledger::ParseRfc3339(doc.GetString("startsAt"));
  if (!starts || *starts > t) return false;
  const Json* ends = doc.Find("endsAt");
  if (ends == nullptr || !ends->is_string()) return true;
  auto end = siteledger::ParseRfc3339(ends->as_string());
  return !end || *end > t;
}

std::vector<std::string> MediaReferences(ViewKind kind, const Json& doc) {
  std::set<std::string> refs;
  auto add = [&](const Json* v) {
    if (v != nullptr && v->is_string()) refs.insert(v->as_string());
  };
  if (kind == ViewKind::kTheme) {
    if (const Json* media = doc.Find("media")) {
      add(media->Find("logo"));
      add(media->Find("favicon"));
      add(media->Find("appIcon"));
      if (const Json* bg = media->Find("backgroundImages");
          bg && bg->is_array()) {
        for (const Json& m : bg->as_array()) add(&m);
      }
    }
  } else if (kind == ViewKind::kLayout) {
    auto sections = [&](const Json* holder) {
      if (holder == nullptr || !holder->is_object()) return;
      const Json* s = holder->Find("sections");
      if (s == nullptr || !s->is_array()) return;
      for (const Json& section : s->as_array()) {
        const Json* cols = section.Find("columns");
        if (cols == nullptr) continue;
        for (const Json& col : cols->as_array()) {
          const Json* modules = col.Find("modules");
          if (modules == nullptr) continue;
          for (const Json& m : modules->as_array()) {
            const Json* props = m.Find("props");
            if (props == nullptr) continue;
            add(props->Find("mediaId"));
            add(props->Find("backgroundMediaId"));
          }
        }
      }
    };
    sections(doc.Find("draft"));
    sections(doc.Find("published"));
  } else if (kind == ViewKind::kFeatured) {
    add(doc.Find("mediaId"));
  }
  return {refs.begin(), refs.end()};
}

namespace {

std::string TimeText(Timestamp t) { return siteledger::FormatRfc3339(t); }

// Adds or removes `item` in the sorted array member `key` of `doc`.
void SetMember(Json& doc, std::string_view key, const std::string& item,
               bool present) {
  Json* arr = doc.Find(key);
  if (arr == nullptr || !arr->is_array()) {
    arr = &doc.Set(std::string(key), Json::MakeArray());
  }
  auto& items = arr->as_array();
  auto it = std::lower_bound(
      items.begin(), items.end(), item,
      [](const Json& j, const std::string& s) { return j.as_string() < s; });
  const bool found = it != items.end() && it->as_string() == item;
  if (present && !found) items.insert(it, Json(item));
  if (!present && found) items.erase(it);
}

class Folder {
 public:
  Folder(ViewStore& store, const EventRef& e) : store_(store), e_(e) {}

  // The event's time as RFC 3339 text, formatted once.
  const std::string& When() {
    if (when_.empty()) when_ = TimeText(e_.time);
    return when_;
  }

  Status Run() {
    const std::string_view t = e_.type;
    if (t == event::kSiteCreated) return SiteCreated();
    if (t == event::kSiteRenamed) return SiteField("name", P("name"));
    if (t == event::kSiteDeleted) return SiteDeleted();
    if (t == event::kSiteDomainAdded) return SiteSet("domains", "domain", true);
    if (t == event::kSiteDomainRemoved) {
      return SiteSet("domains", "domain", false);
    }
    if (t == event::kSiteSpaceAdded)
      return SiteSet("spaceKeys", "spaceKey", true);
    if (t == event::kSiteSpaceRemoved) {
      return SiteSet("spaceKeys", "spaceKey", false);
    }
    if (t == event::kSiteThemeAssigned)
      return SiteField("themeId", P("themeId"));
    if (t == event::kSiteHomeLayoutSet) {
      return SiteField("homeLayoutId", P("layoutId"));
    }
    if (t == event::kThemeCreated || t == event::kThemeUpdated) {
      return ThemeSaved();
    }
    if (t == event::kThemeDeleted) {
      return DeleteEntity({ViewKind::kTheme, Id("themeId")});
    }
    if (t == event::kNavigationReplaced) return NavigationReplaced();
    if (t == event::kNavigationItemAdded) return NavigationItemAdded();
    if (t == event::kNavigationItemMoved) return NavigationItemMoved();
    if (t == event::kNavigationItemRemoved) return NavigationItemRemoved();
    if (t == event::kLayoutSaved) return LayoutSaved();
    if (t == event::kLayoutPublished) return LayoutPublished();
    if (t == event::kLayoutDeleted) {
      return DeleteEntity({ViewKind::kLayout, Id("layoutId")});
    }
    if (t == event::kAnnouncementPublished ||
        t == event::kAnnouncementUpdated) {
      return AnnouncementSaved();
    }
    if (t == event::kAnnouncementDeleted) {
      return DeleteEntity({ViewKind::kAnnouncement, Id("announcementId")});
    }
    if (t == event::kPromotedSet) return PromotedSet();
    if (t == event::kPromotedCleared) {
      return DeleteEntity(
          {ViewKind::kPromoted, NormalizeKeyword(P("keyword").as_string())});
    }
    if (t == event::kFeaturedSet) return FeaturedSet();
    if (t == event::kFeaturedCleared) {
      return DeleteEntity({ViewKind::kFeatured, Id("contentId")});
    }
    if (t == event::kFeedbackSubmitted) return FeedbackSubmitted();
    if (t == event::kFeedbackResolved) return FeedbackResolved();
    if (t == event::kFeedbackDeleted) {
      return DeleteEntity({ViewKind::kFeedback, Id("feedbackId")});
    }
    if (t == event::kUserSeen) return UserSeen();
    if (t == event::kUserErased) return UserErased();
    if (t == event::kMediaAttached || t == event::kMediaUploaded) {
      return MediaAttached(true);
    }
    if (t == event::kMediaDetached) return MediaAttached(false);
    return Status::InvalidArgument("no fold for event type '" + std::string(t) +
                                   "'");
  }

 private:
  const Json& P(std::string_view key) const {
    static const Json kNull;
    const Json* v = e_.payload.Find(key);
    return v != nullptr ? *v : kNull;
  }
  std::string Id(std::string_view key) const {
    return std::string(e_.payload.GetString(key));
  }
  // The payload without its version field: the entity's content.
  Json Content(std::initializer_list<std::string_view> drop) const {
    Json doc = e_.payload;
    doc.Erase("v");
    for (auto key : drop) doc.Erase(key);
    return doc;
  }

  // The document to replace or change; every caller either Saves, Puts
  // back or Deletes the key afterwards (the store may have moved it out).
  Result<std::optional<ViewDoc>> Load(const ViewKey& key) {
    return store_.Take(key);
  }
  // Whether an entity exists, without taking it.
  Result<bool> Exists(const ViewKey& key) {
    auto doc = store_.Get(key);
    if (!doc) return siteledger::Err(doc.error());
    return *doc != nullptr;
  }
  void Save(const ViewKey& key, Json doc) {
    store_.Put(key, ViewDoc{std::move(doc), e_.seq});
  }

  // Keeps the media rows' reference lists in step with an entity's change.
  Status UpdateReferences(ViewKind kind, const std::string& id,
                          const Json* before, const Json* after) {
    std::vector<std::string> old_refs, new_refs;
    if (before != nullptr) old_refs = MediaReferences(kind, *before);
    if (after != nullptr) new_refs = MediaReferences(kind, *after);
    return UpdateReferences(kind, id, old_refs, new_refs);
  }
  Status UpdateReferences(ViewKind kind, const std::string& id,
                          const std::vector<std::string>& old_refs,
                          const std::vector<std::string>& new_refs) {
    if (old_refs == new_refs) return Status::Ok();
    const std::string referrer = std::string(ViewKindName(kind)) + ":" + id;
    std::vector<std::string> removed, added;
    std::set_difference(old_refs.begin(), old_refs.end(), new_refs.begin(),
                        new_refs.end(), std::back_inserter(removed));
    std::set_difference(new_refs.begin(), new_refs.end(), old_refs.begin(),
                        old_refs.end(), std::back_inserter(added));
    for (const auto& [list, present] :
         {std::pair{&removed, false}, std::pair{&added, true}}) {
      for (const std::string& media : *list) {
        const ViewKey key{ViewKind::kMedia, media};
        auto row = Load(key);
        if (!row) return row.error();
        Json doc;
        if (*row) {
          doc = std::move((*row)->doc);
        } else {
          doc = Json::MakeObject();
          doc.Set("id", media);
          doc.Set("attached", false);
          doc.Set("references", Json::MakeArray());
        }
        SetMember(doc, "references", referrer, present);
        SaveMedia(key, std::move(doc));
      }
    }
    return Status::Ok();
  }

  // A media row lives while the media is attached or referenced.
  void SaveMedia(const ViewKey& key, Json doc) {
    const Json* refs = doc.Find("references");
    const bool referenced = refs != nullptr && !refs->as_array().empty();
    if (!doc.Find("attached")->as_bool() && !referenced) {
      store_.Delete(key);
    } else {
      Save(key, std::move(doc));
    }
  }

  Status DeleteEntity(const ViewKey& key) {
    auto row = Load(key);
    if (!row) return row.error();
    if (!*row) return Status::Ok();
    store_.Delete(key);
    if (key.kind == ViewKind::kSite) {
      store_.Delete({ViewKind::kNavigation, key.id});
      for (std::string_view field : {"themeId", "homeLayoutId"}) {
        SL_RETURN_IF_ERROR(
            CountUse(field, (*row)->doc.Find(std::string(field)), -1));
      }
    }
    return UpdateReferences(key.kind, key.id, &(*row)->doc, nullptr);
  }

  // How many sites use a theme (themeId) or a layout as their home
  // (homeLayoutId), kept so that refusing to delete one in use costs a read,
  // not a walk over every site: totals rows "theme:<id>" and
  // "home-layout:<id>" with {"sites":N}, gone at 0. `value` is the site's
  // member (a string id, or null for none).
  Status CountUse(std::string_view field, const Json* value, int64_t delta) {
    if (value == nullptr || !value->is_string()) return Status::Ok();
    const ViewKey key{ViewKind::kTotals, UseCountId(field, value->as_string())};
    auto row = Load(key);
    if (!row) return row.error();
    const int64_t sites = (*row ? (*row)->doc.GetInt("sites") : 0) + delta;
    if (sites <= 0) {
      if (*row) store_.Delete(key);
      return Status::Ok();
    }
    Json doc = Json::MakeObject();
    doc.Set("sites", sites);
    Save(key, std::move(doc));
    return Status::Ok();
  }

  Status SiteCreated() {
    Json doc = Json::MakeObject();
    doc.Set("id", Id("siteId"));
    doc.Set("name", P("name"));
    doc.Set("domains", Json::MakeArray());
    doc.Set("spaceKeys", Json::MakeArray());
    doc.Set("themeId", nullptr);
    doc.Set("homeLayoutId", nullptr);
    doc.Set("createdAt", When());
    doc.Set("updatedAt", When());
    Save({ViewKind::kSite, Id("siteId")}, std::move(doc));
    return Status::Ok();
  }

  Status SiteDeleted() { return DeleteEntity({ViewKind::kSite, Id("siteId")}); }

  Status SiteField(std::string_view field, const Json& value) {
    const ViewKey key{ViewKind::kSite, Id("siteId")};
    auto row = Load(key);
    if (!row) return row.error();
    if (!*row) return Status::Ok();
    Json doc = std::move((*row)->doc);
    if (field == "themeId" || field == "homeLayoutId") {
      const Json* before = doc.Find(std::string(field));
      if (before == nullptr || *before != value) {
        SL_RETURN_IF_ERROR(CountUse(field, before, -1));
        SL_RETURN_IF_ERROR(CountUse(field, &value, +1));
      }
    }
    doc.Set(std::string(field), value);
    doc.Set("updatedAt", When());
    Save(key, std::move(doc));
    return Status::Ok();
  }

  Status SiteSet(std::string_view field, std::string_view payload_key,
                 bool present) {
    const ViewKey key{ViewKind::kSite, Id("siteId")};
    auto row = Load(key);
    if (!row) return row.error();
    if (!*row) return Status::Ok();
    Json doc = std::move((*row)->doc);
    SetMember(doc, field, Id(payload_key), present);
    doc.Set("updatedAt", When());
    Save(key, std::move(doc));
    return Status::Ok();
  }

  Status ThemeSaved() {
    const ViewKey key{ViewKind::kTheme, Id("themeId")};
    auto row = Load(key);
    if (!row) return row.error();
    if (!*row && e_.type == event::kThemeUpdated) return Status::Ok();
    Json doc = Content({"themeId"});
    doc.Set("id", key.id);
    for (const char* part : {"colors", "fonts", "media"}) {
      if (doc.Find(part) == nullptr) doc.Set(part, Json::MakeObject());
    }
    doc.Set("createdAt", *row ? (*row)->doc.GetString("createdAt")
                              : std::string_view(When()));
    doc.Set("updatedAt", When());
    SL_RETURN_IF_ERROR(UpdateReferences(ViewKind::kTheme, key.id,
                                        *row ? &(*row)->doc : nullptr, &doc));
    Save(key, std::move(doc));
    return Status::Ok();
  }

  // Navigation trees: a list of items, each {id, label, link, children?}.
  static Json* FindItem(Json& items, std::string_view id, Json** parent_list) {
    for (Json& item : items.as_array()) {
      if (item.GetString("id") == id) {
        if (parent_list) *parent_list = &items;
        return &item;
      }
      if (Json* children = item.Find("children")) {
        if (Json* found = FindItem(*children, id, parent_list)) return found;
      }
    }
    return nullptr;
  }

  // The site's menu to change; a site without a saved menu has an empty
  // one (then `stored` is false and nothing needs putting back).
  Result<std::optional<ViewDoc>> LoadNavigation(const ViewKey& key,
                                                bool& stored) {
    auto row = Load(key);
    if (!row) return row;
    stored = row->has_value();
    if (!*row) {
      auto site = Exists({ViewKind::kSite, key.id});
      if (!site) return siteledger::Err(site.error());
      if (!*site) return std::optional<ViewDoc>();
      Json doc = Json::MakeObject();
      doc.Set("siteId", key.id);
      doc.Set("items", Json::MakeArray());
      return std::optional<ViewDoc>(ViewDoc{std::move(doc), Sequence(0)});
    }
    return row;
  }

  // Returns an unchanged menu to the store.
  Status PutBack(const ViewKey& key, ViewDoc doc, bool stored) {
    if (stored) store_.Put(key, std::move(doc));
    return Status::Ok();
  }

  Status NavigationReplaced() {
    const ViewKey key{ViewKind::kNavigation, Id("siteId")};
    auto site = Exists({ViewKind::kSite, key.id});
    if (!site) return site.error();
    if (!*site) return Status::Ok();
    Json doc = Json::MakeObject();
    doc.Set("siteId", key.id);
    doc.Set("items", P("items"));
    doc.Set("updatedAt", When());
    Save(key, std::move(doc));
    return Status::Ok();
  }

  static Json* ChildList(Json& items, const Json& parent_id, bool create) {
    if (parent_id.is_null()) return &items;
    Json* parent = FindItem(items, parent_id.as_string(), nullptr);
    if (parent == nullptr) return nullptr;
    Json* children = parent->Find("children");
    if (children == nullptr && create) {
      children = &parent->Set("children", Json::MakeArray());
    }
    return children;
  }

  static void InsertAt(Json& list, int64_t index, Json item) {
    auto& arr = list.as_array();
    const size_t at = std::min<size_t>(static_cast<size_t>(index), arr.size());
    arr.insert(arr.begin() + static_cast<ptrdiff_t>(at), std::move(item));
  }

  Status NavigationItemAdded() {
    const ViewKey key{ViewKind::kNavigation, Id("siteId")};
    bool stored = false;
    auto row = LoadNavigation(key, stored);
    if (!row) return row.error();
    if (!*row) return Status::Ok();
    Json& items = *(*row)->doc.Find("items");
    if (!P("parentId").is_null() &&
        FindItem(items, P("parentId").as_string(), nullptr) == nullptr) {
      return PutBack(key, std::move(**row), stored);
    }
    Json doc = std::move((*row)->doc);
    Json* list = ChildList(*doc.Find("items"), P("parentId"), true);
    InsertAt(*list, P("index").as_int(), P("item"));
    doc.Set("updatedAt", When());
    Save(key, std::move(doc));
    return Status::Ok();
  }

  Status NavigationItemMoved() {
    const ViewKey key{ViewKind::kNavigation, Id("siteId")};
    bool stored = false;
    auto row = LoadNavigation(key, stored);
    if (!row) return row.error();
    if (!*row) return Status::Ok();
    Json& items = *(*row)->doc.Find("items");
    Json* from = nullptr;
    Json* item = FindItem(items, Id("itemId"), &from);
    // A missing item, a missing parent, or a move under the item itself or
    // its own descendant changes nothing.
    const Json& parent_id = P("parentId");
    const bool valid =
        item != nullptr &&
        (parent_id.is_null() ||
         (parent_id.as_string() != Id("itemId") &&
          FindItem(items, parent_id.as_string(), nullptr) != nullptr &&
          !(item->Find("children") &&
            FindItem(*item->Find("children"), parent_id.as_string(),
                     nullptr))));
    if (!valid) return PutBack(key, std::move(**row), stored);
    Json doc = std::move((*row)->doc);
    item = FindItem(*doc.Find("items"), Id("itemId"), &from);
    Json moved = std::move(*item);
    auto& arr = from->as_array();
    arr.erase(arr.begin() + (item - arr.data()));
    Json* list = ChildList(*doc.Find("items"), parent_id, true);
    InsertAt(*list, P("index").as_int(), std::move(moved));
    doc.Set("updatedAt", When());
    Save(key, std::move(doc));
    return Status::Ok();
  }

  Status NavigationItemRemoved() {
    const ViewKey key{ViewKind::kNavigation, Id("siteId")};
    bool stored = false;
    auto row = LoadNavigation(key, stored);
    if (!row) return row.error();
    if (!*row) return Status::Ok();
    Json* from = nullptr;
    if (FindItem(*(*row)->doc.Find("items"), Id("itemId"), &from) == nullptr) {
      return PutBack(key, std::move(**row), stored);
    }
    Json doc = std::move((*row)->doc);
    Json* item = FindItem(*doc.Find("items"), Id("itemId"), &from);
    auto& arr = from->as_array();
    arr.erase(arr.begin() + (item - arr.data()));
    doc.Set("updatedAt", When());
    Save(key, std::move(doc));
    return Status::Ok();
  }

  Status LayoutSaved() {
    const ViewKey key{ViewKind::kLayout, Id("layoutId")};
    auto row = Load(key);
    if (!row) return row.error();
    Json doc;
    std::vector<std::string> old_refs;
    if (*row) {
      old_refs = MediaReferences(ViewKind::kLayout, (*row)->doc);
      doc = std::move((*row)->doc);
    } else {
      doc = Json::MakeObject();
      doc.Set("id", key.id);
      doc.Set("published", nullptr);
      doc.Set("publishedAt", nullptr);
      doc.Set("createdAt", When());
    }
    doc.Set("name", P("name"));
    if (const Json* site = e_.payload.Find("siteId")) {
      doc.Set("siteId", *site);
    } else {
      doc.Erase("siteId");
    }
    Json draft = Json::MakeObject();
    draft.Set("sections", P("sections"));
    doc.Set("draft", std::move(draft));
    doc.Set("updatedAt", When());
    SL_RETURN_IF_ERROR(
        UpdateReferences(ViewKind::kLayout, key.id, old_refs,
                         MediaReferences(ViewKind::kLayout, doc)));
    Save(key, std::move(doc));
    return Status::Ok();
  }

  Status LayoutPublished() {
    const ViewKey key{ViewKind::kLayout, Id("layoutId")};
    auto row = Load(key);
    if (!row) return row.error();
    if (!*row) return Status::Ok();
    const std::vector<std::string> old_refs =
        MediaReferences(ViewKind::kLayout, (*row)->doc);
    Json doc = std::move((*row)->doc);
    doc.Set("published", *doc.Find("draft"));
    doc.Set("publishedAt", When());
    doc.Set("updatedAt", When());
    SL_RETURN_IF_ERROR(
        UpdateReferences(ViewKind::kLayout, key.id, old_refs,
                         MediaReferences(ViewKind::kLayout, doc)));
    Save(key, std::move(doc));
    return Status::Ok();
  }

  Status AnnouncementSaved() {
    const ViewKey key{ViewKind::kAnnouncement, Id("announcementId")};
    auto row = Load(key);
    if (!row) return row.error();
    if (!*row && e_.type == event::kAnnouncementUpdated) return Status::Ok();
    Json doc = Content({"announcementId"});
    doc.Set("id", key.id);
    doc.Set("createdAt", *row ? (*row)->doc.GetString("createdAt")
                              : std::string_view(When()));
    doc.Set("updatedAt", When());
    Save(key, std::move(doc));
    return Status::Ok();
  }

  Status PromotedSet() {
    const ViewKey key{ViewKind::kPromoted,
                      NormalizeKeyword(P("keyword").as_string())};
    Json doc = Json::MakeObject();
    doc.Set("keyword", key.id);
    doc.Set("results", P("results"));
    doc.Set("updatedAt", When());
    Save(key, std::move(doc));
    return Status::Ok();
  }

  Status FeaturedSet() {
    const ViewKey key{ViewKind::kFeatured, Id("contentId")};
    auto row = Load(key);
    if (!row) return row.error();
    Json doc = Content({});
    doc.Set("updatedAt", When());
    SL_RETURN_IF_ERROR(UpdateReferences(ViewKind::kFeatured, key.id,
                                        *row ? &(*row)->doc : nullptr, &doc));
    Save(key, std::move(doc));
    return Status::Ok();
  }

  Status FeedbackSubmitted() {
    const ViewKey key{ViewKind::kFeedback, Id("feedbackId")};
    Json doc = Content({"feedbackId"});
    doc.Set("id", key.id);
    doc.Set("status", "open");
    doc.Set("submittedAt", When());
    doc.Set("resolvedAt", nullptr);
    Save(key, std::move(doc));
    return Status::Ok();
  }

  Status FeedbackResolved() {
    const ViewKey key{ViewKind::kFeedback, Id("feedbackId")};
    auto row = Load(key);
    if (!row) return row.error();
    if (!*row) return Status::Ok();
    Json doc = std::move((*row)->doc);
    doc.Set("status", "resolved");
    doc.Set("resolvedAt", When());
    Save(key, std::move(doc));
    return Status::Ok();
  }

  // The user view of the event's `user`: `change` edits it (`created`:
  // whether it is new, holding only its id), then it is saved.
  Status UpdateUser(const std::function<void(Json&, bool created)>& change) {
    const ViewKey key{ViewKind::kUser, Id("user")};
    auto row = Load(key);
    if (!row) return row.error();
    Json doc;
    const bool created = !*row;
    if (created) {
      doc = Json::MakeObject();
      doc.Set("id", key.id);
    } else {
      doc = std::move((*row)->doc);
    }
    change(doc, created);
    Save(key, std::move(doc));
    return Status::Ok();
  }

  Status UserSeen() {
    return UpdateUser([&](Json& doc, bool created) {
      if (created) doc.Set("firstSeen", P("day"));
      doc.Set("lastSeen", P("day"));
    });
  }

  // The user stays, marked erased: older events and views keep the
  // pseudonym, which no longer leads to anyone.
  Status UserErased() {
    return UpdateUser([&](Json& doc, bool) {
      doc.Set("erased", true);
      doc.Set("erasedAt", When());
    });
  }

  Status MediaAttached(bool attached) {
    const ViewKey key{ViewKind::kMedia, Id("mediaId")};
    auto row = Load(key);
    if (!row) return row.error();
    Json doc;
    if (*row) {
      doc = std::move((*row)->doc);
    } else {
      if (!attached) return Status::Ok();
      doc = Json::MakeObject();
      doc.Set("id", key.id);
      doc.Set("references", Json::MakeArray());
    }
    const Json* was = doc.Find("attached");
    const bool was_attached =
        was != nullptr && was->is_bool() && was->as_bool();
    const int64_t old_size = doc.GetInt("size");
    doc.Set("attached", attached);
    if (attached) {
      for (const char* field : {"kind", "type", "size", "width", "height"}) {
        if (const Json* v = e_.payload.Find(field)) doc.Set(field, *v);
      }
    }
    // The tenant's media totals: what its quota counts.
    if (was_attached != attached ||
        (attached && doc.GetInt("size") != old_size)) {
      const ViewKey totals{ViewKind::kTotals, "media"};
      auto total = Load(totals);
      if (!total) return total.error();
      Json t = *total ? std::move((*total)->doc) : Json::MakeObject();
      int64_t bytes = t.GetInt("bytes") - (was_attached ? old_size : 0) +
                      (attached ? doc.GetInt("size") : 0);
      int64_t count =
          t.GetInt("count") + (attached ? 1 : 0) - (was_attached ? 1 : 0);
      t.Set("bytes", bytes);
      t.Set("count", count);
      Save(totals, std::move(t));
    }
    SaveMedia(key, std::move(doc));
    return Status::Ok();
  }

  ViewStore& store_;
  const EventRef& e_;
  std::string when_;
};

}  // namespace

Status Apply(ViewStore& store, const EventRef& event) {
  return Folder(store, event).Run();
}

Result<const ViewDoc*> TenantState::Get(const ViewKey& key) {
  auto it = rows_.find(key);
  if (it == rows_.end()) return nullptr;
  Row& row = it->second;
  if (!row.doc) {
    auto doc = ParseJson(row.text, TrustedJsonLimits());
    if (!doc) {
      return siteledger::Err(Status::Corruption(
          "view " + key.id + " does not parse: " + doc.error().message()));
    }
    row.doc = ViewDoc{std::move(*doc), row.version};
  }
  return &*row.doc;
}

void TenantState::Put(const ViewKey& key, ViewDoc doc) {
  Row& row = rows_[key];
  row.version = doc.version;
  row.text.clear();
  row.doc = std::move(doc);
}

void TenantState::PutText(const ViewKey& key, Sequence version,
                          std::string text) {
  Row& row = rows_[key];
  row.version = version;
  row.text = std::move(text);
  row.doc.reset();
}

void TenantState::Delete(const ViewKey& key) { rows_.erase(key); }

Result<std::optional<ViewDoc>> ViewStore::Take(const ViewKey& key) {
  auto doc = Get(key);
  if (!doc) return siteledger::Err(doc.error());
  if (*doc == nullptr) return std::optional<ViewDoc>();
  return std::optional<ViewDoc>(**doc);
}

Result<std::optional<ViewDoc>> TenantState::Take(const ViewKey& key) {
  auto doc = Get(key);  // parses if needed
  if (!doc) return siteledger::Err(doc.error());
  if (*doc == nullptr) return std::optional<ViewDoc>();
  Row& row = rows_.find(key)->second;
  std::optional<ViewDoc> out = std::move(row.doc);
  row.doc.reset();
  row.text.clear();
  return out;
}

Result<std::vector<ViewKey>> TenantState::Keys(ViewKind kind) {
  std::vector<ViewKey> out;
  for (auto it = rows_.lower_bound(ViewKey{kind, ""});
       it != rows_.end() && it->first.kind == kind; ++it) {
    out.push_back(it->first);
  }
  return out;
}

const std::string& TenantState::TextOf(const Row& row) {
  if (row.text.empty() && row.doc) row.text = row.doc->doc.Dump();
  return row.text;
}

std::map<ViewKey, ViewDoc> TenantState::rows() const {
  std::map<ViewKey, ViewDoc> out;
  for (const auto& [key, row] : rows_) {
    if (row.doc) {
      out.emplace(key, *row.doc);
    } else {
      auto doc = ParseJson(row.text, TrustedJsonLimits());
      out.emplace(key, ViewDoc{doc ? std::move(*doc) : Json(), row.version});
    }
  }
  return out;
}

const std::string* TenantState::Text(const ViewKey& key,
                                     Sequence* version) const {
  auto it = rows_.find(key);
  if (it == rows_.end()) return nullptr;
  if (version != nullptr) *version = it->second.version;
  return &TextOf(it->second);
}

void TenantState::ForEachText(
    const std::function<void(const ViewKey&, Sequence, const std::string&)>&
        visit) const {
  for (const auto& [key, row] : rows_) visit(key, row.version, TextOf(row));
}

bool TenantState::operator==(const TenantState& other) const {
  if (seq_ != other.seq_ || rows_.size() != other.rows_.size()) return false;
  auto a = rows_.begin();
  auto b = other.rows_.begin();
  for (; a != rows_.end(); ++a, ++b) {
    if (a->first != b->first || a->second.version != b->second.version ||
        TextOf(a->second) != TextOf(b->second)) {
      return false;
    }
  }
  return true;
}

Hash TenantState::Digest() const {
  storage::Sha256Hasher hasher;
  std::string buf;
  for (const auto& [key, row] : rows_) {
    const std::string& doc = TextOf(row);
    buf.clear();
    buf.push_back(static_cast<char>(key.kind));
    buf += std::to_string(key.id.size());
    buf.push_back(':');
    buf += key.id;
    buf += std::to_string(doc.size());
    buf.push_back(':');
    hasher.Update(buf);
    hasher.Update(doc);
  }
  return hasher.Finish();
}

void RestoreTo(ViewStore& store, const TenantState& current,
               const TenantState& target, Sequence seq) {
  current.ForEachText([&](const ViewKey& key, Sequence, const std::string&) {
    if (!target.Contains(key)) store.Delete(key);
  });
  target.ForEachText(
      [&](const ViewKey& key, Sequence, const std::string& text) {
        const std::string* now = current.Text(key, nullptr);
        if (now != nullptr && *now == text) return;
        auto doc = ParseJson(text, TrustedJsonLimits());
        store.Put(key, ViewDoc{doc ? std::move(*doc) : Json(), seq});
      });
}

}  // namespace siteledger::projections
