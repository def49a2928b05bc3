// The log's stored rows: never crash; whatever decodes re-encodes to the
// same bytes. The first input byte picks the decoder: the canonical
// envelope (what the chain hashes and exports carry), the stored envelope
// (sealed payload), the head row, or an idempotency record.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "storage/crypto.h"
#include "storage/envelope.h"
#include "storage/internal/envelope_codec.h"
#include "storage/internal/event_log_rows.h"

namespace sl = siteledger::storage;
namespace si = siteledger::storage::internal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto event = sl::DecodeCanonical(bytes);
      if (!event) return 0;
      if (sl::EncodeCanonical(*event) != bytes) std::abort();
      (void)sl::HashOf(*event);
      return 1;
    }
    case 1: {
      auto stored = si::DecodeStored(bytes);
      if (!stored) return 0;
      // The views point into the input, header first.
      if (stored->header.data() != bytes.data() ||
          stored->sealed.data() + stored->sealed.size() >
              bytes.data() + bytes.size()) {
        std::abort();
      }
      if (si::EncodeHeader(stored->event, si::kStoredFormat) !=
          stored->header.substr(0, stored->header.size())) {
        std::abort();
      }
      return 1;
    }
    case 2: {
      auto head = si::DecodeHead(bytes);
      if (!head) return 0;
      // A row from before the byte count (48 bytes) comes back with a zero
      // count appended.
      std::string expected(bytes);
      if (expected.size() == 48) expected.append(8, '\0');
      if (si::EncodeHead(*head) != expected) std::abort();
      return 1;
    }
    default: {
      auto rec = si::DecodeIdempotency(bytes);
      if (!rec) return 0;
      if (si::EncodeIdempotency(*rec) != bytes) std::abort();
      return 1;
    }
  }
}
