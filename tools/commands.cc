#include "tools/commands.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "projections/json.h"
#include "server/jwt.h"
#include "server/operators.h"
#include "storage/crypto.h"
#include "tools/backup.h"
#include "tools/command.h"
#include "tools/dev.h"
#include "tools/erase_users.h"
#include "tools/flags.h"
#include "tools/migrate.h"
#include "tools/offline_commands.h"
#include "tools/operator_client.h"
#include "tools/progress.h"
#include "tools/restore.h"

namespace siteledger::tools {
namespace {

using projections::Json;

// Appends one line to the operators file under an exclusive lock, creating
// it with mode 0600.
int OperatorsAdd(const Invocation& in) {
  const Flags& f = in.flags;
  const std::string file = f.Get("file");
  const std::string name = f.Get("name");
  const std::string scopes = f.Get("scopes");
  // Checked before the file is touched: nothing is written for a bad value.
  if (auto parsed = server::ParseScopeList(scopes); !parsed) {
    return Fail("operators add: --scopes " + scopes + ": " +
                    parsed.error().message() + "; nothing was written",
                kUsageError);
  }
  auto bytes = storage::RandomBytes(32);
  if (!bytes) return Fail(bytes.error().message());
  const std::string token = "slop_" + server::Base64UrlEncode(*bytes);
  auto line = server::OperatorLine(name, scopes, token);
  if (!line) {
    return Fail("operators add: --name " + name + ": " +
                    line.error().message() + "; nothing was written",
                kUsageError);
  }

  const int fd =
      ::open(file.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Fail("cannot open " + file + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX) != 0) {
    ::close(fd);
    return Fail("cannot lock " + file);
  }
  // Refuse a second operator of the same name.
  std::ifstream input(file);
  std::stringstream existing;
  existing << input.rdbuf();
  auto current = server::Operators::Parse(existing.str());
  if (!current) {
    ::close(fd);
    return Fail(file + " is not an operators file: " +
                current.error().message() + "; nothing was written");
  }
  for (const auto& op : current->operators()) {
    if (op.name == name) {
      ::close(fd);
      return Fail("an operator named " + name + " already exists in " + file);
    }
  }
  std::string text = *line;
  if (!existing.str().empty() && existing.str().back() != '\n') {
    text.insert(text.begin(), '\n');
  }
  const bool ok = ::write(fd, text.data(), text.size()) ==
                      static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Fail("cannot write " + file + ": " + std::strerror(errno));
  std::printf("%s\n", token.c_str());
  return 0;
}

// GETs `path` from the server into `body`; non-zero (and a message) on an
// error answer.
int GetBody(const ServerFlags& s, const std::string& path, std::string& body,
            bool csv = false) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (csv) headers.push_back({"Accept", "text/csv"});
  auto response = SendRequest(s, "GET", path, "", std::move(headers));
  if (!response) return Fail(response.error().message());
  if (response->status < 200 || response->status >= 300) {
    return Fail(Refusal("GET", path, *response));
  }
  body = std::move(response->body);
  return 0;
}

// GETs `path` and prints the body.
int Get(const ServerFlags& s, const std::string& path, bool csv = false) {
  std::string body;
  if (int rc = GetBody(s, path, body, csv); rc != 0) return rc;
  std::fwrite(body.data(), 1, body.size(), stdout);
  if (!body.empty() && body.back() != '\n') std::fputc('\n', stdout);
  return 0;
}

// Every page of the list at `path` ("/admin/audit?since=..."), following
// nextCursor, into `all`, with progress on stderr (records so far, rate)
// when it takes more than 2 s; non-zero (and a message naming `what`) on an
// error.
int AllPages(const ServerFlags& s, const std::string& path, const char* what,
             Json& all, const char* command) {
  std::string cursor;
  // The total is not known ahead; a read of a few pages stays silent.
  Progress::Options options;
  options.delay = std::chrono::seconds(2);
  Progress progress(command, "records", 0, std::move(options));
  for (;;) {
    std::string target = path;
    target += path.find('?') == std::string::npos ? "?" : "&";
    target += "limit=1000";
    if (!cursor.empty()) {
      target += "&cursor=" + server::EncodeRfc3986(cursor);
    }
    std::string body;
    if (int rc = GetBody(s, target, body); rc != 0) return rc;
    auto page = projections::ParseJson(body, projections::TrustedJsonLimits());
    const Json* items = page ? page->Find("items") : nullptr;
    if (items == nullptr || !items->is_array()) {
      return Fail(std::string("the server's answer is not ") + what);
    }
    for (const Json& item : items->as_array()) all.Push(item);
    progress.Add(items->as_array().size());
    const Json* next = page->Find("nextCursor");
    if (next == nullptr || !next->is_string()) return 0;
    cursor = next->as_string();
  }
}

std::string QueryParam(const std::string& name, const std::string& value) {
  return name + "=" + server::EncodeRfc3986(value);
}

// `siteledger purge [--dry-run] [--json]`: POST /admin/sweep, then one line
// per tenant purged (or due, with --dry-run).
int Purge(const Invocation& in) {
  const Flags& f = in.flags;
  auto s = LoadServerFlags(f);
  if (!s) return Fail(s.error().message(), kUsageError);
  const bool dry_run = f.Has("dry-run");
  const std::string path =
      std::string("/admin/sweep?dry_run=") + (dry_run ? "true" : "false");
  auto response = SendRequest(*s, "POST", path);
  if (!response) return Fail(response.error().message());
  if (response->status != 200) {
    return Fail(Refusal("POST", path, *response));
  }
  if (f.Has("json")) {
    std::printf("%s\n", response->body.c_str());
    return 0;
  }
  auto report =
      projections::ParseJson(response->body, projections::TrustedJsonLimits());
  if (!report) return Fail("the server's answer is not JSON");
  const Json* purged = report->Find("purged");
  if (purged == nullptr || !purged->is_array()) {
    return Fail("the server's answer is not a sweep report");
  }
  const std::vector<Json>& items = purged->as_array();
  for (const Json& item : items) {
    std::string line = dry_run ? "would purge " : "purged ";
    const std::string client_key(item.GetString("clientKey"));
    line += client_key.empty() ? std::string("(no clientKey)") : client_key;
    if (const Json* id = item.Find("tenant"); id && id->is_int()) {
      line += " (tenant " + std::to_string(id->as_int()) + ")";
    }
    line += ": " + std::string(item.GetString("reason"));
    if (const Json* erased = item.Find("erased");
        erased && erased->is_object()) {
      for (const char* what : {"events", "views", "media"}) {
        if (const Json* n = erased->Find(what); n && n->is_int()) {
          line += "; " + std::to_string(n->as_int()) + " " + what;
        }
      }
    }
    std::printf("%s\n", line.c_str());
  }
  std::printf("%zu tenant%s %s\n", items.size(), items.size() == 1 ? "" : "s",
              dry_run ? "due (dry run: nothing deleted)" : "purged");
  // The access log's days older than 14 days, retired in the same sweep.
  if (const Json* log = report->Find("accessLog"); log && log->is_object()) {
    if (const Json* error = log->Find("error"); error && error->is_string()) {
      std::fprintf(stderr, "siteledger: retiring the access log failed: %s\n",
                   error->as_string().c_str());
      return 1;
    }
    std::string days;
    size_t count = 0;
    if (const Json* list = log->Find("daysRetired"); list && list->is_array()) {
      for (const Json& day : list->as_array()) {
        if (!day.is_string()) continue;
        days += (count++ == 0 ? " (" : ", ") + day.as_string();
      }
    }
    if (count > 0) days += ")";
    const Json* entries = log->Find("entriesDeleted");
    std::printf("access log: %s%zu day%s%s, %lld entries older than %s\n",
                dry_run ? "would retire " : "retired ", count,
                count == 1 ? "" : "s", days.c_str(),
                entries && entries->is_int()
                    ? static_cast<long long>(entries->as_int())
                    : 0LL,
                std::string(log->GetString("cutoff")).c_str());
  }
  return 0;
}

// `tenants` and `usage`: one GET, printed as it is.
int Tenants(const Invocation& in) {
  auto s = LoadServerFlags(in.flags);
  if (!s) return Fail(s.error().message(), kUsageError);
  return Get(*s, "/admin/tenants");
}

int Usage(const Invocation& in) {
  auto s = LoadServerFlags(in.flags);
  if (!s) return Fail(s.error().message(), kUsageError);
  return Get(*s, "/admin/usage", in.flags.Has("csv"));
}

// `audit-log` and `access-log`: every page, following nextCursor, printed
// as one list (or, for the access log, one request a line).
int Logs(const Invocation& in, bool access) {
  const Flags& f = in.flags;
  auto s = LoadServerFlags(f);
  if (!s) return Fail(s.error().message(), kUsageError);
  std::string query;
  for (const std::string& flag :
       access
           ? std::vector<std::string>{"since", "until"}
           : std::vector<std::string>{"tenant", "operator", "since", "until"}) {
    if (!f.Has(flag)) continue;
    query += query.empty() ? "?" : "&";
    query += QueryParam(flag, f.Get(flag));
  }
  Json all = Json::MakeArray();
  if (int rc =
          AllPages(*s, (access ? "/admin/access-log" : "/admin/audit") + query,
                   access ? "an access-log page" : "an audit page", all,
                   access ? "access-log" : "audit-log");
      rc != 0) {
    return rc;
  }
  if (access && !f.Has("json")) {
    // One request a line; a request that named no tenant shows "-".
    for (const Json& e : all.as_array()) {
      const Json* tenant = e.Find("tenant");
      std::string line(e.GetString("time"));
      line += " ";
      line += tenant == nullptr || tenant->is_null() ? std::string("-")
              : tenant->is_string()                  ? tenant->as_string()
                                                     : tenant->Dump();
      for (const char* field : {"clientIp", "method", "route"}) {
        line += " ";
        line += e.GetString(field);
      }
      line += " " + std::to_string(e.GetInt("status"));
      line += " " + std::to_string(e.GetInt("latencyUs")) + "us\n";
      std::fputs(line.c_str(), stdout);
    }
    return 0;
  }
  Json out = Json::MakeObject();
  out.Set("items", std::move(all));
  out.Set("nextCursor", nullptr);
  std::printf("%s\n", out.Dump().c_str());
  return 0;
}

// `audit --tenant K [--type T] [--actor A] [--entity ID] [--since]
// [--until] [--json]`: the tenant's events that match, through the event
// index (GET /admin/tenants/{clientKey}/events with the filters), printed
// page by page as they come: a table, or one JSON event a line.
int Audit(const Invocation& in) {
  const Flags& f = in.flags;
  auto s = LoadServerFlags(f);
  if (!s) return Fail(s.error().message(), kUsageError);
  if (!f.Has("type") && !f.Has("actor") && !f.Has("entity") &&
      !f.Has("since") && !f.Has("until")) {
    return Fail(
        "audit needs a filter: --type, --actor, --entity, --since or "
        "--until (siteledger audit --help)",
        kUsageError);
  }
  std::string path =
      "/admin/tenants/" + PathSegment(f.Get("tenant")) + "/events";
  char sep = '?';
  for (const char* flag : {"type", "actor", "entity", "since", "until"}) {
    if (!f.Has(flag)) continue;
    path += sep;
    sep = '&';
    path += QueryParam(flag, f.Get(flag));
  }
  const bool json = f.Has("json");
  if (!json)
    std::printf("%-8s %-24s %-24s %-24s %s\n", "SEQ", "TIME", "TYPE", "ACTOR",
                "PAYLOAD");
  Progress::Options options;
  options.delay = std::chrono::seconds(2);
  Progress progress("audit", "events", 0, std::move(options));
  std::string cursor;
  for (;;) {
    std::string target = path + sep + "limit=1000";
    if (!cursor.empty()) {
      target += "&cursor=" + server::EncodeRfc3986(cursor);
    }
    std::string body;
    if (int rc = GetBody(*s, target, body); rc != 0) return rc;
    auto page = projections::ParseJson(body, projections::TrustedJsonLimits());
    const Json* items = page ? page->Find("items") : nullptr;
    if (items == nullptr || !items->is_array()) {
      return Fail("the server's answer to GET " + target +
                  " is not a page of events");
    }
    for (const Json& e : items->as_array()) {
      if (json) {
        std::printf("%s\n", e.Dump().c_str());
        continue;
      }
      const Json* actor = e.Find("actor");
      const Json* payload = e.Find("payload");
      std::string text = payload == nullptr ? "" : payload->Dump();
      if (text.size() > 80) text = text.substr(0, 77) + "...";
      std::printf("%-8lld %-24s %-24s %-24s %s\n",
                  static_cast<long long>(e.GetInt("seq")),
                  std::string(e.GetString("time")).c_str(),
                  std::string(e.GetString("type")).c_str(),
                  actor == nullptr || !actor->is_string()
                      ? "-"
                      : actor->as_string().c_str(),
                  text.c_str());
    }
    progress.Add(items->as_array().size());
    const Json* next = page->Find("nextCursor");
    if (next == nullptr || !next->is_string() || next->as_string().empty()) {
      return 0;
    }
    cursor = next->as_string();
  }
}

constexpr char kAuditHelp[] =
    R"(Prints a tenant's events that match every filter given, oldest first,
answered by the server from its event index (CRoaring bitmaps of seqs by
type, actor and entity): only the matching events are read. A table (seq,
time, type, actor pseudonym, payload cut to 80 characters) or, with
--json, one event a line (NDJSON: seq, time, type, actor, payload).
Operator scope read-tenant-data; the reason is audited. At least one
filter is required.

