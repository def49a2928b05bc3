#include "storage/audit_log.h"

#include <rocksdb/db.h>

#include <catch2/catch.hpp>

#include "storage/base/coding.h"
#include "storage/crypto.h"
#include "storage/internal/keys.h"
#include "tests/storage/rig.h"

namespace siteledger::storage {
namespace {

TEST_CASE("Audit records chain and verify, and a flipped byte is found",
          "[audit]") {
  testing::Rig rig;
  AuditLog audit(*rig.db, rig.clock, rig.master.DeriveAead("audit-log"));
  for (int i = 0; i < 5; ++i) {
    AuditRecord r;
    r.actor = i % 2 ? "operator-jane" : "atlassian";
    r.action = "lifecycle.installed";
    r.tenant = TenantId(1 + i % 2);
    r.outcome = "ok";
    r.reason = "ticket 12" + std::to_string(i);
    auto id = audit.Append(r);
    REQUIRE(id.has_value());
    CHECK(*id == static_cast<uint64_t>(i + 1));
    rig.clock.Advance(std::chrono::seconds(1));
  }
  auto report = audit.Verify();
  REQUIRE(report.has_value());
  CHECK(report->ok);
  CHECK(report->records == 5);

  SECTION("queries filter by tenant, actor and time") {
    AuditFilter by_tenant;
    by_tenant.tenant = TenantId(2);
    CHECK(audit.Query(by_tenant, 0, 100)->size() == 2);
    AuditFilter by_actor;
    by_actor.actor = "atlassian";
    CHECK(audit.Query(by_actor, 0, 100)->size() == 3);
    auto all = audit.Query({}, 0, 100);
    REQUIRE(all->size() == 5);
    AuditFilter window;
    window.since = (*all)[1].record.time;
    window.until = (*all)[3].record.time;
    CHECK(audit.Query(window, 0, 100)->size() == 2);
    CHECK(audit.Query({}, 3, 100)->size() == 2);  // paging by id
  }
  SECTION("tampering is detected at the record that was changed") {
    std::unique_ptr<rocksdb::Iterator> it(rig.db->db()->NewIterator(
        rocksdb::ReadOptions(), rig.db->cf(Family::kAudit)));
    it->SeekToFirst();
    it->Next();
    it->Next();  // record 3
    const std::string key(it->key().ToStringView());
    std::string value(it->value().ToStringView());
    it.reset();
    value[30] ^= 0x01;
    rocksdb::WriteOptions wo;
    REQUIRE(rig.db->db()->Put(wo, rig.db->cf(Family::kAudit), key, value).ok());
    auto bad = audit.Verify();
    REQUIRE(bad.has_value());
    CHECK_FALSE(bad->ok);
    CHECK(bad->first_bad == 3);
  }
  SECTION("a deleted record is detected") {
    std::unique_ptr<rocksdb::Iterator> it(rig.db->db()->NewIterator(
        rocksdb::ReadOptions(), rig.db->cf(Family::kAudit)));
    it->SeekToFirst();
    it->Next();  // record 2
    const std::string key(it->key().ToStringView());
    it.reset();
    REQUIRE(
        rig.db->db()
            ->Delete(rocksdb::WriteOptions(), rig.db->cf(Family::kAudit), key)
            .ok());
    auto bad = audit.Verify();
    CHECK_FALSE(bad->ok);
    CHECK(bad->first_bad == 2);
  }
}

TEST_CASE("Audit records written before sealing still read and verify",
          "[audit]") {
  testing::Rig rig;
  // Two records as earlier versions stored them: format 1, in clear.
  Hash prev{};
  for (uint64_t id = 1; id <= 2; ++id) {
    AuditEntry e;
    e.id = id;
    e.record.time = rig.clock.Now();
    e.record.actor = "atlassian";
    e.record.action = "lifecycle.installed";
    e.record.tenant = TenantId(id);
    e.record.client_key = "legacy-client-" + std::to_string(id);
    e.record.outcome = "ok";
    e.prev_hash = prev;
    std::string plain = EncodeAuditEntry(e);
    e.hash = Sha256(std::string_view(plain).substr(0, plain.size() - 32));
    plain = EncodeAuditEntry(e);
    std::string key;
    coding::PutI64(key, MillisOf(e.record.time));
    coding::PutU64(key, id);
    std::string head;
    coding::PutU64(head, id);
    coding::PutI64(head, MillisOf(e.record.time));
    head.append(reinterpret_cast<const char*>(e.hash.data()), 32);
    rocksdb::WriteOptions wo;
    REQUIRE(rig.db->db()->Put(wo, rig.db->cf(Family::kAudit), key, plain).ok());
    REQUIRE(rig.db->db()
                ->Put(wo, rig.db->cf(Family::kTenants),
                      internal::TenantRowKey(internal::kRegistryTenant,
                                             internal::TenantRow::kAuditHead),
                      head)
                .ok());
    prev = e.hash;
    rig.clock.Advance(std::chrono::seconds(1));
  }
  AuditLog audit(*rig.db, rig.clock, rig.master.DeriveAead("audit-log"));
  AuditRecord r;
  r.actor = "operator-jane";
  r.action = "operator.read";
  r.client_key = "sealed-client";
  r.reason = "ticket 7";
  auto id = audit.Append(r);
  REQUIRE(id.has_value());
  CHECK(*id == 3);

  auto all = audit.Query({}, 0, 10);
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].record.client_key == "legacy-client-1");
  CHECK((*all)[2].record.client_key == "sealed-client");
  CHECK((*all)[2].record.reason == "ticket 7");
  CHECK((*all)[2].prev_hash == (*all)[1].hash);
  auto report = audit.Verify();
  REQUIRE(report.has_value());
  INFO(report->problem);
  CHECK(report->ok);
  CHECK(report->records == 3);

  // The new record is stored sealed (format 2), the old ones as they were.
  std::unique_ptr<rocksdb::Iterator> it(rig.db->db()->NewIterator(
      rocksdb::ReadOptions(), rig.db->cf(Family::kAudit)));
  std::vector<uint8_t> formats;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    formats.push_back(static_cast<uint8_t>(it->value()[0]));
    CHECK(it->value().ToStringView().find("sealed-client") ==
          std::string_view::npos);
  }
  CHECK(formats == std::vector<uint8_t>{1, 1, 2});

  SECTION("another region's audit key does not open a sealed record") {
    AuditLog foreign(*rig.db, rig.clock,
                     *AeadKey::FromBytes(std::string(32, '\x09')));
    auto read = foreign.Query({}, 0, 10);
    REQUIRE_FALSE(read.has_value());
    CHECK(read.error().code() == StatusCode::kCorruption);
    auto bad = foreign.Verify();
    REQUIRE(bad.has_value());
    CHECK_FALSE(bad->ok);
    CHECK(bad->first_bad == 3);
  }
}

}  // namespace
}  // namespace siteledger::storage
