#include "storage/key_store.h"

#include <rocksdb/db.h>

#include <chrono>
#include <set>
#include <string>

#include "storage/base/coding.h"
#include "storage/internal/database.h"
#include "storage/internal/keys.h"

namespace siteledger::storage {
namespace internal {

class KeyDatabase {
 public:
  std::unique_ptr<rocksdb::DB> db;
};

}  // namespace internal

namespace {

constexpr uint8_t kLiveKey = 1;
constexpr uint8_t kDestroyedKey = 2;
// Not 8 bytes long, so it can never be a tenant's row.
constexpr std::string_view kIdentityRow = "siteledger database identity";

// Day-key rows: the prefix then the day as u32, 19 bytes: never a tenant's
// 8-byte row nor the identity row.
constexpr std::string_view kDayRowPrefix = "access-log day ";

std::string WrapAad(TenantId tenant) {
  return "siteledger data key " + internal::TenantPrefix(tenant);
}

std::string DayRow(Day day) {
  std::string key(kDayRowPrefix);
  coding::PutU32(key, static_cast<uint32_t>(day.value()));
  return key;
}

std::string DayWrapAad(Day day) {
  std::string aad = "siteledger access-log key ";
  coding::PutU32(aad, static_cast<uint32_t>(day.value()));
  return aad;
}

std::string DayName(Day day) { return "day " + std::to_string(day.value()); }

// The key sealed in a live row, `value` past its format byte. Corruption
// naming `what` ("tenant 7's data key") if it does not open.
Result<std::shared_ptr<const AeadKey>> Unwrap(const AeadKey& wrap_key,
                                              std::string_view sealed,
                                              std::string_view aad,
                                              const std::string& what) {
  auto bytes = wrap_key.Open(sealed, aad);
  if (!bytes) {
    return Err(Status::Corruption(
        what +
        " does not unwrap: wrong master key, or the key store is damaged"));
  }
  auto key = AeadKey::FromBytes(*bytes);
  SecureWipe(*bytes);
  if (!key) return Err(key.error());
  return std::make_shared<const AeadKey>(std::move(*key));
}

}  // namespace

KeyStore::KeyStore(std::unique_ptr<internal::KeyDatabase> db, AeadKey wrap_key,
                   std::filesystem::path path)
    : db_(std::move(db)),
      path_(std::move(path)),
      wrap_key_(std::move(wrap_key)) {}

KeyStore::~KeyStore() {
  if (db_ && db_->db) {
    // A failed final close loses nothing: every write was synced.
    db_->db->Close().PermitUncheckedError();
  }
}

Result<std::unique_ptr<KeyStore>> KeyStore::Open(
    const std::filesystem::path& path, const MasterKey& master) {
  rocksdb::Options options(internal::HardenedDbOptions(),
                           rocksdb::ColumnFamilyOptions());
  options.compression = rocksdb::kNoCompression;
  options.info_log = internal::NewInfoLog(path);  // survives a full disk
  rocksdb::DB* raw = nullptr;
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  rocksdb::Status s = rocksdb::DB::Open(options, path.string(), &raw);
  if (!s.ok()) {
    return Err(
        internal::FromRocks(s, "opening the key store at " + path.string()));
  }
  auto db = std::make_unique<internal::KeyDatabase>();
  db->db.reset(raw);
  return std::unique_ptr<KeyStore>(
      new KeyStore(std::move(db), master.DeriveAead("wrap-data-keys"), path));
}

Result<std::unique_ptr<KeyStore>> KeyStore::OpenSecondary(
    const std::filesystem::path& path, const MasterKey& master,
    const std::filesystem::path& secondary_path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    return Err(Status::NotFound(
        "no key store at " + path.string() +
        ": name the region's key store with --key-store (siteledgerd's "
        "default is the data folder's path plus .keys)"));
  }
  rocksdb::Options options(internal::HardenedDbOptions(),
                           rocksdb::ColumnFamilyOptions());
  // Every table file open from the start: the primary may delete files
  // (compaction) while this instance reads them.
  options.max_open_files = -1;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenAsSecondary(
      options, path.string(), secondary_path.string(), &raw);
  if (!s.ok()) {
    return Err(internal::FromRocks(
        s, "opening the key store at " + path.string() + " read-only"));
  }
  auto db = std::make_unique<internal::KeyDatabase>();
  db->db.reset(raw);
  std::unique_ptr<KeyStore> keys(
      new KeyStore(std::move(db), master.DeriveAead("wrap-data-keys"), path));
  keys->read_only_ = true;
  return keys;
}

