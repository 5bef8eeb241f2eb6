#include "rlforge/config/config.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <stdexcept>

#include "rlforge/config/numbers.h"
#include "rlforge/core/error.h"

namespace rlforge {
namespace {

// The shortest of 10..17 significant digits that reads back as `v` exactly:
// a config.yaml written from a run must make the same run (10 digits turned
// gamma 0.99999999999 into 1).
std::string Num(double v) {
  char text[40];
  for (int digits = 10; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    if (std::strtod(text, nullptr) == v) break;
  }
  return text;
}

bool IsNullValue(const YAML::Node& n) {
  if (n.IsNull()) return true;
  if (!n.IsScalar()) return false;
  const std::string s = n.Scalar();
  return s == "null" || s == "none" || s == "None" || s == "~" || s.empty();
}

// YAML is UTF-8 text; other bytes would be replaced silently by the parser
// (and change a key or value), so they are refused. Returns the offset of the
// first byte that is not part of valid UTF-8, or npos.
size_t InvalidUtf8At(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || (n == 2 && c < 0xC2) || (n == 4 && c > 0xF4) || i + n > text.size()) return i;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return i;
    i += n;
  }
  return std::string::npos;
}

// Refuses text that is not UTF-8 or holds control characters (other than
// tab, newline and carriage return), naming the first bad byte.
void CheckUtf8(const std::string& text, const std::string& what) {
  size_t at = InvalidUtf8At(text);
  const char* problem = "is not UTF-8 text";
  for (size_t i = 0; i < text.size() && i < at; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
      at = i, problem = "holds a control character";
      break;
    }
  }
  if (at == std::string::npos) return;
  char byte[8];
  std::snprintf(byte, sizeof(byte), "0x%02X", static_cast<unsigned char>(text[at]));
  throw InvalidArgument(StrCat(what, " ", problem, " (byte ", byte, " at offset ", at, ")"));
}

// Applies one YAML node to the field named `key`.
class Setter : public FieldVisitor {
 public:
  Setter(const std::string& key, const YAML::Node& node, const std::string& where)
      : key_(key), node_(node), where_(where) {}
  bool found() const { return found_; }

  void Field(const char* name, int64_t* v, const char*) override {
    if (!Match(name)) return;
    *v = ParseInteger(Scalar("an integer"), What());
  }
  void Field(const char* name, double* v, const char*) override {
    if (Match(name)) *v = ParseNumber(Scalar("a number"), What());
  }
  void Field(const char* name, bool* v, const char*) override {
    if (!Match(name)) return;
    const std::string s = Scalar(kBoolWords);
    const std::optional<bool> b = ParseBoolWord(s);
    RLF_CHECK_ARG(b.has_value(), What(), " must be ", kBoolWords, ", got '", s, "'");
    *v = *b;
  }
  void Field(const char* name, std::string* v, const char*) override {
    if (Match(name)) *v = node_.IsNull() ? std::string() : Scalar("a string");  // `key=` or `key: null`: empty
  }
  void Field(const char* name, std::vector<int64_t>* v, const char*) override {
    if (!Match(name)) return;
    RLF_CHECK_ARG(node_.IsSequence(), What(), " must be a list of integers like [64, 64]");
    v->clear();
    for (const auto& item : node_) {
      RLF_CHECK_ARG(item.IsScalar(), What(), " must be a list of integers like [64, 64]");
      v->push_back(ParseInteger(item.Scalar(), What() + " entry"));
    }
  }
  void Field(const char* name, Schedule* v, const char*) override {
    if (!Match(name)) return;
    try {
      *v = Schedule::Parse(Scalar("a number, lin_<start>[_<end>] or cos_<start>[_<end>]"));
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(StrCat(What(), ": ", e.what()));
    }
  }
  void Field(const char* name, std::optional<double>* v, const char*) override {
    if (!Match(name)) return;
    if (IsNullValue(node_)) *v = std::nullopt;
    else *v = ParseNumber(Scalar("a number or null"), What());
  }
  void Field(const char* name, Kwargs* v, const char*) override {
    if (!Match(name)) return;
    *v = Kwargs();
    if (IsNullValue(node_)) return;
    RLF_CHECK_ARG(node_.IsMap(), What(), " must be a map like {is_slippery: false}");
    for (const auto& kv : node_) {
      RLF_CHECK_ARG(kv.first.IsScalar(), What(), " keys must be names, not lists or maps");
      // A list of plain values (FrozenLake's reward_schedule: [1, -1, 0]) is
      // the kwarg's comma-separated text, as --kwarg writes it.
      std::string value;
      if (kv.second.IsSequence()) {
        std::vector<std::string> items;
        for (const auto& item : kv.second) {
          RLF_CHECK_ARG(item.IsScalar(), What(), " values must be plain values or lists of them");
          items.push_back(item.Scalar());
        }
        value = Join(items, ",");
      } else {
        RLF_CHECK_ARG(kv.second.IsScalar(), What(), " values must be plain values or lists of them");
        value = kv.second.Scalar();
      }
      CheckUtf8(kv.first.as<std::string>(), What() + " key");
      CheckUtf8(value, What() + " value");
      RLF_CHECK_ARG(!v->Has(kv.first.as<std::string>()), What(), " names kwarg '", kv.first.as<std::string>(),
                    "' twice");
      v->Set(kv.first.as<std::string>(), value);
    }
  }

