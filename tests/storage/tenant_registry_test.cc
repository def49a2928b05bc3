#include "storage/tenant_registry.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/storage/rig.h"

namespace siteledger::storage {
namespace {

TEST_CASE("Installing creates a tenant once and reinstalling updates it",
          "[registry]") {
  testing::Rig rig;
  auto first = rig.registry->Install(
      {"client-a", "https://a.atlassian.net", "secret-1"});
  REQUIRE(first.has_value());
  CHECK(first->created);
  CHECK(first->record.id.value() == 1);
  CHECK(first->record.home_region == "us");
  CHECK(first->record.state == LifecycleState::kInstalled);

  auto second = rig.registry->Install(
      {"client-b", "https://b.atlassian.net", "secret-b"});
  REQUIRE(second.has_value());
  CHECK(second->record.id.value() == 2);

  rig.clock.Advance(std::chrono::seconds(5));
  auto again = rig.registry->Install(
      {"client-a", "https://a2.atlassian.net", "secret-2"});
  REQUIRE(again.has_value());
  CHECK_FALSE(again->created);
  CHECK(again->record.id == first->record.id);
  CHECK(again->record.shared_secret == "secret-2");
  CHECK(again->record.base_url == "https://a2.atlassian.net");
  CHECK(again->record.created == first->record.created);
  CHECK(again->record.updated > first->record.updated);

  rig.Reopen();
  auto found = rig.registry->GetByClientKey("client-a");
  REQUIRE(found.has_value());
  CHECK(found->shared_secret == "secret-2");
  CHECK(rig.registry->Find("client-c").error().code() == StatusCode::kNotFound);
}

TEST_CASE("Tenant ids are never reused", "[registry]") {
  testing::Rig rig;
  for (int i = 0; i < 5; ++i) rig.NewTenant("c" + std::to_string(i));
  rig.Reopen();
  CHECK(rig.NewTenant("later").value() == 6);
}

TEST_CASE("A reinstall of an uninstalled tenant restores it", "[registry]") {
  testing::Rig rig;
  const TenantId id = rig.NewTenant("client-a");
  auto record = rig.registry->Get(id);
  REQUIRE(record.has_value());
  record->state = LifecycleState::kUninstalled;
  record->uninstalled_at = rig.clock.Now();
  REQUIRE(rig.registry->Update(*record).ok());
  auto again = rig.registry->Install({"client-a", "https://a", "s2"});
  REQUIRE(again.has_value());
  CHECK(again->restored);
  CHECK(again->record.state == LifecycleState::kInstalled);
  CHECK_FALSE(again->record.uninstalled_at.has_value());
}

TEST_CASE(
    "An uninstalled tenant's purge is claimed only when due, a reinstall "
    "calls it off, and after the claim an install starts a new tenant",
    "[registry]") {
  testing::Rig rig;
  const TenantId id = rig.NewTenant("client-a");
  auto uninstall = [&] {
    auto record = rig.registry->Get(id);
    REQUIRE(record.has_value());
    record->state = LifecycleState::kUninstalled;
    record->uninstalled_at = rig.clock.Now();
    record->purge_at = rig.clock.Now() + std::chrono::days(30);
    REQUIRE(rig.registry->Update(*record).ok());
  };
  uninstall();
  CHECK(rig.registry->PurgesDue(rig.clock.Now(), 10)->empty());
  CHECK_FALSE(*rig.registry->ClaimPurge(id, rig.clock.Now()));

  // A reinstall before the date calls the purge off: no index row is left.
  auto again = rig.registry->Install({"client-a", "https://a", "s2"});
  REQUIRE(again.has_value());
  CHECK(again->restored);
  CHECK_FALSE(again->record.purge_at.has_value());
  const Timestamp later = rig.clock.Now() + std::chrono::days(31);
  CHECK(rig.registry->PurgesDue(later, 10)->empty());
  CHECK_FALSE(*rig.registry->ClaimPurge(id, later));
  CHECK(rig.registry->Remove(id).code() == StatusCode::kConflict);

  uninstall();
  rig.clock.Advance(std::chrono::days(31));
  REQUIRE(rig.registry->PurgesDue(rig.clock.Now(), 10)->size() == 1);
  REQUIRE(*rig.registry->ClaimPurge(id, rig.clock.Now()));
  // Claimed twice (a purge resumed after a crash) is still claimed.
  CHECK(*rig.registry->ClaimPurge(id, rig.clock.Now()));
  CHECK(rig.registry->Get(id)->state == LifecycleState::kPurged);

  // An install now is a new tenant; removing the old one leaves the new
  // one's clientKey row alone.
  auto fresh = rig.registry->Install({"client-a", "https://a", "s3"});
  REQUIRE(fresh.has_value());
  CHECK(fresh->created);
  CHECK(fresh->record.id != id);
  REQUIRE(rig.registry->Remove(id).ok());
  CHECK(rig.registry->Get(id).error().code() == StatusCode::kNotFound);
  CHECK(rig.registry->PurgesDue(rig.clock.Now(), 10)->empty());
  CHECK(*rig.registry->Find("client-a") == fresh->record.id);
  CHECK(rig.registry->Remove(id).ok());  // idempotent

  // Without a new install, Remove takes the clientKey's row too.
  const TenantId other = rig.NewTenant("client-b");
  auto record = rig.registry->Get(other);
  record->state = LifecycleState::kUninstalled;
  record->purge_at = rig.clock.Now();
  REQUIRE(rig.registry->Update(*record).ok());
  REQUIRE(*rig.registry->ClaimPurge(other, rig.clock.Now()));
  REQUIRE(rig.registry->Remove(other).ok());
  CHECK(rig.registry->Find("client-b").error().code() == StatusCode::kNotFound);
}

TEST_CASE("No clientKey or secret is stored in plaintext", "[registry]") {
  testing::Rig rig;
  rig.NewTenant("very-distinctive-client-key");
  rig.Close();
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(rig.dir.path())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
    INFO(entry.path().string());
    CHECK(content.find("very-distinctive-client-key") == std::string::npos);
    CHECK(content.find("very-distinctive-client-key.atlassian.net") ==
          std::string::npos);
  }
  rig.Open();
}

TEST_CASE("Bad installations are refused", "[registry]") {
  testing::Rig rig;
  CHECK(rig.registry->Install({"", "https://a", "s"}).error().code() ==
        StatusCode::kInvalidArgument);
  CHECK(rig.registry->Install({"c", "https://a", ""}).error().code() ==
        StatusCode::kInvalidArgument);
  CHECK(rig.registry->Install({std::string(300, 'c'), "https://a", "s"})
            .error()
            .code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Tenants list in id order, paged", "[registry]") {
  testing::Rig rig;
  for (int i = 0; i < 7; ++i) rig.NewTenant("c" + std::to_string(i));
  // Idempotency rows between records must not disturb the listing.
  AppendRequest r;
  r.tenant = TenantId(3);
  r.events.push_back(testing::Ev("x.y", "{}"));
  r.idempotency_key = "k";
  REQUIRE(rig.log->Append(r).has_value());
  auto page = rig.registry->List(TenantId(0), 3);
  REQUIRE(page.has_value());
  REQUIRE(page->size() == 3);
  CHECK((*page)[0].client_key == "c0");
  CHECK((*page)[2].id.value() == 3);
  auto rest = rig.registry->List((*page)[2].id, 100);
  REQUIRE(rest.has_value());
  REQUIRE(rest->size() == 4);
  CHECK(rest->back().client_key == "c6");
}

}  // namespace
}  // namespace siteledger::storage

