#include "storage/envelope.h"

#include "storage/base/coding.h"
#include "storage/crypto.h"
#include "storage/internal/envelope_codec.h"

namespace siteledger::storage {
namespace internal {

std::string EncodeHeader(const Event& event, uint8_t format) {
  std::string out;
  out.reserve(1 + 8 + 8 + 6 + event.type.size() + event.actor.size() +
              event.idempotency_key.size() + 32 + 4 + event.payload.size());
  coding::PutU8(out, format);
  coding::PutU64(out, event.seq.value());
  coding::PutI64(out, MillisOf(event.time));
  coding::PutU16(out, static_cast<uint16_t>(event.type.size()));
  out += event.type;
  coding::PutU16(out, static_cast<uint16_t>(event.actor.size()));
  out += event.actor;
  coding::PutU16(out, static_cast<uint16_t>(event.idempotency_key.size()));
  out += event.idempotency_key;
  out.append(reinterpret_cast<const char*>(event.prev_hash.data()),
             event.prev_hash.size());
  return out;
}

namespace {

// Parses everything up to the payload; returns the payload bytes.
Result<std::string_view> DecodeInto(std::string_view bytes,
                                    uint8_t expected_format, Event& event,
                                    std::string_view* header) {
  coding::Reader r(bytes);
  auto format = r.U8();
  if (!format || *format != expected_format) {
    return Err(Status::Corruption("envelope has an unknown format"));
  }
  auto seq = r.U64();
  auto time = r.U64();
  auto type_len = r.U16();
  auto type = type_len ? r.Bytes(*type_len) : std::nullopt;
  auto actor_len = r.U16();
  auto actor = actor_len ? r.Bytes(*actor_len) : std::nullopt;
  auto key_len = r.U16();
  auto key = key_len ? r.Bytes(*key_len) : std::nullopt;
  auto prev = r.Bytes(32);
  const size_t header_len = bytes.size() - r.Rest().size();
  std::string_view rest = bytes.substr(header_len);
  coding::Reader tail(rest);
  auto payload_len = tail.U32();
  auto payload = payload_len ? tail.Bytes(*payload_len) : std::nullopt;
  if (r.failed() || !payload || !tail.done()) {
    return Err(Status::Corruption("envelope is truncated or malformed"));
  }
  event.seq = Sequence(*seq);
  event.time = TimestampFromMillis(static_cast<int64_t>(*time));
  event.type.assign(*type);
  event.actor.assign(*actor);
  event.idempotency_key.assign(*key);
  std::copy(prev->begin(), prev->end(), event.prev_hash.begin());
  if (header != nullptr) *header = bytes.substr(0, header_len);
  return *payload;
}

}  // namespace

Result<StoredEnvelope> DecodeStored(std::string_view bytes) {
  StoredEnvelope out;
  auto sealed = DecodeInto(bytes, kStoredFormat, out.event, &out.header);
  if (!sealed) return Err(sealed.error());
  out.sealed = *sealed;
  return out;
}

}  // namespace internal

std::string EncodeCanonical(const Event& event) {
  std::string out = internal::EncodeHeader(event, internal::kCanonicalFormat);
  coding::PutU32(out, static_cast<uint32_t>(event.payload.size()));
  out += event.payload;
  return out;
}

Result<Event> DecodeCanonical(std::string_view bytes) {
  Event event;
  auto payload =
      internal::DecodeInto(bytes, internal::kCanonicalFormat, event, nullptr);
  if (!payload) return Err(payload.error());
  event.payload.assign(*payload);
  return event;
}

Hash HashOf(const Event& event) {
  // Hash the canonical form without materialising it: the payload may be
  // large.
  Sha256Hasher hasher;
  hasher.Update(internal::EncodeHeader(event, internal::kCanonicalFormat));
  std::string len;
  coding::PutU32(len, static_cast<uint32_t>(event.payload.size()));
  hasher.Update(len);
  hasher.Update(event.payload);
  return hasher.Finish();
}

namespace {

bool IsPrintableAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

Status ValidateEventParts(std::string_view type, std::string_view actor,
                          std::string_view idempotency_key,
                          std::string_view payload) {
  if (type.empty() || type.size() > kMaxEventTypeBytes) {
    return Status::InvalidArgument("event type must be 1 to 64 bytes");
  }
  for (unsigned char c : type) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::InvalidArgument(
          "event type may hold only a-z, 0-9, '.', '_' and '-'");
    }
  }
  if (actor.size() > kMaxActorBytes || !IsPrintableAscii(actor)) {
    return Status::InvalidArgument(
        "event actor must be at most 64 printable ASCII bytes");
  }
  if (idempotency_key.size() > kMaxIdempotencyKeyBytes ||
      !IsPrintableAscii(idempotency_key)) {
    return Status::InvalidArgument(
        "idempotency key must be at most 128 printable ASCII bytes");
  }
  if (payload.size() > kMaxPayloadBytes) {
    return Status::TooLarge("event payload exceeds 4 MiB");
  }
  return Status::Ok();
}

}  // namespace siteledger::storage
