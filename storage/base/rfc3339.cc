#include "storage/base/rfc3339.h"

#include <cstdio>

namespace siteledger {
namespace {

// Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

}  // namespace

std::string FormatRfc3339(Timestamp t) {
  int64_t ms = MillisOf(t);
  int64_t days = ms / 86400000;
  int64_t rem = ms % 86400000;
  if (rem < 0) {
    rem += 86400000;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  const int64_t secs = rem / 1000;
  char buf[40];
  std::snprintf(
      buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
      static_cast<long long>(y), m, d, static_cast<long long>(secs / 3600),
      static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60),
      static_cast<long long>(rem % 1000));
  return buf;
}

Result<Timestamp> ParseRfc3339(std::string_view s) {
  auto bad = [&](const char* why) {
    return Err(Status::InvalidArgument(
        std::string("not an RFC 3339 date-time (e.g. 2026-11-25T21:00:00Z): ") +
        why));
  };
  size_t pos = 0;
  auto digits = [&](size_t n, int64_t& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (size_t i = 0; i < n; ++i) {
      const char c = s[pos + i];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    pos += n;
    return true;
  };
  auto expect = [&](char c) {
    if (pos < s.size() && s[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  };
  int64_t year, month, day, hour, minute, second;
  if (!digits(4, year) || !expect('-') || !digits(2, month) || !expect('-') ||
      !digits(2, day)) {
    return bad("expected a date YYYY-MM-DD");
  }
  if (!(expect('T') || expect('t') || expect(' '))) {
    return bad("expected 'T' between date and time");
  }
  if (!digits(2, hour) || !expect(':') || !digits(2, minute) || !expect(':') ||
      !digits(2, second)) {
    return bad("expected a time HH:MM:SS");
  }
  if (month < 1 || month > 12 || day < 1 ||
      day > DaysInMonth(year, static_cast<unsigned>(month))) {
    return bad("no such date");
  }
  if (hour > 23 || minute > 59 || second > 60) return bad("no such time");
  if (second == 60) second = 59;  // a leap second: the last representable ms
  int64_t ms = 0;
  if (expect('.')) {
    const size_t start = pos;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad("expected digits after '.'");
  }
  int64_t offset_min = 0;
  if (expect('Z') || expect('z')) {
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const bool negative = s[pos] == '-';
    ++pos;
    int64_t oh, om;
    if (!digits(2, oh) || !expect(':') || !digits(2, om) || oh > 23 ||
        om > 59) {
      return bad("expected an offset +HH:MM");
    }
    offset_min = (negative ? -1 : 1) * (oh * 60 + om);
  } else {
    return bad("expected 'Z' or an offset such as +01:00");
  }
  if (pos != s.size()) return bad("unexpected characters at the end");
  const int64_t days = DaysFromCivil(year, static_cast<unsigned>(month),
                                     static_cast<unsigned>(day));
  const int64_t total =
      ((days * 24 + hour) * 60 + minute - offset_min) * 60000 + second * 1000 +
      ms;
  return TimestampFromMillis(total);
}

}  // namespace siteledger
