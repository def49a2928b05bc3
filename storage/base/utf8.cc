#include "storage/base/utf8.h"

#include <cstdint>

namespace siteledger {
namespace {

// The length of the well-formed sequence at the start of `s`, or 0 if it is
// ill-formed; `*maximal` is then the length of its maximal invalid subpart
// (at least 1). Table 3-7 of the Unicode standard.
size_t SequenceLength(std::string_view s, size_t* maximal) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t c = b(0);
  *maximal = 1;
  if (c < 0x80) return 1;
  size_t n = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // no overlong forms
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  for (size_t i = 1; i < n; ++i) {
    if (i >= s.size()) return 0;
    const uint8_t x = b(i);
    const bool ok = i == 1 ? (x >= lo && x <= hi) : (x >= 0x80 && x <= 0xBF);
    if (!ok) return 0;
    *maximal = i + 1;
  }
  return n;
}

}  // namespace

bool ValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    // ASCII runs are the common case.
    if (static_cast<uint8_t>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t maximal = 0;
    const size_t n = SequenceLength(text.substr(i), &maximal);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string RepairUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t maximal = 0;
    const size_t n = SequenceLength(text.substr(i), &maximal);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      i += maximal;
    } else {
      out.append(text, i, n);
      i += n;
    }
  }
  return out;
}

}  // namespace siteledger
