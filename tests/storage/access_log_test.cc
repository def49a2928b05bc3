#include "storage/access_log.h"

#include <rocksdb/db.h>

#include <catch2/catch.hpp>
#include <set>

#include "storage/base/coding.h"
#include "storage/internal/database.h"
#include "storage/key_store.h"
#include "tests/storage/rig.h"

namespace siteledger::storage {
namespace {

const std::string kIp = "198.51.100.77";

AccessEntry EntryAt(Timestamp time, std::string ip = kIp) {
  AccessEntry e;
  e.time = time;
  e.tenant = TenantId(3);
  e.client_ip = std::move(ip);
  e.method = "GET";
  e.route = "/api/v1/sites/{id}";
  e.status = 200;
  e.latency_us = 1234;
  return e;
}

std::vector<AccessEntry> ReadAll(const AccessLog& log) {
  AccessLogQuery q;
  q.limit = 100000;
  auto page = log.Read(q);
  INFO((page ? std::string() : page.error().ToString()));
  REQUIRE(page.has_value());
  CHECK(page->next.empty());
  return std::move(page->entries);
}

// The key store's rows, read with RocksDB itself, leaving its files as they
// are (the day keys stay in the WAL the key store wrote them to;
// key_store_test.cc has them in a table). REQUIRES: the key store is
// closed.
std::map<std::string, std::string> KeyStoreRows(
    const std::filesystem::path& path) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Options o;
  REQUIRE(rocksdb::DB::OpenForReadOnly(o, path.string(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::map<std::string, std::string> rows;
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rows[it->key().ToString()] = it->value().ToString();
  }
  REQUIRE(it->status().ok());
  return rows;
}

std::string DayRow(Day day) {
  std::string key = "access-log day ";
  coding::PutU32(key, static_cast<uint32_t>(day.value()));
  return key;
}

TEST_CASE("Access log entries are sealed: no client IP is in any file",
          "[access_log]") {
  testing::Rig rig;
  {
    AccessLog log(*rig.db, *rig.keys, rig.clock);
    for (int i = 0; i < 50; ++i) log.Record(EntryAt(rig.clock.Now()));
    REQUIRE(log.Flush().ok());
    const auto all = ReadAll(log);
    REQUIRE(all.size() == 50);
    CHECK(all[0].client_ip == kIp);
    CHECK(all[0].tenant == TenantId(3));
    CHECK(all[0].route == "/api/v1/sites/{id}");
    CHECK(all[0].status == 200);
    CHECK(all[0].latency_us == 1234);
    // The WAL, the memtable's only copy, is among the files.
    CHECK(testing::FilesHolding(rig.dir.path(), kIp).empty());
    // And once flushed into a table.
    REQUIRE(rig.db->FlushAll().ok());
    CHECK(testing::FilesHolding(rig.dir.path(), kIp).empty());
  }

  // Each value is the format byte and a sealed value, bound to its row.
  std::vector<std::pair<std::string, std::string>> rows;
  {
    std::unique_ptr<rocksdb::Iterator> it(rig.db->db()->NewIterator(
        rocksdb::ReadOptions(), rig.db->cf(Family::kAccessLog)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      rows.emplace_back(it->key().ToString(), it->value().ToString());
    }
  }
  REQUIRE(rows.size() == 50);
  CHECK(rows[0].second[0] == '\x02');
  CHECK(rows[0].second.find(kIp) == std::string::npos);
  // Moved onto another entry's row, a value no longer opens.
  rocksdb::WriteOptions wo;
  REQUIRE(rig.db->db()
              ->Put(wo, rig.db->cf(Family::kAccessLog), rows[1].first,
                    rows[0].second)
              .ok());
  {
    AccessLog log(*rig.db, *rig.keys, rig.clock);
    auto read = log.Read(AccessLogQuery{});
    REQUIRE_FALSE(read.has_value());
    CHECK(read.error().code() == StatusCode::kCorruption);
  }
  rig.Close();
  CHECK(testing::FilesHolding(rig.dir.path(), kIp).empty());
}

TEST_CASE("Access log entries written before sealing still read",
          "[access_log]") {
  testing::Rig rig;
  const Timestamp t = rig.clock.Now();
  // Format 1, as earlier versions wrote it.
  std::string key, value;
  coding::PutU32(key, static_cast<uint32_t>(DayOf(t).value()));
  coding::PutI64(key, MillisOf(t));
  coding::PutU64(key, 1);
  coding::PutU8(value, 1);
  coding::PutI64(value, MillisOf(t));
  coding::PutU64(value, 7);
  for (std::string_view s :
       {std::string_view("203.0.113.9"), std::string_view("POST"),
        std::string_view("/api/v1/sites")}) {
    coding::PutU16(value, static_cast<uint16_t>(s.size()));
    value.append(s);
  }
  coding::PutU16(value, 201);
  coding::PutU32(value, 99);
  REQUIRE(rig.db->db()
              ->Put(rocksdb::WriteOptions(), rig.db->cf(Family::kAccessLog),
                    key, value)
              .ok());
  AccessLog log(*rig.db, *rig.keys, rig.clock);
  log.Record(EntryAt(t + std::chrono::milliseconds(1)));
  REQUIRE(log.Flush().ok());
  const auto all = ReadAll(log);
  REQUIRE(all.size() == 2);
  CHECK(all[0].client_ip == "203.0.113.9");
  CHECK(all[0].tenant == TenantId(7));
  CHECK(all[0].method == "POST");
  CHECK(all[0].status == 201);
  CHECK(all[0].latency_us == 99);
  CHECK(all[1].client_ip == kIp);
}

TEST_CASE("Access log reads page through a time window", "[access_log]") {
  testing::Rig rig;
  AccessLog log(*rig.db, *rig.keys, rig.clock);
  const Timestamp start = rig.clock.Now();
  // 30 entries an hour apart, across two days.
  for (int i = 0; i < 30; ++i) {
    log.Record(
        EntryAt(start + std::chrono::hours(i), "192.0.2." + std::to_string(i)));
  }
  REQUIRE(log.Flush().ok());

  AccessLogQuery q;
  q.since = start + std::chrono::hours(5);
  q.until = start + std::chrono::hours(25);
  q.limit = 7;
  std::vector<std::string> ips;
  int pages = 0;
  for (;;) {
    auto page = log.Read(q);
    REQUIRE(page.has_value());
    REQUIRE(page->entries.size() <= 7);
    for (const auto& e : page->entries) ips.push_back(e.client_ip);
    ++pages;
    if (page->next.empty()) break;
    q.after = page->next;
  }
  CHECK(pages == 3);
  REQUIRE(ips.size() == 20);
  for (int i = 0; i < 20; ++i) {
    CHECK(ips[i] == "192.0.2." + std::to_string(i + 5));
  }

  AccessLogQuery bad;
  bad.after = "not a position";
  auto refused = log.Read(bad);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code() == StatusCode::kInvalidArgument);
}

TEST_CASE(
    "Retire at 14 days deletes older entries and destroys their days' keys",
    "[access_log]") {
  testing::Rig rig;
  const Timestamp start = rig.clock.Now();
  const Day first = DayOf(start);
  // One entry a day for 20 days, each day's IP its own.
  auto ip_of = [](int day) {
    return "198.51.100." + std::to_string(100 + day);
  };
  {
    AccessLog log(*rig.db, *rig.keys, rig.clock);
    for (int day = 0; day < 20; ++day) {
      log.Record(EntryAt(rig.clock.Now(), ip_of(day)));
      REQUIRE(log.Flush().ok());
      rig.clock.Advance(std::chrono::hours(24));
    }
    auto days = rig.keys->AccessLogKeyDays(Day(UINT32_MAX));
    REQUIRE(days.has_value());
    CHECK(days->size() == 20);
  }
  // The wrapped keys, as the key store's files hold them.
  rig.Close();
  const auto before = KeyStoreRows(rig.keys_path());
  REQUIRE(before.contains(DayRow(first)));
  const std::string oldest_wrapped = before.at(DayRow(first)).substr(1, 24);
  REQUIRE_FALSE(testing::FilesHolding(rig.keys_path(), oldest_wrapped).empty());
  rig.Open();

  // 20 days after the first entry; the cutoff 6 days after it.
  const Timestamp now = rig.clock.Now();
  const Timestamp cutoff = now - AccessLog::kRetention;
  {
    AccessLog log(*rig.db, *rig.keys, rig.clock);
    auto plan = log.PlanRetire(now);
    REQUIRE(plan.has_value());
    CHECK(plan->cutoff == cutoff);
    CHECK(plan->entries == 6);
    CHECK(plan->days.size() == 6);
    CHECK(ReadAll(log).size() == 20);  // a plan changes nothing

    auto done = log.Retire(now);
    INFO((done ? std::string() : done.error().ToString()));
    REQUIRE(done.has_value());
    CHECK(done->cutoff == cutoff);
    CHECK(done->entries == 6);
    REQUIRE(done->days.size() == 6);
    for (int day = 0; day < 6; ++day) {
      CHECK(done->days[day] == Day(first.value() + day));
    }
    // Entries younger than 14 days stay readable; older ones are gone.
    const auto kept = ReadAll(log);
    REQUIRE(kept.size() == 14);
    for (const AccessEntry& e : kept) CHECK(e.time >= cutoff);
    CHECK(kept.front().client_ip == ip_of(6));
    for (int day = 0; day < 6; ++day) {
      auto key = rig.keys->AccessLogKey(Day(first.value() + day), false);
      REQUIRE_FALSE(key.has_value());
      CHECK(key.error().code() == StatusCode::kNotFound);
    }
    CHECK(rig.keys->AccessLogKey(Day(first.value() + 6), false).has_value());

    // A second retirement finds nothing more.
    auto again = log.Retire(now);
    REQUIRE(again.has_value());
    CHECK(again->days.empty());
    CHECK(again->entries == 0);
  }
  rig.Close();
  // The key-store rows of the retired days are gone, the others stay; the
  // wrapped key's bytes are in no file of the key store, and no retired
  // day's IP is in any file (it never was in clear).
  const auto after = KeyStoreRows(rig.keys_path());
  for (int day = 0; day < 20; ++day) {
    INFO("day " << day);
    CHECK(after.contains(DayRow(Day(first.value() + day))) == (day >= 6));
  }
  CHECK(testing::FilesHolding(rig.keys_path(), oldest_wrapped).empty());
  for (int day = 0; day < 20; ++day) {
    CHECK(testing::FilesHolding(rig.dir.path(), ip_of(day)).empty());
  }
}

TEST_CASE("A new day gets a new key, and a destroyed day's entries are skipped",
          "[access_log]") {
  testing::Rig rig;
  AccessLog log(*rig.db, *rig.keys, rig.clock);
  const Day today = DayOf(rig.clock.Now());
  log.Record(EntryAt(rig.clock.Now(), "192.0.2.1"));
  REQUIRE(log.Flush().ok());
  rig.clock.Advance(std::chrono::hours(24));
  log.Record(EntryAt(rig.clock.Now(), "192.0.2.2"));
  REQUIRE(log.Flush().ok());

  auto first = rig.keys->AccessLogKey(today, false);
  auto second = rig.keys->AccessLogKey(Day(today.value() + 1), false);
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  CHECK((*first)->bytes() != (*second)->bytes());

  // With the first day's key destroyed (the entries not yet deleted), its
  // entry is left out and the other still reads.
  auto destroyed = rig.keys->DestroyAccessLogKeysBefore(Day(today.value() + 1));
  REQUIRE(destroyed.has_value());
  REQUIRE(destroyed->size() == 1);
  CHECK(destroyed->front() == today);
  const auto all = ReadAll(log);
  REQUIRE(all.size() == 1);
  CHECK(all[0].client_ip == "192.0.2.2");
}

}  // namespace
}  // namespace siteledger::storage
