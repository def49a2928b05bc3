#pragma once

// The event index's rows are portable roaring bitmaps (docs/formats.md).

#include <roaring/roaring.h>

#include <string_view>

namespace siteledger::storage::internal {

// The bitmap `bytes` hold, exactly (no byte short, none left over), owned by
// the caller (roaring_bitmap_free); nullptr when they are anything else.
// The size is checked first: Debian's CRoaring 0.2 prints to stdout for
// every malformed bitmap its deserializer meets, which would break the
// server's one-JSON-object-per-line log; its size check prints nothing.
inline roaring_bitmap_t* ParsePortableBitmap(std::string_view bytes) {
  if (bytes.empty() || roaring_bitmap_portable_deserialize_size(
                           bytes.data(), bytes.size()) != bytes.size()) {
    return nullptr;
  }
  roaring_bitmap_t* b =
      roaring_bitmap_portable_deserialize_safe(bytes.data(), bytes.size());
  if (b != nullptr &&
      roaring_bitmap_portable_size_in_bytes(b) != bytes.size()) {
    roaring_bitmap_free(b);
    return nullptr;
  }
  return b;
}

}  // namespace siteledger::storage::internal
