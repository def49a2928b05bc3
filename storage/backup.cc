#include "storage/backup.h"

#include <fcntl.h>
#include <rocksdb/utilities/backup_engine.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "storage/base/clock.h"
#include "storage/base/coding.h"
#include "storage/base/mutex.h"
#include "storage/crypto.h"
#include "storage/internal/database.h"
#include "storage/internal/keys.h"
#include "storage/store.h"

namespace siteledger::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kKeyFileMagic = "SLKEYBK1";
constexpr std::string_view kKeyFilePurpose = "key-store-backup";

// Backups and scrubs both rewrite key files: one at a time in the process.
Mutex& BackupMutex() {
  static Mutex mu;
  return mu;
}

fs::path KeyFilePath(const fs::path& dir, uint32_t backup_id) {
  return dir / "keys" / std::to_string(backup_id);
}

Status FsyncPath(const fs::path& path, bool directory) {
  const int fd =
      ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return Status::IOError("opening " + path.string());
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Status::IOError("syncing " + path.string());
  return Status::Ok();
}

// A crash leaves either the old file or the new one, never a torn one.
Status WriteFileAtomic(const fs::path& path, std::string_view bytes) {
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return Status::IOError("creating " + tmp.string());
  size_t done = 0;
  bool ok = true;
  while (ok && done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    ::unlink(tmp.c_str());
    return Status::IOError("writing " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec)
    return Status::IOError("renaming " + tmp.string() + ": " + ec.message());
  return FsyncPath(path.parent_path(), true);
}

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Err(Status::NotFound("cannot open " + path.string()));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return Err(Status::IOError("reading " + path.string()));
  return out.str();
}

Status FromIo(const rocksdb::IOStatus& s, const std::string& context) {
  return internal::FromRocks(s, context);
}

rocksdb::BackupEngineOptions EngineOptions(const fs::path& dir) {
  rocksdb::BackupEngineOptions o((dir / "db").string());
  o.share_table_files = true;
  o.share_files_with_checksum = true;
  o.sync = true;
  return o;
}

uint64_t LiveTenants(const std::vector<KeyStore::Row>& rows) {
  uint64_t n = 0;
  for (const auto& row : rows) {
    if (KeyStore::TenantOfRow(row) && !KeyStore::IsDestroyedRow(row)) ++n;
  }
  return n;
}

// The files backups hold under `dir` (BackupEngine's folder): the shared
// and private files, not its own bookkeeping in meta/.
uint64_t CountFiles(const fs::path& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_directory(ec) && it->path().filename() == "meta") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) ++n;
  }
  return n;
}

std::string LocationRow(const fs::path& dir) {
  Sha256Hasher h;
  h.Update(dir.string());
  const Hash hash = h.Finish();
  return internal::TenantRowKey(
      internal::kRegistryTenant, internal::TenantRow::kBackupLocation,
      std::string_view(reinterpret_cast<const char*>(hash.data()),
                       hash.size()));
}

Status RememberLocation(internal::Database& db, const fs::path& dir) {
  rocksdb::WriteBatch batch;
  batch.Put(db.cf(Family::kTenants), LocationRow(dir), dir.string())
      .PermitUncheckedError();
  return db.WriteSynced(batch);
}

Result<std::vector<fs::path>> Locations(internal::Database& db) {
  const std::string begin = internal::TenantRowKey(
      internal::kRegistryTenant, internal::TenantRow::kBackupLocation);
  std::string end = begin;
  end.back() = static_cast<char>(end.back() + 1);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(
      db.db()->NewIterator(ro, db.cf(Family::kTenants)));
  std::vector<fs::path> out;
  for (it->Seek(begin); it->Valid(); it->Next()) {
    out.emplace_back(it->value().ToString());
  }
  SL_RETURN_ERR_IF_ERROR(
      internal::FromRocks(it->status(), "reading backup locations"));
  return out;
}

