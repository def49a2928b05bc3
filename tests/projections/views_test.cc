#include "projections/views.h"

#include <catch2/catch.hpp>

#include "projections/events.h"
#include "storage/base/rfc3339.h"

namespace siteledger::projections {
namespace {

Json P(std::string_view text) {
  auto j = ParseJson(text);
  REQUIRE(j.has_value());
  return *j;
}

void Fold(TenantState& state, uint64_t seq, std::string_view type,
          std::string_view payload) {
  const Json p = P(payload);
  REQUIRE(ValidatePayload(type, p).ok());
  REQUIRE(Apply(state, EventRef{Sequence(seq),
                                siteledger::TimestampFromMillis(1000 * seq),
                                type, "", p})
              .ok());
  state.set_seq(Sequence(seq));
}

TEST_CASE("Events naming a missing entity change nothing", "[views]") {
  TenantState state;
  Fold(state, 1, event::kSiteRenamed, R"({"v":1,"siteId":"s","name":"x"})");
  Fold(state, 2, event::kNavigationItemRemoved,
       R"({"v":1,"siteId":"s","itemId":"a"})");
  Fold(state, 3, event::kFeedbackResolved, R"({"v":1,"feedbackId":"b"})");
  CHECK(state.size() == 0);
}

TEST_CASE("Each view records the seq of the last event that changed it",
          "[views]") {
  TenantState state;
  Fold(state, 1, event::kSiteCreated, R"({"v":1,"siteId":"s","name":"A"})");
  Fold(state, 2, event::kThemeCreated, R"({"v":1,"themeId":"t","name":"T"})");
  Fold(state, 3, event::kSiteRenamed, R"({"v":1,"siteId":"s","name":"B"})");
  CHECK((*state.Get({ViewKind::kSite, "s"}))->version == Sequence(3));
  CHECK((*state.Get({ViewKind::kTheme, "t"}))->version == Sequence(2));
  CHECK((*state.Get({ViewKind::kSite, "s"}))->doc.GetString("createdAt") ==
        "1970-01-01T00:00:01.000Z");
  CHECK((*state.Get({ViewKind::kSite, "s"}))->doc.GetString("updatedAt") ==
        "1970-01-01T00:00:03.000Z");
}

TEST_CASE("Restoring keeps identical rows and versions the rest", "[views]") {
  TenantState before;
  Fold(before, 1, event::kSiteCreated, R"({"v":1,"siteId":"a","name":"A"})");
  Fold(before, 2, event::kSiteCreated, R"({"v":1,"siteId":"b","name":"B"})");
  TenantState now = before;
  Fold(now, 3, event::kSiteRenamed, R"({"v":1,"siteId":"b","name":"B2"})");
  Fold(now, 4, event::kSiteCreated, R"({"v":1,"siteId":"c","name":"C"})");
  Fold(now, 5, event::kSiteDeleted, R"({"v":1,"siteId":"a"})");

  TenantState restored = now;
  RestoreTo(restored, now, before, Sequence(6));
  CHECK(restored.Digest() == before.Digest());
  CHECK((*restored.Get({ViewKind::kSite, "a"}))->version == Sequence(6));
  CHECK((*restored.Get({ViewKind::kSite, "b"}))->version == Sequence(6));
  CHECK(*restored.Get({ViewKind::kSite, "c"}) == nullptr);
  // The digest ignores versions; the rows do not.
  CHECK_FALSE(restored.rows() == before.rows());
}

TEST_CASE("Announcements are active between their start and end", "[views]") {
  const Json doc = P(R"({"startsAt":"2026-11-25T10:00:00Z",
                         "endsAt":"2026-11-25T12:00:00Z"})");
  auto at = [](const char* t) { return *siteledger::ParseRfc3339(t); };
  CHECK_FALSE(AnnouncementActiveAt(doc, at("2026-11-25T09:59:59Z")));
  CHECK(AnnouncementActiveAt(doc, at("2026-11-25T10:00:00Z")));
  CHECK(AnnouncementActiveAt(doc, at("2026-11-25T11:59:59Z")));
  CHECK_FALSE(AnnouncementActiveAt(doc, at("2026-11-25T12:00:00Z")));
  CHECK(AnnouncementActiveAt(P(R"({"startsAt":"2026-01-01T00:00:00Z"})"),
                             at("2030-01-01T00:00:00Z")));
}

}  // namespace
}  // namespace siteledger::projections
