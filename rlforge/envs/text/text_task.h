// rlforge/envs/text/text_task.h — text tasks with verifiable answers, and the
// env that poses them one character at a time.
//
// A TextTask samples problems (a prompt ending in '=' and its reference
// answer), reads a problem back from its prompt, scores a response (the
// verifier), and writes a plausibly wrong answer (demonstrations with
// mistakes, so that reinforcement learning has something to fix):
//   addition        "123+456="          -> "579"        (digits: operand length)
//   multiplication  "12*34="            -> "408"
//   sort            "sort:83515="       -> "13558"      (length: list length)
//   countdown       "make 66 from 3,7,9=" -> "(3+7)*9-24"-style expressions: any
//                   expression over + - * / and parentheses that uses each given
//                   number at most once and equals the target (division exact)
//   towerdefense    "td1:<map>="        -> "g37W s25S ..."  a deployment plan for a
//                   TowerDefense-v0 map, played by the env (tower_defense_plan.cc)
// Scores: 1 for a right answer, 0 for a wrong but well-formed one, and
// -format_penalty for a malformed one (not a number; an expression that does
// not parse or uses numbers it was not given) or one cut off by max_response.
//
// TextEnv (TextAddition-v0, TextMultiplication-v0, TextSort-v0,
// TextCountdown-v0, TextTowerDefense-v0) is the task as an MDP over tokens (rlforge/env/text.h):
// the observation is <bos> + prompt + the response so far, the action the
// next token; <eos> ends the episode (terminated) with the score as reward
// and is_success = 1 for a right answer; a character after max_response of
// them ends it truncated (a response holds at most max_response characters). Every other step's reward is 0. Its scripted
// policies: "solver" writes the reference answer, "noisy:P" writes a wrong
// one in a fraction P of the episodes (drawn from the policy's seeded RNG at
// each episode's first step, so one episode's characters agree).
#ifndef RLFORGE_ENVS_TEXT_TEXT_TASK_H_
#define RLFORGE_ENVS_TEXT_TEXT_TASK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rlforge/config/kwargs.h"
#include "rlforge/env/env.h"

namespace rlforge {

struct TextProblem {
  std::string prompt;  // ends with '='
  std::string answer;  // the reference answer
  std::vector<int64_t> numbers;  // what the verifier needs (operands, list, countdown numbers then target)
};

class TextTask {
 public:
  virtual ~TextTask() = default;
  virtual std::string name() const = 0;
  virtual TextProblem Sample(Rng& rng) const = 0;
  // The problem a prompt poses; InvalidArgument when it is not this task's.
  virtual TextProblem FromPrompt(const std::string& prompt) const = 0;
  // 1 right, 0 wrong, -format_penalty malformed.
  virtual double Score(const TextProblem& p, const std::string& response) const = 0;
  // A wrong (but well-formed) answer, as a careless solver writes it.
  virtual std::string Mistake(const TextProblem& p, Rng& rng) const = 0;
  virtual int64_t max_prompt() const = 0;
  virtual int64_t max_answer() const = 0;
  double format_penalty = 0.0;
  // The score of a malformed answer: -format_penalty (0, not -0, without one).
  double Malformed() const { return format_penalty > 0 ? -format_penalty : 0.0; }
};

// "addition", "multiplication", "sort", "countdown", "towerdefense" with their
// kwargs (InvalidArgument naming a bad value).
std::unique_ptr<TextTask> MakeTextTask(const std::string& name, const Kwargs& kwargs, const std::string& env_id);
// The TowerDefense-v0 deployment-plan task (tower_defense_plan.cc).
std::unique_ptr<TextTask> MakeTowerDefensePlanTask(const Kwargs& kwargs, const std::string& env_id);

// Evaluates a countdown expression (integers, + - * /, parentheses; usual
// precedence; division must be exact); false when it is malformed, divides
// inexactly or by zero, or overflows. Appends the literals used to *literals.
bool EvalExpression(const std::string& expr, int64_t* value, std::vector<int64_t>* literals);

class TextEnv : public EnvBase<TextEnv> {
 public:
  TextEnv(std::string id, std::shared_ptr<const TextTask> task, int64_t max_response);

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return id_; }
  std::string RenderText() const override;
  bool defines_success() const override { return true; }

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);
  template <class A>
  void Fields(A& ar) {
    ar(problem_.prompt), ar(problem_.answer), ar(problem_.numbers), ar(response_), ar(done_);
  }
  const TextTask& task() const { return *task_; }
  std::shared_ptr<const TextTask> shared_task() const { return task_; }
  const TextProblem& problem() const { return problem_; }
  const std::string& response() const { return response_; }
  int64_t context() const { return context_; }
  int64_t max_response() const { return max_response_; }

 private:
  void Observe(void* obs) const;

  std::string id_;
  std::shared_ptr<const TextTask> task_;
  int64_t max_response_, context_;
  Space obs_space_, act_space_;
  TextProblem problem_;
  std::string response_;
  uint8_t done_ = 0;
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_TEXT_TEXT_TASK_H_
