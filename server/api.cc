// The tenant API (/api/v1): resources over the projections' views.

#include <algorithm>
#include <charconv>

#include "projections/commands.h"
#include "projections/schema.h"
#include "server/internal/app_impl.h"
#include "server/log.h"

namespace siteledger::server {
namespace {

using projections::Command;
using projections::CommandResult;
using projections::CommandType;
using projections::TenantState;
using projections::ViewDoc;
using projections::ViewKey;
using projections::ViewKind;

constexpr size_t kDefaultLimit = 50;
constexpr size_t kMaxLimit = 200;
constexpr size_t kDefaultEventLimit = 100;
constexpr size_t kMaxEventLimit = 1000;

// A view as the API answers it: the document plus its version.
Json ViewBody(const ViewDoc& view) {
  Json body = view.doc;
  body.Set("version", view.version.value());
  return body;
}

HttpResponse ViewResponse(int status, const ViewDoc& view) {
  HttpResponse r = JsonResponse(status, ViewBody(view));
  r.Set("ETag", "\"" + std::to_string(view.version.value()) + "\"");
  return r;
}

// A stored view as the API answers it, without parsing: the document's
// canonical JSON with its version added as the last member.
HttpResponse StoredViewResponse(const projections::Projector::StoredView& v) {
  HttpResponse r;
  r.status = 200;
  r.Set("Content-Type", "application/json");
  r.Set("Cache-Control", "no-store");
  r.Set("ETag", "\"" + std::to_string(v.version.value()) + "\"");
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

Result<size_t> LimitOf(const Call& call, size_t fallback, size_t max) {
  auto text = call.Query("limit");
  if (!text) return fallback;
  size_t n = 0;
  auto [ptr, ec] =
      std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || ptr != text->data() + text->size() || n == 0 ||
      n > max) {
    return siteledger::Err(Status::InvalidArgument(
        "limit: expected a whole number from 1 to " + std::to_string(max)));
  }
  return n;
}

Result<Sequence> SeqOf(std::string_view text, std::string_view what) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return siteledger::Err(Status::InvalidArgument(
        std::string(what) + ": expected a sequence number"));
  }
  return Sequence(n);
}

// ?as_of= : an RFC 3339 time, or "seq:N".
struct AsOf {
  bool set = false;
  std::optional<Sequence> seq;
  std::optional<Timestamp> time;
};

Result<AsOf> AsOfOf(const Call& call) {
  AsOf out;
  auto text = call.Query("as_of");
  if (!text) return out;
  out.set = true;
  if (text->starts_with("seq:")) {
    auto seq = SeqOf(std::string_view(*text).substr(4), "as_of");
    if (!seq) return siteledger::Err(seq.error());
    out.seq = *seq;
  } else {
    auto t = siteledger::ParseRfc3339(*text);
    if (!t) {
      return siteledger::Err(Status::InvalidArgument(
          "as_of: expected an RFC 3339 time or seq:N (" + t.error().message() +
          ")"));
    }
    out.time = *t;
  }
  return out;
}

// Opaque list cursors: base64url of the position.
std::string EncodeCursor(std::string_view position) {
  return Base64UrlEncode(position);
}

