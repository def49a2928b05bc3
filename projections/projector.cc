#include "projections/projector.h"

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "projections/events.h"
#include "projections/schema.h"
#include "projections/view_row.h"
#include "storage/crypto.h"

namespace siteledger::projections {
namespace {

using siteledger::Err;
using storage::ExtraWrite;
using storage::Family;
using storage::WriteOp;

Result<Json> ParsePayload(const storage::Event& e) {
  auto payload = ParseJson(e.payload, TrustedJsonLimits());
  if (!payload) {
    return Err(Status::Corruption("event " + std::to_string(e.seq.value()) +
                                  " has a payload that does not parse"));
  }
  return payload;
}

std::string PseudonymForwardKey(const Hash& h) {
  std::string key = "a";
  key.append(reinterpret_cast<const char*>(h.data()), h.size());
  return key;
}

std::string PseudonymReverseKey(std::string_view pseudonym) {
  return "p" + std::string(pseudonym);
}

}  // namespace

class Projector::Impl {
 public:
  // The in-flight state of one tenant: its head including appends not yet
  // durable, and the rows those appends write, so that the next command is
  // decided against them.
  struct Session {
    std::mutex mu;
    bool loaded = false;    // GUARDED_BY(mu)
    bool poisoned = false;  // an in-flight append failed
    Sequence head;          // including in-flight appends
    Timestamp head_time{};
    uint64_t in_flight = 0;
    struct Pending {
      std::optional<std::string> value;  // nullopt: deleted
      uint64_t seq;                      // the append that wrote it
    };
    std::map<std::pair<Family, std::string>, Pending> overlay;
    std::set<std::string> idempotency_keys;  // in flight
    // Decoded views as of the session's head (in-flight appends included),
    // so that a busy tenant's commands do not read and parse the same rows
    // again and again; nullptr: the row is known to be absent. Only this
    // session writes the tenant's views (anything else calls Forget).
    std::map<ViewKey, std::shared_ptr<const ViewDoc>> docs;
    // account id -> pseudonym, for the same reason.
    std::unordered_map<std::string, std::string> pseudonyms;
    static constexpr size_t kMaxCached = 4096;

    void Reset() {
      overlay.clear();
      docs.clear();
      pseudonyms.clear();
    }
  };

  class RowStore;

