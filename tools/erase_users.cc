#include "tools/erase_users.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "projections/json.h"
#include "projections/schema.h"
#include "tools/command.h"
#include "tools/flags.h"
#include "tools/operator_client.h"
#include "tools/progress.h"

namespace siteledger::tools {
namespace {

using projections::Json;

// What POST /admin/users/erase accepts in one request.
constexpr size_t kMaxBatch = 1000;
// The largest file read: Atlassian answers at most 90 accounts a request,
// so a day's answers put together stay far below this.
constexpr size_t kMaxFileBytes = size_t{64} << 20;

int Usage(const std::string& message) {
  std::fprintf(stderr,
               "siteledger erase-users: %s\n(see siteledger erase-users "
               "--help)\n",
               message.c_str());
  return kUsageError;
}

int Refuse(const std::string& message) {
  std::fprintf(stderr, "siteledger erase-users: %s\n", message.c_str());
  return kUsageError;
}

int ServerFail(const std::string& message) {
  std::fprintf(stderr, "siteledger erase-users: %s\n", message.c_str());
  return kServerError;
}

}  // namespace

const char kEraseUsersHelp[] =
    R"(PATH holds Atlassian's personal data reporting answer (POST
/app/report-accounts), or several put together in one list:

  {"accounts":[{"accountId":"5b10ac8d82e05b22cc7d4ef5","status":"closed"},
               {"accountId":"5b10a2844c20165700ede21g","status":"updated"}]}

Accounts whose status is "closed" are erased: in each tenant holding a
pseudonym for one, the rows that map it are deleted, the users view shows
the pseudonym as erased, and the deleted rows are compacted out of the data
files. "updated" accounts are left alone: siteledger keeps no profile data
to refresh. The ids are sent in the request body only, at most N per request
(--batch, 1 to 1000, default 1000), and never printed. A line per batch goes
to stdout; on a terminal a progress bar (accounts sent, rate, time left) is
drawn on stderr, piped a progress line every 5 seconds.

Run it against every region the app is served from: each erases what it
holds.

  --file PATH   the personal data reporting answer
  --batch N     account ids per request (1 to 1000, default 1000)
  --reason TEXT is audited with each erasure (e.g. the report's date)

Exit status: 0 every closed account was dealt with; 1 the server refused or
could not be reached, or deferred accounts of tenants changing region (run
the same command again later: erasing twice is harmless); 2 a usage error or
a malformed file (then nothing is sent).
)";

namespace {

struct Report {
  std::vector<std::string> closed;  // distinct, in file order
  size_t accounts = 0;
  size_t updated = 0;
  size_t repeated = 0;  // closed accounts listed more than once
};

// The file's accounts. InvalidArgument naming the place at fault (an
// index, never an id).
Result<Report> ReadReport(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Err(Status::InvalidArgument("cannot read " + path));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > kMaxFileBytes) {
    return Err(Status::InvalidArgument(path + " is larger than " +
                                       std::to_string(kMaxFileBytes >> 20) +
                                       " MiB: split it"));
  }
  projections::JsonLimits limits;
  limits.max_bytes = kMaxFileBytes;
  limits.max_array_items = kMaxFileBytes;
  auto json = projections::ParseJson(text.str(), limits);
  if (!json) {
    return Err(Status::InvalidArgument(
        path + " is not JSON: " + json.error().message()));
  }
  const Json* accounts = json->is_object() ? json->Find("accounts") : nullptr;
  if (accounts == nullptr || !accounts->is_array()) {
    return Err(Status::InvalidArgument(
        path +
        " is not a personal data reporting answer: expected "
        "{\"accounts\":[{\"accountId\":\"...\",\"status\":\"closed\"}]}"));
  }
  Report report;
  std::set<std::string> seen;
  const Json::Array& items = accounts->as_array();
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string where = "accounts[" + std::to_string(i) + "]";
    const Json& item = items[i];
    const Json* id = item.is_object() ? item.Find("accountId") : nullptr;
    const Json* status = item.is_object() ? item.Find("status") : nullptr;
    if (id == nullptr || !id->is_string()) {
      return Err(Status::InvalidArgument(
          where + ": expected an object with a string accountId"));
    }
    if (Status s = projections::schema::CheckAccountId(id->as_string());
        !s.ok()) {
      return Err(s.WithContext(where + ".accountId"));
    }
    if (status == nullptr || !status->is_string() ||
        (status->as_string() != "closed" && status->as_string() != "updated")) {
      return Err(Status::InvalidArgument(
          where + ".status: expected \"closed\" or \"updated\""));
    }
    ++report.accounts;
    if (status->as_string() == "updated") {
      ++report.updated;
      continue;
    }
    if (seen.insert(id->as_string()).second) {
      report.closed.push_back(id->as_string());
    } else {
      ++report.repeated;
    }
  }
  return report;
}

