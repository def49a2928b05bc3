#include "storage/event_index.h"

#include <roaring/roaring.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "storage/base/coding.h"
#include "storage/crypto.h"
#include "storage/internal/bitmap_rows.h"

namespace siteledger::storage {

namespace {

constexpr std::string_view kPurpose = "event-index";

// A roaring bitmap owned by one scope.
struct Bitmap {
  roaring_bitmap_t* b = nullptr;
  Bitmap() : b(roaring_bitmap_create()) {}
  explicit Bitmap(roaring_bitmap_t* p) : b(p) {}
  Bitmap(Bitmap&& o) noexcept : b(std::exchange(o.b, nullptr)) {}
  Bitmap& operator=(Bitmap&& o) noexcept {
    std::swap(b, o.b);
    return *this;
  }
  Bitmap(const Bitmap&) = delete;
  ~Bitmap() {
    if (b != nullptr) roaring_bitmap_free(b);
  }
};

std::string Serialize(const Bitmap& bitmap) {
  roaring_bitmap_run_optimize(bitmap.b);
  std::string out(roaring_bitmap_portable_size_in_bytes(bitmap.b), '\0');
  roaring_bitmap_portable_serialize(bitmap.b, out.data());
  return out;
}

// Parses a stored row with CRoaring's size-checked reader; nullopt when the
// bytes are not exactly one portable bitmap.
std::optional<Bitmap> Parse(std::string_view bytes) {
  roaring_bitmap_t* b = internal::ParsePortableBitmap(bytes);
  if (b == nullptr) return std::nullopt;
  return Bitmap(b);
}

uint32_t ChunkOfKey(std::string_view row_key) {
  uint32_t v = 0;
  for (size_t i = kIndexValuePrefixBytes; i < kIndexRowKeyBytes; ++i) {
    v = (v << 8) | static_cast<uint8_t>(row_key[i]);
  }
  return v;
}

// "type row 3fa4c2d1, chunk 2 (seqs 131072-196607)": names a row without
// its value, which only the HMAC stands for.
std::string RowName(std::string_view row_key) {
  if (row_key.size() != kIndexRowKeyBytes) {
    return "a row with a malformed key (" + std::to_string(row_key.size()) +
           " bytes)";
  }
  const uint32_t chunk = ChunkOfKey(row_key);
  return std::string(IndexDimensionName(row_key[0])) + " row " +
         ToHex(row_key.substr(1, 4)) + ", chunk " + std::to_string(chunk) +
         " (seqs " + std::to_string(IndexChunkFirst(chunk).value()) + "-" +
         std::to_string(IndexChunkLast(chunk).value()) + ")";
}

Status Unparsable(std::string_view row_key) {
  return Status::Corruption("the event index's " + RowName(row_key) +
                            " is not a valid bitmap; run `siteledger replay "
                            "--repair`");
}

}  // namespace

std::string IndexRowKey(std::string_view value_prefix, uint32_t chunk) {
  std::string key(value_prefix);
  coding::PutU32(key, chunk);
  return key;
}

std::string_view IndexDimensionName(char dimension) {
  switch (static_cast<IndexDimension>(dimension)) {
    case IndexDimension::kType:
      return "type";
    case IndexDimension::kActor:
      return "actor";
    case IndexDimension::kEntity:
      return "entity";
  }
  return "unknown";
}

struct IndexBatch::Rep {
  std::map<std::string, Bitmap> rows;
};

IndexBatch::IndexBatch() : rep_(std::make_unique<Rep>()) {}
IndexBatch::~IndexBatch() = default;
IndexBatch::IndexBatch(IndexBatch&&) noexcept = default;
IndexBatch& IndexBatch::operator=(IndexBatch&&) noexcept = default;

void IndexBatch::Add(std::string_view value_prefix, Sequence seq) {
  std::string key = IndexRowKey(value_prefix, IndexChunkOf(seq));
  auto it = rep_->rows.find(key);
  if (it == rep_->rows.end()) {
    it = rep_->rows.emplace(std::move(key), Bitmap()).first;
  }
  roaring_bitmap_add(it->second.b, static_cast<uint32_t>(seq.value() & 0xFFFF));
}

bool IndexBatch::empty() const { return rep_->rows.empty(); }
size_t IndexBatch::rows() const { return rep_->rows.size(); }

void IndexBatch::Drain(std::vector<ExtraWrite>& out) {
  for (auto& [key, bitmap] : rep_->rows) {
    out.push_back({Family::kIndex, WriteOp::kMerge, key, Serialize(bitmap)});
  }
  rep_->rows.clear();
}

EventIndex::EventIndex(EventLog& log, size_t max_cached_values)
    : log_(log), max_cached_values_(max_cached_values) {}
EventIndex::~EventIndex() = default;

Result<std::string> EventIndex::ValuePrefix(TenantId tenant,
                                            IndexDimension dimension,
                                            std::string_view value) const {
  std::string cache_key(1, static_cast<char>(dimension));
  cache_key += value;
  std::optional<Hash> key;
  {
    MutexLock lock(mu_);
    auto t = cache_.find(tenant);
    if (t != cache_.end()) {
      auto v = t->second.values.find(cache_key);
      if (v != t->second.values.end()) return v->second;
      key = t->second.key;
    }
  }
  if (!key) {
    // One derivation per tenant kept, not one per value.
    auto derived = log_.TenantHmacKey(tenant, kPurpose);
    if (!derived) return Err(derived.error());
    key = *derived;
  }
  // The HMAC covers the dimension too, so one value in two dimensions
  // gives unrelated keys.
  const Hash mac = HmacSha256(
      std::string_view(reinterpret_cast<const char*>(key->data()), key->size()),
      cache_key);
  std::string prefix(1, static_cast<char>(dimension));
  prefix.append(reinterpret_cast<const char*>(mac.data()), kIndexHmacBytes);
  MutexLock lock(mu_);
  if (cached_ >= max_cached_values_) {
    cache_.clear();
    cached_ = 0;
  }
  TenantCache& t = cache_[tenant];
  t.key = *key;
  if (t.values.emplace(std::move(cache_key), prefix).second) ++cached_;
  return prefix;
}

Status EventIndex::AddEvent(TenantId tenant, Sequence seq,
                            std::string_view type, std::string_view actor,
                            const std::vector<std::string>& entities,
                            IndexBatch& batch) const {
  auto t = ValuePrefix(tenant, IndexDimension::kType, type);
  if (!t) return t.error();
  batch.Add(*t, seq);
  if (!actor.empty()) {
    auto a = ValuePrefix(tenant, IndexDimension::kActor, actor);
    if (!a) return a.error();
    batch.Add(*a, seq);
  }
  for (const std::string& entity : entities) {
    if (entity.empty()) continue;
    auto e = ValuePrefix(tenant, IndexDimension::kEntity, entity);
    if (!e) return e.error();
    batch.Add(*e, seq);  // a repeated entity adds the same bit again
  }
  return Status::Ok();
}

void EventIndex::Forget(TenantId tenant) {
  MutexLock lock(mu_);
  auto it = cache_.find(tenant);
  if (it == cache_.end()) return;
  cached_ -= it->second.values.size();
  cache_.erase(it);
}

Result<std::vector<Sequence>> EventIndex::FindSeqs(TenantId tenant,
                                                   const Query& query) const {
  std::vector<Sequence> out;
  if (query.all_of.empty()) {
    return Err(Status::InvalidArgument("an index query needs a filter"));
  }
  auto head = log_.GetHead(tenant);
  if (!head) return Err(head.error());
  const Sequence first = std::max(query.first, Sequence(1));
  const Sequence last = std::min(query.last, head->seq);
  if (first > last) return out;
  const size_t want = query.limit + 1;
  for (uint32_t chunk = IndexChunkOf(first);; ++chunk) {
    // AND over the groups of (OR over each group's values), stopping at the
    // first empty group: a missing row costs one Bloom-filtered lookup.
    std::optional<Bitmap> acc;
    for (const std::vector<std::string>& group : query.all_of) {
      Bitmap any;
      for (const std::string& prefix : group) {
        const std::string key = IndexRowKey(prefix, chunk);
        auto row = log_.GetRow(tenant, Family::kIndex, key);
        if (!row) {
          if (row.error().code() == StatusCode::kCorruption) {
            return Err(Unparsable(key));
          }
          return Err(row.error());
        }
        if (!*row) continue;
        auto bitmap = Parse(**row);
        if (!bitmap) return Err(Unparsable(key));
        roaring_bitmap_or_inplace(any.b, bitmap->b);
      }
      if (acc) {
        roaring_bitmap_and_inplace(acc->b, any.b);
      } else {
        acc = std::move(any);
      }
      if (roaring_bitmap_is_empty(acc->b)) break;
    }
    const uint64_t base = IndexChunkFirst(chunk).value();
    roaring_uint32_iterator_t* it = roaring_create_iterator(acc->b);
    while (it->has_value && out.size() < want) {
      const Sequence seq(base + it->current_value);
      if (seq > last) break;
      if (seq >= first) out.push_back(seq);
      roaring_advance_uint32_iterator(it);
    }
    roaring_free_uint32_iterator(it);
    if (out.size() >= want || chunk == IndexChunkOf(last)) break;
  }
  return out;
}

Result<EventIndex::Page> EventIndex::Find(TenantId tenant,
                                          const Query& query) const {
  auto seqs = FindSeqs(tenant, query);
  if (!seqs) return Err(seqs.error());
  Page page;
  if (seqs->size() > query.limit) {
    seqs->resize(query.limit);
    page.next_after = seqs->back();
  }
  auto events = log_.ReadSeqs(tenant, *seqs);
  if (!events) {
    // The tenant exists (its HMACs were made): a seq the log lacks is the
    // index's fault.
    if (events.error().code() == StatusCode::kNotFound &&
        events.error().message().find("not in the log") != std::string::npos) {
      return Err(Status::Corruption("the event index names " +
                                    events.error().message()));
    }
    return Err(events.error());
  }
  page.events = std::move(*events);
  return page;
}

Status EventIndex::ChunkRows(TenantId tenant, uint32_t chunk, Sequence head,
                             const EntitySource& entities, IndexBatch& batch,
                             uint64_t& events) const {
  const Sequence first = std::max(IndexChunkFirst(chunk), Sequence(1));
  const Sequence last = std::min(IndexChunkLast(chunk), head);
  if (first > last) return Status::Ok();
  for (Sequence from = first; from <= last;) {
    auto read = log_.Read(tenant, from, last.value() - from.value() + 1);
    if (!read) return read.error();
    if (read->empty()) break;
    for (const Event& e : *read) {
      if (e.seq > last) break;
      SL_RETURN_IF_ERROR(AddEvent(tenant, e.seq, e.type, e.actor, {}, batch));
      ++events;
    }
    from = read->back().seq.next();
  }
  Status failed = Status::Ok();
  SL_RETURN_IF_ERROR(
      entities(first, last, [&](Sequence seq, std::string_view value) {
        if (!failed.ok() || value.empty()) return;
        auto e = ValuePrefix(tenant, IndexDimension::kEntity, value);
        if (!e) {
          failed = e.error();
          return;
        }
        batch.Add(*e, seq);
      }));
  return failed;
}

Result<IndexReport> EventIndex::Verify(TenantId tenant,
                                       const EntitySource& entities) const {
  IndexReport report;
  auto head = log_.GetHead(tenant);
  if (!head) return Err(head.error());
  auto note = [&report](uint64_t& counter, std::string_view key,
                        std::string_view what) {
    ++counter;
    if (report.ok)
      report.first_problem = RowName(key) + ": " + std::string(what);
    report.ok = false;
  };
  // Row keys expected, kept (21 bytes each) to find the extra rows after.
  std::set<std::string> expected_keys;
  if (head->seq.value() > 0) {
    for (uint32_t chunk = 0; chunk <= IndexChunkOf(head->seq); ++chunk) {
      IndexBatch batch;
      SL_RETURN_ERR_IF_ERROR(ChunkRows(tenant, chunk, head->seq, entities,
                                       batch, report.events_checked));
      for (auto& [key, want] : batch.rep_->rows) {
        ++report.rows_checked;
        expected_keys.insert(key);
        auto row = log_.GetRow(tenant, Family::kIndex, key);
        if (!row) {
          if (row.error().code() != StatusCode::kCorruption) {
            return Err(row.error());
          }
          note(report.unparsable, key, "not a valid bitmap");
          continue;
        }
        if (!*row) {
          note(report.missing, key, "missing");
          continue;
        }
        auto got = Parse(**row);
        if (!got) {
          note(report.unparsable, key, "not a valid bitmap");
          continue;
        }
        if (!roaring_bitmap_equals(got->b, want.b)) {
          note(report.different, key,
               "holds " +
                   std::to_string(roaring_bitmap_get_cardinality(got->b)) +
                   " seqs, the log implies " +
                   std::to_string(roaring_bitmap_get_cardinality(want.b)));
        }
      }
    }
  }
  auto it = log_.NewRowIterator(tenant, Family::kIndex);
  if (!it) return Err(it.error());
  for ((*it)->Seek(""); (*it)->Valid(); (*it)->Next()) {
    const std::string key((*it)->key());
    if (expected_keys.contains(key)) continue;
    ++report.rows_checked;
    note(report.extra, key, "not implied by the log");
  }
  if (Status s = (*it)->status(); !s.ok()) {
    // A merge that fails while iterating stops the walk: the row it stopped
    // at is unparsable, and it was reported above unless it is extra.
    if (s.code() != StatusCode::kCorruption) return Err(s);
    if (report.ok) {
      note(report.unparsable, "", "a row does not merge: " + s.message());
    }
  }
  return report;
}

Status EventIndex::Rebuild(TenantId tenant, const EntitySource& entities) {
  auto head = log_.GetHead(tenant);
  if (!head) return head.error();
  EventLog& log = log_;
  SL_RETURN_IF_ERROR(log.DeleteTenantRows(tenant, Family::kIndex));
  if (head->seq.value() == 0) return Status::Ok();
  uint64_t events = 0;
  for (uint32_t chunk = 0; chunk <= IndexChunkOf(head->seq); ++chunk) {
    IndexBatch batch;
    SL_RETURN_IF_ERROR(
        ChunkRows(tenant, chunk, head->seq, entities, batch, events));
    std::vector<ExtraWrite> writes;
    batch.Drain(writes);
    // Unsynced: the synced write below makes every chunk durable.
    if (!writes.empty()) {
      SL_RETURN_IF_ERROR(log.WriteRows(tenant, writes, false));
    }
  }
  return log.WriteRows(tenant, {}, true);
}

}  // namespace siteledger::storage
