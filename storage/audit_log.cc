#include "storage/audit_log.h"

#include <rocksdb/db.h>

#include "storage/base/coding.h"
#include "storage/crypto.h"
#include "storage/internal/database.h"
#include "storage/internal/keys.h"

namespace siteledger::storage {
namespace {

// Format 1 is the plaintext record (and the stored form before sealing);
// format 2 is 0x02 followed by the format-1 record sealed under the audit
// key.
constexpr uint8_t kAuditFormat = 1;
constexpr uint8_t kSealedAuditFormat = 2;

// Binds a sealed record to its row: moved to another key it does not open.
std::string RecordAad(std::string_view row_key) {
  std::string aad(FamilyName(Family::kAudit));
  aad.push_back('\0');
  aad += row_key;
  return aad;
}

void PutString(std::string& out, std::string_view s) {
  coding::PutU32(out, static_cast<uint32_t>(s.size()));
  out += s;
}

std::string AuditKey(Timestamp time, uint64_t id) {
  std::string key;
  coding::PutI64(key, MillisOf(time));
  coding::PutU64(key, id);
  return key;
}

std::string HeadKey() {
  return internal::TenantRowKey(internal::kRegistryTenant,
                                internal::TenantRow::kAuditHead);
}

// The bytes a record's hash covers: everything but the hash itself.
std::string HashedPart(const AuditEntry& e) {
  std::string out;
  coding::PutU8(out, kAuditFormat);
  coding::PutU64(out, e.id);
  coding::PutI64(out, MillisOf(e.record.time));
  PutString(out, e.record.actor);
  PutString(out, e.record.action);
  coding::PutU64(out, e.record.tenant.value());
  PutString(out, e.record.client_key);
  PutString(out, e.record.outcome);
  PutString(out, e.record.reason);
  PutString(out, e.record.route);
  PutString(out, e.record.detail);
  out.append(reinterpret_cast<const char*>(e.prev_hash.data()), 32);
  return out;
}

}  // namespace

std::string EncodeAuditEntry(const AuditEntry& entry) {
  std::string out = HashedPart(entry);
  out.append(reinterpret_cast<const char*>(entry.hash.data()), 32);
  return out;
}

Result<AuditEntry> DecodeAuditEntry(std::string_view value) {
  coding::Reader r(value);
  AuditEntry e;
  auto str = [&](std::string& out) {
    auto len = r.U32();
    auto bytes = len ? r.Bytes(*len) : std::nullopt;
    if (bytes) out.assign(*bytes);
  };
  auto format = r.U8();
  auto id = r.U64();
  auto time = r.U64();
  str(e.record.actor);
  str(e.record.action);
  auto tenant = r.U64();
  str(e.record.client_key);
  str(e.record.outcome);
  str(e.record.reason);
  str(e.record.route);
  str(e.record.detail);
  auto prev = r.Bytes(32);
  auto hash = r.Bytes(32);
  if (r.failed() || !r.done() || format != kAuditFormat) {
    return Err(Status::Corruption("an audit record is malformed"));
  }
  e.id = *id;
  e.record.time = TimestampFromMillis(static_cast<int64_t>(*time));
  e.record.tenant = TenantId(*tenant);
  std::copy(prev->begin(), prev->end(), e.prev_hash.begin());
  std::copy(hash->begin(), hash->end(), e.hash.begin());
  return e;
}

AuditLog::AuditLog(internal::Database& database, const Clock& clock,
                   AeadKey key)
    : db_(database), clock_(clock), key_(std::move(key)) {}

Result<std::string> AuditLog::Seal(const AuditEntry& entry,
                                   std::string_view row_key) const {
  std::string plain = EncodeAuditEntry(entry);
  std::string value;
  coding::PutU8(value, kSealedAuditFormat);
  Status s = key_.SealAppend(plain, RecordAad(row_key), value);
  SecureWipe(plain);
  if (!s.ok()) return Err(s);
  return value;
}

Result<AuditEntry> AuditLog::Open(std::string_view value,
                                  std::string_view row_key) const {
  if (value.empty()) {
    return Err(Status::Corruption("an audit record is empty"));
  }
  if (static_cast<uint8_t>(value[0]) == kAuditFormat) {
    return DecodeAuditEntry(value);  // written before records were sealed
  }
  if (static_cast<uint8_t>(value[0]) != kSealedAuditFormat) {
    return Err(Status::Corruption("an audit record has an unknown format"));
  }
  auto plain = key_.Open(value.substr(1), RecordAad(row_key));
  if (!plain) {
    return Err(Status::Corruption(
        "an audit record does not open: altered on disk, or sealed under "
        "another master key"));
  }
  auto entry = DecodeAuditEntry(*plain);
  SecureWipe(*plain);
  return entry;
}

Result<uint64_t> AuditLog::Append(AuditRecord record) {
  MutexLock lock(mu_);
  uint64_t last_id = 0;
  Hash last_hash{};
  Timestamp last_time{};
  auto head = db_.Get(Family::kTenants, HeadKey());
  if (head) {
    coding::Reader r(*head);
    auto id = r.U64();
    auto time = r.U64();
    auto hash = r.Bytes(32);
    if (r.failed()) {
      return Err(Status::Corruption("the audit head row is malformed"));
    }
    last_id = *id;
    last_time = TimestampFromMillis(static_cast<int64_t>(*time));
    std::copy(hash->begin(), hash->end(), last_hash.begin());
  } else if (head.error().code() != StatusCode::kNotFound) {
    return Err(head.error());
  }
  AuditEntry e;
  e.id = last_id + 1;
  e.record = std::move(record);
  // Time order is the family's key order: never go backwards.
  e.record.time = std::max(clock_.Now(), last_time);
  e.prev_hash = last_hash;
  e.hash = Sha256(HashedPart(e));

  std::string head_value;
  coding::PutU64(head_value, e.id);
  coding::PutI64(head_value, MillisOf(e.record.time));
  head_value.append(reinterpret_cast<const char*>(e.hash.data()), 32);
  const std::string key = AuditKey(e.record.time, e.id);
  auto value = Seal(e, key);
  if (!value) return Err(value.error());
  rocksdb::WriteBatch batch;
  batch.Put(db_.cf(Family::kAudit), key, *value).PermitUncheckedError();
  batch.Put(db_.cf(Family::kTenants), HeadKey(), head_value)
      .PermitUncheckedError();
  SL_RETURN_ERR_IF_ERROR(db_.WriteSynced(batch));
  return e.id;
}

Result<std::vector<AuditEntry>> AuditLog::Query(const AuditFilter& filter,
                                                uint64_t after_id,
                                                size_t limit) const {
  std::vector<AuditEntry> out;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Family::kAudit)));
  if (filter.since) {
    it->Seek(AuditKey(*filter.since, 0));
  } else {
    it->SeekToFirst();
  }
  for (; it->Valid() && out.size() < limit; it->Next()) {
    auto e = Open(it->value().ToStringView(), it->key().ToStringView());
    if (!e) return Err(e.error());
    if (filter.until && e->record.time >= *filter.until) break;
    if (e->id <= after_id) continue;
    if (filter.tenant && e->record.tenant != *filter.tenant) continue;
    if (filter.actor && e->record.actor != *filter.actor) continue;
    out.push_back(std::move(*e));
  }
  SL_RETURN_ERR_IF_ERROR(internal::FromRocks(it->status(), "reading audit"));
  return out;
}