Status KeyStore::RefuseWrite() const {
  if (!read_only_) return Status::Ok();
  return Status::PermissionDenied(
      "the key store at " + path_.string() +
      " is open read-only (an offline tool's secondary instance): nothing "
      "is written to it");
}

Status KeyStore::Create(TenantId tenant) {
  MutexLock lock(mu_);
  const std::string key = internal::TenantPrefix(tenant);
  std::string existing;
  rocksdb::Status s = db_->db->Get(rocksdb::ReadOptions(), key, &existing);
  if (s.ok()) {
    return Status::Conflict("tenant " + std::to_string(tenant.value()) +
                            " already has a data key");
  }
  if (!s.IsNotFound()) return internal::FromRocks(s, "reading the key store");
  auto data_key = WriteNewKey(key, WrapAad(tenant));
  if (!data_key) return data_key.error();
  cache_[tenant] = std::move(*data_key);
  return Status::Ok();
}

Result<std::shared_ptr<const AeadKey>> KeyStore::WriteNewKey(
    std::string_view row, std::string_view aad) {
  SL_RETURN_ERR_IF_ERROR(RefuseWrite());
  auto key = AeadKey::Generate();
  if (!key) return Err(key.error());
  std::string value;
  coding::PutU8(value, kLiveKey);
  SL_RETURN_ERR_IF_ERROR(wrap_key_.SealAppend(key->bytes(), aad, value));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->db->Put(wo, row, value);
  if (!s.ok()) return Err(internal::FromRocks(s, "writing the key store"));
  return std::make_shared<const AeadKey>(std::move(*key));
}

Result<std::shared_ptr<const AeadKey>> KeyStore::Get(TenantId tenant) {
  MutexLock lock(mu_);
  if (auto it = cache_.find(tenant); it != cache_.end()) return it->second;
  std::string value;
  rocksdb::Status s = db_->db->Get(rocksdb::ReadOptions(),
                                   internal::TenantPrefix(tenant), &value);
  const std::string who = "tenant " + std::to_string(tenant.value());
  if (s.IsNotFound()) {
    return Err(Status::NotFound(who + " has no data key"));
  }
  if (!s.ok()) return Err(internal::FromRocks(s, "reading the key store"));
  if (value.empty()) return Err(Status::Corruption(who + ": empty key row"));
  if (static_cast<uint8_t>(value[0]) == kDestroyedKey) {
    return Err(
        Status::NotFound(who +
                         "'s data key was destroyed: its data can no longer be "
                         "decrypted"));
  }
  auto key = Unwrap(wrap_key_, std::string_view(value).substr(1),
                    WrapAad(tenant), who + "'s data key");
  if (key) cache_[tenant] = *key;
  return key;
}

