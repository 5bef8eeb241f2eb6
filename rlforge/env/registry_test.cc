#include "rlforge/env/registry.h"

#include <gtest/gtest.h>

#include "rlforge/env/transition_model.h"
#include "rlforge/env/wrappers.h"
#include "rlforge/envs/classic_control/cartpole.h"

namespace rlforge {
namespace {

std::string MessageOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

TEST(RegistryTest, BuiltinIdsAndLimitsFollowGymnasium) {
  const auto& reg = Registry::Global();
  struct Expected {
    const char* id;
    std::optional<int64_t> limit;
  };
  for (const auto& e : std::vector<Expected>{{"CartPole-v1", 500},
                                             {"MountainCar-v0", 200},
                                             {"MountainCarContinuous-v0", 999},
                                             {"Acrobot-v1", 500},
                                             {"Pendulum-v1", 200},
                                             {"FrozenLake-v1", 100},
                                             {"FrozenLake8x8-v1", 200},
                                             {"Taxi-v4", 200},
                                             {"Taxi-v3", 200},
                                             {"CliffWalking-v1", std::nullopt},
                                             {"CliffWalking-v0", std::nullopt},
                                             {"CliffWalkingSlippery-v1", std::nullopt}}) {
    ASSERT_TRUE(reg.Has(e.id)) << e.id;
    EXPECT_EQ(reg.Spec(e.id).max_episode_steps, e.limit) << e.id;
  }
  EXPECT_EQ(reg.Spec("CartPole-v1").reward_threshold, 475.0);
  EXPECT_EQ(reg.Spec("Taxi-v4").reward_threshold, 8.0);
  auto env = Make("CartPole-v1");
  auto* limit = dynamic_cast<TimeLimit*>(env.get());
  ASSERT_NE(limit, nullptr);
  EXPECT_EQ(limit->max_episode_steps(), 500);
  EXPECT_EQ(env->observation_space().ToString().substr(0, 4), "Box(");
}

TEST(RegistryTest, UnknownIdAndKwargNameTheValidChoices) {
  const std::string id_msg = MessageOf([] { Make("CartPole-v9"); });
  EXPECT_NE(id_msg.find("unknown env ID 'CartPole-v9'"), std::string::npos);
  EXPECT_NE(id_msg.find("CartPole-v1"), std::string::npos);
  const std::string kw_msg = MessageOf([] { Make("FrozenLake-v1", {{"slippery", "true"}}); });
  EXPECT_NE(kw_msg.find("unknown kwarg 'slippery'"), std::string::npos);
  EXPECT_NE(kw_msg.find("is_slippery"), std::string::npos);
  const std::string type_msg = MessageOf([] { Make("Pendulum-v1", {{"g", "heavy"}}); });
  EXPECT_NE(type_msg.find("kwarg 'g' of Pendulum-v1 must be a finite number"), std::string::npos);
}

TEST(RegistryTest, MaxEpisodeStepsOverride) {
  auto env = Make("CartPole-v1", {{"max_episode_steps", "7"}});
  EXPECT_EQ(dynamic_cast<TimeLimit&>(*env).max_episode_steps(), 7);
  auto unlimited = Make("CartPole-v1", {{"max_episode_steps", "0"}});
  EXPECT_EQ(dynamic_cast<TimeLimit*>(unlimited.get()), nullptr);
  EXPECT_THROW(Make("CartPole-v1", {{"max_episode_steps", "-3"}}), InvalidArgument);
}

TEST(RegistryTest, UsersRegisterTheirOwnEnvs) {
  Registry reg;
  reg.Register({"MyCartPole-v0", [](const Kwargs&) { return std::make_unique<CartPole>(); }, 50, std::nullopt, {},
                {}, "mine"});
  auto env = reg.Make("MyCartPole-v0");
  EXPECT_EQ(dynamic_cast<TimeLimit&>(*env).max_episode_steps(), 50);
  EXPECT_THROW(reg.Register({"MyCartPole-v0", [](const Kwargs&) { return std::make_unique<CartPole>(); }}),
               InvalidArgument);
  EXPECT_THROW(reg.Register({"no version", [](const Kwargs&) { return std::make_unique<CartPole>(); }}),
               InvalidArgument);
}

// Scripted policies are offered by the envs' registry entries and found by
// name; the list in messages comes from the registry.
TEST(RegistryTest, ScriptedPoliciesComeFromTheEnvsEntries) {
  const Registry& reg = Registry::Global();
  const std::string list = reg.ScriptedPolicyList();
  EXPECT_EQ(list.rfind("random, random-legal, ", 0), 0u) << list;
  EXPECT_NE(list.find("heuristic (LunarLander-v3, LunarLanderContinuous-v3, TowerDefense-v0)"), std::string::npos)
      << list;
  EXPECT_NE(list.find("perfect (TicTacToe-v0)"), std::string::npos) << list;
  EXPECT_NE(list.find("alphabeta:DEPTH (ConnectFour-v0, TicTacToe-v0)"), std::string::npos) << list;
  EXPECT_TRUE(reg.IsScriptedPolicy("random"));
  EXPECT_TRUE(reg.IsScriptedPolicy("alphabeta:3"));
  EXPECT_FALSE(reg.IsScriptedPolicy("heuristic:3"));
  EXPECT_FALSE(reg.IsScriptedPolicy("expert"));
  auto td = Make("TowerDefense-v0");
  EXPECT_EQ(reg.MakeScriptedPolicy("heuristic", "TowerDefense-v0", *td, 0)->name(), "heuristic");
  auto c4 = Make("ConnectFour-v0");
  EXPECT_EQ(reg.MakeScriptedPolicy("alphabeta:2", "ConnectFour-v0", *c4, 0)->name(), "alphabeta:2");
  auto cartpole = Make("CartPole-v1");
  EXPECT_EQ(reg.MakeScriptedPolicy("random", "CartPole-v1", *cartpole, 0)->name(), "random");
  EXPECT_EQ(MessageOf([&] { reg.MakeScriptedPolicy("heuristic", "CartPole-v1", *cartpole, 0); }),
            "policy 'heuristic' is offered by LunarLander-v3, LunarLanderContinuous-v3, TowerDefense-v0; CartPole-v1 "
            "has none");
  EXPECT_EQ(MessageOf([&] { reg.MakeScriptedPolicy("perfect", "CartPole-v1", *cartpole, 0); }),
            "policy 'perfect' is TicTacToe-v0's minimax solver (the perfect player plays only TicTacToe-v0; use "
            "alphabeta:DEPTH); CartPole-v1 has none");
  EXPECT_NE(MessageOf([&] { reg.MakeScriptedPolicy("perfect", "ConnectFour-v0", *c4, 0); })
                .find("the perfect player plays only TicTacToe-v0"),
            std::string::npos);
  EXPECT_NE(MessageOf([&] { reg.MakeScriptedPolicy("alphabeta:x", "ConnectFour-v0", *c4, 0); })
                .find("'alphabeta:x': write alphabeta:DEPTH"),
            std::string::npos);
  const std::string unknown = MessageOf([&] { reg.MakeScriptedPolicy("expert", "CartPole-v1", *cartpole, 0); });
  EXPECT_EQ(unknown, "'expert' is not a scripted policy; valid for CartPole-v1: random, random-legal");
  // An env's own list names its policies only (the whole list, every env's, was given).
  EXPECT_EQ(reg.ScriptedPolicyList("TicTacToe-v0"), "random, random-legal, perfect, alphabeta:DEPTH");
  EXPECT_NE(MessageOf([] { CheckScriptedPolicyFits("demo_policy", "heuristic", "CartPole-v1", {}); })
                .find("config key 'demo_policy': policy 'heuristic'"),
            std::string::npos);
}

// A policy that always pushes right, offered by a user's own env: once
// registered it is found by name like the built-in ones.
class AlwaysRight : public Policy {
 public:
  void Act(const void*, const uint8_t*, int n, void* actions) override {
    for (int i = 0; i < n; ++i) static_cast<int64_t*>(actions)[i] = 1;
  }
  std::string name() const override { return "always-right"; }
};

TEST(RegistryTest, UsersEnvsOfferTheirOwnScriptedPolicies) {
  EnvSpec spec{"PushRightCartPole-v0", [](const Kwargs&) { return std::make_unique<CartPole>(); }, 100,
               std::nullopt, {}, {}, "CartPole with a scripted policy"};
  spec.scripted_policies.push_back({"always-right", "always-right", "a policy that always pushes right", false,
                                    [](const Env&, const std::string&, uint64_t) -> std::unique_ptr<Policy> {
                                      return std::make_unique<AlwaysRight>();
                                    }});
  Registry::Global().Register(std::move(spec));
  EXPECT_NE(Registry::Global().ScriptedPolicyList().find("always-right (PushRightCartPole-v0)"), std::string::npos);
  auto env = Make("PushRightCartPole-v0");
  auto policy = Registry::Global().MakeScriptedPolicy("always-right", "PushRightCartPole-v0", *env, 0);
  float obs[4];
  env->Reset(0, obs);
  int64_t action = 0;
  policy->Act(obs, nullptr, 1, &action);
  EXPECT_EQ(action, 1);
}

// Capabilities are asked of the env, through any wrapper that keeps the
// observation; a wrapper that changes the observation drops them.
TEST(RegistryTest, CapabilitiesPassThroughWrappersThatKeepTheObservation) {
  auto lake = Make("FrozenLake-v1");  // TimeLimit(FrozenLake)
  ASSERT_NE(lake->transition_model(), nullptr);
  EXPECT_EQ(lake->transition_model()->num_states(), 16);
  EXPECT_EQ(lake->transition_model()->num_actions(), 4);
  EXPECT_EQ(Make("CartPole-v1")->transition_model(), nullptr);
  EXPECT_EQ(Make("TicTacToe-v0")->Symmetries().size(), 8u);
  EXPECT_TRUE(Make("CartPole-v1")->Symmetries().empty());
  TransformObservation shifted(Make("FrozenLake-v1"), [](const void* in, void* out) {
    *static_cast<int64_t*>(out) = *static_cast<const int64_t*>(in);
  }, Space::Discrete(16));
  EXPECT_EQ(shifted.transition_model(), nullptr);
  TransformReward doubled(Make("FrozenLake-v1"), [](double r) { return 2 * r; });
  EXPECT_EQ(doubled.transition_model(), nullptr);  // its rewards are not the table's
  FrameStack stacked(Make("TicTacToe-v0"), 2);
  EXPECT_TRUE(stacked.Symmetries().empty());
  float obs[2 * 2 * 9];
  stacked.Reset(0, obs);
  EXPECT_FALSE(stacked.SetFromObservation(obs));
}

}  // namespace
}  // namespace rlforge
