// The snapshots family and the stored views: never crash. The first input
// byte picks the decoder: a stored view row (and its canonical JSON), a
// version key's row key, or a change list. What decodes re-encodes to the
// same bytes.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "projections/internal/history.h"
#include "projections/view_row.h"

namespace pj = siteledger::projections;
namespace pi = siteledger::projections::internal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto split = pj::SplitViewRow(bytes);
      auto row = pj::DecodeViewRow(bytes);
      if (!row) return 0;
      if (!split) std::abort();  // decodes, so it splits
      auto again = pj::DecodeViewRow(pj::EncodeViewRow(*row));
      if (!again || !(again->doc == row->doc) ||
          again->version != row->version) {
        std::abort();
      }
      return 1;
    }
    case 1: {
      auto row_key = pi::RowKeyOfVersion(bytes);
      if (!row_key) return 0;
      // Its version keys, whatever the seq, name it again.
      const std::string key = pi::VersionKey(*row_key, siteledger::Sequence(7));
      if (pi::RowKeyOfVersion(key) != row_key) std::abort();
      return 1;
    }
    default: {
      std::set<std::string> keys;
      return pi::DecodeChanges(bytes, keys).ok() ? 1 : 0;
    }
  }
}
