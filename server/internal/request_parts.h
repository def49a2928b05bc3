#pragma once

// The parts of a request every handler reads the same way: paging, as-of,
// If-Match, Idempotency-Key, JSON bodies and tokens; and the answers built
// the same way: views with their ETag, lists, events. Each exists once, here.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "projections/json.h"
#include "projections/projector.h"
#include "projections/views.h"
#include "server/internal/call.h"
#include "storage/envelope.h"

namespace siteledger::server {

// ?limit=: `fallback` when absent. InvalidArgument unless 1..max.
Result<size_t> LimitOf(const Call& call, size_t fallback, size_t max);

// A decimal seq. InvalidArgument naming `what` otherwise.
Result<Sequence> SeqOf(std::string_view text, std::string_view what);

// ?since= and ?until= (RFC 3339), each left as it is when absent.
// InvalidArgument naming the parameter when one does not parse.
Status TimeWindowOf(const Call& call, std::optional<Timestamp>& since,
                    std::optional<Timestamp>& until);

// ?as_of= : an RFC 3339 time, or "seq:N". InvalidArgument when malformed.
struct AsOf {
  bool set = false;
  std::optional<Sequence> seq;
  std::optional<Timestamp> time;
};
Result<AsOf> AsOfOf(const Call& call);

// Opaque list cursors (base64url of a position). DecodeCursor answers ""
// without ?cursor=, InvalidArgument for one this API did not hand out.
std::string EncodeCursor(std::string_view position);
Result<std::string> DecodeCursor(const Call& call);

// {"items": items, "nextCursor": cursor of `next`, or null when empty}.
projections::Json ListBody(projections::Json items, const std::string& next);

// If-Match: nullopt when absent, kAnyVersion for "*", else the entity's
// version from its strong ETag. InvalidArgument when malformed.
Result<std::optional<Sequence>> IfMatchOf(const Call& call);

// Idempotency-Key: "" when absent. InvalidArgument beyond 128 printable
// ASCII characters.
Result<std::string> IdempotencyKeyOf(const Call& call);

// The JSON object body of a request, parsed within `limits`. An empty body
// is null for kOptional and InvalidArgument for kRequired; a body that is
// not JSON (Content-Type) is Unsupported, one that does not parse or is not
// an object InvalidArgument.
Result<projections::Json> JsonBodyOf(
    const Call& call, BodyUse use,
    const projections::JsonLimits& limits = projections::JsonLimits());

// The credential after `scheme` in Authorization ("JWT <token>"), else
// ?jwt=. Unauthenticated when neither is there or the header is malformed.
Result<std::string> TokenOf(const Call& call, std::string_view scheme);

// A view as the API answers it: the document with its version, and its
// version as a strong ETag.
HttpResponse ViewResponse(int status, const projections::ViewDoc& view);
// The same from a stored view, without parsing it.
HttpResponse StoredViewResponse(const projections::Projector::StoredView& v);
projections::Json ViewBody(const projections::ViewDoc& view);
HttpResponse NoContent();

// One event as the API shows it: seq, time, type, actor (a pseudonym),
// payload. And as a Server-Sent Event: its data is the item (the type
// included); with `named`, an `event: <type>` line names it too.
projections::Json EventItem(const storage::Event& e);
std::string FormatEvent(const storage::Event& e, bool named);

// A tenant's usage figures: its sites, themes, the custom domains and
// spaces of its sites. Reads every site and theme view (pages of 500).
struct UsageCounts {
  int64_t sites = 0;
  int64_t themes = 0;
  int64_t custom_domains = 0;
  int64_t spaces = 0;
};
Result<UsageCounts> CountUsage(projections::Projector& projector,
                               TenantId tenant);

}  // namespace siteledger::server
