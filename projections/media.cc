#include "projections/media.h"

#include <expat.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <memory>
#include <span>

#include "storage/crypto.h"

namespace siteledger::projections {
namespace {

Status Unsupported(std::string_view why) {
  return Status::Unsupported(
      std::string(why) +
      " (accepted: PNG, JPEG, GIF, WebP, ICO and SVG, recognised by content)");
}

uint32_t Be16(const unsigned char* p) { return (p[0] << 8) | p[1]; }
uint32_t Be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}
uint32_t Le16(const unsigned char* p) { return p[0] | (p[1] << 8); }
uint32_t Le24(const unsigned char* p) {
  return p[0] | (p[1] << 8) | (uint32_t{p[2]} << 16);
}
uint32_t Le32(const unsigned char* p) {
  return Le24(p) | (uint32_t{p[3]} << 24);
}

// 50000000 -> "50,000,000".
std::string WithCommas(uint64_t n) {
  std::string digits = std::to_string(n);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) {
    digits.insert(static_cast<size_t>(at), ",");
  }
  return digits;
}

// Refuses a width or height of 0 and an area over the limit. Decoders
// allocate width x height before they read a pixel, so the header alone
// makes the bomb.
Status CheckPixels(std::string_view format, uint64_t width, uint64_t height,
                   const InspectOptions& options) {
  if (width == 0 || height == 0) {
    return Status::Unsupported(std::string(format) + " of " +
                               std::to_string(width) + " x " +
                               std::to_string(height) +
                               " pixels (an image needs a width and a height)");
  }
  if (width * height > options.max_pixels) {  // each < 2^32: no overflow
    return Status::Unsupported(
        "too large: " + std::string(format) + " of " + std::to_string(width) +
        " x " + std::to_string(height) + " pixels exceeds the limit of " +
        WithCommas(options.max_pixels));
  }
  return Status::Ok();
}

Result<MediaInfo> Checked(MediaInfo info, std::string_view format,
                          const InspectOptions& options) {
  SL_RETURN_ERR_IF_ERROR(
      CheckPixels(format, *info.width, *info.height, options));
  return info;
}

// Signature (8), then the IHDR chunk: length (4), type (4), 13 bytes of
// data, CRC (4).
Result<MediaInfo> Png(std::string_view b, const InspectOptions& options) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  if (b.size() < 33 || b.substr(12, 4) != "IHDR" || Be32(p + 8) != 13) {
    return siteledger::Err(Unsupported("a PNG without a whole IHDR header"));
  }
  return Checked(MediaInfo{MediaType::kPng, Be32(p + 16), Be32(p + 20)},
                 "a PNG", options);
}

Result<MediaInfo> Jpeg(std::string_view b, const InspectOptions& options) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  size_t i = 2;
  while (i + 4 <= b.size()) {
    if (p[i] != 0xFF) return siteledger::Err(Unsupported("a damaged JPEG"));
    while (i < b.size() && p[i] == 0xFF) ++i;  // fill bytes
    if (i >= b.size()) break;
    const unsigned char marker = p[i++];
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;
    if (marker == 0xD9 || marker == 0xDA) break;  // end, or scan data
    if (i + 2 > b.size()) break;
    const uint32_t length = Be16(p + i);
    if (length < 2) return siteledger::Err(Unsupported("a damaged JPEG"));
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 &&
                     marker != 0xC8 && marker != 0xCC;
    if (sof) {
      // Length (2), precision (1), height (2), width (2), components (1),
      // then 3 bytes per component.
      if (length < 8 || i + length > b.size() ||
          length != 8 + 3 * uint32_t{p[i + 7]}) {
        return siteledger::Err(
            Unsupported("a JPEG whose frame header is not whole"));
      }
      return Checked(
          MediaInfo{MediaType::kJpeg, Be16(p + i + 5), Be16(p + i + 3)},
          "a JPEG", options);
    }
    i += length;
  }
  return siteledger::Err(Unsupported("a JPEG without a frame header"));
}