  Impl(storage::EventLog& log, const siteledger::Clock& clock, Options options)
      : log_(log), clock_(clock), options_(options) {
    snapshotter_ = std::thread([this] { SnapshotLoop(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(snap_mu_);
      stopping_ = true;
    }
    snap_cv_.notify_all();
    snapshotter_.join();
  }

  void Execute(TenantId tenant, Command command, Done done);

  Result<std::string> RowKey(TenantId tenant, const ViewKey& key) {
    std::string out(1, static_cast<char>(key.kind));
    if (key.kind == ViewKind::kPromoted) {
      // Keywords are search terms users typed: never part of a key.
      auto h = log_.TenantHmac(tenant, "promoted-keyword", key.id);
      if (!h) return Err(h.error());
      out += storage::ToHex(*h);
    } else {
      out += key.id;
    }
    return out;
  }

  // The entity key of a stored row.
  static ViewKey KeyOfRow(std::string_view row_key, const ViewDoc& row) {
    const ViewKind kind = static_cast<ViewKind>(row_key[0]);
    if (kind == ViewKind::kPromoted) {
      return {kind, std::string(row.doc.GetString("keyword"))};
    }
    return {kind, std::string(row_key.substr(1))};
  }

  Result<std::optional<std::string>> ReadRow(Session* session, TenantId tenant,
                                             Family family,
                                             const std::string& key) {
    if (session != nullptr) {
      auto it = session->overlay.find({family, key});
      if (it != session->overlay.end()) return it->second.value;
    }
    return log_.GetRow(tenant, family, key);
  }

  Result<TenantState> CurrentViews(TenantId tenant) {
    TenantState state;
    std::string after;
    for (;;) {
      auto rows = log_.ScanRows(tenant, Family::kViews, "", after, 1000);
      if (!rows) return Err(rows.error());
      for (auto& [key, value] : *rows) {
        if (key.empty() || !ViewKindFromChar(key[0])) continue;
        auto text = SplitViewRow(value);
        if (!text) return Err(text.error());
        ViewKey view_key{static_cast<ViewKind>(key[0]), key.substr(1)};
        if (view_key.kind == ViewKind::kPromoted) {
          // The keyword is in the document.
          auto row = ParseViewRow(text->version, text->json);
          if (!row) return Err(row.error());
          view_key = KeyOfRow(key, *row);
        }
        state.PutText(view_key, text->version, std::string(text->json));
      }
      if (rows->size() < 1000) break;
      after = rows->back().first;
    }
    auto head = log_.GetHead(tenant);
    if (!head) return Err(head.error());
    state.set_seq(head->seq);
    return state;
  }

  Result<TenantState> StateAt(TenantId tenant, Sequence seq,
                              bool use_snapshots) {
    TenantState state;
    if (use_snapshots) {
      auto snap = log_.NearestSnapshot(tenant, seq);
      if (!snap) return Err(snap.error());
      if (*snap) {
        auto restored = TenantState::Deserialize((*snap)->state);
        if (!restored) return Err(restored.error());
        state = std::move(*restored);
      }
    }
    SL_RETURN_ERR_IF_ERROR(FoldInto(tenant, state, seq, use_snapshots));
    return state;
  }

  // Folds events (state.seq(), until] into `state`.
  Status FoldInto(TenantId tenant, TenantState& state, Sequence until,
                  bool use_snapshots) {
    BatchReader reader(log_, tenant, state.seq().next(), until);
    for (;;) {
      auto events = reader.Next();
      if (!events) return events.error();
      if (events->empty()) break;
      for (const storage::Event& e : *events) {
        SL_RETURN_IF_ERROR(FoldOne(tenant, state, e, use_snapshots));
      }
      reader.Recycle(std::move(*events));
    }
    if (state.seq() < until) {
      return Status::NotFound("the log ends at seq " +
                              std::to_string(state.seq().value()));
    }
    return Status::Ok();
  }

  Status FoldOne(TenantId tenant, TenantState& state, const storage::Event& e,
                 bool use_snapshots) {
    auto payload = ParsePayload(e);
    if (!payload) return payload.error();
    if (e.type == event::kTenantRestored) {
      const Sequence to(static_cast<uint64_t>(payload->GetInt("toSeq")));
      auto target = StateAt(tenant, to, use_snapshots);
      if (!target) return target.error();
      const TenantState current = state;
      RestoreTo(state, current, *target, e.seq);
    } else {
      SL_RETURN_IF_ERROR(
          Apply(state, EventRef{e.seq, e.time, e.type, e.actor, *payload}));
    }
    state.set_seq(e.seq);
    return Status::Ok();
  }

  // Reads a range of events in batches. For ranges of kReadAheadFrom events
  // or more a thread reads (and decrypts) ahead while the caller folds: on
  // two cores a rebuild then takes about as long as the read alone, and an
  // as-of read's fold from its snapshot about half as long.
  class BatchReader {
   public:
    static constexpr size_t kBatch = 4096;
    // Shorter ranges (an as-of read folds up to a snapshot interval) are
    // read ahead in smaller batches, so the fold starts early.
    static constexpr size_t kMinBatch = 128;
    static constexpr uint64_t kReadAheadFrom = 2 * kMinBatch;
    static constexpr size_t kQueued = 4;

    BatchReader(storage::EventLog& log, TenantId tenant, Sequence from,
                Sequence until)
        : log_(log),
          tenant_(tenant),
          next_(from),
          until_(until),
          batch_(kBatch) {
      if (Span(from, until) < kReadAheadFrom) return;
      batch_ = std::clamp<uint64_t>(Span(from, until) / 4, kMinBatch, kBatch);
      try {
        thread_ = std::thread([this] {
          pthread_setname_np(pthread_self(), "sl-readahead");
          ReadAhead();
        });
      } catch (const std::system_error&) {
        batch_ = kBatch;  // no thread to spare: read in the caller's turn
      }
    }
    ~BatchReader() {
      if (thread_.joinable()) {
        {
          std::lock_guard lock(mu_);
          stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
      }
    }

    // The next batch; empty at the end of the range.
    Result<std::vector<storage::Event>> Next() {
      if (!thread_.joinable()) return ReadBatch();
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty(); });
      auto batch = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();
      return batch;
    }

    // Hands a folded batch back to the reading thread, which frees it: the
    // events were allocated there, and freeing them there keeps the folding
    // thread off the reader's malloc arena.
    void Recycle(std::vector<storage::Event> batch) {
      if (!thread_.joinable()) return;
      std::lock_guard lock(mu_);
      spent_.push_back(std::move(batch));
    }

   private:
    // Events in [from, until].
    static uint64_t Span(Sequence from, Sequence until) {
      return until >= from ? until.value() - from.value() + 1 : 0;
    }

    Result<std::vector<storage::Event>> ReadBatch() {
      if (next_ > until_) return std::vector<storage::Event>();
      const uint64_t want = until_.value() - next_.value() + 1;
      auto events =
          log_.Read(tenant_, next_,
                    static_cast<size_t>(std::min<uint64_t>(want, batch_)));
      if (!events) return events;
      if (events->empty()) {
        next_ = until_.next();
      } else {
        next_ = events->back().seq.next();
      }
      return events;
    }

    void ReadAhead() {
      for (;;) {
        std::deque<std::vector<storage::Event>> spent;
        {
          std::lock_guard lock(mu_);
          spent.swap(spent_);
        }
        spent.clear();
        auto batch = ReadBatch();
        const bool last = !batch || batch->empty();
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || queue_.size() < kQueued; });
        if (stop_) return;
        queue_.push_back(std::move(batch));
        cv_.notify_all();
        if (last) return;
      }
    }

