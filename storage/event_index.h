#pragma once

// The bitmap index of a tenant's events: for each event type, actor
// pseudonym and entity id, the seqs of the events that carry it, as CRoaring
// bitmaps in the index family. See docs/formats.md, "The index family".
//
//   row key (after the tenant id) =
//     dimension (u8: 't' type, 'a' actor, 'e' entity)
//     | 16 bytes: HMAC-SHA-256 of the value under the tenant's "event-index"
//       key (EventLog::TenantHmac), truncated
//     | u32 BE chunk = seq >> 16
//   value = a 32-bit roaring bitmap (portable format) of seq & 0xFFFF
//
// Chunking keeps every bitmap to one container (at most 8 KiB) and lets a
// seq range read only the chunks it covers. Rows are written with merges
// that the family's operator ORs; a row that does not parse is Corruption
// wherever it is read, never an empty bitmap. Nothing here knows an event
// type or a view: callers name the values.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/base/ids.h"
#include "storage/base/mutex.h"
#include "storage/base/status.h"
#include "storage/event_log.h"

namespace siteledger::storage {

enum class IndexDimension : char {
  kType = 't',
  kActor = 'a',
  kEntity = 'e',
};

inline constexpr int kIndexChunkBits = 16;
inline constexpr size_t kIndexHmacBytes = 16;
// Dimension byte and truncated HMAC: the part of a row key before the chunk.
inline constexpr size_t kIndexValuePrefixBytes = 1 + kIndexHmacBytes;
inline constexpr size_t kIndexRowKeyBytes = kIndexValuePrefixBytes + 4;

// The chunk that holds `seq`, and the first and last seq a chunk can hold.
// Pure, any thread.
inline uint32_t IndexChunkOf(Sequence seq) {
  return static_cast<uint32_t>(seq.value() >> kIndexChunkBits);
}
inline Sequence IndexChunkFirst(uint32_t chunk) {
  return Sequence(uint64_t{chunk} << kIndexChunkBits);
}
inline Sequence IndexChunkLast(uint32_t chunk) {
  return Sequence(((uint64_t{chunk} + 1) << kIndexChunkBits) - 1);
}
// The row key of a value prefix's chunk. Pure, any thread.
std::string IndexRowKey(std::string_view value_prefix, uint32_t chunk);
// "type", "actor", "entity" ("unknown" otherwise). Pure, any thread.
std::string_view IndexDimensionName(char dimension);

// Index rows being gathered for a write: (row key -> bitmap), so that any
// number of events of one row become one merge. Not safe for concurrent use.
class IndexBatch {
 public:
  IndexBatch();
  ~IndexBatch();
  IndexBatch(IndexBatch&&) noexcept;
  IndexBatch& operator=(IndexBatch&&) noexcept;

  // Adds `seq` to the row of `value_prefix` (EventIndex::ValuePrefix).
  void Add(std::string_view value_prefix, Sequence seq);
  bool empty() const;
  // Row keys gathered.
  size_t rows() const;
  // Moves the rows out as kIndex merges (one per row, in key order) added
  // to `out`, and empties the batch.
  void Drain(std::vector<ExtraWrite>& out);

 private:
  friend class EventIndex;
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// What VerifyIndex found. `ok` when every row the log implies is stored with
// exactly its seqs and no other row exists.
struct IndexReport {
  bool ok = true;
  uint64_t events_checked = 0;
  uint64_t rows_checked = 0;  // expected rows compared, plus extra rows
  uint64_t missing = 0;       // expected, not stored
  uint64_t extra = 0;         // stored, not expected
  uint64_t different = 0;     // stored with other seqs
  uint64_t unparsable = 0;    // stored, not a whole roaring bitmap
  // The first bad row: "<dimension> row <hmac prefix>, chunk N (seqs A-B):
  // <what>"; empty when ok.
  std::string first_problem;
};

// Visits the entity values of the events in [first, last], in any order:
// `visit(seq, value)` once per (event, entity). Supplied by whoever knows
// what an event touches (projections: the views each event changed).
using EntityVisitor = std::function<void(Sequence seq, std::string_view value)>;
using EntitySource =
    std::function<Status(Sequence first, Sequence last, const EntityVisitor&)>;

// EventIndex derives index keys (with a bounded cache of HMACs per tenant,
// so an append's key costs no HMAC once the value was seen), builds rows,
// answers queries and checks or rebuilds a tenant's rows. Safe for
// concurrent use; queries read what is durable.
//
// Errors common to the methods below: those of EventLog::TenantHmac
// (NotFound once the data key is destroyed), Corruption when an index row
// does not parse (naming its dimension and chunk) or names an event the log
// does not hold, IOError.
class EventIndex {
 public:
  // `log` must outlive the index. `max_cached_values`: the most HMACs kept,
  // all tenants together (the cache is emptied when it would pass).
  explicit EventIndex(EventLog& log, size_t max_cached_values = 65536);
  ~EventIndex();
  EventIndex(const EventIndex&) = delete;
  EventIndex& operator=(const EventIndex&) = delete;

