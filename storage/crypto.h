#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/base/ids.h"
#include "storage/base/status.h"

namespace siteledger::storage {

// The functions below are pure and never fail unless they say so: any
// thread.

// SHA-256 of `data`.
Hash Sha256(std::string_view data);

// Incremental SHA-256 for data that arrives in pieces. Not safe for
// concurrent use: one hasher per thread (distinct hashers on any threads).
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  // Adds `data` to what is hashed. Never fails.
  void Update(std::string_view data);
  // Returns the digest of everything passed to Update; the hasher may not be
  // used afterwards (only destroyed). Never fails.
  Hash Finish();

 private:
  void* ctx_;  // EVP_MD_CTX, owned
};

// HMAC-SHA-256 of `data` under `key`.
Hash HmacSha256(std::string_view key, std::string_view data);

// Compares in time that depends only on the lengths, never on the contents;
// false at once when the lengths differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// `n` bytes from the operating system's CSPRNG (empty for 0). Internal if
// the generator fails; never a weaker fallback.
Result<std::string> RandomBytes(size_t n);

// Lowercase hex, and back. FromHex accepts either case; InvalidArgument on
// an odd length or a non-hex digit.
std::string ToHex(std::string_view bytes);
std::string ToHex(const Hash& hash);
Result<std::string> FromHex(std::string_view hex);

// Overwrites `s` with zeros (in a way the compiler keeps) and leaves it
// empty. On the caller's string; never fails.
void SecureWipe(std::string& s);

// An AES-256-GCM key. Sealed values are self-describing:
//   format (1 byte, 0x01) | nonce (12) | ciphertext | tag (16)
// and bound to `aad`, which must be given again to open them.
// Safe for concurrent use (the key is immutable; every thread seals and
// opens with a cipher context of its own). The bytes are wiped when the key
// is destroyed.
class AeadKey {
 public:
  static constexpr size_t kKeyBytes = 32;
  static constexpr size_t kOverhead = 1 + 12 + 16;

  // A copy of `key`. InvalidArgument unless key.size() == kKeyBytes.
  static Result<AeadKey> FromBytes(std::string_view key);
  // A new random key. Internal if the system's random generator fails.
  static Result<AeadKey> Generate();

  AeadKey(AeadKey&& other) noexcept = default;
  AeadKey& operator=(AeadKey&& other) noexcept = default;
  AeadKey(const AeadKey&) = default;
  AeadKey& operator=(const AeadKey&) = default;
  ~AeadKey();

  // The sealed form of `plaintext` (kOverhead bytes longer), under a fresh
  // random nonce. Internal if the random generator or the cipher fails.
  // Any thread.
  Result<std::string> Seal(std::string_view plaintext,
                           std::string_view aad) const;
  // Appends the sealed form of `plaintext` to `out`. Errors as Seal; on
  // error `out` is left as it was. Any thread.
  Status SealAppend(std::string_view plaintext, std::string_view aad,
                    std::string& out) const;
  // The plaintext. Corruption if the value is truncated, of an unknown
  // format, altered, or sealed under another key or with another `aad`
  // (nothing of the plaintext is returned then). Any thread.
  Result<std::string> Open(std::string_view sealed, std::string_view aad) const;

  // The raw key, valid while this key lives. Secret: never log or store it
  // unwrapped.
  const std::string& bytes() const { return key_; }

 private:
  explicit AeadKey(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace siteledger::storage
