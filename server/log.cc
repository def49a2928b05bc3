#include "server/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "projections/json.h"
#include "storage/base/clock.h"
#include "storage/base/mutex.h"
#include "storage/base/rfc3339.h"

namespace siteledger::server {

LogField::LogField(std::string_view k, double v) : key(k), is_number(true) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  text = buf;
}

namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return std::nullopt;
}

void SetLogLevel(LogLevel level) {
  g_level.store(level, std::memory_order_relaxed);
}

void AppendJsonString(std::string& out, std::string_view s) {
  projections::WriteJsonString(out, s);
}

void Log(std::string_view level, std::string_view msg,
         std::initializer_list<LogField> fields) {
  // One relaxed load and at most four short compares before any formatting.
  if (const LogLevel least = g_level.load(std::memory_order_relaxed);
      least != LogLevel::kDebug) {
    const std::optional<LogLevel> known = ParseLogLevel(level);
    if (known && *known < least) return;
  }
  std::string line = "{\"time\":\"";
  line += siteledger::FormatRfc3339(siteledger::SystemClock().Now());
  line += "\",\"level\":";
  AppendJsonString(line, level);
  line += ",\"msg\":";
  AppendJsonString(line, msg);
  for (const LogField& f : fields) {
    line.push_back(',');
    AppendJsonString(line, f.key);
    line.push_back(':');
    if (f.is_number) {
      line += f.text;
    } else {
      AppendJsonString(line, f.text);
    }
  }
  line += "}\n";
  static Mutex mu;
  MutexLock lock(mu);
  // One write per line so that lines from several processes do not mix.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace siteledger::server
