#pragma once

// Key layouts. Every tenant family's key starts with the tenant id as 8 bytes
// big-endian, so one tenant's rows are one contiguous range and ids sort
// numerically. Keys never hold a plaintext identifier (clientKey, account id,
// keyword): RocksDB's MANIFEST and old WAL files keep keys after a delete.

#include <string>
#include <string_view>

#include "storage/base/coding.h"
#include "storage/base/ids.h"

namespace siteledger::storage::internal {

inline constexpr size_t kTenantPrefixBytes = 8;

inline std::string TenantPrefix(TenantId tenant) {
  std::string out;
  coding::PutU64(out, tenant.value());
  return out;
}

// The first key after every key of `tenant`: the exclusive end of its range.
inline std::string TenantRangeEnd(TenantId tenant) {
  return TenantPrefix(TenantId(tenant.value() + 1));
}

inline std::string TenantKey(TenantId tenant, std::string_view suffix) {
  std::string out = TenantPrefix(tenant);
  out += suffix;
  return out;
}

// events: tenant | seq
inline std::string EventKey(TenantId tenant, Sequence seq) {
  std::string out = TenantPrefix(tenant);
  coding::PutU64(out, seq.value());
  return out;
}

inline TenantId TenantOfKey(std::string_view key) {
  return TenantId(key.size() >= 8 ? coding::DecodeU64(key.data()) : 0);
}
inline Sequence SequenceOfKey(std::string_view key) {
  return Sequence(key.size() >= 16 ? coding::DecodeU64(key.data() + 8) : 0);
}

// tenants family. Tenant 0 holds the registry's global rows.
inline constexpr TenantId kRegistryTenant{0};
enum class TenantRow : char {
  kNextId = 'n',       // tenant 0: the next tenant id to assign
  kClientKey = 'c',    // tenant 0: HMAC(clientKey) -> tenant id
  kRecord = 'r',       // installation record (sealed with the master key)
  kHead = 'h',         // head seq, time and hash of the tenant's log
  kIdempotency = 'i',  // SHA-256(idempotency key) -> first append's result
  kAuditHead = 'A',    // tenant 0: last audit record's id, time and hash
  kIdentity = 'I',     // tenant 0: database identity and master key check
  kViewsFormat = 'V',  // tenant 0: the format the views are in (u32)
  kInFlight = 'M',     // tenant 0: + tenant id: a migration under way
  kPurgeDue = 'P',     // tenant 0: + u64 due ms + tenant id: a purge due
  // tenant 0: + HMAC(account id) + tenant id: the tenant holds a pseudonym
  // for the account (the account index; the HMAC is under a master-derived
  // key, so no account id is in a key).
  kAccountIndex = 'U',
  kAccount = 'u',  // + HMAC(account id): the same entry, seen from the tenant
  kAccountIndexBuilt = 'B',  // tenant 0: every tenant's accounts are indexed
  kBackupLocation = 'K',     // tenant 0: + SHA-256(folder): a backup folder
};

inline std::string TenantRowKey(TenantId tenant, TenantRow row,
                                std::string_view suffix = {}) {
  std::string out = TenantPrefix(tenant);
  out.push_back(static_cast<char>(row));
  out += suffix;
  return out;
}

// The account index's entry for (account, tenant): tenant 0's row, found by
// the account, and the tenant's own row, found by the tenant (a purge).
inline std::string AccountIndexKey(const Hash& account, TenantId tenant) {
  std::string out = TenantRowKey(
      kRegistryTenant, TenantRow::kAccountIndex,
      std::string_view(reinterpret_cast<const char*>(account.data()),
                       account.size()));
  coding::PutU64(out, tenant.value());
  return out;
}
inline std::string TenantAccountKey(TenantId tenant, const Hash& account) {
  return TenantRowKey(
      tenant, TenantRow::kAccount,
      std::string_view(reinterpret_cast<const char*>(account.data()),
                       account.size()));
}

}  // namespace siteledger::storage::internal
