// JSON parsing and event validation: never crashes; a payload that parses
// writes out as JSON that parses to the same value.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "projections/events.h"
#include "projections/json.h"

namespace pj = siteledger::projections;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto json = pj::ParseJson(text);
  if (!json) return 0;
  auto again = pj::ParseJson(json->Dump());
  if (!again || !(*again == *json)) std::abort();
  int interesting = 0;
  for (std::string_view type : pj::EventTypes()) {
    if (pj::ValidatePayload(type, *json).ok()) interesting = 1;
  }
  return interesting;
}
