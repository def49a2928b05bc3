#include <rocksdb/db.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <thread>

#include "storage/event_index.h"
#include "storage/internal/database.h"
#include "storage/internal/keys.h"
#include "storage/store.h"
#include "tests/common/temp_dir.h"
#include "tests/storage/rig.h"

namespace siteledger::storage {
namespace {

// A region in a temporary folder, opened through Store::Open.
struct Region {
  testing::TempDir dir;
  TestClock clock{TimestampFromMillis(1'790'000'000'000)};
  std::unique_ptr<Store> store;

  std::filesystem::path data() const { return dir / "us"; }
  std::filesystem::path keys() const { return dir / "us.keys"; }

  Region() {
    StoreOptions options;
    options.data = data();
    options.clock = &clock;
    auto opened = Store::Open(options);
    INFO((opened ? std::string() : opened.error().ToString()));
    REQUIRE(opened.has_value());
    store = std::move(*opened);
  }

  TenantId Install(const std::string& client_key) {
    auto installed = store->registry().Install(
        {client_key, "https://" + client_key + ".example", "secret"});
    REQUIRE(installed.has_value());
    return installed->record.id;
  }
};

// What one tenant wrote: row keys (without the tenant id) and plaintexts.
struct Written {
  std::vector<std::string> payloads;  // by seq - 1
  std::map<std::pair<Family, std::string>, std::string> rows;
};

constexpr Family kRowFamilies[] = {Family::kViews, Family::kSnapshots,
                                   Family::kBlobs, Family::kPseudonyms};

// Appends three events, each with a row in views, snapshots, blobs (over
// min_blob_size, so in a blob file once flushed) and pseudonyms, all marked
// with `tag` and `round`.
void Fill(Store& store, TenantId tenant, const std::string& tag, int round,
          Written& written) {
  for (int i = 0; i < 3; ++i) {
    const std::string id =
        tag + "-" + std::to_string(round) + "-" + std::to_string(i);
    std::vector<ExtraWrite> writes;
    for (Family family : kRowFamilies) {
      ExtraWrite w;
      w.family = family;
      w.key = std::string(1, 'k') + id;
      w.value = "row of " + std::string(FamilyName(family)) + " " + id;
      if (family == Family::kBlobs) w.value += std::string(8192, 'b');
      written.rows[{family, w.key}] = w.value;
      writes.push_back(std::move(w));
    }
    std::string payload = "{\"secret\":\"payload " + id + "\"}";
    written.payloads.push_back(payload);
    auto appended = store.log().Append(tenant, std::nullopt,
                                       {NewEvent{"item.set", "u_1", payload}},
                                       std::move(writes));
    INFO((appended ? std::string() : appended.error().ToString()));
    REQUIRE(appended.has_value());
  }
}

// The rows as stored, read by a read-only RocksDB instance beside the live
// store (a secondary instance of RocksDB 7.8 crashes reading blob files):
// family -> key (with the tenant id) -> value.
std::map<Family, std::map<std::string, std::string>> RawRows(
    Region& region, TenantId tenant, const Written& written) {
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(),
                                          region.data().string(), &names)
              .ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(),
                                       region.data().string(), descriptors,
                                       &handles, &raw)
              .ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::map<Family, std::map<std::string, std::string>> out;
  auto read = [&](Family family, const std::string& key) {
    const auto at = std::find(names.begin(), names.end(), FamilyName(family));
    REQUIRE(at != names.end());
    std::string value;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(),
                                handles[at - names.begin()], key, &value);
    REQUIRE((s.ok() || s.IsNotFound()));
    if (s.ok()) out[family][key] = value;
  };
  for (size_t seq = 1; seq <= written.payloads.size(); ++seq) {
    read(Family::kEvents, internal::EventKey(tenant, Sequence(seq)));
  }
  for (const auto& [family_key, plaintext] : written.rows) {
    read(family_key.first, internal::TenantKey(tenant, family_key.second));
  }
  for (auto* handle : handles) {
    REQUIRE(db->DestroyColumnFamilyHandle(handle).ok());
  }
  return out;
}

