#include "storage/event_log.h"

#include <rocksdb/db.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <thread>

#include "storage/internal/keys.h"
#include "tests/storage/rig.h"

namespace siteledger::storage {
namespace {

using testing::Ev;
using testing::Rig;

TEST_CASE("Appended events read back in order, across a reopen",
          "[event_log]") {
  Rig rig;
  const TenantId t = rig.NewTenant("client-a");
  auto first = rig.log->Append(t, Sequence(0),
                               {Ev("site.created", R"({"id":"s1"})"),
                                Ev("site.renamed", R"({"id":"s1","n":2})")});
  REQUIRE(first.has_value());
  CHECK(first->first == Sequence(1));
  CHECK(first->last == Sequence(2));
  rig.clock.Advance(std::chrono::milliseconds(250));
  auto second =
      rig.log->Append(t, Sequence(2), {Ev("theme.created", "{}", "p-2")});
  REQUIRE(second.has_value());
  CHECK(second->first == Sequence(3));

  rig.Reopen();
  auto events = rig.log->Read(t, Sequence(1), 100);
  REQUIRE(events.has_value());
  REQUIRE(events->size() == 3);
  CHECK((*events)[0].type == "site.created");
  CHECK((*events)[0].payload == R"({"id":"s1"})");
  CHECK((*events)[0].actor == "p-1");
  CHECK((*events)[0].prev_hash == Hash{});
  CHECK((*events)[1].prev_hash == HashOf((*events)[0]));
  CHECK((*events)[2].prev_hash == HashOf((*events)[1]));
  CHECK((*events)[2].time - (*events)[1].time ==
        std::chrono::milliseconds(250));
  CHECK((*events)[2].actor == "p-2");

  auto head = rig.log->GetHead(t);
  REQUIRE(head.has_value());
  CHECK(head->seq == Sequence(3));
  CHECK(head->hash == HashOf((*events)[2]));

  SECTION("reads start at any seq and stop at the limit") {
    auto tail = rig.log->Read(t, Sequence(2), 1);
    REQUIRE(tail.has_value());
    REQUIRE(tail->size() == 1);
    CHECK((*tail)[0].seq == Sequence(2));
    CHECK(rig.log->Read(t, Sequence(4), 10)->empty());
  }
  SECTION("the chain verifies") {
    auto report = rig.log->Verify(t);
    REQUIRE(report.has_value());
    CHECK(report->ok);
    CHECK(report->events_checked == 3);
  }
}

TEST_CASE("Append rejects a stale expected sequence and writes nothing",
          "[event_log]") {
  Rig rig;
  const TenantId t = rig.NewTenant("client-a");
  REQUIRE(rig.log->Append(t, Sequence(0), {Ev("a.b", "1")}).has_value());
  auto stale = rig.log->Append(
      t, Sequence(0), {Ev("a.b", "2")},
      {ExtraWrite{Family::kViews, WriteOp::kPut, "view", "must not appear"}});
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.error().code() == StatusCode::kConflict);
  CHECK(stale.error().actual_version() == 1);
  CHECK(rig.log->GetHead(t)->seq == Sequence(1));
  CHECK(rig.log->Read(t, Sequence(1), 10)->size() == 1);
  CHECK_FALSE(rig.log->GetRow(t, Family::kViews, "view")->has_value());
  // Without an expected version the append goes through.
  CHECK(rig.log->Append(t, std::nullopt, {Ev("a.b", "3")})->last ==
        Sequence(2));
}

TEST_CASE("A retry with the same idempotency key returns the first result",
          "[event_log]") {
  Rig rig;
  const TenantId t = rig.NewTenant("client-a");
  AppendRequest r;
  r.tenant = t;
  r.events = {Ev("a.b", "1"), Ev("a.c", "2")};
  r.idempotency_key = "req-42";
  auto first = rig.log->Append(r);
  REQUIRE(first.has_value());
  CHECK_FALSE(first->replayed);

  auto retry = rig.log->Append(r);
  REQUIRE(retry.has_value());
  CHECK(retry->replayed);
  CHECK(retry->first == first->first);
  CHECK(retry->last == first->last);
  CHECK(rig.log->GetHead(t)->seq == Sequence(2));

  SECTION("even after a reopen") {
    rig.Reopen();
    auto again = rig.log->Append(r);
    REQUIRE(again.has_value());
    CHECK(again->replayed);
    CHECK(rig.log->GetHead(t)->seq == Sequence(2));
  }
  SECTION("the key is recorded in the envelope") {
    CHECK((*rig.log->Read(t, Sequence(1), 1))[0].idempotency_key == "req-42");
  }
  SECTION("the same key for a different request is a Conflict") {
    AppendRequest other = r;
    other.events = {Ev("a.b", "different")};
    auto reused = rig.log->Append(other);
    REQUIRE_FALSE(reused.has_value());
    CHECK(reused.error().code() == StatusCode::kConflict);
    CHECK(rig.log->GetHead(t)->seq == Sequence(2));
  }
  SECTION("keys are per tenant") {
    AppendRequest other = r;
    other.tenant = rig.NewTenant("client-b");
    auto b = rig.log->Append(other);
    REQUIRE(b.has_value());
    CHECK_FALSE(b->replayed);
  }
  SECTION("after 24 hours the key is forgotten") {
    rig.clock.Advance(std::chrono::hours(24) + std::chrono::seconds(1));
    auto late = rig.log->Append(r);
    REQUIRE(late.has_value());
    CHECK_FALSE(late->replayed);
    CHECK(late->first == Sequence(3));
  }
  SECTION("compaction drops keys older than 24 hours, and only those") {
    AppendRequest recent = r;
    rig.clock.Advance(std::chrono::hours(23));
    recent.idempotency_key = "req-recent";
    REQUIRE(rig.log->Append(recent).has_value());
    rig.clock.Advance(std::chrono::hours(2));  // req-42 is now 25 h old
    REQUIRE(rig.db->db()
                ->CompactRange(rocksdb::CompactRangeOptions(),
                               rig.db->cf(Family::kTenants), nullptr, nullptr)
                .ok());
    auto idempotency_rows = [&] {
      int n = 0;
      std::unique_ptr<rocksdb::Iterator> it(rig.db->db()->NewIterator(
          rocksdb::ReadOptions(), rig.db->cf(Family::kTenants)));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const auto key = it->key().ToStringView();
        if (key.size() > 8 &&
            key[8] == static_cast<char>(internal::TenantRow::kIdempotency)) {
          ++n;
        }
      }
      return n;
    };
    CHECK(idempotency_rows() == 1);
  }
  SECTION("concurrent retries write once") {
    AppendRequest fresh = r;
    fresh.idempotency_key = "req-43";
    std::atomic<int> replays{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([&] {
        auto res = rig.log->Append(fresh);
        REQUIRE(res.has_value());
        if (res->replayed) ++replays;
      });
    }
    for (auto& th : threads) th.join();
    CHECK(replays == 7);
    CHECK(rig.log->GetHead(t)->seq == Sequence(4));
  }
}

