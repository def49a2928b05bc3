#include "storage/base/coding.h"
#include "storage/crypto.h"
#include "storage/event_log.h"
#include "storage/internal/database.h"
#include "storage/internal/event_log_rows.h"
#include "storage/internal/keys.h"

// Idempotency records: their row format, and the lookup a caller makes
// before it decides a command (the commit thread checks again when it
// stages the append).

namespace siteledger::storage {
namespace internal {

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

std::string IdempotencyRowKey(TenantId tenant, std::string_view key) {
  const Hash h = Sha256(key);
  return TenantRowKey(
      tenant, internal::TenantRow::kIdempotency,
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

}  // namespace internal

Result<std::optional<AppendResult>> EventLog::LookupIdempotency(
    TenantId tenant, std::string_view idempotency_key,
    std::string_view fingerprint) const {
  auto record = ExportIdempotency(tenant, idempotency_key);
  if (!record) return Err(record.error());
  if (!*record) return std::optional<AppendResult>();
  if ((*record)->fingerprint != Sha256(fingerprint)) {
    return Err(Status::Conflict(
        "this idempotency key was already used for a different request"));
  }
  AppendResult result = (*record)->result;
  result.replayed = true;
  result.response = std::move((*record)->response);
  return std::optional<AppendResult>(std::move(result));
}

Result<std::optional<IdempotencyExport>> EventLog::ExportIdempotency(
    TenantId tenant, std::string_view idempotency_key) const {
  const std::string row_key =
      internal::IdempotencyRowKey(tenant, idempotency_key);
  auto value = db_.Get(Family::kTenants, row_key);
  if (!value) {
    if (value.error().code() == StatusCode::kNotFound) {
      return std::optional<IdempotencyExport>();
    }
    return Err(value.error());
  }
  auto rec = internal::DecodeIdempotency(*value);
  if (!rec) return Err(rec.error());
  if (rec->used_ms + internal::kIdempotencyWindowMs < MillisOf(clock_.Now())) {
    return std::optional<IdempotencyExport>();
  }
  IdempotencyExport out;
  out.key = std::string(idempotency_key);
  out.used_ms = rec->used_ms;
  out.result = rec->result;
  out.fingerprint = rec->fingerprint;
  if (!rec->sealed_response.empty()) {
    auto key = KeyFor(tenant);
    if (!key) return Err(key.error());
    auto response =
        (*key)->Open(rec->sealed_response, internal::ResponseAad(row_key));
    if (!response) return Err(response.error());
    out.response = std::move(*response);
  }
  return std::optional<IdempotencyExport>(std::move(out));
}

Status EventLog::ImportIdempotency(
    TenantId tenant, const std::vector<IdempotencyExport>& records) {
  if (records.empty()) return Status::Ok();
  auto key = KeyFor(tenant);
  if (!key) return key.error();
  rocksdb::WriteBatch batch;
  for (const IdempotencyExport& r : records) {
    if (r.key.empty() || r.key.size() > kMaxIdempotencyKeyBytes) {
      return Status::InvalidArgument(
          "an idempotency key is 1 to 128 printable ASCII bytes");
    }
    const std::string row_key = internal::IdempotencyRowKey(tenant, r.key);
    internal::IdempotencyRecord rec;
    rec.used_ms = r.used_ms;
    rec.result = r.result;
    rec.fingerprint = r.fingerprint;
    if (!r.response.empty()) {
      SL_RETURN_IF_ERROR((*key)->SealAppend(
          r.response, internal::ResponseAad(row_key), rec.sealed_response));
    }
    batch
        .Put(db_.cf(Family::kTenants), row_key,
             internal::EncodeIdempotency(rec))
        .PermitUncheckedError();
  }
  return internal::FromRocks(db_.db()->Write(rocksdb::WriteOptions(), &batch),
                             "writing idempotency records");
}

}  // namespace siteledger::storage