    storage::EventLog& log_;
    const TenantId tenant_;
    Sequence next_;  // owned by the reading thread
    const Sequence until_;
    size_t batch_;  // set before the reading thread starts
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Result<std::vector<storage::Event>>> queue_;  // GUARDED_BY(mu_)
    bool stop_ = false;                                      // GUARDED_BY(mu_)
    std::deque<std::vector<storage::Event>> spent_;          // GUARDED_BY(mu_)
    std::thread thread_;
  };

  std::shared_ptr<Session> SessionFor(TenantId tenant) {
    std::lock_guard lock(sessions_mu_);
    auto it = sessions_.find(tenant);
    if (it != sessions_.end()) return it->second;
    if (sessions_.size() >= options_.max_sessions) {
      // Evict idle sessions; one still in use stays (its shared_ptr keeps
      // it alive for its holder either way).
      for (auto s = sessions_.begin(); s != sessions_.end();) {
        std::unique_lock session_lock(s->second->mu, std::try_to_lock);
        if (session_lock && s->second->in_flight == 0) {
          session_lock.unlock();
          s = sessions_.erase(s);
        } else {
          ++s;
        }
      }
    }
    auto session = std::make_shared<Session>();
    sessions_.emplace(tenant, session);
    return session;
  }

  void Forget(TenantId tenant) {
    {
      std::lock_guard lock(sessions_mu_);
      sessions_.erase(tenant);
    }
    InvalidateTenant(tenant);
  }

  Result<std::optional<std::string>> PseudonymOf(Session* session,
                                                 TenantId tenant,
                                                 std::string_view account_id) {
    auto h = log_.TenantHmac(tenant, "pseudonym", account_id);
    if (!h) return Err(h.error());
    return ReadRow(session, tenant, Family::kPseudonyms,
                   PseudonymForwardKey(*h));
  }

