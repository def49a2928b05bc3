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

// The largest declared pixel area (width x height) InspectMedia accepts by
// default: 50 megapixels.
inline constexpr uint64_t kDefaultMaxPixels = 50'000'000;

// Limits InspectMedia applies.
struct InspectOptions {
  // Images whose declared width x height exceeds this are refused.
  uint64_t max_pixels = kDefaultMaxPixels;
};

// Recognises PNG, JPEG, GIF, WebP, ICO and SVG by content and reads the
// dimensions from the header. Trusts the header's dimensions (it does not
// decode the image). Pure, any thread. Returns:
// - InvalidArgument for empty bytes.
// - Unsupported (415) for anything else, for a header that is not whole
//   (PNG: a complete IHDR; GIF: the logical screen descriptor; JPEG: a
//   complete frame header; WebP: a RIFF size within the file and a complete
//   VP8/VP8L/VP8X chunk; ICO: every directory entry, each entry's data inside
//   the file), for a width or height of 0, and for a declared area over
//   `options.max_pixels` ("too large: W x H pixels exceeds the limit of N").
//   An ICO entry holding a PNG is held to the same rules. For an SVG the
//   limit applies to its width and height attributes (px, absolute units or
//   em); a viewBox reports dimensions but is not limited.
// - For SVG: Unsupported if it is not UTF-8, not well-formed XML, declares
//   an encoding other than UTF-8, or its root is not <svg>. InvalidArgument
//   ("this SVG is refused: ...") for anything outside the static subset
//   below. Elements and attributes are allowed by their resolved namespace:
//   elements in the SVG namespace (or none) from a list of static shapes,
//   text, paint servers, clipping, masking, markers, filters, <image> and
//   <style>; inert editor metadata (Inkscape, Sodipodi, RDF, Dublin Core,
//   Creative Commons, Sketch). Refused: any DOCTYPE, processing
//   instructions, scripts, foreignObject, animation, elements in any other
//   namespace, attributes not on the list (event handlers among them),
//   href/xlink:href other than "#fragment" (an <image> may also hold a
//   base64 data:image/png, jpeg, gif or webp URI, itself inspected under the
//   same limits), and in any attribute value or <style> text, after
//   decoding character references and CSS escapes: url() other than
//   url(#...), @import, image-set(), image(), src(), expression(), and a
//   backslash left after decoding.
Result<MediaInfo> InspectMedia(std::string_view bytes,
                               const InspectOptions& options = {});

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
