#include "projections/projector.h"

#include <optional>

#include "projections/events.h"
#include "projections/internal/history.h"
#include "projections/internal/pseudonyms.h"
#include "projections/internal/row_store.h"
#include "projections/internal/session.h"
#include "projections/internal/tenant_states.h"
#include "projections/internal/view_cache.h"
#include "projections/schema.h"
#include "projections/view_row.h"
#include "storage/base/mutex.h"
#include "storage/base/utf8.h"

// The command path (decide, fold, append) and the public surface. The parts
// it is built from live in projections/internal/: sessions and their
// overlay, the row store, pseudonyms, the view cache, the views' versions
// (history) and the folds that build whole states.

namespace siteledger::projections {

using internal::KeyOfRow;
using internal::LookupAccountId;
using internal::LookupPseudonym;
using internal::ResolvePseudonym;
using internal::RowStore;
using internal::Session;
using internal::ViewRowKey;
using siteledger::Err;
using storage::ExtraWrite;
using storage::Family;
using storage::WriteOp;

class Projector::Impl {
 public:
  Impl(storage::EventLog& log, const siteledger::Clock& clock, Options options)
      : log_(log),
        clock_(clock),
        options_(options),
        sessions_(options.max_sessions, options.session_cache_bytes),
        views_(options.view_cache_bytes),
        index_(log) {}

  void Execute(TenantId tenant, Command command, Done done);
  // Decides `command` under the session's lock. Returns the answer when it
  // is known at once (refused, or nothing to change); nullopt when the
  // append was queued, `done` moved into its callback.
  std::optional<Result<CommandResult>> DecideAndQueue(
      TenantId tenant, const std::shared_ptr<Session>& owner, Session& session,
      Command& command, Done& done) REQUIRES(session.mu);

