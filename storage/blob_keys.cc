#include "storage/blob_keys.h"

#include "storage/crypto.h"

namespace siteledger::storage {

std::string BlobRowKey(std::string_view media_id_hex) {
  if (media_id_hex.size() != 64) return {};
  for (char c : media_id_hex) {
    // Lowercase only: an id in capitals is another string for the same
    // bytes, and ids are compared as strings everywhere else.
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  }
  auto bytes = FromHex(media_id_hex);
  return bytes ? std::move(*bytes) : std::string();
}

}  // namespace siteledger::storage