// A count the server answered, or -1 when it is missing.
int64_t Count(const Json& answer, std::string_view name) {
  const Json* v = answer.Find(name);
  return v != nullptr && v->is_int() ? v->as_int() : -1;
}

}  // namespace

int EraseUsers(const Invocation& in) {
  const Flags& f = in.flags;
  size_t batch = kMaxBatch;
  if (f.Has("batch")) {
    const std::string text = f.Get("batch");
    size_t n = 0;
    bool digits = !text.empty() && text.size() <= 4;
    for (char c : text) {
      digits = digits && c >= '0' && c <= '9';
      if (digits) n = n * 10 + static_cast<size_t>(c - '0');
    }
    if (!digits || n < 1 || n > kMaxBatch) {
      return Usage("--batch takes a number from 1 to 1000");
    }
    batch = n;
  }
  auto report = ReadReport(f.Get("file"));
  if (!report) return Refuse(report.error().message() + "; nothing was sent");
  auto s = LoadServerFlags(f);
  if (!s) return Refuse(s.error().message());

  std::printf(
      "%zu accounts in the file: %zu closed (%zu distinct), %zu updated "
      "(left alone)\n",
      report->accounts, report->closed.size() + report->repeated,
      report->closed.size(), report->updated);
  int64_t erased = 0, not_found = 0, deferred = 0;
  size_t sent = 0;
  Progress progress("erase-users", "closed accounts sent",
                    report->closed.size());
  for (size_t from = 0; from < report->closed.size(); from += batch) {
    const size_t to = std::min(report->closed.size(), from + batch);
    Json ids = Json::MakeArray();
    for (size_t i = from; i < to; ++i) ids.Push(report->closed[i]);
    Json body = Json::MakeObject();
    body.Set("accountIds", std::move(ids));
    auto response = SendRequest(*s, "POST", "/admin/users/erase", body.Dump());
    if (!response) {
      return ServerFail(response.error().message() + " (" +
                        std::to_string(sent) + " of " +
                        std::to_string(report->closed.size()) +
                        " closed accounts sent before)");
    }
    if (response->status != 200) {
      return ServerFail(Refusal("POST", "/admin/users/erase", *response) +
                        " (" + std::to_string(sent) + " of " +
                        std::to_string(report->closed.size()) +
                        " closed accounts dealt with before)");
    }
    auto answer = projections::ParseJson(response->body,
                                         projections::TrustedJsonLimits());
    if (!answer || !answer->is_object() || Count(*answer, "erased") < 0) {
      return ServerFail("the server's answer is not an erasure report");
    }
    sent = to;
    const int64_t batch_erased = Count(*answer, "erased");
    const int64_t batch_not_found =
        std::max<int64_t>(0, Count(*answer, "notFound"));
    const int64_t batch_deferred =
        std::max<int64_t>(0, Count(*answer, "deferred"));
    erased += batch_erased;
    not_found += batch_not_found;
    deferred += batch_deferred;
    std::printf(
        "batch %zu: %zu account ids: %lld pseudonym mappings erased, %lld "
        "accounts held by no tenant here, %lld deferred\n",
        from / batch + 1, to - from, static_cast<long long>(batch_erased),
        static_cast<long long>(batch_not_found),
        static_cast<long long>(batch_deferred));
    std::fflush(stdout);
    progress.Update(sent);
  }
  progress.Finish();
  std::printf(
      "done: %zu closed accounts sent; %lld pseudonym mappings erased; %lld "
      "accounts held by no tenant here; %lld deferred\n",
      sent, static_cast<long long>(erased), static_cast<long long>(not_found),
      static_cast<long long>(deferred));
  if (deferred > 0) {
    return ServerFail(std::to_string(deferred) +
                      " erasures were deferred: their tenants are changing "
                      "region. Run the same command again later.");
  }
  return kOk;
}

}  // namespace siteledger::tools
