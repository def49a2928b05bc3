#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/base/ids.h"
#include "storage/base/status.h"

namespace siteledger::storage {

// SHA-256 of `data`.
Hash Sha256(std::string_view data);

// Incremental SHA-256 for data that arrives in pieces.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(std::string_view data);
  // Returns the digest; the hasher may not be used afterwards.
  Hash Finish();

 private:
  void* ctx_;  // EVP_MD_CTX, owned
};

// HMAC-SHA-256 of `data` under `key`.
Hash HmacSha256(std::string_view key, std::string_view data);

// Compares in time that depends only on the lengths, never on the contents.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// `n` bytes from the operating system's CSPRNG.
Result<std::string> RandomBytes(size_t n);

// Lowercase hex, and back. FromHex fails on odd length or a non-hex digit.
std::string ToHex(std::string_view bytes);
std::string ToHex(const Hash& hash);
Result<std::string> FromHex(std::string_view hex);

// Overwrites `s` with zeros before it is freed.
void SecureWipe(std::string& s);

// An AES-256-GCM key. Sealed values are self-describing:
//   format (1 byte, 0x01) | nonce (12) | ciphertext | tag (16)
// and bound to `aad`, which must be given again to open them.
// Safe for concurrent use (the key is immutable).
class AeadKey {
 public:
  static constexpr size_t kKeyBytes = 32;
  static constexpr size_t kOverhead = 1 + 12 + 16;

  // REQUIRES: key.size() == kKeyBytes.
  static Result<AeadKey> FromBytes(std::string_view key);
  static Result<AeadKey> Generate();

  AeadKey(AeadKey&& other) noexcept = default;
  AeadKey& operator=(AeadKey&& other) noexcept = default;
  AeadKey(const AeadKey&) = default;
  AeadKey& operator=(const AeadKey&) = default;
  ~AeadKey();

  Result<std::string> Seal(std::string_view plaintext,
                           std::string_view aad) const;
  // Appends the sealed form of `plaintext` to `out`.
  Status SealAppend(std::string_view plaintext, std::string_view aad,
                    std::string& out) const;
  // Returns Corruption if the value was altered, sealed under another key or
  // with another `aad`.
  Result<std::string> Open(std::string_view sealed, std::string_view aad) const;

  const std::string& bytes() const { return key_; }

 private:
  explicit AeadKey(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace siteledger::storage
