#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "storage/access_log.h"
#include "storage/audit_log.h"
#include "storage/base/clock.h"
#include "storage/base/ids.h"
#include "storage/base/mutex.h"
#include "storage/base/status.h"
#include "storage/disk_space.h"
#include "storage/event_log.h"
#include "storage/key_store.h"
#include "storage/master_key.h"
#include "storage/tenant_registry.h"

namespace siteledger::storage::internal {
class Database;
}

namespace siteledger::storage {

struct StoreOptions {
  // The region's database folder itself, e.g. ./data/us.
  std::filesystem::path data;
  // Default: the data folder's path plus ".keys", e.g. ./data/us.keys.
  std::filesystem::path key_store;
  // Default: master-<region>.key beside the data folder, e.g.
  // ./data/master-us.key. Created (mode 0600) if absent.
  std::filesystem::path master_key_file;
  std::string region = "us";
  // Must outlive the store. Required.
  const Clock* clock = nullptr;
  EventLog::Options log;
  // Free space kept on the data folder's file system: a write that would
  // leave less is refused with QuotaExceeded ("the server's disk is nearly
  // full") before RocksDB sees it, reads go on, and the room left lets a
  // restart recover. It also bounds memtables and the live WAL to half of
  // it (4 to 64 MiB). 0: no reserve.
  uint64_t disk_reserve_bytes = uint64_t{64} << 20;
  // RocksDB's block cache, shared by every family: what reads keep of the
  // table files in memory.
  size_t block_cache_bytes = size_t{128} << 20;
};

// What Store::PurgeTenant erased. Per family: the rows deleted, and the
// bytes of their values as stored (sealed, so a little more than the
// plaintext).
struct PurgeReceipt {
  struct Rows {
    uint64_t rows = 0;
    uint64_t bytes = 0;
  };
  TenantId tenant;
  // The tenant's last seq when the purge began (0 if it never appended). The
  // head row is in the tenants family, which the purge leaves alone, so a
  // second purge reports the same seq.
  Sequence head_before;
  // When the data key was destroyed (this purge's clock reading).
  Timestamp key_destroyed_at{};
  Rows events;
  Rows views;
  Rows snapshots;
  Rows blobs;
  Rows pseudonyms;
  Rows index;
  // Entries of the region's account index (EventLog::TenantsOfAccount).
  uint64_t account_index_entries = 0;
  // Files of the database that may hold the tenant's deleted rows and were
  // still on disk when the purge returned: a reader's iterator kept them
  // (RocksDB deletes them once it lets go). 0 normally.
  uint64_t files_left = 0;
};

// Store is one region's storage: the database, the key store, the tenant
// registry and the event log, opened together and closed in the right order.
// Safe for concurrent use: every method may be called from any thread, except
// where it says otherwise.
class Store {
 public:
  // Opens (or creates) everything `options` names, filling in the default
  // paths. Sets the process umask to 077 for good (RocksDB creates files for
  // as long as the store is open), so new folders are 0700 and new files
  // 0600; existing files in the data and key-store folders are narrowed to
  // their owner's bits. On every open, checks that the master key and the
  // key store belong to the database (an identity and a master key check
  // value, written when the database is created or first opened by this
  // version: formats.md, section 8). Fails with a message that names the
  // file at fault and the fix:
  //   InvalidArgument   no clock or no data folder; a master key file that
  //                     does not hold one key; a master key that is not the
  //                     database's (its check value differs, or it does not
  //                     open a tenant's record); a key store that is
  //                     missing, or holds another database's identity (or
  //                     none, or lacks a live tenant's key) while the
  //                     database has tenants
  //   PermissionDenied  a master key file, data folder or key-store folder
  //                     that group or others may use (chmod -R go-rwx)
  //   IOError           a file or folder that cannot be read, created or
  //                     locked (e.g. the database open in another process)
  //   Corruption        a damaged database, or a malformed identity row
  //   QuotaExceeded     the disk is full
  //   Internal          the random generator failed, or RocksDB refused its
  //                     options
  // What was opened before the failure is closed again. Any thread, but it
  // changes the umask of the whole process; slow (RocksDB recovers its WAL).
  static Result<std::unique_ptr<Store>> Open(StoreOptions options);
  // Opens the region `options` names read-only, for the offline tools,
  // with the same default paths: the database with RocksDB's
  // OpenForReadOnly (not a secondary instance: RocksDB 7.8's crashes on
  // values in blob files, see internal::DatabaseOptions::read_only), the
  // key store as a RocksDB secondary instance, the master key with
  // MasterKey::Load. RocksDB's info logs go to `scratch`, a private folder
  // of the caller's that must outlive the store. Works beside a running
  // siteledgerd and on a stopped region alike. The store sees the region
  // as it was when opened and never catches up (a follower tailing
  // siteledgerd's zero-filled WAL would skip writes for good,
  // docs/architecture.md section 11), so its reads are one consistent
  // snapshot. Never writes to the data folder, the key store or the master
  // key file, never changes the umask or a file's mode, and creates
  // nothing there: every write through it (an append, a registry change, a
  // rebuild) fails with PermissionDenied, writing nothing. Makes the checks
  // Open makes of the master key and key store, without writing a binding
  // that is missing. Errors name the path at fault and what to do:
  //   NotFound          no database at options.data, no key store, no
  //                     master key file
  //   InvalidArgument   no clock; the master key or key store are not the
  //                     database's (as Open)
  //   PermissionDenied  a master key file that group or others may read
  //   IOError, Corruption  RocksDB cannot open a database (beside a live
  //                     server: a file it deleted meanwhile; run again)
  // Any thread; slow (RocksDB reads the WAL).
  static Result<std::unique_ptr<Store>> OpenReadOnly(
      StoreOptions options, const std::filesystem::path& scratch);
  // Closes the access log, audit log and event log (which commits what is
  // queued first), then the registry, the key store and the database. Must
  // not run on the event log's commit thread (from an AppendAsync callback),
  // nor while another thread still uses the store or anything it returned.
  ~Store();

