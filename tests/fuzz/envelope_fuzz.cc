// Envelope decoding: never crashes; whatever decodes re-encodes to the same
// bytes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "storage/crypto.h"
#include "storage/envelope.h"

namespace sl = siteledger::storage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto event = sl::DecodeCanonical(bytes);
  if (!event) return 0;
  if (sl::EncodeCanonical(*event) != bytes) std::abort();
  (void)sl::HashOf(*event);
  return 1;
}

std::vector<std::string> FuzzSeeds() {
  sl::Event e;
  e.seq = siteledger::Sequence(42);
  e.time = siteledger::TimestampFromMillis(1'795'640'400'123);
  e.type = "site.created";
  e.actor = "u_0123456789abcdef0123";
  e.idempotency_key = "k-1";
  e.prev_hash = sl::Sha256("x");
  e.payload = R"({"v":1,"siteId":"s_1","name":"Intranet"})";
  std::vector<std::string> seeds = {sl::EncodeCanonical(e)};
  e.payload.clear();
  e.actor.clear();
  seeds.push_back(sl::EncodeCanonical(e));
  return seeds;
}
