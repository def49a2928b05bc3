#pragma once

#include <atomic>
#include <chrono>

#include "storage/base/ids.h"

namespace siteledger {

// Clock is the one source of time for every timestamp the store writes and
// every retention window it enforces. Implementations are safe for concurrent
// use.
class Clock {
 public:
  virtual ~Clock() = default;
  // The current time, in whole milliseconds. Never fails; any thread.
  virtual Timestamp Now() const = 0;
};

// The system's real-time clock (std::chrono::system_clock, truncated to
// milliseconds). It may step back if the system clock is set back: callers
// that need monotonic times (the event log) enforce that themselves.
// Stateless; any thread.
class SystemClock final : public Clock {
 public:
  Timestamp Now() const override;
};

// A clock that follows the system clock plus an offset that only grows, so
// that 7-, 14- and 30-day windows can be tested without waiting. Advance() is
// safe to call while other threads read the time.
class TestClock final : public Clock {
 public:
  // The default clock follows the system clock (plus the offset). The one
  // constructed with `start` is frozen: it reads `start` plus the offset, and
  // only Advance() moves it.
  TestClock() = default;
  explicit TestClock(Timestamp start) : frozen_(true), start_(start) {}

  Timestamp Now() const override;

  // Moves the clock forward by `delta`; every later Now(), on any thread,
  // sees it. Any thread. REQUIRES: delta >= 0 (asserted in debug builds).
  void Advance(std::chrono::milliseconds delta);

 private:
  bool frozen_ = false;
  Timestamp start_{};
  std::atomic<int64_t> offset_ms_{0};
};

}  // namespace siteledger
