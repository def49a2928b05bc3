#include "storage/internal/database.h"

#include <fcntl.h>
#include <roaring/roaring.h>
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/sst_file_manager.h>
#include <rocksdb/table.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <thread>

#include "storage/base/coding.h"
#include "storage/internal/bitmap_rows.h"
#include "storage/internal/keys.h"
#include "storage/internal/wal_file_system.h"

namespace siteledger::storage {

std::string_view FamilyName(Family family) {
  switch (family) {
    case Family::kEvents:
      return "events";
    case Family::kViews:
      return "views";
    case Family::kSnapshots:
      return "snapshots";
    case Family::kTenants:
      return "tenants";
    case Family::kBlobs:
      return "blobs";
    case Family::kPseudonyms:
      return "pseudonyms";
    case Family::kIndex:
      return "index";
    case Family::kAccessLog:
      return "access_log";
    case Family::kAudit:
      return "audit";
  }
  return "unknown";
}

namespace internal {

Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status::Ok();
  std::string message(context);
  if (!message.empty()) message += ": ";
  message += s.ToString();
  switch (s.code()) {
    case rocksdb::Status::kNotFound:
      return Status::NotFound(std::move(message));
    case rocksdb::Status::kCorruption:
      return Status::Corruption(std::move(message));
    case rocksdb::Status::kInvalidArgument:
    case rocksdb::Status::kNotSupported:
      return Status::Internal(std::move(message));
    case rocksdb::Status::kIOError:
      if (s.subcode() == rocksdb::Status::kNoSpace) {
        // The file's path stays out: a client sees this message (507).
        return Status::QuotaExceeded(std::string(context) +
                                     (context.empty() ? "" : ": ") +
                                     "the disk is full");
      }
      return Status::IOError(std::move(message));
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kShutdownInProgress:
      return Status::Unavailable(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

namespace {

// ORs serialized (portable format) roaring bitmaps: the index family maps a
// (tenant, dimension, value, chunk) to the seqs that carry it. A full merge
// operator rather than an associative one: RocksDB hands over every operand
// of a key at once, so k operands cost one deserialize of the base and one
// serialize, not k of each. Every base and operand is parsed with CRoaring's
// size-checked reader. One that does not parse makes the result a poison
// value (kPoison, which parses as no bitmap) rather than a failed merge: in
// RocksDB 7.8 a merge that fails inside a flush or compaction stops every
// write of the region until it is reopened, while a poisoned row is one row
// that EventIndex reads as Corruption (never an empty bitmap), `siteledger
// verify` names and `replay --repair` rewrites.
class BitmapOrOperator final : public rocksdb::MergeOperator {
 public:
  // Not a portable roaring bitmap: its first four bytes are no cookie.
  static constexpr std::string_view kPoison =
      "\xff\xff\xff\xffsiteledger: a merge met bytes that are no bitmap";

  bool FullMergeV2(const MergeOperationInput& in,
                   MergeOperationOutput* out) const override {
    roaring_bitmap_t* acc = roaring_bitmap_create();
    if (acc == nullptr) return false;
    bool ok = in.existing_value == nullptr || OrInto(acc, *in.existing_value);
    for (size_t i = 0; ok && i < in.operand_list.size(); ++i) {
      ok = OrInto(acc, in.operand_list[i]);
    }
    if (ok) {
      Serialize(acc, out->new_value);
    } else {
      out->new_value.assign(kPoison);
    }
    roaring_bitmap_free(acc);
    return true;
  }

  bool PartialMergeMulti(const rocksdb::Slice& /*key*/,
                         const std::deque<rocksdb::Slice>& operands,
                         std::string* new_value,
                         rocksdb::Logger* /*logger*/) const override {
    roaring_bitmap_t* acc = roaring_bitmap_create();
    if (acc == nullptr) return false;
    bool ok = true;
    for (size_t i = 0; ok && i < operands.size(); ++i) {
      ok = OrInto(acc, operands[i]);
    }
    if (ok) Serialize(acc, *new_value);
    roaring_bitmap_free(acc);
    return ok;
  }

  // A lone operand stays as it is in flushes and compactions (most rows
  // an append writes are new rows of one seq): re-encoding it would cost a
  // parse and a serialize per row and change nothing. It is still parsed,
  // and poisoned if bad, by the full merge of a read or of the bottommost
  // compaction.
  bool AllowSingleOperand() const override { return false; }
  const char* Name() const override { return "siteledger.BitmapOr"; }

 private:
  // False when `bytes` is not a whole portable bitmap.
  static bool OrInto(roaring_bitmap_t* acc, const rocksdb::Slice& bytes) {
    roaring_bitmap_t* b = internal::ParsePortableBitmap(bytes.ToStringView());
    if (b == nullptr) return false;
    roaring_bitmap_or_inplace(acc, b);
    roaring_bitmap_free(b);
    return true;
  }
  static void Serialize(roaring_bitmap_t* b, std::string& out) {
    roaring_bitmap_run_optimize(b);
    out.resize(roaring_bitmap_portable_size_in_bytes(b));
    roaring_bitmap_portable_serialize(b, out.data());
  }
};

// Drops idempotency rows older than their 24 h window during compaction, so
// the table of remembered keys does not grow without bound.
class ExpireIdempotencyFilter final : public rocksdb::CompactionFilter {
 public:
  explicit ExpireIdempotencyFilter(const Clock* clock) : clock_(clock) {}
  bool Filter(int /*level*/, const rocksdb::Slice& key,
              const rocksdb::Slice& value, std::string* /*new_value*/,
              bool* /*value_changed*/) const override {
    if (clock_ == nullptr || key.size() <= kTenantPrefixBytes ||
        key[kTenantPrefixBytes] != static_cast<char>(TenantRow::kIdempotency) ||
        value.size() < 8) {
      return false;
    }
    // The value starts with the time the key was first used (ms, BE).
    const int64_t used = static_cast<int64_t>(coding::DecodeU64(value.data()));
    return used + kWindowMs < MillisOf(clock_->Now());
  }
  const char* Name() const override { return "siteledger.ExpireIdempotency"; }

 private:
  static constexpr int64_t kWindowMs = 24LL * 3600 * 1000;
  const Clock* clock_;
};

// Families whose appends insert into the memtable with a per-tenant hint.
// RocksDB 7.8 shares those hints between a memtable's point table and its
// range-deletion table (facebook/rocksdb#5118, fixed in 9.x by #12558): a
// range deletion there misbehaves, so their rows are deleted one by one.
bool InsertsWithHint(Family family) {
  return family == Family::kEvents || family == Family::kViews ||
         family == Family::kTenants;
}

rocksdb::ColumnFamilyOptions FamilyOptions(
    Family family, const std::shared_ptr<rocksdb::Cache>& block_cache) {
  rocksdb::ColumnFamilyOptions o;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = block_cache;
  // Index and filter blocks live in the block cache (the L0 files' pinned,
  // ahead of data blocks when it is full), not beside it in every open
  // table file: otherwise memory grows with the data, a region's table
  // files never closing (max_open_files -1).
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (family == Family::kEvents || family == Family::kViews ||
      family == Family::kSnapshots || family == Family::kPseudonyms ||
      family == Family::kAudit || family == Family::kAccessLog) {
    // Their values are sealed (ciphertext does not compress): compressing
    // would only spend CPU in every flush and compaction, which a busy
    // tenant's versions keep busy.
    o.compression = rocksdb::kNoCompression;
    o.bottommost_compression = rocksdb::kNoCompression;
  } else {
    o.compression = rocksdb::kLZ4Compression;
    o.bottommost_compression = rocksdb::kZSTD;
  }
  if (InsertsWithHint(family)) {
    // Appends of one tenant land next to each other: remember where the
    // last key of each tenant went instead of searching the skiplist.
    o.memtable_insert_with_hint_prefix_extractor.reset(
        rocksdb::NewFixedPrefixTransform(kTenantPrefixBytes));
  }
  switch (family) {
    case Family::kBlobs:
      // Media bytes go to blob files; purges force their garbage collection.
      o.enable_blob_files = true;
      o.min_blob_size = 4096;
      o.enable_blob_garbage_collection = true;
      o.blob_compression_type =
          rocksdb::kNoCompression;  // images compress badly
      break;
    case Family::kIndex:
      o.merge_operator = NewIndexMergeOperator();
      break;
    default:
      break;
  }
  return o;
}

// See NewInfoLog. Writes with write(2) on a descriptor of its own: a
// failed write leaves nothing behind that a later one could trip on.
class InfoLog final : public rocksdb::Logger {
 public:
  InfoLog(std::filesystem::path path, uint64_t max_bytes)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL),
        path_(std::move(path)),
        max_bytes_(max_bytes) {
    MutexLock lock(mu_);
    Reopen();
  }
  ~InfoLog() override {
    MutexLock lock(mu_);
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[1024];
    const auto now = std::chrono::system_clock::now();
    const time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            now.time_since_epoch())
                            .count() %
                        1000000;
    struct tm t {};
    ::localtime_r(&seconds, &t);
    int n = std::snprintf(line, sizeof(line),
                          "%04d/%02d/%02d-%02d:%02d:%02d.%06lld ",
                          t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                          t.tm_min, t.tm_sec, static_cast<long long>(micros));
    n = std::max(n, 0);
    va_list copy;
    va_copy(copy, ap);
    const int body = std::vsnprintf(
        line + n, sizeof(line) - static_cast<size_t>(n) - 1, format, copy);
    va_end(copy);
    size_t len =
        std::min(sizeof(line) - 2, static_cast<size_t>(n) +
                                       static_cast<size_t>(std::max(body, 0)));
    if (len == 0 || line[len - 1] != '\n') line[len++] = '\n';
    MutexLock lock(mu_);
    if (size_ > max_bytes_) Roll();
    if (fd_ < 0) return;
    // A short or failed write (ENOSPC) loses this line only.
    const ssize_t written = ::write(fd_, line, len);
    if (written > 0) size_ += static_cast<uint64_t>(written);
  }

 private:
  void Reopen() REQUIRES(mu_) {
    if (fd_ >= 0) ::close(fd_);
    fd_ =
        ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    const off_t end = fd_ >= 0 ? ::lseek(fd_, 0, SEEK_END) : 0;
    size_ = end > 0 ? static_cast<uint64_t>(end) : 0;
  }
  void Roll() REQUIRES(mu_) {
    std::error_code ec;
    std::filesystem::rename(path_, path_.string() + ".old", ec);
    Reopen();
  }

  const std::filesystem::path path_;
  const uint64_t max_bytes_;
  Mutex mu_;
  int fd_ GUARDED_BY(mu_) = -1;
  uint64_t size_ GUARDED_BY(mu_) = 0;
};

}  // namespace

std::shared_ptr<rocksdb::Logger> NewInfoLog(const std::filesystem::path& folder,
                                            uint64_t max_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  return std::make_shared<InfoLog>(folder / "LOG", max_bytes);
}

std::shared_ptr<rocksdb::MergeOperator> NewIndexMergeOperator() {
  return std::make_shared<BitmapOrOperator>();
}

rocksdb::DBOptions HardenedDbOptions() {
  rocksdb::DBOptions o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.paranoid_checks = true;
  // Keys are ids and HMACs only, but keep the MANIFEST (which records key
  // ranges of files) small and rewritten often, and never keep old WAL files.
  o.max_manifest_file_size = 1 << 20;
  o.recycle_log_file_num = 0;
  o.WAL_ttl_seconds = 0;
  // Recovery stops at the first bad record of the WAL: after a crash that is
  // the torn tail of writes never acknowledged (nothing synced is lost).
  // Stricter modes refuse to open on such a tail.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  o.WAL_size_limit_MB = 0;
  // Bound the live WAL: flush the families holding it back once it grows.
  o.max_total_wal_size = 64 << 20;
  o.keep_log_file_num = 5;
  o.max_log_file_size = 16 << 20;
  o.max_background_jobs = 2;
  o.bytes_per_sync = 1 << 20;
  // Replay the WAL into memtables without writing level-0 tables, so that a
  // restart on a nearly full disk comes up (the disk reserve leaves room
  // for the new WAL and MANIFEST); the old WAL files stay until a flush.
  o.avoid_flush_during_recovery = true;
  return o;
}

Result<std::unique_ptr<Database>> Database::Open(
    const DatabaseOptions& options) {
  std::unique_ptr<Database> database(new Database());
  database->path_ = options.path;
  database->secondary_ = options.secondary;
  database->read_only_ = options.read_only;
  const bool follower = options.secondary || options.read_only;
  database->disk_reserve_ = follower ? 0 : options.disk_reserve_bytes;
  database->disk_check_interval_ = options.disk_check_interval;

  rocksdb::DBOptions db_options = HardenedDbOptions();
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = options.create_if_missing;
  db_options.wal_recovery_mode = options.wal_recovery_mode;
  if (database->disk_reserve_ > 0) {
    // What a flush must write (the memtables), what the live WAL may hold
    // and the zeros laid ahead of it (a chunk at most the size of the file,
    // wal_file_system.h) all fit in the reserve, so a flush never meets a
    // full disk and a restart replays the WAL into memtables without
    // flushing.
    const uint64_t budget =
        std::clamp<uint64_t>(database->disk_reserve_ / 3, 1 << 20, 64 << 20);
    db_options.db_write_buffer_size = budget;
    db_options.max_total_wal_size = budget;
    // A compaction writes its output before it deletes its inputs: it
    // starts only when the free space holds its estimated output and the
    // reserve besides, and RocksDB clears a disk-full error by itself once
    // space comes back.
    std::shared_ptr<rocksdb::SstFileManager> sfm(
        rocksdb::NewSstFileManager(rocksdb::Env::Default()));
    sfm->SetCompactionBufferSize(database->disk_reserve_);
    db_options.sst_file_manager = std::move(sfm);
  }
  if (!follower && options.zero_fill_wal) {
    // Synced WAL writes overwrite zeros laid ahead of them: see
    // wal_file_system.h.
    database->env_ =
        rocksdb::NewCompositeEnv(std::make_shared<WalZeroFillFileSystem>(
            options.file_system ? options.file_system
                                : rocksdb::FileSystem::Default()));
    db_options.env = database->env_.get();
  } else if (options.file_system) {
    database->env_ = rocksdb::NewCompositeEnv(options.file_system);
    db_options.env = database->env_.get();
  }
  if (follower) {
    // Every table file open from the start: the primary may delete files
    // (compaction) while this instance reads them.
    db_options.max_open_files = -1;
    if (options.read_only)
      db_options.info_log = NewInfoLog(options.read_only_log);
  } else {
    db_options.info_log = NewInfoLog(options.path);
  }

  // One block cache for every family, so memory is bounded as a whole.
  const std::shared_ptr<rocksdb::Cache> block_cache =
      rocksdb::NewLRUCache(options.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName,
                           rocksdb::ColumnFamilyOptions());
  std::vector<std::unique_ptr<rocksdb::CompactionFilter>> filters;
  for (Family family : kAllFamilies) {
    rocksdb::ColumnFamilyOptions cf = FamilyOptions(family, block_cache);
    if (family == Family::kTenants) {
      filters.push_back(
          std::make_unique<ExpireIdempotencyFilter>(options.clock));
      cf.compaction_filter = filters.back().get();
    }
    descriptors.emplace_back(std::string(FamilyName(family)), cf);
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options.secondary) {
    s = rocksdb::DB::OpenAsSecondary(db_options, options.path.string(),
                                     options.secondary_path.string(),
                                     descriptors, &handles, &raw);
  } else if (options.read_only) {
    s = rocksdb::DB::OpenForReadOnly(db_options, options.path.string(),
                                     descriptors, &handles, &raw);
  } else {
    std::error_code ec;
    std::filesystem::create_directories(options.path.parent_path(), ec);
    s = rocksdb::DB::Open(db_options, options.path.string(), descriptors,
                          &handles, &raw);
  }
  if (!s.ok()) {
    return Err(
        FromRocks(s, "opening the database at " + options.path.string()));
  }
  database->db_.reset(raw);
  database->filters_ = std::move(filters);
  database->block_cache_ = block_cache;
  // handles[0] is the default family, which siteledger does not use.
  database->default_handle_ = handles[0];
  for (size_t i = 0; i < kAllFamilies.size(); ++i) {
    database->handles_[i] = handles[i + 1];
  }
  return database;
}

Database::~Database() {
  if (!db_) return;
  for (auto* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  db_->DestroyColumnFamilyHandle(default_handle_).PermitUncheckedError();
  // Close() reports a failed final sync; nothing more can be done about it
  // here, and the WAL already holds every acknowledged write.
  db_->Close().PermitUncheckedError();
  db_.reset();
}

void Database::RefreshFreeSpace(std::chrono::steady_clock::time_point now) {
  struct statvfs fs {};
  // A folder whose file system cannot be asked counts as full: better 507
  // than ENOSPC inside RocksDB.
  free_bytes_ = ::statvfs(path_.c_str(), &fs) == 0
                    ? static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize
                    : 0;
  free_measured_ = now;
}

Status Database::CheckDiskReserve(uint64_t bytes) {
  if (disk_reserve_ == 0) return Status::Ok();
  MutexLock lock(disk_mu_);
  const auto now = std::chrono::steady_clock::now();
  // Between measurements the writes since are subtracted, so a burst
  // cannot run past the reserve; a refusal always measures again, so the
  // first write after space is freed goes through.
  if (now - free_measured_ >= disk_check_interval_ ||
      free_bytes_ < disk_reserve_ + bytes) {
    RefreshFreeSpace(now);
  }
  writes_refused_ = free_bytes_ < disk_reserve_ + bytes;
  if (writes_refused_) {
    refused_bytes_ = bytes;
    return Status::QuotaExceeded(
        "the server's disk is nearly full: writes are refused until space "
        "is freed (reads still work)");
  }
  free_bytes_ -= bytes;
  return Status::Ok();
}

DiskSpace Database::disk_space() {
  MutexLock lock(disk_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now - free_measured_ >= disk_check_interval_) {
    RefreshFreeSpace(now);
    // Refused stays refused until the write refused last would fit.
    if (disk_reserve_ > 0) {
      writes_refused_ =
          free_bytes_ < disk_reserve_ + (writes_refused_ ? refused_bytes_ : 0);
    }
  }
  return DiskSpace{free_bytes_, disk_reserve_, writes_refused_};
}

Status Database::WriteSynced(rocksdb::WriteBatch& batch) {
  return Write(batch, /*sync=*/true);
}

Status Database::RefuseWrite() const {
  if (!secondary_ && !read_only_) return Status::Ok();
  return Status::PermissionDenied(
      "the database at " + path_.string() +
      " is open read-only (an offline tool's instance): nothing is written "
      "to it");
}

Status Database::Write(rocksdb::WriteBatch& batch, bool sync) {
  SL_RETURN_IF_ERROR(RefuseWrite());
  // The WAL takes the batch's bytes again and some framing.
  SL_RETURN_IF_ERROR(CheckDiskReserve(batch.GetDataSize() + 4096));
  // A write that met a full disk leaves RocksDB refusing every write (its
  // background error) until it is told to resume; the reserve says there
  // is room again, so try.
  if (needs_resume_.load(std::memory_order_acquire)) {
    if (!db_->Resume().ok()) {
      return Status::QuotaExceeded(
          "the server's disk was full; writes resume once there is room");
    }
    needs_resume_.store(false, std::memory_order_release);
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok() && (s.IsNoSpace() || s.IsIOError())) {
    needs_resume_.store(true, std::memory_order_release);
  }
  return FromRocks(s, "writing to the database");
}

Result<std::string> Database::Get(Family family, std::string_view key) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf(family), rocksdb::Slice(key), &value);
  if (s.IsNotFound()) return Err(Status::NotFound("no such row"));
  if (!s.ok()) return Err(FromRocks(s, "reading the database"));
  return value;
}

// Rows per batch when a range is deleted row by row: small enough that the
// other tenants' appends, which share RocksDB's write queue with these
// batches, never wait long behind one. The batches are not synced one by one
// (the last one syncs the WAL they share): a crash in the middle leaves the
// range partly deleted, and the purge, which is retried until it is done,
// deletes the rest.
constexpr uint32_t kDeleteBatchRows = 1000;

Status Database::DeleteRangeAndCompact(Family family, std::string_view begin,
                                       std::string_view end,
                                       ErasedRange* erased) {
  SL_RETURN_IF_ERROR(RefuseWrite());
  const bool one_by_one = InsertsWithHint(family);
  if (erased != nullptr || one_by_one) {
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    ro.fill_cache = false;  // read once, to be deleted
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(family)));
    rocksdb::WriteBatch batch;
    for (it->Seek(rocksdb::Slice(begin)); it->Valid(); it->Next()) {
      if (erased != nullptr) {
        ++erased->rows;
        erased->value_bytes += it->value().size();
      }
      if (!one_by_one) continue;
      batch.Delete(cf(family), it->key()).PermitUncheckedError();
      if (batch.Count() >= kDeleteBatchRows) {
        SL_RETURN_IF_ERROR(Write(batch, /*sync=*/false));
        batch.Clear();
      }
    }
    SL_RETURN_IF_ERROR(FromRocks(it->status(), "reading a range to delete"));
    // The last batch is synced, and with it every batch before it (one WAL).
    if (batch.Count() > 0) SL_RETURN_IF_ERROR(WriteSynced(batch));
  }
  if (!one_by_one) {
    rocksdb::WriteBatch batch;
    rocksdb::Status s = batch.DeleteRange(cf(family), rocksdb::Slice(begin),
                                          rocksdb::Slice(end));
    if (!s.ok()) return FromRocks(s, "deleting a range");
    SL_RETURN_IF_ERROR(WriteSynced(batch));
  }
  return CompactRange(family, begin, end);
}

