#include "rlforge/config/kwargs.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <sstream>

#include "rlforge/config/numbers.h"
#include "rlforge/core/error.h"

namespace rlforge {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Where(const std::string& key, const std::string& owner) {
  return owner.empty() ? StrCat("kwarg '", key, "'") : StrCat("kwarg '", key, "' of ", owner);
}

// ParseNumber's rules (config values read the same text the same way).
double ParseDouble(const std::string& text, const std::string& key, const std::string& owner) {
  return ParseNumber(text, Where(key, owner), "a finite number");
}

}  // namespace

std::optional<bool> ParseBoolWord(const std::string& text) {
  const std::string s = Lower(text);
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  return std::nullopt;
}

std::pair<std::string, std::string> Kwargs::ParseAssignment(const std::string& text) {
  const size_t eq = text.find('=');
  RLF_CHECK_ARG(eq != std::string::npos && eq > 0, "expected key=value, got '", text, "'");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

std::optional<std::string> Kwargs::Find(const std::string& key) const {
  auto it = items_.find(key);
  if (it == items_.end()) return std::nullopt;
  return it->second;
}

bool Kwargs::GetBool(const std::string& key, bool fallback, const std::string& owner) const {
  auto v = Find(key);
  if (!v) return fallback;
  if (const std::optional<bool> b = ParseBoolWord(*v)) return *b;
  throw InvalidArgument(StrCat(Where(key, owner), " must be ", kBoolWords, ", got '", *v, "'"));
}

int64_t Kwargs::GetInt(const std::string& key, int64_t fallback, const std::string& owner) const {
  auto v = Find(key);
  return v ? ParseInteger(*v, Where(key, owner), 64) : fallback;
}

int Kwargs::GetInt32(const std::string& key, int fallback, const std::string& owner) const {
  auto v = Find(key);
  return v ? static_cast<int>(ParseInteger(*v, Where(key, owner), 32)) : fallback;
}

double Kwargs::GetDouble(const std::string& key, double fallback, const std::string& owner) const {
  auto v = Find(key);
  if (!v) return fallback;
  return ParseDouble(*v, key, owner);
}

std::string Kwargs::GetString(const std::string& key, const std::string& fallback) const {
  auto v = Find(key);
  return v ? *v : fallback;
}

std::vector<double> Kwargs::GetDoubles(const std::string& key, std::vector<double> fallback,
                                       const std::string& owner) const {
  auto v = Find(key);
  if (!v) return fallback;
  // "1,-1,0", also in brackets as Python and YAML write a list: "[1, -1, 0]".
  auto trim = [](std::string s) {
    const size_t first = s.find_first_not_of(" \t"), last = s.find_last_not_of(" \t");
    return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
  };
  std::string text = trim(*v);
  if (text.size() >= 2 && ((text.front() == '[' && text.back() == ']') || (text.front() == '(' && text.back() == ')')))
    text = text.substr(1, text.size() - 2);
  // getline drops an empty last item: "1,0,0," read as 1,0,0 (while "1,,0" was refused).
  if (!text.empty() && text.back() == ',')
    throw InvalidArgument(StrCat(Where(key, owner), " must be numbers separated by commas, like 1,-1,0; got '", *v,
                                 "' (it ends with a comma)"));
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    try {
      out.push_back(ParseDouble(item, key, owner));
    } catch (const InvalidArgument&) {
      throw InvalidArgument(StrCat(Where(key, owner), " must be numbers separated by commas, like 1,-1,0; got '", *v,
                                   "' ('", item, "' is no finite number)"));
    }
  }
  return out;
}

Kwargs Kwargs::Merged(const Kwargs& overrides) const {
  Kwargs out = *this;
  for (const auto& [k, v] : overrides.items_) out.items_[k] = v;
  return out;
}

std::string Kwargs::ToString() const {
  std::vector<std::string> parts;
  for (const auto& [k, v] : items_) parts.push_back(k + "=" + v);
  return Join(parts, " ");
}

}  // namespace rlforge