  // The actor's pseudonym, allocating one (rows added to `writes`) on first
  // sight. Called under the session lock, so two commands never allocate
  // two pseudonyms for one person.
  Result<std::string> ResolvePseudonym(Session& session, TenantId tenant,
                                       std::string_view account_id,
                                       std::vector<ExtraWrite>& writes) {
    if (auto it = session.pseudonyms.find(std::string(account_id));
        it != session.pseudonyms.end()) {
      return it->second;
    }
    auto resolved =
        ResolvePseudonymUncached(session, tenant, account_id, writes);
    if (resolved) {
      if (session.pseudonyms.size() >= Session::kMaxCached) {
        session.pseudonyms.clear();
      }
      session.pseudonyms.emplace(std::string(account_id), *resolved);
    }
    return resolved;
  }

  Result<std::string> ResolvePseudonymUncached(
      Session& session, TenantId tenant, std::string_view account_id,
      std::vector<ExtraWrite>& writes) {
    auto h = log_.TenantHmac(tenant, "pseudonym", account_id);
    if (!h) return Err(h.error());
    const std::string forward = PseudonymForwardKey(*h);
    auto existing = ReadRow(&session, tenant, Family::kPseudonyms, forward);
    if (!existing) return Err(existing.error());
    if (*existing) return **existing;
    auto bytes = storage::RandomBytes(10);
    if (!bytes) return Err(bytes.error());
    const std::string pseudonym = "u_" + storage::ToHex(*bytes);
    writes.push_back({Family::kPseudonyms, WriteOp::kPut, forward, pseudonym});
    writes.push_back({Family::kPseudonyms, WriteOp::kPut,
                      PseudonymReverseKey(pseudonym), std::string(account_id)});
    return pseudonym;
  }

  void ScheduleSnapshot(TenantId tenant, Sequence seq) {
    {
      std::lock_guard lock(snap_mu_);
      snap_queue_.emplace_back(tenant, seq);
    }
    snap_cv_.notify_all();
  }

  void SnapshotLoop() {
    for (;;) {
      std::pair<TenantId, Sequence> job;
      {
        std::unique_lock lock(snap_mu_);
        snap_cv_.wait(lock, [&] { return stopping_ || !snap_queue_.empty(); });
        if (snap_queue_.empty()) return;
        job = snap_queue_.front();
        snap_busy_ = true;
      }
      auto state = StateAt(job.first, job.second, true);
      if (state) {
        // A failed snapshot costs only speed: reads fold from an older one.
        log_.PutSnapshot(job.first, job.second, state->Serialize())
            .IgnoreError();
      }
      {
        std::lock_guard lock(snap_mu_);
        snap_queue_.pop_front();
        snap_busy_ = false;
      }
      snap_cv_.notify_all();
    }
  }

  void WaitForSnapshots() {
    std::unique_lock lock(snap_mu_);
    snap_cv_.wait(lock, [&] { return snap_queue_.empty() && !snap_busy_; });
  }

  // Recently read views, by tenant and row key. An append's callback drops
  // the rows it wrote (before its caller hears of it) and bumps the
  // tenant's generation; a reader caches what it read only if the
  // generation did not move meanwhile, so no stale row survives an append.
  struct CachedTenant {
    uint64_t generation = 0;
    std::unordered_map<std::string,
                       std::shared_ptr<const Projector::StoredView>>
        rows;
  };
  static constexpr size_t kMaxCachedRows = 200000;
  std::mutex cache_mu_;
  std::unordered_map<TenantId, CachedTenant> cache_;  // GUARDED_BY(cache_mu_)
  size_t cached_rows_ = 0;                            // GUARDED_BY(cache_mu_)

  void Invalidate(TenantId tenant, const std::vector<std::string>& row_keys) {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(tenant);
    if (it == cache_.end()) return;
    ++it->second.generation;
    for (const std::string& key : row_keys) {
      cached_rows_ -= it->second.rows.erase(key);
    }
  }