Result<std::shared_ptr<const AeadKey>> KeyStore::AccessLogKey(Day day,
                                                              bool create) {
  MutexLock lock(mu_);
  if (auto it = day_cache_.find(day); it != day_cache_.end()) {
    return it->second;
  }
  const std::string row = DayRow(day);
  std::string value;
  rocksdb::Status s = db_->db->Get(rocksdb::ReadOptions(), row, &value);
  if (s.ok()) {
    if (value.empty() || static_cast<uint8_t>(value[0]) != kLiveKey) {
      return Err(
          Status::Corruption(DayName(day) + ": malformed access-log key row"));
    }
    auto key = Unwrap(wrap_key_, std::string_view(value).substr(1),
                      DayWrapAad(day), DayName(day) + "'s access-log key");
    if (key) day_cache_[day] = *key;
    return key;
  }
  if (!s.IsNotFound()) {
    return Err(internal::FromRocks(s, "reading the key store"));
  }
  if (!create) {
    return Err(Status::NotFound(DayName(day) + " has no access-log key"));
  }
  auto key = WriteNewKey(row, DayWrapAad(day));
  if (key) day_cache_[day] = *key;
  return key;
}

Result<std::vector<Day>> KeyStore::AccessLogKeyDays(Day before) {
  std::vector<Day> days;
  const std::string end = DayRow(before);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->db->NewIterator(ro));
  for (it->Seek(DayRow(Day(0))); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (key.size() != kDayRowPrefix.size() + 4 ||
        !key.starts_with(kDayRowPrefix)) {
      continue;
    }
    coding::Reader r(key.substr(kDayRowPrefix.size()));
    days.push_back(Day(*r.U32()));
  }
  SL_RETURN_ERR_IF_ERROR(
      internal::FromRocks(it->status(), "reading the key store"));
  return days;
}

