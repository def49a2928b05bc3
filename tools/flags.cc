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
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return "--" + name;
    }
  }
  return std::nullopt;
}

Flags ParseFlags(const std::vector<std::string>& args, size_t from,
                 const std::vector<std::string>& booleans) {
  Flags f;
  for (size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!a.starts_with("--")) {
      f.positional.push_back(a);
      continue;
    }
    const size_t eq = a.find('=');
    const std::string name = a.substr(2, eq == std::string::npos ? eq : eq - 2);
    if (eq != std::string::npos) {
      f.values[name] = a.substr(eq + 1);
    } else if (std::find(booleans.begin(), booleans.end(), name) !=
               booleans.end()) {
      f.values[name] = "true";
    } else if (i + 1 < args.size()) {
      f.values[name] = args[++i];
    } else {
      f.error = "--" + name + " needs a value";
    }
  }
  return f;
}

}  // namespace siteledger::tools
