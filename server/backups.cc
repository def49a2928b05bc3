#include "server/internal/backups.h"

#include "server/internal/request_parts.h"
#include "server/log.h"
#include "server/problem.h"
#include "storage/backup.h"
#include "storage/base/rfc3339.h"

namespace siteledger::server {

using projections::Json;

namespace {

Result<storage::BackupOptions> ParseBackupBody(const Call& call) {
  auto body = JsonBodyOf(call, BodyUse::kRequired);
  if (!body && body.error().code() == StatusCode::kUnsupported) {
    return Err(body.error());
  }
  const Status usage = Status::InvalidArgument(
      "the body must be {\"dir\":\"/absolute/folder/on/the/server\"} with an "
      "optional \"keep\": N (backups kept)");
  if (!body) return Err(usage);
  storage::BackupOptions options;
  for (const auto& [name, value] : body->as_object()) {
    if (name == "dir" && value.is_string()) {
      options.dir = value.as_string();
    } else if (name == "keep" && value.is_int() && value.as_int() >= 0 &&
               value.as_int() <= 1000000) {
      options.keep = static_cast<uint32_t>(value.as_int());
    } else {
      return Err(usage);
    }
  }
  if (options.dir.empty()) return Err(usage);
  if (!options.dir.is_absolute()) {
    return Err(Status::InvalidArgument(
        "dir must be an absolute path on the server's machine, not " +
        options.dir.string()));
  }
  return options;
}

}  // namespace

void ServeBackup(storage::Store& store, Finisher& finisher,
                 const CallPtr& call) {
  auto options = ParseBackupBody(*call);
  if (!options) return finisher.Fail(call, options.error());
  auto result = storage::CreateBackup(store, *options);
  storage::AuditRecord a;
  a.actor = call->op->name;
  a.action = "operator.backup";
  a.route = call->route_label;
  a.outcome = result ? "ok" : result.error().ToString();
  if (result) {
    a.detail = "backup " + std::to_string(result->backup_id) + " into " +
               options->dir.string() + ": " + std::to_string(result->files) +
               " files (" + std::to_string(result->new_files) + " new), " +
               std::to_string(result->bytes) + " bytes, " +
               std::to_string(result->tenants) + " tenants";
  } else {
    a.detail = "backup into " + options->dir.string();
  }
  if (auto id = store.audit().Append(std::move(a)); !id) {
    return finisher.Fail(call, id.error());
  }
  if (!result) {
    Log("error", "a backup failed",
        {{"dir", options->dir.string()}, {"error", result.error().ToString()}});
    return finisher.Fail(call, result.error());
  }
  Json out = Json::MakeObject();
  out.Set("backupId", static_cast<int64_t>(result->backup_id));
  out.Set("dir", options->dir.string());
  out.Set("createdAt", FormatRfc3339(result->created_at));
  out.Set("bytes", result->bytes);
  out.Set("files", result->files);
  out.Set("newFiles", result->new_files);
  out.Set("tenants", result->tenants);
  finisher.Finish(call, JsonResponse(200, out));
}

}  // namespace siteledger::server