  storage::EventLog& log_;
  const siteledger::Clock& clock_;
  const Options options_;
  internal::SessionTable sessions_;
  internal::ViewCache views_;
  storage::EventIndex index_;
};

void Projector::Impl::Execute(TenantId tenant, Command command, Done done) {
  std::shared_ptr<Session> session = sessions_.For(tenant);
  std::optional<Result<CommandResult>> now;
  {
    MutexLock lock(session->mu);
    now = DecideAndQueue(tenant, session, *session, command, done);
  }
  // Outside the lock: `done` may run the caller's next command.
  if (now) done(std::move(*now));
}

std::optional<Result<CommandResult>> Projector::Impl::DecideAndQueue(
    TenantId tenant, const std::shared_ptr<Session>& owner, Session& session,
    Command& command, Done& done) {
  auto fail = [](Status status) {
    return std::optional<Result<CommandResult>>(Err(std::move(status)));
  };

  if (session.poisoned) {
    if (session.in_flight > 0) {
      return fail(Status::Unavailable(
          "an earlier change of this tenant failed to commit; retry"));
    }
    session.Reset();
    session.loaded = false;
    session.poisoned = false;
  }
  if (!session.loaded) {
    auto head = log_.GetHead(tenant);
    if (!head) return fail(head.error());
    session.head = head->seq;
    session.head_time = head->time;
    session.loaded = true;
  }

  // A retry of a request whose first attempt is known: answer as then.
  if (command.fingerprint.empty()) command.fingerprint = command.body.Dump();
  if (!command.idempotency_key.empty()) {
    if (session.idempotency_keys.contains(command.idempotency_key)) {
      return fail(Status::Conflict(
          "a request with this idempotency key is still in progress"));
    }
    auto previous = log_.LookupIdempotency(tenant, command.idempotency_key,
                                           command.fingerprint);
    if (!previous) return fail(previous.error());
    if (*previous) {
      auto result = CommandResult::Deserialize((*previous)->response);
      if (!result) return fail(result.error());
      result->replayed = true;
      return std::move(*result);
    }
  }

  std::vector<ExtraWrite> writes;
  std::vector<storage::AccountIndexWrite> index;
  DecideContext ctx;
  ctx.head = session.head;
  ctx.now = std::max(clock_.Now(), session.head_time);
  ctx.seq_at = [this, tenant](Timestamp t) {
    return log_.SequenceAt(tenant, t);
  };
  ctx.media_quota_bytes = options_.media_quota_bytes;
  if (!command.actor.empty()) {
    if (Status s = schema::CheckAccountId(command.actor); !s.ok()) {
      return fail(s.WithContext("the acting user"));
    }
    auto pseudonym =
        ResolvePseudonym(log_, session, tenant, command.actor, writes, index);
    if (!pseudonym) return fail(pseudonym.error());
    ctx.actor_pseudonym = *pseudonym;
  }
  if (command.type == CommandType::kEraseUser) {
    // The person's rows go in the append that records their erasure. No
    // message here names the account id.
    if (Status s = schema::CheckAccountId(command.subject); !s.ok()) {
      return fail(s.WithContext("the account to erase"));
    }
    auto erased = internal::ErasePseudonym(log_, session, tenant,
                                           command.subject, writes, index);
    if (!erased) return fail(erased.error());
    if (!*erased) {
      return fail(
          Status::NotFound("this tenant holds no pseudonym for the account"));
    }
    ctx.subject_pseudonym = **erased;
  }

  RowStore store(log_, session, tenant);
  auto decision = Decide(command, store, ctx);
  if (!decision) return fail(decision.error());

  CommandResult result;
  result.entity = decision->entity;
  if (decision->events.empty()) {
    // Nothing to change: answer with the current view.
    if (result.entity) result.view = store.Current(*result.entity);
    return result;
  }

  // Fold the decided events into the views with the seqs they will get.
  Sequence seq = session.head;
  storage::IndexBatch index_rows;
  std::vector<storage::NewEvent> events;
  for (const DecidedEvent& e : decision->events) {
    seq = seq.next();
    // What the log stores its reader must parse: text from a path or a
    // query that is not UTF-8 never becomes an event (the server refuses it
    // first; this is the last line).
    std::string payload = e.payload.Dump();
    if (!ValidUtf8(payload)) {
      return fail(Status::InvalidArgument(
          "the request has text that is not valid UTF-8"));
    }
    if (e.type == event::kTenantRestored) {
      if (session.in_flight > 0) {
        return fail(Status::Unavailable(
            "changes of this tenant are still being written; retry the "
            "restore"));
      }
      if (seq != session.head.next()) {
        return fail(
            Status::Internal("a restore must be its append's first "
                             "event"));
      }
      // What changed since the target, as of the committed head (nothing
      // is in flight).
      const Sequence to(static_cast<uint64_t>(e.payload.GetInt("toSeq")));
      if (Status s = internal::RestoreFromHistory(log_, tenant, store, to,
                                                  session.head, seq);
          !s.ok()) {
        return fail(s);
      }
    } else {
      if (Status s = Apply(store, EventRef{seq, ctx.now, e.type,
                                           ctx.actor_pseudonym, e.payload});
          !s.ok()) {
        return fail(s);
      }
    }
    std::vector<std::string> changed_rows;
    if (Status s = store.EndEvent(seq, writes, &changed_rows); !s.ok()) {
      return fail(s);
    }
    if (options_.event_index) {
      // The index rows go in the append's own write batch: an event is
      // never visible without them.
      for (std::string& row : changed_rows) {
        row = std::string(internal::IndexEntityOfRow(row));
      }
      if (Status s = index_.AddEvent(tenant, seq, e.type, ctx.actor_pseudonym,
                                     changed_rows, index_rows);
          !s.ok()) {
        return fail(s);
      }
    }
    events.push_back({e.type, ctx.actor_pseudonym, std::move(payload)});
  }
  if (Status s = store.Writes(writes); !s.ok()) return fail(s);
  // Media bytes are not part of the overlay: no command reads them.
  std::vector<ExtraWrite> bytes_writes = std::move(command.extra_writes);
  result.first = session.head.next();
  result.last = seq;
  if (result.entity) result.view = store.Current(*result.entity);

  storage::AppendRequest request;
  request.tenant = tenant;
  request.expected_version = session.head;
  request.events = std::move(events);
  request.time = ctx.now;
  request.idempotency_key = command.idempotency_key;
  request.idempotency_fingerprint = command.fingerprint;
  if (!command.idempotency_key.empty()) {
    request.idempotency_response = result.Serialize();
  }

  // What the next command of this tenant must see (no command reads the
  // versions).
  for (const ExtraWrite& w : writes) {
    if (w.family == Family::kSnapshots) continue;
    session.overlay[{w.family, w.key}] = Session::Pending{
        w.op == WriteOp::kDelete ? std::nullopt
                                 : std::optional<std::string>(w.value),
        seq.value()};
  }
  std::vector<std::string> written_views;
  for (const ExtraWrite& w : writes) {
    if (w.family == Family::kViews) written_views.push_back(w.key);
  }
  request.extra_writes = std::move(writes);
  // Not in the overlay above: no command reads the index.
  index_rows.Drain(request.extra_writes);
  request.account_index = std::move(index);
  for (ExtraWrite& w : bytes_writes) {
    request.extra_writes.push_back(std::move(w));
  }
  session.head = seq;
  session.head_time = ctx.now;
  ++session.in_flight;
  if (!command.idempotency_key.empty()) {
    session.idempotency_keys.insert(command.idempotency_key);
  }

  // Enqueued under the session lock: the log applies one tenant's appends in
  // the order they arrive, which is the order they were decided in.
  log_.AppendAsync(
      std::move(request),
      [this, tenant, owner, key = command.idempotency_key,
       written_views = std::move(written_views), result = std::move(result),
       done = std::move(done)](Result<storage::AppendResult> appended) mutable {
        // Before anyone hears of the append: readers must not be served
        // the rows it replaced.
        if (appended && !appended->replayed)
          views_.Invalidate(tenant, written_views);
        {
          MutexLock session_lock(owner->mu);
          --owner->in_flight;
          owner->idempotency_keys.erase(key);
          if (!appended) {
            // Later in-flight appends were decided on top of this one; they
            // fail at the log (wrong expected version). Start again from
            // what is durable once they have.
            if (owner->poisoned &&
                appended.error().code() == StatusCode::kConflict) {
              // Not this request's conflict: an earlier append of the
              // tenant failed (a full disk, say) and this one was decided
              // on top of it. The client may retry as it is.
              appended = Err(Status::Unavailable(
                  "an earlier change of this tenant failed to commit; "
                  "retry"));
            }
            owner->poisoned = true;
            owner->Reset();
          } else {
            for (auto it = owner->overlay.begin();
                 it != owner->overlay.end();) {
              it = it->second.seq <= appended->last.value()
                       ? owner->overlay.erase(it)
                       : std::next(it);
            }
          }
        }
        if (!appended) {
          done(Err(appended.error()));
          return;
        }
        if (appended->replayed) {
          auto first = CommandResult::Deserialize(appended->response);
          if (!first) {
            done(Err(first.error()));
            return;
          }
          first->replayed = true;
          done(std::move(*first));
          return;
        }
        done(std::move(result));
      });
  return std::nullopt;
}

Projector::Projector(storage::EventLog& log, const siteledger::Clock& clock,
                     Options options)
    : impl_(std::make_unique<Impl>(log, clock, options)) {}

Projector::~Projector() = default;

void Projector::Execute(TenantId tenant, Command command, Done done) {
  impl_->Execute(tenant, std::move(command), std::move(done));
}

Result<CommandResult> Projector::ExecuteSync(TenantId tenant, Command command) {
  struct Waiter {
    Mutex mu;
    CondVar cv;
    std::optional<Result<CommandResult>> result GUARDED_BY(mu);
  };
  auto waiter = std::make_shared<Waiter>();
  Execute(tenant, std::move(command), [waiter](Result<CommandResult> r) {
    {
      MutexLock lock(waiter->mu);
      waiter->result = std::move(r);
    }
    waiter->cv.Signal();
  });
  MutexLock lock(waiter->mu);
  while (!waiter->result.has_value()) waiter->cv.Wait(waiter->mu);
  return std::move(*waiter->result);
}

Result<std::optional<ViewDoc>> Projector::Get(TenantId tenant,
                                              const ViewKey& key) {
  auto stored = GetStored(tenant, key);
  if (!stored) return Err(stored.error());
  if (*stored == nullptr) return std::optional<ViewDoc>();
  auto doc = ParseViewRow((*stored)->version, (*stored)->json);
  if (!doc) return Err(doc.error());
  return std::optional<ViewDoc>(std::move(*doc));
}

Result<std::shared_ptr<const Projector::StoredView>> Projector::GetStored(
    TenantId tenant, const ViewKey& key) {
  auto row_key = ViewRowKey(impl_->log_, tenant, key);
  if (!row_key) return Err(row_key.error());
  return impl_->views_.Get(impl_->log_, tenant, *row_key);
}

Result<Projector::Page> Projector::List(TenantId tenant, ViewKind kind,
                                        std::string_view cursor, size_t limit) {
  const std::string prefix(1, static_cast<char>(kind));
  std::string after;
  if (!cursor.empty()) after = prefix + std::string(cursor);
  auto rows =
      impl_->log_.ScanRows(tenant, Family::kViews, prefix, after, limit + 1);
  if (!rows) return Err(rows.error());
  Page page;
  for (size_t i = 0; i < rows->size() && i < limit; ++i) {
    auto row = DecodeViewRow((*rows)[i].second);
    if (!row) return Err(row.error());
    page.items.emplace_back(KeyOfRow((*rows)[i].first, *row), std::move(*row));
    page.cursors.push_back((*rows)[i].first.substr(1));
  }
  if (rows->size() > limit && limit > 0) {
    page.next_cursor = (*rows)[limit - 1].first.substr(1);
  }
  return page;
}

Result<std::optional<ViewDoc>> Projector::GetAt(TenantId tenant,
                                                const ViewKey& key,
                                                Sequence seq) {
  auto row_key = ViewRowKey(impl_->log_, tenant, key);
  if (!row_key) return Err(row_key.error());
  auto history = internal::History::Open(impl_->log_, tenant);
  if (!history) return Err(history.error());
  auto row = history->RowAt(*row_key, seq);
  if (!row) return Err(row.error());
  if (!*row) return std::optional<ViewDoc>();
  auto doc = DecodeViewRow(**row);
  if (!doc) return Err(doc.error());
  return std::optional<ViewDoc>(std::move(*doc));
}

Result<Projector::Page> Projector::ListAt(TenantId tenant, ViewKind kind,
                                          Sequence seq, std::string_view cursor,
                                          size_t limit) {
  const std::string prefix(1, static_cast<char>(kind));
  std::string after;
  if (!cursor.empty()) after = prefix + std::string(cursor);
  auto history = internal::History::Open(impl_->log_, tenant);
  if (!history) return Err(history.error());
  std::vector<std::pair<std::string, std::string>> rows;
  Status s = history->ForEachAt(
      prefix, after, seq,
      [&rows, limit](std::string_view row_key, const std::string& row) {
        rows.emplace_back(std::string(row_key), row);
        return rows.size() <= limit;
      });
  if (!s.ok()) return Err(s);
  Page page;
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    auto row = DecodeViewRow(rows[i].second);
    if (!row) return Err(row.error());
    page.items.emplace_back(KeyOfRow(rows[i].first, *row), std::move(*row));
    page.cursors.push_back(rows[i].first.substr(1));
  }
  if (rows.size() > limit && limit > 0) {
    page.next_cursor = rows[limit - 1].first.substr(1);
  }
  return page;
}

