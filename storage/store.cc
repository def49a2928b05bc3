#include "storage/store.h"

#include "storage/internal/database.h"

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
  std::unique_ptr<Store> store(new Store());
  store->clock_ = options.clock;

  auto master = MasterKey::LoadOrCreate(options.master_key_file);
  if (!master) return Err(master.error());
  store->master_ = std::make_unique<MasterKey>(std::move(*master));

  internal::DatabaseOptions db_options;
  db_options.path = options.data;
  db_options.clock = options.clock;
  auto db = internal::Database::Open(db_options);
  if (!db) return Err(db.error());
  store->db_ = std::move(*db);

  auto keys = KeyStore::Open(options.key_store, *store->master_);
  if (!keys) return Err(keys.error());
  store->keys_ = std::move(*keys);

  store->registry_ = std::make_unique<TenantRegistry>(
      *store->db_, *store->keys_, *store->master_, *options.clock,
      options.region);
  store->log_ = std::make_unique<EventLog>(*store->db_, *store->keys_,
                                           *options.clock, options.log);
  store->options_ = std::move(options);
  return store;
}

Store::~Store() {
  // The log's commit thread drains first; then what it writes to goes.
  log_.reset();
  registry_.reset();
  keys_.reset();
  db_.reset();
}

bool Store::Healthy() const {
  auto row = db_->Get(Family::kTenants, std::string(8, '\0'));
  return row.has_value() || row.error().code() == StatusCode::kNotFound;
}

}  // namespace siteledger::storage
