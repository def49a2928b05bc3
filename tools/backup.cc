#include "tools/backup.h"

#include <charconv>
#include <cstdio>
#include <filesystem>

#include "projections/json.h"
#include "storage/backup.h"
#include "storage/base/rfc3339.h"
#include "tools/operator_client.h"

namespace siteledger::tools {
namespace {

using projections::Json;

std::optional<uint32_t> ParseU32(const std::string& text) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

int StatusExit(const Status& s) {
  return s.code() == StatusCode::kInvalidArgument ||
                 s.code() == StatusCode::kNotFound ||
                 s.code() == StatusCode::kPermissionDenied
             ? kUsageError
             : kServerError;
}

int List(const std::string& dir) {
  auto listed = storage::ListBackups(dir);
  if (!listed)
    return Fail(listed.error().message(), StatusExit(listed.error()));
  std::printf("%-6s %-20s %8s %14s  %s\n", "id", "created", "files", "bytes",
              "key file");
  for (const auto& l : *listed) {
    std::printf("%-6u %-20s %8llu %14llu  %s\n", l.backup_id,
                FormatRfc3339(l.created_at).c_str(),
                static_cast<unsigned long long>(l.files),
                static_cast<unsigned long long>(l.bytes),
                l.key_file ? "yes" : "MISSING (cannot be restored)");
  }
  return kOk;
}

}  // namespace

const char kBackupHelp[] =
    R"(Backs up the region online, while siteledgerd serves: RocksDB's
BackupEngine copies the database into DIR/db (table and blob files already
in DIR are reused, so later backups copy only what changed), and the key
store is written apart to DIR/keys/<id>, sealed under the master key. DIR is
an absolute path on the SERVER's machine (the server writes it). Operator
scope backup; audited.

The master key is NOT in the backup: keep the region's master key file
safe apart; restore-backup needs it.

The server remembers DIR: every later purge of a tenant replaces the
tenant's key in DIR's key files by a destroyed marker, so a restored backup
never brings a purged tenant back. Do not move DIR; if it is unreachable
at a purge, the sweeps retry until it is back (their answers say so).

  DIR          the backup folder (absolute, on the server's machine)
  --keep N     keep only the N newest backups in DIR (default: all)
  --json       print the server's answer as it is
  --list       offline: list the backups in DIR (a folder on this
               machine); no server is asked

Examples:
  siteledger backup /backups/us --keep 14 --token-file op.token
  siteledger backup --list /backups/us
)";

const char kRestoreBackupHelp[] =
    R"(Restores a backup made by `siteledger backup` into a NEW data folder and
key store. Offline: it refuses a data folder or key store that exists and is
not empty (never restore over a live region: stop siteledgerd, move the old
folders away, or restore elsewhere and point siteledgerd at it).

The backup does not hold the master key: --master-key-file names the region's
master key file, and the restore fails, writing nothing, if it is not the
key the backup was made with.

Tenants purged since the backup stay purged: their keys are destroyed in
the restored key store (reads of them find nothing), and they are marked
for purging now, so the first sweep of the restored server deletes their
rows (or run `siteledger purge`).

  DIR              the backup folder
  --data DATADIR   the data folder to create
  --master-key-file F the region's master key file
  --key-store P    the key store to create (default: DATADIR.keys)
  --backup-id N    the backup to restore (default: the newest)

Example:
  siteledger restore-backup /backups/us --data /srv/us-restored \
      --master-key-file /srv/master-us.key
  siteledgerd --data /srv/us-restored --master-key-file /srv/master-us.key ...
)";

int Backup(const Invocation& in) {
  const Flags& f = in.flags;
  if (f.positional.size() != 1) {
    return Fail("backup needs one DIR: siteledger backup DIR [server flags]",
                kUsageError);
  }
  const std::string dir = f.positional[0];
  if (f.Has("list")) return List(dir);
  if (!std::filesystem::path(dir).is_absolute()) {
    return Fail(
        "DIR must be an absolute path on the server's machine, not " + dir,
        kUsageError);
  }
  Json body = Json::MakeObject();
  body.Set("dir", dir);
  if (f.Has("keep")) {
    auto keep = ParseU32(f.Get("keep"));
    if (!keep) return Fail("--keep needs a whole number", kUsageError);
    body.Set("keep", static_cast<int64_t>(*keep));
  }
  auto s = LoadServerFlags(f);
  if (!s) return Fail(s.error().message(), kUsageError);
  auto response = SendRequest(*s, "POST", "/admin/backups", body.Dump());
  if (!response) return Fail(response.error().message());
  if (response->status != 200) {
    return Fail(Refusal("POST", "/admin/backups", *response));
  }
  if (f.Has("json")) {
    std::printf("%s\n", response->body.c_str());
    return kOk;
  }
  auto doc = projections::ParseJson(response->body);
  auto field = [&](const char* name) -> int64_t {
    const Json* v = doc && doc->is_object() ? doc->Find(name) : nullptr;
    return v && v->is_int() ? v->as_int() : 0;
  };
  const int64_t files = field("files");
  const int64_t fresh = field("newFiles");
  std::printf(
      "backup %lld in %s: %lld files (%lld new, %lld reused), %lld bytes, "
      "%lld tenants\nthe master key is not in the backup: keep the region's "
      "master key file safe; restore-backup needs it\n",
      static_cast<long long>(field("backupId")), dir.c_str(),
      static_cast<long long>(files), static_cast<long long>(fresh),
      static_cast<long long>(files - fresh),
      static_cast<long long>(field("bytes")),
      static_cast<long long>(field("tenants")));
  return kOk;
}

int RestoreBackup(const Invocation& in) {
  const Flags& f = in.flags;
  if (f.positional.size() != 1) {
    return Fail(
        "restore-backup needs one DIR: siteledger restore-backup DIR --data "
        "DATADIR --master-key-file FILE",
        kUsageError);
  }
  storage::RestoreBackupOptions options;
  options.dir = f.positional[0];
  options.data = f.Get("data");
  options.key_store = f.Get("key-store");
  options.master_key_file = f.Get("master-key-file");
  if (f.Has("backup-id")) {
    auto id = ParseU32(f.Get("backup-id"));
    if (!id) return Fail("--backup-id needs a whole number", kUsageError);
    options.backup_id = *id;
  }
  auto result = storage::RestoreBackup(options);
  if (!result) {
    return Fail("restore-backup: " + result.error().message(),
                StatusExit(result.error()));
  }
  std::printf(
      "restored backup %u (made %s) into %s: %llu tenants with a data key\n",
      result->backup_id, FormatRfc3339(result->created_at).c_str(),
      options.data.c_str(), static_cast<unsigned long long>(result->tenants));
  if (!result->purge_due.empty()) {
    std::printf(
        "%zu tenants were purged after this backup: their keys are "
        "destroyed, and the restored server's first sweep deletes their "
        "rows\n",
        result->purge_due.size());
  }
  std::printf("start siteledgerd on it with the same master key file (%s)\n",
              options.master_key_file.c_str());
  return kOk;
}

}  // namespace siteledger::tools