Status Projector::Rebuild(TenantId tenant) {
  impl_->sessions_.Erase(tenant);
  impl_->views_.InvalidateTenant(tenant);
  Status s = internal::RebuildViews(impl_->log_, impl_->index_, tenant);
  impl_->views_.InvalidateTenant(tenant);
  return s;
}

Status Projector::CatchUp(TenantId tenant, Sequence from) {
  impl_->sessions_.Erase(tenant);
  impl_->views_.InvalidateTenant(tenant);
  Status s = internal::FoldViews(impl_->log_, impl_->index_, tenant, from);
  impl_->views_.InvalidateTenant(tenant);
  return s;
}

Result<Hash> Projector::ViewsDigest(TenantId tenant) {
  auto state = internal::CurrentViews(impl_->log_, tenant);
  if (!state) return Err(state.error());
  return state->Digest();
}

Result<Hash> Projector::DigestAt(TenantId tenant, Sequence seq) {
  auto state = internal::StateAt(impl_->log_, tenant, seq, true);
  if (!state) return Err(state.error());
  return state->Digest();
}

Result<Hash> Projector::ChangesDigest(TenantId tenant, Sequence after,
                                      Sequence until) {
  return internal::ChangesDigest(impl_->log_, tenant, after, until);
}

Result<TenantState> Projector::CurrentViews(TenantId tenant) {
  return internal::CurrentViews(impl_->log_, tenant);
}

