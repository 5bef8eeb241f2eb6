#include "rlforge/envs/text/text_task.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <limits>

#include "rlforge/env/registry.h"
#include "rlforge/env/text.h"

namespace rlforge {

namespace {

int64_t Pow10(int64_t d) {
  int64_t p = 1;
  for (int64_t i = 0; i < d; ++i) p *= 10;
  return p;
}

bool AllDigits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Parses "a<op>b=" into a and b; InvalidArgument otherwise.
std::pair<int64_t, int64_t> ParseBinary(const std::string& prompt, char op, const std::string& task) {
  const size_t at = prompt.find(op);
  const bool ok = at != std::string::npos && prompt.size() >= at + 3 && prompt.back() == '=' &&
                  AllDigits(prompt.substr(0, at)) && AllDigits(prompt.substr(at + 1, prompt.size() - at - 2)) &&
                  at <= 9 && prompt.size() - at - 2 <= 9;  // products stay within int64
  RLF_CHECK_ARG(ok, task, ": '", prompt, "' is not a prompt of the form A", std::string(1, op),
                "B= (operands of at most 9 digits)");
  return {std::stoll(prompt.substr(0, at)), std::stoll(prompt.substr(at + 1, prompt.size() - at - 2))};
}

// One digit of `s` replaced by another (a leading digit never by 0).
std::string ChangeDigit(std::string s, Rng& rng) {
  const size_t i = rng.UniformInt(s.size());
  const char old = s[i];
  do {
    s[i] = static_cast<char>('0' + rng.UniformInt(10));
  } while (s[i] == old || (i == 0 && s.size() > 1 && s[i] == '0'));
  return s;
}

double ScoreNumber(const std::string& response, int64_t right, double penalty) {
  if (!AllDigits(response) || response.size() > 18 || (response.size() > 1 && response[0] == '0')) return penalty > 0 ? -penalty : 0.0;
  return std::stoll(response) == right ? 1.0 : 0.0;
}

// "A+B=" and "A*B=" with operands of up to `digits` digits.
class Arithmetic : public TextTask {
 public:
  Arithmetic(char op, int64_t digits) : op_(op), digits_(digits) {}
  std::string name() const override { return op_ == '+' ? "addition" : "multiplication"; }
  TextProblem Sample(Rng& rng) const override {
    const int64_t n = Pow10(digits_);
    return Make(static_cast<int64_t>(rng.UniformInt(n)), static_cast<int64_t>(rng.UniformInt(n)));
  }
  TextProblem FromPrompt(const std::string& prompt) const override {
    auto [a, b] = ParseBinary(prompt, op_, name());
    return Make(a, b);
  }
  double Score(const TextProblem& p, const std::string& r) const override {
    return ScoreNumber(r, Apply(p.numbers[0], p.numbers[1]), format_penalty);
  }
  // A changed digit; for a sum, half the time a dropped carry instead (the
  // commonest slip) when there is one.
  std::string Mistake(const TextProblem& p, Rng& rng) const override {
    if (op_ == '+' && rng.Bernoulli(0.5)) {
      std::vector<int64_t> carries;
      int64_t a = p.numbers[0], b = p.numbers[1], carry = 0;
      for (int64_t place = 1; a > 0 || b > 0; place *= 10, a /= 10, b /= 10) {
        carry = (a % 10 + b % 10 + carry) >= 10;
        if (carry) carries.push_back(place * 10);
      }
      if (!carries.empty()) return std::to_string(p.numbers[0] + p.numbers[1] - carries[rng.UniformInt(carries.size())]);
    }
    return ChangeDigit(p.answer, rng);
  }
  int64_t max_prompt() const override { return 2 * digits_ + 2; }
  int64_t max_answer() const override { return op_ == '+' ? digits_ + 1 : 2 * digits_; }

