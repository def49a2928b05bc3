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
#include "tools/erase_users.h"
#include "tools/flags.h"
#include "tools/migrate.h"
#include "tools/offline_commands.h"
#include "tools/operator_client.h"

namespace siteledger::tools {
namespace {

using projections::Json;

constexpr char kUsage[] =
    R"(siteledger: tools over siteledger's storage

Usage:
  siteledger operators add --file PATH --name NAME --scopes LIST
      Adds an operator to an operators file (created with mode 0600) and
      prints its new token, once, on stdout. Scopes: read-tenant-data,
      restore, migrate, purge, erase-users, usage, audit, clock.
  siteledger tenants [server flags]
      Lists the region's tenants (scope usage).
  siteledger usage [server flags] [--csv]
      Usage figures per customer (scope usage).
  siteledger audit-log [server flags] [--tenant CLIENTKEY] [--operator NAME]
                       [--since TIME] [--until TIME]
      The audit log (scope audit).
  siteledger access-log [server flags] --reason TEXT [--since TIME]
                       [--until TIME] [--json]
      The access log of the last 14 days (scope audit), one request a line:
      time, tenant, client IP, method, route, status, latency; --json
      prints the items as JSON. Client IPs are personal data: the reason
      is required and audited.
  siteledger migrate start|status|rollback --tenant CLIENTKEY [server flags]
                       [--to REGION] [--follow]
      Moves a tenant between regions (scope migrate); see
      siteledger migrate --help.
  siteledger erase-users --file PATH [server flags] [--batch N]
      Erases the closed accounts of Atlassian's personal data reporting
      answer in PATH from every tenant of the region (scope erase-users);
      see siteledger erase-users --help.
  siteledger purge [server flags] [--dry-run] [--json]
      Runs the sweeper now (scope purge): purges the tenants whose purgeAt
      has come (uninstalled 30 days ago, or moved away 7 days ago) and
      prints what went; with --dry-run, what would go, deleting nothing.
  siteledger verify [--data DIR] [--tenant CLIENTKEY] [--json]
      Checks hash chains, views and the audit chain (read-only; beside a
      running siteledgerd too); see siteledger verify --help.
  siteledger replay [--data DIR] [--tenant CLIENTKEY] [--repair]
      Compares the views with a fold of the log; --repair rebuilds them
      (offline only); see siteledger replay --help.
  siteledger export --tenant CLIENTKEY [--data DIR] [--out FILE]
      A tenant as NDJSON (read-only); see siteledger export --help.
  siteledger import FILE [--data DIR]
      Checks a whole export, then imports it (offline only); see
      siteledger import --help.

Server flags:
  --server URL        the siteledgerd to talk to (default http://127.0.0.1:8080)
  --token-file PATH   the operator token (default: $SITELEDGER_TOKEN)
  --reason TEXT       why: required for every access to a tenant's data
)";

int Fail(const std::string& message) {
  std::fprintf(stderr, "siteledger: %s\n", message.c_str());
  return 1;
}

// Appends one line to the operators file under an exclusive lock, creating
// it with mode 0600.
int OperatorsAdd(const Flags& f) {
  const std::string file = f.Get("file");
  const std::string name = f.Get("name");
  const std::string scopes = f.Get("scopes");
  if (file.empty() || name.empty() || scopes.empty()) {
    return Fail("operators add needs --file, --name and --scopes");
  }
  auto bytes = storage::RandomBytes(32);
  if (!bytes) return Fail(bytes.error().message());
  const std::string token = "slop_" + server::Base64UrlEncode(*bytes);
  auto line = server::OperatorLine(name, scopes, token);
  if (!line) return Fail(line.error().message());

  const int fd =
      ::open(file.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Fail("cannot open " + file + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX) != 0) {
    ::close(fd);
    return Fail("cannot lock " + file);
  }
  // Refuse a second operator of the same name.
  std::ifstream in(file);
  std::stringstream existing;
  existing << in.rdbuf();
  auto current = server::Operators::Parse(existing.str());
  if (!current) {
    ::close(fd);
    return Fail(current.error().message());
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
    return Fail("the server answered " + std::to_string(response->status) +
                ": " + ProblemDetail(*response));
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
// nextCursor, into `all`; non-zero (and a message naming `what`) on an
// error.
int AllPages(const ServerFlags& s, const std::string& path, const char* what,
             Json& all) {
  std::string cursor;
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
int Purge(const Flags& f) {
  if (auto unknown =
          f.Unknown({"server", "token-file", "reason", "dry-run", "json"})) {
    return Fail("unknown flag " + *unknown + " (see siteledger purge --help)");
  }
  auto s = LoadServerFlags(f);
  if (!s) return Fail(s.error().message());
  const bool dry_run = f.Has("dry-run");
  auto response = SendRequest(
      *s, "POST",
      std::string("/admin/sweep?dry_run=") + (dry_run ? "true" : "false"));
  if (!response) return Fail(response.error().message());
  if (response->status != 200) {
    return Fail("the server answered " + std::to_string(response->status) +
                ": " + ProblemDetail(*response));
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

}  // namespace

int Run(const std::vector<std::string>& args) {
  server::InitHttpClient();
  if (args.empty() || args[0] == "--help" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string& command = args[0];
  if (command == "migrate") return Migrate(args);
  if (command == "erase-users") return EraseUsers(args);
  if (command == "verify") return RunVerify(args);
  if (command == "replay") return RunReplay(args);
  if (command == "export") return RunExport(args);
  if (command == "import") return RunImport(args);
  if (command == "purge") {
    Flags f = ParseFlags(args, 1, {"dry-run", "json", "help"});
    if (f.error) return Fail(*f.error);
    if (f.Has("help")) {
      std::fputs(
          "siteledger purge [--server URL] [--token-file PATH] [--dry-run] "
          "[--json]\n"
          "  Runs the sweeper now (scope purge): purges every tenant whose\n"
          "  purgeAt has come and prints one line per tenant. --dry-run\n"
          "  lists what would go and deletes nothing; --json prints the\n"
          "  server's answer as it is.\n",
          stdout);
      return 0;
    }
    return Purge(f);
  }
  if (command == "operators") {
    if (args.size() < 2 || args[1] != "add") {
      return Fail(
          "usage: siteledger operators add --file PATH --name NAME "
          "--scopes LIST");
    }
    Flags f = ParseFlags(args, 2, {});
    if (f.error) return Fail(*f.error);
    return OperatorsAdd(f);
  }
  if (command == "tenants" || command == "usage" || command == "audit-log" ||
      command == "access-log") {
    Flags f = ParseFlags(args, 1, {"csv", "json"});
    if (f.error) return Fail(*f.error);
    auto s = LoadServerFlags(f);
    if (!s) return Fail(s.error().message());
    if (command == "tenants") return Get(*s, "/admin/tenants");
    if (command == "usage") return Get(*s, "/admin/usage", f.Has("csv"));
    const bool access = command == "access-log";
    std::string query;
    for (const std::string& flag :
         access ? std::vector<std::string>{"since", "until"}
                : std::vector<std::string>{"tenant", "operator", "since",
                                           "until"}) {
      if (!f.Has(flag)) continue;
      query += query.empty() ? "?" : "&";
      query += QueryParam(flag, f.Get(flag));
    }
    // Every page: follow nextCursor, and print all the records as one list.
    Json all = Json::MakeArray();
    if (int rc = AllPages(
            *s, (access ? "/admin/access-log" : "/admin/audit") + query,
            access ? "an access-log page" : "an audit page", all);
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
  return Fail("unknown command " + command + " (see siteledger --help)");
}

}  // namespace siteledger::tools