// Whether `dir` may receive a restore: absent, or an empty folder.
Status CheckEmptyTarget(const fs::path& dir, std::string_view what) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return Status::Ok();
  if (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec)) {
    return Status::InvalidArgument(
        std::string(what) + " " + dir.string() +
        " exists and is not empty; restore into a new folder (a running "
        "siteledgerd's data folder is never a target: stop it and move the "
        "folder away first)");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> SealKeyBackup(const std::vector<KeyStore::Row>& rows,
                                  uint32_t backup_id, Timestamp created_at,
                                  const MasterKey& master) {
  std::string payload;
  coding::PutU32(payload, static_cast<uint32_t>(rows.size()));
  for (const auto& row : rows) {
    coding::PutU32(payload, static_cast<uint32_t>(row.key.size()));
    payload += row.key;
    coding::PutU32(payload, static_cast<uint32_t>(row.value.size()));
    payload += row.value;
  }
  std::string out(kKeyFileMagic);
  coding::PutU32(out, backup_id);
  coding::PutI64(out, MillisOf(created_at));
  const std::string aad = out;  // the header is authenticated too
  Status s = master.DeriveAead(kKeyFilePurpose).SealAppend(payload, aad, out);
  SecureWipe(payload);
  if (!s.ok()) return Err(s);
  return out;
}

Result<KeyBackup> OpenKeyBackup(std::string_view file,
                                const MasterKey& master) {
  const size_t header = kKeyFileMagic.size() + 4 + 8;
  if (file.size() < header || !file.starts_with(kKeyFileMagic)) {
    return Err(Status::InvalidArgument("not a siteledger key-store backup"));
  }
  coding::Reader r(file.substr(kKeyFileMagic.size(), 12));
  KeyBackup out;
  out.backup_id = *r.U32();
  out.created_at = TimestampFromMillis(static_cast<int64_t>(*r.U64()));
  auto payload = master.DeriveAead(kKeyFilePurpose)
                     .Open(file.substr(header), file.substr(0, header));
  if (!payload) {
    return Err(Status::InvalidArgument(
        "the key-store backup does not open under this master key: it is "
        "another region's master key, or the file was altered; use the "
        "master key file of the region the backup was made of"));
  }
  coding::Reader p(*payload);
  auto count = p.U32();
  for (uint32_t i = 0; count && i < *count && !p.failed(); ++i) {
    auto klen = p.U32();
    auto key = klen ? p.Bytes(*klen) : std::nullopt;
    auto vlen = p.U32();
    auto value = vlen ? p.Bytes(*vlen) : std::nullopt;
    if (!key || !value) break;
    out.rows.push_back(KeyStore::Row{std::string(*key), std::string(*value)});
  }
  const bool ok = count && !p.failed() && p.done();
  SecureWipe(*payload);
  if (!ok) {
    return Err(Status::InvalidArgument("a malformed key-store backup"));
  }
  return out;
}

Result<BackupResult> CreateBackup(Store& store, const BackupOptions& options) {
  if (!options.dir.is_absolute()) {
    return Err(Status::InvalidArgument(
        "a backup folder must be an absolute path on the server's machine, "
        "not " +
        options.dir.string()));
  }
  MutexLock lock(BackupMutex());
  std::error_code ec;
  fs::create_directories(options.dir / "keys", ec);
  if (ec) {
    return Err(Status::IOError("creating " + options.dir.string() + ": " +
                               ec.message()));
  }
  // Remembered first: a purge that runs while the backup is written must
  // find the folder once the backup's key file is there.
  internal::Database& db = store.database();
  SL_RETURN_ERR_IF_ERROR(RememberLocation(db, options.dir));
  rocksdb::BackupEngine* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngine::Open(EngineOptions(options.dir),
                                                    db.db()->GetEnv(), &raw);
  if (!s.ok()) {
    return Err(FromIo(s, "opening the backups in " + options.dir.string()));
  }
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  const uint64_t files_before = CountFiles(options.dir / "db");
  rocksdb::CreateBackupOptions co;
  co.flush_before_backup = true;
  rocksdb::BackupID id = 0;
  s = engine->CreateNewBackupWithMetadata(co, db.db(), "siteledger", &id);
  if (!s.ok()) {
    return Err(FromIo(s, "backing up into " + options.dir.string()));
  }
  // The key store after the database: a key created meanwhile is extra and
  // harmless; a key destroyed meanwhile is destroyed in the file too, so
  // the restored tenant is purged (RestoreBackup).
  auto rows = store.keys().ExportRows();
  if (!rows) return Err(rows.error());
  BackupResult result;
  result.backup_id = id;
  result.created_at = store.clock().Now();
  result.tenants = LiveTenants(*rows);
  auto sealed = SealKeyBackup(*rows, id, result.created_at, store.master());
  for (auto& row : *rows) SecureWipe(row.value);
  if (!sealed) return Err(sealed.error());
  SL_RETURN_ERR_IF_ERROR(
      WriteFileAtomic(KeyFilePath(options.dir, id), *sealed));
  rocksdb::BackupInfo info;
  if (engine->GetBackupInfo(id, &info).ok()) {
    result.bytes = info.size;
    result.files = info.number_files;
  }
  const uint64_t files_after = CountFiles(options.dir / "db");
  result.new_files =
      files_after > files_before ? files_after - files_before : 0;
  if (options.keep > 0) {
    s = engine->PurgeOldBackups(options.keep);
    if (!s.ok()) {
      return Err(FromIo(s, "deleting old backups in " + options.dir.string()));
    }
    std::vector<rocksdb::BackupInfo> kept;
    engine->GetBackupInfo(&kept);
    std::set<std::string> names;
    for (const auto& k : kept) names.insert(std::to_string(k.backup_id));
    for (fs::directory_iterator it(options.dir / "keys", ec), end;
         !ec && it != end; it.increment(ec)) {
      if (!names.contains(it->path().filename().string())) {
        fs::remove(it->path(), ec);
      }
    }
  }
  return result;
}

Result<ScrubReport> ScrubBackups(Store& store) {
  MutexLock lock(BackupMutex());
  auto locations = Locations(store.database());
  if (!locations) return Err(locations.error());
  auto live = store.keys().ExportRows();
  if (!live) return Err(live.error());
  std::map<std::string, std::string> destroyed;  // row key -> marker
  for (auto& row : *live) {
    if (KeyStore::IsDestroyedRow(row)) destroyed[row.key] = row.value;
    SecureWipe(row.value);
  }
  ScrubReport report;
  report.locations = locations->size();
  for (const fs::path& dir : *locations) {
    std::error_code ec;
    const fs::path keys = dir / "keys";
    if (!fs::is_directory(keys, ec)) {
      report.failed.push_back(
          {dir.string(), "no folder " + keys.string() + " (not mounted?)"});
      continue;
    }
    for (fs::directory_iterator it(keys, ec), end; !ec && it != end;
         it.increment(ec)) {
      const fs::path file = it->path();
      if (file.extension() == ".tmp") continue;
      auto bytes = ReadFile(file);
      if (!bytes) {
        report.failed.push_back({dir.string(), bytes.error().message()});
        continue;
      }
      auto backup = OpenKeyBackup(*bytes, store.master());
      if (!backup) {
        report.failed.push_back(
            {dir.string(), file.string() + ": " + backup.error().message()});
        continue;
      }
      uint64_t removed = 0;
      for (auto& row : backup->rows) {
        auto d = destroyed.find(row.key);
        if (d != destroyed.end() && !KeyStore::IsDestroyedRow(row)) {
          SecureWipe(row.value);
          row.value = d->second;
          ++removed;
        }
      }
      if (removed > 0) {
        auto sealed = SealKeyBackup(backup->rows, backup->backup_id,
                                    backup->created_at, store.master());
        Status s = sealed ? WriteFileAtomic(file, *sealed) : sealed.error();
        if (!s.ok()) {
          report.failed.push_back({dir.string(), s.message()});
        } else {
          ++report.files_rewritten;
          report.keys_removed += removed;
        }
      }
      for (auto& row : backup->rows) SecureWipe(row.value);
    }
    if (ec) report.failed.push_back({dir.string(), ec.message()});
  }
  return report;
}

Result<std::vector<BackupListing>> ListBackups(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir / "db" / "meta", ec)) {
    return Err(Status::NotFound(dir.string() + " holds no siteledger backup"));
  }
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(
      EngineOptions(dir), rocksdb::Env::Default(), &raw);
  if (!s.ok()) return Err(FromIo(s, "reading the backups in " + dir.string()));
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  std::vector<rocksdb::BackupInfo> infos;
  engine->GetBackupInfo(&infos);
  std::vector<BackupListing> out;
  for (const auto& info : infos) {
    BackupListing l;
    l.backup_id = info.backup_id;
    l.created_at = TimestampFromMillis(info.timestamp * 1000);
    l.bytes = info.size;
    l.files = info.number_files;
    l.key_file = fs::exists(KeyFilePath(dir, info.backup_id), ec);
    out.push_back(l);
  }
  return out;
}