 private:
  int64_t Apply(int64_t a, int64_t b) const { return op_ == '+' ? a + b : a * b; }
  TextProblem Make(int64_t a, int64_t b) const {
    return {std::to_string(a) + op_ + std::to_string(b) + "=", std::to_string(Apply(a, b)), {a, b}};
  }
  char op_;
  int64_t digits_;
};

class Sort : public TextTask {
 public:
  explicit Sort(int64_t length) : length_(length) {}
  std::string name() const override { return "sort"; }
  TextProblem Sample(Rng& rng) const override {
    std::string digits;
    for (int64_t i = 0; i < length_; ++i) digits.push_back(static_cast<char>('0' + rng.UniformInt(10)));
    return Make(digits);
  }
  TextProblem FromPrompt(const std::string& prompt) const override {
    const bool ok = prompt.size() >= 7 && prompt.rfind("sort:", 0) == 0 && prompt.back() == '=' &&
                    AllDigits(prompt.substr(5, prompt.size() - 6));
    RLF_CHECK_ARG(ok, "sort: '", prompt, "' is not a prompt of the form sort:DIGITS=");
    return Make(prompt.substr(5, prompt.size() - 6));
  }
  double Score(const TextProblem& p, const std::string& r) const override {
    if (!AllDigits(r)) return Malformed();
    return r == p.answer ? 1.0 : 0.0;
  }
  // Two neighbours that differ swapped (else a digit changed).
  std::string Mistake(const TextProblem& p, Rng& rng) const override {
    std::string s = p.answer;
    std::vector<size_t> at;
    for (size_t i = 0; i + 1 < s.size(); ++i)
      if (s[i] != s[i + 1]) at.push_back(i);
    if (at.empty()) {
      const size_t i = rng.UniformInt(s.size());
      s[i] = s[i] == '9' ? '8' : static_cast<char>(s[i] + 1);
      return s;
    }
    const size_t i = at[rng.UniformInt(at.size())];
    std::swap(s[i], s[i + 1]);
    return s;
  }
  int64_t max_prompt() const override { return length_ + 6; }
  int64_t max_answer() const override { return length_; }