Status Database::CompactRange(Family family, std::string_view begin,
                              std::string_view end) {
  SL_RETURN_IF_ERROR(RefuseWrite());
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction =
      rocksdb::BottommostLevelCompaction::kForceOptimized;
  // Automatic compactions go on meanwhile, so that other tenants' writes
  // do not stall behind a long manual one.
  co.exclusive_manual_compaction = false;
  rocksdb::Slice b(begin), e(end);
  const rocksdb::Slice* from = &b;
  const rocksdb::Slice* to = &e;
  if (family == Family::kBlobs) {
    // Garbage collection relocates the live blobs of the tables it
    // compacts; a blob file also referenced by a table outside the range
    // would stay, with the deleted bytes in it. Compacting the whole family
    // rewrites every blob file (costly, but purges are rare).
    co.blob_garbage_collection_policy =
        rocksdb::BlobGarbageCollectionPolicy::kForce;
    co.blob_garbage_collection_age_cutoff = 1.0;
    from = nullptr;
    to = nullptr;
  }
  return FromRocks(db_->CompactRange(co, cf(family), from, to),
                   "compacting a deleted range");
}

Status Database::FlushAll() {
  SL_RETURN_IF_ERROR(RefuseWrite());
  rocksdb::FlushOptions fo;
  fo.wait = true;
  std::vector<rocksdb::ColumnFamilyHandle*> all(handles_.begin(),
                                                handles_.end());
  all.push_back(default_handle_);
  return FromRocks(db_->Flush(fo, all), "flushing the database");
}