// The key store's row for the tenant as stored, read by a read-only
// instance beside the live key store; empty when absent.
std::string RawKeyRow(Region& region, TenantId tenant) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Options options;
  REQUIRE(
      rocksdb::DB::OpenForReadOnly(options, region.keys().string(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  rocksdb::Status s =
      db->Get(rocksdb::ReadOptions(), internal::TenantPrefix(tenant), &value);
  REQUIRE((s.ok() || s.IsNotFound()));
  return s.ok() ? value : std::string();
}

// Byte strings that only the stored rows hold: the sealed part of each
// value (events: the last 32 bytes, the end of the sealed payload; other
// families: the first 32 bytes, format byte, nonce and ciphertext).
std::vector<std::string> Needles(
    const std::map<Family, std::map<std::string, std::string>>& rows) {
  std::vector<std::string> out;
  for (const auto& [family, by_key] : rows) {
    for (const auto& [key, value] : by_key) {
      REQUIRE(value.size() >= 32);
      out.push_back(family == Family::kEvents ? value.substr(value.size() - 32)
                                              : value.substr(0, 32));
    }
  }
  return out;
}

// Every file under the data and key-store folders (tables, blob files, WAL
// files, MANIFEST, logs) whose bytes contain `needle`.
std::vector<std::string> FilesHolding(Region& region,
                                      const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& folder : {region.data(), region.keys()}) {
    for (std::string& file : testing::FilesHolding(folder, needle)) {
      out.push_back(std::move(file));
    }
  }
  return out;
}

uint64_t Bytes(const std::map<std::string, std::string>& rows) {
  uint64_t total = 0;
  for (const auto& [key, value] : rows) total += value.size();
  return total;
}

void RequireReadsBack(Store& store, TenantId tenant, const Written& written) {
  auto events = store.log().Read(tenant, Sequence(1), 1000);
  REQUIRE(events.has_value());
  REQUIRE(events->size() == written.payloads.size());
  for (size_t i = 0; i < events->size(); ++i) {
    CHECK((*events)[i].payload == written.payloads[i]);
  }
  for (const auto& [family_key, plaintext] : written.rows) {
    auto row = store.log().GetRow(tenant, family_key.first, family_key.second);
    REQUIRE(row.has_value());
    REQUIRE(row->has_value());
    CHECK(**row == plaintext);
  }
  auto report = store.log().Verify(tenant);
  REQUIRE(report.has_value());
  CHECK(report->ok);
}

TEST_CASE(
    "PurgeTenant erases the tenant's rows and key from every file and leaves "
    "other tenants' data as it was",
    "[storage][purge]") {
  Region region;
  const TenantId a = region.Install("purge-a");
  const TenantId b = region.Install("purge-b");
  Written wa, wb;
  // The first round goes to table and blob files, the second stays in the
  // memtables and the live WAL.
  Fill(*region.store, a, "tenant-a", 1, wa);
  Fill(*region.store, b, "tenant-b", 1, wb);
  REQUIRE(region.store->WaitForIdle().ok());
  Fill(*region.store, a, "tenant-a", 2, wa);
  Fill(*region.store, b, "tenant-b", 2, wb);

  const auto raw_a = RawRows(region, a, wa);
  const auto raw_b = RawRows(region, b, wb);
  const std::string key_row_a = RawKeyRow(region, a);
  REQUIRE(key_row_a.size() == 62);  // live: 0x01 and the sealed key
  for (Family family : {Family::kEvents, Family::kViews, Family::kSnapshots,
                        Family::kBlobs, Family::kPseudonyms}) {
    REQUIRE(raw_a.at(family).size() == 6);
  }
  std::vector<std::string> needles_a = Needles(raw_a);
  needles_a.push_back(key_row_a.substr(1, 32));
  const std::vector<std::string> needles_b = Needles(raw_b);
  // The search finds what is there: every needle is in some file before.
  for (const std::string& needle : needles_a) {
    REQUIRE_FALSE(FilesHolding(region, needle).empty());
  }

  auto receipt = region.store->PurgeTenant(a);
  INFO((receipt ? std::string() : receipt.error().ToString()));
  REQUIRE(receipt.has_value());

  SECTION("the receipt counts what was erased") {
    CHECK(receipt->tenant == a);
    CHECK(receipt->head_before == Sequence(6));
    CHECK(receipt->key_destroyed_at == region.clock.Now());
    CHECK(receipt->events.rows == 6);
    CHECK(receipt->events.bytes == Bytes(raw_a.at(Family::kEvents)));
    CHECK(receipt->views.rows == 6);
    CHECK(receipt->views.bytes == Bytes(raw_a.at(Family::kViews)));
    CHECK(receipt->snapshots.rows == 6);
    CHECK(receipt->snapshots.bytes == Bytes(raw_a.at(Family::kSnapshots)));
    CHECK(receipt->blobs.rows == 6);
    CHECK(receipt->blobs.bytes == Bytes(raw_a.at(Family::kBlobs)));
    CHECK(receipt->blobs.bytes > 6 * 8192);
    CHECK(receipt->pseudonyms.rows == 6);
    CHECK(receipt->pseudonyms.bytes == Bytes(raw_a.at(Family::kPseudonyms)));
    CHECK(receipt->index.rows == 0);
    CHECK(receipt->files_left == 0);
  }

  SECTION("no file of the database or the key store holds its bytes") {
    for (const std::string& needle : needles_a) {
      const auto holding = FilesHolding(region, needle);
      INFO((holding.empty() ? std::string() : holding.front()));
      CHECK(holding.empty());
    }
    // Nor does any row: a fresh look at the database finds none of them.
    CHECK(RawRows(region, a, wa).empty());
    CHECK(RawKeyRow(region, a).size() == 9);  // the tombstone
    // The other tenant's stored bytes are where they were.
    for (const std::string& needle : needles_b) {
      CHECK_FALSE(FilesHolding(region, needle).empty());
    }
  }

  SECTION("its reads and appends answer NotFound") {
    auto events = region.store->log().Read(a, Sequence(1), 100);
    REQUIRE_FALSE(events.has_value());
    CHECK(events.error().code() == StatusCode::kNotFound);
    for (Family family : kRowFamilies) {
      auto rows = region.store->log().ScanRows(a, family, "", "", 100);
      REQUIRE_FALSE(rows.has_value());
      CHECK(rows.error().code() == StatusCode::kNotFound);
      // A point read finds no row before it needs the key: absent, not
      // NotFound (EventLog::GetRow's contract).
      auto row = region.store->log().GetRow(a, family, "ktenant-a-1-0");
      CHECK((row.has_value() ? !row->has_value()
                             : row.error().code() == StatusCode::kNotFound));
    }
    auto appended = region.store->log().Append(
        a, std::nullopt, {NewEvent{"item.set", "u_1", "{}"}});
    REQUIRE_FALSE(appended.has_value());
    CHECK(appended.error().code() == StatusCode::kNotFound);
  }

  SECTION("the other tenant reads back unchanged, also after a reopen") {
    RequireReadsBack(*region.store, b, wb);
    region.store.reset();
    StoreOptions options;
    options.data = region.data();
    options.clock = &region.clock;
    auto reopened = Store::Open(options);
    REQUIRE(reopened.has_value());
    region.store = std::move(*reopened);
    RequireReadsBack(*region.store, b, wb);
    auto events = region.store->log().Read(a, Sequence(1), 100);
    REQUIRE_FALSE(events.has_value());
    CHECK(events.error().code() == StatusCode::kNotFound);
  }

  SECTION("purging it again succeeds and erases nothing more") {
    auto again = region.store->PurgeTenant(a);
    INFO((again ? std::string() : again.error().ToString()));
    REQUIRE(again.has_value());
    CHECK(again->head_before == Sequence(6));
    for (const PurgeReceipt::Rows* rows :
         {&again->events, &again->views, &again->snapshots, &again->blobs,
          &again->pseudonyms, &again->index}) {
      CHECK(rows->rows == 0);
      CHECK(rows->bytes == 0);
    }
    RequireReadsBack(*region.store, b, wb);
  }
}

TEST_CASE("PurgeTenant refuses tenant 0 and a tenant that does not exist",
          "[storage][purge]") {
  Region region;
  const TenantId a = region.Install("purge-a");
  auto zero = region.store->PurgeTenant(TenantId(0));
  REQUIRE_FALSE(zero.has_value());
  CHECK(zero.error().code() == StatusCode::kInvalidArgument);
  // An id not handed out yet: a tombstone would refuse its key later.
  const TenantId next(a.value() + 1);
  auto unknown = region.store->PurgeTenant(next);
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().code() == StatusCode::kNotFound);
  CHECK(region.Install("purge-b") == next);
}

