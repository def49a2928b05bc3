#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "storage/base/coding.h"
#include "storage/crypto.h"
#include "storage/event_log.h"
#include "storage/internal/database.h"
#include "storage/internal/keys.h"

// The account index: which tenants hold a pseudonym for an account id, so
// that erasing a person finds their tenants without walking the region.
// Two rows per entry in the tenants family (formats.md, section 8): tenant
// 0's, keyed by the account's HMAC then the tenant, and the tenant's own,
// which its purge deletes both by.

namespace siteledger::storage {
namespace {

using internal::AccountIndexKey;
using internal::TenantAccountKey;
using internal::TenantRow;
using internal::TenantRowKey;

// The index's format, in the row that says every tenant is indexed.
constexpr uint32_t kAccountIndexFormat = 1;

}  // namespace

Result<Hash> EventLog::AccountHmac(std::string_view account_id) const {
  if (options_.account_index_key.empty()) {
    return Err(Status::InvalidArgument("this log keeps no account index"));
  }
  return HmacSha256(options_.account_index_key, account_id);
}

Result<std::vector<std::pair<std::string, bool>>> EventLog::AccountIndexRows(
    TenantId tenant, const std::vector<AccountIndexWrite>& writes) const {
  std::vector<std::pair<std::string, bool>> rows;
  for (const AccountIndexWrite& w : writes) {
    if (w.op == WriteOp::kMerge || w.account_id.empty()) {
      return Err(Status::InvalidArgument(
          "an account index write is a put or a delete of an account id"));
    }
    auto h = AccountHmac(w.account_id);
    if (!h) return Err(h.error());
    const bool deleted = w.op == WriteOp::kDelete;
    rows.emplace_back(AccountIndexKey(*h, tenant), deleted);
    rows.emplace_back(TenantAccountKey(tenant, *h), deleted);
  }
  return rows;
}

Result<std::vector<TenantId>> EventLog::TenantsOfAccount(
    std::string_view account_id) const {
  auto h = AccountHmac(account_id);
  if (!h) return Err(h.error());
  const std::string prefix = TenantRowKey(
      internal::kRegistryTenant, TenantRow::kAccountIndex,
      std::string_view(reinterpret_cast<const char*>(h->data()), h->size()));
  return internal::TenantIdsUnder(db_, Family::kTenants, prefix,
                                  "reading the account index");
}

Result<uint64_t> EventLog::DropAccountIndex(TenantId tenant) {
  if (tenant == internal::kRegistryTenant) {
    return Err(Status::InvalidArgument("tenant 0 is reserved"));
  }
  const std::string prefix = TenantRowKey(tenant, TenantRow::kAccount);
  rocksdb::WriteBatch batch;
  uint64_t entries = 0;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Family::kTenants)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (key.size() == prefix.size() + 32) {
      Hash h;
      std::copy(key.begin() + static_cast<ptrdiff_t>(prefix.size()), key.end(),
                h.begin());
      batch.Delete(db_.cf(Family::kTenants), AccountIndexKey(h, tenant))
          .PermitUncheckedError();
      ++entries;
    }
    batch.Delete(db_.cf(Family::kTenants), it->key()).PermitUncheckedError();
  }
  SL_RETURN_ERR_IF_ERROR(
      internal::FromRocks(it->status(), "reading the account index"));
  if (batch.Count() == 0) return entries;
  SL_RETURN_ERR_IF_ERROR(db_.WriteSynced(batch));
  return entries;
}

Result<bool> EventLog::AccountIndexBuilt() const {
  auto row = db_.Get(
      Family::kTenants,
      TenantRowKey(internal::kRegistryTenant, TenantRow::kAccountIndexBuilt));
  if (!row) {
    if (row.error().code() == StatusCode::kNotFound) return false;
    return Err(row.error());
  }
  coding::Reader reader(*row);
  auto format = reader.U32();
  if (!format || row->size() != 4) {
    return Err(Status::Corruption("the account index's row is malformed"));
  }
  return *format >= kAccountIndexFormat;
}

Status EventLog::MarkAccountIndexBuilt() {
  std::string value;
  coding::PutU32(value, kAccountIndexFormat);
  rocksdb::WriteBatch batch;
  batch
      .Put(db_.cf(Family::kTenants),
           TenantRowKey(internal::kRegistryTenant,
                        TenantRow::kAccountIndexBuilt),
           value)
      .PermitUncheckedError();
  return db_.WriteSynced(batch);
}

}  // namespace siteledger::storage
