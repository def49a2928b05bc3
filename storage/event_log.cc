#include "storage/event_log.h"

#include <linux/futex.h>
#include <pthread.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bit>
#include <climits>

#include "storage/crypto.h"
#include "storage/base/coding.h"
#include "storage/internal/database.h"
#include "storage/internal/envelope_codec.h"
#include "storage/internal/keys.h"

namespace siteledger::storage {
namespace {

using internal::TenantRow;
using internal::TenantRowKey;

constexpr int64_t kIdempotencyWindowMs = 24LL * 3600 * 1000;

// Associated data for a sealed row: the family and the full key, so that a
// value cannot be moved to another row (or tenant) and still open.
std::string RowAad(Family family, std::string_view full_key) {
  std::string aad(FamilyName(family));
  aad.push_back('\0');
  aad += full_key;
  return aad;
}

std::string EncodeHead(const Head& head) {
  std::string out;
  coding::PutU64(out, head.seq.value());
  coding::PutI64(out, MillisOf(head.time));
  out.append(reinterpret_cast<const char*>(head.hash.data()), head.hash.size());
  return out;
}

Result<Head> DecodeHead(std::string_view value) {
  coding::Reader r(value);
  auto seq = r.U64();
  auto time = r.U64();
  auto hash = r.Bytes(32);
  if (r.failed() || !r.done()) {
    return Err(Status::Corruption("a tenant's head row is malformed"));
  }
  Head head;
  head.seq = Sequence(*seq);
  head.time = TimestampFromMillis(static_cast<int64_t>(*time));
  std::copy(hash->begin(), hash->end(), head.hash.begin());
  return head;
}

// The idempotency row: first use (ms; the compaction filter reads it), then
// the result and the request's fingerprint.
struct IdempotencyRecord {
  int64_t used_ms = 0;
  AppendResult result;
  Hash fingerprint{};
  std::string sealed_response;  // sealed with the tenant's key; may be empty
};

std::string EncodeIdempotency(const IdempotencyRecord& rec) {
  std::string out;
  coding::PutI64(out, rec.used_ms);
  coding::PutU64(out, rec.result.first.value());
  coding::PutU64(out, rec.result.last.value());
  coding::PutI64(out, MillisOf(rec.result.time));
  out.append(reinterpret_cast<const char*>(rec.fingerprint.data()), 32);
  out += rec.sealed_response;
  return out;
}

Result<IdempotencyRecord> DecodeIdempotency(std::string_view value) {
  coding::Reader r(value);
  auto used = r.U64();
  auto first = r.U64();
  auto last = r.U64();
  auto time = r.U64();
  auto fp = r.Bytes(32);
  if (r.failed()) {
    return Err(Status::Corruption("an idempotency row is malformed"));
  }
  IdempotencyRecord rec;
  rec.used_ms = static_cast<int64_t>(*used);
  rec.result.first = Sequence(*first);
  rec.result.last = Sequence(*last);
  rec.result.time = TimestampFromMillis(static_cast<int64_t>(*time));
  std::copy(fp->begin(), fp->end(), rec.fingerprint.begin());
  rec.sealed_response = std::string(r.Rest());
  return rec;
}

Hash Fingerprint(std::string_view explicit_fingerprint,
                 const std::vector<NewEvent>& events);

std::string IdempotencyRowKey(TenantId tenant, std::string_view key) {
  const Hash h = Sha256(key);
  return TenantRowKey(
      tenant, TenantRow::kIdempotency,
      std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

std::string ResponseAad(std::string_view row_key) {
  std::string aad = "idempotency response";
  aad.push_back('\0');
  aad += row_key;
  return aad;
}

Hash Fingerprint(std::string_view explicit_fingerprint,
                 const std::vector<NewEvent>& events) {
  if (!explicit_fingerprint.empty()) return Sha256(explicit_fingerprint);
  Sha256Hasher hasher;
  for (const NewEvent& e : events) {
    std::string lens;
    coding::PutU32(lens, static_cast<uint32_t>(e.type.size()));
    coding::PutU32(lens, static_cast<uint32_t>(e.actor.size()));
    coding::PutU32(lens, static_cast<uint32_t>(e.payload.size()));
    hasher.Update(lens);
    hasher.Update(e.type);
    hasher.Update(e.actor);
    hasher.Update(e.payload);
  }
  return hasher.Finish();
}

bool AllowedExtraFamily(Family family) {
  return family == Family::kViews || family == Family::kSnapshots ||
         family == Family::kBlobs || family == Family::kPseudonyms ||
         family == Family::kIndex;
}

Status ValidateRequest(const AppendRequest& request) {
  if (request.tenant.value() == 0) {
    return Status::InvalidArgument("tenant 0 is reserved");
  }
  if (request.events.empty()) {
    return Status::InvalidArgument("an append needs at least one event");
  }
  if (request.idempotency_key.size() > kMaxIdempotencyKeyBytes) {
    return Status::InvalidArgument(
        "idempotency key must be at most 128 printable ASCII bytes");
  }
  for (const NewEvent& e : request.events) {
    SL_RETURN_IF_ERROR(ValidateEventParts(e.type, e.actor,
                                          request.idempotency_key, e.payload));
  }
  for (const ExtraWrite& w : request.extra_writes) {
    if (!AllowedExtraFamily(w.family)) {
      return Status::InvalidArgument("an append may not write to the " +
                                     std::string(FamilyName(w.family)) +
                                     " family");
    }
    if (w.key.empty()) {
      return Status::InvalidArgument("an extra write needs a key");
    }
    if (w.op == WriteOp::kMerge && w.family != Family::kIndex) {
      return Status::InvalidArgument("merges go to the index family only");
    }
  }
  return Status::Ok();
}

// Blocking appends sleep on a futex directly. std::atomic::wait spins and
// calls sched_yield first, which on a small machine with many waiting
// writers steals the CPU from the very thread they wait for.
void FutexWait(std::atomic<uint32_t>& word, uint32_t expected) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE,
            expected, nullptr, nullptr, 0);
}

void FutexWakeAll(std::atomic<uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE,
            INT32_MAX, nullptr, nullptr, 0);
}

size_t RequestBytes(const AppendRequest& request) {
  size_t n = 64;
  for (const NewEvent& e : request.events) {
    n += 128 + e.type.size() + e.actor.size() + e.payload.size();
  }
  for (const ExtraWrite& w : request.extra_writes) {
    n += 64 + w.key.size() + w.value.size();
  }
  return n;
}

}  // namespace

