#include "storage/store.h"

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "storage/internal/database.h"
#include "storage/internal/keys.h"
#include "storage/internal/private_folder.h"
#include "storage/internal/region_binding.h"

namespace siteledger::storage {

Result<std::unique_ptr<Store>> Store::Open(StoreOptions options) {
  if (options.clock == nullptr) {
    return Err(Status::InvalidArgument("a store needs a clock"));
  }
  if (options.data.empty()) {
    return Err(Status::InvalidArgument("a store needs a data folder"));
  }
  if (options.key_store.empty()) {
    options.key_store = options.data;
    options.key_store += ".keys";
  }
  if (options.master_key_file.empty()) {
    options.master_key_file =
        options.data.parent_path() / ("master-" + options.region + ".key");
  }
  // Before anything is created: RocksDB makes its files with the umask.
  internal::RestrictUmask();
  std::unique_ptr<Store> store(new Store());
  store->clock_ = options.clock;

  auto master = MasterKey::LoadOrCreate(options.master_key_file);
  if (!master) return Err(master.error());
  store->master_ = std::make_unique<MasterKey>(std::move(*master));

  SL_RETURN_ERR_IF_ERROR(
      internal::PreparePrivateFolder(options.data, "data folder"));
  internal::DatabaseOptions db_options;
  db_options.path = options.data;
  db_options.clock = options.clock;
  db_options.disk_reserve_bytes = options.disk_reserve_bytes;
  db_options.block_cache_bytes = options.block_cache_bytes;
  auto db = internal::Database::Open(db_options);
  if (!db) return Err(db.error());
  store->db_ = std::move(*db);

  // A missing key store must not be recreated empty under a database whose
  // tenants' keys it held: every read would then look like a lost tenant.
  std::error_code ec;
  const bool keys_exist = std::filesystem::exists(options.key_store, ec);
  if (ec) {
    return Err(Status::IOError("reading " + options.key_store.string() + ": " +
                               ec.message()));
  }
  if (!keys_exist) {
    auto has_tenants = internal::HasTenants(*store->db_);
    if (!has_tenants) return Err(has_tenants.error());
    if (*has_tenants) {
      return Err(Status::InvalidArgument(
          "the key store " + options.key_store.string() +
          " does not exist, but the database at " + options.data.string() +
          " has tenants whose data keys it holds; restore the key store "
          "that belongs to this database"));
    }
  }
  SL_RETURN_ERR_IF_ERROR(
      internal::PreparePrivateFolder(options.key_store, "key store folder"));
  auto keys = KeyStore::Open(options.key_store, *store->master_);
  if (!keys) return Err(keys.error());
  store->keys_ = std::move(*keys);

  store->registry_ = std::make_unique<TenantRegistry>(
      *store->db_, *store->keys_, *store->master_, *options.clock,
      options.region);
  SL_RETURN_ERR_IF_ERROR(internal::BindRegion(
      *store->db_, *store->keys_, *store->master_, *store->registry_,
      {options.data, options.key_store, options.master_key_file}));
  // Account ids are indexed by an HMAC under a key of their own, so that
  // the index says nothing without the master key.
  options.log.account_index_key = store->master_->Derive("account-index");
  store->log_ = std::make_unique<EventLog>(*store->db_, *store->keys_,
                                           *options.clock, options.log);
  store->audit_ = std::make_unique<AuditLog>(
      *store->db_, *options.clock, store->master_->DeriveAead("audit-log"));
  store->access_log_ =
      std::make_unique<AccessLog>(*store->db_, *store->keys_, *options.clock);
  store->options_ = std::move(options);
  return store;
}

Result<std::unique_ptr<Store>> Store::OpenReadOnly(
    StoreOptions options, const std::filesystem::path& scratch) {
  if (options.clock == nullptr) {
    return Err(Status::InvalidArgument("a store needs a clock"));
  }
  if (options.data.empty()) {
    return Err(Status::InvalidArgument("a store needs a data folder"));
  }
  if (options.key_store.empty()) {
    options.key_store = options.data;
    options.key_store += ".keys";
  }
  if (options.master_key_file.empty()) {
    options.master_key_file =
        options.data.parent_path() / ("master-" + options.region + ".key");
  }
  std::error_code ec;
  if (!std::filesystem::exists(options.data / "CURRENT", ec)) {
    return Err(Status::NotFound(
        "no siteledger database at " + options.data.string() +
        ": name the region's data folder with --data (siteledgerd's "
        "default is ./data/<region>)"));
  }
  std::unique_ptr<Store> store(new Store());
  store->clock_ = options.clock;
  store->read_only_ = true;

  auto master = MasterKey::Load(options.master_key_file);
  if (!master) return Err(master.error());
  store->master_ = std::make_unique<MasterKey>(std::move(*master));

  // RocksDB's info logs, and nothing else, go to the scratch folder.
  const std::filesystem::path db_scratch = scratch / "db";
  const std::filesystem::path keys_scratch = scratch / "keys";
  for (const auto& folder : {db_scratch, keys_scratch}) {
    std::filesystem::create_directories(folder, ec);
    if (ec) {
      return Err(
          Status::IOError("creating " + folder.string() + ": " + ec.message()));
    }
  }
  internal::DatabaseOptions db_options;
  db_options.path = options.data;
  db_options.clock = options.clock;
  db_options.create_if_missing = false;
  db_options.read_only = true;
  db_options.read_only_log = db_scratch;
  db_options.disk_reserve_bytes = 0;
  auto db = internal::Database::Open(db_options);
  if (!db) return Err(db.error());
  store->db_ = std::move(*db);

  auto keys =
      KeyStore::OpenSecondary(options.key_store, *store->master_, keys_scratch);
  if (!keys) return Err(keys.error());
  store->keys_ = std::move(*keys);

  store->registry_ = std::make_unique<TenantRegistry>(
      *store->db_, *store->keys_, *store->master_, *options.clock,
      options.region);
  SL_RETURN_ERR_IF_ERROR(internal::BindRegion(
      *store->db_, *store->keys_, *store->master_, *store->registry_,
      {options.data, options.key_store, options.master_key_file},
      /*check_only=*/true));
  options.log.account_index_key = store->master_->Derive("account-index");
  store->log_ = std::make_unique<EventLog>(*store->db_, *store->keys_,
                                           *options.clock, options.log);
  store->audit_ = std::make_unique<AuditLog>(
      *store->db_, *options.clock, store->master_->DeriveAead("audit-log"));
  store->access_log_ =
      std::make_unique<AccessLog>(*store->db_, *store->keys_, *options.clock);
  store->options_ = std::move(options);
  return store;
}

Store::~Store() {
  // The log's commit thread drains first; then what it writes to goes.
  access_log_.reset();
  audit_.reset();
  log_.reset();
  registry_.reset();
  keys_.reset();
  db_.reset();
}

std::vector<std::pair<std::string, uint64_t>> Store::DatabaseFigures() const {
  static const std::pair<const char*, const char*> kProperties[] = {
      {"estimate_num_keys", "rocksdb.estimate-num-keys"},
      {"live_sst_files_size_bytes", "rocksdb.live-sst-files-size"},
      {"total_blob_file_size_bytes", "rocksdb.total-blob-file-size"},
      {"memtable_size_bytes", "rocksdb.cur-size-all-mem-tables"},
      // With the memtables already flushed that readers still pin.
      {"memtable_pinned_size_bytes", "rocksdb.size-all-mem-tables"},
      {"table_readers_memory_bytes", "rocksdb.estimate-table-readers-mem"},
      {"pending_compaction_bytes", "rocksdb.estimate-pending-compaction-bytes"},
      {"running_compactions", "rocksdb.num-running-compactions"},
      {"running_flushes", "rocksdb.num-running-flushes"},
  };
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [name, property] : kProperties) {
    uint64_t total = 0;
    for (Family family : kAllFamilies) {
      uint64_t value = 0;
      if (db_->db()->GetIntProperty(db_->cf(family), property, &value)) {
        total += value;
      }
    }
    out.emplace_back(name, total);
  }
  uint64_t cache = 0;
  if (db_->db()->GetIntProperty(db_->cf(Family::kEvents),
                                "rocksdb.block-cache-usage", &cache)) {
    out.emplace_back("block_cache_usage_bytes", cache);  // shared by all
  }
  return out;
}

