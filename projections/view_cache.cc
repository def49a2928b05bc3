#include "projections/internal/view_cache.h"

#include "projections/view_row.h"

namespace siteledger::projections::internal {

void ViewCache::Invalidate(TenantId tenant,
                           const std::vector<std::string>& row_keys) {
  MutexLock lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return;
  ++it->second.generation;
  for (const std::string& key : row_keys) {
    auto row = it->second.rows.find(key);
    if (row == it->second.rows.end()) continue;
    cached_bytes_ -= BytesOf(row->first, row->second);
    it->second.rows.erase(row);
  }
}

void ViewCache::InvalidateTenant(TenantId tenant) {
  MutexLock lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return;
  ++it->second.generation;
  for (const auto& [key, row] : it->second.rows) {
    cached_bytes_ -= BytesOf(key, row);
  }
  it->second.rows.clear();
}

Result<std::shared_ptr<const Projector::StoredView>> ViewCache::Get(
    const storage::EventLog& log, TenantId tenant, const std::string& row_key) {
  uint64_t generation;
  {
    MutexLock lock(mu_);
    CachedTenant& t = tenants_[tenant];
    auto it = t.rows.find(row_key);
    if (it != t.rows.end()) return it->second;
    generation = t.generation;
  }
  auto value = log.GetRow(tenant, storage::Family::kViews, row_key);
  if (!value) return Err(value.error());
  std::shared_ptr<const Projector::StoredView> stored;
  if (*value) {
    auto text = SplitViewRow(**value);
    if (!text) return Err(text.error());
    stored = std::make_shared<const Projector::StoredView>(
        Projector::StoredView{text->version, std::string(text->json)});
  }
  MutexLock lock(mu_);
  CachedTenant& t = tenants_[tenant];
  if (t.generation == generation) {
    const size_t bytes = BytesOf(row_key, stored);
    if (cached_bytes_ + bytes > max_bytes_) {
      // Crude but bounded: start over rather than track recency. Every
      // generation moves on, so no read in flight fills the new cache
      // with what it read before.
      for (auto& [id, cached] : tenants_) {
        ++cached.generation;
        cached.rows.clear();
      }
      cached_bytes_ = 0;
    } else if (t.rows.emplace(row_key, stored).second) {
      cached_bytes_ += bytes;
    }
  }
  return stored;
}

}  // namespace siteledger::projections::internal