struct EventLog::Pending {
  AppendRequest request;
  AppendCallback done;  // or, for a blocking Append, the two fields below
  std::optional<Result<AppendResult>>* sync_result = nullptr;
  std::atomic<bool>* sync_ready = nullptr;
  std::optional<Result<AppendResult>> result;
  // The outcome stands only if the group's batch is written: this append
  // staged writes, or replays one staged in the same group.
  bool needs_batch = false;
  size_t events_written = 0;
};

struct EventLog::GroupState {
  rocksdb::WriteBatch batch;
  // Row writes staged by the group's appends, the last per key; sealed and
  // added to the batch by WriteGroup.
  struct Row {
    Family family;
    std::string key;  // empty once in `rows` (the map key holds it)
    bool deleted = false;
    std::string value;  // plaintext
  };
  std::map<std::pair<Family, std::string>, Row> rows;
  std::unordered_map<TenantId, std::shared_ptr<const AeadKey>> keys;
  // Heads after this group's staged appends.
  std::unordered_map<TenantId, Head> heads;
  // Idempotency results staged in this group, by idempotency row key.
  std::unordered_map<std::string, IdempotencyRecord> idempotency;
  Timestamp now{};
};

EventLog::EventLog(internal::Database& database, KeyStore& keys,
                   const Clock& clock, Options options)
    : db_(database), keys_(keys), clock_(clock), options_(options) {
  committer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sl-commit");
    CommitLoop();
  });
}

EventLog::~EventLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  committer_.join();
}

