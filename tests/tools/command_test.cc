#include "tools/command.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/common/temp_dir.h"
#include "tools/commands.h"
#include "tools/restore.h"

namespace siteledger::tools {
namespace {

struct Output {
  int status = -1;
  std::string out;
  std::string err;
};

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs Dispatch with stdout and stderr sent to files, and reads them back.
Output Capture(std::span<const Command> table,
               const std::vector<std::string>& args) {
  testing::TempDir dir;
  const std::string out_path = (dir / "out").string();
  const std::string err_path = (dir / "err").string();
  std::fflush(stdout);
  std::fflush(stderr);
  const int saved_out = ::dup(STDOUT_FILENO);
  const int saved_err = ::dup(STDERR_FILENO);
  REQUIRE(std::freopen(out_path.c_str(), "w", stdout) != nullptr);
  REQUIRE(std::freopen(err_path.c_str(), "w", stderr) != nullptr);
  Output o;
  o.status = Dispatch(table, args);
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(saved_out, STDOUT_FILENO);
  ::dup2(saved_err, STDERR_FILENO);
  ::close(saved_out);
  ::close(saved_err);
  o.out = ReadAll(out_path);
  o.err = ReadAll(err_path);
  return o;
}

Output Tool(const std::vector<std::string>& args) {
  return Capture(Commands(), args);
}

std::vector<std::string> Words(std::string_view name) {
  std::vector<std::string> words;
  std::istringstream in{std::string(name)};
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// A table of test commands that record what they were run with.
std::vector<std::string> ran;
int Record(const Invocation& in) {
  ran = in.args;
  for (const auto& [name, value] : in.flags.values) {
    ran.push_back(name + "=" + value);
  }
  return 7;
}
int RecordArgs(const std::vector<std::string>& args) {
  ran = args;
  return 8;
}

const std::vector<Command>& TestTable() {
  static const std::vector<Command> table = {
      {.name = "fetch",
       .summary = "Fetches",
       .usage = "siteledger fetch --tenant KEY [--all] [server flags]",
       .help = "Fetches a tenant.\n",
       .flags = {"tenant", "all"},
       .booleans = {"all"},
       .required = {"tenant"},
       .server = ServerUse::kServer,
       .run = Record},
      {.name = "group one",
       .summary = "The first of a group",
       .usage = "siteledger group one",
       .run = Record},
      {.name = "group two",
       .summary = "The second of a group",
       .usage = "siteledger group two FILE",
       .max_positional = 1,
       .run = Record},
      {.name = "raw",
       .summary = "A command written against its arguments",
       .usage = "siteledger raw [--x N]",
       .flags = {"x"},
       .run = RunArgs<RecordArgs>},
  };
  return table;
}

TEST_CASE("Every siteledger command answers --help and -h on stdout",
          "[tools]") {
  REQUIRE(Commands().size() >= 11);
  for (const Command& c : Commands()) {
    for (const std::string help : {"--help", "-h"}) {
      std::vector<std::string> args = Words(c.name);
      args.push_back(help);
      const Output o = Tool(args);
      INFO(c.name << " " << help << ": " << o.err);
      CHECK(o.status == kOk);
      CHECK(o.err.empty());
      CHECK(o.out.starts_with("Usage: siteledger " + std::string(c.name)));
      CHECK(o.out.find("Exit status") != std::string::npos);
      if (c.server != ServerUse::kNone) {
        CHECK(o.out.find("--server URL") != std::string::npos);
      }
    }
    // And through `siteledger help NAME`.
    std::vector<std::string> args = {"help"};
    for (const std::string& w : Words(c.name)) args.push_back(w);
    const Output o = Tool(args);
    CHECK(o.status == kOk);
    CHECK(o.out == c.HelpText());
  }
}

TEST_CASE("siteledger help, --help and -h print the overview of every command",
          "[tools]") {
  for (const std::string help : {"help", "--help", "-h"}) {
    const Output o = Tool({help});
    CHECK(o.status == kOk);
    for (const Command& c : Commands()) {
      CHECK(o.out.find(std::string(c.UsageLine())) != std::string::npos);
    }
  }
  // With no command at all: the overview on stderr, a usage error.
  const Output none = Tool({});
  CHECK(none.status == kUsageError);
  CHECK(none.out.empty());
  CHECK(none.err.find("siteledger restore") != std::string::npos);
}

TEST_CASE("Every siteledger command refuses a flag it does not take",
          "[tools]") {
  for (const Command& c : Commands()) {
    std::vector<std::string> args = Words(c.name);
    args.push_back("--no-such-flag");
    args.push_back("1");
    const Output o = Tool(args);
    INFO(c.name << ": " << o.err);
    CHECK(o.status == kUsageError);
    CHECK(o.out.empty());
    CHECK(o.err.find("unknown flag --no-such-flag") != std::string::npos);
    CHECK(o.err.find(std::string(c.UsageLine())) != std::string::npos);
  }
  // A flag of another command is refused too: --csv is usage's.
  const Output csv = Tool({"tenants", "--csv"});
  CHECK(csv.status == kUsageError);
  CHECK(csv.err.find("unknown flag --csv") != std::string::npos);
  // And a server flag by a command that works offline.
  const Output server = Tool({"operators", "add", "--server", "http://x"});
  CHECK(server.status == kUsageError);
  CHECK(server.err.find("unknown flag --server") != std::string::npos);
}

TEST_CASE("Every siteledger command names a flag given without its value",
          "[tools]") {
  for (const Command& c : Commands()) {
    if (c.flags.size() == c.booleans.size()) continue;
    std::string flag;
    for (const std::string& f : c.flags) {
      if (std::find(c.booleans.begin(), c.booleans.end(), f) ==
          c.booleans.end()) {
        flag = f;
        break;
      }
    }
    std::vector<std::string> args = Words(c.name);
    args.push_back("--" + flag);
    const Output o = Tool(args);
    INFO(c.name << ": " << o.err);
    CHECK(o.status == kUsageError);
    CHECK(o.err.find("--" + flag + " needs a value") != std::string::npos);
  }
}

TEST_CASE("The dispatcher checks flags before it runs a command", "[tools]") {
  const std::vector<Command>& t = TestTable();
  SECTION("a good line runs the command with its flags") {
    ran.clear();
    const Output o = Capture(t, {"fetch", "--tenant", "k", "--all"});
    CHECK(o.status == 7);
    CHECK(ran == std::vector<std::string>{"fetch", "--tenant", "k", "--all",
                                          "all=true", "tenant=k"});
  }
  SECTION("a required flag left out") {
    ran.clear();
    const Output o = Capture(t, {"fetch", "--all"});
    CHECK(o.status == kUsageError);
    CHECK(o.err.find("--tenant is required") != std::string::npos);
    CHECK(o.err.find("Usage: siteledger fetch --tenant KEY") !=
          std::string::npos);
    CHECK(ran.empty());
  }
  SECTION("server flags only where the row says") {
    CHECK(
        Capture(t, {"fetch", "--tenant", "k", "--server", "http://s"}).status ==
        7);
    const Output o = Capture(t, {"fetch", "--tenant", "k", "--reason", "r"});
    CHECK(o.status == kUsageError);
    CHECK(o.err.find("unknown flag --reason") != std::string::npos);
    CHECK(o.err.find("fetch takes --tenant, --all, --server, --token-file") !=
          std::string::npos);
  }
  SECTION("positional arguments only up to max_positional") {
    CHECK(Capture(t, {"group", "two", "file"}).status == 7);
    const Output o = Capture(t, {"group", "two", "a", "b"});
    CHECK(o.status == kUsageError);
    CHECK(o.err.find("unexpected argument b") != std::string::npos);
    CHECK(Capture(t, {"group", "one", "a"}).status == kUsageError);
  }
  SECTION("a group alone, or with --help, lists its commands") {
    const Output help = Capture(t, {"group", "--help"});
    CHECK(help.status == kOk);
    CHECK(help.out.find("siteledger group one") != std::string::npos);
    CHECK(help.out.find("siteledger group two FILE") != std::string::npos);
    const Output alone = Capture(t, {"group"});
    CHECK(alone.status == kUsageError);
    CHECK(alone.err.find("which subcommand?") != std::string::npos);
    const Output wrong = Capture(t, {"group", "three"});
    CHECK(wrong.status == kUsageError);
    CHECK(wrong.err.find("unknown subcommand three") != std::string::npos);
  }
  SECTION("an unknown command suggests a near name and --help") {
    const Output o = Capture(t, {"fetc"});
    CHECK(o.status == kUsageError);
    CHECK(o.err.find("unknown command fetc (did you mean fetch?)") !=
          std::string::npos);
    CHECK(o.err.find("siteledger --help") != std::string::npos);
    const Output far = Capture(t, {"zzzzzzzz"});
    CHECK(far.err.find("did you mean") == std::string::npos);
    const Output dash = Capture(t, {"-x"});
    CHECK(dash.status == kUsageError);
    CHECK(dash.err.find("unknown option -x") != std::string::npos);
  }
  SECTION("a command written against its arguments gets them as they are") {
    ran.clear();
    CHECK(Capture(t, {"raw", "--x", "3"}).status == 8);
    CHECK(ran == std::vector<std::string>{"raw", "--x", "3"});
    ran.clear();
    CHECK(Capture(t, {"raw", "--y", "3"}).status == kUsageError);
    CHECK(ran.empty());
  }
}

TEST_CASE("restore refuses a bad --as-of before sending anything", "[tools]") {
  CHECK(*RestoreBody("seq:12") == R"({"toSeq":12})");
  CHECK(*RestoreBody("2026-11-28T05:00:00Z") ==
        R"({"asOf":"2026-11-28T05:00:00Z"})");
  for (const std::string bad :
       {"seq:", "seq:-1", "seq:1x", "seq:99999999999999999999", "yesterday",
        "2026-11-28", "12"}) {
    INFO(bad);
    auto body = RestoreBody(bad);
    REQUIRE_FALSE(body);
    CHECK(body.error().message().find("--as-of " + bad) != std::string::npos);
  }
  // Through the tool, with a server that does not exist: refused first.
  const Output o = Tool({"restore", "--tenant", "k", "--as-of", "last week",
                         "--reason", "r", "--server", "http://127.0.0.1:1"});
  CHECK(o.status == kUsageError);
  CHECK(o.err.find("nothing was sent") != std::string::npos);
  CHECK(o.err.find("cannot reach") == std::string::npos);
}

}  // namespace
}  // namespace siteledger::tools
