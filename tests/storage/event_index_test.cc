// The event index's storage: the index family's merge operator (ORs
// serialized roaring bitmaps, refuses bytes that do not parse), the row keys
// (no plaintext) and the chunking of seqs. Real RocksDB in a temp dir.

#include "storage/event_index.h"

#include <roaring/roaring.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "storage/internal/database.h"
#include "storage/internal/keys.h"
#include "tests/storage/rig.h"

namespace siteledger::storage {
namespace {

using testing::Rig;

std::string Bitmap(const std::vector<uint32_t>& values) {
  roaring_bitmap_t* b = roaring_bitmap_create();
  for (uint32_t v : values) roaring_bitmap_add(b, v);
  std::string out(roaring_bitmap_portable_size_in_bytes(b), '\0');
  roaring_bitmap_portable_serialize(b, out.data());
  roaring_bitmap_free(b);
  return out;
}

// The values of a stored bitmap; fails the test when it does not parse.
std::set<uint32_t> Values(const std::string& bytes) {
  roaring_bitmap_t* b =
      roaring_bitmap_portable_deserialize_safe(bytes.data(), bytes.size());
  REQUIRE(b != nullptr);
  CHECK(roaring_bitmap_portable_size_in_bytes(b) == bytes.size());
  std::set<uint32_t> out;
  roaring_uint32_iterator_t* it = roaring_create_iterator(b);
  while (it->has_value) {
    out.insert(it->current_value);
    roaring_advance_uint32_iterator(it);
  }
  roaring_free_uint32_iterator(it);
  roaring_bitmap_free(b);
  return out;
}

void RawMerge(Rig& rig, const std::string& key, const std::string& value) {
  rocksdb::WriteBatch batch;
  REQUIRE(batch.Merge(rig.db->cf(Family::kIndex), key, value).ok());
  REQUIRE(rig.db->WriteSynced(batch).ok());
}

void RawPut(Rig& rig, const std::string& key, const std::string& value) {
  rocksdb::WriteBatch batch;
  REQUIRE(batch.Put(rig.db->cf(Family::kIndex), key, value).ok());
  REQUIRE(rig.db->WriteSynced(batch).ok());
}

void Flush(Rig& rig) {
  REQUIRE(rig.db->db()->Flush({}, rig.db->cf(Family::kIndex)).ok());
}

// Every raw (key, value) of the index family.
std::vector<std::pair<std::string, std::string>> IndexRows(Rig& rig) {
  std::vector<std::pair<std::string, std::string>> rows;
  std::unique_ptr<rocksdb::Iterator> it(
      rig.db->db()->NewIterator({}, rig.db->cf(Family::kIndex)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rows.emplace_back(it->key().ToString(), it->value().ToString());
  }
  REQUIRE(it->status().ok());
  return rows;
}

const std::string kGarbage = "\x3b\x30\x00\x00not a roaring bitmap at all";

TEST_CASE("index merge: several operands read back as their union",
          "[event_index]") {
  Rig rig;
  const TenantId tenant = rig.NewTenant("merge-union");
  const std::string key =
      internal::TenantKey(tenant, "t0123456789abcdef\0\0\0\0");
  const bool flush_between = GENERATE(false, true);
  RawPut(rig, key, Bitmap({1, 2}));
  RawMerge(rig, key, Bitmap({2, 3, 100}));
  if (flush_between) Flush(rig);
  RawMerge(rig, key, Bitmap({65535}));
  RawMerge(rig, key, Bitmap({4000, 1}));
  auto got = rig.db->Get(Family::kIndex, key);
  REQUIRE(got.has_value());
  CHECK(Values(*got) == std::set<uint32_t>{1, 2, 3, 100, 4000, 65535});
  // Merges alone (no base row) and after compaction too.
  const std::string key2 =
      internal::TenantKey(tenant, "t-other-row-key-\0\0\0\1");
  RawMerge(rig, key2, Bitmap({7}));
  RawMerge(rig, key2, Bitmap({9}));
  Flush(rig);
  REQUIRE(rig.db->db()
              ->CompactRange({}, rig.db->cf(Family::kIndex), nullptr, nullptr)
              .ok());
  auto got2 = rig.db->Get(Family::kIndex, key2);
  REQUIRE(got2.has_value());
  CHECK(Values(*got2) == std::set<uint32_t>{7, 9});
  auto again = rig.db->Get(Family::kIndex, key);
  REQUIRE(again.has_value());
  CHECK(Values(*again) == std::set<uint32_t>{1, 2, 3, 100, 4000, 65535});
}

// A row the merge operator poisoned: it reads, but as no whole bitmap.
void CheckPoisoned(Rig& rig, const std::string& key) {
  auto got = rig.db->Get(Family::kIndex, key);
  REQUIRE(got.has_value());
  roaring_bitmap_t* b =
      roaring_bitmap_portable_deserialize_safe(got->data(), got->size());
  CHECK(b == nullptr);
  if (b != nullptr) roaring_bitmap_free(b);
}

TEST_CASE(
    "index merge: a corrupt operand or base row poisons that row only, and "
    "the region keeps writing through flushes and compactions",
    "[event_index]") {
  Rig rig;
  const TenantId tenant = rig.NewTenant("merge-corrupt");
  const std::string key =
      internal::TenantKey(tenant, "t0123456789abcdef\0\0\0\0");
  const bool corrupt_base = GENERATE(false, true);
  if (corrupt_base) {
    RawPut(rig, key, kGarbage);
    RawMerge(rig, key, Bitmap({5}));
  } else {
    RawPut(rig, key, Bitmap({5}));
    RawMerge(rig, key, kGarbage);
  }
  RawMerge(rig, key, Bitmap({6}));
  CheckPoisoned(rig, key);

  // A truncated bitmap (a prefix of a valid one) is refused as well.
  const std::string key2 =
      internal::TenantKey(tenant, "t-truncated-row-\0\0\0\0");
  const std::string whole = Bitmap({1, 2, 3, 40000});
  RawMerge(rig, key2, whole.substr(0, whole.size() - 1));
  RawMerge(rig, key2, Bitmap({8}));
  CheckPoisoned(rig, key2);
  // A valid bitmap with trailing bytes is not a whole bitmap.
  const std::string key3 =
      internal::TenantKey(tenant, "t-trailing-bytes\0\0\0\0");
  RawMerge(rig, key3, whole + "x");
  RawMerge(rig, key3, Bitmap({8}));
  CheckPoisoned(rig, key3);

  // The flush and the compaction that merge them succeed, the rows stay
  // poisoned, and every tenant's appends go on.
  Flush(rig);
  REQUIRE(rig.db->db()
              ->CompactRange({}, rig.db->cf(Family::kIndex), nullptr, nullptr)
              .ok());
  CheckPoisoned(rig, key);
  CheckPoisoned(rig, key3);
  RawMerge(rig, key, Bitmap({9}));
  Flush(rig);
  CheckPoisoned(rig, key);
  const TenantId other = rig.NewTenant("merge-corrupt-other");
  auto appended = rig.log->Append(other, std::nullopt,
                                  {testing::Ev("site.created", "{}")});
  CHECK(appended.has_value());
}

TEST_CASE("index queries: a corrupt row is Corruption, not an empty answer",
          "[event_index]") {
  Rig rig;
  EventIndex index(*rig.log);
  const TenantId tenant = rig.NewTenant("query-corrupt");
  auto appended = rig.log->Append(tenant, std::nullopt,
                                  {testing::Ev("site.created", "{}")});
  REQUIRE(appended.has_value());
  auto prefix =
      index.ValuePrefix(tenant, IndexDimension::kType, "site.created");
  REQUIRE(prefix.has_value());
  const std::string key = internal::TenantKey(tenant, IndexRowKey(*prefix, 0));
  RawPut(rig, key, Bitmap({1}));
  EventIndex::Query q;
  q.all_of = {{*prefix}};
  auto seqs = index.FindSeqs(tenant, q);
  REQUIRE(seqs.has_value());
  REQUIRE(seqs->size() == 1);
  CHECK(seqs->front() == Sequence(1));
  RawMerge(rig, key, kGarbage);
  auto bad = index.FindSeqs(tenant, q);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code() == StatusCode::kCorruption);
  CHECK_THAT(bad.error().message(), Catch::Contains("type"));
}

TEST_CASE("index keys and values hold no type, actor or entity plaintext",
          "[event_index]") {
  Rig rig;
  EventIndex index(*rig.log);
  const TenantId tenant = rig.NewTenant("no-plaintext");
  const std::vector<std::string> types = {"plaintype.alpha", "plaintype.beta"};
  const std::vector<std::string> actors = {"PlainActorOne", "PlainActorTwo"};
  const std::vector<std::string> entities = {"PlainEntityX", "PlainEntityY",
                                             "PlainEntityZ"};
  for (int i = 0; i < 12; ++i) {
    IndexBatch batch;
    const Sequence seq(static_cast<uint64_t>(i + 1));
    REQUIRE(index
                .AddEvent(tenant, seq, types[i % 2], actors[i % 2],
                          {entities[i % 3], entities[(i + 1) % 3]}, batch)
                .ok());
    AppendRequest request;
    request.tenant = tenant;
    request.events = {testing::Ev(types[i % 2], "{}", actors[i % 2])};
    batch.Drain(request.extra_writes);
    auto appended = rig.log->Append(std::move(request));
    INFO((appended ? std::string() : appended.error().message()));
    REQUIRE(appended.has_value());
  }
  const auto rows = IndexRows(rig);
  // 2 types + 2 actors + 3 entities, one chunk.
  CHECK(rows.size() == 7);
  for (const auto& [key, value] : rows) {
    CHECK(key.size() == internal::kTenantPrefixBytes + kIndexRowKeyBytes);
    for (const auto* list : {&types, &actors, &entities}) {
      for (const std::string& plain : *list) {
        INFO(plain);
        CHECK(key.find(plain) == std::string::npos);
        CHECK(value.find(plain) == std::string::npos);
      }
    }
  }
  // Queries answer from those rows.
  auto prefix =
      index.ValuePrefix(tenant, IndexDimension::kEntity, "PlainEntityX");
  REQUIRE(prefix.has_value());
  EventIndex::Query q;
  q.all_of = {{*prefix}};
  auto seqs = index.FindSeqs(tenant, q);
  REQUIRE(seqs.has_value());
  std::vector<Sequence> want;
  for (int i = 0; i < 12; ++i) {
    if (i % 3 == 0 || (i + 1) % 3 == 0)
      want.push_back(Sequence(static_cast<uint64_t>(i + 1)));
  }
  CHECK(*seqs == want);
}

TEST_CASE("index chunks: seqs 65535, 65536 and 65537 land in their chunks",
          "[event_index]") {
  CHECK(IndexChunkOf(Sequence(65535)) == 0);
  CHECK(IndexChunkOf(Sequence(65536)) == 1);
  CHECK(IndexChunkOf(Sequence(65537)) == 1);
  CHECK(IndexChunkFirst(1) == Sequence(65536));
  CHECK(IndexChunkLast(0) == Sequence(65535));
  CHECK(IndexChunkLast(1) == Sequence(131071));

  const std::string prefix = "t" + std::string(kIndexHmacBytes, '\x11');
  IndexBatch batch;
  for (uint64_t s : {1ULL, 65535ULL, 65536ULL, 65537ULL, 131072ULL}) {
    batch.Add(prefix, Sequence(s));
  }
  CHECK(batch.rows() == 3);
  std::vector<ExtraWrite> writes;
  batch.Drain(writes);
  CHECK(batch.empty());
  REQUIRE(writes.size() == 3);
  for (const ExtraWrite& w : writes) {
    CHECK(w.family == Family::kIndex);
    CHECK(w.op == WriteOp::kMerge);
  }
  CHECK(writes[0].key == IndexRowKey(prefix, 0));
  CHECK(writes[0].key == prefix + std::string("\0\0\0\0", 4));
  CHECK(Values(writes[0].value) == std::set<uint32_t>{1, 65535});
  CHECK(writes[1].key == prefix + std::string("\0\0\0\1", 4));
  CHECK(Values(writes[1].value) == std::set<uint32_t>{0, 1});
  CHECK(writes[2].key == prefix + std::string("\0\0\0\2", 4));
  CHECK(Values(writes[2].value) == std::set<uint32_t>{0});
}

}  // namespace
}  // namespace siteledger::storage
