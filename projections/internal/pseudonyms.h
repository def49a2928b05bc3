#pragma once

// The pseudonyms family: HMAC(account id) -> pseudonym ("a" + hash) and
// pseudonym -> account id ("p" + pseudonym), both sealed.

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
// to `writes`: a migration's target keeps the pseudonyms of the source's
// events. NotFound once the data key is destroyed; the log's errors.
Status AddPseudonymRows(const storage::EventLog& log, TenantId tenant,
                        std::string_view pseudonym, std::string_view account_id,
                        std::vector<storage::ExtraWrite>& writes);

// The account's pseudonym, allocating one on first sight: its two rows are
// added to `writes`, for the append that first uses it. The caller holds
// session.mu from here until that append is queued, so that two commands
// never allocate two pseudonyms for one person. Internal when the
// random generator fails; NotFound once the data key is destroyed.
Result<std::string> ResolvePseudonym(const storage::EventLog& log,
                                     Session& session, TenantId tenant,
                                     std::string_view account_id,
                                     std::vector<storage::ExtraWrite>& writes)
    REQUIRES(session.mu);

}  // namespace siteledger::projections::internal