 private:
  bool Match(const char* name) {
    if (key_ != name) return false;
    found_ = true;
    return true;
  }
  std::string What() const { return StrCat("config key '", key_, "'", where_); }
  std::string Scalar(const char* expected) const {
    RLF_CHECK_ARG(node_.IsScalar(), What(), " must be ", expected);
    CheckUtf8(node_.Scalar(), What());  // escapes can make any bytes
    return node_.Scalar();
  }

  std::string key_;
  YAML::Node node_;
  std::string where_;
  bool found_ = false;
};

class Describer : public FieldVisitor {
 public:
  std::vector<FieldInfo> out;
  void Field(const char* n, int64_t* v, const char* h) override { out.push_back({n, std::to_string(*v), h}); }
  void Field(const char* n, double* v, const char* h) override { out.push_back({n, Num(*v), h}); }
  void Field(const char* n, bool* v, const char* h) override { out.push_back({n, *v ? "true" : "false", h}); }
  void Field(const char* n, std::string* v, const char* h) override { out.push_back({n, *v, h}); }
  void Field(const char* n, std::vector<int64_t>* v, const char* h) override {
    out.push_back({n, "[" + Join(*v, ", ") + "]", h});
  }
  void Field(const char* n, Schedule* v, const char* h) override { out.push_back({n, v->ToString(), h}); }
  void Field(const char* n, std::optional<double>* v, const char* h) override {
    out.push_back({n, *v ? Num(**v) : "null", h});
  }
  void Field(const char* n, Kwargs* v, const char* h) override {
    std::vector<std::string> parts;
    for (const auto& [k, val] : v->items()) parts.push_back(k + ": " + val);
    out.push_back({n, "{" + Join(parts, ", ") + "}", h});
  }
};

// Writes `key: value  # help`, one key per line.
class Emitter : public FieldVisitor {
 public:
  YAML::Emitter e;
  Emitter() {
    e.SetNullFormat(YAML::LowerNull);  // `null`, as the docs and help texts spell it (not `~`)
    e << YAML::BeginMap;
  }
  void Field(const char* n, int64_t* v, const char* h) override { Put(n, h, *v); }
  void Field(const char* n, double* v, const char* h) override { Put(n, h, Num(*v)); }
  void Field(const char* n, bool* v, const char* h) override { Put(n, h, *v); }
  void Field(const char* n, std::string* v, const char* h) override { Put(n, h, *v); }
  void Field(const char* n, std::vector<int64_t>* v, const char* h) override {
    e << YAML::Key << n << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (int64_t x : *v) e << x;
    e << YAML::EndSeq << YAML::Comment(h);
  }
  void Field(const char* n, Schedule* v, const char* h) override { Put(n, h, v->ToString()); }
  void Field(const char* n, std::optional<double>* v, const char* h) override {
    if (*v) Put(n, h, Num(**v));
    else Put(n, h, YAML::Null);
  }
  void Field(const char* n, Kwargs* v, const char* h) override {
    e << YAML::Key << n << YAML::Value << YAML::Flow << YAML::BeginMap;
    for (const auto& [k, val] : v->items()) e << YAML::Key << k << YAML::Value << val;
    e << YAML::EndMap << YAML::Comment(h);
  }

 private:
  template <typename T>
  void Put(const char* n, const char* h, const T& value) {
    e << YAML::Key << n << YAML::Value << value << YAML::Comment(h);
  }
};

const char* SchedulePrefix(Schedule::Kind kind) { return kind == Schedule::Kind::kLinear ? "lin_" : "cos_"; }

// Whether each of the YAML stream's documents holds something (a scalar,
// sequence or map); parsing stops at the third that does, or after 1000
// documents.
std::vector<bool> DocumentsWithContent(const std::string& yaml) {
  struct Counter : YAML::EventHandler {
    bool content = false;
    void OnDocumentStart(const YAML::Mark&) override { content = false; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override { content = true; }
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {
      content = true;
    }
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
      content = true;
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
      content = true;
    }
    void OnMapEnd() override {}
  } counter;
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  std::vector<bool> out;
  int with_content = 0;
  while (out.size() < 1000 && with_content < 3 && parser.HandleNextDocument(counter)) {
    out.push_back(counter.content);
    with_content += counter.content;
  }
  return out;
}

}  // namespace