TEST_CASE("Extra writes land atomically with the events, sealed",
          "[event_log]") {
  Rig rig;
  const TenantId t = rig.NewTenant("client-a");
  auto r = rig.log->Append(
      t, Sequence(0), {Ev("site.created", "{}")},
      {ExtraWrite{Family::kViews, WriteOp::kPut, "site/s1", "VIEW-PLAINTEXT"},
       ExtraWrite{Family::kViews, WriteOp::kPut, "site/s2", "second"}});
  REQUIRE(r.has_value());
  CHECK(**rig.log->GetRow(t, Family::kViews, "site/s1") == "VIEW-PLAINTEXT");

  // Raw RocksDB sees only ciphertext.
  std::string raw;
  REQUIRE(rig.db->db()
              ->Get(rocksdb::ReadOptions(), rig.db->cf(Family::kViews),
                    internal::TenantKey(t, "site/s1"), &raw)
              .ok());
  CHECK(raw.find("VIEW-PLAINTEXT") == std::string::npos);

  auto rows = rig.log->ScanRows(t, Family::kViews, "site/", "", 10);
  REQUIRE(rows.has_value());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].first == "site/s1");
  CHECK((*rows)[1].second == "second");
  auto after = rig.log->ScanRows(t, Family::kViews, "site/", "site/s1", 10);
  REQUIRE(after->size() == 1);
  CHECK((*after)[0].first == "site/s2");

  REQUIRE(rig.log
              ->Append(
                  t, Sequence(1), {Ev("site.deleted", "{}")},
                  {ExtraWrite{Family::kViews, WriteOp::kDelete, "site/s1", ""}})
              .has_value());
  CHECK_FALSE(rig.log->GetRow(t, Family::kViews, "site/s1")->has_value());

  SECTION("a row of one tenant is invisible to another") {
    const TenantId b = rig.NewTenant("client-b");
    CHECK_FALSE(rig.log->GetRow(b, Family::kViews, "site/s2")->has_value());
    CHECK(rig.log->ScanRows(b, Family::kViews, "", "", 10)->empty());
  }
}

