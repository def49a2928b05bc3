#include "storage/tenant_registry.h"

#include <rocksdb/db.h>

#include "storage/base/coding.h"
#include "storage/internal/database.h"
#include "storage/internal/keys.h"

namespace siteledger::storage {
namespace {

using internal::TenantRow;
using internal::TenantRowKey;

// Record fields, tag-length-value so that later versions can add fields.
enum class Field : uint8_t {
  kClientKey = 1,
  kBaseUrl = 2,
  kSharedSecret = 3,
  kHomeRegion = 4,
  kState = 5,
  kEnabled = 6,
  kCreated = 7,
  kUpdated = 8,
  kUninstalledAt = 9,
  kResidencyState = 10,
  kPeer = 11,
  kMigrationId = 12,
  kMovedAt = 13,
  kMovedFrom = 14,
  kCutoverSeq = 15,
  kFoldedSeq = 16,
  kPurgeAt = 17,
  kErrorCode = 18,
};

void PutField(std::string& out, Field field, std::string_view value) {
  coding::PutU8(out, static_cast<uint8_t>(field));
  coding::PutU32(out, static_cast<uint32_t>(value.size()));
  out += value;
}

void PutIntField(std::string& out, Field field, int64_t value) {
  std::string v;
  coding::PutI64(v, value);
  PutField(out, field, v);
}

std::string RecordAad(TenantId tenant) {
  return "siteledger tenant record " + internal::TenantPrefix(tenant);
}

constexpr size_t kMaxClientKeyBytes = 256;
constexpr size_t kMaxBaseUrlBytes = 2048;
constexpr size_t kMaxSecretBytes = 512;

}  // namespace

std::string_view ResidencyStateName(ResidencyState state) {
  switch (state) {
    case ResidencyState::kHome:
      return "home";
    case ResidencyState::kCopying:
      return "copying";
    case ResidencyState::kCutover:
      return "cutover";
    case ResidencyState::kMoved:
      return "moved";
    case ResidencyState::kIncoming:
      return "incoming";
    case ResidencyState::kRollingBack:
      return "rolling-back";
    case ResidencyState::kGone:
      return "gone";
  }
  return "unknown";
}

std::string_view LifecycleStateName(LifecycleState state) {
  switch (state) {
    case LifecycleState::kInstalled:
      return "installed";
    case LifecycleState::kUninstalled:
      return "uninstalled";
    case LifecycleState::kPurged:
      return "purged";
  }
  return "unknown";
}

TenantRegistry::TenantRegistry(internal::Database& database, KeyStore& keys,
                               const MasterKey& master, const Clock& clock,
                               std::string region)
    : db_(database),
      keys_(keys),
      clock_(clock),
      region_(std::move(region)),
      index_key_(master.Derive("client-key-index")),
      record_key_(master.DeriveAead("tenant-records")) {}

std::string TenantRegistry::ClientKeyRow(std::string_view client_key) const {
  const Hash h = HmacSha256(index_key_, client_key);
  return TenantRowKey(
      internal::kRegistryTenant, TenantRow::kClientKey,
      std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

Result<std::string> TenantRegistry::Encode(const TenantRecord& r) const {
  std::string plain;
  PutField(plain, Field::kClientKey, r.client_key);
  PutField(plain, Field::kBaseUrl, r.base_url);
  PutField(plain, Field::kSharedSecret, r.shared_secret);
  PutField(plain, Field::kHomeRegion, r.home_region);
  PutIntField(plain, Field::kState, static_cast<int64_t>(r.state));
  PutIntField(plain, Field::kEnabled, r.enabled ? 1 : 0);
  PutIntField(plain, Field::kCreated, MillisOf(r.created));
  PutIntField(plain, Field::kUpdated, MillisOf(r.updated));
  if (r.uninstalled_at) {
    PutIntField(plain, Field::kUninstalledAt, MillisOf(*r.uninstalled_at));
  }
  const Residency& res = r.residency;
  if (res.state != ResidencyState::kHome) {
    PutIntField(plain, Field::kResidencyState, static_cast<int64_t>(res.state));
  }
  if (!res.peer.empty()) PutField(plain, Field::kPeer, res.peer);
  if (!res.migration_id.empty()) {
    PutField(plain, Field::kMigrationId, res.migration_id);
  }
  if (res.moved_at) {
    PutIntField(plain, Field::kMovedAt, MillisOf(*res.moved_at));
  }
  if (!res.moved_from.empty())
    PutField(plain, Field::kMovedFrom, res.moved_from);
  if (res.cutover_seq) {
    PutIntField(plain, Field::kCutoverSeq,
                static_cast<int64_t>(res.cutover_seq));
  }
  if (res.folded_seq) {
    PutIntField(plain, Field::kFoldedSeq, static_cast<int64_t>(res.folded_seq));
  }
  if (r.purge_at) PutIntField(plain, Field::kPurgeAt, MillisOf(*r.purge_at));
  if (!res.error_code.empty()) {
    PutField(plain, Field::kErrorCode, res.error_code);
  }
  auto sealed = record_key_.Seal(plain, RecordAad(r.id));
  SecureWipe(plain);
  return sealed;
}

Result<TenantRecord> TenantRegistry::Decode(TenantId tenant,
                                            std::string_view sealed) const {
  auto plain = record_key_.Open(sealed, RecordAad(tenant));
  if (!plain) {
    return Err(Status::Corruption(
        "tenant " + std::to_string(tenant.value()) +
        "'s record does not decrypt: wrong master key or damaged record"));
  }
  TenantRecord r;
  r.id = tenant;
  coding::Reader reader(*plain);
  while (!reader.done() && !reader.failed()) {
    auto tag = reader.U8();
    auto len = reader.U32();
    auto value = len ? reader.Bytes(*len) : std::nullopt;
    if (!tag || !value) break;
    auto as_int = [&]() -> int64_t {
      return value->size() == 8
                 ? static_cast<int64_t>(coding::DecodeU64(value->data()))
                 : 0;
    };
    switch (static_cast<Field>(*tag)) {
      case Field::kClientKey:
        r.client_key.assign(*value);
        break;
      case Field::kBaseUrl:
        r.base_url.assign(*value);
        break;
      case Field::kSharedSecret:
        r.shared_secret.assign(*value);
        break;
      case Field::kHomeRegion:
        r.home_region.assign(*value);
        break;
      case Field::kState:
        r.state = static_cast<LifecycleState>(as_int());
        break;
      case Field::kEnabled:
        r.enabled = as_int() != 0;
        break;
      case Field::kCreated:
        r.created = TimestampFromMillis(as_int());
        break;
      case Field::kUpdated:
        r.updated = TimestampFromMillis(as_int());
        break;
      case Field::kUninstalledAt:
        r.uninstalled_at = TimestampFromMillis(as_int());
        break;
      case Field::kResidencyState:
        r.residency.state = static_cast<ResidencyState>(as_int());
        break;
      case Field::kPeer:
        r.residency.peer.assign(*value);
        break;
      case Field::kMigrationId:
        r.residency.migration_id.assign(*value);
        break;
      case Field::kMovedAt:
        r.residency.moved_at = TimestampFromMillis(as_int());
        break;
      case Field::kMovedFrom:
        r.residency.moved_from.assign(*value);
        break;
      case Field::kCutoverSeq:
        r.residency.cutover_seq = static_cast<uint64_t>(as_int());
        break;
      case Field::kFoldedSeq:
        r.residency.folded_seq = static_cast<uint64_t>(as_int());
        break;
      case Field::kPurgeAt:
        r.purge_at = TimestampFromMillis(as_int());
        break;
      case Field::kErrorCode:
        r.residency.error_code.assign(*value);
        break;
      default:
        break;  // a field from a later version: kept by nobody, harmless
    }
  }
  const bool failed = reader.failed();
  SecureWipe(*plain);
  if (failed) {
    return Err(Status::Corruption("tenant " + std::to_string(tenant.value()) +
                                  "'s record is malformed"));
  }
  return r;
}

Result<TenantRegistry::InstallResult> TenantRegistry::Install(
    const Installation& installation) {
  if (installation.client_key.empty() ||
      installation.client_key.size() > kMaxClientKeyBytes) {
    return Err(Status::InvalidArgument("clientKey must be 1 to 256 bytes"));
  }
  if (installation.shared_secret.empty() ||
      installation.shared_secret.size() > kMaxSecretBytes) {
    return Err(Status::InvalidArgument("sharedSecret must be 1 to 512 bytes"));
  }
  if (installation.base_url.size() > kMaxBaseUrlBytes) {
    return Err(Status::InvalidArgument("baseUrl must be at most 2048 bytes"));
  }
  MutexLock lock(mu_);
  const Timestamp now = clock_.Now();
  InstallResult result;
  auto existing = Find(installation.client_key);
  if (existing) {
    auto record = Get(*existing);
    if (!record) return Err(record.error());
    if (record->state != LifecycleState::kPurged) {
      const TenantRecord before = *record;
      result.restored = record->state == LifecycleState::kUninstalled;
      record->base_url = installation.base_url;
      record->shared_secret = installation.shared_secret;
      record->state = LifecycleState::kInstalled;
      if (result.restored) {
        // Installed again before the purge: the purge is called off.
        record->uninstalled_at.reset();
        record->purge_at.reset();
      }
      record->updated = now;
      rocksdb::WriteBatch batch;
      SL_RETURN_ERR_IF_ERROR(StageRecord(&before, *record, batch));
      SL_RETURN_ERR_IF_ERROR(db_.WriteSynced(batch));
      result.record = std::move(*record);
      return result;
    }
    // Purged (or being purged): its data is gone for good, and the
    // installation starts over as a new tenant under a new id.
  } else if (existing.error().code() != StatusCode::kNotFound) {
    return Err(existing.error());
  }

  TenantRecord record;
  record.client_key = installation.client_key;
  record.base_url = installation.base_url;
  record.shared_secret = installation.shared_secret;
  record.home_region = region_;
  record.created = now;
  record.updated = now;
  auto created = CreateLocked(std::move(record));
  if (!created) return Err(created.error());
  result.record = std::move(*created);
  result.created = true;
  return result;
}

Result<TenantId> TenantRegistry::Find(std::string_view client_key) const {
  auto value = db_.Get(Family::kTenants, ClientKeyRow(client_key));
  if (!value) {
    if (value.error().code() == StatusCode::kNotFound) {
      return Err(
          Status::NotFound("no tenant is installed with this clientKey"));
    }
    return Err(value.error());
  }
  if (value->size() != 8) {
    return Err(Status::Corruption("a clientKey index row is malformed"));
  }
  return TenantId(coding::DecodeU64(value->data()));
}

Result<TenantRecord> TenantRegistry::Get(TenantId tenant) const {
  auto value =
      db_.Get(Family::kTenants, TenantRowKey(tenant, TenantRow::kRecord));
  if (!value) {
    if (value.error().code() == StatusCode::kNotFound) {
      return Err(Status::NotFound("tenant " + std::to_string(tenant.value()) +
                                  " does not exist"));
    }
    return Err(value.error());
  }
  return Decode(tenant, *value);
}

Result<TenantRecord> TenantRegistry::GetByClientKey(
    std::string_view client_key) const {
  auto id = Find(client_key);
  if (!id) return Err(id.error());
  return Get(*id);
}

Status TenantRegistry::Update(TenantRecord record) {
  MutexLock lock(mu_);
  auto existing = Get(record.id);
  if (!existing) return existing.error();
  record.updated = clock_.Now();
  rocksdb::WriteBatch batch;
  SL_RETURN_IF_ERROR(StageRecord(&*existing, record, batch));
  return db_.WriteSynced(batch);
}

namespace {

std::string InFlightRow(TenantId tenant) {
  std::string suffix;
  coding::PutU64(suffix, tenant.value());
  return TenantRowKey(internal::kRegistryTenant, TenantRow::kInFlight, suffix);
}

std::string PurgeDueRow(Timestamp due, TenantId tenant) {
  std::string suffix;
  coding::PutU64(suffix,
                 static_cast<uint64_t>(std::max<int64_t>(0, MillisOf(due))));
  coding::PutU64(suffix, tenant.value());
  return TenantRowKey(internal::kRegistryTenant, TenantRow::kPurgeDue, suffix);
}

}  // namespace

Status TenantRegistry::StageRecord(const TenantRecord* old,
                                   const TenantRecord& record,
                                   rocksdb::WriteBatch& batch) const {
  auto sealed = Encode(record);
  if (!sealed) return sealed.error();
  rocksdb::ColumnFamilyHandle* cf = db_.cf(Family::kTenants);
  batch.Put(cf, TenantRowKey(record.id, TenantRow::kRecord), *sealed)
      .PermitUncheckedError();
  if (old != nullptr && old->residency.in_flight()) {
    batch.Delete(cf, InFlightRow(old->id)).PermitUncheckedError();
  }
  if (old != nullptr && old->purge_at) {
    batch.Delete(cf, PurgeDueRow(*old->purge_at, old->id))
        .PermitUncheckedError();
  }
  if (record.residency.in_flight()) {
    batch.Put(cf, InFlightRow(record.id), "").PermitUncheckedError();
  }
  if (record.purge_at) {
    batch.Put(cf, PurgeDueRow(*record.purge_at, record.id), "")
        .PermitUncheckedError();
  }
  return Status::Ok();
}

Result<TenantRecord> TenantRegistry::Adopt(const TenantRecord& incoming) {
  if (incoming.client_key.empty() ||
      incoming.client_key.size() > kMaxClientKeyBytes) {
    return Err(Status::InvalidArgument("clientKey must be 1 to 256 bytes"));
  }
  if (incoming.shared_secret.empty() ||
      incoming.shared_secret.size() > kMaxSecretBytes) {
    return Err(Status::InvalidArgument("sharedSecret must be 1 to 512 bytes"));
  }
  if (incoming.base_url.size() > kMaxBaseUrlBytes) {
    return Err(Status::InvalidArgument("baseUrl must be at most 2048 bytes"));
  }
  MutexLock lock(mu_);
  auto existing = Find(incoming.client_key);
  if (existing) {
    auto record = Get(*existing);
    if (!record) return Err(record.error());
    if (record->residency.state == ResidencyState::kIncoming &&
        record->residency.migration_id == incoming.residency.migration_id) {
      return std::move(*record);
    }
    if (record->residency.state != ResidencyState::kGone &&
        record->state != LifecycleState::kPurged) {
      return Err(Status::Conflict(
          "this region already holds a copy of the tenant (" +
          std::string(ResidencyStateName(record->residency.state)) + ")"));
    }
  } else if (existing.error().code() != StatusCode::kNotFound) {
    return Err(existing.error());
  }
  // A new id (an earlier copy's id, its key destroyed, is never reused).
  TenantRecord record = incoming;
  record.updated = clock_.Now();
  return CreateLocked(std::move(record));
}

Result<TenantRecord> TenantRegistry::CreateLocked(TenantRecord record) {
  const std::string next_key =
      TenantRowKey(internal::kRegistryTenant, TenantRow::kNextId);
  uint64_t next = 1;
  auto stored_next = db_.Get(Family::kTenants, next_key);
  if (stored_next) {
    if (stored_next->size() != 8) {
      return Err(Status::Corruption("the next tenant id row is malformed"));
    }
    next = coding::DecodeU64(stored_next->data());
  } else if (stored_next.error().code() != StatusCode::kNotFound) {
    return Err(stored_next.error());
  }
  record.id = TenantId(next);
  // The key first: a tenant row without a key would be unusable, a key
  // without a row is only an orphan that the id counter never hands out again.
  std::string next_value;
  coding::PutU64(next_value, next + 1);
  {
    rocksdb::WriteBatch reserve;
    reserve.Put(db_.cf(Family::kTenants), next_key, next_value);
    SL_RETURN_ERR_IF_ERROR(db_.WriteSynced(reserve));
  }
  SL_RETURN_ERR_IF_ERROR(keys_.Create(record.id));
  std::string id_value;
  coding::PutU64(id_value, record.id.value());
  rocksdb::WriteBatch batch;
  SL_RETURN_ERR_IF_ERROR(StageRecord(nullptr, record, batch));
  batch.Put(db_.cf(Family::kTenants), ClientKeyRow(record.client_key),
            id_value);
  SL_RETURN_ERR_IF_ERROR(db_.WriteSynced(batch));
  if (count_) ++*count_;
  return record;
}

Result<uint64_t> TenantRegistry::Count() {
  MutexLock lock(mu_);
  if (!count_) {
    uint64_t n = 0;
    TenantId after(0);
    for (;;) {
      auto page = List(after, 1000);
      if (!page) return Err(page.error());
      n += page->size();
      if (page->size() < 1000) break;
      after = page->back().id;
    }
    count_ = n;
  }
  return *count_;
}

Status TenantRegistry::StageDeleteRows(TenantId tenant,
                                       rocksdb::WriteBatch& batch) const {
  // Row by row: the family's memtable insert hint and range deletions do
  // not mix (RocksDB 7.8).
  const std::string prefix = internal::TenantPrefix(tenant);
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Family::kTenants)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    batch.Delete(db_.cf(Family::kTenants), it->key()).PermitUncheckedError();
  }
  return internal::FromRocks(it->status(), "listing a tenant's rows");
}

Status TenantRegistry::MarkPurged(TenantId tenant) {
  MutexLock lock(mu_);
  auto existing = Get(tenant);
  if (!existing) return existing.error();
  TenantRecord record = *existing;
  SecureWipe(record.shared_secret);
  record.shared_secret.clear();
  record.client_key.clear();
  record.base_url.clear();
  record.purge_at.reset();
  record.residency.peer.clear();
  record.residency.state = ResidencyState::kGone;
  record.updated = clock_.Now();
  rocksdb::WriteBatch batch;
  // Everything else of the tenant here goes (its head, idempotency
  // records); the record, written after in the same batch, stays.
  SL_RETURN_IF_ERROR(StageDeleteRows(tenant, batch));
  SL_RETURN_IF_ERROR(StageRecord(&*existing, record, batch));
  return db_.WriteSynced(batch);
}

Result<bool> TenantRegistry::ClaimPurge(TenantId tenant, Timestamp now) {
  MutexLock lock(mu_);
  auto existing = Get(tenant);
  if (!existing) {
    if (existing.error().code() == StatusCode::kNotFound) return false;
    return Err(existing.error());
  }
  if (!existing->purge_at || *existing->purge_at > now ||
      existing->state == LifecycleState::kInstalled) {
    return false;  // installed again, or not due
  }
  if (existing->state == LifecycleState::kPurged) return true;  // resumed
  TenantRecord record = *existing;
  record.state = LifecycleState::kPurged;
  record.updated = clock_.Now();
  rocksdb::WriteBatch batch;
  SL_RETURN_ERR_IF_ERROR(StageRecord(&*existing, record, batch));
  SL_RETURN_ERR_IF_ERROR(db_.WriteSynced(batch));
  return true;
}

Status TenantRegistry::Remove(TenantId tenant) {
  MutexLock lock(mu_);
  auto existing = Get(tenant);
  if (!existing) {
    if (existing.error().code() == StatusCode::kNotFound) return Status::Ok();
    return existing.error();
  }
  if (existing->state != LifecycleState::kPurged) {
    return Status::Conflict("tenant " + std::to_string(tenant.value()) +
                            " is not claimed for a purge; its record stays");
  }
  rocksdb::WriteBatch batch;
  SL_RETURN_IF_ERROR(StageDeleteRows(tenant, batch));
  rocksdb::ColumnFamilyHandle* cf = db_.cf(Family::kTenants);
  if (existing->purge_at) {
    batch.Delete(cf, PurgeDueRow(*existing->purge_at, tenant))
        .PermitUncheckedError();
  }
  // The clientKey's row goes too, unless a new installation of the same
  // clientKey took it over meanwhile.
  const std::string client_key_row = ClientKeyRow(existing->client_key);
  auto points_at = db_.Get(Family::kTenants, client_key_row);
  if (points_at && points_at->size() == 8 &&
      coding::DecodeU64(points_at->data()) == tenant.value()) {
    batch.Delete(cf, client_key_row).PermitUncheckedError();
  } else if (!points_at && points_at.error().code() != StatusCode::kNotFound) {
    return points_at.error();
  }
  SL_RETURN_IF_ERROR(db_.WriteSynced(batch));
  if (count_) --*count_;
  return Status::Ok();
}

Result<std::vector<TenantId>> TenantRegistry::InFlight() const {
  return internal::TenantIdsUnder(
      db_, Family::kTenants,
      TenantRowKey(internal::kRegistryTenant, TenantRow::kInFlight),
      "listing migrations");
}

Result<std::vector<TenantId>> TenantRegistry::PurgesDue(Timestamp now,
                                                        size_t limit) const {
  std::vector<TenantId> out;
  const std::string prefix =
      TenantRowKey(internal::kRegistryTenant, TenantRow::kPurgeDue);
  const uint64_t now_ms =
      static_cast<uint64_t>(std::max<int64_t>(0, MillisOf(now)));
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Family::kTenants)));
  for (it->Seek(prefix);
       out.size() < limit && it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    if (it->key().size() != prefix.size() + 16) continue;
    const char* p = it->key().data() + prefix.size();
    if (coding::DecodeU64(p) > now_ms) break;
    out.emplace_back(coding::DecodeU64(p + 8));
  }
  SL_RETURN_ERR_IF_ERROR(internal::FromRocks(it->status(), "listing purges"));
  return out;
}