Result<AppendResult> EventLog::Append(TenantId tenant,
                                      std::optional<Sequence> expected_version,
                                      std::vector<NewEvent> events,
                                      std::vector<ExtraWrite> extra_writes) {
  AppendRequest request;
  request.tenant = tenant;
  request.expected_version = expected_version;
  request.events = std::move(events);
  request.extra_writes = std::move(extra_writes);
  return Append(std::move(request));
}

Result<AppendResult> EventLog::Append(AppendRequest request) {
  // A blocking append waits on the log's completion epoch rather than a
  // condition variable of its own: the committer wakes a whole group of
  // waiters with one futex call instead of one call each.
  std::optional<Result<AppendResult>> result;
  std::atomic<bool> ready{false};
  auto pending = std::make_unique<Pending>();
  pending->request = std::move(request);
  pending->sync_result = &result;
  pending->sync_ready = &ready;
  Enqueue(std::move(pending));
  for (;;) {
    const uint32_t epoch = completion_epoch_.load(std::memory_order_acquire);
    if (ready.load(std::memory_order_acquire)) break;
    FutexWait(completion_epoch_, epoch);
  }
  return std::move(*result);
}

void EventLog::AppendAsync(AppendRequest request, AppendCallback done) {
  auto pending = std::make_unique<Pending>();
  pending->request = std::move(request);
  pending->done = std::move(done);
  Enqueue(std::move(pending));
}

void EventLog::Enqueue(std::unique_ptr<Pending> pending) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(pending));
    }
  }
  if (pending) {
    Complete(*pending,
             Err(Status::Unavailable("the event log is shutting down")));
    NotifyCompletions();
    return;
  }
  // The committer stages each request as it arrives, so wake it every time
  // (a signal with no waiter costs no system call).
  cv_.notify_one();
}

void EventLog::Complete(Pending& pending, Result<AppendResult> result) {
  if (pending.sync_ready != nullptr) {
    *pending.sync_result = std::move(result);
    // After this store the waiter may return: touch nothing of it again.
    pending.sync_ready->store(true, std::memory_order_release);
  } else {
    pending.done(std::move(result));
  }
}

void EventLog::NotifyCompletions() {
  completion_epoch_.fetch_add(1, std::memory_order_release);
  FutexWakeAll(completion_epoch_);
}

void EventLog::CommitLoop() {
  std::vector<std::unique_ptr<Pending>> group;
  std::vector<std::unique_ptr<Pending>> arrived;
  std::chrono::nanoseconds write_time{0};  // moving average of a synced write
  size_t target = 1;  // requests expected in the next group
  for (;;) {
    GroupState state;
    size_t bytes = 0;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      state.now = clock_.Now();
      // Writers released by the last group come back within microseconds.
      // Waiting a little for them (never more than half a synced write)
      // turns alternating half-size groups into one full group: with N
      // blocking writers, about twice the appends per fsync. Requests are
      // staged as they arrive, so the wait also hides the staging work.
      const auto deadline = std::chrono::steady_clock::now() +
                            std::min<std::chrono::nanoseconds>(
                                options_.max_group_wait, write_time / 2);
      for (;;) {
        while (!queue_.empty() &&
               group.size() + arrived.size() < options_.max_group_requests &&
               bytes < options_.max_group_bytes) {
          bytes += RequestBytes(queue_.front()->request);
          arrived.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        lock.unlock();
        for (auto& pending : arrived) {
          Stage(*pending, state);
          group.push_back(std::move(pending));
        }
        arrived.clear();
        lock.lock();
        if (stopping_ || group.size() >= target ||
            group.size() >= options_.max_group_requests ||
            bytes >= options_.max_group_bytes) {
          break;
        }
        if (!cv_.wait_until(lock, deadline,
                            [&] { return stopping_ || !queue_.empty(); })) {
          break;  // the rest did not come back in time
        }
      }
    }
    const auto start = std::chrono::steady_clock::now();
    WriteGroup(group, state);
    write_time =
        (write_time * 7 + (std::chrono::steady_clock::now() - start)) / 8;
    {
      // Expect the writers about to be answered back, plus those that
      // arrived while this group was written. Counted before answering, so
      // that a quick writer's next request is not counted twice.
      std::lock_guard lock(mu_);
      target =
          std::min(group.size() + queue_.size(), options_.max_group_requests);
    }
    for (auto& pending : group) Complete(*pending, std::move(*pending->result));
    NotifyCompletions();
    group.clear();
  }
}

