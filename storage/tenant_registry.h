#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/base/clock.h"
#include "storage/base/ids.h"
#include "storage/base/mutex.h"
#include "storage/base/status.h"
#include "storage/crypto.h"
#include "storage/key_store.h"
#include "storage/master_key.h"

namespace rocksdb {
class WriteBatch;
}
namespace siteledger::storage::internal {
class Database;
}

namespace siteledger::storage {

enum class LifecycleState : uint8_t {
  kInstalled = 1,
  kUninstalled = 2,  // data kept, requests refused
  kPurged = 3,       // data key destroyed, data deleted
};
std::string_view LifecycleStateName(LifecycleState state);

// Where a tenant's data lives, as this region knows it (docs/architecture.md,
// "Residency"). A tenant has one home region; only the home accepts writes,
// and only in kHome or kCopying.
enum class ResidencyState : uint8_t {
  kHome = 0,         // this region is home
  kCopying = 1,      // home, copying to `peer`; writes go on
  kCutover = 2,      // home, handing over to `peer`; writes refused
  kMoved = 3,        // home is elsewhere; this frozen copy is kept for a
                     // rollback until `purge_at`
  kIncoming = 4,     // a copy arriving from the home region; not home yet
  kRollingBack = 5,  // home, giving the tenant back to `peer`; writes refused
  kGone = 6,         // the copy here was purged: only a tombstone is left
};
std::string_view ResidencyStateName(ResidencyState state);

struct Residency {
  ResidencyState state = ResidencyState::kHome;
  std::string peer;          // the other region of the migration under way
  std::string migration_id;  // of the migration under way or last done
  // The last move: when it happened, the region it came from (on the new
  // home) and the seq both sides agreed on.
  std::optional<Timestamp> moved_at;
  std::string moved_from;
  uint64_t cutover_seq = 0;
  // kIncoming: the events whose views are folded here.
  uint64_t folded_seq = 0;
  // Why the last migration failed, as Atlassian's realm migrations name it
  // (E0002: no such region here; E9999: anything else); empty otherwise.
  std::string error_code;

  // Whether the region holding this record accepts the tenant's writes.
  bool writable() const {
    return state == ResidencyState::kHome || state == ResidencyState::kCopying;
  }
  // A migration or rollback is under way here (the driver resumes it).
  bool in_flight() const {
    return state == ResidencyState::kCopying ||
           state == ResidencyState::kCutover ||
           state == ResidencyState::kRollingBack;
  }
};

// What Atlassian sends in the `installed` callback that the store keeps.
struct Installation {
  std::string client_key;
  std::string base_url;
  std::string shared_secret;
};

// A tenant's installation record. Stored sealed with a key derived from the
// master key; the sharedSecret never leaves memory in plaintext.
struct TenantRecord {
  TenantId id;
  std::string client_key;
  std::string base_url;
  std::string shared_secret;
  std::string home_region;
  LifecycleState state = LifecycleState::kInstalled;
  bool enabled = true;
  Timestamp created{};
  Timestamp updated{};
  std::optional<Timestamp> uninstalled_at;
  // When the sweeper purges the tenant's data here: 30 days after an
  // uninstall, or the end of a moved copy's rollback window (kMoved).
  std::optional<Timestamp> purge_at;
  Residency residency;
};

// TenantRegistry maps clientKeys (looked up by their HMAC under a key derived
// from the master key; the clientKey itself is never part of a key) to
// internal tenant ids, assigned once and never reused, and keeps each
// tenant's installation record. Safe for concurrent use.
class TenantRegistry {
 public:
  // `database`, `keys` and `clock` must outlive the registry.
  TenantRegistry(internal::Database& database, KeyStore& keys,
                 const MasterKey& master, const Clock& clock,
                 std::string region);

  struct InstallResult {
    TenantRecord record;
    bool created = false;   // a new tenant (and a new data key)
    bool restored = false;  // an uninstalled tenant installed again
  };
  // Creates the tenant for `installation.client_key`, or updates it: a new
  // sharedSecret or baseUrl replaces the old; an uninstalled tenant is
  // installed again with its data as it was (its purge called off); a
  // purged one starts over as a new tenant. InvalidArgument on an empty
  // clientKey or secret; Internal if a
  // new data key cannot be generated; IOError, writing nothing. Any thread:
  // installs and updates are serialised.
  Result<InstallResult> Install(const Installation& installation);

