#pragma once

// Online, incremental backups of a region (docs/architecture.md, section
// 10.10): the database through RocksDB's BackupEngine into <dir>/db, and the
// key store apart, as one file per backup sealed under the master key in
// <dir>/keys/<backup id> (formats.md, section 20). A purged tenant's key is
// removed from every key-store backup the store remembers (ScrubBackups),
// so that a restored backup never brings it back.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "storage/base/ids.h"
#include "storage/base/status.h"
#include "storage/key_store.h"
#include "storage/master_key.h"

namespace siteledger::storage {

class Store;

struct BackupOptions {
  // Absolute; created if absent. On the machine that runs the store.
  std::filesystem::path dir;
  // Backups kept in `dir` after this one (older ones deleted, with their
  // key files); 0 keeps all.
  uint32_t keep = 0;
};

struct BackupResult {
  uint32_t backup_id = 0;
  Timestamp created_at{};
  uint64_t bytes = 0;      // of the backup's database files (shared or not)
  uint64_t files = 0;      // the backup's database files
  uint64_t new_files = 0;  // of those, copied by this backup (not reused)
  uint64_t tenants = 0;    // tenants with a live key in the key file
};

// Backs up `store` into options.dir while it serves: flushes the memtables,
// copies the database files not already in the folder (table and blob files
// are shared between the backups of one folder), then writes the key file
// (temp file, fsync, rename, folder fsync) and remembers the folder in the
// database so that later purges reach it. Every write acknowledged before
// the call is in the backup. Errors, leaving earlier backups as they were:
//   InvalidArgument  a relative path
//   IOError          the folder cannot be created or written (the backup
//                    engine's files of a failed backup are removed by the
//                    next one)
//   QuotaExceeded    the disk is full
// One backup or scrub at a time (process-wide); reads and writes go on
// meanwhile. Any thread; slow.
Result<BackupResult> CreateBackup(Store& store, const BackupOptions& options);

struct ScrubFailure {
  std::string dir;
  std::string error;
};
struct ScrubReport {
  uint64_t locations = 0;        // folders remembered
  uint64_t files_rewritten = 0;  // key files that still held a purged key
  uint64_t keys_removed = 0;     // purged keys replaced by destroyed markers
  std::vector<ScrubFailure> failed;  // folders that could not be read or
                                     // written: retried at the next call
};

// Replaces, in every key file of every remembered backup folder, each data
// key that is destroyed in the store's key store by a destroyed marker
// (temp file, fsync, rename, folder fsync). A rescan rather than a list of
// pending purges: a crash after a key was destroyed and before its backups
// were rewritten, or a folder that was not mounted, is caught up by the
// next call. A folder that fails is reported in `failed` and skipped; the
// call itself fails only when the store's own key store or database cannot
// be read (IOError). One backup or scrub at a time; any thread.
Result<ScrubReport> ScrubBackups(Store& store);

struct BackupListing {
  uint32_t backup_id = 0;
  Timestamp created_at{};
  uint64_t bytes = 0;
  uint64_t files = 0;
  bool key_file = false;  // <dir>/keys/<id> exists
};
// The backups in `dir`, oldest first, from its files only (no database is
// opened). NotFound if `dir` holds no backup folder; IOError. Any thread.
Result<std::vector<BackupListing>> ListBackups(
    const std::filesystem::path& dir);

struct RestoreBackupOptions {
  std::filesystem::path dir;
  std::filesystem::path data;             // must not exist, or be empty
  std::filesystem::path key_store;        // default: data + ".keys"
  std::filesystem::path master_key_file;  // must exist: not in the backup
  std::optional<uint32_t> backup_id;      // default: the latest
};
struct RestoreBackupResult {
  uint32_t backup_id = 0;
  Timestamp created_at{};
  uint64_t tenants = 0;  // with a live key
  // Tenants whose record the backup holds but whose key was destroyed since
  // (purged after the backup): marked uninstalled with a purge due now, so
  // that the server's next sweep deletes their rows and records.
  std::vector<TenantId> purge_due;
};
// Restores a backup into a new data folder and key store, offline. Checks
// everything it can before writing: errors, each with what to do:
//   InvalidArgument  the target folders exist and are not empty; no
//                    master key file; the master key does not open the
//                    backup's key file (another region's key, or the file
//                    was altered)
//   NotFound         no such backup, or its key file is missing
//   IOError          reading the backup or writing the target failed
// Then opens the restored store once, to check that the database, key
// store and master key belong together, and to set the purges of tenants
// purged since the backup. Not thread-safe with anything using the
// targets; changes the process umask (Store::Open).
Result<RestoreBackupResult> RestoreBackup(const RestoreBackupOptions& options);

// The key file of one backup (formats.md, section 20).
// Seals `rows` for backup `backup_id` made at `created_at`.
Result<std::string> SealKeyBackup(const std::vector<KeyStore::Row>& rows,
                                  uint32_t backup_id, Timestamp created_at,
                                  const MasterKey& master);
struct KeyBackup {
  uint32_t backup_id = 0;
  Timestamp created_at{};
  std::vector<KeyStore::Row> rows;
};
// Opens a key file. InvalidArgument if it is not one (bad magic, truncated)
// or does not open under `master` (the wrong master key, or altered bytes:
// the two cannot be told apart).
Result<KeyBackup> OpenKeyBackup(std::string_view file, const MasterKey& master);

}  // namespace siteledger::storage
