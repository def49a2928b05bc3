#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace siteledger::server {

// An IPv4 or IPv6 network ("10.0.0.0/8", "::1/128"; a bare address is a
// single host).
class Cidr {
 public:
  // nullopt for anything but an address or a network with a prefix length
  // that fits it. Pure: any thread, as are the accessors.
  static std::optional<Cidr> Parse(std::string_view text);
  // Whether `address` (textual IPv4 or IPv6) lies in the network.
  bool Contains(std::string_view address) const;
  const std::string& text() const { return text_; }

 private:
  bool v6_ = false;
  std::array<uint8_t, 16> bytes_{};
  int prefix_ = 0;
  std::string text_;
};

}  // namespace siteledger::server
