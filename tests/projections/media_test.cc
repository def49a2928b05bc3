#include "projections/media.h"

#include <catch2/catch.hpp>

namespace siteledger::projections {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s.push_back(static_cast<char>(v));
  return s;
}

std::string Png(uint32_t w, uint32_t h) {
  std::string s = "\x89PNG\r\n\x1a\n";
  s += Bytes({0, 0, 0, 13}) + "IHDR";
  for (uint32_t v : {w, h}) {
    s += Bytes({static_cast<int>(v >> 24), static_cast<int>((v >> 16) & 255),
                static_cast<int>((v >> 8) & 255), static_cast<int>(v & 255)});
  }
  s += Bytes({8, 6, 0, 0, 0}) + "crc!rest of the image";
  return s;
}

TEST_CASE("Image formats are recognised by their bytes, with dimensions",
          "[media]") {
  SECTION("PNG") {
    auto info = InspectMedia(Png(640, 480));
    REQUIRE(info.has_value());
    CHECK(info->type == MediaType::kPng);
    CHECK(*info->width == 640);
    CHECK(*info->height == 480);
  }
  SECTION("JPEG, past an APP0 segment") {
    std::string jpg =
        Bytes({0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10}) + std::string(14, 'J') +
        Bytes({0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0xE0, 0x02, 0x80, 0x03}) +
        std::string(20, 'x');
    auto info = InspectMedia(jpg);
    REQUIRE(info.has_value());
    CHECK(info->type == MediaType::kJpeg);
    CHECK(*info->width == 640);
    CHECK(*info->height == 480);
  }
  SECTION("GIF") {
    auto info =
        InspectMedia("GIF89a" + Bytes({0x10, 0x00, 0x20, 0x00}) + "rest");
    REQUIRE(info.has_value());
    CHECK(info->type == MediaType::kGif);
    CHECK(*info->width == 16);
    CHECK(*info->height == 32);
  }
  SECTION("WebP (VP8X)") {
    std::string webp = "RIFF" + Bytes({40, 0, 0, 0}) + "WEBPVP8X" +
                       Bytes({10, 0, 0, 0, 0, 0, 0, 0}) +
                       Bytes({0x7F, 0x02, 0x00, 0xDF, 0x01, 0x00}) +
                       std::string(10, 0);
    auto info = InspectMedia(webp);
    REQUIRE(info.has_value());
    CHECK(info->type == MediaType::kWebp);
    CHECK(*info->width == 640);
    CHECK(*info->height == 480);
  }
  SECTION("ICO, where 0 means 256") {
    std::string ico = Bytes({0, 0, 1, 0, 1, 0, 0, 32}) + std::string(20, 'i');
    auto info = InspectMedia(ico);
    REQUIRE(info.has_value());
    CHECK(info->type == MediaType::kIco);
    CHECK(*info->width == 256);
    CHECK(*info->height == 32);
  }
  SECTION("SVG, from attributes or the viewBox") {
    auto info = InspectMedia(
        "<?xml version=\"1.0\"?>\n<!-- logo -->\n<svg "
        "xmlns=\"http://www.w3.org/2000/svg\" width=\"120px\" height='40'>"
        "<rect width=\"10\" height=\"10\" fill=\"url(#g)\"/></svg>");
    REQUIRE(info.has_value());
    CHECK(info->type == MediaType::kSvg);
    CHECK(*info->width == 120);
    CHECK(*info->height == 40);
    auto vb =
        InspectMedia("<svg viewBox=\"0 0 300 150\"><use href=\"#a\"/></svg>");
    REQUIRE(vb.has_value());
    CHECK(*vb->width == 300);
    CHECK(*vb->height == 150);
    auto relative = InspectMedia("<svg width=\"100%\"></svg>");
    REQUIRE(relative.has_value());
    CHECK_FALSE(relative->width.has_value());
  }
}

TEST_CASE("Unknown and damaged files are 415", "[media]") {
  for (std::string bad :
       {std::string("just some text"), std::string("%PDF-1.7\n..."),
        std::string("\x89PNG\r\n\x1a\n", 8), std::string("\xFF\xD8\xFF", 3),
        std::string("<html><svg></svg></html>"), std::string("<svgx/>"),
        std::string("RIFF\x10\x00\x00\x00WEBPXXXX" + std::string(20, 0)),
        std::string("<svg>\xff\xfe</svg>")}) {
    auto info = InspectMedia(bad);
    INFO(bad);
    REQUIRE_FALSE(info.has_value());
    CHECK(info.error().code() == siteledger::StatusCode::kUnsupported);
  }
  CHECK(InspectMedia("").error().code() ==
        siteledger::StatusCode::kInvalidArgument);
}

TEST_CASE("Hostile SVGs are refused with a reason", "[media]") {
  for (std::string svg :
       {std::string("<svg><script>alert(1)</script></svg>"),
        std::string("<svg onload=\"alert(1)\"></svg>"),
        std::string("<svg><rect ONCLICK = 'x()'/></svg>"),
        std::string("<svg><image href=\"https://evil.example/x.png\"/></svg>"),
        std::string("<svg><use xlink:href='other.svg#a'/></svg>"),
        std::string("<svg><rect fill=\"url(https://evil.example/f)\"/></svg>"),
        std::string(
            "<svg><style>@import 'https://evil.example/a.css';</style></svg>"),
        std::string("<svg><foreignObject><div/></foreignObject></svg>"),
        std::string("<svg><a href=\"javascript:alert(1)\">x</a></svg>"),
        std::string("<!DOCTYPE svg [<!ENTITY x \"y\">]><svg>&x;</svg>"),
        std::string(
            "<svg><image href=\"data:image/png;base64,AAAA\"/></svg>")}) {
    auto info = InspectMedia(svg);
    INFO(svg);
    REQUIRE_FALSE(info.has_value());
    CHECK(info.error().code() == siteledger::StatusCode::kInvalidArgument);
    CHECK(info.error().message().find("this SVG is refused") !=
          std::string::npos);
  }
}

TEST_CASE("Declared types map to formats", "[media]") {
  CHECK(MediaTypeFromName("image/png") == MediaType::kPng);
  CHECK(MediaTypeFromName("IMAGE/JPEG; q=1") == MediaType::kJpeg);
  CHECK(MediaTypeFromName("image/vnd.microsoft.icon") == MediaType::kIco);
  CHECK(MediaTypeFromName("image/svg+xml; charset=utf-8") == MediaType::kSvg);
  CHECK_FALSE(MediaTypeFromName("application/octet-stream").has_value());
  CHECK(MediaId("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(MediaKindFromName("favicon") == MediaKind::kFavicon);
  CHECK_FALSE(MediaKindFromName("banner").has_value());
}

}  // namespace
}  // namespace siteledger::projections
