#include "server/log.h"

#include <unistd.h>

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

void AppendJsonString(std::string& out, std::string_view s) {
  projections::WriteJsonString(out, s);
}

void Log(std::string_view level, std::string_view msg,
         std::initializer_list<LogField> fields) {
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
