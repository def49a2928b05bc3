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

// An ICO header with one directory entry: width, height (0 means 256), the
// image data's size and offset.
std::string Ico(int w, int h, uint32_t size, uint32_t offset) {
  std::string s = Bytes({0, 0, 1, 0, 1, 0, w, h, 0, 0, 1, 0, 32, 0});
  for (uint32_t v : {size, offset}) {
    for (int shift = 0; shift < 32; shift += 8) {
      s.push_back(static_cast<char>((v >> shift) & 255));
    }
  }
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
    std::string webp = "RIFF" + Bytes({32, 0, 0, 0}) + "WEBPVP8X" +
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
    std::string ico = Ico(0, 32, 40, 22) + std::string(40, 'i');
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
        std::string("<svg xmlns:xlink=\"http://www.w3.org/1999/xlink\"><use "
                    "xlink:href='other.svg#a'/></svg>"),
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

std::string Le(uint32_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}

std::string Gif(uint32_t w, uint32_t h) {
  return "GIF89a" + Le(w, 2) + Le(h, 2) + Bytes({0, 0, 0}) + ";";
}

// SOI, SOF0 with three components, EOI.
std::string Jpeg(uint32_t w, uint32_t h) {
  return Bytes({0xFF,
                0xD8,
                0xFF,
                0xC0,
                0x00,
                0x11,
                0x08,
                static_cast<int>(h >> 8),
                static_cast<int>(h & 255),
                static_cast<int>(w >> 8),
                static_cast<int>(w & 255),
                3,
                1,
                0x22,
                0,
                2,
                0x11,
                1,
                3,
                0x11,
                1,
                0xFF,
                0xD9});
}

// RIFF/WEBP with a VP8X chunk; sizes 1 to 2^24.
std::string Webp(uint32_t w, uint32_t h) {
  const std::string chunk =
      "VP8X" + Le(10, 4) + std::string(4, '\0') + Le(w - 1, 3) + Le(h - 1, 3);
  return "RIFF" + Le(static_cast<uint32_t>(4 + chunk.size()), 4) + "WEBP" +
         chunk;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

const std::string kSvgOpen =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">";

void CheckSvgRefused(const std::string& svg, std::string_view reason) {
  INFO(svg);
  auto info = InspectMedia(svg);
  REQUIRE_FALSE(info.has_value());
  CHECK(info.error().code() == siteledger::StatusCode::kInvalidArgument);
  CHECK(info.error().message().find("this SVG is refused") !=
        std::string::npos);
  INFO(info.error().message());
  CHECK(info.error().message().find(reason) != std::string::npos);
}

// Issue 11, item 2: each of these got through the old substring filter.
TEST_CASE("SVG variants that passed the substring filter are refused",
          "[media][svg]") {
  SECTION("script under a prefix bound to the SVG namespace") {
    CheckSvgRefused(kSvgOpen +
                        "<s:script xmlns:s=\"http://www.w3.org/2000/svg\">"
                        "alert(1)</s:script></svg>",
                    "<script>");
  }
  SECTION("foreignObject under a prefix bound to the SVG namespace") {
    CheckSvgRefused(
        kSvgOpen +
            "<s:foreignObject xmlns:s=\"http://www.w3.org/2000/svg\" "
            "width=\"10\" height=\"10\"><p xmlns=\"http://www.w3.org/1999/"
            "xhtml\">hi</p></s:foreignObject></svg>",
        "<foreignObject>");
  }
  SECTION("an XHTML script") {
    CheckSvgRefused(kSvgOpen +
                        "<h:script xmlns:h=\"http://www.w3.org/1999/xhtml\">"
                        "alert(1)</h:script></svg>",
                    "script in the namespace http://www.w3.org/1999/xhtml");
  }
  SECTION("javascript: in character references in a <set> value") {
    CheckSvgRefused(kSvgOpen +
                        "<rect width=\"10\" height=\"10\"><set\n"
                        "attributeName=\"href\" "
                        "to=\"&#106;avascript:alert(1)\"/></rect></svg>",
                    "<set>");
  }
  SECTION("javascript: in character references in a prefixed <set>") {
    CheckSvgRefused(kSvgOpen +
                        "<s:set xmlns:s=\"http://www.w3.org/2000/svg\" "
                        "attributeName=\"href\" "
                        "to=\"javascript&#58;alert(1)\"/></svg>",
                    "<set>");
  }
  SECTION("javascript: in character references in a prefixed <animate>") {
    CheckSvgRefused(kSvgOpen +
                        "<s:animate xmlns:s=\"http://www.w3.org/2000/svg\" "
                        "attributeName=\"href\" "
                        "values=\"&#x6A;avascript:alert(1)\"/></svg>",
                    "<animate>");
  }
  SECTION("url&#40;...) in a presentation attribute") {
    CheckSvgRefused(kSvgOpen +
                        "<rect width=\"10\" height=\"10\" "
                        "fill=\"url&#40;https://evil.example/f)\"/></svg>",
                    "url()");
  }
  SECTION("url&#x28;...) in a style attribute") {
    CheckSvgRefused(kSvgOpen +
                        "<rect width=\"10\" height=\"10\" "
                        "style=\"fill:url&#x28;https://evil.example/f)\"/>"
                        "</svg>",
                    "url()");
  }
  SECTION("a CSS hex escape, u\\72l(, in a style attribute") {
    CheckSvgRefused(kSvgOpen +
                        "<rect width=\"10\" height=\"10\" "
                        "style=\"fill:u\\72l(https://evil.example/f)\"/></svg>",
                    "url()");
  }
  SECTION("a CSS hex escape, u\\72l(, in <style>") {
    CheckSvgRefused(kSvgOpen +
                        "<style>rect{fill:u\\72 l(https://evil.example/f)}"
                        "</style></svg>",
                    "url()");
  }
  SECTION("a CSS character escape, u\\rl(, in <style>") {
    CheckSvgRefused(
        kSvgOpen +
            "<style>rect{fill:u\\rl(https://evil.example/f)}</style></svg>",
        "url()");
  }
  SECTION("@\\69mport in <style>") {
    CheckSvgRefused(
        kSvgOpen +
            "<style>@\\69mport 'https://evil.example/a.css';</style></svg>",
        "@import");
  }
  SECTION("image-set(\"...\") in <style>") {
    CheckSvgRefused(kSvgOpen +
                        "<style>svg{background:image-set("
                        "\"https://evil.example/a.png\" 1x)}</style></svg>",
                    "image-set(");
  }
  SECTION("an external DTD") {
    CheckSvgRefused(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC "
        "\"-//W3C//DTD SVG 1.1//EN\" "
        "\"https://evil.example/svg11.dtd\">\n" +
            kSvgOpen + "</svg>",
        "DOCTYPE");
  }
}

TEST_CASE("SVG outside the static allowlist is refused", "[media][svg]") {
  SECTION("an XHTML element that fetches") {
    CheckSvgRefused(kSvgOpen +
                        "<h:img xmlns:h=\"http://www.w3.org/1999/xhtml\" "
                        "src=\"https://evil.example/x.png\"/></svg>",
                    "<img in the namespace");
  }
  SECTION("an element in an unknown namespace") {
    CheckSvgRefused(kSvgOpen + "<x:thing xmlns:x=\"urn:x\"/></svg>",
                    "<thing in the namespace urn:x>");
  }
  SECTION("animation of any kind") {
    for (std::string_view e :
         {"animate", "animateMotion", "animateTransform", "set", "discard"}) {
      CheckSvgRefused(kSvgOpen + "<" + std::string(e) + "/></svg>",
                      "<" + std::string(e) + ">");
    }
  }
  SECTION("an event handler under any case") {
    CheckSvgRefused(kSvgOpen + "<rect OnClick=\"x()\"/></svg>",
                    "event-handler attribute (OnClick)");
  }
  SECTION("an attribute not on the list") {
    CheckSvgRefused(kSvgOpen + "<rect formaction=\"x\"/></svg>",
                    "<rect formaction>");
    CheckSvgRefused(kSvgOpen + "<g xml:base=\"https://evil.example/\"/></svg>",
                    "xml:base");
  }
  SECTION("a use of another document") {
    CheckSvgRefused(kSvgOpen +
                        "<use xmlns:l=\"http://www.w3.org/1999/xlink\" "
                        "l:href=\" https://evil.example/a.svg#x\"/></svg>",
                    "<use href>");
    CheckSvgRefused(
        kSvgOpen + "<use href=\"data:image/png;base64,AAAA\"/></svg>",
        "<use href>");
  }
  SECTION("a data: URI that is not a raster image, or is a bomb") {
    CheckSvgRefused(kSvgOpen + "<image href=\"data:image/svg+xml;base64," +
                        Base64("<svg/>") + "\"/></svg>",
                    "<image href>");
    CheckSvgRefused(kSvgOpen + "<image href=\"data:image/png;base64," +
                        Base64(Png(100000, 100000)) + "\"/></svg>",
                    "too large");
    CheckSvgRefused(kSvgOpen + "<image href=\"data:image/gif;base64," +
                        Base64(Png(1, 1)) + "\"/></svg>",
                    "disagrees");
  }
  SECTION("CSS that fetches or cannot be read") {
    CheckSvgRefused(kSvgOpen + "<style>a{b:c}\\</style></svg>",
                    "CSS escape it cannot read");
    CheckSvgRefused(kSvgOpen + "<style>a{b:\\5c}</style></svg>",
                    "CSS escape it cannot read");
    CheckSvgRefused(kSvgOpen +
                        "<style><![CDATA[@font-face{src:url(https://"
                        "evil.example/f.woff)}]]></style></svg>",
                    "url()");
    CheckSvgRefused(kSvgOpen + "<rect style=\"width:expression(1)\"/></svg>",
                    "expression(");
  }
  SECTION("an element inside <style>") {
    CheckSvgRefused(kSvgOpen + "<style><g/></style></svg>", "<style>");
  }
  SECTION("entities and stylesheets through the prolog") {
    CheckSvgRefused("<?xml-stylesheet href=\"https://evil.example/a.css\"?>" +
                        kSvgOpen + "</svg>",
                    "processing instruction");
    CheckSvgRefused("<!DOCTYPE svg>" + kSvgOpen + "</svg>", "DOCTYPE");
  }
}

TEST_CASE("SVG that is not well-formed or not UTF-8 is 415", "[media][svg]") {
  for (std::string bad :
       {kSvgOpen + "<rect></svg>", kSvgOpen + "&undefined;</svg>",
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" + kSvgOpen + "</svg>",
        std::string("<s:svg xmlns:s=\"urn:not-svg\"/>"),
        std::string("<!DOCTYPE html><html></html>")}) {
    INFO(bad);
    auto info = InspectMedia(bad);
    REQUIRE_FALSE(info.has_value());
    CHECK(info.error().code() == siteledger::StatusCode::kUnsupported);
  }
}

TEST_CASE("Ordinary SVG logos are accepted", "[media][svg]") {
  SECTION("paths, gradients, <style>, clipping, text and internal uses") {
    const std::string logo = R"svg(<?xml version="1.0" encoding="UTF-8"?>
<!-- Generator: an editor -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" width="240" height="80" viewBox="0 0 240 80" xml:space="preserve">
  <title>Acme</title>
  <desc>The Acme logo</desc>
  <defs>
    <style>.a{fill:#336699;fill-rule:evenodd}.b{fill:url(#g);stroke:url( '#r' )}
      @media (prefers-color-scheme: dark){.a{fill:#fff}}</style>
    <linearGradient id="g" x1="0" y1="0" x2="1" y2="1" gradientUnits="objectBoundingBox">
      <stop offset="0" stop-color="#fff" stop-opacity="1"/>
      <stop offset="1" style="stop-color:#000"/>
    </linearGradient>
    <radialGradient id="r" cx="50%" cy="50%" r="50%" xlink:href="#g"/>
    <clipPath id="c"><rect width="240" height="80" rx="8"/></clipPath>
    <filter id="f"><feGaussianBlur in="SourceAlpha" stdDeviation="2"/><feOffset dx="1" dy="1" result="o"/><feMerge><feMergeNode in="o"/><feMergeNode in="SourceGraphic"/></feMerge></filter>
    <path id="p" d="M10 10h20v20H10z"/>
  </defs>
  <g clip-path="url(#c)" transform="translate(2 2)" filter="url(#f)" data-name="Layer 1" aria-label="logo">
    <path class="a" d="M0 0L40 0L20 40Z"/>
    <rect class="b" x="50" y="10" width="60" height="60" fill="url(#g)"/>
    <circle cx="140" cy="40" r="30" fill="#c33"/>
    <use href="#p"/>
    <use xlink:href="#p" x="20"/>
    <text x="170" y="50" font-family="Helvetica, sans-serif" font-size="24">A<tspan dy="-4">cme</tspan></text>
  </g>
</svg>
)svg";
    auto info = InspectMedia(logo);
    INFO((info ? std::string() : info.error().message()));
    REQUIRE(info.has_value());
    CHECK(info->type == MediaType::kSvg);
    CHECK(*info->width == 240);
    CHECK(*info->height == 80);
  }
  SECTION("Inkscape's metadata and namespaces") {
    const std::string inkscape = R"svg(<svg
   xmlns:dc="http://purl.org/dc/elements/1.1/"
   xmlns:cc="http://creativecommons.org/ns#"
   xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
   xmlns:svg="http://www.w3.org/2000/svg"
   xmlns="http://www.w3.org/2000/svg"
   xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
   xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
   width="64mm" height="32mm" viewBox="0 0 64 32" inkscape:version="1.2">
  <sodipodi:namedview id="base" pagecolor="#ffffff" inkscape:zoom="1"/>
  <metadata><rdf:RDF><cc:Work rdf:about=""><dc:format>image/svg+xml</dc:format>
    <dc:type rdf:resource="http://purl.org/dc/dcmitype/StillImage"/></cc:Work></rdf:RDF></metadata>
  <svg:g inkscape:label="Layer 1" inkscape:groupmode="layer">
    <svg:path sodipodi:nodetypes="ccc" d="M 0,0 64,32" style="fill:none;stroke:#000000;stroke-width:0.26"/>
  </svg:g>
</svg>)svg";
    auto info = InspectMedia(inkscape);
    INFO((info ? std::string() : info.error().message()));
    REQUIRE(info.has_value());
    CHECK(*info->width == 242);  // 64mm at 96 dpi
    CHECK(*info->height == 121);
  }
  SECTION("an embedded raster image and CDATA style") {
    const std::string svg =
        kSvgOpen + "<style><![CDATA[ rect { fill: #333 } ]]></style>" +
        "<image width=\"10\" height=\"10\" href=\"data:image/png;base64," +
        Base64(Png(10, 10)) + "\"/></svg>";
    auto info = InspectMedia(svg);
    INFO((info ? std::string() : info.error().message()));
    REQUIRE(info.has_value());
  }
}

// Issue 11, item 6.
TEST_CASE("Pixel bombs are refused", "[media][pixels]") {
  const std::string svg_bomb =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10000000\" "
      "height=\"10000000\"/>";
  struct Bomb {
    std::string name;
    std::string bytes;
    std::string size;
  };
  for (const Bomb& b : std::initializer_list<Bomb>{
           {"a 33-byte PNG", Png(1'000'000, 1'000'000).substr(0, 33),
            "1000000 x 1000000"},
           {"a GIF", Gif(65535, 65535), "65535 x 65535"},
           {"a JPEG", Jpeg(65535, 65535), "65535 x 65535"},
           {"a WebP", Webp(16'777'216, 16'777'216), "16777216 x 16777216"},
           {"an SVG", svg_bomb, "10000000 x 10000000"},
           {"an SVG in scientific notation",
            "<svg width=\"1e8\" height=\"1e99\"/>", "100000000 x 4294967295"},
           {"an SVG in inches", "<svg width=\"1000in\" height=\"1000in\"/>",
            "96000 x 96000"},
           {"an SVG with one huge side", "<svg width=\"100%\" height=\"1e9\"/>",
            "1 x 1000000000"},
           {"a PNG inside an ICO",
            Ico(0, 0, 33, 22) + Png(1'000'000, 1'000'000).substr(0, 33),
            "1000000 x 1000000"}}) {
    INFO(b.name);
    auto info = InspectMedia(b.bytes);
    REQUIRE_FALSE(info.has_value());
    CHECK(info.error().code() == siteledger::StatusCode::kUnsupported);
    INFO(info.error().message());
    CHECK(info.error().message().find("too large") != std::string::npos);
    CHECK(info.error().message().find(b.size + " pixels exceeds the limit "
                                               "of 50,000,000") !=
          std::string::npos);
  }
}

TEST_CASE("Images of zero width or height are refused", "[media][pixels]") {
  for (const std::string& bytes :
       {Png(0, 0), Png(10, 0), Gif(0, 5), Jpeg(5, 0),
        "RIFF" + Le(22, 4) + "WEBPVP8 " + Le(10, 4) +
            Bytes({0, 0, 0, 0x9D, 0x01, 0x2A, 0, 0, 0, 0}),
        std::string("<svg width=\"0\" height=\"10\"/>")}) {
    INFO(bytes);
    auto info = InspectMedia(bytes);
    REQUIRE_FALSE(info.has_value());
    CHECK(info.error().code() == siteledger::StatusCode::kUnsupported);
    CHECK(info.error().message().find("needs a width and a height") !=
          std::string::npos);
  }
}

TEST_CASE("Images whose header is not whole are refused", "[media][pixels]") {
  const std::string png = Png(16, 16);
  std::string png_bad_length = png;
  png_bad_length[11] = 12;
  const std::string webp = Webp(16, 16);
  std::string webp_riff_long = webp;
  webp_riff_long[4] = static_cast<char>(webp_riff_long[4] + 2);
  std::string webp_chunk_long = webp;
  webp_chunk_long[16] = 12;
  for (const std::string& bytes :
       {png.substr(0, 32), png_bad_length, Gif(16, 16).substr(0, 12),
        Jpeg(16, 16).substr(0, 12), Jpeg(16, 16).substr(0, 19), webp_riff_long,
        webp_chunk_long,
        // A header-only ICO: its one entry's data lies past the end.
        Ico(16, 16, 40, 22),
        // Two entries declared, one present.
        Bytes({0, 0, 1, 0, 2, 0}) + Ico(16, 16, 4, 38).substr(6) +
            std::string(4, 'i'),
        // Data overlapping the directory.
        Ico(16, 16, 4, 0) + std::string(4, 'i')}) {
    INFO(bytes);
    auto info = InspectMedia(bytes);
    REQUIRE_FALSE(info.has_value());
    CHECK(info.error().code() == siteledger::StatusCode::kUnsupported);
  }
}

TEST_CASE("The pixel limit is configurable and inclusive", "[media][pixels]") {
  CHECK(kDefaultMaxPixels == 50'000'000);
  const InspectOptions small{.max_pixels = 100};
  CHECK(InspectMedia(Png(10, 10), small).has_value());
  auto over = InspectMedia(Png(11, 10), small);
  REQUIRE_FALSE(over.has_value());
  CHECK(over.error().message().find(
            "11 x 10 pixels exceeds the limit of 100") != std::string::npos);
  CHECK(InspectMedia(Png(10'000, 5'000)).has_value());
  CHECK_FALSE(InspectMedia(Png(10'000, 5'001)).has_value());
  const InspectOptions large{.max_pixels = uint64_t{1} << 40};
  CHECK(InspectMedia(Gif(65535, 65535), large).has_value());
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
