#pragma once

// Fixed-width big-endian integers and length-prefixed strings: the building
// blocks of keys (which must sort by their integer parts) and envelopes.
// Every function here is pure: any thread, on data the caller owns.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace siteledger::coding {

// Append `v` to `out` in big-endian order (1, 2, 4 or 8 bytes); an i64 as
// its two's-complement u64. Never fail.
inline void PutU8(std::string& out, uint8_t v) {
  out.push_back(static_cast<char>(v));
}
inline void PutU16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}
inline void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(v >> shift));
  }
}
inline void PutU64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(v >> shift));
  }
}
inline void PutI64(std::string& out, int64_t v) {
  PutU64(out, static_cast<uint64_t>(v));
}

// The big-endian u64 at `p`. REQUIRES: 8 readable bytes at `p` (unchecked).
inline uint64_t DecodeU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Reads fields in order from a byte string; any read past the end makes the
// reader fail, and every later read returns nothing. The reader and every
// view it returns point into `data`, which must outlive them. Not safe for
// concurrent use: one reader per thread.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  // The next big-endian integer, or nullopt (and failed()) if too few
  // bytes remain.
  std::optional<uint8_t> U8() {
    if (!Need(1)) return std::nullopt;
    const uint8_t v = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return v;
  }
  std::optional<uint16_t> U16() {
    if (!Need(2)) return std::nullopt;
    const uint16_t v = static_cast<uint16_t>(
        (static_cast<uint8_t>(data_[0]) << 8) | static_cast<uint8_t>(data_[1]));
    data_.remove_prefix(2);
    return v;
  }
  std::optional<uint32_t> U32() {
    if (!Need(4)) return std::nullopt;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(data_[i]);
    data_.remove_prefix(4);
    return v;
  }
  std::optional<uint64_t> U64() {
    if (!Need(8)) return std::nullopt;
    const uint64_t v = DecodeU64(data_.data());
    data_.remove_prefix(8);
    return v;
  }
  // The next `n` bytes, as a view into `data`; nullopt (and failed()) if
  // fewer remain.
  std::optional<std::string_view> Bytes(size_t n) {
    if (!Need(n)) return std::nullopt;
    std::string_view v = data_.substr(0, n);
    data_.remove_prefix(n);
    return v;
  }
  // Every byte not yet read (a view into `data`), leaving none; never fails
  // and does not clear or set failed().
  std::string_view Rest() {
    std::string_view v = data_;
    data_ = {};
    return v;
  }

  // Whether a read ran past the end (then nothing more was consumed).
  bool failed() const { return failed_; }
  // Whether every byte was read; a decoder checks it to refuse trailing
  // bytes.
  bool done() const { return data_.empty(); }

 private:
  bool Need(size_t n) {
    if (failed_ || data_.size() < n) {
      failed_ = true;
      return false;
    }
    return true;
  }

  std::string_view data_;
  bool failed_ = false;
};

}  // namespace siteledger::coding
