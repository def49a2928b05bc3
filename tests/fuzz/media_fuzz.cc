// Image inspection: never crashes, and what it accepts has a known type.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "projections/media.h"

namespace pj = siteledger::projections;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto info = pj::InspectMedia(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!info) return 0;
  if (pj::MediaTypeName(info->type).substr(0, 6) != "image/") std::abort();
  return 1;
}
