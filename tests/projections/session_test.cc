// The sessions' caches and the budget they share.

#include "projections/internal/session.h"

#include <catch2/catch.hpp>
#include <memory>

#include "projections/projector.h"
#include "tests/storage/rig.h"

namespace siteledger::projections {
namespace {

using internal::CacheBudget;
using internal::Session;

std::shared_ptr<const ViewDoc> Doc(int n) {
  Json doc = Json::MakeObject();
  doc.Set("name", "site " + std::to_string(n));
  return std::make_shared<const ViewDoc>(ViewDoc{std::move(doc), Sequence(1)});
}

TEST_CASE("A cache budget never hands out more than its limit", "[session]") {
  CacheBudget budget(100);
  CHECK(budget.TryTake(60));
  CHECK_FALSE(budget.TryTake(41));
  CHECK(budget.TryTake(40));
  CHECK(budget.used() == 100);
  CHECK_FALSE(budget.TryTake(1));
  budget.Give(100);
  CHECK(budget.used() == 0);
  CHECK_FALSE(budget.TryTake(101));
  CHECK(budget.used() == 0);
}

TEST_CASE("Sessions' caches together stay within their shared budget",
          "[session]") {
  const size_t one = Session::DocBytes(1000) + 2;  // a 1000-byte doc, id "sN"
  auto shared = std::make_shared<CacheBudget>(10 * one);
  CacheBudget& budget = *shared;
  auto a = std::make_unique<Session>(shared);
  auto b = std::make_unique<Session>(shared);
  {
    MutexLock lock(a->mu);
    for (int i = 0; i < 10; ++i) {
      a->CacheDoc({ViewKind::kSite, "s" + std::to_string(i)}, Doc(i), 1000);
    }
    CHECK(a->docs.size() == 10);
    CHECK(budget.used() == 10 * one);
    // Replacing a doc gives its old bytes back first.
    a->CacheDoc({ViewKind::kSite, "s0"}, Doc(100), 1000);
    CHECK(a->docs.size() == 10);
    CHECK(budget.used() == 10 * one);
  }
  {
    // No room: b drops its own caches (nothing) and caches nothing.
    MutexLock lock(b->mu);
    b->CacheDoc({ViewKind::kSite, "s0"}, Doc(0), 1000);
    CHECK(b->docs.empty());
    CHECK(b->cached_bytes == 0);
  }
  {
    // No room for a: it drops its own caches to make some.
    MutexLock lock(a->mu);
    a->CacheDoc({ViewKind::kSite, "s10"}, Doc(10), 1000);
    CHECK(a->docs.size() == 1);
    CHECK(budget.used() == Session::DocBytes(1000) + 3);  // id "s10"
    a->CachePseudonym("557058:0001", "u_0001");
    CHECK(a->pseudonyms.size() == 1);
    CHECK(budget.used() == a->cached_bytes);
  }
  // A session that goes (evicted, or the table with it) gives its bytes back.
  a.reset();
  CHECK(budget.used() == 0);
}

TEST_CASE("Commands decide right when the sessions may cache nothing",
          "[session]") {
  testing::Rig rig;
  const TenantId tenant = rig.NewTenant("client-a");
  Projector::Options options;
  options.session_cache_bytes = 1;
  options.view_cache_bytes = 1;
  Projector projector(*rig.log, rig.clock, options);
  Command create;
  create.type = CommandType::kCreateSite;
  create.body = *ParseJson(R"({"name":"Intranet"})");
  auto created = projector.ExecuteSync(tenant, create);
  REQUIRE(created.has_value());
  const std::string id = created->entity->id;
  for (int i = 0; i < 3; ++i) {
    Command rename;
    rename.type = CommandType::kUpdateSite;
    rename.id = id;
    rename.if_match = created->last;
    rename.body =
        *ParseJson(R"({"name":"Renamed )" + std::to_string(i) + "\"}");
    auto renamed = projector.ExecuteSync(tenant, rename);
    // The first rename matches; the later ones carry a stale If-Match.
    if (i == 0) {
      REQUIRE(renamed.has_value());
    } else {
      REQUIRE_FALSE(renamed.has_value());
      CHECK(renamed.error().code() == StatusCode::kPreconditionFailed);
    }
  }
  auto view = projector.GetStored(tenant, {ViewKind::kSite, id});
  REQUIRE(view.has_value());
  REQUIRE(*view != nullptr);
  CHECK((*view)->json.find("Renamed 0") != std::string::npos);
}

}  // namespace
}  // namespace siteledger::projections
