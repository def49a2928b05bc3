#include "server/cidr.h"

#include <arpa/inet.h>

#include <charconv>

namespace siteledger::server {
namespace {

// Parses an address into 16 bytes; IPv4 (and IPv4-mapped IPv6) as 4.
bool ParseAddress(std::string_view text, std::array<uint8_t, 16>& out,
                  bool& v6) {
  std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out.data()) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0,    0,
                                            0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped, kMapped + 12, out.begin())) {
      std::copy(out.begin() + 12, out.end(), out.begin());
      v6 = false;
      return true;
    }
    v6 = true;
    return true;
  }
  return false;
}

}  // namespace

std::optional<Cidr> Cidr::Parse(std::string_view text) {
  Cidr c;
  c.text_ = std::string(text);
  const size_t slash = text.find('/');
  if (!ParseAddress(text.substr(0, slash), c.bytes_, c.v6_)) {
    return std::nullopt;
  }
  const int max = c.v6_ ? 128 : 32;
  c.prefix_ = max;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), c.prefix_);
    if (ec != std::errc() || ptr != p.data() + p.size() || c.prefix_ < 0 ||
        c.prefix_ > max) {
      return std::nullopt;
    }
  }
  return c;
}

bool Cidr::Contains(std::string_view address) const {
  std::array<uint8_t, 16> a{};
  bool v6 = false;
  if (!ParseAddress(address, a, v6) || v6 != v6_) return false;
  int bits = prefix_;
  for (size_t i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask =
        bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (bytes_[i] & mask)) return false;
  }
  return true;
}

}  // namespace siteledger::server