TEST_CASE("Malformed appends are refused and write nothing", "[event_log]") {
  Rig rig;
  const TenantId t = rig.NewTenant("client-a");
  auto expect_refused = [&](std::vector<NewEvent> events,
                            std::vector<ExtraWrite> writes) {
    auto r =
        rig.log->Append(t, std::nullopt, std::move(events), std::move(writes));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == StatusCode::kInvalidArgument);
    CHECK(rig.log->GetHead(t)->seq == Sequence(0));
  };
  expect_refused({}, {});
  expect_refused({Ev("Bad Type", "{}")}, {});
  expect_refused({Ev("a.b", "{}", "actor with spaces")}, {});
  expect_refused({Ev("a.b", "{}")},
                 {ExtraWrite{Family::kEvents, WriteOp::kPut, "x", "y"}});
  expect_refused({Ev("a.b", "{}")},
                 {ExtraWrite{Family::kTenants, WriteOp::kPut, "x", "y"}});
  expect_refused({Ev("a.b", "{}")},
                 {ExtraWrite{Family::kViews, WriteOp::kMerge, "x", "y"}});
  expect_refused({Ev("a.b", "{}")},
                 {ExtraWrite{Family::kViews, WriteOp::kPut, "", "y"}});
  CHECK(rig.log->Append(TenantId(99), std::nullopt, {Ev("a.b", "{}")})
            .error()
            .code() == StatusCode::kNotFound);
}

TEST_CASE("Verify finds a byte flipped on disk and names the seq",
          "[event_log]") {
  Rig rig;
  const TenantId t = rig.NewTenant("client-a");
  for (int i = 0; i < 20; ++i) {
    REQUIRE(rig.log
                ->Append(t, std::nullopt,
                         {Ev("a.b", "payload " + std::to_string(i))})
                .has_value());
  }
  REQUIRE(rig.log->Verify(t)->ok);
  const Sequence victim(GENERATE(1, 7, 20));
  // Which byte: in the header (type), in the previous hash, or in the
  // ciphertext.
  const int where = GENERATE(0, 1, 2);
  const std::string key = internal::EventKey(t, victim);
  std::string value;
  REQUIRE(rig.db->db()
              ->Get(rocksdb::ReadOptions(), rig.db->cf(Family::kEvents), key,
                    &value)
              .ok());
  const size_t offset = where == 0   ? 1 + 8 + 8 + 2  // first byte of type
                        : where == 1 ? value.size() - 60
                                     : value.size() - 20;
  value[offset] ^= 0x20;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  REQUIRE(rig.db->db()->Put(wo, rig.db->cf(Family::kEvents), key, value).ok());
  rig.Reopen();
  auto report = rig.log->Verify(t);
  REQUIRE(report.has_value());
  CHECK_FALSE(report->ok);
  CHECK(report->first_bad == victim);
  CHECK(report->problem.find("event " + std::to_string(victim.value())) !=
        std::string::npos);
  // A plain read of the damaged event fails rather than return garbage.
  auto read = rig.log->Read(t, victim, 1);
  REQUIRE_FALSE(read.has_value());
  CHECK(read.error().code() == StatusCode::kCorruption);
}

