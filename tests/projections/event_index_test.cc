// Projector::FindEvents against a brute-force scan of the log on random
// data (a property test with a seeded RNG), and VerifyIndex / RebuildIndex /
// Rebuild / CatchUp keeping the event index right. Real Store parts (the
// rig's RocksDB in a temp dir), no mocks.
//
// The entity predicate of the scan is derived without the index: an event
// changed entity `id` when, in the state after it (Projector::StateAt, from
// the views' versions), some view with that id has the event's seq as its
// version, or a view with that id that existed before it is gone.

#include "storage/event_index.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "projections/projector.h"
#include "storage/base/coding.h"
#include "storage/base/rfc3339.h"
#include "tests/storage/rig.h"

namespace siteledger::projections {
namespace {

using siteledger::StatusCode;

constexpr ViewKind kKinds[] = {
    ViewKind::kSite,     ViewKind::kTheme,        ViewKind::kNavigation,
    ViewKind::kLayout,   ViewKind::kAnnouncement, ViewKind::kPromoted,
    ViewKind::kFeatured, ViewKind::kFeedback,     ViewKind::kUser,
    ViewKind::kMedia,    ViewKind::kTotals};

struct World {
  testing::Rig rig;
  std::unique_ptr<Projector> projector;
  TenantId tenant;
  std::mt19937 rng{20261128};
  std::vector<std::string> sites, themes;

  World() {
    tenant = rig.NewTenant("client-a");
    projector = std::make_unique<Projector>(*rig.log, rig.clock);
  }
  ~World() { projector.reset(); }

  size_t Pick(size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  }

  void RunOne() {
    static const std::vector<std::string> kActors = {"acct-alice", "acct-bob",
                                                     "acct-carol", ""};
    Command c;
    c.actor = kActors[Pick(kActors.size())];
    const std::string name = "n" + std::to_string(Pick(1000));
    const size_t what = Pick(8);
    if (what == 0 || sites.empty()) {
      c.type = CommandType::kCreateSite;
      c.body = *ParseJson(R"({"name":")" + name + "\"}");
    } else if (what == 1 || themes.empty()) {
      c.type = CommandType::kCreateTheme;
      c.body = *ParseJson(R"({"name":")" + name + "\"}");
    } else if (what == 2) {
      c.type = CommandType::kUpdateSite;
      c.id = sites[Pick(sites.size())];
      c.body = *ParseJson(R"({"name":")" + name + "\"}");
    } else if (what == 3) {
      c.type = CommandType::kUpdateSite;
      c.id = sites[Pick(sites.size())];
      c.body =
          *ParseJson(R"({"themeId":")" + themes[Pick(themes.size())] + "\"}");
    } else if (what == 4) {
      c.type = CommandType::kUpdateTheme;
      c.id = themes[Pick(themes.size())];
      c.body = *ParseJson(R"({"name":")" + name + "\"}");
    } else if (what == 5) {
      c.type = CommandType::kAddDomain;
      c.id = sites[Pick(sites.size())];
      c.item = name + ".example.com";
    } else if (what == 6) {
      c.type = CommandType::kDeleteSite;
      const size_t i = Pick(sites.size());
      c.id = sites[i];
      sites.erase(sites.begin() + static_cast<ptrdiff_t>(i));
    } else {
      c.type = CommandType::kDeleteTheme;
      const size_t i = Pick(themes.size());
      c.id = themes[i];
      themes.erase(themes.begin() + static_cast<ptrdiff_t>(i));
    }
    const CommandType type = c.type;
    auto r = projector->ExecuteSync(tenant, std::move(c));
    // Some commands are refused (a theme in use, a duplicate domain): they
    // write nothing, which the scan sees as well.
    if (r.has_value() && r->entity) {
      if (type == CommandType::kCreateSite) sites.push_back(r->entity->id);
      if (type == CommandType::kCreateTheme) themes.push_back(r->entity->id);
    }
    if (Pick(3) == 0)
      rig.clock.Advance(std::chrono::milliseconds(1 + Pick(5000)));
  }
};

// The log, and for each event the entity ids it changed (see the top).
struct Truth {
  std::vector<storage::Event> events;
  std::vector<std::set<std::string>> changed;  // by seq - 1
};

std::map<ViewKey, Sequence> Versions(Projector& p, TenantId tenant,
                                     Sequence seq) {
  std::map<ViewKey, Sequence> out;
  if (seq.value() == 0) return out;
  auto state = p.StateAt(tenant, seq);
  REQUIRE(state.has_value());
  for (ViewKind kind : kKinds) {
    auto keys = state->Keys(kind);
    REQUIRE(keys.has_value());
    for (const ViewKey& key : *keys) {
      auto doc = state->Get(key);
      REQUIRE(doc.has_value());
      out[key] = (*doc)->version;
    }
  }
  return out;
}

