// End-to-end masks: PPO and A2C on a user env whose legal actions change
// every step and which rejects an illegal action with InvalidArgument, for a
// Discrete and a MultiDiscrete action space. Training must never send a
// masked action, and must still learn what the reward asks for.
#include <gtest/gtest.h>

#include <filesystem>

#include "rlforge/env/registry.h"
#include "rlforge/train/runner.h"

namespace rlforge {
namespace {

// Observation: which choices are legal (one-hot blocks). Reward 1 for the
// highest legal choice in every dimension, else 0. Episodes last 20 steps.
class MaskedChoice : public EnvBase<MaskedChoice> {
 public:
  explicit MaskedChoice(std::vector<int64_t> nvec)
      : nvec_(std::move(nvec)),
        act_(nvec_.size() == 1 ? Space::Discrete(nvec_[0]) : Space::MultiDiscrete(nvec_)),
        obs_(Space::Box(0, 1, {act_.mask_size()})),
        mask_(act_.mask_size()) {}
  const Space& observation_space() const override { return obs_; }
  const Space& action_space() const override { return act_; }
  std::string name() const override { return "MaskedChoice"; }
  bool has_action_mask() const override { return true; }
  void ActionMask(uint8_t* m) const override { std::copy(mask_.begin(), mask_.end(), m); }
  std::string RenderText() const override { return "t=" + std::to_string(t_); }
  template <class A>
  void Fields(A& ar) {
    ar(t_), ar(mask_);
  }
  void ResetImpl(void* obs, Info*) {
    t_ = 0;
    Draw(obs);
  }
  void StepImpl(const void* action, void* obs, StepResult* r) {
    const auto* a = static_cast<const int64_t*>(action);
    int64_t offset = 0;
    double reward = 1.0;
    for (size_t d = 0; d < nvec_.size(); ++d) {
      if (!mask_[offset + a[d]]) throw InvalidArgument(StrCat("illegal action ", a[d], " in dimension ", d));
      int64_t best = 0;
      for (int64_t k = 0; k < nvec_[d]; ++k)
        if (mask_[offset + k]) best = k;
      if (a[d] != best) reward = 0.0;
      offset += nvec_[d];
    }
    r->reward = reward;
    r->truncated = ++t_ >= 20;
    Draw(obs);
  }

 private:
  void Draw(void* obs) {
    int64_t offset = 0;
    for (int64_t n : nvec_) {
      bool any = false;
      for (int64_t k = 0; k < n; ++k) any |= (mask_[offset + k] = rng_.Uniform() < 0.5);
      if (!any) mask_[offset + rng_.UniformInt(n)] = 1;
      offset += n;
    }
    auto* o = static_cast<float*>(obs);
    for (size_t i = 0; i < mask_.size(); ++i) o[i] = mask_[i];
  }
  std::vector<int64_t> nvec_;
  Space act_, obs_;
  std::vector<uint8_t> mask_;
  int64_t t_ = 0;
};

class MaskedTrainingTest : public testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    static bool registered = false;
    if (registered) return;
    registered = true;
    Registry::Global().Register(
        {"MaskedChoice-v0", [](const Kwargs&) { return std::make_unique<MaskedChoice>(std::vector<int64_t>{5}); }});
    Registry::Global().Register({"MaskedChoiceMulti-v0", [](const Kwargs&) {
                                   return std::make_unique<MaskedChoice>(std::vector<int64_t>{3, 4});
                                 }});
  }
};

TEST_P(MaskedTrainingTest, NeverTakesAMaskedActionAndLearns) {
  for (const char* env : {"MaskedChoice-v0", "MaskedChoiceMulti-v0"}) {
    const std::string dir = testing::TempDir() + "/rlforge_masked/" + GetParam() + "-" + env;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(std::filesystem::path(dir).parent_path());
    RunnerOptions quiet;
    quiet.progress = false;
    if (GetParam() == "dqn" && std::string(env) == "MaskedChoiceMulti-v0") continue;  // DQN: Discrete only
    std::vector<std::string> sets;
    if (GetParam() == "ppo") sets = {"n_steps=64", "batch_size=128", "eval_episodes=50"};
    if (GetParam() == "a2c") sets = {"n_steps=16", "learning_rate=0.003", "use_rms_prop=false", "eval_episodes=50"};
    if (GetParam() == "dqn")
      sets = {"learning_starts=500", "train_freq=16", "gradient_steps=4", "batch_size=64", "learning_rate=0.001",
              "target_update_interval=500", "exploration_fraction=0.3", "eval_episodes=50", "num_envs=4"};
    TrainResult r;
    ASSERT_NO_THROW(r = Train(TrainConfig::Resolve(GetParam(), env, "", sets, 40000, 0), dir, quiet));
    // A random legal policy scores 20 * E[1/|legal|] per dimension product (~5 for one
    // dimension of 5); the greedy learned policy should be close to 20.
    std::printf("%s on %s: eval return %.2f of 20\n", GetParam().c_str(), env, r.eval.mean_return);
    EXPECT_GE(r.eval.mean_return, 17.0) << env;
  }
}

INSTANTIATE_TEST_SUITE_P(Agents, MaskedTrainingTest, testing::Values("ppo", "a2c", "dqn"));

}  // namespace
}  // namespace rlforge
