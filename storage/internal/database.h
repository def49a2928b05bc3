#pragma once

// The region's RocksDB database and its column families. Internal to
// storage/: nothing outside this folder sees a RocksDB type.

#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/file_system.h>
#include <rocksdb/merge_operator.h>

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "storage/base/clock.h"
#include "storage/base/ids.h"
#include "storage/base/mutex.h"
#include "storage/base/status.h"
#include "storage/disk_space.h"
#include "storage/family.h"

namespace siteledger::storage::internal {

// The one conversion from rocksdb::Status.
Status FromRocks(const rocksdb::Status& s, std::string_view context = {});

struct DatabaseOptions {
  std::filesystem::path path;
  bool create_if_missing = true;
  // Replaces the default file system (tests inject faults through it).
  std::shared_ptr<rocksdb::FileSystem> file_system;
  // Used by compaction filters that expire rows (idempotency keys). Must
  // outlive the database.
  const Clock* clock = nullptr;
  // Open as a RocksDB secondary instance that follows a live primary;
  // `secondary_path` holds its own info log. A secondary tailing a live
  // WAL takes the zeros laid ahead of it (wal_file_system.h) for padding
  // and skips that space for good: follow only a primary opened with
  // `zero_fill_wal` off.
  bool secondary = false;
  std::filesystem::path secondary_path;
  // Open read-only (RocksDB's OpenForReadOnly), beside a live primary or
  // on a stopped database: what the database held when opened, writing
  // nothing to its folder (RocksDB's info log goes to `read_only_log`, which
  // must be set). Table files are all opened at once, so a compaction of
  // the primary does not take them away; a blob file is opened when first
  // read. Used instead of a secondary by the offline tools: a RocksDB 7.8
  // secondary crashes reading any value kept in a blob file (its version
  // set keeps references to temporary strings as the database's id and
  // session id, which the blob cache key hashes).
  bool read_only = false;
  std::filesystem::path read_only_log;
  // Shared by every column family.
  size_t block_cache_bytes = size_t{128} << 20;
  // Lay zeros ahead of each WAL file so that synced writes overwrite rather
  // than grow it (wal_file_system.h).
  bool zero_fill_wal = true;
  // How recovery treats a damaged WAL tail. Point-in-time recovery (the
  // default) stops at the first bad record: a crash's torn, unsynced tail
  // is never an acknowledged write. Tests use kAbsoluteConsistency to show
  // that zeros after the last record are read as padding, not damage.
  rocksdb::WALRecoveryMode wal_recovery_mode =
      rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // Free space to keep on the file system of `path`: a synced write that
  // would leave less is refused with QuotaExceeded before RocksDB sees it,
  // so RocksDB never meets ENOSPC on the write path and a restart has room
  // to recover. Also bounds the memtables and the live WAL (half the
  // reserve each, between 4 and 64 MiB) so that a flush always fits in the
  // reserve. 0: no reserve, RocksDB's own sizes.
  uint64_t disk_reserve_bytes = 0;
  // How long a free-space figure (statvfs) is trusted; in between, the
  // bytes written since are subtracted from it.
  std::chrono::milliseconds disk_check_interval{200};
};

// What Database::DeleteRangeAndCompact deleted: rows, and the bytes of
// their values as stored (sealed values with their seal overhead).
struct ErasedRange {
  uint64_t rows = 0;
  uint64_t value_bytes = 0;
};

class Database {
 public:
  // Opens (or creates) the database with every column family of Family.
  static Result<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(Family family) const {
    return handles_[static_cast<size_t>(family)];
  }
  const std::filesystem::path& path() const { return path_; }
  bool secondary() const { return secondary_; }
  bool read_only() const { return read_only_; }

  // Every method that writes (WriteSynced, Write, DeleteRangeAndCompact,
  // CompactRange, FlushAll) returns PermissionDenied, writing nothing, on a
  // secondary or read-only instance.

  // Writes `batch` with a synced WAL. QuotaExceeded, writing nothing, when
  // the write would eat into the disk reserve (CheckDiskReserve) or the disk
  // is full.
  Status WriteSynced(rocksdb::WriteBatch& batch);
  // As WriteSynced, with the WAL synced only when `sync`.
  Status Write(rocksdb::WriteBatch& batch, bool sync);
  // Ok if about `bytes` more can be written without leaving less free space
  // than the reserve (and counts them against the free space); otherwise
  // QuotaExceeded. Asks the file system again when its figure is older than
  // the check interval, or when the write would not fit. Any thread.
  Status CheckDiskReserve(uint64_t bytes) EXCLUDES(disk_mu_);
  // The free space and the reserve, measured again if the figure is stale.
  // Any thread.
  DiskSpace disk_space() EXCLUDES(disk_mu_);
  // Point read; NotFound when absent.
  Result<std::string> Get(Family family, std::string_view key) const;
  // Deletes [begin, end) in `family` with synced writes and compacts it so
  // the bytes leave the table files: the range with its bottommost level
  // forced, or for kBlobs the whole family with blob garbage collection
  // forced (a blob file may be shared with rows outside the range). When
  // `erased` is given (non-owning, for the call only), counts what was
  // deleted into it. Rows written into the range while it runs may be left
  // uncounted, or survive: the caller keeps writers out. QuotaExceeded (the
  // disk reserve), IOError, Unavailable while RocksDB shuts down. Any thread;
  // slow (it compacts), but other writes go on meanwhile.
  Status DeleteRangeAndCompact(Family family, std::string_view begin,
                               std::string_view end,
                               ErasedRange* erased = nullptr);
  // Compacts [begin, end) of `family` to the bottommost level (flushing
  // memtables that overlap it first), so that the values of rows deleted
  // there leave the table files; kBlobs as DeleteRangeAndCompact. Errors
  // and threads as DeleteRangeAndCompact.
  Status CompactRange(Family family, std::string_view begin,
                      std::string_view end);
  // Flushes every family's memtable, so that every WAL file written before
  // the call becomes obsolete and is deleted (none is kept, archived or
  // recycled: HardenedDbOptions). The deletion itself runs in the
  // background: see WaitForObsoleteFiles. IOError, QuotaExceeded,
  // Unavailable. Any thread; other writes go on meanwhile.
  Status FlushAll();