namespace siteledger::storage {
namespace {

TEST_CASE(
    "The tenant count walks the records once, past a page of 1000, then "
    "follows installs and removals without walking",
    "[registry]") {
  testing::Rig rig;
  REQUIRE(*rig.registry->Count() == 0);  // known from here on
  std::vector<TenantId> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(rig.NewTenant("client-" + std::to_string(i)));
  }
  CHECK(*rig.registry->Count() == 3);
  // A reinstall of a known clientKey is no new tenant.
  REQUIRE(rig.registry->Install({"client-0", "https://a", "s2"}).has_value());
  CHECK(*rig.registry->Count() == 3);
  // Claimed and removed: one fewer.
  auto record = rig.registry->Get(ids[1]);
  REQUIRE(record.has_value());
  record->state = LifecycleState::kUninstalled;
  record->purge_at = rig.clock.Now();
  REQUIRE(rig.registry->Update(*record).ok());
  REQUIRE(*rig.registry->ClaimPurge(ids[1], rig.clock.Now()));
  REQUIRE(rig.registry->Remove(ids[1]).ok());
  CHECK(*rig.registry->Count() == 2);
  REQUIRE(rig.registry->Remove(ids[1]).ok());  // again: nothing removed
  CHECK(*rig.registry->Count() == 2);
}

TEST_CASE("The first tenant count walks more than one page of records",
          "[registry]") {
  testing::Rig rig;
  for (int i = 0; i < 1001; ++i) {
    rig.NewTenant("client-" + std::to_string(i));
  }
  CHECK(*rig.registry->Count() == 1001);
}

}  // namespace
}  // namespace siteledger::storage