Truth Scan(testing::Rig& rig, Projector& p, TenantId tenant) {
  Truth t;
  for (Sequence next(1);;) {
    auto batch = rig.log->Read(tenant, next, 500);
    REQUIRE(batch.has_value());
    if (batch->empty()) break;
    for (auto& e : *batch) t.events.push_back(std::move(e));
    next = Sequence(t.events.back().seq.value() + 1);
  }
  std::map<ViewKey, Sequence> before;
  for (const storage::Event& e : t.events) {
    auto after = Versions(p, tenant, e.seq);
    std::set<std::string> ids;
    for (const auto& [key, version] : after) {
      if (version == e.seq) ids.insert(key.id);
    }
    for (const auto& [key, version] : before) {
      if (!after.contains(key)) ids.insert(key.id);
    }
    t.changed.push_back(std::move(ids));
    before = std::move(after);
  }
  return t;
}

std::vector<uint64_t> Expected(const Truth& t,
                               const Projector::EventFilter& f) {
  std::vector<uint64_t> out;
  for (size_t i = 0; i < t.events.size(); ++i) {
    const storage::Event& e = t.events[i];
    if (f.type && e.type != *f.type) continue;
    if (f.actor && e.actor != *f.actor) continue;
    if (f.entity && !t.changed[i].contains(*f.entity)) continue;
    if (f.since && e.time < *f.since) continue;
    if (f.until && e.time > *f.until) continue;
    out.push_back(e.seq.value());
  }
  return out;
}

// Every page of `f` (from its `after`), through next_cursor.
std::vector<uint64_t> AllPages(Projector& p, TenantId tenant,
                               Projector::EventFilter f) {
  std::vector<uint64_t> out;
  for (int pages = 0;; ++pages) {
    REQUIRE(pages < 10000);
    auto page = p.FindEvents(tenant, f);
    INFO((page ? std::string() : page.error().ToString()));
    REQUIRE(page.has_value());
    CHECK(page->items.size() <= f.limit);
    for (const storage::Event& e : page->items) out.push_back(e.seq.value());
    if (page->next_cursor.empty()) break;
    CHECK(page->items.size() == f.limit);
    f.after = Sequence(std::stoull(page->next_cursor));
  }
  return out;
}

// Random filters; each compared with the scan. Returns how many matched
// something (so that the test knows it did not only compare empty answers).
int CompareRandomFilters(World& w, const Truth& t, TenantId tenant,
                         int rounds) {
  std::set<std::string> types, actors, entities;
  for (size_t i = 0; i < t.events.size(); ++i) {
    types.insert(t.events[i].type);
    if (!t.events[i].actor.empty()) actors.insert(t.events[i].actor);
    entities.insert(t.changed[i].begin(), t.changed[i].end());
  }
  auto pick = [&](const std::set<std::string>& s) {
    return *std::next(s.begin(), static_cast<ptrdiff_t>(w.Pick(s.size())));
  };
  int nonempty = 0;
  for (int round = 0; round < rounds; ++round) {
    Projector::EventFilter f;
    const unsigned mask = static_cast<unsigned>(w.Pick(32));
    if (mask & 1) f.type = w.Pick(10) == 0 ? "no.such" : pick(types);
    if (mask & 2) f.actor = pick(actors);
    if (mask & 4)
      f.entity = w.Pick(10) == 0 ? "s_nosuchentity" : pick(entities);
    if (mask & 8) {
      f.since = t.events[w.Pick(t.events.size())].time +
                std::chrono::milliseconds(static_cast<int>(w.Pick(3)) - 1);
    }
    if (mask & 16) {
      f.until = t.events[w.Pick(t.events.size())].time +
                std::chrono::milliseconds(static_cast<int>(w.Pick(3)) - 1);
    }
    f.limit = 1 + w.Pick(7);
    if (w.Pick(4) == 0) f.after = t.events[w.Pick(t.events.size())].seq;
    std::vector<uint64_t> want = Expected(t, f);
    std::erase_if(want, [&](uint64_t s) { return s <= f.after.value(); });
    INFO("round " << round << " type=" << f.type.value_or("-")
                  << " actor=" << f.actor.value_or("-")
                  << " entity=" << f.entity.value_or("-")
                  << " since=" << (f.since ? FormatRfc3339(*f.since) : "-")
                  << " until=" << (f.until ? FormatRfc3339(*f.until) : "-")
                  << " after=" << f.after.value() << " limit=" << f.limit);
    // Without type, actor and entity (mask & 7 == 0) FindEvents reads the
    // log between since and until: the same comparison holds.
    REQUIRE(AllPages(*w.projector, tenant, f) == want);
    if (!want.empty()) ++nonempty;
  }
  return nonempty;
}

void RequireIndexOk(Projector& p, TenantId tenant) {
  auto report = p.VerifyIndex(tenant);
  INFO((report ? report->first_problem : report.error().ToString()));
  REQUIRE(report.has_value());
  REQUIRE(report->ok);
}