Schedule Schedule::Parse(const std::string& text) {
  for (const Kind kind : {Kind::kLinear, Kind::kCosine}) {
    const std::string prefix = SchedulePrefix(kind);
    if (text.rfind(prefix, 0) != 0) continue;
    const std::string rest = text.substr(prefix.size());
    const size_t us = rest.find('_');
    if (us == std::string::npos) return {ParseNumber(rest, "schedule start"), 0.0, kind};
    return {ParseNumber(rest.substr(0, us), "schedule start"), ParseNumber(rest.substr(us + 1), "schedule end"), kind};
  }
  return Constant(ParseNumber(text, "a schedule (a number, lin_<start>[_<end>] or cos_<start>[_<end>])"));
}

double Schedule::Value(double progress_remaining) const {
  switch (kind) {
    case Kind::kLinear:
      return end + (start - end) * progress_remaining;
    case Kind::kCosine:
      return end + (start - end) * 0.5 * (1.0 + std::cos(std::acos(-1.0) * (1.0 - progress_remaining)));
    case Kind::kConstant:
      break;
  }
  return start;
}

std::string Schedule::ToString() const {
  if (kind == Kind::kConstant) return Num(start);
  const std::string prefix = SchedulePrefix(kind);
  return end == 0.0 ? prefix + Num(start) : prefix + Num(start) + "_" + Num(end);
}

void Schedule::CheckRate(const char* key) const {
  RLF_CHECK_ARG(std::isfinite(start) && std::isfinite(end) && start > 0 && Min() >= 0, "config key '", key,
                "' must start > 0 and never go below 0, got ", ToString());
}

std::vector<FieldInfo> ConfigIO::DescribeImpl(void* c, VisitFn visit) {
  Describer d;
  visit(c, d);
  return d.out;
}

void ConfigIO::SetImpl(const std::string& key, const std::string& value, void* c, VisitFn visit) {
  CheckUtf8(key + "=" + value, "--set " + key);
  YAML::Node node;
  try {
    node = YAML::Load(value);
  } catch (const YAML::Exception&) {
    node = YAML::Node(value);
  }
  Setter s(key, node, "");
  visit(c, s);
  if (!s.found()) {
    std::vector<std::string> names;
    for (const auto& f : DescribeImpl(c, visit)) names.push_back(f.name);
    throw InvalidArgument(StrCat("unknown config key '", key, "'; valid keys: ", Join(names, ", ")));
  }
}

void ConfigIO::LoadYamlTextImpl(const std::string& yaml, const std::string& source, void* c, VisitFn visit) {
  CheckUtf8(yaml, source);
  YAML::Node root;
  try {
    // A second document (after `---`) was dropped unseen: count the ones
    // with content (an empty one, as a file ending in ---, is none).
    // YAML::LoadAll is not used: on some malformed input it yields empty
    // documents without end (found by fuzz/config_yaml_fuzz).
    const std::vector<bool> content = DocumentsWithContent(yaml);
    const auto documents = std::count(content.begin(), content.end(), true);
    RLF_CHECK_ARG(documents <= 1, source, ": holds ", documents, documents > 2 ? " or more" : "",
                  " YAML documents (separated by ---); a config is one map of key: value");
    RLF_CHECK_ARG(documents == 0 || content[0], source,
                  ": the config must be its first YAML document (an empty one comes before it)");
    if (documents == 1) root = YAML::Load(yaml);  // the first document
  } catch (const YAML::Exception& e) {
    throw InvalidArgument(StrCat(source, ": not valid YAML: ", e.what()));
  }
  if (root.IsNull()) return;
  RLF_CHECK_ARG(root.IsMap(), source, ": a config must be a map of key: value");
  std::set<std::string> seen;  // YAML keeps a repeated key; the last would win unseen
  for (const auto& kv : root) {
    RLF_CHECK_ARG(kv.first.IsScalar(), source, ": a config key must be a name, not a list or map");
    const std::string key = kv.first.as<std::string>();
    RLF_CHECK_ARG(seen.insert(key).second, source, ": config key '", key, "' is given twice");
    Setter s(key, kv.second, " in " + source);
    visit(c, s);
    if (!s.found()) {
      std::vector<std::string> names;
      for (const auto& f : DescribeImpl(c, visit)) names.push_back(f.name);
      throw InvalidArgument(StrCat(source, ": unknown config key '", key, "'; valid keys: ", Join(names, ", ")));
    }
  }
}

std::string ConfigIO::ToYamlImpl(void* c, VisitFn visit) {
  Emitter em;
  visit(c, em);
  em.e << YAML::EndMap;
  return std::string(em.e.c_str()) + "\n";
}

}  // namespace rlforge