Result<TenantState> Projector::StateAt(TenantId tenant, Sequence seq,
                                       bool from_history) {
  return internal::StateAt(impl_->log_, tenant, seq, from_history);
}

Result<TenantState> Projector::StateAtTime(TenantId tenant, Timestamp t) {
  auto seq = impl_->log_.SequenceAt(tenant, t);
  if (!seq) return Err(seq.error());
  return internal::StateAt(impl_->log_, tenant, *seq, true);
}

Result<std::optional<std::string>> Projector::PseudonymOf(
    TenantId tenant, std::string_view account_id) {
  return LookupPseudonym(impl_->log_, tenant, account_id);
}

Result<std::optional<std::string>> Projector::AccountIdOf(
    TenantId tenant, std::string_view pseudonym) {
  return LookupAccountId(impl_->log_, tenant, pseudonym);
}

Status Projector::AddPseudonymRows(
    TenantId tenant, std::string_view pseudonym, std::string_view account_id,
    std::vector<storage::ExtraWrite>& writes,
    std::vector<storage::AccountIndexWrite>& index) {
  return internal::AddPseudonymRows(impl_->log_, tenant, pseudonym, account_id,
                                    writes, index);
}

Result<std::optional<std::string>> Projector::ErasePseudonymRows(
    TenantId tenant, std::string_view account_id) {
  std::vector<ExtraWrite> writes;
  std::vector<storage::AccountIndexWrite> index;
  auto erased = internal::ErasePseudonymRows(impl_->log_, tenant, account_id,
                                             writes, index);
  if (!erased) return erased;
  // The session may remember the account id: it goes, found or not.
  Forget(tenant);
  if (!*erased) return erased;
  SL_RETURN_ERR_IF_ERROR(impl_->log_.WriteRows(tenant, writes, true, index));
  return erased;
}