  // The parts, valid as long as the store; each is safe for concurrent use.
  // Never fail.
  TenantRegistry& registry() { return *registry_; }
  EventLog& log() { return *log_; }
  KeyStore& keys() { return *keys_; }
  AuditLog& audit() { return *audit_; }
  AccessLog& access_log() { return *access_log_; }
  const Clock& clock() const { return *clock_; }
  const StoreOptions& options() const { return options_; }
  // True for a store opened by OpenReadOnly.
  bool read_only() const { return read_only_; }
  // For storage's own helpers (storage/backup.cc): internal::Database is
  // not usable outside storage/. Valid as long as the store.
  internal::Database& database() { return *db_; }
  const MasterKey& master() const { return *master_; }

  // True when the database answers reads (for /readyz): a read of the
  // tenants family that succeeds or finds nothing. Never fails; any thread.
  bool Healthy() const;

  // The free space of the data folder's file system and the reserve, for
  // /metrics and /readyz; measured again when older than ~200 ms. Never
  // fails (a file system that cannot be asked counts as full); any thread.
  DiskSpace disk_space() const;

  // Approximately how many bytes the tenant's rows take on disk and in
  // memtables, over every tenant family. A family RocksDB cannot size counts
  // as 0: never fails. Any thread.
  uint64_t TenantBytes(TenantId tenant) const;

  // Flushes every memtable and waits until no flush or compaction runs or is
  // pending, so that a benchmark does not measure the background work of its
  // own loading. Returns the first flush error (IOError, Corruption,
  // QuotaExceeded when the disk is full, Unavailable while RocksDB shuts
  // down). Any thread; blocks for as long as the background work takes, with
  // no timeout, so not from an AppendAsync callback.
  Status WaitForIdle();

