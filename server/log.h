#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
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

// Log lines' severities, least severe first.
enum class LogLevel : uint8_t { kDebug, kInfo, kWarn, kError };

// "debug", "info", "warn" or "error"; nullopt otherwise. Pure.
std::optional<LogLevel> ParseLogLevel(std::string_view text);

// Lines less severe than `level` are dropped from now on (default kInfo).
// Thread-safe; meant to be called once at start.
void SetLogLevel(LogLevel level);

// Writes one JSON line to stderr, unless `level` is below SetLogLevel's:
//   {"time":"2026-11-25T21:00:00.123Z","level":"info","msg":"...",...}
// Thread-safe; a line is written whole. A level other than the four is
// written as given, never dropped.
//
// The fields, a stable interface that log shippers and alerts match on:
//   time   always first: UTC, RFC 3339 with milliseconds
//   level  always second: "debug", "info", "warn" or "error"
//   msg    always third: a fixed sentence per event (never holds values;
//          match on it)
//   then the event's own fields, in the order the call gives them, each a
//   JSON string or number; a key's meaning and type never change. Common
//   ones: error (a failure's text), region, data, address, port, base_url,
//   tls (at "serving"), open_files, max_connections, signal, tenants.
// A field is added, never renamed or retyped; a new field may appear in any
// line.
void Log(std::string_view level, std::string_view msg,
         std::initializer_list<LogField> fields = {});

// Appends `s` to `out` as a JSON string (with quotes).
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace siteledger::server
