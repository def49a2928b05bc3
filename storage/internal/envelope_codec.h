#pragma once

// The stored form of an envelope: the canonical layout with format byte 2 and
// the payload sealed with the tenant's data key. The sealed payload's
// associated data is the row key plus the whole header, so a flipped byte
// anywhere in a stored envelope fails to open at that very seq.

#include <string>
#include <string_view>

#include "storage/envelope.h"

namespace siteledger::storage::internal {

inline constexpr uint8_t kCanonicalFormat = 1;
inline constexpr uint8_t kStoredFormat = 2;

// The envelope up to (not including) the payload length, with `format` first.
std::string EncodeHeader(const Event& event, uint8_t format);

struct StoredEnvelope {
  Event event;              // payload left empty
  std::string_view header;  // bytes covered by the seal's associated data
  std::string_view sealed;  // the sealed payload
};

// Parses a stored envelope; views point into `bytes`.
Result<StoredEnvelope> DecodeStored(std::string_view bytes);

}  // namespace siteledger::storage::internal
