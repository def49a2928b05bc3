// The region-to-region stream: a migration batch as the receiving region
// decodes it. Never crashes; what decodes re-encodes (events) to a batch
// that decodes to the same events.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/internal/peer_batch.h"
#include "storage/crypto.h"

namespace sv = siteledger::server;
namespace pj = siteledger::projections;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto json =
      pj::ParseJson(std::string_view(reinterpret_cast<const char*>(data), size),
                    sv::PeerJsonLimits());
  if (!json) return 0;
  auto batch = sv::DecodePeerBatch(*json);
  if (!batch) return 0;
  if (batch->events.empty()) std::abort();
  for (const auto& e : batch->events) {
    auto again = sv::EventOfJson(sv::EventJson(e));
    if (!again ||
        siteledger::storage::HashOf(*again) != siteledger::storage::HashOf(e)) {
      std::abort();
    }
  }
  return 1;
}