Result<std::vector<Day>> KeyStore::DestroyAccessLogKeysBefore(Day before) {
  SL_RETURN_ERR_IF_ERROR(RefuseWrite());
  MutexLock destroying(destroy_days_mu_);
  const std::set<std::string> files = internal::DataFileNames(path_);
  std::vector<Day> days;
  {
    MutexLock lock(mu_);
    auto listed = AccessLogKeyDays(before);
    if (!listed) return Err(listed.error());
    days = std::move(*listed);
    if (days.empty() && !day_compaction_due_) return days;
    rocksdb::WriteBatch batch;
    for (Day day : days) {
      day_cache_.erase(day);
      batch.Delete(DayRow(day)).PermitUncheckedError();
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status s = db_->db->Write(wo, &batch);
    if (!s.ok()) return Err(internal::FromRocks(s, "writing the key store"));
  }
  // Until the compaction below succeeds, the deleted keys may still be in a
  // file: a later call must compact even if it deletes nothing.
  day_compaction_due_ = true;
  // As in Destroy: the deleted keys still sit in the WAL and in older
  // tables until a flush drops the WAL and a compaction of everything
  // drops the tables.
  rocksdb::FlushOptions fo;
  fo.wait = true;
  rocksdb::Status s = db_->db->Flush(fo);
  if (!s.ok()) return Err(internal::FromRocks(s, "flushing the key store"));
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  s = db_->db->CompactRange(co, nullptr, nullptr);
  if (!s.ok()) return Err(internal::FromRocks(s, "compacting the key store"));
  internal::WaitForObsoleteFiles(*db_->db, path_, files,
                                 std::chrono::seconds(10));
  day_compaction_due_ = false;
  return days;
}

Result<bool> KeyStore::Destroyed(TenantId tenant) {
  std::string value;
  rocksdb::Status s = db_->db->Get(rocksdb::ReadOptions(),
                                   internal::TenantPrefix(tenant), &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return Err(internal::FromRocks(s, "reading the key store"));
  return !value.empty() && static_cast<uint8_t>(value[0]) == kDestroyedKey;
}

Result<std::optional<std::string>> KeyStore::Identity() {
  std::string value;
  rocksdb::Status s =
      db_->db->Get(rocksdb::ReadOptions(), kIdentityRow, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return Err(internal::FromRocks(s, "reading the key store"));
  if (value.size() != kIdentityBytes) {
    return Err(Status::Corruption("the key store at " + path_.string() +
                                  " has a malformed identity row"));
  }
  return std::optional<std::string>(std::move(value));
}

Status KeyStore::SetIdentity(std::string_view identity) {
  if (identity.size() != kIdentityBytes) {
    return Status::InvalidArgument("a database identity is 16 bytes");
  }
  SL_RETURN_IF_ERROR(RefuseWrite());
  MutexLock lock(mu_);
  auto existing = Identity();
  if (!existing) return existing.error();
  if (existing->has_value()) {
    if (**existing == identity) return Status::Ok();
    return Status::Conflict("the key store at " + path_.string() +
                            " already belongs to another database");
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->db->Put(wo, kIdentityRow, identity);
  return internal::FromRocks(s, "writing the key store");
}

Status KeyStore::Destroy(TenantId tenant, Timestamp now) {
  SL_RETURN_IF_ERROR(RefuseWrite());
  const std::set<std::string> files = internal::DataFileNames(path_);
  {
    MutexLock lock(mu_);
    cache_.erase(tenant);
    std::string tombstone;
    coding::PutU8(tombstone, kDestroyedKey);
    coding::PutI64(tombstone, MillisOf(now));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status s =
        db_->db->Put(wo, internal::TenantPrefix(tenant), tombstone);
    if (!s.ok()) return internal::FromRocks(s, "writing the key store");
  }
  // Other tenants' keys are read meanwhile: the tombstone is written, so
  // the rest needs no lock. The overwritten key still sits in the
  // memtable's WAL and older tables: flush (so the WAL is dropped, never
  // archived), compact everything (so no table keeps the old version), and
  // wait for RocksDB to delete the files it no longer uses.
  rocksdb::FlushOptions fo;
  fo.wait = true;
  rocksdb::Status s = db_->db->Flush(fo);
  if (!s.ok()) return internal::FromRocks(s, "flushing the key store");
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  s = db_->db->CompactRange(co, nullptr, nullptr);
  if (!s.ok()) return internal::FromRocks(s, "compacting the key store");
  // Nothing in the key store keeps an iterator open, so the files go
  // within the wait; if one stayed, the next open would delete it.
  internal::WaitForObsoleteFiles(*db_->db, path_, files,
                                 std::chrono::seconds(10));
  return Status::Ok();
}

Result<std::vector<KeyStore::Row>> KeyStore::ExportRows() {
  std::vector<Row> rows;
  rocksdb::ReadOptions ro;
  const rocksdb::Snapshot* snapshot = db_->db->GetSnapshot();
  ro.snapshot = snapshot;
  std::unique_ptr<rocksdb::Iterator> it(db_->db->NewIterator(ro));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rows.push_back(Row{it->key().ToString(), it->value().ToString()});
  }
  rocksdb::Status s = it->status();
  it.reset();
  db_->db->ReleaseSnapshot(snapshot);
  if (!s.ok()) return Err(internal::FromRocks(s, "reading the key store"));
  return rows;
}

Status KeyStore::ImportRows(const std::vector<Row>& rows) {
  MutexLock lock(mu_);
  rocksdb::WriteBatch batch;
  for (const Row& row : rows) {
    batch.Put(row.key, row.value).PermitUncheckedError();
  }
  cache_.clear();
  day_cache_.clear();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return internal::FromRocks(db_->db->Write(wo, &batch),
                             "writing the key store");
}

std::optional<TenantId> KeyStore::TenantOfRow(const Row& row) {
  // Tenant rows are exactly the 8-byte prefix; the identity and day rows
  // are longer.
  if (row.key.size() != internal::kTenantPrefixBytes) return std::nullopt;
  return internal::TenantOfKey(row.key);
}

bool KeyStore::IsDestroyedRow(const Row& row) {
  return TenantOfRow(row).has_value() && !row.value.empty() &&
         static_cast<uint8_t>(row.value[0]) == kDestroyedKey;
}

std::string KeyStore::DestroyedValue(Timestamp when) {
  std::string tombstone;
  coding::PutU8(tombstone, kDestroyedKey);
  coding::PutI64(tombstone, MillisOf(when));
  return tombstone;
}

}  // namespace siteledger::storage