// The raw keys of the tenant's index rows.
std::vector<std::string> IndexKeys(testing::Rig& rig, TenantId tenant) {
  std::unique_ptr<rocksdb::Iterator> it(
      rig.db->db()->NewIterator({}, rig.db->cf(storage::Family::kIndex)));
  // A row key starts with the tenant id, 8 bytes big-endian.
  std::string prefix;
  coding::PutU64(prefix, tenant.value());
  std::vector<std::string> out;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    out.push_back(it->key().ToString());
  }
  REQUIRE(it->status().ok());
  return out;
}

void RawIndexWrite(testing::Rig& rig, const std::string& key,
                   std::optional<std::string> value) {
  rocksdb::WriteBatch batch;
  auto* cf = rig.db->cf(storage::Family::kIndex);
  REQUIRE((value ? batch.Put(cf, key, *value) : batch.Delete(cf, key)).ok());
  REQUIRE(rig.db->WriteSynced(batch).ok());
}

TEST_CASE("FindEvents equals a scan of the log on random data",
          "[projector][event_index]") {
  World w;
  for (int i = 0; i < 300; ++i) w.RunOne();
  const Truth t = Scan(w.rig, *w.projector, w.tenant);
  REQUIRE(t.events.size() > 200);
  RequireIndexOk(*w.projector, w.tenant);
  CHECK(CompareRandomFilters(w, t, w.tenant, 300) > 100);

  SECTION(
      "a garbage index row is found by VerifyIndex, fixed by RebuildIndex") {
    const auto keys = IndexKeys(w.rig, w.tenant);
    REQUIRE(keys.size() > 10);
    const std::string& key = keys[w.Pick(keys.size())];
    RawIndexWrite(w.rig, key, std::string("garbage, not a bitmap"));
    auto report = w.projector->VerifyIndex(w.tenant);
    REQUIRE(report.has_value());
    CHECK_FALSE(report->ok);
    CHECK(report->unparsable == 1);
    const std::string dim(storage::IndexDimensionName(key[8]));
    CHECK_THAT(report->first_problem, Catch::Contains(dim));
    CHECK_THAT(report->first_problem, Catch::Contains("chunk 0"));
    REQUIRE(w.projector->RebuildIndex(w.tenant).ok());
    RequireIndexOk(*w.projector, w.tenant);
    CHECK(IndexKeys(w.rig, w.tenant) == keys);
    CompareRandomFilters(w, t, w.tenant, 100);
  }

  SECTION(
      "a deleted index row is found by VerifyIndex, fixed by RebuildIndex") {
    const auto keys = IndexKeys(w.rig, w.tenant);
    RawIndexWrite(w.rig, keys[w.Pick(keys.size())], std::nullopt);
    auto report = w.projector->VerifyIndex(w.tenant);
    REQUIRE(report.has_value());
    CHECK_FALSE(report->ok);
    CHECK(report->missing == 1);
    CHECK_FALSE(report->first_problem.empty());
    REQUIRE(w.projector->RebuildIndex(w.tenant).ok());
    RequireIndexOk(*w.projector, w.tenant);
    CompareRandomFilters(w, t, w.tenant, 100);
  }

  SECTION("Rebuild (the views) rewrites the index too") {
    for (const std::string& key : IndexKeys(w.rig, w.tenant)) {
      RawIndexWrite(w.rig, key, std::nullopt);
    }
    auto report = w.projector->VerifyIndex(w.tenant);
    REQUIRE(report.has_value());
    CHECK_FALSE(report->ok);
    REQUIRE(w.projector->Rebuild(w.tenant).ok());
    RequireIndexOk(*w.projector, w.tenant);
    CompareRandomFilters(w, t, w.tenant, 100);
  }

  SECTION("CatchUp of imported events builds the same index") {
    const TenantId b = w.rig.NewTenant("client-b");
    size_t at = 0;
    while (at < t.events.size()) {
      const size_t n = std::min<size_t>(1 + w.Pick(60), t.events.size() - at);
      storage::AppendRequest request;
      request.tenant = b;
      request.imported.assign(
          t.events.begin() + static_cast<ptrdiff_t>(at),
          t.events.begin() + static_cast<ptrdiff_t>(at + n));
      auto appended = w.rig.log->Append(std::move(request));
      INFO((appended ? std::string() : appended.error().ToString()));
      REQUIRE(appended.has_value());
      REQUIRE(w.projector->CatchUp(b, t.events[at].seq).ok());
      at += n;
    }
    RequireIndexOk(*w.projector, b);
    CHECK(IndexKeys(w.rig, b).size() == IndexKeys(w.rig, w.tenant).size());
    CHECK(CompareRandomFilters(w, t, b, 200) > 50);
  }
}

}  // namespace
}  // namespace siteledger::projections
