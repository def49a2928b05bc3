#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "projections/projector.h"
#include "storage/base/mutex.h"
#include "storage/event_log.h"

namespace siteledger::projections::internal {

// Recently read committed views, by tenant and row key, unparsed. An
// append's callback drops the rows it wrote (before its caller hears of it)
// and bumps the tenant's generation; a reader caches what it read only if
// the generation did not move meanwhile, so no stale row survives an append.
// Safe for concurrent use.
class ViewCache {
 public:
  // Holds at most `max_bytes` (see BytesOf).
  explicit ViewCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The stored view at `row_key` (see ViewRowKey), from the cache or read
  // from `log`; nullptr when absent. Corruption for a row that does not
  // split; the log's errors. The returned view is immutable and lives as
  // long as its holders.
  Result<std::shared_ptr<const Projector::StoredView>> Get(
      const storage::EventLog& log, TenantId tenant, const std::string& row_key)
      EXCLUDES(mu_);

  // Drops the given rows of a tenant (an append wrote them).
  void Invalidate(TenantId tenant, const std::vector<std::string>& row_keys)
      EXCLUDES(mu_);
  // Drops every row of a tenant.
  void InvalidateTenant(TenantId tenant) EXCLUDES(mu_);

 private:
  struct CachedTenant {
    uint64_t generation = 0;
    std::unordered_map<std::string,
                       std::shared_ptr<const Projector::StoredView>>
        rows;
  };
  // What a row is counted as: a fixed overhead for its bookkeeping, its key
  // and its text.
  static size_t BytesOf(
      const std::string& key,
      const std::shared_ptr<const Projector::StoredView>& row) {
    return 128 + key.size() + (row ? row->json.size() : 0);
  }

  const size_t max_bytes_;
  Mutex mu_;
  std::unordered_map<TenantId, CachedTenant> tenants_ GUARDED_BY(mu_);
  size_t cached_bytes_ GUARDED_BY(mu_) = 0;
};

}  // namespace siteledger::projections::internal