  void InvalidateTenant(TenantId tenant) {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(tenant);
    if (it == cache_.end()) return;
    ++it->second.generation;
    cached_rows_ -= it->second.rows.size();
    it->second.rows.clear();
  }

  Result<std::shared_ptr<const Projector::StoredView>> GetStored(
      TenantId tenant, const ViewKey& key) {
    auto row_key = RowKey(tenant, key);
    if (!row_key) return Err(row_key.error());
    uint64_t generation;
    {
      std::lock_guard lock(cache_mu_);
      CachedTenant& t = cache_[tenant];
      auto it = t.rows.find(*row_key);
      if (it != t.rows.end()) return it->second;
      generation = t.generation;
    }
    auto value = log_.GetRow(tenant, Family::kViews, *row_key);
    if (!value) return Err(value.error());
    std::shared_ptr<const Projector::StoredView> stored;
    if (*value) {
      auto text = SplitViewRow(**value);
      if (!text) return Err(text.error());
      stored = std::make_shared<const Projector::StoredView>(
          Projector::StoredView{text->version, std::string(text->json)});
    }
    std::lock_guard lock(cache_mu_);
    CachedTenant& t = cache_[tenant];
    if (t.generation == generation) {
      if (cached_rows_ >= kMaxCachedRows) {
        // Crude but bounded: start over rather than track recency. Every
        // generation moves on, so no read in flight fills the new cache
        // with what it read before.
        for (auto& [id, cached] : cache_) {
          ++cached.generation;
          cached.rows.clear();
        }
        cached_rows_ = 0;
      } else if (t.rows.emplace(*row_key, stored).second) {
        ++cached_rows_;
      }
    }
    return stored;
  }

  storage::EventLog& log_;
  const siteledger::Clock& clock_;
  const Options options_;

  std::mutex sessions_mu_;
  std::unordered_map<TenantId, std::shared_ptr<Session>>
      sessions_;  // GUARDED_BY(sessions_mu_)

  std::mutex snap_mu_;
  std::condition_variable snap_cv_;
  std::deque<std::pair<TenantId, Sequence>>
      snap_queue_;          // GUARDED_BY(snap_mu_)
  bool snap_busy_ = false;  // GUARDED_BY(snap_mu_)
  bool stopping_ = false;   // GUARDED_BY(snap_mu_)
  std::thread snapshotter_;
};

// The views as a command sees them: committed rows, overlaid with the rows
// of the tenant's in-flight appends, overlaid with this command's changes.
class Projector::Impl::RowStore final : public ViewStore {
 public:
  RowStore(Projector::Impl& impl, Projector::Impl::Session& session,
           TenantId tenant)
      : impl_(impl), session_(session), tenant_(tenant) {}

