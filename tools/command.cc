#include "tools/command.h"

#include <algorithm>
#include <cstdio>

namespace siteledger::tools {
namespace {

constexpr char kServerFlagsHelp[] =
    R"(Server flags:
  --server URL        the siteledgerd to talk to (default http://127.0.0.1:8080)
  --token-file PATH   the operator token (default: $SITELEDGER_TOKEN)
)";
constexpr char kReasonHelp[] =
    "  --reason TEXT       why: sent as X-Access-Reason and audited\n";

constexpr char kExitHelp[] =
    R"(Exit status: 0 done; 1 the server refused or could not be reached (or
the work failed part way: the message says what was done); 2 the command
line or an input file is wrong (nothing was sent).
)";

std::vector<std::string_view> Words(std::string_view name) {
  std::vector<std::string_view> words;
  while (!name.empty()) {
    const size_t space = name.find(' ');
    words.push_back(name.substr(0, space));
    name = space == std::string_view::npos ? std::string_view()
                                           : name.substr(space + 1);
  }
  return words;
}

// The row whose name's words begin `args` (the longest such), and how many
// words it took; nullptr when none does.
const Command* Find(std::span<const Command> table,
                    const std::vector<std::string>& args, size_t from,
                    size_t& words_taken) {
  const Command* best = nullptr;
  words_taken = 0;
  for (const Command& c : table) {
    const std::vector<std::string_view> words = Words(c.name);
    if (words.size() > args.size() - from || words.size() <= words_taken) {
      continue;
    }
    bool match = true;
    for (size_t i = 0; i < words.size() && match; ++i) {
      match = args[from + i] == words[i];
    }
    if (match) {
      best = &c;
      words_taken = words.size();
    }
  }
  return best;
}

// The rows whose first word is `group` and that have more than one word.
std::vector<const Command*> Group(std::span<const Command> table,
                                  std::string_view group) {
  std::vector<const Command*> out;
  for (const Command& c : table) {
    if (c.name.starts_with(std::string(group) + " ")) out.push_back(&c);
  }
  return out;
}

size_t Distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The command names (first words) close to `typed`, for "did you mean".
std::string Suggestion(std::span<const Command> table, std::string_view typed) {
  std::string best;
  size_t best_distance = 3;  // more edits than this: no suggestion
  for (const Command& c : table) {
    const std::string_view first = Words(c.name).front();
    const size_t d = Distance(typed, first);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(first);
    }
  }
  return best;
}

std::string GroupHelp(std::string_view group,
                      const std::vector<const Command*>& members) {
  std::string out = "Usage:\n";
  for (const Command* c : members) {
    out += "  " + std::string(c->UsageLine()) + "\n";
  }
  out += "\n";
  for (const Command* c : members) {
    out += "  siteledger " + std::string(c->name) + "\n      " +
           std::string(c->summary) + "\n";
  }
  out += "\nRun siteledger " + std::string(group) +
         " SUBCOMMAND --help for its flags.\n";
  return out;
}

int UsageError(const Command& c, const std::string& message) {
  std::fprintf(stderr,
               "siteledger %s: %s\nUsage: %s\n(see siteledger %s --help)\n",
               std::string(c.name).c_str(), message.c_str(),
               std::string(c.UsageLine()).c_str(), std::string(c.name).c_str());
  return kUsageError;
}

}  // namespace

std::vector<std::string> Command::AllFlags() const {
  std::vector<std::string> all = flags;
  if (server != ServerUse::kNone) {
    all.push_back("server");
    all.push_back("token-file");
  }
  if (server == ServerUse::kWithReason) all.push_back("reason");
  return all;
}

std::string_view Command::UsageLine() const {
  return usage.substr(0, usage.find('\n'));
}