Status Projector::AddImportedErasures(
    TenantId tenant, const std::vector<storage::Event>& events,
    std::vector<storage::ExtraWrite>& writes,
    std::vector<storage::AccountIndexWrite>& index) {
  for (const storage::Event& e : events) {
    if (e.type != event::kUserErased) continue;
    auto payload = ParseJson(e.payload, TrustedJsonLimits());
    if (!payload) {
      return Status::Corruption("imported event " +
                                std::to_string(e.seq.value()) +
                                " does not parse");
    }
    SL_RETURN_IF_ERROR(internal::AddErasuresOf(
        impl_->log_, tenant, payload->GetString("user"), writes, index));
  }
  return Status::Ok();
}

Status Projector::IndexAccounts(TenantId tenant) {
  return internal::IndexAccounts(impl_->log_, tenant);
}

void Projector::Forget(TenantId tenant) {
  impl_->sessions_.Erase(tenant);
  impl_->views_.InvalidateTenant(tenant);
  impl_->index_.Forget(tenant);
}

Result<Projector::EventPage> Projector::FindEvents(TenantId tenant,
                                                   const EventFilter& filter) {
  storage::EventLog& log = impl_->log_;
  const storage::EventIndex& index = impl_->index_;
  EventPage page;
  if (filter.limit == 0 || filter.after.value() == UINT64_MAX) return page;
  // Times to seqs: since is the first event at or after it, until the last
  // at or before it (times never go back within a tenant).
  Sequence first = filter.after.next();
  Sequence last(UINT64_MAX);
  if (filter.since) {
    auto before = log.SequenceAt(tenant, *filter.since -
                                             std::chrono::milliseconds(1));
    if (!before) return Err(before.error());
    first = std::max(first, before->next());
  }
  if (filter.until) {
    auto at = log.SequenceAt(tenant, *filter.until);
    if (!at) return Err(at.error());
    last = *at;
  }
  if (first > last) return page;

  storage::EventIndex::Query query;
  query.first = first;
  query.last = last;
  query.limit = filter.limit;
  auto add = [&](storage::IndexDimension dimension,
                 const std::vector<std::string>& values) -> Status {
    std::vector<std::string> group;
    for (const std::string& v : values) {
      auto prefix = index.ValuePrefix(tenant, dimension, v);
      if (!prefix) return prefix.error();
      group.push_back(std::move(*prefix));
    }
    query.all_of.push_back(std::move(group));
    return Status::Ok();
  };
  if (filter.type) {
    SL_RETURN_ERR_IF_ERROR(add(storage::IndexDimension::kType, {*filter.type}));
  }
  if (filter.actor) {
    SL_RETURN_ERR_IF_ERROR(
        add(storage::IndexDimension::kActor, {*filter.actor}));
  }
  if (filter.entity) {
    // An entity is its id, or a promoted result's keyword, whose row key
    // (and so its index value) is an HMAC of the normalized keyword.
    std::vector<std::string> values{*filter.entity};
    auto promoted = internal::ViewRowKey(
        log, tenant, {ViewKind::kPromoted, NormalizeKeyword(*filter.entity)});
    if (!promoted) return Err(promoted.error());
    values.emplace_back(internal::IndexEntityOfRow(*promoted));
    SL_RETURN_ERR_IF_ERROR(add(storage::IndexDimension::kEntity, values));
  }

  if (query.all_of.empty()) {
    // Only a time range: the log itself, in order.
    auto events = log.Read(tenant, first, filter.limit + 1);
    if (!events) return Err(events.error());
    for (storage::Event& e : *events) {
      if (e.seq > last) break;
      if (page.items.size() == filter.limit) {
        page.next_cursor = std::to_string(page.items.back().seq.value());
        break;
      }
      page.items.push_back(std::move(e));
    }
    return page;
  }
  auto found = index.Find(tenant, query);
  if (!found) return Err(found.error());
  page.items = std::move(found->events);
  if (found->next_after.value() != 0) {
    page.next_cursor = std::to_string(found->next_after.value());
  }
  return page;
}

Result<storage::IndexReport> Projector::VerifyIndex(TenantId tenant) {
  return impl_->index_.Verify(tenant,
                              internal::IndexEntities(impl_->log_, tenant));
}

Status Projector::RebuildIndex(TenantId tenant) {
  return impl_->index_.Rebuild(tenant,
                               internal::IndexEntities(impl_->log_, tenant));
}

}  // namespace siteledger::projections