Result<std::shared_ptr<const AeadKey>> EventLog::KeyFor(TenantId tenant) const {
  return keys_.Get(tenant);
}

Result<Head> EventLog::LoadHead(TenantId tenant) {
  if (auto it = heads_.find(tenant); it != heads_.end()) return it->second;
  auto value =
      db_.Get(Family::kTenants, TenantRowKey(tenant, TenantRow::kHead));
  Head head;
  if (value) {
    auto decoded = DecodeHead(*value);
    if (!decoded) return Err(decoded.error());
    head = *decoded;
  } else if (value.error().code() != StatusCode::kNotFound) {
    return Err(value.error());
  }
  heads_.emplace(tenant, head);
  return head;
}

void EventLog::Stage(Pending& pending, GroupState& group) {
  const AppendRequest& request = pending.request;
  if (Status s = ValidateRequest(request); !s.ok()) {
    pending.result = Err(std::move(s));
    return;
  }
  auto key = KeyFor(request.tenant);
  if (!key) {
    pending.result = Err(key.error());
    return;
  }
  Head head;
  if (auto it = group.heads.find(request.tenant); it != group.heads.end()) {
    head = it->second;
  } else {
    auto loaded = LoadHead(request.tenant);
    if (!loaded) {
      pending.result = Err(loaded.error());
      return;
    }
    head = *loaded;
  }

  std::string idempotency_row;
  Hash fingerprint{};
  if (!request.idempotency_key.empty()) {
    idempotency_row =
        IdempotencyRowKey(request.tenant, request.idempotency_key);
    fingerprint = Fingerprint(request.idempotency_fingerprint, request.events);
    std::optional<IdempotencyRecord> previous;
    if (auto it = group.idempotency.find(idempotency_row);
        it != group.idempotency.end()) {
      previous = it->second;
      pending.needs_batch = true;
    } else {
      auto value = db_.Get(Family::kTenants, idempotency_row);
      if (value) {
        auto decoded = DecodeIdempotency(*value);
        if (!decoded) {
          pending.result = Err(decoded.error());
          return;
        }
        previous = *decoded;
      } else if (value.error().code() != StatusCode::kNotFound) {
        pending.result = Err(value.error());
        return;
      }
    }
    if (previous &&
        previous->used_ms + kIdempotencyWindowMs >= MillisOf(group.now)) {
      if (previous->fingerprint != fingerprint) {
        pending.result = Err(Status::Conflict(
            "this idempotency key was already used for a different request",
            head.seq.value()));
        return;
      }
      AppendResult replay = previous->result;
      replay.replayed = true;
      if (!previous->sealed_response.empty()) {
        auto response = key.value()->Open(previous->sealed_response,
                                          ResponseAad(idempotency_row));
        if (!response) {
          pending.result = Err(response.error());
          return;
        }
        replay.response = std::move(*response);
      }
      pending.result = replay;
      return;
    }
  }

  if (request.expected_version && *request.expected_version != head.seq) {
    pending.result = Err(Status::Conflict(
        "expected version " +
            std::to_string(request.expected_version->value()) +
            " but the log is at " + std::to_string(head.seq.value()),
        head.seq.value()));
    return;
  }

  rocksdb::WriteBatch& batch = group.batch;
  batch.SetSavePoint();
  std::vector<GroupState::Row> staged_rows;
  auto fail = [&](Status s) {
    batch.RollbackToSavePoint().PermitUncheckedError();
    pending.result = Err(std::move(s));
  };

  if (request.time && *request.time < head.time) {
    pending.result = Err(Status::InvalidArgument(
        "an append's time may not be earlier than the tenant's last event"));
    return;
  }
  const Timestamp time =
      request.time ? *request.time : std::max(group.now, head.time);
  AppendResult result;
  result.first = head.seq.next();
  result.time = time;
  rocksdb::ColumnFamilyHandle* events_cf = db_.cf(Family::kEvents);
  Event event;
  event.time = time;
  event.idempotency_key = request.idempotency_key;
  for (const NewEvent& e : request.events) {
    event.seq = head.seq.next();
    event.type = e.type;
    event.actor = e.actor;
    event.prev_hash = head.hash;
    event.payload.clear();
    const std::string row_key = internal::EventKey(request.tenant, event.seq);
    std::string value = internal::EncodeHeader(event, internal::kStoredFormat);
    std::string aad = RowAad(Family::kEvents, row_key);
    aad += value;
    std::string sealed;
    if (Status s = key.value()->SealAppend(e.payload, aad, sealed); !s.ok()) {
      fail(std::move(s));
      return;
    }
    coding::PutU32(value, static_cast<uint32_t>(sealed.size()));
    value += sealed;
    batch.Put(events_cf, row_key, value).PermitUncheckedError();
    // The chain covers the plaintext envelope.
    event.payload = e.payload;
    head.hash = HashOf(event);
    head.seq = event.seq;
    head.time = time;
  }
  result.last = head.seq;

  // Puts and deletes of rows wait in the group, the last write of a key
  // winning, and are sealed and batched once in WriteGroup: a tenant's
  // busy row (a menu many users save at once) costs one seal and one
  // memtable entry per group, not one per append. Merges keep their order.
  for (const ExtraWrite& w : request.extra_writes) {
    std::string row_key = internal::TenantKey(request.tenant, w.key);
    if (w.op == WriteOp::kMerge) {
      batch.Merge(db_.cf(w.family), row_key, w.value).PermitUncheckedError();
      continue;
    }
    staged_rows.push_back(
        {w.family, std::move(row_key), w.op == WriteOp::kDelete, w.value});
  }

  if (!idempotency_row.empty()) {
    IdempotencyRecord rec;
    rec.used_ms = MillisOf(group.now);
    rec.result = result;
    rec.fingerprint = fingerprint;
    if (!request.idempotency_response.empty()) {
      if (Status s = key.value()->SealAppend(request.idempotency_response,
                                             ResponseAad(idempotency_row),
                                             rec.sealed_response);
          !s.ok()) {
        fail(std::move(s));
        return;
      }
    }
    rec.result.response = request.idempotency_response;
    batch.Put(db_.cf(Family::kTenants), idempotency_row, EncodeIdempotency(rec))
        .PermitUncheckedError();
    group.idempotency[idempotency_row] = rec;
  }
  batch.PopSavePoint().PermitUncheckedError();
  for (GroupState::Row& row : staged_rows) {
    auto key_pair = std::make_pair(row.family, row.key);
    group.rows.insert_or_assign(
        std::move(key_pair),
        GroupState::Row{row.family, {}, row.deleted, std::move(row.value)});
  }
  group.keys[request.tenant] = *key;
  group.heads[request.tenant] = head;
  pending.result = result;
  pending.needs_batch = true;
  pending.events_written = request.events.size();
}