// Signature (6), then the logical screen descriptor (7).
Result<MediaInfo> Gif(std::string_view b, const InspectOptions& options) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  if (b.size() < 13) return siteledger::Err(Unsupported("a truncated GIF"));
  return Checked(MediaInfo{MediaType::kGif, Le16(p + 6), Le16(p + 8)}, "a GIF",
                 options);
}

// "RIFF", size of what follows (4), "WEBP", then the first chunk: type (4),
// size (4), data.
Result<MediaInfo> Webp(std::string_view b, const InspectOptions& options) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  if (b.size() < 20) return siteledger::Err(Unsupported("a truncated WebP"));
  const uint64_t riff_end = uint64_t{Le32(p + 4)} + 8;
  const uint64_t chunk_end = uint64_t{Le32(p + 16)} + 20;
  if (riff_end > b.size() || chunk_end > riff_end) {
    return siteledger::Err(
        Unsupported("a truncated WebP (its sizes run past the file)"));
  }
  const std::string_view chunk = b.substr(12, 4);
  const uint64_t data_size = chunk_end - 20;
  if (chunk == "VP8 ") {
    // Frame tag (3), start code (3), width (2), height (2).
    if (data_size < 10 || p[23] != 0x9D || p[24] != 0x01 || p[25] != 0x2A) {
      return siteledger::Err(Unsupported("a damaged WebP"));
    }
    return Checked(MediaInfo{MediaType::kWebp, Le16(p + 26) & 0x3FFF,
                             Le16(p + 28) & 0x3FFF},
                   "a WebP", options);
  }
  if (chunk == "VP8L") {
    if (data_size < 5 || p[20] != 0x2F) {
      return siteledger::Err(Unsupported("a damaged WebP"));
    }
    const uint32_t bits = Le32(p + 21);
    return Checked(MediaInfo{MediaType::kWebp, (bits & 0x3FFF) + 1,
                             ((bits >> 14) & 0x3FFF) + 1},
                   "a WebP", options);
  }
  if (chunk == "VP8X") {
    if (data_size < 10) return siteledger::Err(Unsupported("a damaged WebP"));
    return Checked(
        MediaInfo{MediaType::kWebp, Le24(p + 24) + 1, Le24(p + 27) + 1},
        "a WebP", options);
  }
  return siteledger::Err(Unsupported("a WebP of an unknown kind"));
}

// Header (6: reserved, type, count), then 16 bytes per image: width, height
// (0 means 256), colours, reserved, planes (2), bits (2), data size (4),
// data offset (4).
Result<MediaInfo> Ico(std::string_view b, const InspectOptions& options) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  const size_t count = b.size() >= 6 ? Le16(p + 4) : 0;
  if (count == 0) return siteledger::Err(Unsupported("an ICO without images"));
  if (6 + 16 * count > b.size()) {
    return siteledger::Err(Unsupported("an ICO whose directory is not whole"));
  }
  for (size_t n = 0; n < count; ++n) {
    const unsigned char* entry = p + 6 + 16 * n;
    const uint64_t size = Le32(entry + 8);
    const uint64_t offset = Le32(entry + 12);
    if (size == 0 || offset < 6 + 16 * count || offset + size > b.size()) {
      return siteledger::Err(
          Unsupported("an ICO whose image data lies outside the file"));
    }
    // Browsers decode a PNG inside an ICO at the PNG's own size.
    const std::string_view data = b.substr(offset, size);
    if (data.starts_with("\x89PNG\r\n\x1a\n")) {
      auto png = Png(data, options);
      if (!png) return siteledger::Err(png.error());
    }
  }
  const uint32_t w = p[6] == 0 ? 256 : p[6];
  const uint32_t h = p[7] == 0 ? 256 : p[7];
  return MediaInfo{MediaType::kIco, w, h};
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (IsSpace(v.front()) || v.front() == '\f')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (IsSpace(v.back()) || v.back() == '\f')) {
    v.remove_suffix(1);
  }
  return v;
}

