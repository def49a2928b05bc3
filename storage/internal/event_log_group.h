#pragma once

// The commit pipeline's private types, shared by the commit loop
// (event_log_commit.cc) and the staging of one append (event_log_stage.cc).

#include <rocksdb/write_batch.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "storage/crypto.h"
#include "storage/event_log.h"
#include "storage/internal/event_log_rows.h"

namespace siteledger::storage {

struct EventLog::Pending {
  AppendRequest request;
  AppendCallback done;  // or, for a blocking Append, the two fields below
  std::optional<Result<AppendResult>>* sync_result = nullptr;
  std::atomic<bool>* sync_ready = nullptr;
  std::optional<Result<AppendResult>> result;
  // The outcome stands only if the group's batch is written: this append
  // staged writes, or replays one staged in the same group.
  bool needs_batch = false;
  size_t events_written = 0;
};

struct EventLog::GroupState {
  rocksdb::WriteBatch batch;
  // Row writes staged by the group's appends, the last per key; sealed and
  // added to the batch by WriteGroup.
  struct Row {
    Family family;
    std::string key;  // empty once in `rows` (the map key holds it)
    bool deleted = false;
    std::string value;  // plaintext
  };
  std::map<std::pair<Family, std::string>, Row> rows;
  std::unordered_map<TenantId, std::shared_ptr<const AeadKey>> keys;
  // Heads after this group's staged appends.
  std::unordered_map<TenantId, Head> heads;
  // Idempotency results staged in this group, by idempotency row key.
  std::unordered_map<std::string, internal::IdempotencyRecord> idempotency;
  Timestamp now{};
};

}  // namespace siteledger::storage
