#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace siteledger::server {

// A field of a log line. Values are strings or integers; never put a secret,
// a token, a client IP or a query string in one.
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), text(v) {}
  LogField(std::string_view k, const char* v) : key(k), text(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), text(v) {}
  LogField(std::string_view k, long long v)
      : key(k), text(std::to_string(v)), is_number(true) {}
  LogField(std::string_view k, int v)
      : LogField(k, static_cast<long long>(v)) {}
  LogField(std::string_view k, unsigned long v)
      : LogField(k, static_cast<long long>(v)) {}
  LogField(std::string_view k, unsigned long long v)
      : LogField(k, static_cast<long long>(v)) {}
  LogField(std::string_view k, double v);

  std::string_view key;
  std::string text;
  bool is_number = false;
};

// Writes one JSON line to stderr:
//   {"time":"2026-11-25T21:00:00.123Z","level":"info","msg":"...",...}
// Thread-safe; a line is written whole.
void Log(std::string_view level, std::string_view msg,
         std::initializer_list<LogField> fields = {});

// Appends `s` to `out` as a JSON string (with quotes).
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace siteledger::server
