// JSON parsing and event validation: never crashes; a payload that parses
// writes out as JSON that parses to the same value.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "projections/events.h"
#include "projections/json.h"

namespace pj = siteledger::projections;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto json = pj::ParseJson(text);
  if (!json) return 0;
  auto again = pj::ParseJson(json->Dump());
  if (!again || !(*again == *json)) std::abort();
  int interesting = 0;
  for (std::string_view type : pj::EventTypes()) {
    if (pj::ValidatePayload(type, *json).ok()) interesting = 1;
  }
  return interesting;
}

std::vector<std::string> FuzzSeeds() {
  return {
      R"({"v":1,"siteId":"s_1","name":"Intranet"})",
      R"({"v":1,"siteId":"s","items":[{"id":"a","label":"Home","link":{"url":"https://e.example/"},"children":[{"id":"b","label":"Docs","link":{"spaceKey":"DOCS"}}]}]})",
      R"({"v":1,"layoutId":"l","name":"Home","sections":[{"id":"s","columns":[{"id":"c","width":12,"modules":[{"id":"m","type":"links","props":{"links":[{"label":"x","link":{"contentId":"1"}}]}}]}]}]})",
      R"({"v":1,"announcementId":"a","text":"Hi","severity":"info","startsAt":"2026-11-25T21:00:00Z","audience":{"spaceKeys":["ENG"]}})",
      R"({"v":1,"keyword":"pay","results":[{"contentId":"9"},{"url":"https://e.example","title":"T"}]})",
      R"({"v":1,"themeId":"t","name":"T","colors":{"primary":"#fff"},"fonts":{"body":"Inter"}})",
      R"({"a":[1,-2,true,null,"\u00e9\n"],"password":"x"})",
  };
}
