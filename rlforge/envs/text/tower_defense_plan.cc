// The "towerdefense" text task (TextTowerDefense-v0): write a deployment plan
// for a TowerDefense-v0 map; the env plays it and a won game scores 1.
//
// Prompt: "td1:" (hand-made stage 1..4; "tdp<seed>:" a procedural map) then
// the map, six rows of ten tiles separated by '/':
//   '#' blocked, '.' ground, 'o' ground on an enemy route, '^' high ground,
//   'S' spawn, 'G' goal
// and '='. Answer: up to five placements separated by spaces, each a unit
// letter (d defender, g guard, s sniper, c caster, m medic), the tile as two
// digits (y * 10 + x) and a facing (E, S, W, N): "g37W s25S m16E c14E d38W".
// A plan is malformed when it does not parse, names a unit or a tile twice,
// or puts a unit where its class cannot stand (ground classes on ground, the
// others on high ground). A well-formed plan is played by the heuristic's
// executor: each step it deploys the plan's next unit not on the field when
// that is legal (affordable, off cooldown, tile free, unit cap), and
// otherwise fires any charged skill or waits; never retreats. The score is 1
// when the game is won, else 0. The reference answer is the scripted
// heuristic's own plan for the map, which wins stages 1 and 2 in every one of
// 50 seeded games (rlforge eval --policy heuristic).
#include <algorithm>
#include <cstdlib>

#include "rlforge/envs/text/text_task.h"
#include "rlforge/envs/tower_defense/heuristic.h"
#include "rlforge/envs/tower_defense/tower_defense.h"

namespace rlforge {

namespace {

using td::kHeight;
using td::kTiles;
using td::kWidth;

constexpr const char* kUnitLetters = "dgscm";
constexpr const char* kFacingLetters = "ESWN";

struct Placement {
  int slot, tile, facing;
};

class TowerDefensePlan : public TextTask {
 public:
  TowerDefensePlan(int stage, double difficulty, int units) : stage_(stage), difficulty_(difficulty), units_(units) {}
  std::string name() const override { return "towerdefense"; }

  // numbers: {stage, procedural seed, episode seed}. The game's spawn jitter
  // is seeded by the map (episode seed 0), so a plan's score is a function of
  // the prompt and the answer alone.
  TextProblem Sample(Rng& rng) const override {
    const int64_t proc = stage_ == 0 ? static_cast<int64_t>(rng.Next() >> 33) : 0;
    TextProblem p = Make(stage_, proc);
    p.numbers.push_back(0);
    return p;
  }