// Pixels from an SVG length: a number (exponent allowed) with no unit, px,
// an absolute unit, or em/rem/ex at a 16px font. nullopt for % (relative to
// the page), negative values or garbage. Saturates at UINT32_MAX, so a huge
// size still reaches the pixel limit.
std::optional<uint32_t> SvgLength(std::string_view v) {
  v = Trim(v);
  if (v.starts_with('+')) v.remove_prefix(1);
  double n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec == std::errc::result_out_of_range) {
    n = HUGE_VAL;  // overflow; an underflow reads as a positive value < 1
  } else if (ec != std::errc()) {
    return std::nullopt;
  }
  if (std::isnan(n) || n < 0) return std::nullopt;
  const std::string unit = Lower(v.substr(end - v.data()));
  double scale = 0;
  if (unit.empty() || unit == "px") {
    scale = 1;
  } else if (unit == "pt") {
    scale = 96.0 / 72;
  } else if (unit == "pc") {
    scale = 16;
  } else if (unit == "in") {
    scale = 96;
  } else if (unit == "cm") {
    scale = 96 / 2.54;
  } else if (unit == "mm") {
    scale = 96 / 25.4;
  } else if (unit == "q") {
    scale = 96 / 101.6;
  } else if (unit == "em" || unit == "rem") {
    scale = 16;
  } else if (unit == "ex") {
    scale = 8;
  } else {
    return std::nullopt;
  }
  const double px = n * scale;
  if (px >= static_cast<double>(UINT32_MAX)) return UINT32_MAX;
  if (px > 0 && px < 1) return 1;
  return static_cast<uint32_t>(px + 0.5);
}

Status HostileSvg(std::string_view why) {
  return Status::InvalidArgument(
      "this SVG is refused: " + std::string(why) +
      " (scripts, event handlers and external references are not allowed)");
}

