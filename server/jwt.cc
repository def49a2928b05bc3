#include "server/jwt.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include "storage/crypto.h"

namespace siteledger::server {
namespace {

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || c == '+') return 62;
  if (c == '_' || c == '/') return 63;
  return -1;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) {
    return siteledger::Err(Status::Unauthenticated("malformed base64url"));
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = DecodeChar(c);
    if (v < 0) {
      return siteledger::Err(Status::Unauthenticated("malformed base64url"));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

Result<Jwt> ParseJwt(std::string_view token) {
  auto fail = [](std::string what) {
    return siteledger::Err(Status::Unauthenticated("malformed JWT: " + what));
  };
  if (token.size() > kMaxJwtBytes) return fail("longer than 8 KiB");
  const size_t a = token.find('.');
  const size_t b = a == std::string_view::npos ? a : token.find('.', a + 1);
  if (b == std::string_view::npos ||
      token.find('.', b + 1) != std::string_view::npos) {
    return fail("expected three dot-separated parts");
  }
  auto header = Base64UrlDecode(token.substr(0, a));
  auto claims = Base64UrlDecode(token.substr(a + 1, b - a - 1));
  auto signature = Base64UrlDecode(token.substr(b + 1));
  if (!header || !claims || !signature) return fail("bad base64url");
  projections::JsonLimits limits;
  limits.max_bytes = kMaxJwtBytes;
  auto h = projections::ParseJson(*header, limits);
  auto c = projections::ParseJson(*claims, limits);
  if (!h || !h->is_object()) return fail("the header is not a JSON object");
  if (!c || !c->is_object()) return fail("the claims are not a JSON object");
  Jwt jwt;
  jwt.header = std::move(*h);
  jwt.claims = std::move(*c);
  jwt.signing_input = std::string(token.substr(0, b));
  jwt.signature = std::move(*signature);
  return jwt;
}

Status VerifyHs256(const Jwt& jwt, std::string_view secret) {
  const siteledger::Hash mac = storage::HmacSha256(secret, jwt.signing_input);
  const std::string_view expected(reinterpret_cast<const char*>(mac.data()),
                                  mac.size());
  if (!storage::ConstantTimeEquals(expected, jwt.signature)) {
    return Status::Unauthenticated("the JWT signature does not verify");
  }
  return Status::Ok();
}

Status VerifyRs256(const Jwt& jwt, std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr,
      &EVP_PKEY_free);
  if (!key) {
    return Status::Unauthenticated("the signing key is not a PEM public key");
  }
  if (EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return Status::Unauthenticated("the signing key is not an RSA key");
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                              &EVP_MD_CTX_free);
  const bool ok =
      ctx &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                           key.get()) == 1 &&
      EVP_DigestVerify(
          ctx.get(), reinterpret_cast<const uint8_t*>(jwt.signature.data()),
          jwt.signature.size(),
          reinterpret_cast<const uint8_t*>(jwt.signing_input.data()),
          jwt.signing_input.size()) == 1;
  if (!ok) return Status::Unauthenticated("the JWT signature does not verify");
  return Status::Ok();
}

namespace {

// A time claim in seconds, if it is a whole number in a sane range (so
// that no arithmetic on it overflows).
std::optional<siteledger::Timestamp> TimeClaim(const Json* claim) {
  constexpr int64_t kLatest = 95'617'584'000;  // 5000-01-01
  if (claim == nullptr || !claim->is_int() || claim->as_int() < 0 ||
      claim->as_int() > kLatest) {
    return std::nullopt;
  }
  return siteledger::TimestampFromMillis(claim->as_int() * 1000);
}

}  // namespace

