// Command-line arguments in Flink's ParameterTool style: `--name value`, `--flag`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace eddy {

class Args {
 public:
  Args() = default;
  // Parses `--key value` and `--key=value` pairs; a `--key` followed by another option or
  // nothing is a flag with value "true". Throws InvalidJobError on a stray positional word.
  static Args parse(int argc, const char* const* argv);

  bool has(const std::string& key) const;
  std::optional<std::string> get(const std::string& key) const;
  std::string get(const std::string& key, const std::string& fallback) const;
  // Throws InvalidJobError naming the option when it is missing or not a number.
  std::string required(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;

  void set(const std::string& key, std::string value) { values_[key] = std::move(value); }
  const std::map<std::string, std::string>& all() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace eddy
