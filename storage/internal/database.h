#pragma once

// The region's RocksDB database and its column families. Internal to
// storage/: nothing outside this folder sees a RocksDB type.

#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/file_system.h>

#include <array>
#include <filesystem>
#include <memory>
#include <vector>

#include "storage/base/clock.h"
#include "storage/family.h"
#include "storage/base/status.h"

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

  // Writes `batch` with a synced WAL.
  Status WriteSynced(rocksdb::WriteBatch& batch);
  // Point read; NotFound when absent.
  Result<std::string> Get(Family family, std::string_view key) const;
  // Deletes [begin, end) in `family` and compacts it so the bytes leave the
  // files (blob garbage collection forced for blobs).
  Status DeleteRangeAndCompact(Family family, std::string_view begin,
                               std::string_view end);

 private:
  Database() = default;

  std::filesystem::path path_;
  bool secondary_ = false;
  std::shared_ptr<rocksdb::Env> env_;  // owns the wrapped file system, if any
  // Compaction filters must outlive the database, which only borrows them.
  std::vector<std::unique_ptr<rocksdb::CompactionFilter>> filters_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* default_handle_ = nullptr;
  std::array<rocksdb::ColumnFamilyHandle*, kAllFamilies.size()> handles_{};
};

// Options shared by the region database and the key store: small MANIFEST,
// no recycled or archived WAL files.
rocksdb::DBOptions HardenedDbOptions();

}  // namespace siteledger::storage::internal