  Result<const ViewDoc*> Get(const ViewKey& key) override {
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      std::shared_ptr<const ViewDoc> doc;
      if (auto cached = session_.docs.find(key);
          cached != session_.docs.end()) {
        doc = cached->second;
      } else {
        auto row_key = impl_.RowKey(tenant_, key);
        if (!row_key) return Err(row_key.error());
        auto value =
            impl_.ReadRow(&session_, tenant_, Family::kViews, *row_key);
        if (!value) return Err(value.error());
        if (*value) {
          auto decoded = DecodeViewRow(**value);
          if (!decoded) return Err(decoded.error());
          doc = std::make_shared<const ViewDoc>(std::move(*decoded));
        }
        if (session_.docs.size() >= Projector::Impl::Session::kMaxCached) {
          session_.docs.clear();
        }
        session_.docs.emplace(key, doc);
      }
      it = cache_.emplace(key, std::move(doc)).first;
    }
    return it->second.get();
  }

  void Put(const ViewKey& key, ViewDoc doc) override {
    cache_.insert_or_assign(key,
                            std::make_shared<const ViewDoc>(std::move(doc)));
    dirty_.insert(key);
  }

  void Delete(const ViewKey& key) override {
    cache_.insert_or_assign(key, nullptr);
    dirty_.insert(key);
  }

  Result<std::vector<ViewKey>> Keys(ViewKind kind) override {
    std::set<ViewKey> keys;
    const std::string prefix(1, static_cast<char>(kind));
    std::string after;
    for (;;) {
      auto rows =
          impl_.log_.ScanRows(tenant_, Family::kViews, prefix, after, 1000);
      if (!rows) return Err(rows.error());
      for (auto& [row_key, value] : *rows) {
        if (kind == ViewKind::kPromoted) {
          auto row = DecodeViewRow(value);
          if (!row) return Err(row.error());
          keys.insert(Projector::Impl::KeyOfRow(row_key, *row));
        } else {
          keys.insert({kind, row_key.substr(1)});
        }
      }
      if (rows->size() < 1000) break;
      after = rows->back().first;
    }
    for (const auto& [fk, pending] : session_.overlay) {
      if (fk.first != Family::kViews || fk.second.empty() ||
          fk.second[0] != static_cast<char>(kind)) {
        continue;
      }
      ViewKey key{kind, fk.second.substr(1)};
      if (kind == ViewKind::kPromoted && pending.value) {
        auto row = DecodeViewRow(*pending.value);
        if (!row) return Err(row.error());
        key = Projector::Impl::KeyOfRow(fk.second, *row);
      }
      if (pending.value) {
        keys.insert(key);
      } else if (kind != ViewKind::kPromoted) {
        keys.erase(key);
      }
    }
    for (const auto& [key, doc] : cache_) {
      if (key.kind != kind || !dirty_.contains(key)) continue;
      if (doc) {
        keys.insert(key);
      } else {
        keys.erase(key);
      }
    }
    return std::vector<ViewKey>(keys.begin(), keys.end());
  }

  // The rows this command changed, as writes for the append; they become
  // the session's decoded rows.
  Status Writes(std::vector<ExtraWrite>& out) {
    for (const ViewKey& key : dirty_) {
      session_.docs.insert_or_assign(key, cache_.at(key));
    }
    for (const ViewKey& key : dirty_) {
      auto row_key = impl_.RowKey(tenant_, key);
      if (!row_key) return row_key.error();
      const auto& doc = cache_.at(key);
      if (doc) {
        out.push_back(
            {Family::kViews, WriteOp::kPut, *row_key, EncodeViewRow(*doc)});
      } else {
        out.push_back({Family::kViews, WriteOp::kDelete, *row_key, ""});
      }
    }
    return Status::Ok();
  }

  std::optional<ViewDoc> Current(const ViewKey& key) {
    auto doc = Get(key);
    if (!doc || *doc == nullptr) return std::nullopt;
    return **doc;
  }

 private:
  Projector::Impl& impl_;
  Projector::Impl::Session& session_;
  TenantId tenant_;
  std::map<ViewKey, std::shared_ptr<const ViewDoc>> cache_;
  std::set<ViewKey> dirty_;
};