  // Reads every row of `family`, with every table block's and blob's
  // checksum verified. Corruption naming the file and offset of the first
  // damaged block; Ok when the whole family reads. Any thread.
  Status VerifyFamily(Family family) const;

  // Drops `family` with all its files and creates it again, empty, with the
  // same options: for a derived family (views, snapshots, index) with a
  // damaged file, which is then rebuilt from the logs. Dropping reads
  // nothing, so damage cannot stop it (a compaction over a damaged block
  // would fail). PermissionDenied on a follower. Offline only: nothing may
  // use the family meanwhile.
  Status RecreateFamily(Family family);

 private:
  Database() = default;

  // PermissionDenied on a secondary or read-only instance; Ok otherwise.
  Status RefuseWrite() const;

  // Measures the free space now. REQUIRES: disk_mu_ held.
  void RefreshFreeSpace(std::chrono::steady_clock::time_point now)
      REQUIRES(disk_mu_);

  std::filesystem::path path_;
  bool secondary_ = false;
  bool read_only_ = false;
  uint64_t disk_reserve_ = 0;
  std::chrono::milliseconds disk_check_interval_{200};
  Mutex disk_mu_;
  uint64_t free_bytes_ GUARDED_BY(disk_mu_) = 0;
  std::chrono::steady_clock::time_point free_measured_ GUARDED_BY(disk_mu_){};
  bool writes_refused_ GUARDED_BY(disk_mu_) = false;
  uint64_t refused_bytes_ GUARDED_BY(disk_mu_) = 0;  // the last refused
  std::shared_ptr<rocksdb::Env> env_;  // owns the wrapped file system, if any
  // Compaction filters must outlive the database, which only borrows them.
  std::vector<std::unique_ptr<rocksdb::CompactionFilter>> filters_;
  std::unique_ptr<rocksdb::DB> db_;
  // Set when a synced write failed for the disk: RocksDB then refuses
  // writes until DB::Resume, tried before the next one.
  std::atomic<bool> needs_resume_{false};
  rocksdb::ColumnFamilyHandle* default_handle_ = nullptr;
  std::array<rocksdb::ColumnFamilyHandle*, kAllFamilies.size()> handles_{};
  std::shared_ptr<rocksdb::Cache> block_cache_;  // every family's
};

// The tenant ids that end the keys `prefix` · `u64` tenant in `family`, in
// key order (keys of another length under the prefix are skipped): how the
// registry's and the account index's id lists are read. IOError naming
// `what`. Any thread.
Result<std::vector<TenantId>> TenantIdsUnder(const Database& db, Family family,
                                             std::string_view prefix,
                                             std::string_view what);

// The event index family's merge operator: ORs portable roaring bitmaps;
// a merge that meets bytes which are no bitmap yields a poisoned row (read
// as Corruption) rather than failing the flush or compaction.
std::shared_ptr<rocksdb::MergeOperator> NewIndexMergeOperator();

// Options shared by the region database and the key store: small MANIFEST,
// no recycled or archived WAL files, no flush while recovering.
rocksdb::DBOptions HardenedDbOptions();

// The names (without the folder) of the table (.sst), blob (.blob) and WAL
// (.log) files in `folder`; empty if it cannot be listed. Any thread.
std::set<std::string> DataFileNames(const std::filesystem::path& folder);

// Waits until each of `files` (names in `db`'s folder `folder`) is either
// gone or still used by `db` (a live table or blob file, or a WAL file that
// holds unflushed writes), or until `timeout` passed. RocksDB deletes
// obsolete files in the background, and not while a reader's iterator
// still reads them. Returns how many obsolete files were still there: 0
// normally. Never fails (a folder that cannot be listed counts as empty);
// any thread.
size_t WaitForObsoleteFiles(rocksdb::DB& db,
                            const std::filesystem::path& folder,
                            const std::set<std::string>& files,
                            std::chrono::milliseconds timeout);

// RocksDB's info log (LOG in `folder`) that a full disk cannot bring down.
// RocksDB's own file logger goes on appending to its file writer after a
// write failed, and its writer asserts on that (an abort in Debian's build):
// this one drops the lines it cannot write and tries again with the next.
// Rolls to LOG.old past `max_bytes`. Never fails; lines go nowhere if the
// file cannot be opened.
std::shared_ptr<rocksdb::Logger> NewInfoLog(const std::filesystem::path& folder,
                                            uint64_t max_bytes = 16 << 20);

}  // namespace siteledger::storage::internal
