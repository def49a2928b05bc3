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

std::vector<std::string> FuzzSeeds() {
  std::string png(
      "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x01\0\0\0\0\x80\x08\x06\0\0\0", 33);
  std::string jpg(
      "\xFF\xD8\xFF\xE0\x00\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
      "\xFF\xC0\x00\x11\x08\x01\xE0\x02\x80\x03",
      30);
  std::string gif("GIF89a\x10\x00\x20\x00rest", 14);
  std::string webp(
      "RIFF\x28\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0\x7f\x02\0\xdf\x01\0", 30);
  std::string ico =
      std::string("\0\0\x01\0\x01\0\x10\x10\0\0\x01\0\x20\0", 14) +
      std::string(10, 'i');
  return {png,
          jpg,
          gif,
          webp,
          ico,
          "<?xml version=\"1.0\"?><svg width=\"10\" height=\"20\"><rect "
          "fill=\"url(#a)\"/><use href=\"#b\"/></svg>",
          "<svg viewBox=\"0 0 30 40\"></svg>"};
}
