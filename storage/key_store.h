#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/base/ids.h"
#include "storage/base/mutex.h"
#include "storage/base/status.h"
#include "storage/crypto.h"
#include "storage/master_key.h"

namespace siteledger::storage::internal {
class KeyDatabase;
}

namespace siteledger::storage {

// KeyStore holds one data key per tenant, and one key per day for the access
// log, each wrapped by the master key, in a small RocksDB database of its own
// beside the region's database (by convention `<data>.keys/`). It is never
// part of a data backup: a backup of the data holds only ciphertext, so
// destroying a tenant's key (or a day's) here makes every copy of that
// tenant's data (or that day's access log) unreadable. Safe for concurrent
// use.
class KeyStore {
 public:
  // Opens (or creates) the key store at `path`, unwrapping keys with a key
  // derived from `master`. IOError (naming the path) if RocksDB cannot open
  // it. Any thread.
  static Result<std::unique_ptr<KeyStore>> Open(
      const std::filesystem::path& path, const MasterKey& master);
  // Opens the key store at `path` as a RocksDB secondary instance: reads
  // what it held when opened, and never writes to it (its own info log goes
  // to `secondary_path`, a folder of the caller's). Every method that would
  // write returns PermissionDenied, writing nothing. NotFound (naming the
  // path and the --key-store flag) when there is no folder at `path`;
  // IOError or Corruption, naming the path, if RocksDB cannot open it. Any
  // thread.
  static Result<std::unique_ptr<KeyStore>> OpenSecondary(
      const std::filesystem::path& path, const MasterKey& master,
      const std::filesystem::path& secondary_path);
  ~KeyStore();

  // Generates and stores a new key for `tenant`. Conflict if it has one, or
  // had one that was destroyed (keys are never replaced); Internal if the
  // random generator fails; IOError. Any thread.
  Status Create(TenantId tenant);

  // The tenant's key. NotFound, saying so, if the store has no row for it
  // ("has no data key") or if it was destroyed ("was destroyed": then its
  // data can no longer be decrypted). The store does not know which tenants
  // exist: a caller that knows the tenant is registered treats a missing row
  // as a fault (EventLog answers Corruption). The key stays valid while the
  // caller holds it, even if destroyed meanwhile. Corruption if the wrapped
  // key does not open under the master key; IOError. Any thread; cached
  // after the first read.
  Result<std::shared_ptr<const AeadKey>> Get(TenantId tenant);

  // Destroys the tenant's key for good: the wrapped key is deleted, then
  // flushed and compacted out of the key store's files, and Destroy waits
  // (up to 10 s) for RocksDB to delete the files that held it. Idempotent
  // (a second call records the later time). IOError if RocksDB fails (the
  // key may then still be on disk: call again). Any thread; slow (it
  // compacts), but other tenants' keys are read meanwhile.
  Status Destroy(TenantId tenant, Timestamp now);

  // True if `tenant`'s key was destroyed (as opposed to never created).
  // IOError. Any thread.
  Result<bool> Destroyed(TenantId tenant);

  // The access log's key for `day`. With `create`, a day that has no key
  // gets a new one (a synced write) the first time it is asked for; without,
  // a day with no key (never created, or destroyed) is NotFound ("has no
  // access-log key"). Corruption if the wrapped key does not open under the
  // master key; Internal if the random generator fails; IOError. The key
  // stays valid while the caller holds it, even if destroyed meanwhile. Any
  // thread; cached after the first read.
  Result<std::shared_ptr<const AeadKey>> AccessLogKey(Day day, bool create);

  // The days that have an access-log key and are before `before`, oldest
  // first. IOError. Any thread.
  Result<std::vector<Day>> AccessLogKeyDays(Day before);

  // Destroys the access-log key of every day before `before`: the rows are
  // deleted with a synced write, then, as Destroy does, flushed and
  // compacted out of the key store's files, and the call waits (up to 10 s)
  // for RocksDB to delete the files that held them. Returns the days whose
  // keys went, oldest first (empty if none had one). A destroyed day has no
  // key: AccessLogKey without `create` is NotFound for it, and with
  // `create` makes a new one. IOError if RocksDB fails (the keys may then
  // still be on disk: the next call compacts again). Any thread; slow when
  // it destroys something (it compacts), but other keys are read meanwhile.
  Result<std::vector<Day>> DestroyAccessLogKeysBefore(Day before);

  // The identity of the region database this key store belongs to
  // (kIdentityBytes bytes), or nullopt if none was written yet (a new key
  // store, or one from before identities). Corruption if the row is not
  // kIdentityBytes long; IOError. Any thread.
  static constexpr size_t kIdentityBytes = 16;
  Result<std::optional<std::string>> Identity();
  // Writes `identity` with a synced write. InvalidArgument unless it is
  // kIdentityBytes long; Conflict if another identity is stored (a key
  // store is never re-bound); IOError. Any thread.
  Status SetIdentity(std::string_view identity);

  // Every row of the key store as stored (keys still wrapped under the
  // master key; destroyed markers, day keys and the identity row included),
  // read from one snapshot, in key order: what a key-store backup holds
  // (storage/backup.h). IOError. Any thread.
  struct Row {
    std::string key;
    std::string value;
  };
  Result<std::vector<Row>> ExportRows();
  // Writes `rows` (from ExportRows of a key store under the same master
  // key) with one synced write, replacing rows with the same keys; for a
  // restore into a new key store. IOError, writing nothing. Any thread.
  Status ImportRows(const std::vector<Row>& rows);
  // The tenant whose data-key row `row` is, or nullopt for any other row.
  static std::optional<TenantId> TenantOfRow(const Row& row);
  // Whether `row` is a destroyed tenant key's marker.
  static bool IsDestroyedRow(const Row& row);
  // The value of a destroyed marker written at `when`, as Destroy writes.
  static std::string DestroyedValue(Timestamp when);

  const std::filesystem::path& path() const { return path_; }

 private:
  KeyStore(std::unique_ptr<internal::KeyDatabase> db, AeadKey wrap_key,
           std::filesystem::path path);
  // Generates a key and writes it to `row`, wrapped with `aad`, with a
  // synced write. Internal (the random generator), IOError.
  Result<std::shared_ptr<const AeadKey>> WriteNewKey(std::string_view row,
                                                     std::string_view aad)
      REQUIRES(mu_);

  // PermissionDenied when opened by OpenSecondary; Ok otherwise.
  Status RefuseWrite() const;

  std::unique_ptr<internal::KeyDatabase> db_;
  bool read_only_ = false;  // set once, before the store is shared
  const std::filesystem::path path_;
  const AeadKey wrap_key_;
  Mutex mu_;
  std::unordered_map<TenantId, std::shared_ptr<const AeadKey>> cache_
      GUARDED_BY(mu_);
  std::map<Day, std::shared_ptr<const AeadKey>> day_cache_ GUARDED_BY(mu_);
  Mutex destroy_days_mu_;  // one destruction of day keys at a time; before mu_
  // Day keys were deleted, but no compaction has succeeded since.
  bool day_compaction_due_ GUARDED_BY(destroy_days_mu_) = false;
};

}  // namespace siteledger::storage
