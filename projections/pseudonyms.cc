#include "projections/internal/pseudonyms.h"

#include "projections/internal/row_store.h"
#include "storage/crypto.h"

namespace siteledger::projections::internal {
namespace {

using storage::AccountIndexWrite;
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

// Adds the deletes of the rows mapping `account_id` and `pseudonym`.
void AddErasures(std::string forward, std::string_view pseudonym,
                 std::string_view account_id, std::vector<ExtraWrite>& writes,
                 std::vector<AccountIndexWrite>& index) {
  writes.push_back({Family::kPseudonyms, WriteOp::kDelete, std::move(forward),
                    std::string()});
  writes.push_back({Family::kPseudonyms, WriteOp::kDelete,
                    ReverseKey(pseudonym), std::string()});
  index.push_back({WriteOp::kDelete, std::string(account_id)});
}

Result<std::string> ResolveUncached(const storage::EventLog& log,
                                    Session& session, TenantId tenant,
                                    std::string_view account_id,
                                    std::vector<ExtraWrite>& writes,
                                    std::vector<AccountIndexWrite>& index)
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
  index.push_back({WriteOp::kPut, std::string(account_id)});
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
                        std::vector<ExtraWrite>& writes,
                        std::vector<AccountIndexWrite>& index) {
  auto h = log.TenantHmac(tenant, "pseudonym", account_id);
  if (!h) return h.error();
  writes.push_back({Family::kPseudonyms, WriteOp::kPut, ForwardKey(*h),
                    std::string(pseudonym)});
  writes.push_back({Family::kPseudonyms, WriteOp::kPut, ReverseKey(pseudonym),
                    std::string(account_id)});
  index.push_back({WriteOp::kPut, std::string(account_id)});
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
                                     std::vector<ExtraWrite>& writes,
                                     std::vector<AccountIndexWrite>& index) {
  if (auto it = session.pseudonyms.find(std::string(account_id));
      it != session.pseudonyms.end()) {
    return it->second;
  }
  auto resolved =
      ResolveUncached(log, session, tenant, account_id, writes, index);
  if (resolved) session.CachePseudonym(std::string(account_id), *resolved);
  return resolved;
}

Result<std::optional<std::string>> ErasePseudonym(
    const storage::EventLog& log, Session& session, TenantId tenant,
    std::string_view account_id, std::vector<ExtraWrite>& writes,
    std::vector<AccountIndexWrite>& index) {
  auto h = log.TenantHmac(tenant, "pseudonym", account_id);
  if (!h) return Err(h.error());
  std::string forward = ForwardKey(*h);
  auto pseudonym = ReadRow(log, session, tenant, Family::kPseudonyms, forward);
  if (!pseudonym) return Err(pseudonym.error());
  session.ForgetPseudonym(std::string(account_id));
  if (*pseudonym) {
    AddErasures(std::move(forward), **pseudonym, account_id, writes, index);
  }
  return pseudonym;
}

Result<std::optional<std::string>> ErasePseudonymRows(
    const storage::EventLog& log, TenantId tenant, std::string_view account_id,
    std::vector<ExtraWrite>& writes, std::vector<AccountIndexWrite>& index) {
  auto h = log.TenantHmac(tenant, "pseudonym", account_id);
  if (!h) return Err(h.error());
  std::string forward = ForwardKey(*h);
  auto pseudonym = log.GetRow(tenant, Family::kPseudonyms, forward);
  if (!pseudonym) return Err(pseudonym.error());
  if (*pseudonym) {
    AddErasures(std::move(forward), **pseudonym, account_id, writes, index);
  }
  return pseudonym;
}

Status AddErasuresOf(const storage::EventLog& log, TenantId tenant,
                     std::string_view pseudonym,
                     std::vector<ExtraWrite>& writes,
                     std::vector<AccountIndexWrite>& index) {
  auto account_id = LookupAccountId(log, tenant, pseudonym);
  if (!account_id) return account_id.error();
  if (!*account_id) return Status::Ok();
  auto h = log.TenantHmac(tenant, "pseudonym", **account_id);
  if (!h) return h.error();
  AddErasures(ForwardKey(*h), pseudonym, **account_id, writes, index);
  return Status::Ok();
}

Status IndexAccounts(storage::EventLog& log, TenantId tenant) {
  constexpr size_t kPage = 1000;
  std::string after;
  for (;;) {
    auto rows = log.ScanRows(tenant, Family::kPseudonyms, "p", after, kPage);
    if (!rows) return rows.error();
    std::vector<AccountIndexWrite> index;
    for (const auto& [key, account_id] : *rows) {
      index.push_back({WriteOp::kPut, account_id});
    }
    if (!index.empty()) {
      SL_RETURN_IF_ERROR(log.WriteRows(tenant, {}, false, index));
    }
    if (rows->size() < kPage) return Status::Ok();
    after = rows->back().first;
  }
}

}  // namespace siteledger::projections::internal