TEST_CASE("PurgeTenant lets other tenants append while it runs",
          "[storage][purge]") {
  Region region;
  const TenantId a = region.Install("purge-a");
  const TenantId b = region.Install("purge-b");
  for (int i = 0; i < 20; ++i) {
    std::vector<NewEvent> events;
    for (int j = 0; j < 100; ++j) {
      events.push_back(NewEvent{"item.set", "u_1", std::string(200, 'x')});
    }
    REQUIRE(region.store->log().Append(a, std::nullopt, events).has_value());
  }
  std::atomic<bool> purging{true};
  std::atomic<int> during{0};
  std::atomic<int> failed{0};
  std::atomic<bool> started{false};
  std::thread writer([&] {
    while (purging.load()) {
      started.store(true);
      auto appended = region.store->log().Append(
          b, std::nullopt, {NewEvent{"item.set", "u_1", "{}"}});
      if (!appended) {
        failed.fetch_add(1);
      } else if (purging.load()) {
        during.fetch_add(1);
      }
    }
  });
  while (!started.load()) std::this_thread::yield();
  auto receipt = region.store->PurgeTenant(a);
  purging.store(false);
  writer.join();
  REQUIRE(receipt.has_value());
  CHECK(receipt->events.rows == 2000);
  CHECK(failed.load() == 0);
  CHECK(during.load() > 0);
  auto report = region.store->log().Verify(b);
  REQUIRE(report.has_value());
  CHECK(report->ok);
}

}  // namespace
}  // namespace siteledger::storage