Result<std::string> DecodeCursor(const Call& call) {
  auto text = call.Query("cursor");
  if (!text || text->empty()) return std::string();
  auto decoded = Base64UrlDecode(*text);
  if (!decoded) {
    return siteledger::Err(
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

// The If-Match header: a strong ETag with the entity's version.
Result<std::optional<Sequence>> IfMatchOf(const Call& call) {
  std::string_view h = call.request.Header("if-match");
  if (h.empty()) return std::optional<Sequence>();
  // "*": any current version, that is, the entity must exist.
  if (h == "*") return std::optional<Sequence>(projections::kAnyVersion);
  if (h.size() < 3 || h.front() != '"' || h.back() != '"') {
    return siteledger::Err(Status::InvalidArgument(
        "If-Match: expected the entity's ETag, such as \"42\""));
  }
  auto seq = SeqOf(h.substr(1, h.size() - 2), "If-Match");
  if (!seq) return siteledger::Err(seq.error());
  return std::optional<Sequence>(*seq);
}

Result<std::string> IdempotencyKeyOf(const Call& call) {
  std::string_view h = call.request.Header("idempotency-key");
  if (h.empty()) return std::string();
  if (h.size() > storage::kMaxIdempotencyKeyBytes) {
    return siteledger::Err(Status::InvalidArgument(
        "Idempotency-Key: at most 128 printable ASCII characters"));
  }
  for (unsigned char c : h) {
    if (c < 0x21 || c > 0x7e) {
      return siteledger::Err(Status::InvalidArgument(
          "Idempotency-Key: at most 128 printable ASCII characters"));
    }
  }
  return std::string(h);
}

// The JSON body of a write. Unsupported (415) unless the body is JSON.
Result<Json> BodyOf(const Call& call, bool required) {
  const std::string& body = call.request.body;
  if (body.empty()) {
    if (required) {
      return siteledger::Err(
          Status::InvalidArgument("this request needs a JSON body"));
    }
    return Json();
  }
  std::string type(call.request.Header("content-type"));
  type = type.substr(0, type.find(';'));
  for (char& c : type) c = static_cast<char>(std::tolower(c));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (type != "application/json") {
    return siteledger::Err(Status::Unsupported(
        "the body must be JSON (Content-Type: application/json)"));
  }
  auto json = projections::ParseJson(body);
  if (!json) return siteledger::Err(json.error());
  if (!json->is_object()) {
    return siteledger::Err(
        Status::InvalidArgument("$: the body must be a JSON object"));
  }
  return json;
}

struct ListSpec {
  ViewKind kind;
  // Optional filter on documents (announcements active at a time).
  std::function<bool(const Json&)> keep;
  // How an item is answered; ViewBody when empty.
  std::function<Json(const ViewDoc&)> render;
};

Json RenderItem(const ListSpec& spec, const ViewDoc& view) {
  return spec.render ? spec.render(view) : ViewBody(view);
}

}  // namespace

namespace {

// One event as the API shows it: seq, time, type, actor (a pseudonym),
// payload.
Json EventItem(const storage::Event& e) {
  Json item = Json::MakeObject();
  item.Set("seq", e.seq.value());
  item.Set("time", siteledger::FormatRfc3339(e.time));
  item.Set("type", e.type);
  item.Set("actor", e.actor.empty() ? Json() : Json(e.actor));
  auto payload =
      projections::ParseJson(e.payload, projections::TrustedJsonLimits());
  item.Set("payload", payload ? std::move(*payload) : Json());
  return item;
}

}  // namespace

std::string App::Impl::FormatEvent(const storage::Event& e) const {
  const Json item = EventItem(e);
  std::string out = "id: " + std::to_string(e.seq.value()) +
                    "\nevent: " + e.type + "\ndata: " + item.Dump() + "\n\n";
  return out;
}

void App::Impl::RecordUserSeen(const Call& call) {
  if (call.actor.empty()) return;
  const std::string day =
      siteledger::FormatRfc3339(store_.clock().Now()).substr(0, 10);
  {
    std::lock_guard lock(seen_mu_);
    auto& last = seen_[{call.tenant.value(), call.actor}];
    if (last == day) return;
    last = day;
    if (seen_.size() > 100000) seen_.clear();  // a day's worth, at most
  }
  Command c;
  c.type = CommandType::kSeeUser;
  c.actor = call.actor;
  // Fire and forget: the request does not wait for it, and a failure only
  // loses one line of the users view.
  projector_.Execute(call.tenant, std::move(c),
                     [this, tenant = call.tenant](Result<CommandResult> r) {
                       if (!r) {
                         Log("warn", "recording a user failed",
                             {{"error", r.error().ToString()}});
                       } else if (r->last.value() > 0) {
                         feed_.Notify(tenant);
                       }
                     });
}

void App::Impl::HandleApi(const CallPtr& call) {
  const int handler = call->route->handler;
  const TenantId tenant = call->tenant;

  // ----- reads ---------------------------------------------------------
  auto as_of = AsOfOf(*call);
  if (!as_of) return Fail(call, as_of.error());
  // The state at as_of, loaded once per request.
  std::optional<TenantState> state;
  auto load_state = [&]() -> Status {
    if (!as_of->set || state) return Status::Ok();
    if (as_of->seq) {
      auto head = store_.log().GetHead(tenant);
      if (!head) return head.error();
      if (*as_of->seq > head->seq) {
        return Status::InvalidArgument("as_of: the log is only at seq " +
                                       std::to_string(head->seq.value()));
      }
    }
    auto s = as_of->seq ? projector_.StateAt(tenant, *as_of->seq)
                        : projector_.StateAtTime(tenant, *as_of->time);
    if (!s) return s.error();
    state = std::move(*s);
    return Status::Ok();
  };
  auto get_view = [&](const ViewKey& key) -> Result<std::optional<ViewDoc>> {
    if (as_of->set) {
      SL_RETURN_ERR_IF_ERROR(load_state());
      auto doc = state->Get(key);
      if (!doc) return siteledger::Err(doc.error());
      if (*doc == nullptr) return std::optional<ViewDoc>();
      return std::optional<ViewDoc>(**doc);
    }
    return projector_.Get(tenant, key);
  };
  auto serve_view = [&](const ViewKey& key) {
    if (!as_of->set) {
      auto stored = projector_.GetStored(tenant, key);
      if (!stored) return Fail(call, stored.error());
      if (*stored == nullptr) {
        return Finish(call,
                      Problem(404, std::string(ViewKindName(key.kind)) + " '" +
                                       key.id + "' does not exist"));
      }
      return Finish(call, StoredViewResponse(**stored));
    }
    auto view = get_view(key);
    if (!view) return Fail(call, view.error());
    if (!*view) {
      return Finish(call, Problem(404, std::string(ViewKindName(key.kind)) +
                                           " '" + key.id + "' does not exist"));
    }
    Finish(call, ViewResponse(200, **view));
  };
  auto serve_list = [&](const ListSpec& spec) {
    auto limit = LimitOf(*call, kDefaultLimit, kMaxLimit);
    if (!limit) return Fail(call, limit.error());
    auto cursor = DecodeCursor(*call);
    if (!cursor) return Fail(call, cursor.error());
    Json items = Json::MakeArray();
    std::string next;
    if (as_of->set) {
      if (Status s = load_state(); !s.ok()) return Fail(call, s);
      auto keys = state->Keys(spec.kind);
      if (!keys) return Fail(call, keys.error());
      bool more = false;
      for (const ViewKey& key : *keys) {
        if (!cursor->empty() && key.id <= *cursor) continue;
        auto doc = state->Get(key);
        if (!doc) return Fail(call, doc.error());
        if (spec.keep && !spec.keep((*doc)->doc)) continue;
        if (items.as_array().size() == *limit) {
          more = true;  // a further item exists: the page is not the last
          break;
        }
        items.Push(RenderItem(spec, **doc));
        next = key.id;
      }
      if (!more) next.clear();
      return Finish(call, JsonResponse(200, ListBody(std::move(items), next)));
    }
    // Read pages until `limit` items pass the filter; the cursor continues
    // right after the last item answered, whichever page it came from.
    std::string position = *cursor;
    bool more = false;
    for (;;) {
      auto page = projector_.List(tenant, spec.kind, position, *limit);
      if (!page) return Fail(call, page.error());
      for (size_t i = 0; i < page->items.size(); ++i) {
        const ViewDoc& view = page->items[i].second;
        if (spec.keep && !spec.keep(view.doc)) continue;
        if (items.as_array().size() == *limit) {
          more = true;
          break;
        }
        items.Push(RenderItem(spec, view));
        next = page->cursors[i];
      }
      if (more) break;
      position = page->next_cursor;
      if (position.empty()) break;
    }
    if (!more) next.clear();
    Finish(call, JsonResponse(200, ListBody(std::move(items), next)));
  };

  switch (handler) {
    case kListSites:
      return serve_list({ViewKind::kSite, nullptr, nullptr});
    case kGetSite:
      return serve_view({ViewKind::kSite, call->Param("id")});
    case kGetNavigation: {
      const ViewKey key{ViewKind::kNavigation, call->Param("id")};
      auto nav = get_view(key);
      if (!nav) return Fail(call, nav.error());
      if (*nav) return Finish(call, ViewResponse(200, **nav));
      auto site = get_view({ViewKind::kSite, key.id});
      if (!site) return Fail(call, site.error());
      if (!*site) {
        return Finish(call,
                      Problem(404, "site '" + key.id + "' does not exist"));
      }
      // A site whose menu was never saved has an empty one, version 0.
      Json doc = Json::MakeObject();
      doc.Set("siteId", key.id);
      doc.Set("items", Json::MakeArray());
      return Finish(call,
                    ViewResponse(200, ViewDoc{std::move(doc), Sequence(0)}));
    }
    case kListThemes:
      return serve_list({ViewKind::kTheme, nullptr, nullptr});
    case kGetTheme:
      return serve_view({ViewKind::kTheme, call->Param("id")});
    case kListLayouts:
      return serve_list({ViewKind::kLayout, nullptr, nullptr});
    case kGetLayout:
      return serve_view({ViewKind::kLayout, call->Param("id")});
    case kListAnnouncements: {
      std::function<bool(const Json&)> keep;
      if (auto at = call->Query("active_at")) {
        auto t = siteledger::ParseRfc3339(*at);
        if (!t) {
          return Fail(call, Status::InvalidArgument("active_at: " +
                                                    t.error().message()));
        }
        keep = [t = *t](const Json& doc) {
          return projections::AnnouncementActiveAt(doc, t);
        };
      }
      return serve_list({ViewKind::kAnnouncement, keep, nullptr});
    }
    case kGetAnnouncement:
      return serve_view({ViewKind::kAnnouncement, call->Param("id")});
    case kListPromoted:
      return serve_list({ViewKind::kPromoted, nullptr, nullptr});
    case kGetPromoted:
      return serve_view({ViewKind::kPromoted, projections::NormalizeKeyword(
                                                  call->Param("keyword"))});
    case kGetFeatured:
      return serve_view({ViewKind::kFeatured, call->Param("contentId")});
    case kListFeedback:
      return serve_list({ViewKind::kFeedback, nullptr, nullptr});
    case kGetFeedback:
      return serve_view({ViewKind::kFeedback, call->Param("id")});
    case kListUsers:
      return serve_list({ViewKind::kUser, nullptr, nullptr});
    case kListMedia:
      // Media still referenced by history but detached is not listed.
      return serve_list(
          {ViewKind::kMedia,
           [](const Json& doc) {
             const Json* attached = doc.Find("attached");
             return attached != nullptr && attached->as_bool();
           },
           [](const ViewDoc& view) { return MediaJson(view.doc); }});
    case kGetUser:
      return serve_view({ViewKind::kUser, call->Param("id")});
    case kListEvents: {
      auto limit = LimitOf(*call, kDefaultEventLimit, kMaxEventLimit);
      if (!limit) return Fail(call, limit.error());
      Sequence after(0);
      if (auto text = call->Query("after")) {
        auto seq = SeqOf(*text, "after");
        if (!seq) return Fail(call, seq.error());
        after = *seq;
      } else {
        auto cursor = DecodeCursor(*call);
        if (!cursor) return Fail(call, cursor.error());
        if (!cursor->empty()) {
          auto seq = SeqOf(*cursor, "cursor");
          if (!seq) return Fail(call, seq.error());
          after = *seq;
        }
      }
      auto events = store_.log().Read(tenant, after.next(), *limit);
      if (!events) return Fail(call, events.error());
      Json items = Json::MakeArray();
      for (const storage::Event& e : *events) items.Push(EventItem(e));
      const std::string next = events->size() == *limit && !events->empty()
                                   ? std::to_string(events->back().seq.value())
                                   : std::string();
      return Finish(call, JsonResponse(200, ListBody(std::move(items), next)));
    }
    case kStreamEvents: {
      Sequence after(0);
      std::string_view last = call->request.Header("last-event-id");
      std::optional<std::string> from_query = call->Query("last_event_id");
      if (!last.empty() || from_query) {
        auto seq = SeqOf(last.empty() ? std::string_view(*from_query) : last,
                         "Last-Event-ID");
        if (!seq) return Fail(call, seq.error());
        after = *seq;
      } else {
        auto head = store_.log().GetHead(tenant);
        if (!head) return Fail(call, head.error());
        after = head->seq;  // only what happens from now on
      }
      HttpResponse head;
      head.status = 200;
      head.Set("Content-Type", "text/event-stream");
      head.Set("Cache-Control", "no-store");
      head.Set("X-Accel-Buffering", "no");
      // The stream is the response: count it now.
      call->finished = true;
      metrics_->Observe(call->route_index, call->request.method, 200, 0);
      storage::AccessEntry entry;
      entry.time = store_.clock().Now();
      entry.tenant = tenant;
      entry.client_ip = call->client_ip;
      entry.method = call->request.method;
      entry.route = call->route_label;
      entry.status = 200;
      store_.access_log().Record(std::move(entry));
      // When the client goes (or the server drains), wake the feed so it
      // lets go of the stream at once.
      auto writer = call->respond.Stream(
          std::move(head), [this, tenant] { feed_.Notify(tenant); });
      if (writer) {
        writer->Write("retry: 2000\n\n");
        feed_.Subscribe(tenant, after, writer, call->token_expires);
      }
      return;
    }
    default:
      break;
  }

  // ----- writes --------------------------------------------------------
  if (as_of->set) {
    return Fail(call, Status::InvalidArgument(
                          "as_of is for reads; a write changes the present"));
  }
  Command c;
  c.actor = call->actor;
  auto if_match = IfMatchOf(*call);
  if (!if_match) return Fail(call, if_match.error());
  c.if_match = *if_match;
  auto key = IdempotencyKeyOf(*call);
  if (!key) return Fail(call, key.error());
  c.idempotency_key = *key;
  c.fingerprint =
      call->request.method + " " + call->path + "\n" + call->request.body;

  int success = 200;     // 201 for creations, 204 for deletions
  std::string location;  // for 201: where the new entity lives
  bool needs_body = false;
  switch (handler) {
    case kCreateSite:
      c.type = CommandType::kCreateSite;
      success = 201;
      location = "/api/v1/sites/";
      needs_body = true;
      break;
    case kUpdateSite:
      c.type = CommandType::kUpdateSite;
      c.id = call->Param("id");
      needs_body = true;
      break;
    case kDeleteSite:
      c.type = CommandType::kDeleteSite;
      c.id = call->Param("id");
      success = 204;
      break;
    case kAddDomain:
    case kRemoveDomain:
      c.type = handler == kAddDomain ? CommandType::kAddDomain
                                     : CommandType::kRemoveDomain;
      c.id = call->Param("id");
      c.item = call->Param("domain");
      break;
    case kAddSpace:
    case kRemoveSpace:
      c.type = handler == kAddSpace ? CommandType::kAddSpace
                                    : CommandType::kRemoveSpace;
      c.id = call->Param("id");
      c.item = call->Param("spaceKey");
      break;
    case kReplaceNavigation:
      c.type = CommandType::kReplaceNavigation;
      c.id = call->Param("id");
      needs_body = true;
      break;
    case kAddNavigationItem:
      c.type = CommandType::kAddNavigationItem;
      c.id = call->Param("id");
      success = 201;
      needs_body = true;
      break;
    case kMoveNavigationItem:
      c.type = CommandType::kMoveNavigationItem;
      c.id = call->Param("id");
      c.item = call->Param("itemId");
      needs_body = true;
      break;
    case kRemoveNavigationItem:
      c.type = CommandType::kRemoveNavigationItem;
      c.id = call->Param("id");
      c.item = call->Param("itemId");
      break;
    case kCreateTheme:
      c.type = CommandType::kCreateTheme;
      success = 201;
      location = "/api/v1/themes/";
      needs_body = true;
      break;
    case kUpdateTheme:
      c.type = CommandType::kUpdateTheme;
      c.id = call->Param("id");
      needs_body = true;
      break;
    case kDeleteTheme:
      c.type = CommandType::kDeleteTheme;
      c.id = call->Param("id");
      success = 204;
      break;
    case kCreateLayout:
      c.type = CommandType::kCreateLayout;
      success = 201;
      location = "/api/v1/layouts/";
      needs_body = true;
      break;
    case kSaveLayout:
      c.type = CommandType::kSaveLayout;
      c.id = call->Param("id");
      needs_body = true;
      break;
    case kDeleteLayout:
      c.type = CommandType::kDeleteLayout;
      c.id = call->Param("id");
      success = 204;
      break;
    case kPublishLayout:
      c.type = CommandType::kPublishLayout;
      c.id = call->Param("id");
      break;
    case kCreateAnnouncement:
      c.type = CommandType::kCreateAnnouncement;
      success = 201;
      location = "/api/v1/announcements/";
      needs_body = true;
      break;
    case kUpdateAnnouncement:
      c.type = CommandType::kUpdateAnnouncement;
      c.id = call->Param("id");
      needs_body = true;
      break;
    case kDeleteAnnouncement:
      c.type = CommandType::kDeleteAnnouncement;
      c.id = call->Param("id");
      success = 204;
      break;
    case kSetPromoted:
      c.type = CommandType::kSetPromoted;
      c.id = call->Param("keyword");
      needs_body = true;
      break;
    case kClearPromoted:
      c.type = CommandType::kClearPromoted;
      c.id = call->Param("keyword");
      success = 204;
      break;
    case kSetFeatured:
      c.type = CommandType::kSetFeatured;
      c.id = call->Param("contentId");
      needs_body = true;
      break;
    case kClearFeatured:
      c.type = CommandType::kClearFeatured;
      c.id = call->Param("contentId");
      success = 204;
      break;
    case kSubmitFeedback:
      c.type = CommandType::kSubmitFeedback;
      success = 201;
      location = "/api/v1/feedback/";
      needs_body = true;
      break;
    case kResolveFeedback:
      c.type = CommandType::kResolveFeedback;
      c.id = call->Param("id");
      break;
    case kDeleteFeedback:
      c.type = CommandType::kDeleteFeedback;
      c.id = call->Param("id");
      success = 204;
      break;
    default:
      return Finish(call, Problem(404, "no route for this path"));
  }
  if ((handler == kSetFeatured || handler == kClearFeatured) &&
      (c.id.empty() || c.id.size() > 20 ||
       !std::all_of(c.id.begin(), c.id.end(),
                    [](char ch) { return ch >= '0' && ch <= '9'; }))) {
    return Fail(call, Status::InvalidArgument(
                          "contentId: a Confluence content id is made of "
                          "digits"));
  }
  auto body = BodyOf(*call, needs_body);
  if (!body) return Fail(call, body.error());
  c.body = std::move(*body);

  projector_.Execute(
      tenant, std::move(c),
      [this, call, success, location](Result<CommandResult> result) {
        if (!result) return Fail(call, result.error());
        if (result->last.value() > 0) feed_.Notify(call->tenant);
        if (success == 204) return Finish(call, NoContent());
        if (!result->view) return Finish(call, NoContent());
        HttpResponse r = ViewResponse(success, *result->view);
        if (!location.empty() && result->entity) {
          r.Set("Location", location + result->entity->id);
        }
        if (result->replayed) r.Set("Idempotent-Replayed", "true");
        Finish(call, std::move(r));
      });
}

}  // namespace siteledger::server