void EventLog::WriteGroup(std::vector<std::unique_ptr<Pending>>& group,
                          GroupState& state) {
  Status sealed;
  for (auto& [family_key, row] : state.rows) {
    const auto& [family, row_key] = family_key;
    rocksdb::ColumnFamilyHandle* cf = db_.cf(family);
    if (row.deleted) {
      state.batch.Delete(cf, row_key).PermitUncheckedError();
    } else if (IsEncryptedFamily(family)) {
      const auto& key = state.keys.at(internal::TenantOfKey(row_key));
      std::string value;
      sealed = key->SealAppend(row.value, RowAad(family, row_key), value);
      if (!sealed.ok()) break;
      state.batch.Put(cf, row_key, value).PermitUncheckedError();
    } else {
      state.batch.Put(cf, row_key, row.value).PermitUncheckedError();
    }
  }
  // One head row per tenant per group, however many appends it had.
  for (const auto& [tenant, head] : state.heads) {
    state.batch
        .Put(db_.cf(Family::kTenants), TenantRowKey(tenant, TenantRow::kHead),
             EncodeHead(head))
        .PermitUncheckedError();
  }
  Status written = sealed;
  if (written.ok() && state.batch.Count() > 0) {
    written = db_.WriteSynced(state.batch);
  }
  uint64_t events = 0;
  if (written.ok()) {
    for (auto& [tenant, head] : state.heads) heads_[tenant] = head;
    for (auto& pending : group) events += pending->events_written;
  } else {
    // Nothing of the batch is durable. Forget cached heads: the next group
    // reloads them from what is on disk.
    heads_.clear();
    for (auto& pending : group) {
      if (pending->needs_batch) pending->result = Err(written);
    }
  }
  stat_groups_.fetch_add(1, std::memory_order_relaxed);
  stat_requests_.fetch_add(group.size(), std::memory_order_relaxed);
  stat_events_.fetch_add(events, std::memory_order_relaxed);
  const size_t bucket = std::min<size_t>(std::bit_width(group.size()) - 1, 11);
  stat_histogram_[bucket].fetch_add(1, std::memory_order_relaxed);
}

