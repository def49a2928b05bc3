#pragma once

// The pseudonyms family: HMAC(account id) -> pseudonym ("a" + hash) and
// pseudonym -> account id ("p" + pseudonym), both sealed; and the region's
// account index (storage::AccountIndexWrite), kept with them.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "projections/internal/session.h"
#include "storage/event_log.h"

namespace siteledger::projections::internal {

// The committed pseudonym standing for `account_id`, or nullopt. NotFound
// once the data key is destroyed; the log's errors.
Result<std::optional<std::string>> LookupPseudonym(const storage::EventLog& log,
                                                   TenantId tenant,
                                                   std::string_view account_id);

// The account id behind `pseudonym`, or nullopt; the log's errors.
Result<std::optional<std::string>> LookupAccountId(const storage::EventLog& log,
                                                   TenantId tenant,
                                                   std::string_view pseudonym);

// The two rows that map `account_id` and `pseudonym` to each other, added
// to `writes`, and the account's index entry to `index`: a migration's
// target keeps the pseudonyms of the source's events. NotFound once the
// data key is destroyed; the log's errors.
Status AddPseudonymRows(const storage::EventLog& log, TenantId tenant,
                        std::string_view pseudonym, std::string_view account_id,
                        std::vector<storage::ExtraWrite>& writes,
                        std::vector<storage::AccountIndexWrite>& index);

// The account's pseudonym, allocating one on first sight: its two rows are
// added to `writes` and its index entry to `index`, for the append that
// first uses it. The caller holds session.mu from here until that append
// is queued, so that two commands never allocate two pseudonyms for one
// person. Internal when the random generator fails; NotFound once the data
// key is destroyed.
Result<std::string> ResolvePseudonym(
    const storage::EventLog& log, Session& session, TenantId tenant,
    std::string_view account_id, std::vector<storage::ExtraWrite>& writes,
    std::vector<storage::AccountIndexWrite>& index) REQUIRES(session.mu);

// The account's pseudonym as a command sees it (in-flight appends
// included), or nullopt when the tenant holds none; when there is one, the
// deletes of its two rows are added to `writes` and of its index entry to
// `index`, and the session forgets it (a later command of the account
// allocates a new pseudonym). The caller holds session.mu until the append
// carrying them is queued. The log's errors.
Result<std::optional<std::string>> ErasePseudonym(
    const storage::EventLog& log, Session& session, TenantId tenant,
    std::string_view account_id, std::vector<storage::ExtraWrite>& writes,
    std::vector<storage::AccountIndexWrite>& index) REQUIRES(session.mu);

// As ErasePseudonym, from the committed rows only, for a copy no command
// writes (a frozen or arriving copy of a tenant homed elsewhere).
Result<std::optional<std::string>> ErasePseudonymRows(
    const storage::EventLog& log, TenantId tenant, std::string_view account_id,
    std::vector<storage::ExtraWrite>& writes,
    std::vector<storage::AccountIndexWrite>& index);

// As ErasePseudonymRows, found by the pseudonym (the committed reverse
// row); adds nothing when the tenant holds no account for it.
Status AddErasuresOf(const storage::EventLog& log, TenantId tenant,
                     std::string_view pseudonym,
                     std::vector<storage::ExtraWrite>& writes,
                     std::vector<storage::AccountIndexWrite>& index);

// Adds every account the tenant holds a pseudonym for to the account index
// (unsynced writes, a page at a time): for tenants written before the
// index existed. The log's errors; NotFound once the data key is
// destroyed.
Status IndexAccounts(storage::EventLog& log, TenantId tenant);

}  // namespace siteledger::projections::internal
