#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "storage/crypto.h"
#include "storage/base/status.h"

namespace siteledger::storage {

// The region's master key: 32 random bytes kept in a file of its own (64 hex
// digits and a newline, mode 0600), never in the database. It wraps the
// tenants' data keys and installation secrets, and keys the HMACs that stand
// in for clientKeys in keys. Immutable, safe for concurrent use.
class MasterKey {
 public:
  // Reads the key at `path`, or creates it (mode 0600, directories as needed)
  // if the file does not exist. Refuses a file that others may read or that
  // does not hold exactly one key.
  static Result<MasterKey> LoadOrCreate(const std::filesystem::path& path);
  // For tests and tools that hold the key bytes already.
  static Result<MasterKey> FromBytes(std::string_view key);

  // A key for one purpose ("wrap-data-keys", "client-key-index", ...),
  // derived with HMAC-SHA-256 so that purposes never share key material.
  std::string Derive(std::string_view purpose) const;
  // An AEAD key derived for `purpose`.
  AeadKey DeriveAead(std::string_view purpose) const;

 private:
  explicit MasterKey(AeadKey key) : key_(std::move(key)) {}
  AeadKey key_;
};

}  // namespace siteledger::storage
