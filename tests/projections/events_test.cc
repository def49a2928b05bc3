#include "projections/events.h"

#include <catch2/catch.hpp>

namespace siteledger::projections {
namespace {

Json P(std::string_view text) {
  auto j = ParseJson(text);
  REQUIRE(j.has_value());
  return *j;
}

std::string Refusal(std::string_view type, std::string_view payload) {
  Status s = ValidatePayload(type, P(payload));
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == siteledger::StatusCode::kInvalidArgument);
  return s.message();
}

TEST_CASE("Every catalogued event type has a schema", "[events]") {
  CHECK(EventTypes().size() == 35);
  for (std::string_view type : EventTypes()) {
    INFO(type);
    CHECK(EventSchema(type) != nullptr);
  }
  CHECK(EventSchema("site.exploded") == nullptr);
  CHECK(Refusal("site.exploded", "{}") == "unknown event type 'site.exploded'");
}

TEST_CASE("Valid payloads pass", "[events]") {
  CHECK(ValidatePayload(event::kSiteCreated,
                        P(R"({"v":1,"siteId":"s_1","name":"Intranet"})"))
            .ok());
  CHECK(ValidatePayload(
            event::kNavigationReplaced,
            P(R"({"v":1,"siteId":"s_1","items":[{"id":"a","label":"Home",
              "link":{"url":"https://example.com"},"children":[{"id":"b",
              "label":"Docs","link":{"spaceKey":"DOCS"}}]}]})"))
            .ok());
  CHECK(ValidatePayload(
            event::kLayoutSaved,
            P(R"({"v":1,"layoutId":"l_1","name":"Home","sections":[{"id":"s",
              "columns":[{"id":"c","width":12,"modules":[{"id":"m",
              "type":"pages","props":{"title":"Start here",
              "contentIds":["123","456"]}}]}]}]})"))
            .ok());
  CHECK(ValidatePayload(
            event::kAnnouncementPublished,
            P(R"({"v":1,"announcementId":"a_1","text":"Maintenance tonight",
              "severity":"warning","startsAt":"2026-11-25T21:00:00Z",
              "audience":{"spaceKeys":["ENG"]}})"))
            .ok());
}

TEST_CASE("Unknown fields are refused, not dropped", "[events]") {
  CHECK(Refusal(event::kSiteCreated,
                R"({"v":1,"siteId":"s_1","name":"x","colour":"red"})") ==
        "$.colour: unknown field");
  CHECK(Refusal(event::kNavigationReplaced,
                R"({"v":1,"siteId":"s","items":[{"id":"a","label":"x",
                  "link":{"url":"https://e.com","target":"_blank"}}]})") ==
        "$.items[0].link.target: unknown field");
}

TEST_CASE("Missing and mistyped fields name their path", "[events]") {
  CHECK(Refusal(event::kSiteCreated, R"({"v":1,"siteId":"s_1"})") ==
        "$.name: is required");
  CHECK(Refusal(event::kSiteCreated, R"({"v":1,"siteId":"s_1","name":7})") ==
        "$.name: expected a string");
  CHECK(
      Refusal(
          event::kThemeCreated,
          R"({"v":1,"themeId":"t","name":"x","colors":{"primary":"blue"}})") ==
      "$.colors.primary: expected a colour such as #0052cc");
  CHECK(Refusal(event::kLayoutSaved,
                R"({"v":1,"layoutId":"l","name":"x","sections":[{"id":"s",
                  "columns":[{"id":"c","width":13,"modules":[]}]}]})") ==
        "$.sections[0].columns[0].width: must be from 1 to 12");
  CHECK(Refusal(event::kLayoutSaved,
                R"({"v":1,"layoutId":"l","name":"x","sections":[{"id":"s",
                  "columns":[{"id":"c","width":6,"modules":[{"id":"m",
                  "type":"image","props":{"mediaId":"abc"}}]}]}]})")
            .starts_with("$.sections[0].columns[0].modules[0].props.mediaId:"));
}

