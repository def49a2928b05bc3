#pragma once

#include <string>
#include <string_view>

#include "storage/base/ids.h"
#include "storage/base/status.h"

namespace siteledger {

// "2026-11-25T21:00:00.123Z": UTC, always with milliseconds.
std::string FormatRfc3339(Timestamp t);

// Parses an RFC 3339 date-time ("2026-11-25T21:00:00Z",
// "2026-11-25T22:00:00.5+01:00", ...) into UTC, truncating fractions below a
// millisecond. InvalidArgument names what is wrong.
Result<Timestamp> ParseRfc3339(std::string_view text);

}  // namespace siteledger