namespace siteledger::storage {
namespace {

TEST_CASE(
    "ScrubPseudonyms makes deleted pseudonym rows leave every file and a "
    "purge drops the tenant's account index entries",
    "[storage][purge][accounts]") {
  Region region;
  const TenantId a = region.Install("scrub-a");
  const TenantId b = region.Install("scrub-b");
  const std::string erased = "5b10ac8d82e05b22cc7d4ef5";
  const std::string kept = "557058:kept-person";
  // Each tenant maps both people (the rows as the projector writes them:
  // "a" + an id, "p" + a pseudonym), indexed with the append.
  Written wa, wb;
  auto map = [&](TenantId t, Written& w, const std::string& tag) {
    std::vector<ExtraWrite> writes;
    for (const std::string& account : {erased, kept}) {
      const std::string pseudonym = "u_" + tag + account.substr(0, 4);
      writes.push_back(
          {Family::kPseudonyms, WriteOp::kPut, "a" + tag + account, pseudonym});
      writes.push_back(
          {Family::kPseudonyms, WriteOp::kPut, "p" + pseudonym, account});
    }
    for (const ExtraWrite& x : writes) w.rows[{x.family, x.key}] = x.value;
    AppendRequest request;
    request.tenant = t;
    request.events.push_back({"user.seen", "", "{}"});
    request.extra_writes = std::move(writes);
    request.account_index = {{WriteOp::kPut, erased}, {WriteOp::kPut, kept}};
    REQUIRE(region.store->log().Append(std::move(request)).has_value());
  };
  map(a, wa, "A");
  map(b, wb, "B");
  // In table files, as most rows are by the time someone is erased.
  REQUIRE(region.store->WaitForIdle().ok());
  CHECK(*region.store->log().TenantsOfAccount(erased) ==
        std::vector<TenantId>{a, b});

  const auto raw = RawRows(region, a, wa);
  REQUIRE(raw.at(Family::kPseudonyms).size() == 4);
  std::vector<std::string> gone, staying;
  for (const auto& [key, value] : raw.at(Family::kPseudonyms)) {
    const bool of_erased =
        key.find(erased) != std::string::npos ||
        key.find("u_A" + erased.substr(0, 4)) != std::string::npos;
    (of_erased ? gone : staying).push_back(value.substr(0, 32));
  }
  REQUIRE(gone.size() == 2);
  for (const std::string& needle : gone) {
    REQUIRE_FALSE(FilesHolding(region, needle).empty());
  }

  AppendRequest erase;
  erase.tenant = a;
  erase.events.push_back({"user.erased", "", "{}"});
  erase.extra_writes = {
      {Family::kPseudonyms, WriteOp::kDelete, "aA" + erased, ""},
      {Family::kPseudonyms, WriteOp::kDelete, "pu_A" + erased.substr(0, 4),
       ""}};
  erase.account_index = {{WriteOp::kDelete, erased}};
  REQUIRE(region.store->log().Append(std::move(erase)).has_value());
  auto left = region.store->ScrubPseudonyms({a});
  INFO((left ? std::string() : left.error().ToString()));
  REQUIRE(left.has_value());
  CHECK(*left == 0);

  for (const std::string& needle : gone) {
    const auto holding = FilesHolding(region, needle);
    INFO((holding.empty() ? std::string() : holding.front()));
    CHECK(holding.empty());
  }
  for (const std::string& needle : staying) {
    CHECK_FALSE(FilesHolding(region, needle).empty());
  }
  CHECK(*region.store->log().TenantsOfAccount(erased) ==
        std::vector<TenantId>{b});
  CHECK(*region.store->log().TenantsOfAccount(kept) ==
        std::vector<TenantId>{a, b});
  auto still = region.store->log().GetRow(a, Family::kPseudonyms, "aA" + kept);
  REQUIRE(still.has_value());
  CHECK(still->has_value());
  auto report = region.store->log().Verify(a);
  REQUIRE(report.has_value());
  CHECK(report->ok);

  auto receipt = region.store->PurgeTenant(b);
  REQUIRE(receipt.has_value());
  CHECK(receipt->account_index_entries == 2);
  CHECK(region.store->log().TenantsOfAccount(erased)->empty());
  CHECK(*region.store->log().TenantsOfAccount(kept) ==
        std::vector<TenantId>{a});
}

}  // namespace
}  // namespace siteledger::storage

