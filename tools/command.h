#pragma once

// The `siteledger` command framework: each subcommand is declared once, as a
// Command row (its name, a one-line summary, its usage and help text, the
// flags it takes), and the dispatcher does the rest for every command alike:
//
//   siteledger help | --help | -h        the overview of every command
//   siteledger help CMD, CMD --help, CMD -h
//                                        the command's help (stdout, exit 0)
//   a flag the command does not take     refused, naming the flag and the
//                                        command's usage line (exit 2)
//   a flag without its value             "--tenant needs a value" (exit 2)
//   a required flag left out             "--tenant is required" (exit 2)
//   an unknown command                   a suggestion and `siteledger --help`
//
// Only then does the command run, with its flags parsed.
//
// Plugging in a command is one row in the table in tools/commands.cc. A
// command written against the arguments, `int RunX(const
// std::vector<std::string>& args)` where args[0] is the command's name (as
// `siteledger verify --tenant k` gives {"verify", "--tenant", "k"}), plugs
// in through RunArgs:
//
//   {.name = "verify",
//    .summary = "Checks a tenant's hash chain and views",
//    .usage = "siteledger verify --tenant CLIENTKEY [server flags]",
//    .help = kVerifyHelp,  // what it does, each flag, the exit status
//    .flags = {"tenant", "full"},
//    .booleans = {"full"},
//    .required = {"tenant"},
//    .server = ServerUse::kWithReason,
//    .run = RunArgs<RunVerify>},
//
// A multi-word name ("operators add", "migrate start") makes a group: the
// first word alone, or with --help, lists the group's commands.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tools/flags.h"

namespace siteledger::tools {

// The server flags a command takes besides its own.
enum class ServerUse {
  kNone,        // works offline: no server flags
  kServer,      // --server URL, --token-file PATH
  kWithReason,  // and --reason TEXT (X-Access-Reason: audited)
};

// What a command is run with: the whole command line (args[0] is the
// command's first word) and its flags, already checked against the row.
struct Invocation {
  const std::vector<std::string>& args;
  const Flags& flags;
};

struct Command {
  std::string_view name = {};     // "restore", "operators add"
  std::string_view summary = {};  // one line, for the overview
  // The usage line(s), each starting "siteledger NAME"; the first is the
  // one errors quote.
  std::string_view usage = {};
  // What it does, each of its flags, the exit status; the server flags are
  // added by the framework. May be empty for a one-line command.
  std::string_view help = {};
  std::vector<std::string> flags = {};  // its own flags, without "--"
  std::vector<std::string> booleans =
      {};  // those of `flags` that take no value
  std::vector<std::string> required =
      {};  // those of `flags` that must be given
  ServerUse server = ServerUse::kNone;
  size_t max_positional = 0;  // arguments that are not flags
  // Runs the command; returns the exit status (kOk, kServerError,
  // kUsageError). Output on stdout, errors on stderr.
  int (*run)(const Invocation&) = nullptr;

  // Every flag the command accepts: `flags` and the server flags.
  std::vector<std::string> AllFlags() const;
  // The whole --help text: usage, help, the server flags taken.
  std::string HelpText() const;
  // The first usage line.
  std::string_view UsageLine() const;
};

// Adapts `int F(const std::vector<std::string>& args)` (args[0] the
// command's first word) to Command::run.
template <int (*F)(const std::vector<std::string>&)>
int RunArgs(const Invocation& in) {
  return F(in.args);
}

// The overview `siteledger --help` prints: every command's usage and
// summary, the server flags, the exit statuses.
std::string Overview(std::span<const Command> table);

// Runs the command args name from `table` (see the top of this file);
// returns the exit status. Thread-compatible: writes stdout and stderr.
int Dispatch(std::span<const Command> table,
             const std::vector<std::string>& args);

// Prints "siteledger: MESSAGE" on stderr; returns `status`.
int Fail(const std::string& message, int status = kServerError);

}  // namespace siteledger::tools