EventLog::Stats EventLog::stats() const {
  Stats s;
  s.groups = stat_groups_.load(std::memory_order_relaxed);
  s.requests = stat_requests_.load(std::memory_order_relaxed);
  s.events = stat_events_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < s.group_size_histogram.size(); ++i) {
    s.group_size_histogram[i] =
        stat_histogram_[i].load(std::memory_order_relaxed);
  }
  return s;
}

Result<std::optional<AppendResult>> EventLog::LookupIdempotency(
    TenantId tenant, std::string_view idempotency_key,
    std::string_view fingerprint) const {
  const std::string row_key = IdempotencyRowKey(tenant, idempotency_key);
  auto value = db_.Get(Family::kTenants, row_key);
  if (!value) {
    if (value.error().code() == StatusCode::kNotFound) {
      return std::optional<AppendResult>();
    }
    return Err(value.error());
  }
  auto rec = DecodeIdempotency(*value);
  if (!rec) return Err(rec.error());
  if (rec->used_ms + kIdempotencyWindowMs < MillisOf(clock_.Now())) {
    return std::optional<AppendResult>();
  }
  if (rec->fingerprint != Sha256(fingerprint)) {
    return Err(Status::Conflict(
        "this idempotency key was already used for a different request"));
  }
  AppendResult result = rec->result;
  result.replayed = true;
  if (!rec->sealed_response.empty()) {
    auto key = KeyFor(tenant);
    if (!key) return Err(key.error());
    auto response = (*key)->Open(rec->sealed_response, ResponseAad(row_key));
    if (!response) return Err(response.error());
    result.response = std::move(*response);
  }
  return std::optional<AppendResult>(std::move(result));
}

Result<Hash> EventLog::TenantHmac(TenantId tenant, std::string_view purpose,
                                  std::string_view data) const {
  auto key = KeyFor(tenant);
  if (!key) return Err(key.error());
  std::string label = "siteledger tenant hmac ";
  label += purpose;
  const Hash derived = HmacSha256((*key)->bytes(), label);
  return HmacSha256(
      std::string_view(reinterpret_cast<const char*>(derived.data()),
                       derived.size()),
      data);
}

Result<Head> EventLog::GetHead(TenantId tenant) const {
  auto value =
      db_.Get(Family::kTenants, TenantRowKey(tenant, TenantRow::kHead));
  if (!value) {
    if (value.error().code() == StatusCode::kNotFound) return Head{};
    return Err(value.error());
  }
  return DecodeHead(*value);
}

namespace {

// Opens one stored envelope into an Event with its plaintext payload.
Result<Event> OpenEnvelope(const AeadKey& key, std::string_view row_key,
                           std::string_view stored) {
  auto env = internal::DecodeStored(stored);
  if (!env) return Err(env.error());
  std::string aad = RowAad(Family::kEvents, row_key);
  aad += env->header;
  auto payload = key.Open(env->sealed, aad);
  if (!payload) {
    return Err(Status::Corruption("the envelope was altered on disk"));
  }
  env->event.payload = std::move(*payload);
  return std::move(env->event);
}

std::string SeqText(Sequence seq) { return std::to_string(seq.value()); }

}  // namespace

