#include "eddy/args.h"

#include <cerrno>
#include <cstdlib>

#include "eddy/error.h"

namespace eddy {

Args Args::parse(int argc, const char* const* argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word.size() < 3 || word.rfind("--", 0) != 0) {
      throw InvalidJobError("unexpected argument '" + word + "' at position " + std::to_string(i) +
                            ": options are written --name value");
    }
    std::string key = word.substr(2);
    auto eq = key.find('=');
    if (eq != std::string::npos) {
      args.values_[key.substr(0, eq)] = key.substr(eq + 1);
      continue;
    }
    bool has_value = i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0;
    args.values_[key] = has_value ? argv[++i] : "true";
  }
  return args;
}

bool Args::has(const std::string& key) const { return values_.count(key) > 0; }

std::optional<std::string> Args::get(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Args::get(const std::string& key, const std::string& fallback) const {
  auto value = get(key);
  return value ? *value : fallback;
}

std::string Args::required(const std::string& key) const {
  auto value = get(key);
  if (!value) throw InvalidJobError("missing required option --" + key);
  return *value;
}

int64_t Args::get_int(const std::string& key, int64_t fallback) const {
  auto value = get(key);
  if (!value) return fallback;
  errno = 0;
  char* end = nullptr;
  long long parsed = std::strtoll(value->c_str(), &end, 10);
  if (value->empty() || *end != '\0' || errno == ERANGE) {
    throw InvalidJobError("option --" + key + " needs an integer, not '" + *value + "'");
  }
  return parsed;
}

double Args::get_double(const std::string& key, double fallback) const {
  auto value = get(key);
  if (!value) return fallback;
  char* end = nullptr;
  double parsed = std::strtod(value->c_str(), &end);
  if (value->empty() || *end != '\0') {
    throw InvalidJobError("option --" + key + " needs a number, not '" + *value + "'");
  }
  return parsed;
}

bool Args::get_bool(const std::string& key, bool fallback) const {
  auto value = get(key);
  if (!value) return fallback;
  if (*value == "true" || *value == "1" || *value == "yes") return true;
  if (*value == "false" || *value == "0" || *value == "no") return false;
  throw InvalidJobError("option --" + key + " needs true or false, not '" + *value + "'");
}

}  // namespace eddy
