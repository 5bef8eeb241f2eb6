// Registers the built-in envs with the IDs, default kwargs, step limits and
// reward thresholds Gymnasium 1.3 gives them.
#include <sstream>

#include "rlforge/env/registry.h"
#include "rlforge/envs/board_games/board_game.h"
#include "rlforge/envs/classic_control/acrobot.h"
#include "rlforge/envs/classic_control/cartpole.h"
#include "rlforge/envs/classic_control/mountain_car.h"
#include "rlforge/envs/classic_control/pendulum.h"
#include "rlforge/envs/toy_text/cliff_walking.h"
#include "rlforge/envs/toy_text/frozen_lake.h"
#include "rlforge/envs/toy_text/taxi.h"
#include "rlforge/envs/tower_defense/tower_defense.h"

namespace rlforge {
namespace {

std::vector<std::string> SplitRows(const std::string& text) {
  std::vector<std::string> rows;
  std::string row;
  for (char c : text) {
    if (c == '/' || c == ',') {
      rows.push_back(row);
      row.clear();
    } else {
      row += c;
    }
  }
  rows.push_back(row);
  return rows;
}

std::vector<KwargDoc> FrozenLakeKwargs(const std::string& default_map) {
  return {{"desc", "", "custom map, rows joined by '/', e.g. SFF/FHF/FFG"},
          {"map_name", default_map, "4x4, 8x8 or random"},
          {"is_slippery", "true", "slippery ice"},
          {"success_rate", "0.3333", "probability of moving as intended when slippery"},
          {"reward_schedule", "1,0,0", "rewards for entering goal, hole, frozen tile"},
          {"map_size", "8", "side of a random map"},
          {"map_p", "0.8", "probability that a random map's tile is frozen"},
          {"map_seed", "0", "seed of the random map generator"}};
}

std::unique_ptr<Env> MakeFrozenLake(const std::string& id, const Kwargs& kw) {
  FrozenLakeConfig c;
  if (auto d = kw.Find("desc")) c.desc = SplitRows(*d);
  c.map_name = kw.GetString("map_name", c.map_name);
  c.is_slippery = kw.GetBool("is_slippery", c.is_slippery, id);
  c.success_rate = kw.GetDouble("success_rate", c.success_rate, id);
  c.reward_schedule = kw.GetDoubles("reward_schedule", c.reward_schedule, id);
  c.map_size = static_cast<int>(kw.GetInt("map_size", c.map_size, id));
  c.map_p = kw.GetDouble("map_p", c.map_p, id);
  c.map_seed = static_cast<uint64_t>(kw.GetInt("map_seed", 0, id));
  return std::make_unique<FrozenLake>(c, id);
}

std::vector<KwargDoc> TaxiKwargs() {
  return {{"is_rainy", "false", "moves slip sideways"},
          {"fickle_passenger", "false", "passenger may change destination once"},
          {"rainy_probability", "0.8", "probability a rainy move goes as intended"},
          {"fickle_probability", "0.3", "probability the passenger is fickle"}};
}

std::unique_ptr<Env> MakeTaxi(const std::string& id, const Kwargs& kw) {
  TaxiConfig c;
  c.is_rainy = kw.GetBool("is_rainy", c.is_rainy, id);
  c.fickle_passenger = kw.GetBool("fickle_passenger", c.fickle_passenger, id);
  c.rainy_probability = kw.GetDouble("rainy_probability", c.rainy_probability, id);
  c.fickle_probability = kw.GetDouble("fickle_probability", c.fickle_probability, id);
  return std::make_unique<Taxi>(c, id);
}

std::unique_ptr<Env> MakeTowerDefense(const Kwargs& kw) {
  const std::string id = "TowerDefense-v0";
  TowerDefenseConfig c;
  c.stage = static_cast<int>(kw.GetInt("stage", c.stage, id));
  c.procedural_seed = kw.GetInt("procedural_seed", c.procedural_seed, id);
  c.procedural_difficulty = kw.GetDouble("procedural_difficulty", c.procedural_difficulty, id);
  c.flat_actions = kw.GetBool("flat_actions", c.flat_actions, id);
  c.strict = kw.GetBool("strict", c.strict, id);
  c.ticks_per_step = static_cast<int>(kw.GetInt("ticks_per_step", c.ticks_per_step, id));
  c.max_ticks = static_cast<int>(kw.GetInt("max_ticks", c.max_ticks, id));
  const std::string obs = kw.GetString("obs_mode", "planes");
  RLF_CHECK_ARG(obs == "planes" || obs == "pixels", id, ": obs_mode must be planes or pixels, got '", obs, "'");
  c.pixels = obs == "pixels";
  c.illegal_penalty = kw.GetDouble("illegal_penalty", c.illegal_penalty, id);
  c.kill_reward = kw.GetDouble("kill_reward", c.kill_reward, id);
  c.damage_reward = kw.GetDouble("damage_reward", c.damage_reward, id);
  c.leak_penalty = kw.GetDouble("leak_penalty", c.leak_penalty, id);
  c.win_reward = kw.GetDouble("win_reward", c.win_reward, id);
  c.loss_penalty = kw.GetDouble("loss_penalty", c.loss_penalty, id);
  c.timeout_penalty = kw.GetDouble("timeout_penalty", c.timeout_penalty, id);
  return std::make_unique<TowerDefense>(c);
}

}  // namespace

void RegisterBuiltinEnvs(Registry& r) {
  r.Register({"CartPole-v1",
              [](const Kwargs& kw) {
                return std::make_unique<CartPole>(kw.GetBool("sutton_barto_reward", false, "CartPole-v1"));
              },
              500, 475.0, {}, {{"sutton_barto_reward", "false", "0 per step and -1 on failure"}},
              "balance a pole on a cart (classic control)"});
  r.Register({"MountainCar-v0",
              [](const Kwargs& kw) {
                return std::make_unique<MountainCar>(kw.GetDouble("goal_velocity", 0.0, "MountainCar-v0"));
              },
              200, -110.0, {}, {{"goal_velocity", "0", "minimum velocity at the goal"}},
              "drive an underpowered car up a hill (classic control)"});
  r.Register({"MountainCarContinuous-v0",
              [](const Kwargs& kw) {
                return std::make_unique<MountainCarContinuous>(
                    kw.GetDouble("goal_velocity", 0.0, "MountainCarContinuous-v0"));
              },
              999, 90.0, {}, {{"goal_velocity", "0", "minimum velocity at the goal"}},
              "the mountain car with a continuous force (classic control)"});
  r.Register({"Acrobot-v1", [](const Kwargs&) { return std::make_unique<Acrobot>(); }, 500, -100.0, {}, {},
              "swing a two-link arm up (classic control)"});
  r.Register({"Pendulum-v1",
              [](const Kwargs& kw) { return std::make_unique<Pendulum>(kw.GetDouble("g", 10.0, "Pendulum-v1")); },
              200, std::nullopt, {}, {{"g", "10.0", "gravity"}}, "swing a pendulum up (classic control)"});
  r.Register({"FrozenLake-v1", [](const Kwargs& kw) { return MakeFrozenLake("FrozenLake-v1", kw); }, 100, 0.70,
              {}, FrozenLakeKwargs("4x4"), "cross a frozen lake, 4x4 (toy text)"});
  r.Register({"FrozenLake8x8-v1", [](const Kwargs& kw) { return MakeFrozenLake("FrozenLake8x8-v1", kw); }, 200,
              0.85, {{"map_name", "8x8"}}, FrozenLakeKwargs("8x8"), "cross a frozen lake, 8x8 (toy text)"});
  for (const char* id : {"Taxi-v4", "Taxi-v3"}) {
    const std::string name = id;
    r.Register({name, [name](const Kwargs& kw) { return MakeTaxi(name, kw); }, 200, 8.0, {}, TaxiKwargs(),
                name == "Taxi-v4" ? "pick up and drop off a passenger (toy text)"
                                  : "older name of Taxi-v4 (same default dynamics)"});
  }
  for (const char* id : {"CliffWalking-v1", "CliffWalking-v0"}) {
    const std::string name = id;
    r.Register({name,
                [name](const Kwargs& kw) {
                  return std::make_unique<CliffWalking>(kw.GetBool("is_slippery", false, name), name);
                },
                std::nullopt, std::nullopt, {}, {{"is_slippery", "false", "moves slip sideways"}},
                name == "CliffWalking-v1" ? "walk along a cliff edge (toy text)"
                                          : "older name of CliffWalking-v1"});
  }
  r.Register({"TowerDefense-v0", MakeTowerDefense, std::nullopt, std::nullopt, {},
              {{"stage", "1", "1-4 hand-made stages of rising difficulty, 0 procedural"},
               {"procedural_seed", "-1", "stage 0: fixed map seed (-1: a new map from each reset's seed)"},
               {"procedural_difficulty", "0.5", "stage 0: wave strength in [0, 1]"},
               {"flat_actions", "false", "Discrete(1211) with an exact mask instead of MultiDiscrete [4, 5, 60, 4]"},
               {"strict", "false", "an illegal action raises instead of acting as a wait"},
               {"ticks_per_step", "1", "game ticks per env step (the action applies at the first)"},
               {"max_ticks", "1000", "game ticks before the episode is truncated"},
               {"obs_mode", "planes", "planes (926 floats) or pixels (uint8 RGB 56x80)"},
               {"illegal_penalty", "0", "reward added for an illegal action (non-strict)"},
               {"kill_reward", "0.05", "reward per enemy killed"},
               {"damage_reward", "0", "reward per enemy's worth of hit points removed (dense shaping)"},
               {"leak_penalty", "-0.2", "reward per enemy reaching the goal"},
               {"win_reward", "1", "reward for clearing every wave"},
               {"loss_penalty", "-1", "reward when life reaches 0"},
               {"timeout_penalty", "-1", "reward when max_ticks pass with enemies left"}},
              "lane tower defense: deploy units, fire skills, retreat (masked MultiDiscrete)"});
  r.Register({"TicTacToe-v0",
              [](const Kwargs&) { return std::make_unique<BoardGameEnv>(board::Board::TicTacToe(), "TicTacToe-v0"); },
              std::nullopt, std::nullopt, {}, {}, "tic-tac-toe, two players (turn-based; masked Discrete(9))"});
  r.Register({"ConnectFour-v0",
              [](const Kwargs&) {
                return std::make_unique<BoardGameEnv>(board::Board::ConnectFour(), "ConnectFour-v0");
              },
              std::nullopt, std::nullopt, {}, {}, "Connect Four 6x7, two players (turn-based; masked Discrete(7))"});
  r.Register({"CliffWalkingSlippery-v1",
              [](const Kwargs& kw) {
                return std::make_unique<CliffWalking>(kw.GetBool("is_slippery", true, "CliffWalkingSlippery-v1"),
                                                      "CliffWalkingSlippery-v1");
              },
              std::nullopt, std::nullopt, {{"is_slippery", "true"}}, {{"is_slippery", "true", "moves slip sideways"}},
              "cliff walking on slippery ground (toy text)"});
}

}  // namespace rlforge