  TextProblem FromPrompt(const std::string& prompt) const override {
    const size_t colon = prompt.find(':');
    bool ok = prompt.rfind("td", 0) == 0 && colon != std::string::npos && colon > 2 && prompt.back() == '=';
    int stage = -1;
    int64_t proc = 0;
    if (ok) {
      const std::string id = prompt.substr(2, colon - 2);
      if (id.size() == 1 && id[0] >= '1' && id[0] <= '4') {
        stage = id[0] - '0';
      } else if (id.size() >= 2 && id.size() <= 11 && id[0] == 'p' &&
                 std::all_of(id.begin() + 1, id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        stage = 0;
        proc = std::stoll(id.substr(1));
      } else {
        ok = false;
      }
    }
    RLF_CHECK_ARG(ok, "towerdefense: '", prompt, "' is not a prompt of the form td1:MAP= or tdpSEED:MAP=");
    TextProblem p = Make(stage, proc);
    RLF_CHECK_ARG(p.prompt == prompt, "towerdefense: the map in '", prompt, "' is not the map of its stage");
    p.numbers.push_back(0);
    return p;
  }

  double Score(const TextProblem& p, const std::string& r) const override {
    std::vector<Placement> plan;
    TowerDefense env(Config(p));
    std::vector<float> obs(td::kObsSize);
    Info info;
    env.Reset(static_cast<uint64_t>(p.numbers[2]), obs.data(), &info);
    if (!Parse(r, env.stage(), &plan)) return Malformed();
    return Play(&env, plan) ? 1.0 : 0.0;
  }

  // The reference plan with placements moved to other tiles of their kind
  // (or turned) until the game is lost: one placement at first, one more after
  // every three tries; the empty plan (which always loses) when none is found.
  std::string Mistake(const TextProblem& p, Rng& rng) const override {
    TowerDefense env(Config(p));
    std::vector<float> obs(td::kObsSize);
    Info info;
    env.Reset(static_cast<uint64_t>(p.numbers[2]), obs.data(), &info);
    std::vector<Placement> plan;
    if (!Parse(p.answer, env.stage(), &plan) || plan.empty()) return "";
    for (int tries = 0; tries < 30; ++tries) {
      std::vector<Placement> wrong = plan;
      const int moves = std::min<int>(static_cast<int>(wrong.size()), 1 + tries / 3);
      for (int m = 0; m < moves; ++m) {
        Placement& q = wrong[rng.UniformInt(wrong.size())];
        const bool high = td::UnitClasses()[q.slot].high_ground;
        std::vector<int> tiles;
        for (int t = 0; t < kTiles; ++t) {
          const bool fits = high ? env.stage().tiles[t] == td::kHigh : env.stage().tiles[t] == td::kGround;
          const bool taken = std::any_of(wrong.begin(), wrong.end(), [&](const Placement& o) { return o.tile == t; });
          if (fits && !taken) tiles.push_back(t);
        }
        if (!tiles.empty() && rng.Bernoulli(0.7)) q.tile = tiles[rng.UniformInt(tiles.size())];
        q.facing = static_cast<int>(rng.UniformInt(4));
      }
      const std::string text = Write(wrong);
      if (Score(p, text) < 1.0) return text;
    }
    return "";
  }

  int64_t max_prompt() const override { return 4 + 11 + kTiles + kHeight - 1 + 1; }
  int64_t max_answer() const override { return 5 * units_ - 1; }

 private:
  TowerDefenseConfig Config(const TextProblem& p) const {
    TowerDefenseConfig c;
    c.stage = static_cast<int>(p.numbers[0]);
    c.procedural_seed = p.numbers[0] == 0 ? p.numbers[1] : -1;
    c.procedural_difficulty = difficulty_;
    return c;
  }

  // The prompt and the heuristic's plan for a map.
  TextProblem Make(int stage, int64_t proc) const {
    TextProblem p;
    p.numbers = {stage, proc};
    TowerDefense env(Config(p));
    std::vector<float> obs(td::kObsSize);
    Info info;
    env.Reset(uint64_t{0}, obs.data(), &info);
    const td::Stage& s = env.stage();
    std::vector<bool> route(kTiles, false);
    for (const auto& r : s.routes)
      for (int t : r) route[t] = true;
    std::string map;
    for (int y = 0; y < kHeight; ++y) {
      if (y) map.push_back('/');
      for (int x = 0; x < kWidth; ++x) {
        const int t = y * kWidth + x;
        switch (s.tiles[t]) {
          case td::kBlocked: map.push_back('#'); break;
          case td::kGround: map.push_back(route[t] ? 'o' : '.'); break;
          case td::kHigh: map.push_back('^'); break;
          case td::kSpawn: map.push_back('S'); break;
          default: map.push_back('G'); break;
        }
      }
    }
    p.prompt = "td" + (stage == 0 ? "p" + std::to_string(proc) : std::to_string(stage)) + ":" + map + "=";
    TowerDefenseHeuristic heuristic(env.observation_space(), env.action_space());
    std::vector<Placement> plan;
    for (const auto& q : heuristic.Plan(obs.data())) {
      if (static_cast<int>(plan.size()) >= units_) break;
      plan.push_back({q.slot, q.tile, q.facing});
    }
    p.answer = Write(plan);
    return p;
  }

  static std::string Write(const std::vector<Placement>& plan) {
    std::string out;
    for (const auto& q : plan) {
      if (!out.empty()) out.push_back(' ');
      out.push_back(kUnitLetters[q.slot]);
      out.push_back(static_cast<char>('0' + q.tile / 10));
      out.push_back(static_cast<char>('0' + q.tile % 10));
      out.push_back(kFacingLetters[q.facing]);
    }
    return out;
  }

  bool Parse(const std::string& r, const td::Stage& stage, std::vector<Placement>* plan) const {
    plan->clear();
    if (r.empty()) return true;  // no units: well-formed, and lost
    size_t i = 0;
    while (i < r.size()) {
      if (r.size() - i < 4) return false;
      const char* u = std::strchr(kUnitLetters, r[i]);
      const char* f = std::strchr(kFacingLetters, r[i + 3]);
      if (r[i] == '\0' || u == nullptr || r[i + 3] == '\0' || f == nullptr || r[i + 1] < '0' || r[i + 1] > '5' ||
          r[i + 2] < '0' || r[i + 2] > '9')
        return false;
      Placement q{static_cast<int>(u - kUnitLetters), (r[i + 1] - '0') * 10 + (r[i + 2] - '0'),
                  static_cast<int>(f - kFacingLetters)};
      const bool high = td::UnitClasses()[q.slot].high_ground;
      if (stage.tiles[q.tile] != (high ? td::kHigh : td::kGround)) return false;
      for (const auto& o : *plan)
        if (o.slot == q.slot || o.tile == q.tile) return false;
      plan->push_back(q);
      i += 4;
      if (i < r.size()) {
        if (r[i] != ' ') return false;
        ++i;
        if (i == r.size()) return false;
      }
    }
    return static_cast<int>(plan->size()) <= units_;
  }

  // Plays the plan as the heuristic plays its own; true when the game is won.
  static bool Play(TowerDefense* env, const std::vector<Placement>& plan) {
    std::vector<float> obs(td::kObsSize);
    for (;;) {
      int64_t a[4] = {td::kWait, 0, 0, 0};
      for (const auto& q : plan) {
        if (env->units()[q.slot].deployed) continue;
        if (env->IllegalReason(td::kDeploy, q.slot, q.tile, q.facing).empty())
          a[0] = td::kDeploy, a[1] = q.slot, a[2] = q.tile, a[3] = q.facing;
        break;
      }
      if (a[0] == td::kWait)
        for (int s = 0; s < td::kSlots; ++s)
          if (env->units()[s].deployed && env->IllegalReason(td::kSkill, s, 0, 0).empty()) {
            a[0] = td::kSkill, a[1] = s;
            break;
          }
      StepResult r = env->Step(a, obs.data());
      if (r.done()) return r.info.Get("win").value_or(0) == 1.0;
    }
  }

  int stage_;
  double difficulty_;
  int units_;
};

}  // namespace

std::unique_ptr<TextTask> MakeTowerDefensePlanTask(const Kwargs& kw, const std::string& id) {
  const int64_t stage = kw.GetInt("stage", 1, id);
  const double difficulty = kw.GetDouble("difficulty", 0.5, id);
  const int64_t units = kw.GetInt("units", 5, id);
  RLF_CHECK_ARG(stage >= 0 && stage <= 4, id, ": kwarg 'stage' must be in 0..4 (0: procedural maps), got ", stage);
  RLF_CHECK_ARG(difficulty >= 0 && difficulty <= 1, id, ": kwarg 'difficulty' must be in [0, 1], got ", difficulty);
  RLF_CHECK_ARG(units >= 1 && units <= 5, id, ": kwarg 'units' must be in 1..5, got ", units);
  return std::make_unique<TowerDefensePlan>(static_cast<int>(stage), difficulty, static_cast<int>(units));
}

}  // namespace rlforge
