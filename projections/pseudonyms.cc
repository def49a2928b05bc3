#include "projections/internal/pseudonyms.h"

#include "projections/internal/row_store.h"
#include "storage/crypto.h"

namespace siteledger::projections::internal {
namespace {

using storage::ExtraWrite;
using storage::Family;
using storage::WriteOp;

std::string ForwardKey(const Hash& h) {
  std::string key = "a";
  key.append(reinterpret_cast<const char*>(h.data()), h.size());
  return key;
}

std::string ReverseKey(std::string_view pseudonym) {
  return "p" + std::string(pseudonym);
}

Result<std::string> ResolveUncached(const storage::EventLog& log,
                                    Session& session, TenantId tenant,
                                    std::string_view account_id,
                                    std::vector<ExtraWrite>& writes)
    REQUIRES(session.mu) {
  auto h = log.TenantHmac(tenant, "pseudonym", account_id);
  if (!h) return Err(h.error());
  const std::string forward = ForwardKey(*h);
  auto existing = ReadRow(log, session, tenant, Family::kPseudonyms, forward);
  if (!existing) return Err(existing.error());
  if (*existing) return **existing;
  auto bytes = storage::RandomBytes(10);
  if (!bytes) return Err(bytes.error());
  const std::string pseudonym = "u_" + storage::ToHex(*bytes);
  writes.push_back({Family::kPseudonyms, WriteOp::kPut, forward, pseudonym});
  writes.push_back({Family::kPseudonyms, WriteOp::kPut, ReverseKey(pseudonym),
                    std::string(account_id)});
  return pseudonym;
}

}  // namespace

Result<std::optional<std::string>> LookupPseudonym(
    const storage::EventLog& log, TenantId tenant,
    std::string_view account_id) {
  auto h = log.TenantHmac(tenant, "pseudonym", account_id);
  if (!h) return Err(h.error());
  return log.GetRow(tenant, Family::kPseudonyms, ForwardKey(*h));
}

Status AddPseudonymRows(const storage::EventLog& log, TenantId tenant,
                        std::string_view pseudonym, std::string_view account_id,
                        std::vector<ExtraWrite>& writes) {
  auto h = log.TenantHmac(tenant, "pseudonym", account_id);
  if (!h) return h.error();
  writes.push_back({Family::kPseudonyms, WriteOp::kPut, ForwardKey(*h),
                    std::string(pseudonym)});
  writes.push_back({Family::kPseudonyms, WriteOp::kPut, ReverseKey(pseudonym),
                    std::string(account_id)});
  return Status::Ok();
}

Result<std::optional<std::string>> LookupAccountId(const storage::EventLog& log,
                                                   TenantId tenant,
                                                   std::string_view pseudonym) {
  return log.GetRow(tenant, Family::kPseudonyms, ReverseKey(pseudonym));
}

Result<std::string> ResolvePseudonym(const storage::EventLog& log,
                                     Session& session, TenantId tenant,
                                     std::string_view account_id,
                                     std::vector<ExtraWrite>& writes) {
  if (auto it = session.pseudonyms.find(std::string(account_id));
      it != session.pseudonyms.end()) {
    return it->second;
  }
  auto resolved = ResolveUncached(log, session, tenant, account_id, writes);
  if (resolved) session.CachePseudonym(std::string(account_id), *resolved);
  return resolved;
}

}  // namespace siteledger::projections::internal