Result<std::vector<TenantRecord>> TenantRegistry::List(TenantId after,
                                                       size_t limit) const {
  std::vector<TenantRecord> out;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Family::kTenants)));
  // Records sort by tenant id. Jump from tenant to tenant rather than walk
  // every row: a tenant may have many idempotency rows.
  uint64_t next = after.value() + 1;
  while (out.size() < limit) {
    it->Seek(internal::TenantPrefix(TenantId(next)));
    if (!it->Valid()) break;
    const TenantId id = internal::TenantOfKey(it->key().ToStringView());
    const std::string record_key = TenantRowKey(id, TenantRow::kRecord);
    it->Seek(record_key);
    if (!it->Valid()) break;
    if (it->key().ToStringView() == record_key) {
      auto record = Decode(id, it->value().ToStringView());
      if (!record) return Err(record.error());
      out.push_back(std::move(*record));
    }
    next = id.value() + 1;
  }
  SL_RETURN_ERR_IF_ERROR(internal::FromRocks(it->status(), "listing tenants"));
  return out;
}

Result<uint32_t> TenantRegistry::ViewsFormat() const {
  auto row = db_.Get(Family::kTenants, TenantRowKey(internal::kRegistryTenant,
                                                    TenantRow::kViewsFormat));
  if (!row) {
    if (row.error().code() == StatusCode::kNotFound) return uint32_t{0};
    return Err(row.error());
  }
  coding::Reader r(*row);
  auto format = r.U32();
  if (!format || !r.done()) {
    return Err(Status::Corruption("the views format row is malformed"));
  }
  return *format;
}

Status TenantRegistry::SetViewsFormat(uint32_t format) {
  std::string value;
  coding::PutU32(value, format);
  rocksdb::WriteBatch batch;
  batch
      .Put(db_.cf(Family::kTenants),
           TenantRowKey(internal::kRegistryTenant, TenantRow::kViewsFormat),
           value)
      .PermitUncheckedError();
  return db_.WriteSynced(batch);
}

}  // namespace siteledger::storage
