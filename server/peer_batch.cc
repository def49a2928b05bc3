#include "server/internal/peer_batch.h"

#include <cstring>

#include "server/jwt.h"
#include "storage/crypto.h"

namespace siteledger::server {
namespace {

using projections::Json;

constexpr size_t kMaxPeerBody = 64 << 20;

Status Missing(const std::string& where, std::string_view name,
               std::string_view what) {
  return Status::InvalidArgument(where + "." + std::string(name) + ": " +
                                 std::string(what));
}

Result<std::string> StringOf(const Json& j, std::string_view name,
                             const std::string& where) {
  const Json* v = j.Find(name);
  if (v == nullptr || !v->is_string()) {
    return Err(Missing(where, name, "a string"));
  }
  return v->as_string();
}

Result<int64_t> CountOf(const Json& j, std::string_view name,
                        const std::string& where) {
  const Json* v = j.Find(name);
  if (v == nullptr || !v->is_int() || v->as_int() < 0) {
    return Err(Missing(where, name, "a non-negative integer"));
  }
  return v->as_int();
}

Result<Hash> HashOf(const Json& j, std::string_view name,
                    const std::string& where) {
  auto text = StringOf(j, name, where);
  if (!text) return Err(text.error());
  auto bytes = storage::FromHex(*text);
  if (!bytes || bytes->size() != 32) {
    return Err(Missing(where, name, "a SHA-256 in hex (64 digits)"));
  }
  Hash h{};
  std::memcpy(h.data(), bytes->data(), h.size());
  return h;
}

// The array member `name`: absent (optional) is empty.
Result<const std::vector<Json>*> ArrayOf(const Json& body,
                                         std::string_view name, bool required) {
  static const std::vector<Json> kNone;
  const Json* v = body.Find(name);
  if (v == nullptr && !required) return &kNone;
  if (v == nullptr || !v->is_array() || (required && v->as_array().empty())) {
    return Err(Missing("$", name, required ? "a non-empty array" : "an array"));
  }
  return &v->as_array();
}

}  // namespace

projections::JsonLimits PeerJsonLimits() {
  return projections::JsonLimits{.max_bytes = kMaxPeerBody,
                                 .max_depth = 8,
                                 .max_string_bytes = 16 << 20,
                                 .max_array_items = 20000,
                                 .max_object_members = 64};
}

Json EventJson(const storage::Event& e) {
  Json j = Json::MakeObject();
  j.Set("seq", static_cast<int64_t>(e.seq.value()));
  j.Set("timeMs", MillisOf(e.time));
  j.Set("type", e.type);
  j.Set("actor", e.actor);
  j.Set("idempotencyKey", e.idempotency_key);
  j.Set("prevHash", storage::ToHex(e.prev_hash));
  j.Set("payload", e.payload);
  j.Set("hash", storage::ToHex(storage::HashOf(e)));
  return j;
}

Result<storage::Event> EventOfJson(const Json& j) {
  const std::string where = "$.events[]";
  if (!j.is_object())
    return Err(Status::InvalidArgument(where + ": an object"));
  storage::Event e;
  auto seq = CountOf(j, "seq", where);
  if (!seq) return Err(seq.error());
  if (*seq == 0) return Err(Missing(where, "seq", "at least 1"));
  e.seq = Sequence(static_cast<uint64_t>(*seq));
  auto time = CountOf(j, "timeMs", where);
  if (!time) return Err(time.error());
  e.time = TimestampFromMillis(*time);
  auto type = StringOf(j, "type", where);
  if (!type) return Err(type.error());
  e.type = std::move(*type);
  auto actor = StringOf(j, "actor", where);
  if (!actor) return Err(actor.error());
  e.actor = std::move(*actor);
  auto key = StringOf(j, "idempotencyKey", where);
  if (!key) return Err(key.error());
  e.idempotency_key = std::move(*key);
  auto payload = StringOf(j, "payload", where);
  if (!payload) return Err(payload.error());
  e.payload = std::move(*payload);
  auto prev = HashOf(j, "prevHash", where);
  if (!prev) return Err(prev.error());
  e.prev_hash = *prev;
  auto hash = HashOf(j, "hash", where);
  if (!hash) return Err(hash.error());
  if (storage::HashOf(e) != *hash) {
    return Err(Status::Corruption("event " + std::to_string(e.seq.value()) +
                                  " does not match its hash"));
  }
  return e;
}

Result<PeerBatch> DecodePeerBatch(const Json& body) {
  if (!body.is_object()) {
    return Err(Status::InvalidArgument("$: the body must be a JSON object"));
  }
  PeerBatch batch;
  auto id = StringOf(body, "migrationId", "$");
  if (!id) return Err(id.error());
  batch.migration_id = std::move(*id);
  auto events = ArrayOf(body, "events", /*required=*/true);
  if (!events) return Err(events.error());
  for (const Json& e : **events) {
    auto event = EventOfJson(e);
    if (!event) return Err(event.error());
    batch.events.push_back(std::move(*event));
  }
  auto pseudonyms = ArrayOf(body, "pseudonyms", false);
  if (!pseudonyms) return Err(pseudonyms.error());
  for (const Json& p : **pseudonyms) {
    auto pseudonym = StringOf(p, "pseudonym", "$.pseudonyms[]");
    if (!pseudonym) return Err(pseudonym.error());
    auto account = StringOf(p, "accountId", "$.pseudonyms[]");
    if (!account) return Err(account.error());
    batch.pseudonyms.emplace_back(std::move(*pseudonym), std::move(*account));
  }
  auto media = ArrayOf(body, "media", false);
  if (!media) return Err(media.error());
  for (const Json& m : **media) {
    auto media_id = StringOf(m, "mediaId", "$.media[]");
    if (!media_id) return Err(media_id.error());
    auto data = StringOf(m, "data", "$.media[]");
    if (!data) return Err(data.error());
    auto bytes = Base64UrlDecode(*data);
    if (!bytes) {
      return Err(Status::InvalidArgument("$.media[].data: not base64url"));
    }
    if (storage::ToHex(storage::Sha256(*bytes)) != *media_id) {
      return Err(Status::InvalidArgument("media " + *media_id +
                                         " does not match its id"));
    }
    batch.media.emplace_back(std::move(*media_id), std::move(*bytes));
  }
  auto keys = ArrayOf(body, "idempotency", false);
  if (!keys) return Err(keys.error());
  for (const Json& k : **keys) {
    const std::string where = "$.idempotency[]";
    storage::IdempotencyExport r;
    auto key = StringOf(k, "key", where);
    if (!key) return Err(key.error());
    r.key = std::move(*key);
    auto used = CountOf(k, "usedMs", where);
    if (!used) return Err(used.error());
    r.used_ms = *used;
    auto first = CountOf(k, "first", where);
    if (!first) return Err(first.error());
    auto last = CountOf(k, "last", where);
    if (!last) return Err(last.error());
    if (*last < *first) return Err(Missing(where, "last", "not before first"));
    r.result.first = Sequence(static_cast<uint64_t>(*first));
    r.result.last = Sequence(static_cast<uint64_t>(*last));
    auto time = CountOf(k, "timeMs", where);
    if (!time) return Err(time.error());
    r.result.time = TimestampFromMillis(*time);
    auto fingerprint = HashOf(k, "fingerprint", where);
    if (!fingerprint) return Err(fingerprint.error());
    r.fingerprint = *fingerprint;
    auto response = StringOf(k, "response", where);
    if (!response) return Err(response.error());
    r.response = std::move(*response);
    batch.idempotency.push_back(std::move(r));
  }
  return batch;
}

}  // namespace siteledger::server