  --tenant CLIENTKEY  the tenant
  --type T            events of this type (e.g. site.created)
  --actor A           events by this user: an Atlassian account id or the
                      pseudonym the tenant's events carry
  --entity ID         events that changed this entity (a site, theme,
                      navigation item... id; a promoted result's keyword)
  --since TIME        events at or after this time (RFC 3339)
  --until TIME        events at or before this time (RFC 3339)
  --json              NDJSON instead of a table

An unknown actor or entity prints nothing (exit 0); an unknown type or a
bad time is refused by the server (exit 1).
)";

int AuditLog(const Invocation& in) { return Logs(in, false); }
int AccessLog(const Invocation& in) { return Logs(in, true); }

constexpr char kOperatorsAddHelp[] =
    R"(Adds an operator to an operators file (created with mode 0600) and prints
its new token, once, on stdout; the file keeps only the token's SHA-256.
siteledgerd reads the file at start and on SIGHUP.

  --file PATH     the operators file (siteledgerd --operators-file)
  --name NAME     1 to 64 of [A-Za-z0-9._-], unique in the file
  --scopes LIST   comma-separated, from: read-tenant-data, restore, migrate,
                  purge, erase-users, usage, audit, clock,
                  backup

Example:
  siteledger operators add --file /etc/siteledger/operators --name alice \
      --scopes read-tenant-data,restore > alice.token
)";

