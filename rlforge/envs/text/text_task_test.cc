#include "rlforge/envs/text/text_task.h"

#include <gtest/gtest.h>

#include "rlforge/env/registry.h"
#include "rlforge/env/text.h"

namespace rlforge {
namespace {

TEST(TextTokens, RoundTripAndSpecials) {
  const std::string s = "make 66 from 3,7,9=(3+7)*9-24 ~";
  std::vector<int64_t> t = text::Encode(s);
  EXPECT_EQ(text::Encode(' '), 3);
  EXPECT_EQ(text::Encode('~'), 97);
  EXPECT_EQ(text::Encode('0'), 3 + 16);
  EXPECT_EQ(text::Decode(t), s);
  t.insert(t.begin(), text::kBos);
  t.push_back(text::kEos);
  t.push_back(text::Encode('x'));  // after <eos>: not text
  EXPECT_EQ(text::Decode(t), s);
  EXPECT_THROW(text::Encode('\n'), InvalidArgument);
  EXPECT_EQ(text::TokenName(text::kEos), "<eos>");
  const int64_t row[5] = {1, 20, 21, 0, 0};
  EXPECT_EQ(text::Length(row, 5), 3);
}

TEST(TextTasks, AdditionScoresAndMistakes) {
  auto task = MakeTextTask("addition", Kwargs({{"format_penalty", "0.5"}}), "TextAddition-v0");
  TextProblem p = task->FromPrompt("457+168=");
  EXPECT_EQ(p.answer, "625");
  EXPECT_EQ(task->Score(p, "625"), 1.0);
  EXPECT_EQ(task->Score(p, "615"), 0.0);
  EXPECT_EQ(task->Score(p, "62a"), -0.5);
  EXPECT_EQ(task->Score(p, ""), -0.5);
  EXPECT_EQ(task->Score(p, "0625"), -0.5);  // leading zero: not how a number is written
  EXPECT_THROW(task->FromPrompt("457-168="), InvalidArgument);
  EXPECT_EQ(task->Score(p, "9999999999999999999"), -0.5);  // 19 digits: malformed, not an exception
  auto mul = MakeTextTask("multiplication", Kwargs(), "TextMultiplication-v0");
  EXPECT_THROW(mul->FromPrompt("9999999999*9999999999="), InvalidArgument);  // the product would overflow
  // 457 + 168: carries into the tens (7+8) and hundreds (5+6+1): dropping one
  // gives 615 or 525; the other mistakes change one digit. None is right.
  Rng rng(3);
  int dropped = 0;
  for (int i = 0; i < 400; ++i) {
    const std::string m = task->Mistake(p, rng);
    EXPECT_EQ(task->Score(p, m), 0.0) << m;
    dropped += m == "615" || m == "525";
  }
  EXPECT_GT(dropped, 150);
  EXPECT_LT(dropped, 260);
  for (int i = 0; i < 200; ++i) {
    TextProblem q = task->Sample(rng);
    EXPECT_EQ(task->Score(q, q.answer), 1.0);
    EXPECT_LE(static_cast<int64_t>(q.prompt.size()), task->max_prompt());
    EXPECT_LE(static_cast<int64_t>(q.answer.size()), task->max_answer());
    EXPECT_EQ(task->FromPrompt(q.prompt).answer, q.answer);
  }
}

TEST(TextTasks, SortAndMultiplication) {
  auto sort = MakeTextTask("sort", Kwargs({{"length", "5"}}), "TextSort-v0");
  TextProblem p = sort->FromPrompt("sort:83515=");
  EXPECT_EQ(p.answer, "13558");
  Rng rng(1);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sort->Score(p, sort->Mistake(p, rng)), 0.0);
  auto mul = MakeTextTask("multiplication", Kwargs(), "TextMultiplication-v0");
  EXPECT_EQ(mul->FromPrompt("12*34=").answer, "408");
  EXPECT_EQ(mul->Score(mul->FromPrompt("0*7="), "0"), 1.0);
}

TEST(TextTasks, CountdownExpressions) {
  int64_t v = 0;
  std::vector<int64_t> lits;
  ASSERT_TRUE(EvalExpression("(3+7)*9-4", &v, &lits));
  EXPECT_EQ(v, 86);
  EXPECT_EQ(lits, (std::vector<int64_t>{3, 7, 9, 4}));
  ASSERT_TRUE(EvalExpression("2+3*4", &v, &lits));
  EXPECT_EQ(v, 14);
  ASSERT_TRUE(EvalExpression("8/4/2", &v, &lits));
  EXPECT_EQ(v, 1);
  EXPECT_FALSE(EvalExpression("7/2", &v, &lits));   // inexact
  EXPECT_FALSE(EvalExpression("7/(3-3)", &v, &lits));
  EXPECT_FALSE(EvalExpression("(3+4", &v, &lits));
  EXPECT_FALSE(EvalExpression("3++4", &v, &lits));
  EXPECT_FALSE(EvalExpression("", &v, &lits));
  auto task = MakeTextTask("countdown", Kwargs({{"format_penalty", "0.1"}}), "TextCountdown-v0");
  TextProblem p = task->FromPrompt("make 90 from 3,7,9=");
  EXPECT_EQ(task->Score(p, "(3+7)*9"), 1.0);
  EXPECT_EQ(task->Score(p, "9*(7+3)"), 1.0);
  EXPECT_EQ(task->Score(p, "9*7+3"), 0.0);
  EXPECT_EQ(task->Score(p, "9*10"), -0.1);    // 10 was not given
  EXPECT_EQ(task->Score(p, "(3+3)*9"), -0.1); // 3 given once
  EXPECT_EQ(task->Score(p, p.answer), 1.0);   // the solver's own search
  EXPECT_THROW(task->FromPrompt("make 999999 from 1,2,3,4,5,6,7="), InvalidArgument);  // 2..6 numbers
  EXPECT_EQ(task->FromPrompt("make 999999 from 1,2,3,4,5,6=").answer, "");  // unreachable: searched, none
  Rng rng(5);
  for (int i = 0; i < 200; ++i) {
    TextProblem q = task->Sample(rng);
    ASSERT_EQ(task->Score(q, q.answer), 1.0) << q.prompt << q.answer;
    EXPECT_EQ(task->Score(q, task->Mistake(q, rng)), 0.0) << q.prompt;  // wrong but well-formed
    EXPECT_EQ(task->Score(q, task->FromPrompt(q.prompt).answer), 1.0) << q.prompt;
  }
}

// The TowerDefense-v0 plan task: the prompt is the map, the heuristic's plan
// wins stage 1 when the env plays it, a plan without units or with a unit on
// the wrong kind of tile does not, and the mistakes lose.
TEST(TextTasks, TowerDefensePlans) {
  auto task = MakeTextTask("towerdefense", Kwargs(), "TextTowerDefense-v0");
  Rng rng(0);
  TextProblem p = task->Sample(rng);
  EXPECT_EQ(p.prompt, "td1:##########/#^^^^^^^^#/SooooooooG/#^^^^^^^^#/##########/##########=");
  EXPECT_EQ(p.answer, "g27W s15E m18W c16E d28W");
  EXPECT_EQ(task->Score(p, p.answer), 1.0);
  EXPECT_EQ(task->Score(p, "g27W"), 1.0);  // stage 1: the guard alone holds the lane
  EXPECT_EQ(task->Score(p, ""), 0.0);      // no units: every enemy leaks
  EXPECT_EQ(task->Score(p, "s27W"), 0.0);  // a sniper on ground: malformed (format_penalty 0)
  auto strict = MakeTextTask("towerdefense", Kwargs({{"format_penalty", "1"}}), "TextTowerDefense-v0");
  for (const char* bad : {"s27W", "g02W", "g27W g26W", "g27W d27W", "g27X", "g27W ", "g7W", "x27W"})
    EXPECT_EQ(strict->Score(p, bad), -1.0) << bad;
  EXPECT_EQ(task->FromPrompt(p.prompt).answer, p.answer);
  EXPECT_THROW(task->FromPrompt("td1:###="), InvalidArgument);   // not stage 1's map
  EXPECT_THROW(task->FromPrompt("td9:" + p.prompt.substr(4)), InvalidArgument);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(task->Score(p, task->Mistake(p, rng)), 0.0);
  // Procedural maps: prompts differ with the seed and name it.
  auto proc = MakeTextTask("towerdefense", Kwargs({{"stage", "0"}}), "TextTowerDefense-v0");
  TextProblem a = proc->Sample(rng), b = proc->Sample(rng);
  EXPECT_NE(a.prompt, b.prompt);
  EXPECT_EQ(a.prompt.rfind("tdp", 0), 0u);
  EXPECT_EQ(proc->FromPrompt(a.prompt).answer, a.answer);
  EXPECT_LE(static_cast<int64_t>(a.prompt.size()), proc->max_prompt());
  EXPECT_LE(static_cast<int64_t>(a.answer.size()), proc->max_answer());
}

// The env writes one character per step; <eos> scores; the scripted solver
// is always right, noisy:0.3 wrong on about 30% of the prompts.
TEST(TextEnv, EpisodesAndScriptedPolicies) {
  auto env = Make("TextAddition-v0");
  const int64_t ctx = env->observation_space().shape()[0];
  EXPECT_EQ(ctx, 1 + 8 + 6 + 1);
  EXPECT_EQ(env->action_space().n(), 96);
  std::vector<int64_t> obs(ctx);
  Info info;
  env->Reset(uint64_t{7}, obs.data(), &info);
  EXPECT_EQ(obs[0], text::kBos);
  const std::string prompt = text::Decode(obs);
  ASSERT_EQ(prompt.back(), '=');
  auto solver = Registry::Global().MakeScriptedPolicy("solver", "TextAddition-v0", *env, 0);
  auto noisy = Registry::Global().MakeScriptedPolicy("noisy:0.3", "TextAddition-v0", *env, 0);
  int right = 0, steps = 0;
  for (int e = 0; e < 300; ++e) {
    env->Reset(uint64_t(e), obs.data(), &info);
    Policy& pol = e % 2 ? *noisy : *solver;
    for (;;) {
      int64_t a = 0;
      pol.Act(obs.data(), nullptr, 1, &a);
      StepResult r = env->Step(&a, obs.data());
      ++steps;
      if (r.done()) {
        EXPECT_TRUE(r.terminated);
        EXPECT_EQ(r.info.Get("is_success").value(), r.reward);
        if (e % 2 == 0) EXPECT_EQ(r.reward, 1.0);
        else right += r.reward == 1.0;
        break;
      }
      EXPECT_EQ(r.reward, 0.0);
    }
  }
  EXPECT_NEAR(right / 150.0, 0.7, 0.12);
  // max_response characters fit, then <eos> scores them; a character more
  // cuts the response off: truncated, -format_penalty.
  auto capped = Make("TextAddition-v0", Kwargs({{"digits", "1"}, {"max_response", "2"}, {"format_penalty", "0.25"}}));
  std::vector<int64_t> o(capped->observation_space().shape()[0]);
  capped->Reset(uint64_t{0}, o.data(), &info);
  const int64_t one = text::Encode('1'), eos = text::kEos;
  EXPECT_FALSE(capped->Step(&one, o.data()).done());
  EXPECT_FALSE(capped->Step(&one, o.data()).done());
  EXPECT_EQ(text::Decode(o).substr(text::Decode(o).size() - 2), "11");
  StepResult r = capped->Step(&one, o.data());
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.reward, -0.25);
  capped->Reset(uint64_t{0}, o.data(), &info);
  capped->Step(&one, o.data());
  capped->Step(&one, o.data());
  r = capped->Step(&eos, o.data());
  EXPECT_TRUE(r.terminated);  // "11": scored (right or wrong), not cut off
  EXPECT_GE(r.reward, 0.0);
  const int64_t pad = text::kPad;
  capped->Reset(uint64_t{0}, o.data(), &info);
  EXPECT_THROW(capped->Step(&pad, o.data()), InvalidArgument);
  EXPECT_THROW(Make("TextSort-v0", Kwargs({{"length", "1"}})), InvalidArgument);
  EXPECT_THROW(Make("TextSort-v0", Kwargs({{"max_response", "-1000"}})), InvalidArgument);
  EXPECT_THROW(Make("TextSort-v0", Kwargs({{"max_response", "5000000000"}})), InvalidArgument);
  EXPECT_THROW(Registry::Global().MakeScriptedPolicy("noisy:2", "TextAddition-v0", *env, 0), InvalidArgument);
}

}  // namespace
}  // namespace rlforge
