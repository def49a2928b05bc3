#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace siteledger::storage {

// The column families of a region's database. Tenant families sort by tenant
// first (the key starts with the tenant id, 8 bytes big-endian) so that one
// tenant's data in each of them is one contiguous range; kAccessLog and kAudit
// are global and ordered by time.
enum class Family : uint8_t {
  kEvents = 0,
  kViews,
  kSnapshots,
  kTenants,
  kBlobs,
  kPseudonyms,
  kIndex,
  kAccessLog,
  kAudit,
};

inline constexpr std::array<Family, 9> kAllFamilies = {
    Family::kEvents,  Family::kViews,     Family::kSnapshots,
    Family::kTenants, Family::kBlobs,     Family::kPseudonyms,
    Family::kIndex,   Family::kAccessLog, Family::kAudit,
};

// The RocksDB column family name: "events", "views", ..., "access_log",
// "audit"; "unknown" for a value outside the enum. A static string; never
// fails, any thread.
std::string_view FamilyName(Family family);

// True for the families whose values are sealed with the tenant's data key
// when written through the event log. Pure, any thread.
constexpr bool IsEncryptedFamily(Family family) {
  return family == Family::kViews || family == Family::kSnapshots ||
         family == Family::kBlobs || family == Family::kPseudonyms;
}

}  // namespace siteledger::storage
