// The tenant API (/api/v1): resources over the projections' views.

#include "server/internal/tenant_api.h"

#include <algorithm>
#include <functional>

#include "projections/commands.h"
#include "projections/events.h"
#include "server/internal/request_parts.h"
#include "server/log.h"
#include "server/problem.h"
#include "storage/base/rfc3339.h"

namespace siteledger::server {

using projections::Command;
using projections::CommandResult;
using projections::Json;
using projections::ViewDoc;
using projections::ViewKey;
using projections::ViewKind;

Json MediaJson(const Json& doc) {
  Json out = Json::MakeObject();
  out.Set("id", doc.GetString("id"));
  if (const Json* kind = doc.Find("kind")) out.Set("kind", *kind);
  out.Set("type", doc.GetString("type"));
  out.Set("size", doc.GetInt("size"));
  const Json* w = doc.Find("width");
  const Json* h = doc.Find("height");
  out.Set("width", w ? *w : Json());
  out.Set("height", h ? *h : Json());
  return out;
}

namespace {

HttpResponse Missing(const ViewKey& key) {
  return Problem(404, std::string(ViewKindName(key.kind)) + " '" + key.id +
                          "' does not exist");
}

// Which entities of a list are answered, and how.
struct ListSpec {
  std::function<bool(const Json&)> keep;       // all when empty
  std::function<Json(const ViewDoc&)> render;  // ViewBody when empty
};

}  // namespace

// One request's reads: the views now, or as of ?as_of= (its seq found once).
struct TenantApi::Reads {
  TenantApi& api;
  const CallPtr& call;
  AsOf as_of;
  std::optional<Sequence> seq;

  Result<Sequence> SeqOfAsOf() {
    if (seq) return *seq;
    if (as_of.seq) {
      auto head = api.log_.GetHead(call->tenant);
      if (!head) return Err(head.error());
      if (*as_of.seq > head->seq) {
        return Err(Status::InvalidArgument("as_of: the log is only at seq " +
                                           std::to_string(head->seq.value())));
      }
      seq = *as_of.seq;
    } else {
      auto at = api.log_.SequenceAt(call->tenant, *as_of.time);
      if (!at) return Err(at.error());
      seq = *at;
    }
    return *seq;
  }

  Result<std::optional<ViewDoc>> Get(const ViewKey& key) {
    if (!as_of.set) return api.projector_.Get(call->tenant, key);
    auto at = SeqOfAsOf();
    if (!at) return Err(at.error());
    return api.projector_.GetAt(call->tenant, key, *at);
  }

  void ServeView(const ViewKey& key) {
    if (!as_of.set) {
      // The present: straight from the stored row, unparsed.
      auto stored = api.projector_.GetStored(call->tenant, key);
      if (!stored) return api.finisher_.Fail(call, stored.error());
      if (*stored == nullptr) return api.finisher_.Finish(call, Missing(key));
      return api.finisher_.Finish(call, StoredViewResponse(**stored));
    }
    auto view = Get(key);
    if (!view) return api.finisher_.Fail(call, view.error());
    if (!*view) return api.finisher_.Finish(call, Missing(key));
    api.finisher_.Finish(call, ViewResponse(200, **view));
  }