Result<RestoreBackupResult> RestoreBackup(const RestoreBackupOptions& options) {
  RestoreBackupOptions o = options;
  if (o.key_store.empty()) {
    o.key_store = o.data;
    o.key_store += ".keys";
  }
  // Every folder and file the restore makes is the owner's alone, as
  // Store::Open would make them (it checks them).
  ::umask(077);
  SL_RETURN_ERR_IF_ERROR(CheckEmptyTarget(o.data, "the data folder"));
  SL_RETURN_ERR_IF_ERROR(CheckEmptyTarget(o.key_store, "the key store"));
  std::error_code ec;
  if (o.master_key_file.empty() || !fs::exists(o.master_key_file, ec)) {
    return Err(Status::InvalidArgument(
        "no master key file " + o.master_key_file.string() +
        ": a backup does not hold the master key; copy the region's master "
        "key file and pass it with --master-key-file"));
  }
  auto master = MasterKey::Load(o.master_key_file);
  if (!master) return Err(master.error());
  auto listed = ListBackups(o.dir);
  if (!listed) return Err(listed.error());
  if (listed->empty()) {
    return Err(Status::NotFound(o.dir.string() + " holds no backup"));
  }
  const uint32_t id = o.backup_id.value_or(listed->back().backup_id);
  bool found = false;
  for (const auto& l : *listed) found = found || l.backup_id == id;
  if (!found) {
    return Err(Status::NotFound("no backup " + std::to_string(id) + " in " +
                                o.dir.string() +
                                " (siteledger backup --list shows them)"));
  }
  auto bytes = ReadFile(KeyFilePath(o.dir, id));
  if (!bytes) {
    return Err(Status::NotFound(
        "backup " + std::to_string(id) + " has no key file " +
        KeyFilePath(o.dir, id).string() + ": it cannot be restored"));
  }
  auto keys = OpenKeyBackup(*bytes, *master);
  if (!keys) return Err(keys.error());

  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(
      EngineOptions(o.dir), rocksdb::Env::Default(), &raw);
  if (!s.ok())
    return Err(FromIo(s, "reading the backups in " + o.dir.string()));
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  fs::create_directories(o.data, ec);
  if (ec) return Err(Status::IOError("creating " + o.data.string()));
  s = engine->RestoreDBFromBackup(rocksdb::RestoreOptions(), id,
                                  o.data.string(), o.data.string());
  if (!s.ok()) return Err(FromIo(s, "restoring into " + o.data.string()));
  {
    auto store = KeyStore::Open(o.key_store, *master);
    if (!store) return Err(store.error());
    SL_RETURN_ERR_IF_ERROR((*store)->ImportRows(keys->rows));
  }
  RestoreBackupResult result;
  result.backup_id = id;
  result.created_at = keys->created_at;
  result.tenants = LiveTenants(keys->rows);
  for (auto& row : keys->rows) SecureWipe(row.value);

  // Opening checks the binding of database, key store and master key.
  SystemClock clock;
  StoreOptions so;
  so.data = o.data;
  so.key_store = o.key_store;
  so.master_key_file = o.master_key_file;
  so.clock = &clock;
  auto store = Store::Open(so);
  if (!store) return Err(store.error());
  const Timestamp now = clock.Now();
  TenantId after(0);
  for (;;) {
    auto page = (*store)->registry().List(after, 500);
    if (!page) return Err(page.error());
    if (page->empty()) break;
    for (TenantRecord& record : *page) {
      after = record.id;
      if (record.state == LifecycleState::kPurged ||
          record.residency.state == ResidencyState::kGone) {
        continue;
      }
      auto destroyed = (*store)->keys().Destroyed(record.id);
      if (!destroyed) return Err(destroyed.error());
      if (!*destroyed) continue;
      // Purged since the backup: the sweeper finishes the purge.
      if (record.state == LifecycleState::kInstalled) {
        record.state = LifecycleState::kUninstalled;
        record.uninstalled_at = now;
      }
      record.purge_at = now;
      SL_RETURN_ERR_IF_ERROR((*store)->registry().Update(record));
      result.purge_due.push_back(record.id);
    }
  }
  return result;
}

}  // namespace siteledger::storage