 private:
  TextProblem Make(const std::string& digits) const {
    std::string sorted = digits;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> numbers;
    for (char c : digits) numbers.push_back(c - '0');
    return {"sort:" + digits + "=", sorted, numbers};
  }
  int64_t length_;
};

class Countdown : public TextTask {
 public:
  Countdown(int64_t count, int64_t max_number) : count_(count), max_number_(max_number) {}
  std::string name() const override { return "countdown"; }
  // A random left-deep expression over all the numbers, + - * only, whose
  // value is in 1..999 (redrawn otherwise): the reference answer.
  TextProblem Sample(Rng& rng) const override {
    for (;;) {
      std::vector<int64_t> numbers;
      for (int64_t i = 0; i < count_; ++i) numbers.push_back(1 + static_cast<int64_t>(rng.UniformInt(max_number_)));
      std::string expr = std::to_string(numbers[0]);
      bool additive = false;  // the expression so far has a + or - at top level
      for (int64_t i = 1; i < count_; ++i) {
        const char op = "+-*"[rng.UniformInt(3)];
        if (op == '*' && additive) expr = "(" + expr + ")";
        additive = op != '*' ? true : false;
        expr += op + std::to_string(numbers[i]);
      }
      int64_t value = 0;
      std::vector<int64_t> used;
      if (!EvalExpression(expr, &value, &used) || value < 1 || value > 999) continue;
      std::vector<int64_t> shown = numbers;
      for (size_t i = shown.size(); i > 1; --i) std::swap(shown[i - 1], shown[rng.UniformInt(i)]);
      TextProblem p = Make(shown, value);
      p.answer = expr;
      return p;
    }
  }
  TextProblem FromPrompt(const std::string& prompt) const override {
    // "make T from a,b,c="
    const size_t from = prompt.find(" from ");
    bool ok = prompt.rfind("make ", 0) == 0 && from != std::string::npos && prompt.back() == '=' && from > 5;
    std::vector<int64_t> numbers;
    int64_t target = 0;
    if (ok) {
      const std::string t = prompt.substr(5, from - 5);
      ok = AllDigits(t) && t.size() <= 9;
      if (ok) target = std::stoll(t);
      std::string list = prompt.substr(from + 6, prompt.size() - from - 7);
      size_t start = 0;
      while (ok) {
        const size_t comma = list.find(',', start);
        const std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        ok = AllDigits(item) && item.size() <= 9;
        if (ok) numbers.push_back(std::stoll(item));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    RLF_CHECK_ARG(ok, "countdown: '", prompt, "' is not a prompt of the form make TARGET from A,B,C=");
    RLF_CHECK_ARG(numbers.size() >= 2 && numbers.size() <= 6, "countdown: '", prompt, "' gives ", numbers.size(),
                  " numbers; the task takes 2..6");
    TextProblem p = Make(numbers, target);
    p.answer = Solve(numbers, target);
    return p;
  }
  double Score(const TextProblem& p, const std::string& r) const override {
    int64_t value = 0;
    std::vector<int64_t> used;
    if (!EvalExpression(r, &value, &used)) return Malformed();
    std::vector<int64_t> left(p.numbers.begin(), p.numbers.end() - 1);
    for (int64_t u : used) {
      auto it = std::find(left.begin(), left.end(), u);
      if (it == left.end()) return Malformed();  // a number it was not given (or given fewer times)
      left.erase(it);
    }
    return value == p.numbers.back() ? 1.0 : 0.0;
  }
  // A well-formed wrong answer: the reference expression with one operator
  // changed (a slip that keeps to the given numbers), else a single given
  // number or the sum of two that misses the target.
  std::string Mistake(const TextProblem& p, Rng& rng) const override {
    const std::string& s = p.answer;
    std::vector<size_t> ops;
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] == '+' || s[i] == '-' || s[i] == '*') ops.push_back(i);
    for (int tries = 0; tries < 20 && !ops.empty(); ++tries) {
      std::string wrong = s;
      const size_t i = ops[rng.UniformInt(ops.size())];
      wrong[i] = "+-*"[rng.UniformInt(3)];
      if (Score(p, wrong) == 0.0) return wrong;
    }
    const std::vector<int64_t> given(p.numbers.begin(), p.numbers.end() - 1);
    for (size_t i = 0; i < given.size(); ++i) {
      if (given[i] != p.numbers.back()) return std::to_string(given[i]);
      for (size_t j = i + 1; j < given.size(); ++j)
        if (given[i] + given[j] != p.numbers.back()) return std::to_string(given[i]) + "+" + std::to_string(given[j]);
    }
    return std::to_string(given[0]) + "-" + std::to_string(given[0]);  // unreachable for targets >= 1 given twice
  }
  int64_t max_prompt() const override { return 11 + count_ * (Digits(max_number_) + 1) + 3; }
  int64_t max_answer() const override { return count_ * (Digits(max_number_) + 1) + 2 * count_; }

 private:
  static int64_t Digits(int64_t n) { return static_cast<int64_t>(std::to_string(n).size()); }
  static TextProblem Make(const std::vector<int64_t>& numbers, int64_t target) {
    std::string prompt = "make " + std::to_string(target) + " from ";
    for (size_t i = 0; i < numbers.size(); ++i) prompt += (i ? "," : "") + std::to_string(numbers[i]);
    TextProblem p{prompt + "=", "", numbers};
    p.numbers.push_back(target);
    return p;
  }
  // A solution by exhaustive search over left-deep expressions of ordered
  // subsets (what the generator writes; for 6 numbers at most 2.4 x 10^5
  // expressions, well under a second); "" when there is none.
  std::string Solve(const std::vector<int64_t>& numbers, int64_t target) const {
    std::string found;
    std::vector<bool> used(numbers.size(), false);
    std::function<void(const std::string&, bool)> go = [&](const std::string& expr, bool additive) {
      if (!found.empty()) return;
      int64_t v = 0;
      std::vector<int64_t> lits;
      if (!expr.empty() && EvalExpression(expr, &v, &lits) && v == target) {
        found = expr;
        return;
      }
      for (size_t i = 0; i < numbers.size(); ++i) {
        if (used[i]) continue;
        used[i] = true;
        const std::string n = std::to_string(numbers[i]);
        if (expr.empty()) {
          go(n, false);
        } else {
          go(expr + "+" + n, true);
          go(expr + "-" + n, true);
          go((additive ? "(" + expr + ")" : expr) + "*" + n, false);
        }
        used[i] = false;
      }
    };
    go("", false);
    return found;
  }
  int64_t count_, max_number_;
};

// Recursive descent over expr := term (('+'|'-') term)*, term := factor
// (('*'|'/') factor)*, factor := number | '(' expr ')'.
class ExpressionParser {
 public:
  ExpressionParser(const std::string& s, std::vector<int64_t>* literals) : s_(s), literals_(literals) {}
  bool Parse(int64_t* value) { return Expr(value, 0) && pos_ == s_.size(); }