std::string Command::HelpText() const {
  std::string out = "Usage: " + std::string(usage);
  if (!usage.ends_with('\n')) out += "\n";
  out += "\n" + std::string(summary) + "\n";
  if (!help.empty()) {
    out += "\n" + std::string(help);
    if (!help.ends_with('\n')) out += "\n";
  }
  if (server != ServerUse::kNone) {
    out += "\n";
    out += kServerFlagsHelp;
    if (server == ServerUse::kWithReason) out += kReasonHelp;
  }
  if (help.find("Exit status") == std::string_view::npos) {
    out += "\n";
    out += kExitHelp;
  }
  return out;
}

std::string Overview(std::span<const Command> table) {
  std::string out =
      "siteledger: the operator's tool for siteledger\n\nCommands:\n";
  for (const Command& c : table) {
    out += "  " + std::string(c.UsageLine()) + "\n      " +
           std::string(c.summary) + "\n";
  }
  out += "\nRun siteledger COMMAND --help (or -h) for a command's flags.\n\n";
  out += kServerFlagsHelp;
  out += kReasonHelp;
  out += "\n";
  out += kExitHelp;
  return out;
}

int Fail(const std::string& message, int status) {
  std::fprintf(stderr, "siteledger: %s\n", message.c_str());
  return status;
}

int Dispatch(std::span<const Command> table,
             const std::vector<std::string>& args) {
  if (args.empty()) {
    std::fputs(Overview(table).c_str(), stderr);
    return kUsageError;
  }
  const std::string& first = args[0];
  if (first == "help" || first == "--help" || first == "-h") {
    size_t taken = 0;
    if (args.size() > 1) {
      if (const Command* c = Find(table, args, 1, taken)) {
        std::fputs(c->HelpText().c_str(), stdout);
        return kOk;
      }
      if (auto members = Group(table, args[1]); !members.empty()) {
        std::fputs(GroupHelp(args[1], members).c_str(), stdout);
        return kOk;
      }
      return Fail("no command " + args[1] + " (see siteledger --help)",
                  kUsageError);
    }
    std::fputs(Overview(table).c_str(), stdout);
    return kOk;
  }
  size_t taken = 0;
  const Command* c = Find(table, args, 0, taken);
  if (c == nullptr) {
    if (auto members = Group(table, first); !members.empty()) {
      const bool help =
          args.size() > 1 &&
          (args[1] == "--help" || args[1] == "-h" || args[1] == "help");
      if (help) {
        std::fputs(GroupHelp(first, members).c_str(), stdout);
        return kOk;
      }
      std::fprintf(stderr, "siteledger %s: %s\n\n%s", first.c_str(),
                   args.size() > 1 ? ("unknown subcommand " + args[1]).c_str()
                                   : "which subcommand?",
                   GroupHelp(first, members).c_str());
      return kUsageError;
    }
    std::string message = first.starts_with("-") ? "unknown option " + first
                                                 : "unknown command " + first;
    if (const std::string near = Suggestion(table, first); !near.empty()) {
      message += " (did you mean " + near + "?)";
    }
    return Fail(message + "; see siteledger --help for the commands",
                kUsageError);
  }
  const Flags flags = ParseFlags(args, taken, c->booleans);
  if (flags.Has("help")) {
    std::fputs(c->HelpText().c_str(), stdout);
    return kOk;
  }
  if (auto unknown = flags.Unknown(c->AllFlags())) {
    std::string takes;
    for (const std::string& name : c->AllFlags()) {
      takes += (takes.empty() ? "--" : ", --") + name;
    }
    return UsageError(*c, "unknown flag " + *unknown + " (" +
                              std::string(c->name) + " takes " +
                              (takes.empty() ? "no flags" : takes) + ")");
  }
  if (flags.error) return UsageError(*c, *flags.error);
  if (flags.positional.size() > c->max_positional) {
    return UsageError(
        *c, "unexpected argument " + flags.positional[c->max_positional]);
  }
  for (const std::string& name : c->required) {
    if (flags.Get(name).empty()) {
      return UsageError(
          *c, "--" + name + " is required" +
                  (name == "reason" ? std::string(" (sent as X-Access-Reason "
                                                  "and audited)")
                                    : std::string()));
    }
  }
  return c->run(Invocation{args, flags});
}

}  // namespace siteledger::tools