// Decodes CSS escapes as a CSS tokenizer does: backslash and 1-6 hex digits
// (then one optional whitespace) is that code point, backslash and newline
// vanishes, backslash and any other character is that character.
std::string DecodeCssEscapes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out.push_back(s[i]);
      continue;
    }
    ++i;
    if (std::isxdigit(static_cast<unsigned char>(s[i]))) {
      uint32_t cp = 0;
      size_t digits = 0;
      for (; digits < 6 && i < s.size() &&
             std::isxdigit(static_cast<unsigned char>(s[i]));
           ++digits, ++i) {
        const char c = s[i];
        cp = cp * 16 + static_cast<uint32_t>(
                           c <= '9' ? c - '0' : (std::tolower(c) - 'a' + 10));
      }
      if (i < s.size() && s[i] == '\r' && i + 1 < s.size() &&
          s[i + 1] == '\n') {
        ++i;
      } else if (i >= s.size() || !(IsSpace(s[i]) || s[i] == '\f')) {
        --i;  // not whitespace: the loop's ++i comes back to it
      }
      if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        cp = 0xFFFD;
      }
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    } else if (s[i] == '\n' || s[i] == '\f') {
      // a line continuation
    } else if (s[i] == '\r') {
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Checks CSS (a <style> element's text, or an attribute value, which the
// browser may read as a CSS value) for anything that fetches from outside
// the document. `where` names it in the message.
Status CheckCss(std::string_view css, std::string_view where) {
  const std::string text = Lower(DecodeCssEscapes(css));
  if (text.find('\\') != std::string::npos) {
    return HostileSvg(std::string(where) + " has a CSS escape it cannot read");
  }
  for (std::string_view bad : {"@import", "image-set(", "image(", "src(",
                               "expression(", "element(", "cross-fade("}) {
    if (text.find(bad) != std::string::npos) {
      return HostileSvg(std::string(where) + " contains " + std::string(bad));
    }
  }
  for (size_t at = text.find("url("); at != std::string::npos;
       at = text.find("url(", at + 1)) {
    size_t i = at + 4;
    while (i < text.size() && (IsSpace(text[i]) || text[i] == '\f' ||
                               text[i] == '"' || text[i] == '\'')) {
      ++i;
    }
    if (i >= text.size() || text[i] != '#') {
      return HostileSvg(std::string(where) +
                        " references something outside itself (url())");
    }
  }
  return Status::Ok();
}

constexpr std::string_view kSvgNs = "http://www.w3.org/2000/svg";
constexpr std::string_view kXlinkNs = "http://www.w3.org/1999/xlink";
constexpr std::string_view kXmlNs = "http://www.w3.org/XML/1998/namespace";
constexpr char kNsSeparator = '\x1F';

// Static SVG: shapes, text, structure, paint servers, clipping, masking,
// markers, filter primitives, raster images (checked hrefs) and <style>.
// No script, foreignObject, animation, <a>, <iframe>, <switch> or fonts.
constexpr std::string_view kSvgElements[] = {
    "svg",
    "g",
    "defs",
    "symbol",
    "use",
    "title",
    "desc",
    "metadata",
    "style",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "textPath",
    "linearGradient",
    "radialGradient",
    "stop",
    "pattern",
    "clipPath",
    "mask",
    "marker",
    "image",
    "filter",
    "feBlend",
    "feColorMatrix",
    "feComponentTransfer",
    "feComposite",
    "feConvolveMatrix",
    "feDiffuseLighting",
    "feDisplacementMap",
    "feDistantLight",
    "feDropShadow",
    "feFlood",
    "feFuncA",
    "feFuncB",
    "feFuncG",
    "feFuncR",
    "feGaussianBlur",
    "feMerge",
    "feMergeNode",
    "feMorphology",
    "feOffset",
    "fePointLight",
    "feSpecularLighting",
    "feSpotLight",
    "feTile",
    "feTurbulence",
};

// Attributes without a namespace that SVG elements may carry: geometry,
// presentation, paint servers, filters and text. href is checked on its own.
constexpr std::string_view kSvgAttributes[] = {
    "id",
    "class",
    "style",
    "lang",
    "role",
    "version",
    "baseProfile",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "ry",
    "fx",
    "fy",
    "fr",
    "d",
    "points",
    "pathLength",
    "width",
    "height",
    "viewBox",
    "preserveAspectRatio",
    "transform",
    "transform-origin",
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-dasharray",
    "stroke-dashoffset",
    "stroke-opacity",
    "opacity",
    "color",
    "display",
    "visibility",
    "overflow",
    "clip",
    "clip-path",
    "clip-rule",
    "clipPathUnits",
    "mask",
    "mask-type",
    "maskUnits",
    "maskContentUnits",
    "gradientUnits",
    "gradientTransform",
    "spreadMethod",
    "offset",
    "stop-color",
    "stop-opacity",
    "patternUnits",
    "patternContentUnits",
    "patternTransform",
    "marker-start",
    "marker-mid",
    "marker-end",
    "markerWidth",
    "markerHeight",
    "markerUnits",
    "refX",
    "refY",
    "orient",
    "font-family",
    "font-size",
    "font-size-adjust",
    "font-weight",
    "font-style",
    "font-variant",
    "font-stretch",
    "text-anchor",
    "text-decoration",
    "text-rendering",
    "dominant-baseline",
    "alignment-baseline",
    "baseline-shift",
    "letter-spacing",
    "word-spacing",
    "writing-mode",
    "direction",
    "unicode-bidi",
    "dx",
    "dy",
    "rotate",
    "textLength",
    "lengthAdjust",
    "startOffset",
    "method",
    "spacing",
    "side",
    "shape-rendering",
    "image-rendering",
    "color-interpolation",
    "color-interpolation-filters",
    "color-rendering",
    "paint-order",
    "vector-effect",
    "mix-blend-mode",
    "isolation",
    "enable-background",
    "filter",
    "filterUnits",
    "primitiveUnits",
    "flood-color",
    "flood-opacity",
    "lighting-color",
    "in",
    "in2",
    "result",
    "mode",
    "type",
    "values",
    "operator",
    "k1",
    "k2",
    "k3",
    "k4",
    "stdDeviation",
    "edgeMode",
    "radius",
    "scale",
    "xChannelSelector",
    "yChannelSelector",
    "tableValues",
    "slope",
    "intercept",
    "amplitude",
    "exponent",
    "baseFrequency",
    "numOctaves",
    "seed",
    "stitchTiles",
    "order",
    "kernelMatrix",
    "divisor",
    "bias",
    "targetX",
    "targetY",
    "preserveAlpha",
    "kernelUnitLength",
    "surfaceScale",
    "diffuseConstant",
    "specularConstant",
    "specularExponent",
    "azimuth",
    "elevation",
    "z",
    "pointsAtX",
    "pointsAtY",
    "pointsAtZ",
    "limitingConeAngle",
    "media",
    "cursor",
    "pointer-events",
    "systemLanguage",
    "requiredExtensions",
    "requiredFeatures",
    "focusable",
    "tabindex",
    "zoomAndPan",
};

// Editors' own data (Inkscape, Sodipodi, RDF/Dublin Core/Creative Commons
// metadata, Sketch): browsers treat elements and attributes in these
// namespaces as inert XML, and refusing them would refuse most saved logos.
constexpr std::string_view kEditorNamespaces[] = {
    "http://www.inkscape.org/namespaces/inkscape",
    "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://purl.org/dc/elements/1.1/",
    "http://creativecommons.org/ns#",
    "http://www.bohemiancoding.com/sketch/ns",
};

bool Contains(std::span<const std::string_view> list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

struct XmlName {
  std::string_view ns;  // empty: no namespace
  std::string_view local;
};

XmlName SplitName(const XML_Char* name) {
  const std::string_view s(name);
  const size_t at = s.rfind(kNsSeparator);
  if (at == std::string_view::npos) return {{}, s};
  return {s.substr(0, at), s.substr(at + 1)};
}

std::string Describe(XmlName n) {
  if (n.ns.empty() || n.ns == kSvgNs) return std::string(n.local);
  return std::string(n.local) + " in the namespace " + std::string(n.ns);
}

Result<MediaInfo> InspectMediaImpl(std::string_view b,
                                   const InspectOptions& options,
                                   bool allow_svg);

// Standard base64 (whitespace ignored, padding optional); nullopt for any
// other character.
std::optional<std::string> DecodeBase64(std::string_view s) {
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  bool padded = false;
  for (const char c : s) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else if (c == '=') {
      padded = true;
      continue;
    } else if (IsSpace(c) || c == '\f') {
      continue;
    } else {
      return std::nullopt;
    }
    if (padded) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    if (++count == 4) {
      out.push_back(static_cast<char>(bits >> 16));
      out.push_back(static_cast<char>((bits >> 8) & 0xFF));
      out.push_back(static_cast<char>(bits & 0xFF));
      bits = 0;
      count = 0;
    }
  }
  if (count == 1) return std::nullopt;
  if (count == 2) out.push_back(static_cast<char>(bits >> 4));
  if (count == 3) {
    out.push_back(static_cast<char>(bits >> 10));
    out.push_back(static_cast<char>((bits >> 2) & 0xFF));
  }
  return out;
}

// An href may point inside the document ("#id"); an <image> may also hold a
// raster image as a base64 data: URI, inspected like an upload.
Status CheckHref(std::string_view element, std::string_view value,
                 const InspectOptions& options) {
  const std::string_view v = Trim(value);
  if (v.starts_with('#')) return Status::Ok();
  const std::string where = "<" + std::string(element) + " href>";
  if (element == "image") {
    const std::string lower = Lower(v.substr(0, 32));
    for (const auto& [prefix, type] :
         {std::pair{std::string_view("data:image/png;base64,"),
                    MediaType::kPng},
          {"data:image/jpeg;base64,", MediaType::kJpeg},
          {"data:image/gif;base64,", MediaType::kGif},
          {"data:image/webp;base64,", MediaType::kWebp}}) {
      if (!lower.starts_with(prefix)) continue;
      const auto bytes = DecodeBase64(v.substr(prefix.size()));
      if (!bytes) return HostileSvg(where + " holds a damaged data: URI");
      auto info = InspectMediaImpl(*bytes, options, /*allow_svg=*/false);
      if (!info) {
        return HostileSvg(where + " holds an image that is refused: " +
                          info.error().message());
      }
      if (info->type != type) {
        return HostileSvg(where +
                          " holds a data: URI whose type disagrees "
                          "with its bytes");
      }
      return Status::Ok();
    }
  }
  return HostileSvg("it references something outside itself (" + where + ")");
}

// Walks an SVG with expat, namespaces resolved, and records the first
// refusal. Expat never loads external entities unless asked (we do not
// ask), and any DOCTYPE stops the parse before its internal subset.
class SvgScan {
 public:
  explicit SvgScan(const InspectOptions& options) : options_(options) {}

  // Unsupported for text that is not an SVG; a refusal as InspectMedia
  // describes it.
  Status Run(std::string_view doc) {
    if (doc.size() > INT_MAX) return Unsupported("an SVG too large to read");
    std::unique_ptr<XML_ParserStruct, decltype(&XML_ParserFree)> parser(
        XML_ParserCreateNS("UTF-8", kNsSeparator), &XML_ParserFree);
    if (!parser) return Status::Internal("cannot create an XML parser");
    parser_ = parser.get();
    XML_SetUserData(parser_, this);
    XML_SetXmlDeclHandler(parser_, &SvgScan::OnXmlDecl);
    XML_SetStartDoctypeDeclHandler(parser_, &SvgScan::OnDoctype);
    XML_SetProcessingInstructionHandler(parser_, &SvgScan::OnInstruction);
    XML_SetElementHandler(parser_, &SvgScan::OnStart, &SvgScan::OnEnd);
    XML_SetCharacterDataHandler(parser_, &SvgScan::OnText);
    const XML_Status parsed =
        XML_Parse(parser_, doc.data(), static_cast<int>(doc.size()), XML_TRUE);
    if (!status_.ok()) return status_;
    if (parsed != XML_STATUS_OK) {
      return Unsupported("an SVG that is not well-formed XML (line " +
                         std::to_string(XML_GetCurrentLineNumber(parser_)) +
                         ": " + XML_ErrorString(XML_GetErrorCode(parser_)) +
                         ")");
    }
    return Status::Ok();
  }

  // The root <svg>'s attributes, when present.
  const std::optional<std::string>& width() const { return width_; }
  const std::optional<std::string>& height() const { return height_; }
  const std::optional<std::string>& view_box() const { return view_box_; }

 private:
  static SvgScan& Self(void* data) { return *static_cast<SvgScan*>(data); }

  void Fail(Status s) {
    if (!status_.ok()) return;
    status_ = std::move(s);
    XML_StopParser(parser_, XML_FALSE);
  }

  static void XMLCALL OnXmlDecl(void* data, const XML_Char*,
                                const XML_Char* encoding, int) {
    if (encoding != nullptr && Lower(encoding) != "utf-8") {
      Self(data).Fail(
          Unsupported("an SVG that declares an encoding other "
                      "than UTF-8 (" +
                      std::string(encoding) + ")"));
    }
  }

  static void XMLCALL OnDoctype(void* data, const XML_Char* name,
                                const XML_Char*, const XML_Char*, int) {
    if (SplitName(name).local != "svg" &&
        !std::string_view(name).ends_with(":svg")) {
      return Self(data).Fail(
          Unsupported("not an image format siteledger knows"));
    }
    Self(data).Fail(
        HostileSvg("it has a DOCTYPE (DTDs and entities are not allowed)"));
  }

  static void XMLCALL OnInstruction(void* data, const XML_Char* target,
                                    const XML_Char*) {
    Self(data).Fail(HostileSvg("it has a processing instruction (<?" +
                               std::string(target) + ")"));
  }

  static void XMLCALL OnStart(void* data, const XML_Char* name,
                              const XML_Char** attributes) {
    Self(data).Start(SplitName(name), attributes);
  }

  static void XMLCALL OnEnd(void* data, const XML_Char* name) {
    Self(data).End(SplitName(name));
  }

  static void XMLCALL OnText(void* data, const XML_Char* text, int size) {
    SvgScan& self = Self(data);
    if (self.in_style_) self.style_text_.append(text, size);
  }

  void Start(XmlName element, const XML_Char** attributes) {
    const bool svg = element.ns.empty() || element.ns == kSvgNs;
    if (!root_seen_) {
      root_seen_ = true;
      if (!svg || element.local != "svg") {
        return Fail(Unsupported("not an image format siteledger knows"));
      }
      for (size_t i = 0; attributes[i] != nullptr; i += 2) {
        const XmlName a = SplitName(attributes[i]);
        if (!a.ns.empty()) continue;
        if (a.local == "width") width_ = attributes[i + 1];
        if (a.local == "height") height_ = attributes[i + 1];
        if (a.local == "viewBox") view_box_ = attributes[i + 1];
      }
    }
    if (in_style_) return Fail(HostileSvg("its <style> holds an element"));
    const bool editor = Contains(kEditorNamespaces, element.ns);
    if (!editor && !(svg && Contains(kSvgElements, element.local))) {
      return Fail(HostileSvg("it contains <" + Describe(element) + ">"));
    }
    for (size_t i = 0; attributes[i] != nullptr; i += 2) {
      Status s = CheckAttribute(element, SplitName(attributes[i]),
                                attributes[i + 1], editor);
      if (!s.ok()) return Fail(std::move(s));
    }
    if (svg && element.local == "style") {
      in_style_ = true;
      style_text_.clear();
    }
  }

  void End(XmlName element) {
    if (!in_style_ || element.local != "style") return;
    in_style_ = false;
    Status s = CheckCss(style_text_, "its <style>");
    if (!s.ok()) Fail(std::move(s));
  }

  Status CheckAttribute(XmlName element, XmlName a, std::string_view value,
                        bool editor) const {
    const std::string where =
        "<" + std::string(element.local) + " " + std::string(a.local) + ">";
    if (a.ns.empty() || a.ns == kXlinkNs) {
      if (Lower(a.local.substr(0, 2)) == "on") {
        return HostileSvg("it has an event-handler attribute (" +
                          std::string(a.local) + ")");
      }
      if (a.local == "href") {
        SL_RETURN_IF_ERROR(CheckHref(element.local, value, options_));
      } else if (a.ns == kXlinkNs
                     ? a.local != "title"
                     : !editor && !Contains(kSvgAttributes, a.local) &&
                           !a.local.starts_with("data-") &&
                           !a.local.starts_with("aria-")) {
        return HostileSvg("it has the attribute " + where);
      }
    } else if (a.ns == kXmlNs) {
      if (a.local != "space" && a.local != "lang") {
        return HostileSvg("it has the attribute xml:" + std::string(a.local));
      }
    } else if (!Contains(kEditorNamespaces, a.ns)) {
      return HostileSvg("it has the attribute " + where + " in the namespace " +
                        std::string(a.ns));
    }
    // Presentation attributes are CSS values, so the same escapes apply.
    return CheckCss(value, where);
  }

  const InspectOptions& options_;
  XML_Parser parser_ = nullptr;
  Status status_;
  bool root_seen_ = false;
  bool in_style_ = false;
  std::string style_text_;
  std::optional<std::string> width_;
  std::optional<std::string> height_;
  std::optional<std::string> view_box_;
};

Result<MediaInfo> Svg(std::string_view b, const InspectOptions& options) {
  if (!simdjson::validate_utf8(b.data(), b.size())) {
    return siteledger::Err(Unsupported("an SVG that is not UTF-8 text"));
  }
  if (b.starts_with("\xEF\xBB\xBF")) b.remove_prefix(3);
  const std::string_view start = Trim(b);
  if (!start.starts_with('<')) {
    return siteledger::Err(Unsupported("not an image format siteledger knows"));
  }
  SvgScan scan(options);
  SL_RETURN_ERR_IF_ERROR(scan.Run(b));
  MediaInfo info{MediaType::kSvg, std::nullopt, std::nullopt};
  if (scan.width()) info.width = SvgLength(*scan.width());
  if (scan.height()) info.height = SvgLength(*scan.height());
  // The rendered size; an unknown side (a percentage) counts as 1 so that a
  // single huge side is refused too.
  if (info.width || info.height) {
    SL_RETURN_ERR_IF_ERROR(CheckPixels("an SVG", info.width.value_or(1),
                                       info.height.value_or(1), options));
  }
  if (!info.width || !info.height) {
    if (const auto& vb = scan.view_box()) {
      // "min-x min-y width height", spaces or commas: user units, which
      // scale to whatever size the page gives the image.
      std::string v(*vb);
      std::replace(v.begin(), v.end(), ',', ' ');
      std::string_view rest = v;
      std::optional<uint32_t> parts[4];
      for (auto& part : parts) {
        while (!rest.empty() && IsSpace(rest.front())) rest.remove_prefix(1);
        const size_t sp = rest.find(' ');
        part = SvgLength(rest.substr(0, sp));
        rest =
            sp == std::string_view::npos ? std::string_view() : rest.substr(sp);
      }
      if (parts[2] && parts[3]) {
        if (!info.width) info.width = parts[2];
        if (!info.height) info.height = parts[3];
      }
    }
  }
  return info;
}

Result<MediaInfo> InspectMediaImpl(std::string_view b,
                                   const InspectOptions& options,
                                   bool allow_svg) {
  if (b.empty())
    return siteledger::Err(Status::InvalidArgument("the image is empty"));
  if (b.starts_with("\x89PNG\r\n\x1a\n")) return Png(b, options);
  if (b.starts_with("\xFF\xD8\xFF")) return Jpeg(b, options);
  if (b.starts_with("GIF87a") || b.starts_with("GIF89a")) {
    return Gif(b, options);
  }
  if (b.size() >= 12 && b.starts_with("RIFF") && b.substr(8, 4) == "WEBP") {
    return Webp(b, options);
  }
  if (b.starts_with(std::string_view("\x00\x00\x01\x00", 4))) {
    return Ico(b, options);
  }
  if (!allow_svg) {
    return siteledger::Err(Unsupported("not a raster image format"));
  }
  return Svg(b, options);
}

}  // namespace

std::string_view MediaTypeName(MediaType type) {
  switch (type) {
    case MediaType::kPng:
      return "image/png";
    case MediaType::kJpeg:
      return "image/jpeg";
    case MediaType::kGif:
      return "image/gif";
    case MediaType::kWebp:
      return "image/webp";
    case MediaType::kIco:
      return "image/x-icon";
    case MediaType::kSvg:
      return "image/svg+xml";
  }
  return "application/octet-stream";
}

std::optional<MediaType> MediaTypeFromName(std::string_view content_type) {
  std::string name = Lower(content_type.substr(0, content_type.find(';')));
  while (!name.empty() && IsSpace(name.back())) name.pop_back();
  while (!name.empty() && IsSpace(name.front())) name.erase(0, 1);
  if (name == "image/png") return MediaType::kPng;
  if (name == "image/jpeg" || name == "image/jpg") return MediaType::kJpeg;
  if (name == "image/gif") return MediaType::kGif;
  if (name == "image/webp") return MediaType::kWebp;
  if (name == "image/x-icon" || name == "image/vnd.microsoft.icon") {
    return MediaType::kIco;
  }
  if (name == "image/svg+xml") return MediaType::kSvg;
  return std::nullopt;
}

Result<MediaInfo> InspectMedia(std::string_view b,
                               const InspectOptions& options) {
  return InspectMediaImpl(b, options, /*allow_svg=*/true);
}

std::string MediaId(std::string_view bytes) {
  return storage::ToHex(storage::Sha256(bytes));
}

std::string_view MediaKindName(MediaKind kind) {
  switch (kind) {
    case MediaKind::kLayoutImage:
      return "layout-image";
    case MediaKind::kThemeImage:
      return "theme-image";
    case MediaKind::kLogo:
      return "logo";
    case MediaKind::kFavicon:
      return "favicon";
    case MediaKind::kAppIcon:
      return "app-icon";
  }
  return "unknown";
}

std::optional<MediaKind> MediaKindFromName(std::string_view name) {
  for (MediaKind k :
       {MediaKind::kLayoutImage, MediaKind::kThemeImage, MediaKind::kLogo,
        MediaKind::kFavicon, MediaKind::kAppIcon}) {
    if (MediaKindName(k) == name) return k;
  }
  return std::nullopt;
}

}  // namespace siteledger::projections
