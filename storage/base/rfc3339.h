#pragma once

#include <string>
#include <string_view>

#include "storage/base/ids.h"
#include "storage/base/status.h"

namespace siteledger {

// "2026-11-25T21:00:00.123Z": UTC, always with milliseconds (times before
// 1970 too). Never fails; pure, any thread.
std::string FormatRfc3339(Timestamp t);

// Parses an RFC 3339 date-time ("2026-11-25T21:00:00Z",
// "2026-11-25T22:00:00.5+01:00", ...) into UTC, truncating fractions below a
// millisecond. Also takes 't' or ' ' for 'T' and 'z' for 'Z'; a leap second
// (:60) reads as :59. InvalidArgument, saying what is wrong, for anything
// else (a missing part, a date or time that does not exist, trailing
// characters). Pure, any thread.
Result<Timestamp> ParseRfc3339(std::string_view text);

}  // namespace siteledger
