#pragma once

#include <cstdint>

namespace siteledger::storage {

// The data folder's free space against the disk reserve (StoreOptions).
struct DiskSpace {
  uint64_t free_bytes = 0;      // as last measured, less what was written since
  uint64_t reserve_bytes = 0;   // 0: no reserve
  bool writes_refused = false;  // the last write (or measure) fell under it
};

}  // namespace siteledger::storage
