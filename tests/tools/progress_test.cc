#include "tools/progress.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>

namespace siteledger::tools {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A Progress writing to memory, on a clock the test moves.
struct Fixture {
  char* buffer = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&buffer, &size);
  Progress::Clock::time_point now{};

  ~Fixture() {
    std::fclose(out);
    std::free(buffer);
  }

  Progress::Options Options(bool terminal) {
    Progress::Options o;
    o.out = out;
    o.terminal = terminal;
    o.now = [this] { return now; };
    return o;
  }
  std::string Text() {
    std::fflush(out);
    return std::string(buffer, size);
  }
};

TEST_CASE("Piped, progress prints a plain line every few seconds and the end",
          "[tools]") {
  Fixture fx;
  {
    Progress p("erase", "accounts", 100, fx.Options(false));
    p.Update(10);  // the first line at once
    fx.now += seconds(1);
    p.Update(20);  // within 5 s of the last line: quiet
    fx.now += seconds(4);
    p.Update(50);  // 5 s: a line
    fx.now += seconds(5);
    p.Add(50);
    p.Finish();
    p.Update(100);  // after Finish: nothing
  }
  CHECK(fx.Text() ==
        "erase: 10/100 accounts (10%)\n"
        "erase: 50/100 accounts (50%), 10.0/s, 5s left\n"
        "erase: 100/100 accounts (100%), 10.0/s, done in 10s\n");
  CHECK(fx.Text().find('\r') == std::string::npos);
}

TEST_CASE("Progress without a total counts and shows the rate", "[tools]") {
  Fixture fx;
  Progress p("audit-log", "records", 0, fx.Options(false));
  fx.now += seconds(2);
  p.Update(3000);
  CHECK(p.Line() == "3000 records, 1500.0/s");
  p.set_total(6000);
  CHECK(p.Line() == "3000/6000 records (50%), 1500.0/s, 2s left");
}

TEST_CASE("Quick work stays silent until the delay has passed", "[tools]") {
  Fixture fx;
  Progress::Options o = fx.Options(false);
  o.delay = seconds(2);
  {
    Progress p("quick", "pages", 3, o);
    p.Update(3);
    fx.now += milliseconds(500);
  }  // the destructor finishes it
  CHECK(fx.Text().empty());
  {
    Progress p("slow", "pages", 3, o);
    fx.now += seconds(3);
    p.Update(1);
    fx.now += seconds(1);
    p.Finish();
  }
  CHECK(fx.Text() ==
        "slow: 1/3 pages (33%), 0.3/s, 6s left\n"
        "slow: 1/3 pages (33%), 0.2/s, 8s left\n");
}

TEST_CASE("On a terminal, progress redraws one line with a bar", "[tools]") {
  Fixture fx;
  Progress p("verify", "events", 4, fx.Options(true));
  fx.now += seconds(1);
  p.Update(1);
  fx.now += milliseconds(50);
  p.Update(2);  // within the redraw interval: not drawn
  fx.now += milliseconds(100);
  p.Update(2);
  p.Finish();
  const std::string text = fx.Text();
  CHECK(
      text.starts_with("\rverify: [######..................] 1/4 events "
                       "(25%), 1.0/s, 3s left\033[K"));
  CHECK(text.ends_with("\033[K\n"));
  CHECK(std::count(text.begin(), text.end(), '\r') == 3);
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
}

TEST_CASE("FormatSeconds writes hours, minutes and seconds", "[tools]") {
  CHECK(FormatSeconds(42) == "42s");
  CHECK(FormatSeconds(185) == "3m05s");
  CHECK(FormatSeconds(3720) == "1h02m");
}

}  // namespace
}  // namespace siteledger::tools
