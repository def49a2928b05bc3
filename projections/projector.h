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
#include "storage/event_index.h"
#include "storage/event_log.h"

namespace siteledger::projections {

using siteledger::TenantId;

// Projector turns commands into events and keeps the views in step with the
// log: inline (the view rows an append changes are written in the same
// atomic append, with the versions that record each event's changes), from
// scratch (a fold of the whole log, or a rebuild that streams it), and as of
// any earlier seq or time (one seek per view in its versions).
//
// Commands of one tenant are decided one at a time against the tenant's
// latest state, including appends still on their way to disk, so that they
// never conflict with each other and the commit path can group them. Reads
// see only what is durable. Safe for concurrent use: every method may be
// called from any thread, except where it says otherwise. The log's commit
// thread runs Execute's callbacks; the blocking ExecuteSync must not be
// called from there.
//
// Errors common to the reads below: NotFound when the tenant's data key was
// destroyed, Corruption when a stored row, version or event does not
// decode, IOError when RocksDB fails.
class Projector {
 public:
  struct Options {
    // Tenants whose in-flight state is kept between commands.
    size_t max_sessions = 10000;
    // The most bytes the sessions' caches of decoded views and pseudonyms
    // hold, all tenants together.
    size_t session_cache_bytes = size_t{32} << 20;
    // The most bytes the cache of stored views (GetStored) holds.
    size_t view_cache_bytes = size_t{32} << 20;
    // The most bytes of media one tenant may keep.
    int64_t media_quota_bytes = int64_t{1} << 30;
    // Whether appends write the event index (FindEvents). Off only to
    // measure what it costs: FindEvents then misses what was appended.
    bool event_index = true;
  };

  // `log` and `clock` must outlive the projector.
  Projector(storage::EventLog& log, const siteledger::Clock& clock,
            Options options);
  Projector(storage::EventLog& log, const siteledger::Clock& clock)
      : Projector(log, clock, Options()) {}
  // Appends the projector queued must have completed (their callbacks run).
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  using Done = std::function<void(Result<CommandResult>)>;
  // Decides and appends `command`; `done` runs exactly once: when the
  // outcome is durable, on the log's commit thread (so it must be quick and
  // must not block on the log or on this projector: no ExecuteSync, no
  // EventLog::Append), or at once on the calling thread when the command is
  // refused or changes nothing. Errors passed to `done`, each writing
  // nothing:
  //   InvalidArgument     a bad body (named by JSON path) or acting user
  //   NotFound            the entity does not exist, or the data key was
  //                       destroyed
  //   PreconditionFailed  If-Match differs from the entity's version
  //   Conflict            a rule refuses it (a theme in use), the idempotency
  //                       key is in flight or was used for another request
  //   QuotaExceeded       the tenant's media would pass its quota
  //   Unavailable         an earlier change of the tenant failed to commit,
  //                       a restore waits for appends in flight, or the log
  //                       is shutting down: retry
  //   Internal            the random generator failed (ids, pseudonyms)
  //   Corruption, IOError reading the views or writing the append failed
  // A replayed idempotent request succeeds with `replayed` set. Any thread,
  // the commit thread included (it never waits for the commit thread).
  void Execute(TenantId tenant, Command command, Done done);
  // As Execute, and waits for the outcome. Must not be called from the
  // log's commit thread, that is from an Execute or AppendAsync callback: it
  // would wait for the thread it blocks, forever.
  Result<CommandResult> ExecuteSync(TenantId tenant, Command command);

  // The committed view of an entity, or nullopt when it does not exist
  // (never NotFound for that); the common read errors. Sees what is
  // durable: a change whose Execute callback has run is visible. Any thread.
  Result<std::optional<ViewDoc>> Get(TenantId tenant, const ViewKey& key);

  // A committed view as stored: its version and canonical JSON, unparsed.
  struct StoredView {
    Sequence version;
    std::string json;
  };
  // As Get, without parsing, from a cache of recently read views (kept in
  // step with every append this projector makes). nullptr when absent; the
  // common read errors. The view is immutable and lives as long as the
  // returned pointer. Any thread.
  Result<std::shared_ptr<const StoredView>> GetStored(TenantId tenant,
                                                      const ViewKey& key);

