#include "tools/migrate.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <thread>

#include "projections/json.h"
#include "tools/command.h"
#include "tools/flags.h"
#include "tools/operator_client.h"
#include "tools/progress.h"

namespace siteledger::tools {
namespace {

using projections::Json;

constexpr auto kPollInterval = std::chrono::milliseconds(500);
// Consecutive unanswered polls (or 503s) --follow sits out before it gives
// up: a server restarting, or a moment of cutover.
constexpr int kMaxPollFailures = 20;
constexpr int kBarWidth = 20;

}  // namespace

const char kMigrateStartHelp[] =
    R"(Starts moving the tenant from the server's region to REGION (a peer of that
region) and prints the residency: state copying. The tenant keeps working
while its data is copied; follow the move with
`siteledger migrate status --follow`. Operator scope migrate.

  --tenant CLIENTKEY  the tenant to move
  --to REGION         the region to move it to (a peer of the server's)
)";

const char kMigrateStatusHelp[] =
    R"(Prints the tenant's region, its home's URL, the state (home, copying,
cutover, rolling-back), the copy's progress, the rollback deadline and the
last error. Operator scope migrate.

  --tenant CLIENTKEY  the tenant
  --follow  polls every 500 ms until the migration is over: the state is home
          again and the region changed (exit 0) or the migration was given
          up (lastError set; exit 1). On a terminal it redraws one progress
          line with the rate and the time left; piped, it prints a line each
          time something changes. When nothing is under way at the server it
          prints the residency and stops at once.
)";

const char kMigrateRollbackHelp[] =
    R"(Moves the tenant back to the region it left, as it was at the cutover
(changes made since are dropped), within 7 days of the move. Ask either
region: the old one hands the request to the tenant's home. Prints the
home's residency (state rolling-back); follow it there with
`siteledger migrate status --follow --server HOME-URL`. Operator scope
migrate.

  --tenant CLIENTKEY  the tenant to move back
)";

namespace {

int ServerFail(const std::string& message) {
  std::fprintf(stderr, "siteledger migrate: %s\n", message.c_str());
  return kServerError;
}

std::string Bytes(int64_t n) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  char out[32];
  if (unit == 0) {
    std::snprintf(out, sizeof out, "%" PRId64 " B", n);
  } else {
    std::snprintf(out, sizeof out, "%.1f %s", v, kUnits[unit]);
  }
  return out;
}

std::string StringOr(const Json& doc, std::string_view key,
                     std::string_view fallback) {
  const Json* v = doc.Find(key);
  return v != nullptr && v->is_string() ? v->as_string()
                                        : std::string(fallback);
}

// "1200/3000 events (40%), 1/1 media, 1.2 MiB, 850 events/s, 2s left";
// empty when the document carries no progress.
std::string ProgressText(const Json& doc) {
  const Json* p = doc.Find("progress");
  if (p == nullptr || !p->is_object()) return "";
  const int64_t copied = p->GetInt("eventsCopied");
  const int64_t total = p->GetInt("eventsTotal");
  std::string text =
      std::to_string(copied) + "/" + std::to_string(total) + " events";
  if (total > 0) {
    text += " (" + std::to_string(copied * 100 / total) + "%)";
  }
  text += ", " + std::to_string(p->GetInt("mediaCopied")) + "/" +
          std::to_string(p->GetInt("mediaTotal")) + " media, " +
          Bytes(p->GetInt("bytesCopied")) + ", " +
          std::to_string(p->GetInt("rate")) + " events/s";
  const Json* eta = p->Find("etaSeconds");
  text += eta != nullptr && eta->is_int()
              ? ", " + FormatSeconds(eta->as_int()) + " left"
              : ", time left unknown";
  return text;
}

// The residency document, a few lines for a person.
void PrintSummary(const std::string& client_key, const Json& doc) {
  std::printf("tenant %s: region %s (%s), state %s\n", client_key.c_str(),
              StringOr(doc, "region", "?").c_str(),
              StringOr(doc, "homeBaseUrl", "?").c_str(),
              StringOr(doc, "state", "?").c_str());
  if (std::string progress = ProgressText(doc); !progress.empty()) {
    std::printf("  progress: %s\n", progress.c_str());
  }
  if (const Json* d = doc.Find("rollbackDeadline"); d && d->is_string()) {
    std::printf("  rollback possible until %s\n", d->as_string().c_str());
  }
  if (const Json* id = doc.Find("migrationId"); id && id->is_string()) {
    std::printf("  migration %s\n", id->as_string().c_str());
  }
  if (const Json* e = doc.Find("lastError"); e && e->is_string()) {
    std::printf("  last error: %s\n", e->as_string().c_str());
  }
  std::fflush(stdout);
}

// The line --follow draws on a terminal: a bar, the rate and the time left,
// cut to the terminal's width so that \r redraws it in place.
std::string TerminalLine(const Json& doc) {
  std::string line = StringOr(doc, "state", "?");
  if (const Json* p = doc.Find("progress"); p != nullptr && p->is_object()) {
    const int64_t copied = p->GetInt("eventsCopied");
    const int64_t total = p->GetInt("eventsTotal");
    const int64_t done = total > 0 ? std::min(copied, total) : 0;
    const int filled =
        total > 0 ? static_cast<int>(done * kBarWidth / total) : 0;
    const Json* eta = p->Find("etaSeconds");
    // What matters most first: a narrow terminal cuts the end.
    line +=
        " [" + std::string(static_cast<size_t>(filled), '#') +
        std::string(static_cast<size_t>(kBarWidth - filled), '.') + "] " +
        (total > 0 ? std::to_string(done * 100 / total) : "0") + "%  ETA " +
        (eta != nullptr && eta->is_int() ? FormatSeconds(eta->as_int()) : "?") +
        "  " + std::to_string(p->GetInt("rate")) + " events/s  " +
        std::to_string(copied) + "/" + std::to_string(total) + " events";
  }
  line += "  (region " + StringOr(doc, "region", "?") + ")";
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
      line.size() >= ws.ws_col) {
    line.resize(ws.ws_col - 1);
  }
  return line;
}

