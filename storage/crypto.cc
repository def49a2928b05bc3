#include "storage/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <array>
#include <cstring>
#include <memory>

namespace siteledger::storage {
namespace {

constexpr uint8_t kSealFormat = 0x01;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

// One cipher context per thread: creating one costs more than sealing a
// small value. It remembers the key it was last given, so that sealing or
// opening many values under one tenant's key (a replay, a group's rows)
// expands the key once rather than per value.
struct ThreadCipher {
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter> ctx{EVP_CIPHER_CTX_new()};
  std::array<uint8_t, 32> key{};
  int enc = -1;  // -1: no key set
  ~ThreadCipher() { OPENSSL_cleanse(key.data(), key.size()); }
};

// Nonces come from the CSPRNG in blocks: one RAND_bytes call costs more
// than sealing a small value. A forked child drops its copy of the block
// (see the atfork handler), so no nonce is ever used twice.
struct NonceBlock {
  std::array<uint8_t, kNonceBytes * 64> bytes{};
  size_t used = sizeof(bytes);
};
thread_local NonceBlock t_nonces;

void ForgetNoncesInChild() { t_nonces.used = sizeof(t_nonces.bytes); }

bool NextNonce(uint8_t* nonce) {
  static const bool registered = [] {
    return ::pthread_atfork(nullptr, nullptr, ForgetNoncesInChild) == 0;
  }();
  if (!registered) return RAND_bytes(nonce, kNonceBytes) == 1;
  NonceBlock& block = t_nonces;
  if (block.used + kNonceBytes > block.bytes.size()) {
    if (RAND_bytes(block.bytes.data(), static_cast<int>(block.bytes.size())) !=
        1) {
      return false;
    }
    block.used = 0;
  }
  std::memcpy(nonce, block.bytes.data() + block.used, kNonceBytes);
  OPENSSL_cleanse(block.bytes.data() + block.used, kNonceBytes);
  block.used += kNonceBytes;
  return true;
}

// OpenSSL 3 looks an algorithm up by name on every implicit fetch (what
// Aes256Gcm() and Sha256Md() lead to); fetch each once.
const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* cipher =
      EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

const EVP_MD* Sha256Md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

const uint8_t* U8(std::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

// Initialises the thread's context for `enc` (1 seal, 0 open) under `key`
// with `nonce`. Returns null on failure.
EVP_CIPHER_CTX* ThreadCipherCtx(const std::string& key, const uint8_t* nonce,
                                int enc) {
  thread_local ThreadCipher t;
  if (t.ctx == nullptr || key.size() != t.key.size()) return nullptr;
  const bool same_key = t.enc == enc && CRYPTO_memcmp(t.key.data(), key.data(),
                                                      t.key.size()) == 0;
  const int ok = same_key ? EVP_CipherInit_ex(t.ctx.get(), nullptr, nullptr,
                                              nullptr, nonce, enc)
                          : EVP_CipherInit_ex(t.ctx.get(), Aes256Gcm(), nullptr,
                                              U8(key), nonce, enc);
  if (ok != 1) {
    t.enc = -1;
    return nullptr;
  }
  if (!same_key) {
    std::memcpy(t.key.data(), key.data(), t.key.size());
    t.enc = enc;
  }
  return t.ctx.get();
}

}  // namespace

Hash Sha256(std::string_view data) {
  Hash out;
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, Sha256Md(), nullptr);
  return out;
}

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), Sha256Md(), nullptr);
}

Sha256Hasher::~Sha256Hasher() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void Sha256Hasher::Update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

Hash Sha256Hasher::Finish() {
  Hash out;
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out.data(), &len);
  return out;
}

// HMAC (RFC 2104) over the thread's digest context with the fetched
// SHA-256. OpenSSL 3's one-shot HMAC() fetches the MAC by name and builds
// its parameters on every call, several times the cost of the four SHA-256
// blocks a short message needs; every index row and pseudonym pays it.
Hash HmacSha256(std::string_view key, std::string_view data) {
  constexpr size_t kBlock = 64;
  struct ThreadDigest {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{
        EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  };
  thread_local ThreadDigest t;
  Hash out{};
  std::array<uint8_t, kBlock> k{};
  if (key.size() > kBlock) {
    const Hash h = Sha256(key);
    std::memcpy(k.data(), h.data(), h.size());
  } else if (!key.empty()) {
    std::memcpy(k.data(), key.data(), key.size());
  }
  std::array<uint8_t, kBlock> pad;
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x36;
  Hash inner{};
  unsigned int len = 0;
  EVP_MD_CTX* ctx = t.ctx.get();
  const bool ok = ctx != nullptr &&
                  EVP_DigestInit_ex(ctx, Sha256Md(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, pad.data(), pad.size()) == 1 &&
                  EVP_DigestUpdate(ctx, data.data(), data.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, inner.data(), &len) == 1;
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x5c;
  const bool ok2 = ok && EVP_DigestInit_ex(ctx, Sha256Md(), nullptr) == 1 &&
                   EVP_DigestUpdate(ctx, pad.data(), pad.size()) == 1 &&
                   EVP_DigestUpdate(ctx, inner.data(), inner.size()) == 1 &&
                   EVP_DigestFinal_ex(ctx, out.data(), &len) == 1;
  OPENSSL_cleanse(k.data(), k.size());
  OPENSSL_cleanse(pad.data(), pad.size());
  OPENSSL_cleanse(inner.data(), inner.size());
  if (!ok2) {
    // Out of memory in the provider: the one-shot path allocates anew.
    HMAC(Sha256Md(), key.data(), static_cast<int>(key.size()), U8(data),
         data.size(), out.data(), &len);
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<uint8_t*>(out.data()),
                          static_cast<int>(n)) != 1) {
    return Err(Status::Internal("the system's random generator failed"));
  }
  return out;
}

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string ToHex(const Hash& hash) {
  return ToHex(std::string_view(reinterpret_cast<const char*>(hash.data()),
                                hash.size()));
}

Result<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return Err(Status::InvalidArgument("hex string has an odd length"));
  }
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]);
    const int lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return Err(Status::InvalidArgument("not a hex digit"));
    }
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

void SecureWipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

AeadKey::~AeadKey() { SecureWipe(key_); }

Result<AeadKey> AeadKey::FromBytes(std::string_view key) {
  if (key.size() != kKeyBytes) {
    return Err(Status::InvalidArgument("an AES-256 key must be 32 bytes"));
  }
  return AeadKey(std::string(key));
}

Result<AeadKey> AeadKey::Generate() {
  auto bytes = RandomBytes(kKeyBytes);
  if (!bytes) return Err(bytes.error());
  return AeadKey(std::move(*bytes));
}

Result<std::string> AeadKey::Seal(std::string_view plaintext,
                                  std::string_view aad) const {
  std::string out;
  SL_RETURN_ERR_IF_ERROR(SealAppend(plaintext, aad, out));
  return out;
}

Status AeadKey::SealAppend(std::string_view plaintext, std::string_view aad,
                           std::string& out) const {
  const size_t start = out.size();
  out.resize(start + kOverhead + plaintext.size());
  auto* p = reinterpret_cast<uint8_t*>(out.data()) + start;
  p[0] = kSealFormat;
  uint8_t* nonce = p + 1;
  uint8_t* ct = nonce + kNonceBytes;
  uint8_t* tag = ct + plaintext.size();
  if (!NextNonce(nonce)) {
    out.resize(start);
    return Status::Internal("the system's random generator failed");
  }
  EVP_CIPHER_CTX* ctx = ThreadCipherCtx(key_, nonce, 1);
  int len = 0;
  bool ok =
      ctx != nullptr &&
      (aad.empty() || EVP_EncryptUpdate(ctx, nullptr, &len, U8(aad),
                                        static_cast<int>(aad.size())) == 1) &&
      (plaintext.empty() ||
       EVP_EncryptUpdate(ctx, ct, &len, U8(plaintext),
                         static_cast<int>(plaintext.size())) == 1) &&
      EVP_EncryptFinal_ex(ctx, ct + plaintext.size(), &len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) == 1;
  if (!ok) {
    out.resize(start);
    return Status::Internal("AES-256-GCM encryption failed");
  }
  return Status::Ok();
}

Result<std::string> AeadKey::Open(std::string_view sealed,
                                  std::string_view aad) const {
  if (sealed.size() < kOverhead ||
      static_cast<uint8_t>(sealed[0]) != kSealFormat) {
    return Err(
        Status::Corruption("sealed value is truncated or of an "
                           "unknown format"));
  }
  const auto* nonce = U8(sealed) + 1;
  const size_t ct_len = sealed.size() - kOverhead;
  const auto* ct = nonce + kNonceBytes;
  std::string tag(sealed.substr(1 + kNonceBytes + ct_len, kTagBytes));
  std::string out(ct_len, '\0');
  EVP_CIPHER_CTX* ctx = ThreadCipherCtx(key_, nonce, 0);
  int len = 0;
  bool ok =
      ctx != nullptr &&
      (aad.empty() || EVP_DecryptUpdate(ctx, nullptr, &len, U8(aad),
                                        static_cast<int>(aad.size())) == 1) &&
      (ct_len == 0 ||
       EVP_DecryptUpdate(ctx, reinterpret_cast<uint8_t*>(out.data()), &len, ct,
                         static_cast<int>(ct_len)) == 1) &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) ==
          1 &&
      EVP_DecryptFinal_ex(ctx, reinterpret_cast<uint8_t*>(out.data()) + ct_len,
                          &len) == 1;
  if (!ok) {
    SecureWipe(out);
    return Err(Status::Corruption(
        "cannot decrypt: the value was altered or its key is not this one"));
  }
  return out;
}

}  // namespace siteledger::storage