Result<AuditLog::VerifyReport> AuditLog::Verify() const {
  VerifyReport report;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Family::kAudit)));
  Hash prev{};
  uint64_t expected = 1;
  auto bad = [&](uint64_t id, std::string problem) {
    report.ok = false;
    report.first_bad = id;
    report.problem = std::move(problem);
    return report;
  };
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto e = Open(it->value().ToStringView(), it->key().ToStringView());
    if (!e) {
      return bad(expected, "audit record " + std::to_string(expected) +
                               " is malformed or does not open");
    }
    if (e->id != expected) {
      return bad(expected,
                 "audit record " + std::to_string(expected) + " is missing");
    }
    if (e->prev_hash != prev) {
      return bad(e->id, "audit record " + std::to_string(e->id) +
                            " does not carry the hash of the one before");
    }
    if (Sha256(HashedPart(*e)) != e->hash) {
      return bad(e->id,
                 "audit record " + std::to_string(e->id) + " was altered");
    }
    prev = e->hash;
    ++expected;
    ++report.records;
  }
  SL_RETURN_ERR_IF_ERROR(internal::FromRocks(it->status(), "reading audit"));
  auto head = db_.Get(Family::kTenants, HeadKey());
  if (head && head->size() >= 16 + 32) {
    const uint64_t head_id = coding::DecodeU64(head->data());
    if (head_id != report.records) {
      return bad(report.records + 1,
                 "the audit head names record " + std::to_string(head_id) +
                     " but the log ends at " + std::to_string(report.records));
    }
  }
  return report;
}

}  // namespace siteledger::storage