Result<std::vector<Event>> EventLog::Read(TenantId tenant, Sequence from,
                                          size_t max_events) const {
  max_events = std::min(max_events, options_.max_read_events);
  std::vector<Event> out;
  if (max_events == 0) return out;
  auto key = KeyFor(tenant);
  if (!key) return Err(key.error());
  const std::string end = internal::TenantRangeEnd(tenant);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(ro, db_.cf(Family::kEvents)));
  for (it->Seek(internal::EventKey(tenant, std::max(from, Sequence(1))));
       it->Valid() && out.size() < max_events; it->Next()) {
    auto event = OpenEnvelope(**key, it->key().ToStringView(),
                              it->value().ToStringView());
    if (!event) {
      return Err(event.error().WithContext(
          "event " +
          SeqText(internal::SequenceOfKey(it->key().ToStringView()))));
    }
    out.push_back(std::move(*event));
  }
  SL_RETURN_ERR_IF_ERROR(internal::FromRocks(it->status(), "reading events"));
  return out;
}

Result<Sequence> EventLog::SequenceAt(TenantId tenant, Timestamp t) const {
  auto head = GetHead(tenant);
  if (!head) return Err(head.error());
  // Times are monotonic within a tenant: binary search on the envelopes'
  // plaintext time, without decrypting anything.
  uint64_t lo = 1, hi = head->seq.value(), found = 0;
  while (lo <= hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    auto value =
        db_.Get(Family::kEvents, internal::EventKey(tenant, Sequence(mid)));
    if (!value)
      return Err(value.error().WithContext("event " + std::to_string(mid)));
    auto env = internal::DecodeStored(*value);
    if (!env) return Err(env.error());
    if (env->event.time <= t) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return Sequence(found);
}

Status EventLog::PutSnapshot(TenantId tenant, Sequence seq,
                             std::string_view state) {
  auto key = KeyFor(tenant);
  if (!key) return key.error();
  const std::string row_key = internal::SnapshotKey(tenant, seq);
  std::string sealed;
  SL_RETURN_IF_ERROR(
      (*key)->SealAppend(state, RowAad(Family::kSnapshots, row_key), sealed));
  rocksdb::WriteBatch batch;
  batch.Put(db_.cf(Family::kSnapshots), row_key, sealed).PermitUncheckedError();
  return db_.WriteSynced(batch);
}

Result<std::optional<Snapshot>> EventLog::NearestSnapshot(TenantId tenant,
                                                          Sequence seq) const {
  const std::string lower = internal::TenantPrefix(tenant);
  rocksdb::Slice lower_bound(lower);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_bound;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(ro, db_.cf(Family::kSnapshots)));
  const std::string target = internal::SnapshotKey(tenant, seq);
  it->SeekForPrev(target);
  if (!it->Valid()) {
    SL_RETURN_ERR_IF_ERROR(
        internal::FromRocks(it->status(), "reading snapshots"));
    return std::optional<Snapshot>();
  }
  const std::string_view row_key = it->key().ToStringView();
  if (internal::TenantOfKey(row_key) != tenant) {
    return std::optional<Snapshot>();
  }
  auto key = KeyFor(tenant);
  if (!key) return Err(key.error());
  auto state = (*key)->Open(it->value().ToStringView(),
                            RowAad(Family::kSnapshots, row_key));
  if (!state) {
    return Err(state.error().WithContext(
        "snapshot at " + SeqText(internal::SequenceOfKey(row_key))));
  }
  return std::optional<Snapshot>(
      Snapshot{internal::SequenceOfKey(row_key), std::move(*state)});
}

Result<std::optional<std::string>> EventLog::GetRow(
    TenantId tenant, Family family, std::string_view key_suffix) const {
  const std::string row_key = internal::TenantKey(tenant, key_suffix);
  auto value = db_.Get(family, row_key);
  if (!value) {
    if (value.error().code() == StatusCode::kNotFound) {
      return std::optional<std::string>();
    }
    return Err(value.error());
  }
  if (!IsEncryptedFamily(family)) return std::optional<std::string>(*value);
  auto key = KeyFor(tenant);
  if (!key) return Err(key.error());
  auto plain = (*key)->Open(*value, RowAad(family, row_key));
  if (!plain) return Err(plain.error());
  return std::optional<std::string>(std::move(*plain));
}

