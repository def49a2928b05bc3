#pragma once

// The region-to-region stream's batches: what a migration's home region
// sends its peer (POST /internal/v1/tenants/{clientKey}/import), as JSON:
//   {"migrationId":"m_...",
//    "events":[{"seq","timeMs","type","actor","idempotencyKey",
//               "prevHash","payload","hash"}, ...],          (non-empty)
//    "pseudonyms":[{"pseudonym","accountId"}, ...],          (optional)
//    "media":[{"mediaId","data" (base64url)}, ...],          (optional)
//    "idempotency":[{"key","usedMs","first","last","timeMs",
//                    "fingerprint","response"}, ...]}         (optional)
// Every member is checked before anything is written: types, ranges, each
// event's hash and each medium's SHA-256 against its id.

#include <string>
#include <utility>
#include <vector>

#include "projections/json.h"
#include "storage/base/status.h"
#include "storage/envelope.h"
#include "storage/event_log.h"

namespace siteledger::server {

// The JSON limits of a region-to-region body (a batch is at most 64 MiB).
projections::JsonLimits PeerJsonLimits();

// One event as the stream carries it, its hash included.
projections::Json EventJson(const storage::Event& e);
// The event of EventJson's object; InvalidArgument for a missing or
// mistyped member, Corruption when it does not match its hash.
Result<storage::Event> EventOfJson(const projections::Json& j);

struct PeerBatch {
  std::string migration_id;
  std::vector<storage::Event> events;
  std::vector<std::pair<std::string, std::string>> pseudonyms;  // → account
  std::vector<std::pair<std::string, std::string>> media;       // id, bytes
  std::vector<storage::IdempotencyExport> idempotency;
};

// A batch, wholly checked. InvalidArgument (or Corruption) naming the
// member that is wrong.
Result<PeerBatch> DecodePeerBatch(const projections::Json& body);

}  // namespace siteledger::server
