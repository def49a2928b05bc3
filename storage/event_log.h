#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/base/clock.h"
#include "storage/base/ids.h"
#include "storage/base/mutex.h"
#include "storage/base/status.h"
#include "storage/envelope.h"
#include "storage/family.h"
#include "storage/key_store.h"

namespace siteledger::storage::internal {
class Database;
}

namespace siteledger::storage {

// An event to append; the log assigns its seq, time and previous hash.
struct NewEvent {
  std::string type;
  std::string actor;
  std::string payload;
};

enum class WriteOp : uint8_t { kPut, kDelete, kMerge };

// A row written atomically with an append. `key` is the part after the
// tenant id, which the log prefixes itself so that no append can touch
// another tenant's rows. Values in encrypted families (IsEncryptedFamily) are
// sealed with the tenant's data key; kIndex merges are stored as given.
// Allowed families: kViews, kSnapshots, kBlobs, kPseudonyms, kIndex.
struct ExtraWrite {
  Family family = Family::kViews;
  WriteOp op = WriteOp::kPut;
  std::string key;
  std::string value;
};

// A change to the region's account index (EventLog::TenantsOfAccount), made
// atomically with an append or a WriteRows: the tenant starts (kPut) or
// stops (kDelete) holding a pseudonym for `account_id`. The index keeps an
// HMAC of the account id under a key derived from the master key, never
// the account id itself.
struct AccountIndexWrite {
  WriteOp op = WriteOp::kPut;  // kPut or kDelete
  std::string account_id;
};

// The end of a tenant's log: the last seq (0 when empty), its time, the
// hash of its envelope (zeros when empty), and the bytes its event rows take
// (keys and sealed values; counted since this field was added, so a head
// written before counts from 0).
struct Head {
  Sequence seq;
  Timestamp time{};
  Hash hash{};
  uint64_t bytes = 0;
};

struct AppendRequest {
  TenantId tenant;
  // When set, the append happens only if the log is at exactly this version.
  std::optional<Sequence> expected_version;
  std::vector<NewEvent> events;
  std::vector<ExtraWrite> extra_writes;
  // Kept with the append, in the same write (not with `imported`).
  std::vector<AccountIndexWrite> account_index;
  // When set, a retry with the same key within 24 h returns the first
  // append's result and writes nothing.
  std::string idempotency_key;
  // Identifies the request behind `idempotency_key`, so that the key reused
  // for a different request is a Conflict rather than a silent replay.
  // Empty: the log hashes the events.
  std::string idempotency_fingerprint;
  // Kept (sealed) with the idempotency record and handed back on a replay:
  // what the caller answered the first time.
  std::string idempotency_response;
  // The events' time. When unset the log uses its clock (never earlier than
  // the tenant's last event). When set it must not be earlier than the
  // tenant's last event (InvalidArgument otherwise): callers that fold views
  // before the append (they need the time) decide it themselves.
  std::optional<Timestamp> time;
  // An import (a residency migration's target): events as another region
  // wrote them, appended as they are, with their seqs, times and
  // idempotency keys, so that every hash is the same. `events`,
  // `expected_version`, `idempotency_key` and `time` must be unset. The
  // first must follow the head (seq and previous hash), each the one
  // before, and times never go back: Conflict otherwise, writing nothing.
  std::vector<Event> imported;
};

struct AppendResult {
  Sequence first;         // seq of the first event appended
  Sequence last;          // seq of the last event appended: the new version
  Timestamp time{};       // the events' time
  bool replayed = false;  // a retry answered from the idempotency record
  std::string response;   // on a replay: the first request's response
};

// A cursor over one tenant's rows of one family (EventLog::NewRowIterator).
// Keys are given and returned without the tenant id. Positioning never
// fails: an invalid cursor says why in status().
class RowIterator {
 public:
  ~RowIterator();
  RowIterator(const RowIterator&) = delete;
  RowIterator& operator=(const RowIterator&) = delete;