Result<std::vector<std::pair<std::string, std::string>>> EventLog::ScanRows(
    TenantId tenant, Family family, std::string_view prefix,
    std::string_view start_after, size_t limit) const {
  std::vector<std::pair<std::string, std::string>> out;
  std::shared_ptr<const AeadKey> key;
  if (IsEncryptedFamily(family)) {
    auto k = KeyFor(tenant);
    if (!k) return Err(k.error());
    key = std::move(*k);
  }
  const std::string start = internal::TenantKey(tenant, prefix);
  // The exclusive upper bound: the prefix with its last byte incremented, or
  // the tenant's range end when the prefix is empty or all 0xff.
  std::string end = start;
  while (end.size() > internal::kTenantPrefixBytes &&
         static_cast<uint8_t>(end.back()) == 0xff) {
    end.pop_back();
  }
  if (end.size() > internal::kTenantPrefixBytes) {
    end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
  } else {
    end = internal::TenantRangeEnd(tenant);
  }
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(ro, db_.cf(family)));
  if (start_after.empty()) {
    it->Seek(start);
  } else {
    const std::string after = internal::TenantKey(tenant, start_after);
    it->Seek(after);
    if (it->Valid() && it->key().ToStringView() == after) it->Next();
  }
  for (; it->Valid() && out.size() < limit; it->Next()) {
    const std::string_view row_key = it->key().ToStringView();
    std::string value(it->value().ToStringView());
    if (key) {
      auto plain = key->Open(value, RowAad(family, row_key));
      if (!plain) return Err(plain.error());
      value = std::move(*plain);
    }
    out.emplace_back(std::string(row_key.substr(internal::kTenantPrefixBytes)),
                     std::move(value));
  }
  SL_RETURN_ERR_IF_ERROR(internal::FromRocks(it->status(), "scanning rows"));
  return out;
}

Result<VerifyReport> EventLog::Verify(TenantId tenant) const {
  VerifyReport report;
  auto bad = [&](Sequence seq, std::string problem) {
    report.ok = false;
    report.first_bad = seq;
    report.problem = std::move(problem);
    return report;
  };
  auto key = KeyFor(tenant);
  if (!key) return Err(key.error());
  auto head = GetHead(tenant);
  if (!head) return Err(head.error());

  const std::string end = internal::TenantRangeEnd(tenant);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(ro, db_.cf(Family::kEvents)));
  Hash prev{};
  Sequence expected(1);
  for (it->Seek(internal::TenantPrefix(tenant)); it->Valid(); it->Next()) {
    const std::string_view row_key = it->key().ToStringView();
    const Sequence seq = internal::SequenceOfKey(row_key);
    if (row_key.size() != 16 || seq != expected) {
      return bad(expected, "event " + SeqText(expected) + " is missing");
    }
    auto event = OpenEnvelope(**key, row_key, it->value().ToStringView());
    if (!event) {
      return bad(seq, "event " + SeqText(seq) + ": " + event.error().message());
    }
    if (event->seq != seq) {
      return bad(seq,
                 "event " + SeqText(seq) + " names seq " + SeqText(event->seq));
    }
    if (event->prev_hash != prev) {
      return bad(seq, "event " + SeqText(seq) +
                          " does not carry the hash of the event before it");
    }
    prev = HashOf(*event);
    ++report.events_checked;
    expected = expected.next();
  }
  SL_RETURN_ERR_IF_ERROR(internal::FromRocks(it->status(), "verifying"));
  if (head->seq.value() != report.events_checked) {
    return bad(Sequence(report.events_checked + 1),
               "the head names seq " + SeqText(head->seq) +
                   " but the log ends at " +
                   std::to_string(report.events_checked));
  }
  if (head->hash != prev) {
    return bad(head->seq, "the head's hash does not match the last event");
  }
  return report;
}

}  // namespace siteledger::storage