Result<siteledger::Timestamp> CheckTokenTimes(const Jwt& jwt,
                                              siteledger::Timestamp now) {
  const auto refuse = [](std::string why) {
    return siteledger::Err(Status::Unauthenticated(std::move(why)));
  };
  const Json* exp_claim = jwt.claims.Find("exp");
  if (exp_claim == nullptr) return refuse("the token has no exp");
  const auto expires = TimeClaim(exp_claim);
  if (!expires) return refuse("the token's exp is not a time in seconds");
  if (now > *expires + kTokenLeeway) return refuse("the token has expired");
  // A token lives an hour at most, and is not used before its time.
  siteledger::Timestamp issued = now;
  if (const Json* iat = jwt.claims.Find("iat"); iat != nullptr) {
    const auto t = TimeClaim(iat);
    if (!t) return refuse("the token's iat is not a time in seconds");
    if (*t > now + kTokenLeeway) {
      return refuse("the token's iat is in the future");
    }
    issued = *t;
  }
  if (const Json* nbf = jwt.claims.Find("nbf"); nbf != nullptr) {
    const auto t = TimeClaim(nbf);
    if (!t || *t > now + kTokenLeeway) {
      return refuse("the token is not valid yet (nbf)");
    }
  }
  if (*expires - std::min(issued, now) > kMaxTokenLifetime + kTokenLeeway) {
    return refuse("the token lives longer than an hour (exp - iat)");
  }
  return *expires;
}

std::string SignHs256(const Json& claims, std::string_view secret) {
  std::string input = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  input += ".";
  input += Base64UrlEncode(claims.Dump());
  const siteledger::Hash mac = storage::HmacSha256(secret, input);
  input += ".";
  input += Base64UrlEncode(
      std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return input;
}

std::string AdminPageToken(std::string_view client_key, std::string_view sub,
                           std::string_view secret, siteledger::Timestamp now) {
  const int64_t iat =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch())
          .count();
  Json claims = Json::MakeObject();
  claims.Set("iss", std::string(client_key));
  claims.Set("sub", std::string(sub));
  claims.Set("qsh", "context-qsh");
  claims.Set("iat", iat);
  claims.Set("exp", iat + std::chrono::duration_cast<std::chrono::seconds>(
                              kAdminPageTokenLifetime)
                              .count());
  claims.Set(std::string(kAdminPageClaim), std::string(kAdminPageClaimValue));
  return SignHs256(claims, secret);
}

std::string DecodeQueryComponent(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(
          static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string EncodeRfc3986(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                            c == '.' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseQuery(
    std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(DecodeQueryComponent(part), "");
    } else {
      out.emplace_back(DecodeQueryComponent(part.substr(0, eq)),
                       DecodeQueryComponent(part.substr(eq + 1)));
    }
  }
  return out;
}

std::string CanonicalRequest(std::string_view method, std::string_view path,
                             std::string_view query,
                             std::string_view base_path) {
  std::string out;
  for (char c : method) {
    out.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
  }
  out.push_back('&');
  std::string p(path);
  if (!base_path.empty() && p.starts_with(base_path)) {
    p = p.substr(base_path.size());
  }
  std::string canonical_path;
  for (char c : p) {
    if (c == '&') {
      canonical_path += "%26";
    } else {
      canonical_path.push_back(c);
    }
  }
  if (canonical_path.empty() || canonical_path[0] != '/') {
    canonical_path.insert(canonical_path.begin(), '/');
  }
  if (canonical_path.size() > 1 && canonical_path.back() == '/') {
    canonical_path.pop_back();
  }
  out += canonical_path;
  out.push_back('&');
  std::map<std::string, std::vector<std::string>> params;
  for (auto& [name, value] : ParseQuery(query)) {
    if (name == "jwt") continue;
    params[name].push_back(std::move(value));
  }
  bool first = true;
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    if (!first) out.push_back('&');
    first = false;
    out += EncodeRfc3986(name);
    out.push_back('=');
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += EncodeRfc3986(values[i]);
    }
  }
  return out;
}

std::string QueryStringHash(std::string_view method, std::string_view path,
                            std::string_view query,
                            std::string_view base_path) {
  return storage::ToHex(
      storage::Sha256(CanonicalRequest(method, path, query, base_path)));
}

}  // namespace siteledger::server