constexpr char kAuditLogHelp[] =
    R"(Prints every record of the audit log (every page) as one JSON list,
{"items":[...],"nextCursor":null}. Operator scope audit.

  --tenant CLIENTKEY  only this tenant's records
  --operator NAME     only this operator's records
  --since TIME        from this time (RFC 3339)
  --until TIME        before this time (RFC 3339)
)";

constexpr char kAccessLogHelp[] =
    R"(Prints the access log of the last 14 days (every page), one request a
line: time, tenant (- for none), client IP, method, route, status,
latency. Client IPs are personal data: --reason is required and the read is
audited. Operator scope audit.

  --since TIME  from this time (RFC 3339)
  --until TIME  before this time (RFC 3339)
  --json        print the items as JSON instead
)";

constexpr char kPurgeHelp[] =
    R"(Runs the sweeper now: purges every tenant whose purgeAt has come
(uninstalled 30 days ago, or moved away 7 days ago), retires the access
log's days older than 14 days, and prints one line per tenant. Operator
scope purge.

  --dry-run  list what would go; delete nothing
  --json     print the server's answer as it is
)";

}  // namespace

// The table of every command: plugging one in is one row (see command.h).
const std::vector<Command>& Commands() {
  static const std::vector<Command> table = {
      {.name = "operators add",
       .summary = "Adds an operator to an operators file and prints its token",
       .usage = "siteledger operators add --file PATH --name NAME --scopes "
                "LIST",
       .help = kOperatorsAddHelp,
       .flags = {"file", "name", "scopes"},
       .required = {"file", "name", "scopes"},
       .run = OperatorsAdd},
      {.name = "tenants",
       .summary = "Lists the region's tenants (scope usage)",
       .usage = "siteledger tenants [server flags]",
       .help = "Prints GET /admin/tenants as JSON: each tenant's clientKey, "
               "state, home\nregion, events, bytes and dates.\n",
       .server = ServerUse::kServer,
       .run = Tenants},
      {.name = "usage",
       .summary = "Usage figures per customer, with totals (scope usage)",
       .usage = "siteledger usage [--csv] [server flags]",
       .help = "Sites, themes, custom domains and Confluence spaces per "
               "customer, as JSON.\n\n  --csv  print CSV instead, with a "
               "TOTAL row\n",
       .flags = {"csv"},
       .booleans = {"csv"},
       .server = ServerUse::kServer,
       .run = Usage},
      {.name = "audit-log",
       .summary = "The audit log, every page (scope audit)",
       .usage = "siteledger audit-log [--tenant CLIENTKEY] [--operator NAME] "
                "[--since TIME] [--until TIME] [server flags]",
       .help = kAuditLogHelp,
       .flags = {"tenant", "operator", "since", "until"},
       .server = ServerUse::kServer,
       .run = AuditLog},
      {.name = "access-log",
       .summary = "The access log of the last 14 days (scope audit)",
       .usage = "siteledger access-log --reason TEXT [--since TIME] "
                "[--until TIME] [--json] [server flags]",
       .help = kAccessLogHelp,
       .flags = {"since", "until", "json"},
       .booleans = {"json"},
       .required = {"reason"},
       .server = ServerUse::kWithReason,
       .run = AccessLog},
      {.name = "audit",
       .summary = "A tenant's events by type, actor, entity and time, "
                  "through the event index (scope read-tenant-data)",
       .usage = "siteledger audit --tenant CLIENTKEY [--type T] [--actor A] "
                "[--entity ID] [--since TIME] [--until TIME] [--json] "
                "--reason TEXT [server flags]",
       .help = kAuditHelp,
       .flags = {"tenant", "type", "actor", "entity", "since", "until", "json"},
       .booleans = {"json"},
       .required = {"tenant", "reason"},
       .server = ServerUse::kWithReason,
       .run = Audit},
      {.name = "restore",
       .summary = "Restores a tenant's views to an earlier time or seq "
                  "(scopes restore, read-tenant-data)",
       .usage = "siteledger restore --tenant CLIENTKEY --as-of TIME|seq:N "
                "--reason TEXT [server flags]",
       .help = kRestoreHelp,
       .flags = {"tenant", "as-of"},
       .required = {"tenant", "as-of", "reason"},
       .server = ServerUse::kWithReason,
       .run = Restore},
      {.name = "migrate start",
       .summary = "Starts moving a tenant to another region (scope migrate)",
       .usage = "siteledger migrate start --tenant CLIENTKEY --to REGION "
                "--reason TEXT [server flags]",
       .help = kMigrateStartHelp,
       .flags = {"tenant", "to"},
       .required = {"tenant", "to", "reason"},
       .server = ServerUse::kWithReason,
       .run = MigrateStart},
      {.name = "migrate status",
       .summary = "A tenant's region and migration, or follows it to its end",
       .usage = "siteledger migrate status --tenant CLIENTKEY --reason TEXT "
                "[--follow] [server flags]",
       .help = kMigrateStatusHelp,
       .flags = {"tenant", "follow"},
       .booleans = {"follow"},
       .required = {"tenant", "reason"},
       .server = ServerUse::kWithReason,
       .run = MigrateStatus},
      {.name = "migrate rollback",
       .summary = "Moves a tenant back within 7 days of a move (scope migrate)",
       .usage = "siteledger migrate rollback --tenant CLIENTKEY --reason TEXT "
                "[server flags]",
       .help = kMigrateRollbackHelp,
       .flags = {"tenant"},
       .required = {"tenant", "reason"},
       .server = ServerUse::kWithReason,
       .run = MigrateRollback},
      {.name = "erase-users",
       .summary = "Erases closed Atlassian accounts from every tenant of the "
                  "region (scope erase-users)",
       .usage = "siteledger erase-users --file PATH [--batch N] [--reason "
                "TEXT] [server flags]",
       .help = kEraseUsersHelp,
       .flags = {"file", "batch"},
       .required = {"file"},
       .server = ServerUse::kWithReason,
       .run = EraseUsers},
      {.name = "dev tenant",
       .summary = "Development only: installs a tenant without Atlassian and "
                  "prints a token and curl commands",
       .usage = "siteledger dev tenant [--server URL] [--client-key KEY] "
                "[--keys-listen IP:PORT] [--out PATH] [--ttl SECONDS]",
       .help = kDevTenantHelp,
       .flags = {"server", "client-key", "keys-listen", "out", "ttl"},
       .run = DevTenant},
      {.name = "dev token",
       .summary = "Development only: a new token for the tenant `dev tenant` "
                  "installed",
       .usage = "siteledger dev token [--file PATH] [--ttl SECONDS]",
       .help = kDevTokenHelp,
       .flags = {"file", "ttl"},
       .run = DevToken},
      {.name = "purge",
       .summary = "Runs the sweeper now: purges the tenants that are due "
                  "(scope purge)",
       .usage = "siteledger purge [--dry-run] [--json] [server flags]",
       .help = kPurgeHelp,
       .flags = {"dry-run", "json"},
       .booleans = {"dry-run", "json"},
       .server = ServerUse::kServer,
       .run = Purge},
      {.name = "verify",
       .summary = "Checks hash chains, views and the audit chain (read-only, "
                  "beside a running siteledgerd too)",
       .usage = kVerifyUsage,
       .help = VerifyHelp(),
       .flags = OfflineFlags({"tenant", "json"}),
       .booleans = {"json"},
       .run = Verify},
      {.name = "replay",
       .summary = "Compares the views with a fold of the log; --repair "
                  "rebuilds them (offline only)",
       .usage = kReplayUsage,
       .help = ReplayHelp(),
       .flags = OfflineFlags({"tenant", "repair"}),
       .booleans = {"repair"},
       .run = Replay},
      {.name = "export",
       .summary = "Writes a tenant as NDJSON (read-only)",
       .usage = kExportUsage,
       .help = ExportHelp(),
       .flags = OfflineFlags({"tenant", "out"}),
       .required = {"tenant"},
       .run = Export},
      {.name = "import",
       .summary = "Checks a whole tenant export, then imports it (offline "
                  "only)",
       .usage = kImportUsage,
       .help = ImportHelp(),
       .flags = OfflineFlags({}),
       .max_positional = 1,
       .run = Import},
      {.name = "backup",
       .summary = "Backs up the region online and incrementally into a folder "
                  "on the server's machine (scope backup); --list: offline",
       .usage = "siteledger backup DIR [--keep N] [--json] [server flags]\n"
                "siteledger backup --list DIR",
       .help = kBackupHelp,
       .flags = {"keep", "json", "list"},
       .booleans = {"json", "list"},
       .server = ServerUse::kServer,
       .max_positional = 1,
       .run = Backup},
      {.name = "restore-backup",
       .summary = "Restores a backup into a new data folder and key store "
                  "(offline)",
       .usage =
           "siteledger restore-backup DIR --data DATADIR --master-key-file "
           "FILE [--key-store PATH] [--backup-id N]",
       .help = kRestoreBackupHelp,
       .flags = {"data", "master-key-file", "key-store", "backup-id"},
       .required = {"data", "master-key-file"},
       .max_positional = 1,
       .run = RestoreBackup},
  };
  return table;
}

int Run(const std::vector<std::string>& args) {
  server::InitHttpClient();
  return Dispatch(Commands(), args);
}

}  // namespace siteledger::tools
