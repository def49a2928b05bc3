#include <rocksdb/write_batch.h>

#include "storage/base/coding.h"
#include "storage/crypto.h"
#include "storage/event_log.h"
#include "storage/internal/database.h"
#include "storage/internal/envelope_codec.h"
#include "storage/internal/event_log_group.h"
#include "storage/internal/event_log_rows.h"
#include "storage/internal/keys.h"

// Staging: checks one append against its tenant's head (as the group left
// it) and its idempotency record, and adds its rows to the group's batch.
// Runs on the commit thread only.

namespace siteledger::storage {
namespace {

using internal::AllowedExtraFamily;
using internal::IdempotencyRecord;
using internal::TenantRow;
using internal::TenantRowKey;

Status ValidateRequest(const AppendRequest& request) {
  if (request.tenant.value() == 0) {
    return Status::InvalidArgument("tenant 0 is reserved");
  }
  if (!request.imported.empty()) {
    if (!request.events.empty() || request.expected_version ||
        !request.idempotency_key.empty() || request.time ||
        !request.account_index.empty()) {
      return Status::InvalidArgument(
          "an import carries its events whole, and nothing else");
    }
    for (const Event& e : request.imported) {
      SL_RETURN_IF_ERROR(
          ValidateEventParts(e.type, e.actor, e.idempotency_key, e.payload));
    }
  } else if (request.events.empty()) {
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

}  // namespace

Result<Head> EventLog::LoadHead(TenantId tenant) {
  if (auto it = heads_.find(tenant); it != heads_.end()) return it->second;
  auto value =
      db_.Get(Family::kTenants, TenantRowKey(tenant, TenantRow::kHead));
  Head head;
  if (value) {
    auto decoded = internal::DecodeHead(*value);
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
        internal::IdempotencyRowKey(request.tenant, request.idempotency_key);
    fingerprint =
        internal::Fingerprint(request.idempotency_fingerprint, request.events);
    std::optional<IdempotencyRecord> previous;
    if (auto it = group.idempotency.find(idempotency_row);
        it != group.idempotency.end()) {
      previous = it->second;
      pending.needs_batch = true;
    } else {
      auto value = db_.Get(Family::kTenants, idempotency_row);
      if (value) {
        auto decoded = internal::DecodeIdempotency(*value);
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
    if (previous && previous->used_ms + internal::kIdempotencyWindowMs >=
                        MillisOf(group.now)) {
      if (previous->fingerprint != fingerprint) {
        pending.result = Err(Status::Conflict(
            "this idempotency key was already used for a different request",
            head.seq.value()));
        return;
      }
      AppendResult replay = previous->result;
      replay.replayed = true;
      if (!previous->sealed_response.empty()) {
        auto response = key.value()->Open(
            previous->sealed_response, internal::ResponseAad(idempotency_row));
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
  // Seals and batches one event; the chain covers the plaintext envelope.
  auto put = [&](const Event& e) -> Status {
    const std::string row_key = internal::EventKey(request.tenant, e.seq);
    std::string value = internal::EncodeHeader(e, internal::kStoredFormat);
    std::string aad = internal::RowAad(Family::kEvents, row_key);
    aad += value;
    std::string sealed;
    SL_RETURN_IF_ERROR(key.value()->SealAppend(e.payload, aad, sealed));
    coding::PutU32(value, static_cast<uint32_t>(sealed.size()));
    value += sealed;
    batch.Put(events_cf, row_key, value).PermitUncheckedError();
    head.bytes += row_key.size() + value.size();
    head.hash = HashOf(e);
    head.seq = e.seq;
    head.time = e.time;
    return Status::Ok();
  };
  if (!request.imported.empty()) {
    for (const Event& e : request.imported) {
      if (e.seq != head.seq.next() || e.prev_hash != head.hash ||
          e.time < head.time) {
        fail(Status::Conflict("imported event " +
                                  std::to_string(e.seq.value()) +
                                  " does not follow the log at " +
                                  std::to_string(head.seq.value()) +
                                  " (seq, previous hash or time)",
                              head.seq.value()));
        return;
      }
      if (Status s = put(e); !s.ok()) {
        fail(std::move(s));
        return;
      }
    }
    result.first = request.imported.front().seq;
    result.last = head.seq;
    result.time = head.time;
    batch.PopSavePoint().PermitUncheckedError();
    group.keys[request.tenant] = *key;
    group.heads[request.tenant] = head;
    pending.result = result;
    pending.needs_batch = true;
    pending.events_written = request.imported.size();
    return;
  }
  Event event;
  event.time = time;
  event.idempotency_key = request.idempotency_key;
  for (const NewEvent& e : request.events) {
    event.seq = head.seq.next();
    event.type = e.type;
    event.actor = e.actor;
    event.prev_hash = head.hash;
    event.payload = e.payload;
    if (Status s = put(event); !s.ok()) {
      fail(std::move(s));
      return;
    }
  }
  result.last = head.seq;
  if (const uint64_t quota = options_.tenant_log_quota_bytes;
      quota != 0 && head.bytes > quota) {
    fail(Status::QuotaExceeded(
        "this site's event log would take " + std::to_string(head.bytes) +
        " bytes; its quota is " + std::to_string(quota)));
    return;
  }

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
  if (!request.account_index.empty()) {
    auto index = AccountIndexRows(request.tenant, request.account_index);
    if (!index) {
      fail(index.error());
      return;
    }
    for (auto& [row_key, deleted] : *index) {
      staged_rows.push_back(
          {Family::kTenants, std::move(row_key), deleted, {}});
    }
  }

  if (!idempotency_row.empty()) {
    IdempotencyRecord rec;
    rec.used_ms = MillisOf(group.now);
    rec.result = result;
    rec.fingerprint = fingerprint;
    if (!request.idempotency_response.empty()) {
      if (Status s = key.value()->SealAppend(
              request.idempotency_response,
              internal::ResponseAad(idempotency_row), rec.sealed_response);
          !s.ok()) {
        fail(std::move(s));
        return;
      }
    }
    rec.result.response = request.idempotency_response;
    batch
        .Put(db_.cf(Family::kTenants), idempotency_row,
             internal::EncodeIdempotency(rec))
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

}  // namespace siteledger::storage
