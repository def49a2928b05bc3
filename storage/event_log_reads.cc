#include <rocksdb/db.h>

#include "storage/base/coding.h"
#include "storage/crypto.h"
#include "storage/event_log.h"
#include "storage/internal/database.h"
#include "storage/internal/envelope_codec.h"
#include "storage/internal/event_log_rows.h"
#include "storage/internal/keys.h"

// Reads: the head, events (decrypted), the seq at a time, rows written
// through appends (and the row writes of a rebuild), row cursors, tenant HMACs,
// and the walk that verifies a chain. None of them goes through the commit
// thread.

namespace siteledger::storage {
namespace internal {

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
  coding::PutU64(out, head.bytes);
  return out;
}

Result<Head> DecodeHead(std::string_view value) {
  coding::Reader r(value);
  auto seq = r.U64();
  auto time = r.U64();
  auto hash = r.Bytes(32);
  // The byte count came later: a row without it counts from 0.
  std::optional<uint64_t> bytes;
  if (!r.failed() && !r.done()) bytes = r.U64();
  if (r.failed() || !r.done()) {
    return Err(Status::Corruption("a tenant's head row is malformed"));
  }
  Head head;
  head.bytes = bytes.value_or(0);
  head.seq = Sequence(*seq);
  head.time = TimestampFromMillis(static_cast<int64_t>(*time));
  std::copy(hash->begin(), hash->end(), head.hash.begin());
  return head;
}

}  // namespace internal