TEST_CASE("Verify finds a missing event and a head that does not match",
          "[event_log]") {
  Rig rig;
  const TenantId t = rig.NewTenant("client-a");
  for (int i = 0; i < 5; ++i) {
    REQUIRE(rig.log->Append(t, std::nullopt, {Ev("a.b", "x")}).has_value());
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  SECTION("a gap") {
    REQUIRE(rig.db->db()
                ->Delete(wo, rig.db->cf(Family::kEvents),
                         internal::EventKey(t, Sequence(3)))
                .ok());
    auto report = rig.log->Verify(t);
    CHECK(report->first_bad == Sequence(3));
    CHECK(report->problem.find("missing") != std::string::npos);
  }
  SECTION("a lost tail") {
    REQUIRE(rig.db->db()
                ->Delete(wo, rig.db->cf(Family::kEvents),
                         internal::EventKey(t, Sequence(5)))
                .ok());
    auto report = rig.log->Verify(t);
    CHECK_FALSE(report->ok);
    CHECK(report->first_bad == Sequence(5));
  }
}

TEST_CASE("Concurrent appends keep every tenant's seqs dense and ordered",
          "[event_log]") {
  Rig rig;
  constexpr int kThreads = 16;
  constexpr int kTenants = 100;
  constexpr int kAppendsPerThread = 200;
  std::vector<TenantId> tenants;
  for (int i = 0; i < kTenants; ++i) {
    tenants.push_back(rig.NewTenant("c" + std::to_string(i)));
  }
  // Each thread tags its payloads with (thread, counter): within a tenant,
  // one thread's events must appear in the order it appended them.
  std::mutex mu;
  std::map<uint64_t, std::vector<Sequence>> acked;  // tenant -> seqs
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < kAppendsPerThread; ++i) {
        const TenantId t = tenants[(th * 7 + i) % kTenants];
        const int n = 1 + i % 3;
        std::vector<NewEvent> events;
        for (int k = 0; k < n; ++k) {
          events.push_back(Ev("a.b", std::to_string(th) + ":" +
                                         std::to_string(i) + ":" +
                                         std::to_string(k)));
        }
        auto r = rig.log->Append(t, std::nullopt, std::move(events));
        REQUIRE(r.has_value());
        REQUIRE(r->last.value() - r->first.value() + 1 ==
                static_cast<uint64_t>(n));
        std::lock_guard lock(mu);
        for (uint64_t s = r->first.value(); s <= r->last.value(); ++s) {
          acked[t.value()].push_back(Sequence(s));
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  size_t total = 0;
  for (const TenantId t : tenants) {
    auto events = rig.log->Read(t, Sequence(1), 100000);
    REQUIRE(events.has_value());
    total += events->size();
    // Dense: 1..n with no gap or repeat, matching what was acknowledged.
    std::set<Sequence> seen(acked[t.value()].begin(), acked[t.value()].end());
    REQUIRE(seen.size() == acked[t.value()].size());
    REQUIRE(events->size() == seen.size());
    std::map<int, std::pair<int, int>> last_by_thread;  // thread -> (i, k)
    for (size_t i = 0; i < events->size(); ++i) {
      const Event& e = (*events)[i];
      REQUIRE(e.seq == Sequence(i + 1));
      int th, n, k;
      REQUIRE(std::sscanf(e.payload.c_str(), "%d:%d:%d", &th, &n, &k) == 3);
      auto it = last_by_thread.find(th);
      if (it != last_by_thread.end()) {
        REQUIRE(std::make_pair(n, k) > it->second);
      }
      last_by_thread[th] = {n, k};
    }
    REQUIRE(rig.log->Verify(t)->ok);
  }
  size_t expected = 0;
  for (int i = 0; i < kAppendsPerThread; ++i) expected += 1 + i % 3;
  CHECK(total == expected * kThreads);
  const auto stats = rig.log->stats();
  CHECK(stats.requests >= static_cast<uint64_t>(kThreads * kAppendsPerThread));
  // Group commit combined appends: fewer synced writes than appends.
  CHECK(stats.groups < stats.requests);
}

TEST_CASE("After its data key is destroyed a tenant's data cannot be read",
          "[event_log]") {
  Rig rig;
  const TenantId t = rig.NewTenant("client-a");
  const TenantId other = rig.NewTenant("client-b");
  REQUIRE(rig.log
              ->Append(t, std::nullopt, {Ev("a.b", "secret content")},
                       {ExtraWrite{Family::kViews, WriteOp::kPut, "v", "row"}})
              .has_value());
  REQUIRE(rig.log
              ->WriteRows(
                  t,
                  {ExtraWrite{Family::kSnapshots, WriteOp::kPut, "s", "state"}},
                  true)
              .ok());
  REQUIRE(rig.log->Append(other, std::nullopt, {Ev("a.b", "x")}).has_value());
  REQUIRE(rig.keys->Destroy(t, rig.clock.Now()).ok());
  rig.Reopen();

  auto check_destroyed = [](const Status& s) {
    CHECK(s.code() == StatusCode::kNotFound);
    CHECK(s.message().find("destroyed") != std::string::npos);
  };
  check_destroyed(rig.log->Read(t, Sequence(1), 10).error());
  check_destroyed(rig.log->GetRow(t, Family::kViews, "v").error());
  check_destroyed(rig.log->NewRowIterator(t, Family::kSnapshots).error());
  check_destroyed(rig.log->WriteRows(
      t, {ExtraWrite{Family::kViews, WriteOp::kPut, "v", "x"}}, true));
  check_destroyed(rig.log->Verify(t).error());
  check_destroyed(
      rig.log->Append(t, std::nullopt, {Ev("a.b", "more")}).error());
  // Other tenants are untouched.
  CHECK(rig.log->Read(other, Sequence(1), 10)->size() == 1);

  SECTION("even reading the raw rows with a copy of the key store is futile") {
    // The wrapped key is gone from the key store, so no master key helps.
    rig.Close();
    {
      auto reopened = KeyStore::Open(rig.keys_path(), rig.master);
      REQUIRE(reopened.has_value());
      CHECK_FALSE((*reopened)->Get(t).has_value());
    }
    rig.Open();
  }
}

TEST_CASE(
    "A registered tenant whose data key is missing is a storage fault, not "
    "NotFound",
    "[event_log]") {
  Rig rig;
  const TenantId t = rig.NewTenant("client-a");
  REQUIRE(rig.log->Append(t, std::nullopt, {Ev("a.b", "{}")}).has_value());
  rig.Close();
  {
    // The key store loses the tenant's row (not a destroyed key's tombstone).
    rocksdb::DB* raw = nullptr;
    REQUIRE(
        rocksdb::DB::Open(rocksdb::Options(), rig.keys_path().string(), &raw)
            .ok());
    std::unique_ptr<rocksdb::DB> keys(raw);
    REQUIRE(
        keys->Delete(rocksdb::WriteOptions(), internal::TenantPrefix(t)).ok());
  }
  rig.Open();
  auto read = rig.log->Read(t, Sequence(1), 10);
  REQUIRE_FALSE(read.has_value());
  CHECK(read.error().code() == StatusCode::kCorruption);
  CHECK(rig.log->Append(t, std::nullopt, {Ev("a.b", "{}")}).error().code() ==
        StatusCode::kCorruption);
  // A tenant that never existed is still simply not there.
  CHECK(rig.log->Read(TenantId(99), Sequence(1), 10).error().code() ==
        StatusCode::kNotFound);
}

TEST_CASE("Row writes and cursors stay in their tenant", "[event_log]") {
  Rig rig;
  const TenantId t = rig.NewTenant("client-a");
  const TenantId u = rig.NewTenant("client-b");
  auto put = [](std::string key, std::string value) {
    return ExtraWrite{Family::kSnapshots, WriteOp::kPut, std::move(key),
                      std::move(value)};
  };
  REQUIRE(
      rig.log->WriteRows(t, {put("k10", "at-10"), put("k20", "at-20")}, false)
          .ok());
  REQUIRE(rig.log->WriteRows(u, {put("k05", "other-tenant")}, true).ok());
  auto it = std::move(*rig.log->NewRowIterator(t, Family::kSnapshots));
  it->SeekForPrev("k09");
  CHECK_FALSE(it->Valid());  // u's row sorts after, t has none before
  it->SeekForPrev("k19");
  REQUIRE(it->Valid());
  CHECK(it->key() == "k10");
  CHECK(*it->value() == "at-10");  // opened with t's key
  it->Next();
  REQUIRE(it->Valid());
  CHECK(*it->value() == "at-20");
  it->Next();
  CHECK_FALSE(it->Valid());  // the cursor ends with the tenant's range
  CHECK(it->status().ok());
  auto other = std::move(*rig.log->NewRowIterator(u, Family::kSnapshots));
  other->Seek("");
  REQUIRE(other->Valid());
  CHECK(*other->value() == "other-tenant");

  // Merges and the events family are not row writes.
  CHECK(rig.log
            ->WriteRows(
                t, {ExtraWrite{Family::kEvents, WriteOp::kPut, "x", "y"}}, true)
            .code() == StatusCode::kInvalidArgument);
  // A rebuild starts by deleting what it writes again, in its tenant only.
  REQUIRE(rig.log->DeleteTenantRows(t, Family::kSnapshots).ok());
  it = std::move(*rig.log->NewRowIterator(t, Family::kSnapshots));
  it->Seek("");
  CHECK_FALSE(it->Valid());
  other = std::move(*rig.log->NewRowIterator(u, Family::kSnapshots));
  other->Seek("");
  CHECK(other->Valid());
  CHECK(rig.log->DeleteTenantRows(t, Family::kEvents).code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("SequenceAt finds the last event at or before a time",
          "[event_log]") {
  Rig rig;
  const TenantId t = rig.NewTenant("client-a");
  const Timestamp start = rig.clock.Now();
  CHECK(rig.log->SequenceAt(t, start)->value() == 0);
  // Events at start+0, +10, +20, ... ms; two per step.
  for (int i = 0; i < 50; ++i) {
    REQUIRE(rig.log->Append(t, std::nullopt, {Ev("a.b", "x"), Ev("a.c", "y")})
                .has_value());
    rig.clock.Advance(std::chrono::milliseconds(10));
  }
  using std::chrono::milliseconds;
  CHECK(rig.log->SequenceAt(t, start - milliseconds(1))->value() == 0);
  CHECK(rig.log->SequenceAt(t, start)->value() == 2);
  CHECK(rig.log->SequenceAt(t, start + milliseconds(5))->value() == 2);
  CHECK(rig.log->SequenceAt(t, start + milliseconds(10))->value() == 4);
  CHECK(rig.log->SequenceAt(t, start + milliseconds(490))->value() == 100);
  CHECK(rig.log->SequenceAt(t, start + milliseconds(100000))->value() == 100);
}

// A clock that can be set anywhere, backwards included (as NTP may step it).
class SettableClock final : public Clock {
 public:
  Timestamp Now() const override { return TimestampFromMillis(ms_.load()); }
  void Set(int64_t ms) { ms_ = ms; }

 private:
  std::atomic<int64_t> ms_{1'000'000};
};

TEST_CASE("Event times never go backwards within a tenant", "[event_log]") {
  Rig rig;
  const TenantId t = rig.NewTenant("client-a");
  SettableClock clock;
  rig.log.reset();
  EventLog log(*rig.db, *rig.keys, clock);
  clock.Set(5'000'000);
  REQUIRE(log.Append(t, std::nullopt, {Ev("a.b", "x")}).has_value());
  clock.Set(4'000'000);
  auto r = log.Append(t, std::nullopt, {Ev("a.b", "y")});
  REQUIRE(r.has_value());
  CHECK(MillisOf(r->time) == 5'000'000);
  auto events = log.Read(t, Sequence(1), 10);
  REQUIRE(events->size() == 2);
  CHECK((*events)[1].time == (*events)[0].time);
}

}  // namespace
}  // namespace siteledger::storage

namespace siteledger::storage {
namespace {

TEST_CASE("WaitForAppends returns once every queued append has called back",
          "[event_log]") {
  testing::Rig rig;
  const TenantId t = rig.NewTenant("client-wait");
  constexpr int kAppends = 200;
  std::atomic<int> called{0};
  for (int i = 0; i < kAppends; ++i) {
    AppendRequest request;
    request.tenant = t;
    request.events.push_back(testing::Ev("site.created", R"({"id":"s"})"));
    rig.log->AppendAsync(std::move(request), [&called](Result<AppendResult> r) {
      // A slow callback: WaitForAppends must wait for it
      // to return, not only for the write.
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (r) called.fetch_add(1);
    });
  }
  rig.log->WaitForAppends();
  CHECK(called.load() == kAppends);
  // With nothing queued it returns at once.
  rig.log->WaitForAppends();
  auto head = rig.log->GetHead(t);
  REQUIRE(head.has_value());
  CHECK(head->seq == Sequence(kAppends));
}

}  // namespace
}  // namespace siteledger::storage

namespace siteledger::storage {
namespace {

// Every key and value of the tenants family, as stored.
std::vector<std::pair<std::string, std::string>> TenantsFamily(Rig& rig) {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(rig.db->db()->NewIterator(
      rocksdb::ReadOptions(), rig.db->cf(Family::kTenants)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  REQUIRE(it->status().ok());
  return out;
}

TEST_CASE(
    "The account index follows appends and row writes and holds no account "
    "id",
    "[event_log][accounts]") {
  Rig rig;
  const TenantId a = rig.NewTenant("client-a");
  const TenantId b = rig.NewTenant("client-b");
  const std::string account = "5b10ac8d82e05b22cc7d4ef5";
  const std::string other = "557058:f0c4a1b2-other";

  AppendRequest first;
  first.tenant = a;
  first.events.push_back(testing::Ev("user.seen", "{}"));
  first.account_index = {{WriteOp::kPut, account}, {WriteOp::kPut, other}};
  REQUIRE(rig.log->Append(std::move(first)).has_value());
  REQUIRE(rig.log->WriteRows(b, {}, true, {{WriteOp::kPut, account}}).ok());

  auto tenants = rig.log->TenantsOfAccount(account);
  REQUIRE(tenants.has_value());
  CHECK(*tenants == std::vector<TenantId>{a, b});
  CHECK(*rig.log->TenantsOfAccount(other) == std::vector<TenantId>{a});
  CHECK(rig.log->TenantsOfAccount("nobody")->empty());
  // Keys hold an HMAC under the master-derived key, values nothing.
  for (const auto& [key, value] : TenantsFamily(rig)) {
    CHECK(key.find(account) == std::string::npos);
    CHECK(value.find(account) == std::string::npos);
  }

  SECTION("an append's delete takes the tenant out") {
    AppendRequest erase;
    erase.tenant = a;
    erase.events.push_back(testing::Ev("user.erased", "{}"));
    erase.account_index = {{WriteOp::kDelete, account}};
    REQUIRE(rig.log->Append(std::move(erase)).has_value());
    CHECK(*rig.log->TenantsOfAccount(account) == std::vector<TenantId>{b});
    CHECK(*rig.log->TenantsOfAccount(other) == std::vector<TenantId>{a});
  }
  SECTION("a refused append writes none of its index entries") {
    AppendRequest stale;
    stale.tenant = a;
    stale.expected_version = Sequence(0);  // the log is at 1
    stale.events.push_back(testing::Ev("user.erased", "{}"));
    stale.account_index = {{WriteOp::kDelete, account}};
    auto refused = rig.log->Append(std::move(stale));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code() == StatusCode::kConflict);
    CHECK(*rig.log->TenantsOfAccount(account) == std::vector<TenantId>{a, b});
  }
  SECTION("dropping a tenant's entries leaves the others'") {
    auto dropped = rig.log->DropAccountIndex(a);
    REQUIRE(dropped.has_value());
    CHECK(*dropped == 2);
    CHECK(*rig.log->TenantsOfAccount(account) == std::vector<TenantId>{b});
    CHECK(rig.log->TenantsOfAccount(other)->empty());
    CHECK(*rig.log->DropAccountIndex(a) == 0);
  }
  SECTION("the index survives a reopen, and the built mark is kept") {
    CHECK_FALSE(*rig.log->AccountIndexBuilt());
    REQUIRE(rig.log->MarkAccountIndexBuilt().ok());
    rig.Reopen();
    CHECK(*rig.log->AccountIndexBuilt());
    CHECK(*rig.log->TenantsOfAccount(account) == std::vector<TenantId>{a, b});
  }
}

TEST_CASE("A log without an account index key refuses index writes",
          "[event_log][accounts]") {
  Rig rig;
  const TenantId t = rig.NewTenant("client-a");
  rig.log.reset();
  rig.log = std::make_unique<EventLog>(*rig.db, *rig.keys, rig.clock,
                                       EventLog::Options());
  AppendRequest request;
  request.tenant = t;
  request.events.push_back(testing::Ev("user.seen", "{}"));
  request.account_index = {{WriteOp::kPut, "5b10ac8d82e05b22cc7d4ef5"}};
  auto refused = rig.log->Append(std::move(request));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code() == StatusCode::kInvalidArgument);
  CHECK(rig.log->GetHead(t)->seq == Sequence(0));
  CHECK(rig.log->TenantsOfAccount("5b10ac8d82e05b22cc7d4ef5").error().code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE(
    "A tenant's log quota refuses the append that would pass it, writes "
    "nothing of it, leaves other tenants alone and holds after reopening; "
    "imported events are counted, never refused",
    "[event_log][quota]") {
  Rig rig;
  EventLog::Options options;
  options.tenant_log_quota_bytes = 4096;
  rig.Close();
  rig.Open(nullptr, options);
  const TenantId t = rig.NewTenant("client-quota");
  const TenantId other = rig.NewTenant("client-quota-other");
  const std::string payload = R"({"text":")" + std::string(300, 'x') + "\"}";

  // Appends go in until the next would pass 4 KiB.
  int accepted = 0;
  Result<AppendResult> last = Err(Status::Internal("no append yet"));
  for (int i = 0; i < 100; ++i) {
    last = rig.log->Append(t, std::nullopt, {Ev("a.b", payload)});
    if (!last) break;
    ++accepted;
  }
  REQUIRE_FALSE(last.has_value());
  CHECK(last.error().code() == StatusCode::kQuotaExceeded);
  CHECK(last.error().message().find("quota is 4096") != std::string::npos);
  // Each event takes its key, header and sealed payload: about 380 bytes.
  CHECK(accepted >= 8);
  CHECK(accepted <= 12);
  auto head = rig.log->GetHead(t);
  REQUIRE(head.has_value());
  CHECK(head->seq == Sequence(static_cast<uint64_t>(accepted)));
  CHECK(head->bytes <= 4096);
  CHECK(head->bytes + 300 > 4096 - 400);
  // Nothing of the refused append is in the log, and the chain is whole.
  CHECK(rig.log->Read(t, Sequence(1), 1000)->size() ==
        static_cast<size_t>(accepted));
  CHECK(rig.log->Verify(t)->ok);

  // Another tenant has its own quota.
  CHECK(rig.log->Append(other, std::nullopt, {Ev("a.b", payload)}).has_value());

  // The count is in the head row: it holds after reopening.
  const uint64_t bytes = head->bytes;
  rig.Close();
  rig.Open(nullptr, options);
  CHECK(rig.log->GetHead(t)->bytes == bytes);
  auto again = rig.log->Append(t, std::nullopt, {Ev("a.b", payload)});
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code() == StatusCode::kQuotaExceeded);
  // A small event that fits still goes in.
  const uint64_t room = 4096 - bytes;
  if (room > 120) {
    CHECK(rig.log->Append(t, std::nullopt, {Ev("a.b", "{}")}).has_value());
  }

  // Imported events (a migration's copy) are counted, never refused: the
  // whole log of `t` copied to a fresh tenant goes in past the quota.
  const TenantId copy = rig.NewTenant("client-quota-copy");
  auto events = rig.log->Read(t, Sequence(1), 1000);
  REQUIRE(events.has_value());
  std::vector<Event> twice = *events;
  AppendRequest import;
  import.tenant = copy;
  import.imported = twice;
  REQUIRE(rig.log->Append(std::move(import)).has_value());
  CHECK(rig.log->GetHead(copy)->bytes == rig.log->GetHead(t)->bytes);
  CHECK(rig.log->Append(copy, std::nullopt, {Ev("a.b", payload)})
            .error()
            .code() == StatusCode::kQuotaExceeded);
}

}  // namespace
}  // namespace siteledger::storage
