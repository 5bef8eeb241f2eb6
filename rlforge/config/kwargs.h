// rlforge/config/kwargs.h — keyword arguments for env construction.
//
// Kwargs hold key -> text pairs (as typed on the command line, `k=v`). Typed
// getters parse them and throw InvalidArgument naming the key and the bad
// value. Registry::Make rejects keys the env does not declare before it
// constructs anything, so a typo never passes silently.
#ifndef RLFORGE_CONFIG_KWARGS_H_
#define RLFORGE_CONFIG_KWARGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rlforge {

// A boolean as configs and kwargs spell it: true/false, yes/no, on/off or
// 1/0, in any case; nullopt for anything else.
std::optional<bool> ParseBoolWord(const std::string& text);
// The spellings ParseBoolWord takes, for messages.
inline constexpr const char* kBoolWords = "true or false (or yes/no, on/off, 1/0)";

class Kwargs {
 public:
  Kwargs() = default;
  Kwargs(std::initializer_list<std::pair<const std::string, std::string>> items) : items_(items) {}

  // Parses "key=value"; throws InvalidArgument when there is no '='.
  static std::pair<std::string, std::string> ParseAssignment(const std::string& text);

  void Set(const std::string& key, const std::string& value) { items_[key] = value; }
  bool Has(const std::string& key) const { return items_.count(key) > 0; }
  const std::map<std::string, std::string>& items() const { return items_; }
  bool empty() const { return items_.empty(); }

  // Typed getters; `owner` names the env in error messages.
  bool GetBool(const std::string& key, bool fallback, const std::string& owner = "") const;
  int64_t GetInt(const std::string& key, int64_t fallback, const std::string& owner = "") const;
  // GetInt for an int field: a value beyond 32 bits is an InvalidArgument
  // (a cast wrapped 4294967301 to 5).
  int GetInt32(const std::string& key, int fallback, const std::string& owner = "") const;
  double GetDouble(const std::string& key, double fallback, const std::string& owner = "") const;
  std::string GetString(const std::string& key, const std::string& fallback) const;
  std::optional<std::string> Find(const std::string& key) const;
  // A comma-separated list of numbers, e.g. "1,0,0".
  std::vector<double> GetDoubles(const std::string& key, std::vector<double> fallback,
                                 const std::string& owner = "") const;

  // Entries of `overrides` replace entries here.
  Kwargs Merged(const Kwargs& overrides) const;
  std::string ToString() const;

 private:
  std::map<std::string, std::string> items_;
};

}  // namespace rlforge

#endif  // RLFORGE_CONFIG_KWARGS_H_