// The line --follow prints when piped, each time it changes.
std::string PlainLine(const Json& doc) {
  std::string line = "region " + StringOr(doc, "region", "?") + ", " +
                     StringOr(doc, "state", "?");
  if (std::string progress = ProgressText(doc); !progress.empty()) {
    line += ": " + progress;
  }
  return line;
}

// Asks the server for the residency document; on failure sets `rc` to the
// exit status and `retry` when polling again may help.
std::optional<Json> FetchResidency(const ServerFlags& s,
                                   const std::string& path, int& rc,
                                   bool& retry, std::string& why) {
  retry = false;
  auto response = SendRequest(s, "GET", path);
  if (!response) {
    retry = true;
    why = response.error().message();
    rc = kServerError;
    return std::nullopt;
  }
  if (response->status != 200) {
    retry = response->status == 503;
    why = Refusal("GET", path, *response);
    rc = kServerError;
    return std::nullopt;
  }
  auto doc = projections::ParseJson(response->body);
  if (!doc || !doc->is_object()) {
    why = "the server's answer is not a residency document";
    rc = kServerError;
    return std::nullopt;
  }
  return std::move(*doc);
}

int Follow(const ServerFlags& s, const std::string& client_key,
           const std::string& path) {
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  std::optional<std::string> first_region;
  std::string last_line;
  int failures = 0;
  for (;;) {
    int rc = kOk;
    bool retry = false;
    std::string why;
    std::optional<Json> doc = FetchResidency(s, path, rc, retry, why);
    if (!doc) {
      if (!retry || ++failures > kMaxPollFailures) {
        if (terminal && !last_line.empty()) std::fputc('\n', stdout);
        std::fflush(stdout);
        return ServerFail(why);
      }
      std::this_thread::sleep_for(kPollInterval);
      continue;
    }
    failures = 0;
    const std::string region = StringOr(*doc, "region", "");
    const std::string state = StringOr(*doc, "state", "");
    const Json* error = doc->Find("lastError");
    const bool failed = error != nullptr && error->is_string();
    if (!first_region) {
      first_region = region;
      if (state == "home") {
        PrintSummary(client_key, *doc);
        std::printf("no migration is under way at %s\n", s.server.c_str());
        return failed ? kServerError : kOk;
      }
    }
    // Over: home again, somewhere else or given up.
    if (state == "home" && (region != *first_region || failed)) {
      if (terminal && !last_line.empty()) std::printf("\r\033[K");
      PrintSummary(client_key, *doc);
      if (region != *first_region) {
        std::printf("moved from region %s to region %s\n",
                    first_region->c_str(), region.c_str());
        return kOk;
      }
      return ServerFail("the migration was given up: " + error->as_string());
    }
    const std::string line = terminal ? TerminalLine(*doc) : PlainLine(*doc);
    if (terminal) {
      // \033[K clears what a longer previous line left behind.
      std::printf("\r%s\033[K", line.c_str());
    } else if (line != last_line) {
      std::printf("%s\n", line.c_str());
    }
    std::fflush(stdout);
    last_line = line;
    std::this_thread::sleep_for(kPollInterval);
  }
}

// Runs `migrate SUB` once the framework has checked the flags (--tenant
// and --reason given, and --to for start).
int Migrate(std::string_view sub, const Flags& f) {
  auto s = LoadServerFlags(f);
  if (!s) return Fail(s.error().message(), kUsageError);
  const std::string client_key = f.Get("tenant");
  const std::string path =
      "/admin/tenants/" + PathSegment(client_key) + "/migration";
  if (sub == "status" && f.Has("follow")) return Follow(*s, client_key, path);

  Result<server::OutboundResponse> response;
  std::string method = "POST", target = path;
  if (sub == "start") {
    Json body = Json::MakeObject();
    body.Set("target", f.Get("to"));
    response = SendRequest(*s, method, target, body.Dump());
  } else if (sub == "rollback") {
    target = path + "/rollback";
    response = SendRequest(*s, method, target);
  } else {
    method = "GET";
    response = SendRequest(*s, method, target);
  }
  if (!response) return ServerFail(response.error().message());
  if (response->status < 200 || response->status >= 300) {
    return ServerFail(Refusal(method, target, *response));
  }
  auto doc = projections::ParseJson(response->body);
  if (!doc || !doc->is_object()) {
    return ServerFail("the server's answer is not a residency document");
  }
  PrintSummary(client_key, *doc);
  if (sub == "start") {
    std::printf(
        "follow it with: siteledger migrate status --follow --tenant %s\n",
        client_key.c_str());
  } else if (sub == "rollback") {
    std::printf(
        "follow it at the home with: siteledger migrate status --follow "
        "--server %s\n",
        StringOr(*doc, "homeBaseUrl", "HOME-URL").c_str());
  }
  return kOk;
}

}  // namespace

int MigrateStart(const Invocation& in) { return Migrate("start", in.flags); }
int MigrateStatus(const Invocation& in) { return Migrate("status", in.flags); }
int MigrateRollback(const Invocation& in) {
  return Migrate("rollback", in.flags);
}

}  // namespace siteledger::tools
