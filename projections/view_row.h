#pragma once

// The stored form of a view row's value in the views family:
//
//   u64 version (big-endian) | canonical JSON of the document
//
// The row's key (after the tenant prefix) is the view kind's character and
// the entity id; a promoted-results row is keyed by the hex HMAC of its
// keyword, which is kept in the document instead. Snapshots have their own
// format: see TenantState::Serialize.

#include <string>
#include <string_view>

#include "projections/views.h"
#include "storage/base/ids.h"
#include "storage/base/status.h"

namespace siteledger::projections {

// A stored view row split into its parts, unparsed. `json` points into the
// value it was split from and lives as long as it.
struct ViewRowText {
  Sequence version;
  std::string_view json;
};

// The functions below are pure: any thread.

// The stored value of `row`. Never fails.
std::string EncodeViewRow(const ViewDoc& row);

// Splits a stored value without parsing the document. Corruption if the
// value is shorter than its version. The returned `json` views `value`.
Result<ViewRowText> SplitViewRow(std::string_view value);

// Decodes a stored value. Corruption if it is truncated or its document does
// not parse (parsed with TrustedJsonLimits).
Result<ViewDoc> DecodeViewRow(std::string_view value);

// Parses the canonical JSON of a stored row (as SplitViewRow returns it).
// Corruption if it does not parse.
Result<ViewDoc> ParseViewRow(Sequence version, std::string_view json);

}  // namespace siteledger::projections
