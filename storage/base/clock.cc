#include "storage/base/clock.h"

#include <cassert>

namespace siteledger {

Timestamp SystemClock::Now() const {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now());
}

Timestamp TestClock::Now() const {
  const auto offset =
      std::chrono::milliseconds(offset_ms_.load(std::memory_order_acquire));
  if (frozen_) return start_ + offset;
  return SystemClock().Now() + offset;
}

void TestClock::Advance(std::chrono::milliseconds delta) {
  assert(delta.count() >= 0);
  offset_ms_.fetch_add(delta.count(), std::memory_order_acq_rel);
}

}  // namespace siteledger
