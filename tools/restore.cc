#include "tools/restore.h"

#include <charconv>
#include <cstdio>

#include "projections/json.h"
#include "server/http_client.h"
#include "server/jwt.h"
#include "storage/base/rfc3339.h"
#include "tools/operator_client.h"

namespace siteledger::tools {
namespace {

using projections::Json;

struct DigestAnswer {
  uint64_t seq = 0;
  std::string digest;
};

// GET /admin/tenants/{clientKey}/digest, now or ?as_of=. Unavailable (the
// message saying what was tried and what to do) when the server cannot be
// reached or refuses.
Result<DigestAnswer> GetDigest(const ServerFlags& s,
                               const std::string& client_key,
                               const std::string& as_of = "") {
  std::string path = "/admin/tenants/" + PathSegment(client_key) + "/digest";
  if (!as_of.empty()) path += "?as_of=" + server::EncodeRfc3986(as_of);
  auto response = SendRequest(s, "GET", path);
  if (!response) return Err(response.error());
  if (response->status != 200) {
    return Err(Status::Unavailable(Refusal("GET", path, *response)));
  }
  auto doc = projections::ParseJson(response->body);
  const Json* seq = doc && doc->is_object() ? doc->Find("seq") : nullptr;
  const Json* digest = doc && doc->is_object() ? doc->Find("digest") : nullptr;
  if (seq == nullptr || !seq->is_int() || seq->as_int() < 0 ||
      digest == nullptr || !digest->is_string()) {
    return Err(Status::Unavailable("the server's answer to GET " + path +
                                   " is not a digest: " + response->body));
  }
  return DigestAnswer{static_cast<uint64_t>(seq->as_int()),
                      digest->as_string()};
}

}  // namespace

const char kRestoreHelp[] =
    R"(Brings every view of the tenant back to how it was at TIME (RFC 3339, UTC:
2026-11-28T05:00:00Z) or after event N (seq:N), by appending a restore event:
the log keeps its history, and a later restore can undo this one. Needs an
operator with the scopes restore and read-tenant-data.

It prints the views' seq and digest before, the seq and digest of the point
restored to, and the seq and digest after, and checks that the digest after
equals that of the point restored to:

  before: seq 41 digest 5d0c...
  target: seq 12 digest 9a1e... (as of seq:12)
  restored: new head seq 42
  after: seq 42 digest 9a1e...
  the views are as they were at seq 12

A digest is SHA-256 over the views' documents (docs/formats.md): equal
digests, equal views. A bad --as-of is refused before anything is sent; a
point after the head is refused by the server, restoring nothing.

  --tenant CLIENTKEY     the tenant
  --as-of TIME|seq:N     the point to restore to
  --reason TEXT          why (required: audited with the restore)

Exit status: 0 restored and checked; 1 the server refused or could not be
reached (the message says whether the restore was made), or the digest
after differs from the target's; 2 a usage error (nothing was sent).
)";

Result<std::string> RestoreBody(std::string_view as_of) {
  Json body = Json::MakeObject();
  if (as_of.starts_with("seq:")) {
    const std::string_view digits = as_of.substr(4);
    int64_t n = -1;
    auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || ec != std::errc() ||
        end != digits.data() + digits.size() || n < 0) {
      return Err(Status::InvalidArgument(
          "--as-of " + std::string(as_of) +
          ": seq:N takes a whole number N of 0 or more, e.g. seq:12"));
    }
    body.Set("toSeq", n);
    return body.Dump();
  }
  if (auto t = ParseRfc3339(as_of); !t) {
    return Err(Status::InvalidArgument(
        "--as-of " + std::string(as_of) +
        ": expected an RFC 3339 time such as 2026-11-28T05:00:00Z, or seq:N (" +
        t.error().message() + ")"));
  }
  body.Set("asOf", std::string(as_of));
  return body.Dump();
}

int Restore(const Invocation& in) {
  const Flags& f = in.flags;
  const std::string client_key = f.Get("tenant");
  const std::string as_of = f.Get("as-of");
  auto body = RestoreBody(as_of);
  if (!body) {
    return Fail("restore: " + body.error().message() + "; nothing was sent",
                kUsageError);
  }
  auto s = LoadServerFlags(f);
  if (!s) return Fail("restore: " + s.error().message(), kUsageError);

  auto before = GetDigest(*s, client_key);
  if (!before) {
    return Fail("restore: " + before.error().message() +
                "; nothing was restored");
  }
  std::printf("before: seq %llu digest %s\n",
              static_cast<unsigned long long>(before->seq),
              before->digest.c_str());
  // The point asked for, resolved by the server as the restore will be: a
  // point after the head is refused here, before anything changes.
  auto target = GetDigest(*s, client_key, as_of);
  if (!target) {
    return Fail("restore: " + target.error().message() +
                "; nothing was restored");
  }
  std::printf("target: seq %llu digest %s (as of %s)\n",
              static_cast<unsigned long long>(target->seq),
              target->digest.c_str(), as_of.c_str());
  std::fflush(stdout);

  const std::string path =
      "/admin/tenants/" + PathSegment(client_key) + "/restore";
  auto response = SendRequest(*s, "POST", path, *body);
  if (!response) {
    return Fail("restore: " + response.error().message() +
                "; the restore may or may not have been made: check with "
                "GET " +
                s->server + "/admin/tenants/" + PathSegment(client_key) +
                "/digest");
  }
  if (response->status != 200) {
    return Fail("restore: " + Refusal("POST", path, *response) +
                "; nothing was restored");
  }
  auto answer = projections::ParseJson(response->body);
  const Json* seq =
      answer && answer->is_object() ? answer->Find("seq") : nullptr;
  std::printf("restored: new head seq %s\n",
              seq != nullptr && seq->is_int()
                  ? std::to_string(seq->as_int()).c_str()
                  : "?");
  auto after = GetDigest(*s, client_key);
  if (!after) {
    return Fail("restore: the restore was made, but " +
                after.error().message());
  }
  std::printf("after: seq %llu digest %s\n",
              static_cast<unsigned long long>(after->seq),
              after->digest.c_str());
  if (after->digest != target->digest) {
    // Another writer may have changed the tenant since the restore.
    return Fail(
        "restore: the views after the restore differ from those at "
        "seq " +
        std::to_string(target->seq) +
        " (was the tenant written to meanwhile? compare with GET "
        ".../digest?as_of=seq:N)");
  }
  std::printf("the views are as they were at seq %llu\n",
              static_cast<unsigned long long>(target->seq));
  return kOk;
}

}  // namespace siteledger::tools
