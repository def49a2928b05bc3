#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "storage/base/status.h"
#include "storage/crypto.h"

namespace siteledger::storage {

// The region's master key: 32 random bytes kept in a file of its own (64 hex
// digits and a newline, mode 0600), never in the database. It wraps the
// tenants' data keys and installation secrets, and keys the HMACs that stand
// in for clientKeys in keys. Immutable, safe for concurrent use.
class MasterKey {
 public:
  // Reads the key at `path`, or creates it (mode 0600, directories as needed)
  // if the file does not exist; of two processes creating it at once, the
  // one that loses reads the winner's key. Errors:
  //   PermissionDenied  the file's mode lets group or others in (chmod 600)
  //   InvalidArgument   the file holds anything but 64 hex digits (a
  //                     trailing newline is allowed)
  //   IOError           the file or its folder cannot be read or created,
  //                     naming the path
  //   Internal          the random generator failed (creating only)
  // Any thread; blocks on the file (and an fsync when it creates one).
  static Result<MasterKey> LoadOrCreate(const std::filesystem::path& path);
  // Reads the key at `path`, never creating or changing anything: for the
  // offline tools that open a region read-only. As LoadOrCreate, and
  // NotFound (naming the path and the --master-key-file flag) when the file
  // does not exist. Any thread.
  static Result<MasterKey> Load(const std::filesystem::path& path);
  // For tests and tools that hold the key bytes already. InvalidArgument
  // unless `key` is 32 bytes. Any thread.
  static Result<MasterKey> FromBytes(std::string_view key);

  // A key for one purpose ("wrap-data-keys", "client-key-index", ...),
  // derived with HMAC-SHA-256 so that purposes never share key material:
  // 32 raw bytes, the same for the same purpose. Secret. Never fails; any
  // thread.
  std::string Derive(std::string_view purpose) const;
  // An AEAD key from Derive(purpose). Never fails; any thread.
  AeadKey DeriveAead(std::string_view purpose) const;

 private:
  explicit MasterKey(AeadKey key) : key_(std::move(key)) {}
  AeadKey key_;
};

}  // namespace siteledger::storage