 private:
  static constexpr int64_t kLimit = int64_t{1} << 40;
  bool Expr(int64_t* v, int depth) {
    if (!Term(v, depth)) return false;
    while (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) {
      const char op = s_[pos_++];
      int64_t r = 0;
      if (!Term(&r, depth)) return false;
      *v = op == '+' ? *v + r : *v - r;
      if (*v > kLimit || *v < -kLimit) return false;
    }
    return true;
  }
  bool Term(int64_t* v, int depth) {
    if (!Factor(v, depth)) return false;
    while (pos_ < s_.size() && (s_[pos_] == '*' || s_[pos_] == '/')) {
      const char op = s_[pos_++];
      int64_t r = 0;
      if (!Factor(&r, depth)) return false;
      if (op == '*') {
        if (r != 0 && (*v > kLimit / std::max<int64_t>(1, std::abs(r)) || *v < -kLimit / std::max<int64_t>(1, std::abs(r))))
          return false;
        *v *= r;
      } else {
        if (r == 0 || *v % r != 0) return false;
        *v /= r;
      }
    }
    return true;
  }
  bool Factor(int64_t* v, int depth) {
    if (pos_ >= s_.size() || depth > 64) return false;
    if (s_[pos_] == '(') {
      ++pos_;
      if (!Expr(v, depth + 1) || pos_ >= s_.size() || s_[pos_] != ')') return false;
      ++pos_;
      return true;
    }
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    if (pos_ == start || pos_ - start > 9) return false;
    *v = std::stoll(s_.substr(start, pos_ - start));
    literals_->push_back(*v);
    return true;
  }
  const std::string& s_;
  std::vector<int64_t>* literals_;
  size_t pos_ = 0;
};


// The scripted policies: the reference answer, or (for a fraction of the
// episodes) a mistake, one character per step. Each row of the Act batch
// decides at the first step of its episode (nothing written yet) and keeps
// that answer until the episode's end.
class TextSolver : public Policy {
 public:
  TextSolver(std::shared_ptr<const TextTask> task, int64_t context, double noise, uint64_t seed)
      : task_(std::move(task)), context_(context), noise_(noise), rng_(seed) {}
  void Act(const void* observations, const uint8_t*, int n, void* actions) override {
    const auto* obs = static_cast<const int64_t*>(observations);
    auto* out = static_cast<int64_t*>(actions);
    if (static_cast<int>(rows_.size()) != n) rows_.assign(n, Row{});
    for (int i = 0; i < n; ++i) {
      const std::string seen = text::Decode(obs + i * context_, context_);
      const size_t eq = seen.find('=');
      RLF_CHECK_ARG(eq != std::string::npos, "text solver: the observation holds no prompt ending in '='");
      const std::string prompt = seen.substr(0, eq + 1);
      const std::string written = seen.substr(eq + 1);
      Row& row = rows_[i];
      if (written.empty() || row.prompt != prompt) {
        const TextProblem p = task_->FromPrompt(prompt);
        row.prompt = prompt;
        row.answer = p.answer;
        if (noise_ > 0 && rng_.Bernoulli(noise_)) row.answer = task_->Mistake(p, rng_);
      }
      out[i] = written.size() < row.answer.size() ? text::Encode(row.answer[written.size()]) : text::kEos;
    }
  }
  std::string name() const override { return noise_ > 0 ? "noisy" : "solver"; }