TEST_CASE("Too long and too deep inputs are refused", "[events]") {
  CHECK(Refusal(event::kSiteCreated, R"({"v":1,"siteId":"s","name":")" +
                                         std::string(201, 'x') + "\"}") ==
        "$.name: longer than 200 bytes");
  // Five levels of navigation (the limit is four).
  std::string deep = R"({"id":"e","label":"e","link":{"url":"https://e.com"}})";
  for (char c : std::string("dcba")) {
    deep = std::string(R"({"id":")") + c +
           R"(","label":"x","link":{"url":"https://e.com"},"children":[)" +
           deep + "]}";
  }
  CHECK(Refusal(event::kNavigationReplaced,
                R"({"v":1,"siteId":"s","items":[)" + deep + "]}")
            .find("nested deeper than 4 levels") != std::string::npos);
}

TEST_CASE("Confluence page content is refused with a reason", "[events]") {
  const std::string why = "Confluence page content is never stored";
  CHECK(Refusal(event::kFeaturedSet,
                R"({"v":1,"contentId":"123","body":"<p>secret page</p>"})")
            .find(why) != std::string::npos);
  CHECK(Refusal(event::kFeaturedSet,
                R"({"v":1,"contentId":"123","title":"Quarterly numbers"})")
            .find(why) != std::string::npos);
  CHECK(Refusal(event::kPromotedSet,
                R"({"v":1,"keyword":"hr","results":[{"contentId":"1",
                  "excerpt":"first lines of the page"}]})") ==
        "$.results[0].excerpt: " + why +
            " (bodies, titles, excerpts): reference the page by contentId "
            "only");
}

TEST_CASE("Credentials are refused, by name and by shape", "[events]") {
  const std::string why = "credentials are never stored";
  CHECK(Refusal(event::kSiteCreated,
                R"({"v":1,"siteId":"s","name":"x","password":"hunter2"})")
            .find(why) != std::string::npos);
  CHECK(Refusal(event::kSiteCreated,
                R"({"v":1,"siteId":"s","name":"x","api_token":"abc"})")
            .starts_with("$.api_token: credentials"));
  CHECK(
      Refusal(
          event::kSiteCreated,
          R"({"v":1,"siteId":"s","name":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc"})")
          .find("looks like a credential") != std::string::npos);
  CHECK(Refusal(event::kAnnouncementPublished,
                R"({"v":1,"announcementId":"a","severity":"info",
                  "startsAt":"2026-01-01T00:00:00Z","audience":{"all":true},
                  "text":"-----BEGIN RSA PRIVATE KEY-----\nMIIE..."})")
            .find("looks like a credential") != std::string::npos);
}

TEST_CASE("E-mail addresses are refused anywhere", "[events]") {
  CHECK(Refusal(event::kFeedbackSubmitted,
                R"({"v":1,"feedbackId":"b","submitter":"u_0123456789abcdef0123",
                  "text":"call me: jane.doe@example.com"})")
            .find("e-mail address") != std::string::npos);
  // Not an address: no dot-separated domain.
  CHECK(ValidatePayload(event::kSiteCreated,
                        P(R"({"v":1,"siteId":"s","name":"team @ home"})"))
            .ok());
}

TEST_CASE("Account ids are refused when they are e-mail addresses or names",
          "[events]") {
  CHECK(schema::CheckAccountId("5b10ac8d82e05b22cc7d4ef5").ok());
  CHECK(schema::CheckAccountId("557058:f58131cb-b67d-43c7-b30d-6b58d40bd077")
            .ok());
  CHECK(schema::CheckAccountId("jane@example.com").message().find("e-mail") !=
        std::string::npos);
  CHECK(schema::CheckAccountId("Jane Doe").message().find("a name") !=
        std::string::npos);
  CHECK_FALSE(schema::CheckAccountId("").ok());
  CHECK_FALSE(schema::CheckAccountId(std::string(129, 'a')).ok());
}

}  // namespace
}  // namespace siteledger::projections