  struct Page {
    std::vector<std::pair<ViewKey, ViewDoc>> items;
    // cursors[i] continues a listing right after items[i].
    std::vector<std::string> cursors;
    std::string next_cursor;  // empty on the last page
  };
  // Entities of `kind` in key order, after `cursor` (from a previous page),
  // at most `limit`; the common read errors. Any thread.
  Result<Page> List(TenantId tenant, ViewKind kind, std::string_view cursor,
                    size_t limit);

  // The view of an entity as it was after event `seq` (nullopt when it did
  // not exist then): one seek in the view's versions, whatever the tenant's
  // size. REQUIRES: `seq` is at most the committed head (a later seq reads
  // as the head). The common read errors. Any thread.
  Result<std::optional<ViewDoc>> GetAt(TenantId tenant, const ViewKey& key,
                                       Sequence seq);
  // As List, for the entities as they were after event `seq`; cursors are
  // the same as List's. Costs two seeks per entity of `kind` passed over,
  // including entities that did not exist at `seq`. Any thread.
  Result<Page> ListAt(TenantId tenant, ViewKind kind, Sequence seq,
                      std::string_view cursor, size_t limit);

  // Every committed view row of the tenant; the common read errors. Any
  // thread. Holds the whole state: for tools and tests.
  Result<TenantState> CurrentViews(TenantId tenant);
  // The whole state after event `seq`: from the views' versions, or
  // (`from_history` false) by folding the log from its first event, which
  // shares nothing with the stored views and so checks them. NotFound also
  // when the log ends before `seq`; the common read errors. Holds the whole
  // state: for tools and tests. Any thread; long folds read ahead on a
  // thread of their own.
  Result<TenantState> StateAt(TenantId tenant, Sequence seq,
                              bool from_history = true);
  // The state as it was at time `t` (after the last event at or before it;
  // empty before the first). As StateAt for errors and threads.
  Result<TenantState> StateAtTime(TenantId tenant, Timestamp t);

  // Rebuilds the tenant's views, versions and event index from its log,
  // streaming: the
  // memory it takes follows a batch of events, not the tenant. No command
  // of the tenant may run meanwhile (an offline tool, a migration's target,
  // an upgrade at start). Corruption for an event that does not decode;
  // the common read errors; the write errors of EventLog::WriteRows. Any
  // thread but the log's commit thread.
  Status Rebuild(TenantId tenant);

  // Folds the events from `from` to the head into the views (and the event
  // index), over the views stored (which stand after event from - 1): a residency migration's
  // target folds each batch it imports. Then forgets the tenant's
  // in-memory state. No command of the tenant may run meanwhile. The errors
  // of Rebuild. Any thread but the log's commit thread.
  Status CatchUp(TenantId tenant, Sequence from);
  // The digest of the tenant's current views (TenantState::Digest), which
  // two regions holding the same log agree on. The common read errors.
  // Reads every view: any thread.
  Result<Hash> ViewsDigest(TenantId tenant);
  // The digest of the views as they were after event `seq`, from their
  // versions (TenantState::Digest of StateAt). Reads every view: any
  // thread.
  Result<Hash> DigestAt(TenantId tenant, Sequence seq);
  // The digest of what events (after, until] changed, as it is after
  // `until`: reads only the changed rows (internal::ChangesDigest). Any
  // thread.
  Result<Hash> ChangesDigest(TenantId tenant, Sequence after, Sequence until);

  // The pseudonym standing for `account_id` in the tenant's events, if the
  // tenant has seen it; and the account id behind a pseudonym (nullopt when
  // unknown or erased). The common read errors. Any thread.
  Result<std::optional<std::string>> PseudonymOf(TenantId tenant,
                                                 std::string_view account_id);
  Result<std::optional<std::string>> AccountIdOf(TenantId tenant,
                                                 std::string_view pseudonym);

