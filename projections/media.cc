#include "projections/media.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>

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

Result<MediaInfo> Png(std::string_view b) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  if (b.size() < 24 || b.substr(12, 4) != "IHDR") {
    return siteledger::Err(Unsupported("a PNG without its IHDR header"));
  }
  return MediaInfo{MediaType::kPng, Be32(p + 16), Be32(p + 20)};
}

Result<MediaInfo> Jpeg(std::string_view b) {
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
      if (i + 7 > b.size()) break;
      return MediaInfo{MediaType::kJpeg, Be16(p + i + 5), Be16(p + i + 3)};
    }
    i += length;
  }
  return siteledger::Err(Unsupported("a JPEG without a frame header"));
}

Result<MediaInfo> Gif(std::string_view b) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  if (b.size() < 10) return siteledger::Err(Unsupported("a truncated GIF"));
  return MediaInfo{MediaType::kGif, Le16(p + 6), Le16(p + 8)};
}

Result<MediaInfo> Webp(std::string_view b) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  if (b.size() < 30) return siteledger::Err(Unsupported("a truncated WebP"));
  const std::string_view chunk = b.substr(12, 4);
  if (chunk == "VP8 ") {
    if (p[23] != 0x9D || p[24] != 0x01 || p[25] != 0x2A) {
      return siteledger::Err(Unsupported("a damaged WebP"));
    }
    return MediaInfo{MediaType::kWebp, Le16(p + 26) & 0x3FFF,
                     Le16(p + 28) & 0x3FFF};
  }
  if (chunk == "VP8L") {
    if (p[20] != 0x2F) return siteledger::Err(Unsupported("a damaged WebP"));
    const uint32_t bits =
        p[21] | (p[22] << 8) | (p[23] << 16) | (uint32_t{p[24]} << 24);
    return MediaInfo{MediaType::kWebp, (bits & 0x3FFF) + 1,
                     ((bits >> 14) & 0x3FFF) + 1};
  }
  if (chunk == "VP8X") {
    return MediaInfo{MediaType::kWebp, Le24(p + 24) + 1, Le24(p + 27) + 1};
  }
  return siteledger::Err(Unsupported("a WebP of an unknown kind"));
}

Result<MediaInfo> Ico(std::string_view b) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  if (b.size() < 22 || Le16(p + 4) == 0) {
    return siteledger::Err(Unsupported("an ICO without images"));
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

// Reads a number from an SVG length ("120", "120px", "12.5"); nullopt for
// relative units (%, em) or garbage.
std::optional<uint32_t> SvgLength(std::string_view v) {
  while (!v.empty() && IsSpace(v.front())) v.remove_prefix(1);
  double n = 0;
  size_t i = 0;
  bool digits = false;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) {
    n = n * 10 + (v[i++] - '0');
    digits = true;
  }
  if (i < v.size() && v[i] == '.') {
    double scale = 0.1;
    for (++i; i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]));
         ++i) {
      n += (v[i] - '0') * scale;
      scale /= 10;
    }
  }
  std::string_view unit = v.substr(i);
  while (!unit.empty() && IsSpace(unit.back())) unit.remove_suffix(1);
  if (!digits || !(unit.empty() || unit == "px") || n > 1e7) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(n + 0.5);
}

// The value of attribute `name` in the tag text, or nullopt.
std::optional<std::string_view> Attribute(std::string_view tag,
                                          std::string_view name) {
  for (size_t at = tag.find(name); at != std::string_view::npos;
       at = tag.find(name, at + 1)) {
    if (at == 0 || !IsSpace(tag[at - 1])) continue;
    size_t i = at + name.size();
    while (i < tag.size() && IsSpace(tag[i])) ++i;
    if (i >= tag.size() || tag[i] != '=') continue;
    ++i;
    while (i < tag.size() && IsSpace(tag[i])) ++i;
    if (i >= tag.size() || (tag[i] != '"' && tag[i] != '\'')) continue;
    const char quote = tag[i++];
    const size_t end = tag.find(quote, i);
    if (end == std::string_view::npos) return std::nullopt;
    return tag.substr(i, end - i);
  }
  return std::nullopt;
}

Status HostileSvg(std::string_view why) {
  return Status::InvalidArgument(
      "this SVG is refused: " + std::string(why) +
      " (scripts, event handlers and external references are not allowed)");
}