namespace {

using internal::RowAad;
using internal::TenantRow;
using internal::TenantRowKey;

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

Result<std::shared_ptr<const AeadKey>> EventLog::KeyFor(TenantId tenant) const {
  auto key = keys_.Get(tenant);
  if (key || key.error().code() != StatusCode::kNotFound) return key;
  // A destroyed key (a purged tenant) is a tenant that is gone: NotFound.
  // No row at all for a tenant the registry holds is a storage fault (the
  // wrong or a damaged key store), which must not pass for a missing tenant.
  auto destroyed = keys_.Destroyed(tenant);
  if (!destroyed) return Err(destroyed.error());
  if (*destroyed) return key;
  auto record =
      db_.Get(Family::kTenants,
              internal::TenantRowKey(tenant, internal::TenantRow::kRecord));
  if (record) {
    return Err(Status::Corruption(
        "tenant " + std::to_string(tenant.value()) +
        " is registered but the key store holds no data key for it: the key "
        "store is not this database's, or it was damaged"));
  }
  if (record.error().code() != StatusCode::kNotFound) {
    return Err(record.error());
  }
  return key;
}

Result<Hash> EventLog::TenantHmacKey(TenantId tenant,
                                     std::string_view purpose) const {
  auto key = KeyFor(tenant);
  if (!key) return Err(key.error());
  std::string label = "siteledger tenant hmac ";
  label += purpose;
  return HmacSha256((*key)->bytes(), label);
}

Result<Hash> EventLog::TenantHmac(TenantId tenant, std::string_view purpose,
                                  std::string_view data) const {
  auto derived = TenantHmacKey(tenant, purpose);
  if (!derived) return Err(derived.error());
  return HmacSha256(
      std::string_view(reinterpret_cast<const char*>(derived->data()),
                       derived->size()),
      data);
}

Result<Head> EventLog::GetHead(TenantId tenant) const {
  auto value =
      db_.Get(Family::kTenants, TenantRowKey(tenant, TenantRow::kHead));
  if (!value) {
    if (value.error().code() == StatusCode::kNotFound) return Head{};
    return Err(value.error());
  }
  return internal::DecodeHead(*value);
}

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
  // The log is dense: each event read is the one after the last. A gap is
  // damage (RocksDB 7.8's iterator has been seen to go on past a damaged
  // table file with an ok status), never events silently left out.
  Sequence expected = std::max(from, Sequence(1));
  for (it->Seek(internal::EventKey(tenant, expected));
       it->Valid() && out.size() < max_events; it->Next()) {
    if (internal::SequenceOfKey(it->key().ToStringView()) != expected) {
      SL_RETURN_ERR_IF_ERROR(
          internal::FromRocks(it->status(), "reading events"));
      return Err(Status::Corruption(
          "event " + SeqText(expected) +
          " is missing from the log (a damaged table file?): run siteledger "
          "verify"));
    }
    expected = expected.next();
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

Result<std::vector<Event>> EventLog::ReadSeqs(
    TenantId tenant, const std::vector<Sequence>& seqs) const {
  std::vector<Event> out;
  if (seqs.empty()) return out;
  if (seqs.size() > options_.max_read_events) {
    return Err(Status::InvalidArgument("too many events for one read"));
  }
  auto key = KeyFor(tenant);
  if (!key) return Err(key.error());
  std::vector<std::string> keys;
  keys.reserve(seqs.size());
  for (Sequence seq : seqs) keys.push_back(internal::EventKey(tenant, seq));
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  // Sorted input lets RocksDB batch the lookups block by block.
  db_.db()->MultiGet(rocksdb::ReadOptions(), db_.cf(Family::kEvents),
                     slices.size(), slices.data(), values.data(),
                     statuses.data(), /*sorted_input=*/true);
  out.reserve(seqs.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) {
      return Err(
          Status::NotFound("event " + SeqText(seqs[i]) + " is not in the log"));
    }
    SL_RETURN_ERR_IF_ERROR(
        internal::FromRocks(statuses[i], "reading event " + SeqText(seqs[i])));
    auto event = OpenEnvelope(**key, keys[i], values[i].ToStringView());
    if (!event) {
      return Err(event.error().WithContext("event " + SeqText(seqs[i])));
    }
    out.push_back(std::move(*event));
  }
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

Status EventLog::WriteRows(
    TenantId tenant, const std::vector<ExtraWrite>& writes, bool sync,
    const std::vector<AccountIndexWrite>& account_index) {
  if (tenant.value() == 0)
    return Status::InvalidArgument("tenant 0 is reserved");
  std::shared_ptr<const AeadKey> key;
  rocksdb::WriteBatch batch;
  auto index = AccountIndexRows(tenant, account_index);
  if (!index) return index.error();
  for (const auto& [row_key, deleted] : *index) {
    if (deleted) {
      batch.Delete(db_.cf(Family::kTenants), row_key).PermitUncheckedError();
    } else {
      batch.Put(db_.cf(Family::kTenants), row_key, "").PermitUncheckedError();
    }
  }
  for (const ExtraWrite& w : writes) {
    if (!internal::AllowedExtraFamily(w.family) ||
        (w.op == WriteOp::kMerge && w.family != Family::kIndex) ||
        w.key.empty()) {
      return Status::InvalidArgument(
          "a row write needs a key and a put or delete in the views, "
          "snapshots, blobs, pseudonyms or index family (or a merge in the "
          "index family)");
    }
    const std::string row_key = internal::TenantKey(tenant, w.key);
    if (w.op == WriteOp::kMerge) {
      batch.Merge(db_.cf(w.family), row_key, w.value).PermitUncheckedError();
      continue;
    }
    if (w.op == WriteOp::kDelete) {
      batch.Delete(db_.cf(w.family), row_key).PermitUncheckedError();
      continue;
    }
    if (!IsEncryptedFamily(w.family)) {
      batch.Put(db_.cf(w.family), row_key, w.value).PermitUncheckedError();
      continue;
    }
    if (!key) {
      auto k = KeyFor(tenant);
      if (!k) return k.error();
      key = std::move(*k);
    }
    std::string sealed;
    SL_RETURN_IF_ERROR(
        key->SealAppend(w.value, RowAad(w.family, row_key), sealed));
    batch.Put(db_.cf(w.family), row_key, sealed).PermitUncheckedError();
  }
  if (sync && batch.Count() == 0) {
    // Nothing to write; make earlier unsynced writes durable.
    return internal::FromRocks(db_.db()->SyncWAL(), "syncing the WAL");
  }
  if (sync) return db_.WriteSynced(batch);
  SL_RETURN_IF_ERROR(db_.CheckDiskReserve(batch.GetDataSize()));
  return internal::FromRocks(db_.db()->Write(rocksdb::WriteOptions(), &batch),
                             "writing rows");
}

Status EventLog::DeleteTenantRows(TenantId tenant, Family family) {
  if (family != Family::kViews && family != Family::kSnapshots &&
      family != Family::kIndex) {
    return Status::InvalidArgument(
        "only a tenant's views, snapshots and index can be deleted as a "
        "whole");
  }
  const std::string begin = internal::TenantPrefix(tenant);
  const std::string end = internal::TenantRangeEnd(tenant);
  rocksdb::WriteBatch batch;
  if (family == Family::kSnapshots || family == Family::kIndex) {
    batch.DeleteRange(db_.cf(family), begin, end).PermitUncheckedError();
    return db_.WriteSynced(batch);
  }
  // The views family inserts into its memtable with a per-tenant hint,
  // which RocksDB's range deletions do not support: delete row by row (a
  // tenant has a row per entity, and a rebuild writes as many again).
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(ro, db_.cf(family)));
  for (it->Seek(begin); it->Valid(); it->Next()) {
    batch.Delete(db_.cf(family), it->key()).PermitUncheckedError();
    if (batch.Count() >= 10000) {
      SL_RETURN_IF_ERROR(internal::FromRocks(
          db_.db()->Write(rocksdb::WriteOptions(), &batch), "deleting rows"));
      batch.Clear();
    }
  }
  SL_RETURN_IF_ERROR(internal::FromRocks(it->status(), "deleting rows"));
  if (batch.Count() == 0) {
    // Nothing left to write; make the earlier batches durable.
    return internal::FromRocks(db_.db()->SyncWAL(), "syncing the WAL");
  }
  return db_.WriteSynced(batch);
}

struct RowIterator::Rep {
  std::string lower;
  std::string upper;
  rocksdb::Slice lower_slice;
  rocksdb::Slice upper_slice;
  Family family;
  std::shared_ptr<const AeadKey> key;  // null for a family stored in clear
  std::unique_ptr<rocksdb::Iterator> it;
};

RowIterator::RowIterator(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
RowIterator::~RowIterator() = default;

void RowIterator::Seek(std::string_view key) {
  rep_->it->Seek(rep_->lower + std::string(key));
}
void RowIterator::SeekForPrev(std::string_view key) {
  rep_->it->SeekForPrev(rep_->lower + std::string(key));
}
bool RowIterator::Valid() const { return rep_->it->Valid(); }
void RowIterator::Next() { rep_->it->Next(); }
void RowIterator::Prev() { rep_->it->Prev(); }
std::string_view RowIterator::key() const {
  return rep_->it->key().ToStringView().substr(internal::kTenantPrefixBytes);
}
Result<std::string> RowIterator::value() const {
  std::string_view stored = rep_->it->value().ToStringView();
  if (!rep_->key) return std::string(stored);
  return rep_->key->Open(stored,
                         RowAad(rep_->family, rep_->it->key().ToStringView()));
}
Status RowIterator::status() const {
  return internal::FromRocks(rep_->it->status(), "reading rows");
}

Result<std::unique_ptr<RowIterator>> EventLog::NewRowIterator(
    TenantId tenant, Family family) const {
  auto rep = std::make_unique<RowIterator::Rep>();
  if (IsEncryptedFamily(family)) {
    auto k = KeyFor(tenant);
    if (!k) return Err(k.error());
    rep->key = std::move(*k);
  }
  rep->family = family;
  rep->lower = internal::TenantPrefix(tenant);
  rep->upper = internal::TenantRangeEnd(tenant);
  rep->lower_slice = rocksdb::Slice(rep->lower);
  rep->upper_slice = rocksdb::Slice(rep->upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &rep->lower_slice;
  ro.iterate_upper_bound = &rep->upper_slice;
  rep->it.reset(db_.db()->NewIterator(ro, db_.cf(family)));
  return std::unique_ptr<RowIterator>(new RowIterator(std::move(rep)));
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
      // A damaged table block ends its file's part of the scan while the
      // others go on: the gap is the damage, which the status names (file
      // and offset), not a missing event.
      SL_RETURN_ERR_IF_ERROR(internal::FromRocks(it->status(), "verifying"));
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