 private:
  struct Row {
    std::string prompt, answer;
  };
  std::shared_ptr<const TextTask> task_;
  int64_t context_;
  double noise_;
  Rng rng_;
  std::vector<Row> rows_;
};

}  // namespace

bool EvalExpression(const std::string& expr, int64_t* value, std::vector<int64_t>* literals) {
  if (expr.empty() || expr.size() > 256) return false;
  ExpressionParser parser(expr, literals);
  return parser.Parse(value);
}

std::unique_ptr<TextTask> MakeTextTask(const std::string& name, const Kwargs& kw, const std::string& id) {
  std::unique_ptr<TextTask> task;
  if (name == "addition" || name == "multiplication") {
    const int64_t digits = kw.GetInt("digits", name == "addition" ? 3 : 2, id);
    RLF_CHECK_ARG(digits >= 1 && digits <= 8, id, ": kwarg 'digits' must be in 1..8, got ", digits);
    task = std::make_unique<Arithmetic>(name == "addition" ? '+' : '*', digits);
  } else if (name == "sort") {
    const int64_t length = kw.GetInt("length", 5, id);
    RLF_CHECK_ARG(length >= 2 && length <= 64, id, ": kwarg 'length' must be in 2..64, got ", length);
    task = std::make_unique<Sort>(length);
  } else if (name == "countdown") {
    const int64_t count = kw.GetInt("numbers", 3, id);
    const int64_t max_number = kw.GetInt("max_number", 10, id);
    RLF_CHECK_ARG(count >= 2 && count <= 6, id, ": kwarg 'numbers' must be in 2..6, got ", count);
    RLF_CHECK_ARG(max_number >= 2 && max_number <= 100, id, ": kwarg 'max_number' must be in 2..100, got ", max_number);
    task = std::make_unique<Countdown>(count, max_number);
  } else if (name == "towerdefense") {
    task = MakeTowerDefensePlanTask(kw, id);
  } else {
    throw InvalidArgument("unknown text task '" + name + "' (addition, multiplication, sort, countdown, towerdefense)");
  }
  task->format_penalty = kw.GetDouble("format_penalty", 0.0, id);
  RLF_CHECK_ARG(task->format_penalty >= 0 && task->format_penalty <= 10, id,
                ": kwarg 'format_penalty' must be in [0, 10], got ", task->format_penalty);
  return task;
}

namespace {

// max_response, checked before the spaces are sized by it.
int64_t CheckedMaxResponse(const std::string& id, int64_t max_response) {
  RLF_CHECK_ARG(max_response >= 1 && max_response <= 256, id, ": kwarg 'max_response' must be in 1..256, got ",
                max_response);
  return max_response;
}

}  // namespace

TextEnv::TextEnv(std::string id, std::shared_ptr<const TextTask> task, int64_t max_response)
    : id_(std::move(id)),
      task_(std::move(task)),
      max_response_(CheckedMaxResponse(id_, max_response)),
      context_(1 + task_->max_prompt() + max_response_ + 1),
      obs_space_(Space::Box(0.0, static_cast<double>(text::kVocabSize - 1), {context_}, DType::kInt64)),
      act_space_(Space::Discrete(text::kNumActions, text::kFirstAction)) {}

void TextEnv::Observe(void* obs) const {
  auto* o = static_cast<int64_t*>(obs);
  std::fill(o, o + context_, text::kPad);
  int64_t n = 0;
  o[n++] = text::kBos;
  for (char c : problem_.prompt) o[n++] = text::Encode(c);
  for (char c : response_) o[n++] = text::Encode(c);
}

void TextEnv::ResetImpl(void* obs, Info*) {
  problem_ = task_->Sample(rng_);
  response_.clear();
  done_ = 0;
  Observe(obs);
}

void TextEnv::StepImpl(const void* action, void* obs, StepResult* r) {
  const int64_t token = *static_cast<const int64_t*>(action);
  if (token == text::kEos) {
    r->reward = task_->Score(problem_, response_);
    r->terminated = true;
  } else if (static_cast<int64_t>(response_.size()) >= max_response_) {
    // max_response characters written and no <eos>: cut off.
    r->reward = task_->Malformed();
    r->truncated = true;
  } else {
    response_.push_back(static_cast<char>(token - 3 + 32));
  }
  if (r->done()) r->info.Set("is_success", r->terminated && r->reward == 1.0 ? 1.0 : 0.0);
  Observe(obs);
}

std::string TextEnv::RenderText() const { return problem_.prompt + response_ + "\n"; }

namespace {

void RegisterTextEnv(Registry& registry, const std::string& id, const std::string& task, std::vector<KwargDoc> docs,
                     const std::string& description) {
  docs.push_back({"max_response", "", "most characters of a response (default: the longest answer + 2)"});
  docs.push_back({"format_penalty", "0", "reward of a malformed or cut-off response is -format_penalty"});
  EnvSpec spec{id,
               [id, task](const Kwargs& kw) -> std::unique_ptr<Env> {
                 std::shared_ptr<const TextTask> t = MakeTextTask(task, kw, id);
                 const int64_t max_response = kw.GetInt("max_response", t->max_answer() + 2, id);
                 return std::make_unique<TextEnv>(id, t, max_response);
               },
               std::nullopt,
               1.0,
               {},
               docs,
               description};
  auto make = [](const Env& env, double noise, uint64_t seed) -> std::unique_ptr<Policy> {
    const auto* t = dynamic_cast<const TextEnv*>(&env.unwrapped());
    RLF_CHECK_ARG(t != nullptr, "the text solver plays text envs only, not ", env.name());
    return std::make_unique<TextSolver>(t->shared_task(), t->context(), noise, seed);
  };
  spec.scripted_policies.push_back(
      {"solver", "solver", "the task's reference answers", false,
       [make](const Env& env, const std::string&, uint64_t seed) { return make(env, 0.0, seed); }});
  spec.scripted_policies.push_back(
      {"noisy", "noisy:P", "the reference answer, or a plausible mistake for a fraction P of the prompts", true,
       [make](const Env& env, const std::string& arg, uint64_t seed) {
         char* end = nullptr;
         const double p = std::strtod(arg.c_str(), &end);
         RLF_CHECK_ARG(!arg.empty() && *end == '\0' && p >= 0 && p <= 1,
                       "policy 'noisy:P' needs a fraction P in [0, 1], got '", arg, "'");
         return make(env, p, seed);
       }});
  registry.Register(std::move(spec));
}

}  // namespace

RLF_REGISTER_ENVS(text_tasks) {
  RegisterTextEnv(registry, "TextAddition-v0", "addition", {{"digits", "3", "digits of each operand"}},
                  "write the sum of two numbers, one character per step (an LM task: rlforge/envs/text)");
  RegisterTextEnv(registry, "TextMultiplication-v0", "multiplication", {{"digits", "2", "digits of each operand"}},
                  "write the product of two numbers, one character per step");
  RegisterTextEnv(registry, "TextSort-v0", "sort", {{"length", "5", "digits in the list"}},
                  "write a list of digits in ascending order, one character per step");
  RegisterTextEnv(registry, "TextCountdown-v0", "countdown",
                  {{"numbers", "3", "numbers given"}, {"max_number", "10", "largest number given"}},
                  "write an expression over the given numbers (each at most once) that equals the target");
  RegisterTextEnv(registry, "TextTowerDefense-v0", "towerdefense",
                  {{"stage", "1", "TowerDefense-v0 stage 1-4, or 0: procedural maps"},
                   {"difficulty", "0.5", "procedural maps' difficulty"},
                   {"units", "5", "most placements in a plan"}},
                  "write a deployment plan for a TowerDefense-v0 map; the env plays it (1 for a won game)");
}

}  // namespace rlforge