void Projector::Impl::Execute(TenantId tenant, Command command, Done done) {
  std::shared_ptr<Session> session = SessionFor(tenant);
  std::unique_lock lock(session->mu);
  auto fail = [&](Status s) {
    lock.unlock();
    done(Err(std::move(s)));
  };

  if (session->poisoned) {
    if (session->in_flight > 0) {
      return fail(Status::Unavailable(
          "an earlier change of this tenant failed to commit; retry"));
    }
    session->Reset();
    session->loaded = false;
    session->poisoned = false;
  }
  if (!session->loaded) {
    auto head = log_.GetHead(tenant);
    if (!head) return fail(head.error());
    session->head = head->seq;
    session->head_time = head->time;
    session->loaded = true;
  }

  // A retry of a request whose first attempt is known: answer as then.
  if (command.fingerprint.empty()) command.fingerprint = command.body.Dump();
  if (!command.idempotency_key.empty()) {
    if (session->idempotency_keys.contains(command.idempotency_key)) {
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
      lock.unlock();
      done(std::move(*result));
      return;
    }
  }

  std::vector<ExtraWrite> writes;
  DecideContext ctx;
  ctx.head = session->head;
  ctx.now = std::max(clock_.Now(), session->head_time);
  ctx.seq_at = [this, tenant](Timestamp t) {
    return log_.SequenceAt(tenant, t);
  };
  ctx.media_quota_bytes = options_.media_quota_bytes;
  if (!command.actor.empty()) {
    if (Status s = schema::CheckAccountId(command.actor); !s.ok()) {
      return fail(s.WithContext("the acting user"));
    }
    auto pseudonym = ResolvePseudonym(*session, tenant, command.actor, writes);
    if (!pseudonym) return fail(pseudonym.error());
    ctx.actor_pseudonym = *pseudonym;
  }

  RowStore store(*this, *session, tenant);
  auto decision = Decide(command, store, ctx);
  if (!decision) return fail(decision.error());

  CommandResult result;
  result.entity = decision->entity;
  if (decision->events.empty()) {
    // Nothing to change: answer with the current view.
    if (result.entity) result.view = store.Current(*result.entity);
    lock.unlock();
    done(std::move(result));
    return;
  }

  // Fold the decided events into the views with the seqs they will get.
  Sequence seq = session->head;
  std::vector<storage::NewEvent> events;
  for (const DecidedEvent& e : decision->events) {
    seq = seq.next();
    if (e.type == event::kTenantRestored) {
      if (session->in_flight > 0) {
        return fail(Status::Unavailable(
            "changes of this tenant are still being written; retry the "
            "restore"));
      }
      const Sequence to(static_cast<uint64_t>(e.payload.GetInt("toSeq")));
      auto target = StateAt(tenant, to, true);
      if (!target) return fail(target.error());
      auto current = CurrentViews(tenant);
      if (!current) return fail(current.error());
      RestoreTo(store, *current, *target, seq);
    } else {
      if (Status s = Apply(store, EventRef{seq, ctx.now, e.type,
                                           ctx.actor_pseudonym, e.payload});
          !s.ok()) {
        return fail(s);
      }
    }
    events.push_back({e.type, ctx.actor_pseudonym, e.payload.Dump()});
  }
  if (Status s = store.Writes(writes); !s.ok()) return fail(s);
  // Media bytes are not part of the overlay: no command reads them.
  std::vector<ExtraWrite> bytes_writes = std::move(command.extra_writes);
  result.first = session->head.next();
  result.last = seq;
  if (result.entity) result.view = store.Current(*result.entity);

  storage::AppendRequest request;
  request.tenant = tenant;
  request.expected_version = session->head;
  request.events = std::move(events);
  request.time = ctx.now;
  request.idempotency_key = command.idempotency_key;
  request.idempotency_fingerprint = command.fingerprint;
  if (!command.idempotency_key.empty()) {
    request.idempotency_response = result.Serialize();
  }

  // What the next command of this tenant must see.
  for (const ExtraWrite& w : writes) {
    session->overlay[{w.family, w.key}] = Session::Pending{
        w.op == WriteOp::kDelete ? std::nullopt
                                 : std::optional<std::string>(w.value),
        seq.value()};
  }
  std::vector<std::string> written_views;
  for (const ExtraWrite& w : writes) {
    if (w.family == Family::kViews) written_views.push_back(w.key);
  }
  request.extra_writes = std::move(writes);
  for (ExtraWrite& w : bytes_writes) {
    request.extra_writes.push_back(std::move(w));
  }
  session->head = seq;
  session->head_time = ctx.now;
  ++session->in_flight;
  if (!command.idempotency_key.empty()) {
    session->idempotency_keys.insert(command.idempotency_key);
  }

  const uint64_t every = options_.snapshot_every;
  const bool snapshot_due = every > 0 && result.last.value() / every >
                                             (result.first.value() - 1) / every;
  // Enqueued under the session lock: the log applies one tenant's appends in
  // the order they arrive, which is the order they were decided in.
  log_.AppendAsync(
      std::move(request),
      [this, tenant, session, key = command.idempotency_key, snapshot_due,
       written_views = std::move(written_views), result = std::move(result),
       done = std::move(done)](Result<storage::AppendResult> appended) mutable {
        // Before anyone hears of the append: readers must not be served
        // the rows it replaced.
        if (appended && !appended->replayed) Invalidate(tenant, written_views);
        {
          std::lock_guard session_lock(session->mu);
          --session->in_flight;
          session->idempotency_keys.erase(key);
          if (!appended) {
            // Later in-flight appends were decided on top of this one; they
            // fail at the log (wrong expected version). Start again from
            // what is durable once they have.
            session->poisoned = true;
            session->Reset();
          } else {
            for (auto it = session->overlay.begin();
                 it != session->overlay.end();) {
              it = it->second.seq <= appended->last.value()
                       ? session->overlay.erase(it)
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
        if (snapshot_due) ScheduleSnapshot(tenant, appended->last);
        done(std::move(result));
      });
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
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<CommandResult>> result;
  };
  auto waiter = std::make_shared<Waiter>();
  Execute(tenant, std::move(command), [waiter](Result<CommandResult> r) {
    {
      std::lock_guard lock(waiter->mu);
      waiter->result = std::move(r);
    }
    waiter->cv.notify_one();
  });
  std::unique_lock lock(waiter->mu);
  waiter->cv.wait(lock, [&] { return waiter->result.has_value(); });
  return std::move(*waiter->result);
}

Result<std::optional<ViewDoc>> Projector::Get(TenantId tenant,
                                              const ViewKey& key) {
  auto stored = impl_->GetStored(tenant, key);
  if (!stored) return Err(stored.error());
  if (*stored == nullptr) return std::optional<ViewDoc>();
  auto doc = ParseViewRow((*stored)->version, (*stored)->json);
  if (!doc) return Err(doc.error());
  return std::optional<ViewDoc>(std::move(*doc));
}

Result<std::shared_ptr<const Projector::StoredView>> Projector::GetStored(
    TenantId tenant, const ViewKey& key) {
  return impl_->GetStored(tenant, key);
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
    page.items.emplace_back(Impl::KeyOfRow((*rows)[i].first, *row),
                            std::move(*row));
    page.cursors.push_back((*rows)[i].first.substr(1));
  }
  if (rows->size() > limit && limit > 0) {
    page.next_cursor = (*rows)[limit - 1].first.substr(1);
  }
  return page;
}

Result<TenantState> Projector::CurrentViews(TenantId tenant) {
  return impl_->CurrentViews(tenant);
}

Result<TenantState> Projector::StateAt(TenantId tenant, Sequence seq,
                                       bool use_snapshots) {
  return impl_->StateAt(tenant, seq, use_snapshots);
}

Result<TenantState> Projector::StateAtTime(TenantId tenant, Timestamp t) {
  auto seq = impl_->log_.SequenceAt(tenant, t);
  if (!seq) return Err(seq.error());
  return impl_->StateAt(tenant, *seq, true);
}

Result<std::optional<std::string>> Projector::PseudonymOf(
    TenantId tenant, std::string_view account_id) {
  return impl_->PseudonymOf(nullptr, tenant, account_id);
}

Result<std::optional<std::string>> Projector::AccountIdOf(
    TenantId tenant, std::string_view pseudonym) {
  return impl_->log_.GetRow(tenant, Family::kPseudonyms,
                            PseudonymReverseKey(pseudonym));
}

void Projector::WaitForSnapshots() { impl_->WaitForSnapshots(); }

void Projector::Forget(TenantId tenant) { impl_->Forget(tenant); }

}  // namespace siteledger::projections
