#pragma once

#include <string>
#include <string_view>

#include "storage/base/ids.h"
#include "storage/base/status.h"

namespace siteledger::storage {

// Limits on the parts of an event; Append refuses anything larger (see
// ValidateEventParts).
inline constexpr size_t kMaxEventTypeBytes = 64;
inline constexpr size_t kMaxActorBytes = 64;
inline constexpr size_t kMaxIdempotencyKeyBytes = 128;
inline constexpr size_t kMaxPayloadBytes = 4 << 20;

// One event of a tenant's log, as the tenant's users see it: the payload is
// plaintext. The internal tenant id is not part of an event, so an event (and
// its hash) is the same in every region and in an export.
struct Event {
  Sequence seq;
  Timestamp time;
  std::string type;             // e.g. "site.created"
  std::string actor;            // pseudonym of the acting user; empty: system
  std::string idempotency_key;  // empty when the append carried none
  Hash prev_hash{};             // HashOf(previous event); zeros for seq 1
  std::string payload;

  bool operator==(const Event&) const = default;
};

// The canonical envelope, version 1:
//   u8 version (1) | u64 seq | i64 time ms | u16 len + type | u16 len + actor
//   | u16 len + idempotency key | 32 bytes prev hash | u32 len + payload
// All integers big-endian. It is what the chain hashes and what export
// writes; the stored form has the same header followed by the sealed payload.
// The functions below are pure: any thread.
//
// Never fails. REQUIRES: the parts are within the limits above (longer ones
// would have their length prefixes truncated).
std::string EncodeCanonical(const Event& event);
// Corruption on a format byte other than 1, a truncated envelope, or bytes
// after the payload.
Result<Event> DecodeCanonical(std::string_view bytes);

// SHA-256 of the canonical envelope, without building it. Never fails.
Hash HashOf(const Event& event);

// Returns InvalidArgument naming the part that breaks a limit or holds bytes
// an envelope may not carry (type: 1 to 64 bytes of [a-z0-9._-]; actor and
// key: printable ASCII without spaces, 0x21-0x7e; either may be empty), or
// TooLarge for a payload over kMaxPayloadBytes.
Status ValidateEventParts(std::string_view type, std::string_view actor,
                          std::string_view idempotency_key,
                          std::string_view payload);

}  // namespace siteledger::storage
