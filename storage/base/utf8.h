#pragma once

// UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing
// above U+10FFFF. Every text that enters siteledger (paths, queries, stored
// headers, JSON) is checked with ValidUtf8 before anything is written.

#include <string>
#include <string_view>

namespace siteledger {

// Whether `text` is well-formed UTF-8. Pure; any thread.
bool ValidUtf8(std::string_view text);

// `text` with each ill-formed sequence replaced by U+FFFD (one per maximal
// invalid subpart, as Unicode's "substitution of maximal subparts"), so the
// result is always ValidUtf8. For reading back data written before input was
// checked; never for input. Pure; any thread.
std::string RepairUtf8(std::string_view text);

}  // namespace siteledger