Status Store::WaitForIdle() {
  rocksdb::DB* raw = db_->db();
  rocksdb::FlushOptions flush;
  flush.wait = true;
  for (Family f : kAllFamilies) {
    rocksdb::Status s = raw->Flush(flush, db_->cf(f));
    if (!s.ok()) return internal::FromRocks(s);
  }
  for (;;) {
    uint64_t compactions = 0, flushes = 0, pending = 0;
    raw->GetIntProperty("rocksdb.num-running-compactions", &compactions);
    raw->GetIntProperty("rocksdb.num-running-flushes", &flushes);
    bool any_pending = false;
    for (Family f : kAllFamilies) {
      any_pending = any_pending ||
                    (raw->GetIntProperty(
                         db_->cf(f), "rocksdb.compaction-pending", &pending) &&
                     pending > 0);
    }
    if (compactions == 0 && flushes == 0 && !any_pending) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

uint64_t Store::TenantBytes(TenantId tenant) const {
  const std::string begin = internal::TenantPrefix(tenant);
  const std::string end = internal::TenantRangeEnd(tenant);
  uint64_t total = 0;
  for (Family family :
       {Family::kEvents, Family::kViews, Family::kSnapshots, Family::kTenants,
        Family::kBlobs, Family::kPseudonyms, Family::kIndex}) {
    rocksdb::Range range(begin, end);
    uint64_t size = 0;
    rocksdb::SizeApproximationOptions options;
    options.include_memtables = true;
    options.include_files = true;
    if (db_->db()
            ->GetApproximateSizes(options, db_->cf(family), &range, 1, &size)
            .ok()) {
      total += size;
    }
  }
  return total;
}

Result<PurgeReceipt> Store::PurgeTenant(TenantId tenant) {
  if (tenant == internal::kRegistryTenant) {
    return Err(Status::InvalidArgument("tenant 0 is reserved"));
  }
  MutexLock lock(purge_mu_);
  const std::string who = "tenant " + std::to_string(tenant.value());
  // A tombstone for an id never handed out would refuse its key later.
  auto destroyed = keys_->Destroyed(tenant);
  if (!destroyed) return Err(destroyed.error());
  if (!*destroyed) {
    auto key = keys_->Get(tenant);
    if (!key && key.error().code() != StatusCode::kNotFound) {
      return Err(key.error());
    }
    if (!key) {
      auto record = db_->Get(
          Family::kTenants,
          internal::TenantRowKey(tenant, internal::TenantRow::kRecord));
      if (!record && record.error().code() == StatusCode::kNotFound) {
        return Err(Status::NotFound(who + " does not exist"));
      }
      if (!record) return Err(record.error());
    }
  }

  PurgeReceipt receipt;
  receipt.tenant = tenant;
  receipt.key_destroyed_at = clock_->Now();
  SL_RETURN_ERR_IF_ERROR(keys_->Destroy(tenant, receipt.key_destroyed_at));
  // An append staged on the commit thread before the key went may still be
  // written with it. The commit thread takes appends in order and stages
  // each before the group it is in is written, so once an append queued
  // now has failed (the key is gone), every earlier one is written or
  // failed too, and none of the tenant can follow.
  std::vector<NewEvent> barrier;
  barrier.push_back(NewEvent{"purge.barrier", "", ""});
  auto appended = log_->Append(tenant, std::nullopt, std::move(barrier));
  if (appended) {
    return Err(Status::Internal(who + " could still append after its key " +
                                "was destroyed; the purge stopped"));
  }
  if (appended.error().code() != StatusCode::kNotFound) {
    return Err(appended.error());
  }
  auto head = log_->GetHead(tenant);
  if (!head) return Err(head.error());
  receipt.head_before = head->seq;

  std::set<std::string> files = internal::DataFileNames(db_->path());
  const std::string begin = internal::TenantPrefix(tenant);
  const std::string end = internal::TenantRangeEnd(tenant);
  const std::pair<Family, PurgeReceipt::Rows*> families[] = {
      {Family::kEvents, &receipt.events},
      {Family::kViews, &receipt.views},
      {Family::kSnapshots, &receipt.snapshots},
      {Family::kBlobs, &receipt.blobs},
      {Family::kPseudonyms, &receipt.pseudonyms},
      {Family::kIndex, &receipt.index},
  };
  for (const auto& [family, rows] : families) {
    internal::ErasedRange erased;
    SL_RETURN_ERR_IF_ERROR(
        db_->DeleteRangeAndCompact(family, begin, end, &erased));
    rows->rows = erased.rows;
    rows->bytes = erased.value_bytes;
  }
  auto accounts = log_->DropAccountIndex(tenant);
  if (!accounts) return Err(accounts.error());
  receipt.account_index_entries = *accounts;
  // Tables and blob files written while the ranges were compacted may have
  // held the tenant's rows too; the WAL files before the flush held them.
  files.merge(internal::DataFileNames(db_->path()));
  SL_RETURN_ERR_IF_ERROR(db_->FlushAll());
  receipt.files_left = internal::WaitForObsoleteFiles(
      *db_->db(), db_->path(), files, std::chrono::seconds(10));
  return receipt;
}

Result<uint64_t> Store::ScrubPseudonyms(const std::vector<TenantId>& tenants) {
  MutexLock lock(purge_mu_);
  std::set<std::string> files = internal::DataFileNames(db_->path());
  for (TenantId tenant : tenants) {
    SL_RETURN_ERR_IF_ERROR(db_->CompactRange(Family::kPseudonyms,
                                             internal::TenantPrefix(tenant),
                                             internal::TenantRangeEnd(tenant)));
  }
  // The whole index rather than each entry's key: one compaction, whatever
  // the number of accounts erased.
  const std::string index = internal::TenantRowKey(
      internal::kRegistryTenant, internal::TenantRow::kAccountIndex);
  std::string index_end = index;
  index_end.back() = static_cast<char>(index_end.back() + 1);
  SL_RETURN_ERR_IF_ERROR(db_->CompactRange(Family::kTenants, index, index_end));
  // And the tenants' own index rows.
  for (TenantId tenant : tenants) {
    const std::string own =
        internal::TenantRowKey(tenant, internal::TenantRow::kAccount);
    std::string own_end = own;
    own_end.back() = static_cast<char>(own_end.back() + 1);
    SL_RETURN_ERR_IF_ERROR(db_->CompactRange(Family::kTenants, own, own_end));
  }
  files.merge(internal::DataFileNames(db_->path()));
  SL_RETURN_ERR_IF_ERROR(db_->FlushAll());
  return internal::WaitForObsoleteFiles(*db_->db(), db_->path(), files,
                                        std::chrono::seconds(10));
}

Status Store::VerifyFamily(Family family) const {
  return db_->VerifyFamily(family);
}

Status Store::RecreateDerivedFamily(Family family) {
  return db_->RecreateFamily(family);
}

DiskSpace Store::disk_space() const { return db_->disk_space(); }

bool Store::Healthy() const {
  auto row = db_->Get(Family::kTenants, std::string(8, '\0'));
  return row.has_value() || row.error().code() == StatusCode::kNotFound;
}

}  // namespace siteledger::storage
