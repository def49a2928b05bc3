#include "tools/flags.h"

#include <algorithm>

namespace siteledger::tools {

std::string Flags::Get(const std::string& name,
                       const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

std::optional<std::string> Flags::Unknown(
    const std::vector<std::string>& known) const {
  for (const auto& [name, value] : values) {
    if (name == "help") continue;
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return "--" + name;
    }
  }
  return std::nullopt;
}

Flags ParseFlags(const std::vector<std::string>& args, size_t from,
                 const std::vector<std::string>& booleans) {
  Flags f;
  // Only the first fault is reported: later ones may be its consequences.
  auto fault = [&f](std::string message) {
    if (!f.error) f.error = std::move(message);
  };
  for (size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h") {
      f.values["help"] = "true";
      continue;
    }
    if (a.size() > 1 && a[0] == '-' && !a.starts_with("--")) {
      // A single dash is never a value here: say so rather than treat
      // "-x" as an argument.
      fault("unknown option " + a + " (flags are written --name)");
      continue;
    }
    if (!a.starts_with("--") || a == "--") {
      f.positional.push_back(a);
      continue;
    }
    const size_t eq = a.find('=');
    const std::string name = a.substr(2, eq == std::string::npos ? eq : eq - 2);
    const bool boolean =
        name == "help" ||
        std::find(booleans.begin(), booleans.end(), name) != booleans.end();
    if (f.values.contains(name) && name != "help") {
      fault("--" + name + " is given twice");
    }
    if (boolean) {
      const std::string value =
          eq == std::string::npos ? "true" : a.substr(eq + 1);
      if (value == "true") {
        f.values[name] = "true";
      } else if (value == "false") {
        f.values.erase(name);
      } else {
        fault("--" + name + " takes no value (or =true, =false)");
      }
    } else if (eq != std::string::npos) {
      f.values[name] = a.substr(eq + 1);
    } else if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
      f.values[name] = args[++i];
    } else {
      // Recorded, so that the flag counts as given (an unknown one is
      // reported as unknown, not as missing its value).
      f.values[name] = "";
      fault("--" + name + " needs a value: --" + name + " VALUE");
    }
  }
  return f;
}

}  // namespace siteledger::tools