  // Erases the tenant's data for good. In this order:
  //  1. destroys its data key (KeyStore::Destroy), so that every copy of
  //     its rows left anywhere (a backup, a replica) can no longer be read,
  //     and waits until no append of the tenant can still be written;
  //  2. counts and deletes its rows in the events, views, snapshots, blobs,
  //     pseudonyms and index families, compacting each range so that the
  //     values leave the table and blob files (the whole blobs family is
  //     rewritten), and its entries in the account index;
  //  3. flushes every family, so that no WAL file holding its writes is
  //     kept, and waits (up to 10 s) for RocksDB to delete the files that
  //     held them.
  // Leaves the tenant's rows in the tenants family (installation record,
  // head, idempotency records: the registry's to mark purged or delete) and
  // its entries in the global audit and access logs. Afterwards every read
  // and append of the tenant is NotFound.
  //
  // Idempotent: purging a tenant again does it all again (finishing a purge
  // that failed half-way) and returns zero counts once nothing is left.
  // Errors, after which the purge may be called again: InvalidArgument for
  // tenant 0; NotFound for a tenant with neither a data key (live or
  // destroyed) nor an installation record (so no future id is poisoned);
  // QuotaExceeded (the disk reserve), IOError, Unavailable while the store
  // shuts down. The data key is gone once any step after the first failed.
  //
  // Purges run one at a time; reads and appends of other tenants go on
  // meanwhile. REQUIRES: nothing writes the tenant's rows outside the event
  // log meanwhile (a rebuild through EventLog::WriteRows that fetched the
  // key before it was destroyed could write rows after they were deleted).
  // Any thread but the event log's commit thread; slow (it compacts, and
  // rewrites every blob file).
  Result<PurgeReceipt> PurgeTenant(TenantId tenant) EXCLUDES(purge_mu_);

  // Reads every row of `family` with every checksum verified: Corruption
  // naming the file and offset of the first damaged block. Any thread.
  Status VerifyFamily(Family family) const;
  // Offline repair of a derived family (views, snapshots, index) with a
  // damaged file: drops it with all its files and creates it empty, for
  // every tenant's rebuild from its log. InvalidArgument for any other
  // family (the log, the registry, media and pseudonyms are rebuilt from
  // nothing). Nothing else may use the store meanwhile.
  Status RecreateDerivedFamily(Family family);

  // Makes the earlier values of rows deleted from the pseudonyms family of
  // `tenants`, and of entries deleted from the account index, leave every
  // file of the database: compacts each tenant's pseudonyms range and the
  // account index to the bottommost level, flushes every family (so no WAL
  // file holding their writes is kept), and waits (up to 10 s) for RocksDB
  // to delete the files that held them. For an erasure of users, after the
  // synced writes that deleted their rows. Returns how many of those files
  // were still there (a reader's iterator keeps the files it reads): 0
  // normally. QuotaExceeded (the disk reserve), IOError, Unavailable while
  // the store shuts down. Runs one at a time with purges; reads and appends
  // go on meanwhile. Any thread but the event log's commit thread; slow (it
  // compacts and flushes).
  Result<uint64_t> ScrubPseudonyms(const std::vector<TenantId>& tenants)
      EXCLUDES(purge_mu_);

  // RocksDB's own figures for /metrics: name -> value (sizes in bytes),
  // summed over the families; a figure RocksDB does not report counts as 0
  // (block_cache_usage_bytes is then left out). Never fails; any thread.
  std::vector<std::pair<std::string, uint64_t>> DatabaseFigures() const;

 private:
  Store() = default;

  StoreOptions options_;
  const Clock* clock_ = nullptr;
  std::unique_ptr<MasterKey> master_;
  std::unique_ptr<internal::Database> db_;
  std::unique_ptr<KeyStore> keys_;
  std::unique_ptr<TenantRegistry> registry_;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<AccessLog> access_log_;
  bool read_only_ = false;
  Mutex purge_mu_;  // held for the whole of a purge: one at a time
};

}  // namespace siteledger::storage
