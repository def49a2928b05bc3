#include "storage/base/utf8.h"

#include <catch2/catch.hpp>

namespace siteledger {
namespace {

TEST_CASE(
    "ValidUtf8 takes well-formed UTF-8 and refuses every ill-formed "
    "kind",
    "[utf8]") {
  CHECK(ValidUtf8(""));
  CHECK(ValidUtf8("plain ascii"));
  CHECK(ValidUtf8("caf\xC3\xA9"));                // U+00E9
  CHECK(ValidUtf8("\xE2\x82\xAC"));               // U+20AC
  CHECK(ValidUtf8("\xF0\x9F\x98\x80"));           // U+1F600
  CHECK(ValidUtf8("\xF4\x8F\xBF\xBF"));           // U+10FFFF
  CHECK(ValidUtf8(std::string_view("a\0b", 3)));  // NUL is a character
  CHECK_FALSE(ValidUtf8("\xC0\xAE"));             // overlong '.'
  CHECK_FALSE(ValidUtf8("\xC1\xBF"));             // overlong
  CHECK_FALSE(ValidUtf8("\xE0\x80\xAF"));         // overlong '/'
  CHECK_FALSE(ValidUtf8("\xF0\x80\x80\xAF"));     // overlong '/'
  CHECK_FALSE(ValidUtf8("\xED\xA0\x80"));         // surrogate U+D800
  CHECK_FALSE(ValidUtf8("\xF4\x90\x80\x80"));     // above U+10FFFF
  CHECK_FALSE(ValidUtf8("\xF5\x80\x80\x80"));     // never a lead byte
  CHECK_FALSE(ValidUtf8("\xFF"));                 // never in UTF-8
  CHECK_FALSE(ValidUtf8("\x80"));                 // a lone continuation
  CHECK_FALSE(ValidUtf8("\xE2\x82"));             // cut short
  CHECK_FALSE(ValidUtf8("\xC3"));                 // cut short at the end
  CHECK_FALSE(ValidUtf8("ok\xC3(x"));             // bad continuation
  // The hostile review's keyword: %C0%AE%FF.
  CHECK_FALSE(ValidUtf8("\xC0\xAE\xFF"));
}

TEST_CASE(
    "RepairUtf8 replaces each maximal invalid subpart with U+FFFD and "
    "keeps the rest",
    "[utf8]") {
  const std::string r = "\xEF\xBF\xBD";
  CHECK(RepairUtf8("caf\xC3\xA9") == "caf\xC3\xA9");
  CHECK(RepairUtf8("\xC0\xAE\xFF") == r + r + r);
  CHECK(RepairUtf8("a\xE2\x82"
                   "b") == "a" + r + "b");  // one for the cut pair
  CHECK(RepairUtf8("\xF0\x9F\x98") == r);
  CHECK(RepairUtf8("x\xED\xA0\x80y") == "x" + r + r + r + "y");
  for (std::string_view bad :
       {"\xC0\xAE\xFF", "\xE2\x82", "\xFF\xFE", "\x80"}) {
    CHECK(ValidUtf8(RepairUtf8(bad)));
  }
}

}  // namespace
}  // namespace siteledger