  // Adds to `writes` the rows that make `pseudonym` stand for `account_id`
  // in the tenant, and to `index` the account's entry in the region's
  // account index (for EventLog::WriteRows): a migration's target keeps the
  // source's pseudonyms. The common read errors.
  Status AddPseudonymRows(TenantId tenant, std::string_view pseudonym,
                          std::string_view account_id,
                          std::vector<storage::ExtraWrite>& writes,
                          std::vector<storage::AccountIndexWrite>& index);

  // For a copy importing its home's log (a migration's target): adds to
  // `writes` and `index` the deletes of the pseudonym rows and index entry
  // of every person a `user.erased` event among `events` erased, if the
  // copy holds them. Corruption for such an event that does not parse; the
  // common read errors.
  Status AddImportedErasures(TenantId tenant,
                             const std::vector<storage::Event>& events,
                             std::vector<storage::ExtraWrite>& writes,
                             std::vector<storage::AccountIndexWrite>& index);

  // Erasing a person from a copy of a tenant that no command writes (a
  // frozen copy kept after a move, an arriving copy): deletes the rows
  // mapping `account_id` to its pseudonym and its account-index entry, in
  // one synced write, appending nothing (the copy's log belongs to its
  // home). Returns the pseudonym erased, or nullopt when the copy holds
  // none. Forgets the tenant's in-memory state. The common read errors;
  // the write errors of EventLog::WriteRows. Any thread but the log's
  // commit thread. Copies that take commands are erased with a
  // CommandType::kEraseUser command instead, which records the erasure in
  // their log.
  Result<std::optional<std::string>> ErasePseudonymRows(
      TenantId tenant, std::string_view account_id);

  // Adds every account the tenant holds a pseudonym for to the region's
  // account index, with unsynced writes (EventLog::MarkAccountIndexBuilt
  // makes them durable): once, for data written before the index existed.
  // Reads all the tenant's pseudonyms. The common read errors; the write
  // errors of EventLog::WriteRows. Any thread.
  Status IndexAccounts(TenantId tenant);

  // A filter over a tenant's events. Each of type, actor (a pseudonym) and
  // entity that is set must match (an entity: an event that changed the
  // view with that id, or the promoted result with that keyword); since and
  // until bound the events' times (both inclusive); only seqs after `after`
  // (a cursor) count.
  struct EventFilter {
    std::optional<std::string> type;
    std::optional<std::string> actor;
    std::optional<std::string> entity;
    std::optional<Timestamp> since;
    std::optional<Timestamp> until;
    Sequence after;
    size_t limit = 100;  // at most the log's max_read_events
  };
  struct EventPage {
    std::vector<storage::Event> items;  // ascending seqs
    std::string next_cursor;            // an `after`; empty on the last page
  };
  // The tenant's events that match `filter`, at most `limit`, answered from
  // the event index (storage/event_index.h): reads the index rows of the
  // chunks in range and then only the matching events. Without type, actor
  // and entity, the log in order between since and until. An unknown value
  // matches nothing. Corruption when an index row does not parse or names
  // an event the log lacks; the common read errors. Sees what is durable.
  // Any thread.
  Result<EventPage> FindEvents(TenantId tenant, const EventFilter& filter);

  // Checks the tenant's event index against its log and change lists (see
  // storage::EventIndex::Verify): a report, ok or naming the first bad row
  // (dimension, chunk, seq range) and counting missing, extra, different
  // and unparsable rows. The common read errors for what stops the walk.
  // Reads the whole log: slow, any thread.
  Result<storage::IndexReport> VerifyIndex(TenantId tenant);
  // Deletes and rewrites the tenant's event index from its log and change
  // lists (the views' versions, which Rebuild also rewrites), synced: what
  // `replay --repair` runs for a bad index. No command of the tenant may
  // run meanwhile. The common read errors; the write errors of
  // EventLog::WriteRows. Any thread but the log's commit thread.
  Status RebuildIndex(TenantId tenant);

  // Drops the in-memory state of `tenant` (after its log was changed by
  // something other than this projector: an import, a purge). Commands in
  // flight for the tenant finish on the old state. Any thread, the commit
  // thread included.
  void Forget(TenantId tenant);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace siteledger::projections