  // The first row whose key is at or after `key`.
  void Seek(std::string_view key);
  // The last row whose key is at or before `key`.
  void SeekForPrev(std::string_view key);
  bool Valid() const;
  // REQUIRES: Valid().
  void Next();
  void Prev();
  std::string_view key() const;
  // The row's value, opened with the tenant's data key in an encrypted
  // family. Corruption when it does not open.
  Result<std::string> value() const;
  // Ok, or the error that ended the iteration (IOError, Corruption).
  Status status() const;

 private:
  friend class EventLog;
  struct Rep;
  explicit RowIterator(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

// An idempotency record as a region holds it, opened: what a residency
// migration copies so that a retry at the new home is answered as the old
// home answered it.
struct IdempotencyExport {
  std::string key;  // the Idempotency-Key itself
  int64_t used_ms = 0;
  AppendResult result;  // first, last and time
  Hash fingerprint{};
  std::string response;  // what the caller answered; may be empty
};

// What Verify found: `ok`, or the first seq at which the chain breaks.
struct VerifyReport {
  bool ok = true;
  uint64_t events_checked = 0;
  Sequence first_bad;  // 0 when ok
  std::string problem;
};

// EventLog is the append-only, per-tenant log of changes, kept in RocksDB.
//
// Appends from any number of threads and tenants go through one commit path
// that combines whatever is waiting into a single synced WriteBatch (group
// commit). One tenant's appends are applied in the order they reach the
// commit path, with dense seqs. An append is durable and visible before its
// caller hears of it. Safe for concurrent use: every method may be called
// from any thread, except where it says otherwise. Reads never wait for the
// commit thread; they see what is durable.
//
// Errors common to the reads below: NotFound when the tenant's data key was
// destroyed (its data can no longer be decrypted) or the tenant does not
// exist (no installation record and no data key); Corruption when a stored
// row does not decode or open, or when a registered tenant's data key is
// missing from the key store (a storage fault, never NotFound); IOError when
// RocksDB fails.
class EventLog {
 public:
  struct Options {
    // Most requests and bytes combined into one synced write.
    size_t max_group_requests = 4096;
    size_t max_group_bytes = 32 << 20;
    // Longest the committer waits for the writers of the previous group to
    // come back before it writes a smaller group. Never more than half the
    // time a synced write takes; 0 disables waiting.
    std::chrono::microseconds max_group_wait{200};
    // Most events one Read returns.
    size_t max_read_events = 10000;
    // Most bytes a tenant's event rows may take (Head::bytes): an append
    // that would take the log past it fails with QuotaExceeded and writes
    // nothing. Imported events (a migration's copy, a restore from an
    // export) are counted but never refused. 0: no quota.
    uint64_t tenant_log_quota_bytes = 0;
    // The 32-byte secret key of the account index's HMACs (Store::Open
    // derives it from the master key). Empty: no account index, and every
    // append or write that carries AccountIndexWrites is InvalidArgument.
    std::string account_index_key;
  };

  // `database`, `keys` and `clock` must outlive the log. Starts the commit
  // thread. Any thread.
  EventLog(internal::Database& database, KeyStore& keys, const Clock& clock,
           Options options);
  EventLog(internal::Database& database, KeyStore& keys, const Clock& clock)
      : EventLog(database, keys, clock, Options()) {}
  // Commits what is queued, then stops and joins the commit thread. Appends
  // that arrive meanwhile fail with Unavailable. Must not run on the commit
  // thread (from an AppendAsync callback): it would wait for itself.
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Appends `request.events` (and its extra writes) atomically. Returns the
  // seqs written. Errors, each writing nothing:
  //   InvalidArgument  no events, an event part over its limit, a bad write
  //                    (an account index write without an index key)
  //   Conflict         expected_version is not the log's version (the status
  //                    carries the actual one), or an idempotency key reused
  //                    for a different request
  //   NotFound         the tenant's data key was destroyed, or the tenant
  //                    does not exist
  //   Corruption       a registered tenant's data key is missing from the
  //                    key store, or does not unwrap
  //   QuotaExceeded    the disk is full, the write would eat into the
  //                    disk reserve (StoreOptions::disk_reserve_bytes), or
  //                    the tenant's log would pass its quota
  //                    (Options::tenant_log_quota_bytes)
  //   IOError          the synced write failed
  //   Unavailable      the log is shutting down
  // Blocks until the outcome is durable. Any thread but the commit thread:
  // called from an AppendAsync callback it would wait for itself forever.
  Result<AppendResult> Append(AppendRequest request);
  Result<AppendResult> Append(TenantId tenant,
                              std::optional<Sequence> expected_version,
                              std::vector<NewEvent> events,
                              std::vector<ExtraWrite> extra_writes = {});

  // As Append, but returns at once; `done` runs on the commit thread once the
  // outcome is known (and durable), so it must be quick and must not call
  // back into the log's append methods synchronously. `done` runs exactly
  // once, with the errors Append lists; on shutdown it runs on the calling
  // thread with Unavailable. Any thread, the commit thread included.
  using AppendCallback = std::function<void(Result<AppendResult>)>;
  void AppendAsync(AppendRequest request, AppendCallback done);

  // Blocks until every append queued before the call has completed (its
  // callback returned), so that a caller shutting down knows nothing will
  // call back into it. Appends queued meanwhile are waited for too. Any
  // thread but the commit thread (an AppendAsync callback would wait for
  // itself).
  void WaitForAppends() EXCLUDES(mu_);

  // The tenant's committed head: Head{} (seq 0) for a tenant that never
  // appended, or one the log has no row for. Corruption if the head row is
  // malformed; IOError. Does not need the data key. Any thread; it reads
  // what is durable, so an append still in the commit thread is not in it.
  Result<Head> GetHead(TenantId tenant) const;

  // The recorded result of `idempotency_key` if it was used within 24 h
  // (with its response), or nullopt. Conflict if it was used for a request
  // with another fingerprint (see AppendRequest); the common read errors.
  // Sees committed appends only: an append with the same key still in the
  // commit thread is checked again when it is staged. Any thread.
  Result<std::optional<AppendResult>> LookupIdempotency(
      TenantId tenant, std::string_view idempotency_key,
      std::string_view fingerprint) const;

  // HMAC-SHA-256 of `data` under a key derived from the tenant's data key for
  // `purpose`: stands in for plaintext identifiers (keywords, account ids) in
  // keys. NotFound once the data key is destroyed (or for a tenant that does
  // not exist); Corruption for a registered tenant without a key. Any thread.
  Result<Hash> TenantHmac(TenantId tenant, std::string_view purpose,
                          std::string_view data) const;
  // The key TenantHmac uses for `purpose`: HmacSha256(key, data) equals
  // TenantHmac(tenant, purpose, data). For callers that MAC many values of
  // one tenant and keep the key as long as they keep the tenant's other
  // state. TenantHmac's errors.
  Result<Hash> TenantHmacKey(TenantId tenant, std::string_view purpose) const;

  // Up to `max_events` (capped by Options::max_read_events) of the tenant's
  // events from seq `from` on, payloads decrypted. Empty past the head.
  // The common read errors, with the failing event's seq in the message.
  // Any thread.
  Result<std::vector<Event>> Read(TenantId tenant, Sequence from,
                                  size_t max_events) const;

  // The events of `seqs` (ascending, each at most the head), payloads
  // decrypted, in the order given: one batched point read, for an index
  // that names the events to show. NotFound also for a seq the log does not
  // hold; otherwise the common read errors, with the failing event's seq in
  // the message. InvalidArgument for more than Options::max_read_events.
  // Any thread.
  Result<std::vector<Event>> ReadSeqs(TenantId tenant,
                                      const std::vector<Sequence>& seqs) const;

  // The seq of the last event whose time is at or before `t`; Sequence(0)
  // if the first event is later (or the log is empty). Reads no payload, so
  // it works without the data key; Corruption or IOError for an envelope it
  // cannot read. Any thread.
  Result<Sequence> SequenceAt(TenantId tenant, Timestamp t) const;

  // Writes rows outside an append, sealed as an append's extra writes are
  // (same families; merges only in kIndex), and `account_index` with them in
  // one atomic write: for a rebuild of a tenant's views, which no append of the
  // tenant may race, a migration's imported pseudonyms, or the erasure of
  // a frozen copy's. `sync`: wait until they are on disk (an unsynced write
  // is made durable by the next synced one). InvalidArgument for a family
  // or write an append may not make; NotFound once the data key is
  // destroyed (deletes need no key); QuotaExceeded as Append; IOError. Any
  // thread but the commit thread when `sync`.
  Status WriteRows(TenantId tenant, const std::vector<ExtraWrite>& writes,
                   bool sync,
                   const std::vector<AccountIndexWrite>& account_index = {});
  // Deletes every row of the tenant in `family` (kViews, kSnapshots or
  // kIndex: what a rebuild writes again), with a synced write.
  // InvalidArgument for another family; IOError. Any thread but the commit
  // thread.
  Status DeleteTenantRows(TenantId tenant, Family family);

  // A row written through ExtraWrite, decrypted; nullopt if absent. The
  // common read errors (NotFound only for the data key: an absent row is
  // nullopt). Any thread.
  Result<std::optional<std::string>> GetRow(TenantId tenant, Family family,
                                            std::string_view key) const;
  // Rows whose key (after the tenant id) starts with `prefix` and sorts after
  // `start_after`, in key order, at most `limit`; keys without the tenant id.
  // The common read errors. Any thread.
  Result<std::vector<std::pair<std::string, std::string>>> ScanRows(
      TenantId tenant, Family family, std::string_view prefix,
      std::string_view start_after, size_t limit) const;

  // A cursor over the tenant's rows of `family` in key order, reading the
  // database as it was when the cursor was made. NotFound once the data key
  // of an encrypted family is destroyed; the common read errors. Any
  // thread; the cursor itself is for one thread at a time and must not
  // outlive the log.
  Result<std::unique_ptr<RowIterator>> NewRowIterator(TenantId tenant,
                                                      Family family) const;

  // The record of `idempotency_key` if it is still within its 24 hours,
  // with its response opened; nullopt otherwise. The common read errors.
  // Any thread.
  Result<std::optional<IdempotencyExport>> ExportIdempotency(
      TenantId tenant, std::string_view idempotency_key) const;
  // Writes records exported by another region, sealed under this tenant's
  // key, unsynced (the import's synced append that follows makes them
  // durable). NotFound once the data key is destroyed; IOError. Any thread.
  Status ImportIdempotency(TenantId tenant,
                           const std::vector<IdempotencyExport>& records);

  // Walks the tenant's whole log: dense seqs, every payload opens (so no byte
  // of any envelope was altered), every previous hash matches, and the head
  // matches the last event. A broken chain is a report with ok == false,
  // not an error; errors are the common read errors for what stops the walk
  // itself (the data key destroyed, RocksDB failing). Reads the whole log:
  // slow, any thread.
  Result<VerifyReport> Verify(TenantId tenant) const;

  // The region's account index, kept by AccountIndexWrites. The tenants
  // that hold a pseudonym for `account_id`, in id order: found by one
  // prefix scan, whatever the number of tenants. InvalidArgument without
  // an index key; IOError. Any thread.
  Result<std::vector<TenantId>> TenantsOfAccount(
      std::string_view account_id) const;
  // Deletes every index entry of the tenant (synced), and returns how many
  // there were: its purge, which cannot read its pseudonyms any more. Needs
  // no data key. IOError, QuotaExceeded. Any thread.
  Result<uint64_t> DropAccountIndex(TenantId tenant);
  // Whether the index holds every tenant's accounts: false until
  // MarkAccountIndexBuilt, on data written before the index existed (its
  // tenants are indexed once, at start). IOError, Corruption. Any thread.
  Result<bool> AccountIndexBuilt() const;
  // Records (synced) that every tenant's accounts are indexed, which also
  // makes unsynced WriteRows before it durable. IOError. Any thread.
  Status MarkAccountIndexBuilt();

  struct Stats {
    uint64_t groups = 0;    // synced writes
    uint64_t requests = 0;  // appends committed (including replays)
    uint64_t events = 0;    // events written
    // Group sizes in requests: buckets 1, 2-3, 4-7, ..., 2048+.
    std::array<uint64_t, 12> group_size_histogram{};
    // The synced writes' durations (the WAL write and its fsync): counts in
    // buckets up to kSyncBucketsSeconds[i] (not cumulative), the last one
    // everything slower, and their sum.
    static constexpr std::array<double, 12> kSyncBucketsSeconds = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
        0.01,   0.025,   0.05,   0.1,   0.25,   1.0};
    std::array<uint64_t, 13> sync_histogram{};
    double sync_seconds_sum = 0;
    // Appends accepted and not yet answered: waiting for a group, or in the
    // one being written.
    uint64_t queue_depth = 0;
  };
  // Counters since the log was opened. Any thread; never fails.
  Stats stats() const;

 private:
  struct Pending;
  struct GroupState;

  void Enqueue(std::unique_ptr<Pending> pending) EXCLUDES(mu_);
  void CommitLoop() EXCLUDES(mu_);
  void WriteGroup(std::vector<std::unique_ptr<Pending>>& group,
                  GroupState& state);
  static void Complete(Pending& pending, Result<AppendResult> result);
  void NotifyCompletions();
  void Stage(Pending& pending, GroupState& group);
  Result<Head> LoadHead(TenantId tenant);
  Result<std::shared_ptr<const AeadKey>> KeyFor(TenantId tenant) const;
  // The account index's HMAC of `account_id`; InvalidArgument without a
  // key.
  Result<Hash> AccountHmac(std::string_view account_id) const;
  // The rows (full tenants-family keys, and whether deleted) that
  // `writes` make for `tenant`; InvalidArgument for a bad write.
  Result<std::vector<std::pair<std::string, bool>>> AccountIndexRows(
      TenantId tenant, const std::vector<AccountIndexWrite>& writes) const;

  internal::Database& db_;
  KeyStore& keys_;
  const Clock& clock_;
  const Options options_;

  Mutex mu_;
  CondVar cv_;
  std::deque<std::unique_ptr<Pending>> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  // Appends queued and not yet completed; `idle_` is signalled as it falls.
  uint64_t outstanding_ GUARDED_BY(mu_) = 0;
  CondVar idle_;
  // Bumped (and waited on by blocking appends) after every group.
  std::atomic<uint32_t> completion_epoch_{0};

  // Committed heads of tenants the commit thread has seen. Commit thread only.
  std::unordered_map<TenantId, Head> heads_;

  std::atomic<uint64_t> stat_groups_{0};
  std::atomic<uint64_t> stat_requests_{0};
  std::atomic<uint64_t> stat_events_{0};
  std::array<std::atomic<uint64_t>, 12> stat_histogram_{};
  std::array<std::atomic<uint64_t>, 13> stat_sync_histogram_{};
  std::atomic<uint64_t> stat_sync_nanos_{0};
  std::atomic<uint64_t> stat_queue_depth_{0};

  std::thread committer_;  // last: starts after everything above exists
};

}  // namespace siteledger::storage
