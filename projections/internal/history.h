#pragma once

// Every version of every view, in the snapshots family, so that a view as of
// any seq is one seek and a restore touches only what changed since its
// target:
//
//   'v' · escaped view row key · u64 seq  ->  the view row after event seq
//                                             (EncodeViewRow), or empty: the
//                                             entity did not exist after it
//   'c' · u64 seq                         ->  the view row keys event seq
//                                             changed: (u32 length · key)*
//
// The escaping (0x00 -> 0x00 0xff, then the terminator 0x00 0x01) keeps row
// keys in order and no key a prefix of another, so one entity's versions
// are contiguous and in seq order. See docs/formats.md, section 7.

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "projections/views.h"
#include "storage/event_index.h"
#include "storage/event_log.h"

namespace siteledger::projections::internal {

// Every version row of `row_key` starts with this.
std::string VersionPrefix(std::string_view row_key);
// The row key a version key (the whole key, as VersionKey makes it) belongs
// to; nullopt when it is not a well-formed version key.
std::optional<std::string> RowKeyOfVersion(std::string_view key);
// Adds the row keys of a change list (a ChangeKey's value) to `out`;
// Corruption when the value is malformed.
Status DecodeChanges(std::string_view value, std::set<std::string>& out);
std::string VersionKey(std::string_view row_key, Sequence seq);
std::string ChangeKey(Sequence seq);

// The entity a stored view row belongs to (a promoted row's keyword is in
// its document). Corruption for an unknown kind or a document that does not
// parse.
Result<ViewKey> ViewKeyOfRow(std::string_view row_key, const std::string& row);

// The rows one event changed: row key -> the stored row after it (nullopt:
// deleted).
using ChangedRows = std::map<std::string, std::optional<std::string>>;

// The version rows and the change list that record event `seq`'s changes,
// added to `out`. Nothing when `changed` is empty. Never fails.
void AddVersionWrites(Sequence seq, const ChangedRows& changed,
                      std::vector<storage::ExtraWrite>& out);

// The view rows of `store`'s keys in `keys`, as stored after the change
// (nullopt for a deleted one), keyed by row key. NotFound once the data key
// is destroyed (a promoted row's key is an HMAC).
Result<ChangedRows> RowsOf(const storage::EventLog& log, TenantId tenant,
                           ViewStore& store, const std::set<ViewKey>& keys);

// Reads versions of one tenant's views. One thread at a time; it reads the
// database as it was when made.
class History {
 public:
  static Result<History> Open(const storage::EventLog& log, TenantId tenant);

  // The stored row of `row_key` after event `seq`; nullopt when the entity
  // did not exist then. Corruption for a version that does not open.
  Result<std::optional<std::string>> RowAt(std::string_view row_key,
                                           Sequence seq);

  // Visits the rows whose key starts with `prefix` (a kind's character, or
  // empty for all) and sorts after `start_after` (empty: from the first), as
  // they were after event `seq`, in row key order, until `visit` returns
  // false. Two seeks per entity that ever existed in the range.
  Status ForEachAt(std::string_view prefix, std::string_view start_after,
                   Sequence seq,
                   const std::function<bool(std::string_view row_key,
                                            const std::string& row)>& visit);

  // The row keys changed by events (after, until].
  Result<std::set<std::string>> ChangedBetween(Sequence after, Sequence until);

 private:
  // Moves to the first row after every version of `entity` (a
  // VersionPrefix).
  void SkipPast(const std::string& entity);

  explicit History(std::unique_ptr<storage::RowIterator> it)
      : it_(std::move(it)) {}
  std::unique_ptr<storage::RowIterator> it_;
};

// Makes `store` what it was after event `to`: every row changed by events
// (to, head] takes its version as of `to` (stamped `seq` when its document
// differs from the current one), or goes when it did not exist then; the
// rest already is as it was. `head` is the last event whose versions are
// stored, and `store` must hold the views as of it. The result equals
// RestoreTo with whole states, at a cost that follows the changes since
// `to`. The history's and the store's errors.
Status RestoreFromHistory(const storage::EventLog& log, TenantId tenant,
                          ViewStore& store, Sequence to, Sequence head,
                          Sequence seq);

// A digest of what events (after, until] changed in the views, as they are
// after `until`: each changed entity's (kind, id, stored row), and how many
// of each kind were deleted, in entity order. Two regions that folded the
// same events agree on it; it reads only the changed rows. The history's
// errors.
Result<Hash> ChangesDigest(const storage::EventLog& log, TenantId tenant,
                           Sequence after, Sequence until);

// The entity value the event index keeps for a changed view row: the row
// key without its kind (the entity id; for a promoted result, the hex HMAC
// of its keyword that the row key holds). REQUIRES: !row_key.empty().
inline std::string_view IndexEntityOfRow(std::string_view row_key) {
  return row_key.substr(1);
}

// Visits, for each event in [first, last] that changed views, the row keys
// it changed (from the change lists), in seq order. Corruption for a change
// list that does not decode; the log's errors.
Status ForEachChange(
    const storage::EventLog& log, TenantId tenant, Sequence first,
    Sequence last,
    const std::function<void(Sequence seq, std::string_view row_key)>& visit);

// The entities of the event index (storage::EventIndex::Verify, Rebuild):
// the views each event changed, from the change lists.
storage::EntitySource IndexEntities(const storage::EventLog& log,
                                    TenantId tenant);

// Rebuilds the tenant's views, versions and event index from its log, in
// batches: memory follows a batch, not the tenant. Deletes what the views,
// snapshots and index families hold for the tenant first. No append of the
// tenant may run meanwhile (an offline tool, a migration's target, an upgrade
// at start). Corruption for an event that does not decode; the log's errors.
Status RebuildViews(storage::EventLog& log, const storage::EventIndex& index,
                    TenantId tenant);
// Folds the tenant's events from `from` to its head into the stored views,
// their versions and the event index, over what is stored (the views after
// event from - 1), as RebuildViews does batch by batch. No command of the
// tenant may run meanwhile. The errors of RebuildViews.
Status FoldViews(storage::EventLog& log, const storage::EventIndex& index,
                 TenantId tenant, Sequence from);

}  // namespace siteledger::projections::internal
