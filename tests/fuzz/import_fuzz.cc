// The NDJSON export file as `siteledger import` reads it: never crashes;
// whatever it accepts is internally consistent (the trailer's counts and
// head are what the lines hold).
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "tools/internal/export_file.h"

namespace st = siteledger::tools;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  auto x = st::ReadExport(in, "input");
  if (!x) return 0;
  if (x->head_seq.value() != x->events.size()) std::abort();
  if (!x->events.empty() && x->head_hash != x->events.back()) std::abort();
  return 1;
}
