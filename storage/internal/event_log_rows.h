#pragma once

// Row formats and helpers shared by the parts of EventLog (event_log_*.cc).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/base/ids.h"
#include "storage/base/status.h"
#include "storage/event_log.h"
#include "storage/family.h"

namespace siteledger::storage::internal {

// How long an idempotency key answers with its first result.
inline constexpr int64_t kIdempotencyWindowMs = 24LL * 3600 * 1000;

// Associated data for a sealed row: the family and the full key, so that a
// value cannot be moved to another row (or tenant) and still open.
std::string RowAad(Family family, std::string_view full_key);

// The families an append (and EventLog::WriteRows) may write rows to.
inline bool AllowedExtraFamily(Family family) {
  return family == Family::kViews || family == Family::kSnapshots ||
         family == Family::kBlobs || family == Family::kPseudonyms ||
         family == Family::kIndex;
}

// The head row: u64 seq | i64 time ms | 32-byte hash | u64 bytes. A row
// without the bytes (written before they were kept) decodes with bytes 0.
// Corruption when malformed.
std::string EncodeHead(const Head& head);
Result<Head> DecodeHead(std::string_view value);

// The idempotency row: first use (ms; the compaction filter reads it), then
// the result and the request's fingerprint.
struct IdempotencyRecord {
  int64_t used_ms = 0;
  AppendResult result;
  Hash fingerprint{};
  std::string sealed_response;  // sealed with the tenant's key; may be empty
};
std::string EncodeIdempotency(const IdempotencyRecord& rec);
// Corruption when malformed.
Result<IdempotencyRecord> DecodeIdempotency(std::string_view value);

// The tenants-family key of an idempotency key's record.
std::string IdempotencyRowKey(TenantId tenant, std::string_view key);
// Associated data for the sealed response kept with a record.
std::string ResponseAad(std::string_view row_key);
// What identifies the request behind an idempotency key: the caller's
// fingerprint hashed, or (when it gave none) a hash of the events.
Hash Fingerprint(std::string_view explicit_fingerprint,
                 const std::vector<NewEvent>& events);

}  // namespace siteledger::storage::internal