  // The dimension byte and truncated HMAC of `value` for `tenant`.
  Result<std::string> ValuePrefix(TenantId tenant, IndexDimension dimension,
                                  std::string_view value) const EXCLUDES(mu_);

  // Adds event `seq`'s rows to `batch`: its type, its actor (none when
  // empty: a system event), and each of `entities` (duplicates and empty
  // values are skipped).
  Status AddEvent(TenantId tenant, Sequence seq, std::string_view type,
                  std::string_view actor,
                  const std::vector<std::string>& entities,
                  IndexBatch& batch) const;

  // Drops the cached HMACs of `tenant` (after a purge). Any thread.
  void Forget(TenantId tenant) EXCLUDES(mu_);

  // A query: events in [first, last] with seq > after that carry, for each
  // group of `all_of`, at least one of the group's value prefixes. REQUIRES:
  // all_of is not empty and no group is.
  struct Query {
    std::vector<std::vector<std::string>> all_of;
    Sequence first{1};
    Sequence last{UINT64_MAX};
    size_t limit = 100;  // at most EventLog::Options::max_read_events
  };
  struct Page {
    std::vector<Event> events;  // ascending seqs
    // The seq to pass as `first` - 1 for the next page; 0 when this is the
    // last page.
    Sequence next_after;
  };
  // The matching seqs, ascending, at most `limit` + 1 (the extra one tells
  // that more follow). Reads only the chunks in range, one row per group
  // member and chunk; reads no event.
  Result<std::vector<Sequence>> FindSeqs(TenantId tenant,
                                         const Query& query) const;
  // FindSeqs, then reads only the matching events (EventLog::ReadSeqs).
  Result<Page> Find(TenantId tenant, const Query& query) const;

  // Rebuilds the rows the log implies, chunk by chunk, and compares them
  // with the stored rows both ways. A bad index is a report with ok ==
  // false, not an error; errors are for what stops the walk (the data key
  // destroyed, a log that does not read, `entities` failing). Memory follows
  // one chunk of events plus a set of row keys. Reads the whole log: slow,
  // any thread.
  Result<IndexReport> Verify(TenantId tenant,
                             const EntitySource& entities) const;
  // Deletes the tenant's rows and writes them again from the log, chunk by
  // chunk (memory follows a chunk), synced at the end. No append of the
  // tenant may run meanwhile. The errors of Verify, and those of
  // EventLog::WriteRows. Any thread but the log's commit thread.
  Status Rebuild(TenantId tenant, const EntitySource& entities);

 private:
  // The rows of the events in chunk `chunk` up to `head`, into `batch`.
  Status ChunkRows(TenantId tenant, uint32_t chunk, Sequence head,
                   const EntitySource& entities, IndexBatch& batch,
                   uint64_t& events) const;

  EventLog& log_;
  const size_t max_cached_values_;
  mutable Mutex mu_;
  mutable size_t cached_ GUARDED_BY(mu_) = 0;
  struct TenantCache {
    Hash key{};  // EventLog::TenantHmacKey for the index
    // dimension byte + value -> value prefix
    std::unordered_map<std::string, std::string> values;
  };
  mutable std::unordered_map<TenantId, TenantCache> cache_ GUARDED_BY(mu_);
};

}  // namespace siteledger::storage
