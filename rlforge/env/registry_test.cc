#include "rlforge/env/registry.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace rlforge