  // The tenant of `client_key`; NotFound if there is none; IOError. Any
  // thread.
  Result<TenantId> Find(std::string_view client_key) const;
  // The tenant's record. NotFound if there is none; Corruption if the
  // sealed record does not open; IOError. Any thread.
  Result<TenantRecord> Get(TenantId tenant) const;
  // As Find, then Get.
  Result<TenantRecord> GetByClientKey(std::string_view client_key) const;

  // Replaces the stored record of `record.id` (which must exist), setting
  // `updated` to now. NotFound if it does not exist; IOError, writing
  // nothing. Any thread: serialised with installs.
  Status Update(TenantRecord record);

  // Creates the tenant of `incoming.client_key` as a copy arriving from
  // another region (residency kIncoming; a new tenant id and a new data
  // key), or returns the copy already arriving (the same migration_id).
  // A tombstone (kGone) of an earlier copy is replaced by a new tenant id.
  // Conflict if the clientKey has a live tenant here; InvalidArgument as
  // Install; IOError. Any thread: serialised with installs.
  Result<TenantRecord> Adopt(const TenantRecord& incoming);

  // Leaves a tombstone of a purged copy of a tenant homed elsewhere: the
  // record keeps its id, home region and residency kGone; the clientKey,
  // secret and base URL are wiped. The clientKey index row stays, so that
  // requests for the tenant still find where it went. IOError. Any thread.
  Status MarkPurged(TenantId tenant);

  // The purge of an uninstalled tenant, in two steps. ClaimPurge marks it
  // kPurged if it is uninstalled and its purge_at is at or before `now`
  // (true; also true if it was claimed before, so a purge interrupted by a
  // crash resumes), or answers false (installed again, not due, or gone).
  // From the claim on, an install of its clientKey starts a new, empty
  // tenant. After the data is purged, Remove deletes every row the
  // registry keeps of it (record, indexes, and its clientKey's row unless a
  // new installation took it over): nothing of the tenant is left.
  // Conflict if it was not claimed; IOError. Any thread.
  Result<bool> ClaimPurge(TenantId tenant, Timestamp now);
  Status Remove(TenantId tenant);

  // Tenants with a migration or rollback under way here (kCopying,
  // kCutover, kRollingBack), from an index kept with the records: what the
  // server resumes at start, whatever the region's size. IOError. Any thread.
  Result<std::vector<TenantId>> InFlight() const;
  // Tenants whose purge_at is at or before `now`, earliest first, at most
  // `limit`; from an index kept with the records. IOError. Any thread.
  Result<std::vector<TenantId>> PurgesDue(Timestamp now, size_t limit) const;
  // Tenant records held in this region, in any state (a purged copy's
  // tombstone included). Counted once, on the first call, by a walk of the
  // records (installs wait for it), then kept by every create and removal:
  // after the first call it costs a lock. IOError. Any thread.
  Result<uint64_t> Count() EXCLUDES(mu_);

  // Tenants in id order, starting after `after`, at most `limit`.
  // Corruption for a record that does not open; IOError. Any thread.
  Result<std::vector<TenantRecord>> List(TenantId after, size_t limit) const;

  // The format of the region's views and their versions, as last written
  // (0 when never recorded: data from before formats were recorded); and
  // recording it, synced. Corruption for a malformed row; IOError. Any
  // thread.
  Result<uint32_t> ViewsFormat() const;
  Status SetViewsFormat(uint32_t format);

  const std::string& region() const { return region_; }

 private:
  std::string ClientKeyRow(std::string_view client_key) const;
  // Creates `record` under a new tenant id with a new data key (its
  // clientKey index row pointing at it). REQUIRES: mu_ held.
  Result<TenantRecord> CreateLocked(TenantRecord record) REQUIRES(mu_);
  // Writes `record` (sealed) and moves its index rows from `old` (nullptr
  // for a new record) in `batch`.
  Status StageRecord(const TenantRecord* old, const TenantRecord& record,
                     rocksdb::WriteBatch& batch) const;
  // Deletes every row under the tenant's prefix in `batch`.
  Status StageDeleteRows(TenantId tenant, rocksdb::WriteBatch& batch) const;
  Result<TenantRecord> Decode(TenantId tenant, std::string_view sealed) const;
  Result<std::string> Encode(const TenantRecord& record) const;

  internal::Database& db_;
  KeyStore& keys_;
  const Clock& clock_;
  const std::string region_;
  const std::string index_key_;  // HMAC key for clientKeys
  const AeadKey record_key_;     // seals records
  Mutex mu_;                     // serialises installs and updates
  std::optional<uint64_t> count_ GUARDED_BY(mu_);  // Count(), once known
};

}  // namespace siteledger::storage
