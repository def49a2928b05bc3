#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>

namespace siteledger::tools {

// Shows how far long work has got: done of total, the rate per second and
// the time left. On a terminal it redraws one line with \r (a bar, the
// figures); piped it prints a plain line at most every `plain_every` and
// one at the end, so that logs stay short. Nothing is printed before
// `delay` has passed, so that quick work stays silent, unless Finish finds
// it printed already.
//
//   Progress p("erase-users", "accounts", closed.size());
//   for (...) { ...; p.Add(batch.size()); }
//   p.Finish();
//
// Not safe for concurrent use: one thread drives it.
class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    FILE* out = stderr;
    // Whether `out` is a terminal; unset: isatty(fileno(out)).
    std::optional<bool> terminal;
    std::chrono::milliseconds plain_every = std::chrono::seconds(5);
    // The shortest interval between two redraws on a terminal.
    std::chrono::milliseconds redraw_every = std::chrono::milliseconds(100);
    std::chrono::milliseconds delay = std::chrono::milliseconds(0);
    // The clock; steady_clock::now when empty (tests pass a fake one).
    std::function<Clock::time_point()> now;
  };

  // `label` starts each line ("restore"), `unit` names what is counted
  // ("events"); `total` 0 means unknown (no percentage, no time left).
  Progress(std::string label, std::string unit, uint64_t total,
           Options options);
  Progress(std::string label, std::string unit, uint64_t total)
      : Progress(std::move(label), std::move(unit), total, Options()) {}
  ~Progress();

  // `done` so far (it only grows), or `n` more; may print.
  void Update(uint64_t done);
  void Add(uint64_t n) { Update(done_ + n); }
  void set_total(uint64_t total) { total_ = total; }

  // Prints the last line (on a terminal, ends it with a newline). Called by
  // the destructor when not called before; afterwards nothing prints.
  void Finish();

  // The line as it would print now, without the bar: "12/40 accounts (30%),
  // 6.0/s, 4s left". For tests and callers' own messages.
  std::string Line() const;

 private:
  Clock::time_point Now() const;
  void Print(bool final_line);

  const std::string label_;
  const std::string unit_;
  uint64_t total_;
  Options options_;
  bool terminal_;
  Clock::time_point start_;
  Clock::time_point last_print_;
  uint64_t done_ = 0;
  bool printed_ = false;
  bool finished_ = false;
};

// "1h02m", "3m05s", "42s".
std::string FormatSeconds(int64_t seconds);

}  // namespace siteledger::tools
