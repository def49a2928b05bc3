#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace siteledger::tools {

// A subcommand's exit statuses: done; the server refused or could not be
// reached; the command line or an input file is wrong (nothing was sent).
constexpr int kOk = 0;
constexpr int kServerError = 1;
constexpr int kUsageError = 2;

// A subcommand's command line: --name value, --name=value, and bare --name
// for the boolean flags (their value is "true"; --name=false leaves the
// flag out). --help and -h are always the boolean "help". Anything else not
// starting with "-" is positional.
struct Flags {
  std::map<std::string, std::string> values;
  std::vector<std::string> positional;
  // The first fault of the command line, as a sentence naming the flag: a
  // value missing ("--tenant needs a value: --tenant VALUE"), a flag given
  // twice, a value given to a boolean, a single-dash option.
  std::optional<std::string> error;

  // The flag's value, or `fallback` when it was not given.
  std::string Get(const std::string& name,
                  const std::string& fallback = "") const;
  bool Has(const std::string& name) const { return values.contains(name); }
  // The first flag given that is not in `known` ("--name"), or nullopt.
  // "help" counts as known.
  std::optional<std::string> Unknown(
      const std::vector<std::string>& known) const;
};

// Parses args[from...]; `booleans` names the flags that take no value
// ("help" always is one). A flag that takes a value takes the next argument
// unless that starts with "--" (then the value is missing: write
// --name=--text for such a value).
Flags ParseFlags(const std::vector<std::string>& args, size_t from,
                 const std::vector<std::string>& booleans);

}  // namespace siteledger::tools
