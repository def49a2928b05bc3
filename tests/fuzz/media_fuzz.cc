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

namespace {
std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s.push_back(static_cast<char>(v));
  return s;
}
}  // namespace

std::vector<std::string> FuzzSeeds() {
  const std::string png = "\x89PNG\r\n\x1a\n" + Bytes({0, 0, 0, 13}) + "IHDR" +
                          Bytes({0, 0, 1, 0, 0, 0, 0, 0x80, 8, 6, 0, 0, 0}) +
                          "crc!";
  const std::string jpg =
      Bytes({0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10}) + "JFIF" +
      Bytes({0, 1, 1, 0, 0, 1, 0, 1, 0, 0}) +
      Bytes({0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0xE0, 0x02, 0x80, 0x03});
  const std::string gif = "GIF89a" + Bytes({0x10, 0x00, 0x20, 0x00}) + "rest";
  const std::string webp =
      "RIFF" + Bytes({0x16, 0, 0, 0}) + "WEBPVP8X" +
      Bytes({0x0a, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0x02, 0, 0xdf, 0x01, 0});
  const std::string ico =
      Bytes({0, 0, 1, 0, 1, 0, 0x10, 0x10, 0, 0, 1, 0, 0x20, 0}) +
      Bytes({10, 0, 0, 0, 22, 0, 0, 0}) + std::string(10, 'i');
  return {png,
          jpg,
          gif,
          webp,
          ico,
          "<?xml version=\"1.0\"?><svg width=\"10\" height=\"20\"><rect "
          "fill=\"url(#a)\"/><use href=\"#b\"/></svg>",
          "<svg viewBox=\"0 0 30 40\"></svg>",
          "<svg xmlns=\"http://www.w3.org/2000/svg\" "
          "xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"2in\">"
          "<style><![CDATA[.a{fill:u\\72l(#g)}]]></style><g class=\"a\">"
          "<use xlink:href=\"#b\"/><image href=\"data:image/gif;base64,"
          "R0lGODlhAQABAAAAACw=\"/></g></svg>"};
}
