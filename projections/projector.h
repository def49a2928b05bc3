#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "projections/commands.h"
#include "projections/views.h"
#include "storage/base/clock.h"
#include "storage/event_log.h"

namespace siteledger::projections {

using siteledger::TenantId;

// Projector turns commands into events and keeps the views in step with the
// log: inline (the view rows an append changes are written in the same
// atomic append), from scratch (a fold of the whole log), from the nearest
// snapshot plus the tail, and as of any earlier seq or time.
//
// Commands of one tenant are decided one at a time against the tenant's
// latest state, including appends still on their way to disk, so that they
// never conflict with each other and the commit path can group them. Reads
// see only what is durable. Safe for concurrent use.
class Projector {
 public:
  struct Options {
    // A snapshot of the whole state is written after every this many events
    // of a tenant (0: never).
    uint64_t snapshot_every = 1000;
    // Tenants whose in-flight state is kept between commands.
    size_t max_sessions = 10000;
    // The most bytes of media one tenant may keep.
    int64_t media_quota_bytes = int64_t{1} << 30;
  };

  // `log` and `clock` must outlive the projector.
  Projector(storage::EventLog& log, const siteledger::Clock& clock,
            Options options);
  Projector(storage::EventLog& log, const siteledger::Clock& clock)
      : Projector(log, clock, Options()) {}
  // Waits for queued snapshots to be written.
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  using Done = std::function<void(Result<CommandResult>)>;
  // Decides and appends `command`; `done` runs once the outcome is durable
  // (on the log's commit thread), or at once on the calling thread when the
  // command is refused or changes nothing.
  void Execute(TenantId tenant, Command command, Done done);
  Result<CommandResult> ExecuteSync(TenantId tenant, Command command);

  // The committed view of an entity, or nullopt.
  Result<std::optional<ViewDoc>> Get(TenantId tenant, const ViewKey& key);

  // A committed view as stored: its version and canonical JSON, unparsed.
  struct StoredView {
    Sequence version;
    std::string json;
  };
  // As Get, without parsing, from a cache of recently read views (kept in
  // step with every append this projector makes). nullptr when absent.
  Result<std::shared_ptr<const StoredView>> GetStored(TenantId tenant,
                                                      const ViewKey& key);

  struct Page {
    std::vector<std::pair<ViewKey, ViewDoc>> items;
    // cursors[i] continues a listing right after items[i].
    std::vector<std::string> cursors;
    std::string next_cursor;  // empty on the last page
  };
  // Entities of `kind` in key order, after `cursor` (from a previous page).
  Result<Page> List(TenantId tenant, ViewKind kind, std::string_view cursor,
                    size_t limit);

  // Every committed view row of the tenant.
  Result<TenantState> CurrentViews(TenantId tenant);
  // The state after event `seq`, from the nearest snapshot (or, without
  // `use_snapshots`, from the first event) plus a fold.
  Result<TenantState> StateAt(TenantId tenant, Sequence seq,
                              bool use_snapshots = true);
  // The state as it was at time `t` (after the last event at or before it).
  Result<TenantState> StateAtTime(TenantId tenant, Timestamp t);

  // The pseudonym standing for `account_id` in the tenant's events, if the
  // tenant has seen it; and the account id behind a pseudonym.
  Result<std::optional<std::string>> PseudonymOf(TenantId tenant,
                                                 std::string_view account_id);
  Result<std::optional<std::string>> AccountIdOf(TenantId tenant,
                                                 std::string_view pseudonym);

  // Writes now any snapshot that is due, and waits for it.
  void WaitForSnapshots();

  // Drops the in-memory state of `tenant` (after its log was changed by
  // something other than this projector: an import, a purge).
  void Forget(TenantId tenant);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace siteledger::projections
