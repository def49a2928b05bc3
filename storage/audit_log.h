#pragma once

#include <optional>
#include <string>
#include <vector>

#include "storage/base/clock.h"
#include "storage/base/ids.h"
#include "storage/base/mutex.h"
#include "storage/base/status.h"
#include "storage/crypto.h"

namespace siteledger::storage::internal {
class Database;
}

namespace siteledger::storage {

// One audit record: who did what to which tenant, why, and how it ended.
// Never holds tenant content, secrets or client IPs.
struct AuditRecord {
  Timestamp time{};        // set by Append
  std::string actor;       // "atlassian", an operator's name, "system"
  std::string action;      // e.g. "lifecycle.installed", "operator.read"
  TenantId tenant;         // 0: no tenant
  std::string client_key;  // the tenant's clientKey when known
  std::string outcome;     // "ok", or what failed
  std::string reason;      // the operator's stated reason, if any
  std::string route;       // route template, for operator requests
  std::string detail;      // free text without personal data
};

struct AuditEntry {
  uint64_t id = 0;  // position in the chain, from 1
  AuditRecord record;
  Hash prev_hash{};
  Hash hash{};
};

struct AuditFilter {
  std::optional<TenantId> tenant;
  std::optional<std::string> actor;
  std::optional<Timestamp> since;  // inclusive
  std::optional<Timestamp> until;  // exclusive
};

// AuditLog is the region's append-only, hash-chained record of lifecycle,
// operator and purge actions (the `audit` family, ordered by time). Each
// record carries the SHA-256 of the one before, so a removed, reordered or
// altered record is found by Verify. Records are stored sealed under the
// region's audit key (clientKeys and reasons never reach a file in clear);
// the chain covers their plaintext. Records written unsealed by earlier
// versions still read and verify. Safe for concurrent use.
class AuditLog {
 public:
  // `database` and `clock` must outlive the log. `key` seals and opens
  // records: the store passes MasterKey::DeriveAead("audit-log").
  AuditLog(internal::Database& database, const Clock& clock, AeadKey key);

  // Appends `record` (its time set now, never before the last record's),
  // sealed, with a synced write; returns its id. Corruption if the stored
  // chain head does not decode; Internal if sealing fails; IOError, writing
  // nothing. Any thread: appends are
  // serialised. Blocks for the sync.
  Result<uint64_t> Append(AuditRecord record);

  // Records matching `filter`, oldest first, with ids after `after_id`, at
  // most `limit`. Corruption for a record that does not open (altered, or
  // another region's audit key) or decode; IOError.
  // Any thread.
  Result<std::vector<AuditEntry>> Query(const AuditFilter& filter,
                                        uint64_t after_id, size_t limit) const;

  struct VerifyReport {
    bool ok = true;
    uint64_t records = 0;
    uint64_t first_bad = 0;  // id of the first record that breaks the chain
    std::string problem;
  };
  // Walks the whole chain. A broken chain is a report with ok == false;
  // errors only for what stops the walk (IOError). Any thread; slow.
  Result<VerifyReport> Verify() const;

 private:
  // The stored value of `entry` under its row key; and back, for either
  // stored format.
  Result<std::string> Seal(const AuditEntry& entry,
                           std::string_view row_key) const;
  Result<AuditEntry> Open(std::string_view value,
                          std::string_view row_key) const;

  internal::Database& db_;
  const Clock& clock_;
  const AeadKey key_;
  Mutex mu_;  // serialises appends: the chain has one head
};

// The plaintext form of an audit record (format 1): what the chain hashes
// (every byte but the trailing hash), what a sealed record (format 2) holds
// inside its seal, and how versions before sealing stored records. Exposed
// for tests that write or tamper with records. Decode: Corruption unless
// `value` is one whole format-1 record.
std::string EncodeAuditEntry(const AuditEntry& entry);
Result<AuditEntry> DecodeAuditEntry(std::string_view value);

}  // namespace siteledger::storage
