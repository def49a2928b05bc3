#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/base/status.h"

namespace siteledger::projections {

using siteledger::Result;
using siteledger::Status;

// The image formats siteledger stores, recognised by their bytes.
enum class MediaType : uint8_t { kPng, kJpeg, kGif, kWebp, kIco, kSvg };

// "image/png", ...; and back ("image/vnd.microsoft.icon" is also ICO; a
// parameter such as "; charset=utf-8" is ignored, case and spaces too;
// "image/jpg" is also JPEG). nullopt for anything else. Pure, any thread.
std::string_view MediaTypeName(MediaType type);
std::optional<MediaType> MediaTypeFromName(std::string_view content_type);

// What the bytes are, read from them alone.
struct MediaInfo {
  MediaType type;
  std::optional<uint32_t> width;  // unknown for some SVGs
  std::optional<uint32_t> height;
};

// Recognises PNG, JPEG, GIF, WebP, ICO and SVG by content and reads the
// dimensions from the header. Unsupported (415) for anything else or for a
// header too damaged to read. For SVG, also refuses (InvalidArgument)
// scripts, event-handler attributes, external references (href other than
// "#fragment", url() other than url(#...), @import, foreignObject, iframes,
// embeds) and DOCTYPE entities. InvalidArgument, too, for empty bytes.
// Trusts the header's dimensions (it does not decode the image). Pure, any
// thread.
Result<MediaInfo> InspectMedia(std::string_view bytes);

// The lowercase hex SHA-256 of the bytes: a media id. Never fails; any
// thread.
std::string MediaId(std::string_view bytes);

// Media kinds, each with its own size limit.
enum class MediaKind : uint8_t {
  kLayoutImage,
  kThemeImage,
  kLogo,
  kFavicon,
  kAppIcon
};
// "layout-image", "theme-image", "logo", "favicon", "app-icon" ("unknown"
// outside the enum); and back, nullopt for any other name (exact, lowercase).
// Pure, any thread.
std::string_view MediaKindName(MediaKind kind);
std::optional<MediaKind> MediaKindFromName(std::string_view name);

}  // namespace siteledger::projections
