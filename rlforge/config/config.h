// rlforge/config/config.h — run configuration: fields, YAML, overrides.
//
// A config struct lists its fields once, in Visit(FieldVisitor&), with a name,
// a pointer and a one-line help; everything else is generic: YAML load (which
// rejects unknown keys and wrong types, naming the key), `--set key=value`
// overrides, saving back to YAML, and `rlforge train --help-config`.
//
// Schedules are numbers ("3e-4": constant) or "lin_<start>" (linear from start
// to 0 over training, as rl-baselines3-zoo writes them) or
// "lin_<start>_<end>", or "cos_<start>" / "cos_<start>_<end>" (half a cosine
// from start to end: PyTorch's CosineAnnealingLR over the whole run, as IQL's
// reference code decays its actor's step size). Value(progress_remaining)
// with progress_remaining going from 1 at the start to 0 at the end.
#ifndef RLFORGE_CONFIG_CONFIG_H_
#define RLFORGE_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rlforge/config/kwargs.h"

namespace rlforge {

struct Schedule {
  enum class Kind { kConstant, kLinear, kCosine };
  double start = 0.0;
  double end = 0.0;
  Kind kind = Kind::kConstant;

  static Schedule Constant(double v) { return {v, v, Kind::kConstant}; }
  static Schedule Linear(double start, double end = 0.0) { return {start, end, Kind::kLinear}; }
  static Schedule Cosine(double start, double end = 0.0) { return {start, end, Kind::kCosine}; }
  // Throws InvalidArgument on a malformed text.
  static Schedule Parse(const std::string& text);
  double Value(double progress_remaining) const;
  // Every value the schedule takes lies in [min(start, end), max(start, end)].
  double Min() const { return kind == Kind::kConstant ? start : (start < end ? start : end); }
  std::string ToString() const;
  // A step size's checks: every value finite, the start > 0 and the end >= 0
  // (InvalidArgument naming key).
  void CheckRate(const char* key) const;
  friend bool operator==(const Schedule& a, const Schedule& b) {
    return a.start == b.start && a.end == b.end && a.kind == b.kind;
  }
};

// A value that moves linearly from `initial` to `final` over the first
// `fraction` of training and stays at `final` after (SB3's exploration
// schedule). progress = steps done / total steps.
inline double LinearDecay(double progress, double initial, double final, double fraction) {
  if (fraction <= 0 || progress >= fraction) return final;
  return initial + (final - initial) * progress / fraction;
}

class FieldVisitor {
 public:
  virtual ~FieldVisitor() = default;
  virtual void Field(const char* name, int64_t* v, const char* help) = 0;
  virtual void Field(const char* name, double* v, const char* help) = 0;
  virtual void Field(const char* name, bool* v, const char* help) = 0;
  virtual void Field(const char* name, std::string* v, const char* help) = 0;
  virtual void Field(const char* name, std::vector<int64_t>* v, const char* help) = 0;
  virtual void Field(const char* name, Schedule* v, const char* help) = 0;
  // Optional numbers: "null"/"none" in YAML or --set means unset.
  virtual void Field(const char* name, std::optional<double>* v, const char* help) = 0;
  virtual void Field(const char* name, Kwargs* v, const char* help) = 0;
};

// Every field of a config as text, in declaration order.
struct FieldInfo {
  std::string name, value, help;
};

// The generic operations over any struct with `void Visit(FieldVisitor&)`.
class ConfigIO {
 public:
  template <typename Config>
  static std::vector<FieldInfo> Describe(Config& c);
  // Applies a YAML document (a map) to c; unknown keys or bad types throw
  // InvalidArgument naming the key (and, for unknown keys, the valid ones).
  template <typename Config>
  static void LoadYamlText(const std::string& yaml, const std::string& source, Config& c);
  // Applies "key=value" (value in YAML syntax).
  template <typename Config>
  static void Set(const std::string& assignment, Config& c);
  template <typename Config>
  static std::string ToYaml(Config& c);

  // Implementation, type-erased.
  using VisitFn = void (*)(void*, FieldVisitor&);
  static std::vector<FieldInfo> DescribeImpl(void* c, VisitFn visit);
  static void LoadYamlTextImpl(const std::string& yaml, const std::string& source, void* c, VisitFn visit);
  static void SetImpl(const std::string& key, const std::string& value, void* c, VisitFn visit);
  static std::string ToYamlImpl(void* c, VisitFn visit);
};

template <typename Config>
std::vector<FieldInfo> ConfigIO::Describe(Config& c) {
  return DescribeImpl(&c, [](void* p, FieldVisitor& v) { static_cast<Config*>(p)->Visit(v); });
}
template <typename Config>
void ConfigIO::LoadYamlText(const std::string& yaml, const std::string& source, Config& c) {
  LoadYamlTextImpl(yaml, source, &c, [](void* p, FieldVisitor& v) { static_cast<Config*>(p)->Visit(v); });
}
template <typename Config>
void ConfigIO::Set(const std::string& assignment, Config& c) {
  auto [k, val] = Kwargs::ParseAssignment(assignment);
  SetImpl(k, val, &c, [](void* p, FieldVisitor& v) { static_cast<Config*>(p)->Visit(v); });
}
template <typename Config>
std::string ConfigIO::ToYaml(Config& c) {
  return ToYamlImpl(&c, [](void* p, FieldVisitor& v) { static_cast<Config*>(p)->Visit(v); });
}

}  // namespace rlforge

#endif  // RLFORGE_CONFIG_CONFIG_H_
