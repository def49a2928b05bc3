#include "tools/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>

namespace siteledger::tools {
namespace {

constexpr int kBarWidth = 24;

}  // namespace

std::string FormatSeconds(int64_t seconds) {
  char out[32];
  if (seconds >= 3600) {
    std::snprintf(out, sizeof out, "%" PRId64 "h%02" PRId64 "m", seconds / 3600,
                  seconds / 60 % 60);
  } else if (seconds >= 60) {
    std::snprintf(out, sizeof out, "%" PRId64 "m%02" PRId64 "s", seconds / 60,
                  seconds % 60);
  } else {
    std::snprintf(out, sizeof out, "%" PRId64 "s", seconds);
  }
  return out;
}

Progress::Progress(std::string label, std::string unit, uint64_t total,
                   Options options)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      options_(std::move(options)),
      terminal_(
          options_.terminal.value_or(::isatty(::fileno(options_.out)) == 1)) {
  start_ = Now();
  last_print_ = start_;
}

Progress::~Progress() { Finish(); }

Progress::Clock::time_point Progress::Now() const {
  return options_.now ? options_.now() : Clock::now();
}

std::string Progress::Line() const {
  const double seconds = std::chrono::duration<double>(Now() - start_).count();
  std::string line = std::to_string(done_);
  if (total_ > 0) {
    line += "/" + std::to_string(total_);
  }
  line += " " + unit_;
  if (total_ > 0) {
    line += " (" + std::to_string(done_ * 100 / std::max(total_, done_)) + "%)";
  }
  if (seconds > 0) {
    const double rate = static_cast<double>(done_) / seconds;
    char text[64];
    std::snprintf(text, sizeof text, ", %.1f/s", rate);
    line += text;
    if (total_ > 0 && done_ < total_ && rate > 0) {
      line += ", " +
              FormatSeconds(static_cast<int64_t>(
                  static_cast<double>(total_ - done_) / rate + 0.5)) +
              " left";
    }
  }
  if (total_ > 0 && done_ >= total_) {
    line += ", done in " + FormatSeconds(static_cast<int64_t>(seconds + 0.5));
  }
  return line;
}

void Progress::Update(uint64_t done) {
  if (finished_) return;
  done_ = std::max(done_, done);
  const Clock::time_point now = Now();
  if (now - start_ < options_.delay) return;
  // All done: the line is Finish's, so that the end prints once.
  if (total_ > 0 && done_ >= total_) return;
  const auto every = terminal_ ? options_.redraw_every : options_.plain_every;
  // The first line once the delay has passed, then at most one per
  // interval: a piped log gets a line every few seconds, not per batch.
  if (printed_ && now - last_print_ < every) return;
  last_print_ = now;
  Print(false);
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  // Quick work that never showed stays silent.
  if (!printed_ && Now() - start_ < options_.delay) return;
  Print(true);
}

void Progress::Print(bool final_line) {
  std::string text = label_ + ": ";
  if (terminal_) {
    if (total_ > 0) {
      const uint64_t filled =
          std::min<uint64_t>(kBarWidth, done_ * kBarWidth / total_);
      text += "[" + std::string(filled, '#') +
              std::string(kBarWidth - filled, '.') + "] ";
    }
    // \033[K clears what a longer earlier line left behind.
    text = "\r" + text + Line() + "\033[K";
    if (final_line) text += "\n";
  } else {
    text += Line() + "\n";
  }
  std::fputs(text.c_str(), options_.out);
  std::fflush(options_.out);
  printed_ = true;
}

}  // namespace siteledger::tools
