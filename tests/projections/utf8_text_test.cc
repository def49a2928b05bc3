// Text that is not UTF-8: refused before it becomes an event, and read back
// (listed, folded as of any seq, restored) where an older log holds some.

#include <catch2/catch.hpp>

#include "projections/projector.h"
#include "storage/base/utf8.h"
#include "tests/storage/rig.h"

namespace siteledger::projections {
namespace {

constexpr std::string_view kResults = R"({"results":[{"contentId":"1"}]})";
// The hostile review's keyword, %C0%AE%FF decoded.
const std::string kBad = "\xC0\xAE\xFF";

struct World {
  testing::Rig rig;
  std::unique_ptr<Projector> projector;
  TenantId tenant;
  World() {
    tenant = rig.NewTenant("client-utf8");
    projector = std::make_unique<Projector>(*rig.log, rig.clock);
  }
  ~World() { projector.reset(); }
  Result<CommandResult> SetPromoted(const std::string& keyword) {
    Command c;
    c.type = CommandType::kSetPromoted;
    c.id = keyword;
    c.body = *ParseJson(kResults);
    return projector->ExecuteSync(tenant, std::move(c));
  }
  Sequence Head() { return rig.log->GetHead(tenant)->seq; }
};

TEST_CASE("A command whose text is not UTF-8 is refused and writes nothing",
          "[utf8]") {
  World w;
  REQUIRE(w.SetPromoted("benefits").has_value());
  auto bad = w.SetPromoted(kBad);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code() == StatusCode::kInvalidArgument);
  CHECK(w.Head() == Sequence(1));
  auto page = w.projector->List(w.tenant, ViewKind::kPromoted, "", 10);
  REQUIRE(page.has_value());
  CHECK(page->items.size() == 1);
}

TEST_CASE(
    "A log that holds text that is not UTF-8 is still read, listed, "
    "folded and restored",
    "[utf8]") {
  World w;
  REQUIRE(w.SetPromoted("benefits").has_value());  // seq 1
  // What an older server wrote: the raw bytes in an event and in its view
  // row's document.
  const std::string payload =
      R"({"v":1,"keyword":")" + kBad + R"(","results":[{"contentId":"2"}]})";
  auto raw = w.rig.log->Append(
      w.tenant, Sequence(1), {storage::NewEvent{"promoted.set", "", payload}});
  REQUIRE(raw.has_value());  // seq 2
  // A log changed behind the projector's back has its views rebuilt.
  REQUIRE(w.projector->Rebuild(w.tenant).ok());
  REQUIRE(w.SetPromoted("later").has_value());  // seq 3

  // The events read back as JSON, with U+FFFD for the bad bytes.
  auto events = w.rig.log->Read(w.tenant, Sequence(1), 10);
  REQUIRE(events.has_value());
  REQUIRE(events->size() == 3);
  auto parsed = ParseJson((*events)[1].payload, TrustedJsonLimits());
  REQUIRE(parsed.has_value());
  CHECK(ValidUtf8(parsed->GetString("keyword")));
  CHECK(parsed->Dump().find("\xEF\xBF\xBD") != std::string::npos);

  // As of every seq, folded from the first event and from the versions.
  for (uint64_t seq = 1; seq <= 6; ++seq) {
    INFO("as of seq " << seq);
    auto state = w.projector->StateAt(w.tenant, Sequence((seq + 1) / 2),
                                      /*from_history=*/seq % 2 == 0);
    REQUIRE(state.has_value());
    auto keys = state->Keys(ViewKind::kPromoted);
    REQUIRE(keys.has_value());
    CHECK(keys->size() == (seq + 1) / 2);
    for (const ViewKey& key : *keys) CHECK(ValidUtf8(key.id));
  }
  // A restore to before the bad text drops it; history keeps it.
  Command restore;
  restore.type = CommandType::kRestore;
  restore.body = *ParseJson(R"({"toSeq":1})");
  auto restored = w.projector->ExecuteSync(w.tenant, std::move(restore));
  REQUIRE(restored.has_value());
  auto page = w.projector->List(w.tenant, ViewKind::kPromoted, "", 10);
  REQUIRE(page.has_value());
  REQUIRE(page->items.size() == 1);
  CHECK(page->items[0].second.doc.GetString("keyword") == "benefits");
  // And undoing the restore brings every entity back, readable.
  Command undo;
  undo.type = CommandType::kRestore;
  undo.body = *ParseJson(R"({"toSeq":3})");
  REQUIRE(w.projector->ExecuteSync(w.tenant, std::move(undo)).has_value());
  page = w.projector->List(w.tenant, ViewKind::kPromoted, "", 10);
  REQUIRE(page.has_value());
  CHECK(page->items.size() == 3);
  for (const auto& [key, view] : page->items) {
    CHECK(ValidUtf8(view.doc.GetString("keyword")));
  }
}

}  // namespace
}  // namespace siteledger::projections