// `lower` is the lowercased document.
Status CheckSvgSafety(const std::string& lower) {
  for (std::string_view bad :
       {"<script", "<foreignobject", "<iframe", "<embed", "<object", "<!entity",
        "@import", "javascript:", "<?xml-stylesheet", "<handler", "<listener",
        "<set ", "<animate"}) {
    if (lower.find(bad) != std::string::npos) {
      return HostileSvg("it contains " + std::string(bad));
    }
  }
  // Event-handler attributes: on<letters>= after a space, '/' or quote.
  for (size_t at = lower.find("on"); at != std::string::npos;
       at = lower.find("on", at + 1)) {
    if (at == 0) continue;
    const char before = lower[at - 1];
    if (!IsSpace(before) && before != '/' && before != '"' && before != '\'') {
      continue;
    }
    size_t i = at + 2;
    const size_t letters = i;
    while (i < lower.size() &&
           std::islower(static_cast<unsigned char>(lower[i]))) {
      ++i;
    }
    if (i == letters) continue;
    while (i < lower.size() && IsSpace(lower[i])) ++i;
    if (i < lower.size() && lower[i] == '=') {
      return HostileSvg("it has an event-handler attribute (" +
                        lower.substr(at, i - at) + ")");
    }
  }
  // References must stay inside the document: href="#id", url(#id).
  for (size_t at = lower.find("href"); at != std::string::npos;
       at = lower.find("href", at + 1)) {
    size_t i = at + 4;
    while (i < lower.size() && IsSpace(lower[i])) ++i;
    if (i >= lower.size() || lower[i] != '=') continue;
    ++i;
    while (i < lower.size() && IsSpace(lower[i])) ++i;
    if (i < lower.size() && (lower[i] == '"' || lower[i] == '\'')) ++i;
    while (i < lower.size() && IsSpace(lower[i])) ++i;
    if (i >= lower.size() || lower[i] != '#') {
      return HostileSvg("it references something outside itself (href)");
    }
  }
  for (size_t at = lower.find("url("); at != std::string::npos;
       at = lower.find("url(", at + 1)) {
    size_t i = at + 4;
    while (i < lower.size() &&
           (IsSpace(lower[i]) || lower[i] == '"' || lower[i] == '\'')) {
      ++i;
    }
    if (i >= lower.size() || lower[i] != '#') {
      return HostileSvg("it references something outside itself (url())");
    }
  }
  return Status::Ok();
}

Result<MediaInfo> Svg(std::string_view b) {
  if (!simdjson::validate_utf8(b.data(), b.size())) {
    return siteledger::Err(Unsupported("an SVG that is not UTF-8 text"));
  }
  if (b.starts_with("\xEF\xBB\xBF")) b.remove_prefix(3);
  const std::string lower = Lower(b);
  // Find the root element past the prolog: XML declaration, comments,
  // whitespace and a DOCTYPE without an internal subset.
  size_t i = 0;
  for (;;) {
    while (i < lower.size() && IsSpace(lower[i])) ++i;
    if (lower.compare(i, 5, "<?xml") == 0) {
      const size_t end = lower.find("?>", i);
      if (end == std::string::npos) break;
      i = end + 2;
    } else if (lower.compare(i, 4, "<!--") == 0) {
      const size_t end = lower.find("-->", i);
      if (end == std::string::npos) break;
      i = end + 3;
    } else if (lower.compare(i, 9, "<!doctype") == 0) {
      const size_t end = lower.find('>', i);
      if (end == std::string::npos) break;
      if (lower.substr(i, end - i).find('[') != std::string::npos) {
        return siteledger::Err(HostileSvg("its DOCTYPE declares entities"));
      }
      i = end + 1;
    } else {
      break;
    }
  }
  if (lower.compare(i, 4, "<svg") != 0 ||
      (i + 4 < lower.size() && !IsSpace(lower[i + 4]) && lower[i + 4] != '>' &&
       lower[i + 4] != '/')) {
    return siteledger::Err(Unsupported("not an image format siteledger knows"));
  }
  SL_RETURN_ERR_IF_ERROR(CheckSvgSafety(lower));
  const size_t tag_end = lower.find('>', i);
  if (tag_end == std::string::npos) {
    return siteledger::Err(Unsupported("an SVG whose root tag never closes"));
  }
  const std::string_view tag(lower.data() + i, tag_end - i);
  MediaInfo info{MediaType::kSvg, std::nullopt, std::nullopt};
  if (auto w = Attribute(tag, "width")) info.width = SvgLength(*w);
  if (auto h = Attribute(tag, "height")) info.height = SvgLength(*h);
  if ((!info.width || !info.height)) {
    if (auto vb = Attribute(tag, "viewbox")) {
      // "min-x min-y width height", spaces or commas.
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

Result<MediaInfo> InspectMedia(std::string_view b) {
  if (b.empty())
    return siteledger::Err(Status::InvalidArgument("the image is empty"));
  if (b.starts_with("\x89PNG\r\n\x1a\n")) return Png(b);
  if (b.starts_with("\xFF\xD8\xFF")) return Jpeg(b);
  if (b.starts_with("GIF87a") || b.starts_with("GIF89a")) return Gif(b);
  if (b.size() >= 12 && b.starts_with("RIFF") && b.substr(8, 4) == "WEBP") {
    return Webp(b);
  }
  if (b.starts_with(std::string_view("\x00\x00\x01\x00", 4))) return Ico(b);
  return Svg(b);
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
