#pragma once

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>

namespace siteledger {

// A strongly typed integer id. Ids of different kinds never convert into one
// another: in a multi-tenant store a mixed-up id is the most dangerous bug.
template <typename Tag>
class StrongId {
 public:
  constexpr StrongId() = default;
  constexpr explicit StrongId(uint64_t value) : value_(value) {}
  constexpr uint64_t value() const { return value_; }
  constexpr auto operator<=>(const StrongId&) const = default;

 private:
  uint64_t value_ = 0;
};

// The region-internal id of a tenant. Assigned once, never reused; never shown
// outside the region (clients name tenants by clientKey).
using TenantId = StrongId<struct TenantIdTag>;

// The position of an event in its tenant's log. The first event is 1; 0 is the
// version of an empty log.
class Sequence : public StrongId<struct SequenceTag> {
 public:
  using StrongId::StrongId;
  constexpr Sequence next() const { return Sequence(value() + 1); }
};

// Milliseconds since the Unix epoch, UTC.
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

inline constexpr Timestamp TimestampFromMillis(int64_t ms) {
  return Timestamp(std::chrono::milliseconds(ms));
}
inline constexpr int64_t MillisOf(Timestamp t) {
  return t.time_since_epoch().count();
}

// A UTC calendar day: whole days since the Unix epoch (1970-01-01 is day 0).
// The access log keeps each day's entries under a key of that day's own.
using Day = StrongId<struct DayTag>;

inline constexpr int64_t kMillisPerDay = 86'400'000;

// The day `t` falls in. REQUIRES: `t` is not before the epoch.
inline constexpr Day DayOf(Timestamp t) {
  return Day(static_cast<uint64_t>(MillisOf(t) / kMillisPerDay));
}
// The first millisecond of `day`.
inline constexpr Timestamp StartOfDay(Day day) {
  return TimestampFromMillis(static_cast<int64_t>(day.value()) * kMillisPerDay);
}

// A SHA-256 digest.
using Hash = std::array<uint8_t, 32>;

}  // namespace siteledger

template <typename Tag>
struct std::hash<siteledger::StrongId<Tag>> {
  size_t operator()(siteledger::StrongId<Tag> id) const noexcept {
    return std::hash<uint64_t>()(id.value());
  }
};
template <>
struct std::hash<siteledger::Sequence> {
  size_t operator()(siteledger::Sequence id) const noexcept {
    return std::hash<uint64_t>()(id.value());
  }
};