  void ServeList(ViewKind kind, const ListSpec& spec) {
    Finisher& f = api.finisher_;
    auto limit =
        LimitOf(*call, call->route->default_limit, call->route->max_limit);
    if (!limit) return f.Fail(call, limit.error());
    auto cursor = DecodeCursor(*call);
    if (!cursor) return f.Fail(call, cursor.error());
    auto render = [&](const ViewDoc& view) {
      return spec.render ? spec.render(view) : ViewBody(view);
    };
    Json items = Json::MakeArray();
    std::string next;
    bool more = false;  // a further item exists: the page is not the last
    std::optional<Sequence> at;
    if (as_of.set) {
      auto found = SeqOfAsOf();
      if (!found) return f.Fail(call, found.error());
      at = *found;
    }
    // Read pages until `limit` items pass the filter; the cursor continues
    // right after the last item answered, whichever page it came from.
    std::string position = *cursor;
    while (!more) {
      auto page =
          at ? api.projector_.ListAt(call->tenant, kind, *at, position, *limit)
             : api.projector_.List(call->tenant, kind, position, *limit);
      if (!page) return f.Fail(call, page.error());
      for (size_t i = 0; i < page->items.size(); ++i) {
        const ViewDoc& view = page->items[i].second;
        if (spec.keep && !spec.keep(view.doc)) continue;
        if (items.as_array().size() == *limit) {
          more = true;
          break;
        }
        items.Push(render(view));
        next = page->cursors[i];
      }
      position = page->next_cursor;
      if (position.empty()) break;
    }
    if (!more) next.clear();
    f.Finish(call, JsonResponse(200, ListBody(std::move(items), next)));
  }
};

void TenantApi::RecordUserSeen(const Call& call) {
  if (call.actor.empty()) return;
  const std::string day = FormatRfc3339(clock_.Now()).substr(0, 10);
  {
    MutexLock lock(seen_mu_);
    auto& last = seen_[{call.tenant.value(), call.actor}];
    if (last == day) return;
    last = day;
    if (seen_.size() > 100000) seen_.clear();  // a day's worth, at most
  }
  Command c;
  c.type = projections::CommandType::kSeeUser;
  c.actor = call.actor;
  // Runs on the commit thread: only logs and wakes the feed, both quick.
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

void TenantApi::Serve(const CallPtr& call) {
  const RouteSpec& route = *call->route;
  if (route.action == Action::kCommand) return ServeCommand(call);
  // A malformed ?as_of= is refused on every read, even one that ignores it.
  auto as_of = AsOfOf(*call);
  if (!as_of) return finisher_.Fail(call, as_of.error());
  if (route.action == Action::kListEvents) return ServeEvents(call);
  if (route.action == Action::kStreamEvents) return ServeStream(call);
  if (route.action == Action::kTenantUsage) {
    auto counts = CountUsage(projector_, call->tenant);
    if (!counts) return finisher_.Fail(call, counts.error());
    Json body = Json::MakeObject();
    body.Set("sites", counts->sites);
    body.Set("themes", counts->themes);
    body.Set("customDomains", counts->custom_domains);
    body.Set("spaces", counts->spaces);
    return finisher_.Finish(call, JsonResponse(200, body));
  }
  Reads reads{*this, call, *as_of, std::nullopt};
  const std::string& id = call->Param(route.id_param);
  switch (route.action) {
    case Action::kGetView:
      // Keywords are stored as normalized, whatever case the path has.
      return reads.ServeView(
          {route.view, route.view == ViewKind::kPromoted
                           ? projections::NormalizeKeyword(id)
                           : id});
    case Action::kGetNavigation: {
      const ViewKey key{ViewKind::kNavigation, id};
      auto nav = reads.Get(key);
      if (!nav) return finisher_.Fail(call, nav.error());
      if (*nav) return finisher_.Finish(call, ViewResponse(200, **nav));
      auto site = reads.Get({ViewKind::kSite, id});
      if (!site) return finisher_.Fail(call, site.error());
      if (!*site) return finisher_.Finish(call, Missing({ViewKind::kSite, id}));
      // A site whose menu was never saved has an empty one, version 0.
      Json doc = Json::MakeObject();
      doc.Set("siteId", id);
      doc.Set("items", Json::MakeArray());
      return finisher_.Finish(
          call, ViewResponse(200, ViewDoc{std::move(doc), Sequence(0)}));
    }
    case Action::kListViews: {
      ListSpec spec;
      if (route.view == ViewKind::kAnnouncement) {
        if (auto at = call->Query("active_at")) {
          auto t = ParseRfc3339(*at);
          if (!t) {
            return finisher_.Fail(
                call,
                Status::InvalidArgument("active_at: " + t.error().message()));
          }
          spec.keep = [t = *t](const Json& doc) {
            return projections::AnnouncementActiveAt(doc, t);
          };
        }
      } else if (route.view == ViewKind::kMedia) {
        // Media still referenced by history but detached is not listed.
        spec.keep = [](const Json& doc) {
          const Json* attached = doc.Find("attached");
          return attached != nullptr && attached->as_bool();
        };
        spec.render = [](const ViewDoc& view) { return MediaJson(view.doc); };
      }
      return reads.ServeList(route.view, spec);
    }
    default:
      return finisher_.Fail(
          call, Status::Internal("the tenant API has no action for " +
                                 route.method + " " + route.path));
  }
}

Result<std::optional<projections::Projector::EventFilter>>
TenantApi::EventFilterOf(const Call& call) {
  projections::Projector::EventFilter filter;
  bool any = false;
  for (const auto& [name, slot] :
       {std::pair{"type", &filter.type}, std::pair{"actor", &filter.actor},
        std::pair{"entity", &filter.entity}}) {
    auto text = call.Query(name);
    if (!text) continue;
    if (text->empty()) {
      return Err(
          Status::InvalidArgument(std::string(name) + ": must not be empty"));
    }
    *slot = std::move(*text);
    any = true;
  }
  if (filter.type) {
    const auto types = projections::EventTypes();
    if (std::find(types.begin(), types.end(), *filter.type) == types.end()) {
      return Err(Status::InvalidArgument("type: unknown event type \"" +
                                         *filter.type + "\""));
    }
  }
  if (filter.actor) {
    // An account id stands for its pseudonym; anything else is taken as a
    // pseudonym (an unknown one matches nothing).
    auto pseudonym = projector_.PseudonymOf(call.tenant, *filter.actor);
    if (pseudonym && *pseudonym) {
      filter.actor = **pseudonym;
    } else if (!pseudonym &&
               pseudonym.error().code() != StatusCode::kInvalidArgument) {
      return Err(pseudonym.error());
    }
  }
  SL_RETURN_ERR_IF_ERROR(TimeWindowOf(call, filter.since, filter.until));
  if (!any && !filter.since && !filter.until) {
    return std::optional<projections::Projector::EventFilter>();
  }
  return std::optional(std::move(filter));
}

void TenantApi::ServeEvents(const CallPtr& call) {
  auto limit =
      LimitOf(*call, call->route->default_limit, call->route->max_limit);
  if (!limit) return finisher_.Fail(call, limit.error());
  Sequence after(0);
  if (auto text = call->Query("after")) {
    auto seq = SeqOf(*text, "after");
    if (!seq) return finisher_.Fail(call, seq.error());
    after = *seq;
  } else {
    auto cursor = DecodeCursor(*call);
    if (!cursor) return finisher_.Fail(call, cursor.error());
    if (!cursor->empty()) {
      auto seq = SeqOf(*cursor, "cursor");
      if (!seq) return finisher_.Fail(call, seq.error());
      after = *seq;
    }
  }
  if (after.value() == UINT64_MAX) {
    // Nothing comes after the last seq there can be (and next() would wrap
    // to the start).
    return finisher_.Finish(call,
                            JsonResponse(200, ListBody(Json::MakeArray(), "")));
  }
  auto filter = EventFilterOf(*call);
  if (!filter) return finisher_.Fail(call, filter.error());
  if (*filter) {
    (*filter)->after = after;
    (*filter)->limit = *limit;
    auto page = projector_.FindEvents(call->tenant, **filter);
    if (!page) return finisher_.Fail(call, page.error());
    Json items = Json::MakeArray();
    for (const storage::Event& e : page->items) items.Push(EventItem(e));
    return finisher_.Finish(
        call, JsonResponse(200, ListBody(std::move(items), page->next_cursor)));
  }
  auto events = log_.Read(call->tenant, after.next(), *limit);
  if (!events) return finisher_.Fail(call, events.error());
  Json items = Json::MakeArray();
  for (const storage::Event& e : *events) items.Push(EventItem(e));
  const std::string next = events->size() == *limit && !events->empty()
                               ? std::to_string(events->back().seq.value())
                               : std::string();
  finisher_.Finish(call, JsonResponse(200, ListBody(std::move(items), next)));
}

void TenantApi::ServeStream(const CallPtr& call) {
  const TenantId tenant = call->tenant;
  Sequence after(0);
  std::string_view last = call->request.Header("last-event-id");
  std::optional<std::string> from_query = call->Query("last_event_id");
  if (!last.empty() || from_query) {
    auto seq = SeqOf(last.empty() ? std::string_view(*from_query) : last,
                     "Last-Event-ID");
    if (!seq) return finisher_.Fail(call, seq.error());
    after = *seq;
  } else {
    auto head = log_.GetHead(tenant);
    if (!head) return finisher_.Fail(call, head.error());
    after = head->seq;  // only what happens from now on
  }
  // Unnamed by default, so that EventSource's onmessage gets every event;
  // ?named_events=true names each after its type, for addEventListener.
  bool named = false;
  if (std::optional<std::string> n = call->Query("named_events")) {
    if (*n != "true" && *n != "false") {
      return finisher_.Fail(
          call, Status::InvalidArgument("named_events: true or false"));
    }
    named = *n == "true";
  }
  HttpResponse head;
  head.status = 200;
  head.Set("Content-Type", "text/event-stream");
  head.Set("Cache-Control", "no-store");
  head.Set("X-Accel-Buffering", "no");
  // HEAD: the stream's headers, no stream.
  if (call->head) return finisher_.Finish(call, std::move(head));
  // When the client goes (or the server drains), wake the feed so it lets
  // go of the stream at once.
  auto writer = finisher_.Stream(call, std::move(head),
                                 [this, tenant] { feed_.Notify(tenant); });
  if (writer) {
    writer->Write("retry: 2000\n\n");
    feed_.Subscribe(tenant, after, writer, call->token_expires, named);
  }
}

void TenantApi::ServeCommand(const CallPtr& call) {
  const RouteSpec& route = *call->route;
  if (call->Query("as_of")) {
    return finisher_.Fail(
        call, Status::InvalidArgument(
                  "as_of is for reads; a write changes the present"));
  }
  Command c;
  c.type = route.command;
  c.actor = call->actor;
  c.id = call->Param(route.id_param);
  c.item = call->Param(route.item_param);
  auto if_match = IfMatchOf(*call);
  if (!if_match) return finisher_.Fail(call, if_match.error());
  c.if_match = *if_match;
  auto key = IdempotencyKeyOf(*call);
  if (!key) return finisher_.Fail(call, key.error());
  c.idempotency_key = *key;
  c.fingerprint =
      call->request.method + " " + call->path + "\n" + call->request.body;
  if (route.id_param == "contentId" &&
      (c.id.empty() || c.id.size() > 20 ||
       !std::all_of(c.id.begin(), c.id.end(),
                    [](char ch) { return ch >= '0' && ch <= '9'; }))) {
    return finisher_.Fail(
        call, Status::InvalidArgument("contentId: a Confluence content id is "
                                      "made of digits"));
  }
  auto body = JsonBodyOf(*call, route.body);
  if (!body) return finisher_.Fail(call, body.error());
  c.body = std::move(*body);

  projector_.Execute(
      call->tenant, std::move(c), [this, call](Result<CommandResult> result) {
        // On the commit thread (or here, for a command refused at once):
        // wake the feed, and answer from the connection's strand.
        if (result && result->last.value() > 0) feed_.Notify(call->tenant);
        Finisher::Later(call, [this, call, result = std::move(result)] {
          if (!result) return finisher_.Fail(call, result.error());
          const RouteSpec& r = *call->route;
          if (r.success == 204 || !result->view) {
            return finisher_.Finish(call, NoContent());
          }
          HttpResponse response = ViewResponse(r.success, *result->view);
          if (!r.location.empty() && result->entity) {
            response.Set("Location", r.location + result->entity->id);
          }
          if (result->replayed) response.Set("Idempotent-Replayed", "true");
          finisher_.Finish(call, std::move(response));
        });
      });
}

}  // namespace siteledger::server