namespace siteledger::storage {
namespace {

// The raw index-family rows under `tenant`'s prefix (read through the open
// database, whose merge operator resolves pending merges).
std::map<std::string, std::string> IndexRowsOf(Region& region,
                                               TenantId tenant) {
  internal::Database& db = region.store->database();
  std::unique_ptr<rocksdb::Iterator> it(
      db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(Family::kIndex)));
  const std::string prefix = internal::TenantPrefix(tenant);
  std::map<std::string, std::string> out;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    out.emplace(it->key().ToString(), it->value().ToString());
  }
  REQUIRE(it->status().ok());
  return out;
}

void AppendIndexed(Store& store, EventIndex& index, TenantId tenant,
                   const std::string& tag, int count) {
  for (int i = 0; i < count; ++i) {
    auto head = store.log().GetHead(tenant);
    REQUIRE(head.has_value());
    const Sequence seq(head->seq.value() + 1);
    IndexBatch batch;
    REQUIRE(index
                .AddEvent(tenant, seq, "item.set", "p-" + tag,
                          {tag + "-entity-" + std::to_string(i % 3)}, batch)
                .ok());
    AppendRequest request;
    request.tenant = tenant;
    request.expected_version = head->seq;
    request.events = {NewEvent{"item.set", "p-" + tag, "{}"}};
    batch.Drain(request.extra_writes);
    auto appended = store.log().Append(std::move(request));
    INFO((appended ? std::string() : appended.error().ToString()));
    REQUIRE(appended.has_value());
  }
}

TEST_CASE("PurgeTenant leaves no index row of the tenant, and the other's",
          "[storage][purge][event_index]") {
  Region region;
  EventIndex index(region.store->log());
  const TenantId a = region.Install("purge-index-a");
  const TenantId b = region.Install("purge-index-b");
  // The first round is flushed to a table file, the second stays in the
  // memtable as merges.
  AppendIndexed(*region.store, index, a, "a", 6);
  AppendIndexed(*region.store, index, b, "b", 6);
  internal::Database& db = region.store->database();
  REQUIRE(db.db()->Flush(rocksdb::FlushOptions(), db.cf(Family::kIndex)).ok());
  AppendIndexed(*region.store, index, a, "a", 4);
  AppendIndexed(*region.store, index, b, "b", 4);

  // One type, one actor, three entities, one chunk each.
  REQUIRE(IndexRowsOf(region, a).size() == 5);
  const auto rows_b = IndexRowsOf(region, b);
  REQUIRE(rows_b.size() == 5);

  auto receipt = region.store->PurgeTenant(a);
  INFO((receipt ? std::string() : receipt.error().ToString()));
  REQUIRE(receipt.has_value());
  CHECK(receipt->index.rows > 0);
  index.Forget(a);

  CHECK(IndexRowsOf(region, a).empty());
  CHECK(IndexRowsOf(region, b) == rows_b);
  // The other tenant's index still answers.
  auto prefix = index.ValuePrefix(b, IndexDimension::kEntity, "b-entity-0");
  REQUIRE(prefix.has_value());
  EventIndex::Query q;
  q.all_of = {{*prefix}};
  auto seqs = index.FindSeqs(b, q);
  REQUIRE(seqs.has_value());
  CHECK(*seqs == std::vector<Sequence>{Sequence(1), Sequence(4), Sequence(7),
                                       Sequence(10)});
  // And the purged tenant's index is gone with its key.
  auto gone = index.ValuePrefix(a, IndexDimension::kType, "item.set");
  CHECK_FALSE(gone.has_value());
}

}  // namespace
}  // namespace siteledger::storage