Status Database::VerifyFamily(Family family) const {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(family)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    (void)it->value();  // a blob is read (and checked) only when asked for
    if (!it->status().ok()) break;
  }
  return FromRocks(
      it->status(),
      "reading the " + std::string(FamilyName(family)) + " family");
}

Status Database::RecreateFamily(Family family) {
  SL_RETURN_IF_ERROR(RefuseWrite());
  if (family != Family::kViews && family != Family::kSnapshots &&
      family != Family::kIndex) {
    return Status::InvalidArgument(
        "only a derived family (views, snapshots, index) is recreated");
  }
  const size_t i = static_cast<size_t>(family);
  SL_RETURN_IF_ERROR(
      FromRocks(db_->DropColumnFamily(handles_[i]), "dropping a family"));
  SL_RETURN_IF_ERROR(FromRocks(db_->DestroyColumnFamilyHandle(handles_[i]),
                               "dropping a family"));
  handles_[i] = nullptr;
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  SL_RETURN_IF_ERROR(FromRocks(
      db_->CreateColumnFamily(FamilyOptions(family, block_cache_),
                              std::string(FamilyName(family)), &handle),
      "creating a family again"));
  handles_[i] = handle;
  return Status::Ok();
}

Result<std::vector<TenantId>> TenantIdsUnder(const Database& db, Family family,
                                             std::string_view prefix,
                                             std::string_view what) {
  std::vector<TenantId> out;
  std::unique_ptr<rocksdb::Iterator> it(
      db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(family)));
  for (it->Seek(rocksdb::Slice(prefix));
       it->Valid() && it->key().starts_with(rocksdb::Slice(prefix));
       it->Next()) {
    if (it->key().size() != prefix.size() + 8) continue;
    out.emplace_back(coding::DecodeU64(it->key().data() + prefix.size()));
  }
  SL_RETURN_ERR_IF_ERROR(FromRocks(it->status(), std::string(what)));
  return out;
}

