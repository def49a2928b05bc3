#pragma once

// Keys of the blobs family (media bytes).

#include <string>
#include <string_view>

namespace siteledger::storage {

// The row key (after the tenant prefix, which the log adds) under which the
// bytes of media `media_id_hex` are kept: the 32 raw bytes of the SHA-256
// the id spells in hex. Returns an empty string, which no row has, when
// `media_id_hex` is not a media id (64 lowercase hex digits). Pure; any
// thread.
std::string BlobRowKey(std::string_view media_id_hex);

}  // namespace siteledger::storage