std::set<std::string> DataFileNames(const std::filesystem::path& folder) {
  std::set<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(folder, ec), end;
       !ec && it != end; it.increment(ec)) {
    const std::string ext = it->path().extension().string();
    if (ext == ".sst" || ext == ".blob" || ext == ".log") {
      out.insert(it->path().filename().string());
    }
  }
  return out;
}

size_t WaitForObsoleteFiles(rocksdb::DB& db,
                            const std::filesystem::path& folder,
                            const std::set<std::string>& files,
                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<std::string> live_list;
    uint64_t manifest_size = 0;
    std::set<std::string> live;
    if (db.GetLiveFiles(live_list, &manifest_size, /*flush_memtable=*/false)
            .ok()) {
      for (const std::string& name : live_list) {
        live.insert(std::filesystem::path(name).filename().string());
      }
    }
    uint64_t min_log = 0;
    db.GetIntProperty(rocksdb::DB::Properties::kMinLogNumberToKeep, &min_log);
    const std::set<std::string> present = DataFileNames(folder);
    size_t obsolete = 0;
    for (const std::string& name : files) {
      if (!present.contains(name) || live.contains(name)) continue;
      const std::filesystem::path path(name);
      if (path.extension() == ".log" &&
          std::strtoull(path.stem().c_str(), nullptr, 10) >= min_log) {
        continue;  // still holds writes not flushed
      }
      ++obsolete;
    }
    if (obsolete == 0 || std::chrono::steady_clock::now() >= deadline) {
      return obsolete;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace internal
}  // namespace siteledger::storage
