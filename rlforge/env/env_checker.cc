#include "rlforge/env/env_checker.h"

#include <cmath>
#include <cstring>
#include <memory>

namespace rlforge {
namespace {

struct Trajectory {
  std::vector<uint8_t> obs;      // every observation, concatenated
  std::vector<double> rewards;
  std::vector<uint8_t> flags;    // terminated | truncated << 1
  std::vector<uint8_t> actions;  // every action, concatenated
  bool operator==(const Trajectory& o) const {
    return obs == o.obs && rewards == o.rewards && flags == o.flags;
  }
};

class Checker {
 public:
  Checker(Env& env, const CheckOptions& options)
      : env_(env),
        opt_(options),
        obs_space_(env.observation_space()),
        act_space_(env.action_space()),
        obs_(obs_space_.nbytes()),
        act_(act_space_.nbytes()),
        mask_(std::max<int64_t>(act_space_.mask_size(), 1)),
        other_act_(act_space_.nbytes()),
        other_obs_(obs_space_.nbytes()) {}

  std::vector<std::string> Run() {
    CheckSpaces();
    if (!problems_.empty()) return problems_;
    Trajectory a = Rollout(opt_.seed, opt_.steps, /*record_checks=*/true, nullptr);
    Trajectory b = Rollout(opt_.seed, opt_.steps, /*record_checks=*/false, &a.actions);
    if (!(a == b))
      Add("not deterministic: two runs with reset(seed=", opt_.seed,
          ") and the same actions gave different observations, rewards or flags");
    Trajectory c = Rollout(opt_.seed + 1, opt_.steps, false, nullptr);
    if (a.obs == c.obs && obs_space_.kind() == SpaceKind::kBox)
      Add("the seed has no effect: reset(seed=", opt_.seed, ") and reset(seed=", opt_.seed + 1,
          ") gave identical rollouts");
    CheckStepAfterEnd();
    CheckCloneRestore();
    CheckRender();
    CheckInvalidAction();
    CheckAgentRange();
    return problems_;
  }

 private:
  template <typename... Args>
  void Add(Args&&... args) {
    problems_.push_back(StrCat(std::forward<Args>(args)...));
  }

  void CheckSpaces() {
    if (obs_space_.nbytes() == 0) Add("the observation space is empty");
    if (act_space_.nbytes() == 0) Add("the action space is empty");
    Rng rng(opt_.seed);
    for (int i = 0; i < 20; ++i) {
      act_space_.Sample(rng, act_.data());
      if (!act_space_.Contains(act_.data())) {
        Add("the action space ", act_space_.ToString(), " rejects its own sample ", act_space_.FormatValue(act_.data()));
        break;
      }
    }
    if (env_.has_action_mask() && act_space_.mask_size() == 0)
      Add("the env says it has an action mask, but its action space ", act_space_.ToString(), " takes no mask");
  }

  void SampleAction(Rng& rng) { SampleAction(env_, rng); }
  void SampleAction(Env& env, Rng& rng) {
    if (env.has_conditional_action_mask() && act_space_.kind() == SpaceKind::kMultiDiscrete) {
      // Dimension by dimension, as an agent must where the dimensions
      // restrict each other (TowerDefense-v0; strict=true refused the
      // combinations the per-dimension masks allow).
      SampleConditional(
          rng, act_space_.nvec(),
          [&](const int64_t* prefix, int dim, uint8_t* mask) { env.ConditionalActionMask(prefix, dim, mask); },
          reinterpret_cast<int64_t*>(act_.data()));
    } else if (env.has_action_mask() && act_space_.mask_size() > 0) {
      env.ActionMask(mask_.data());
      act_space_.Sample(rng, act_.data(), mask_.data());
    } else {
      act_space_.Sample(rng, act_.data());
    }
  }

  // Multi-agent envs (num_agents() > 1): agents 1.. take random legal
  // actions before every Step, drawn from `rng` (a generator of their own,
  // so replays draw the same ones).
  void ActOtherAgents(Env& env, Rng& rng) {
    for (int a = 1; a < env.num_agents(); ++a) {
      if (env.has_action_mask() && act_space_.mask_size() > 0) {
        env.AgentActionMask(a, mask_.data());
        act_space_.Sample(rng, other_act_.data(), mask_.data());
      } else {
        act_space_.Sample(rng, other_act_.data());
      }
      env.SetAgentAction(a, other_act_.data());
    }
  }

  // Agents 1..: their observations lie in the observation space and their
  // rewards are finite.
  void CheckOtherAgents(const char* what, int step) {
    for (int a = 1; a < env_.num_agents() && !agents_reported_; ++a) {
      env_.AgentObservation(a, other_obs_.data());
      const std::string why = obs_space_.WhyNotContained(other_obs_.data());
      if (!why.empty()) {
        Add("agent ", a, "'s observation after ", what, " (step ", step, ") is outside the observation space: ",
            why);
        agents_reported_ = true;
      } else if (!std::isfinite(env_.AgentReward(a))) {
        Add("agent ", a, "'s reward after ", what, " (step ", step, ") is not finite: ", env_.AgentReward(a));
        agents_reported_ = true;
      }
    }
  }

  // An agent that does not exist is refused.
  void CheckAgentRange() {
    const int n = env_.num_agents();
    if (n < 1) {
      Add("num_agents() is ", n, "; it must be at least 1");
      return;
    }
    env_.Reset(opt_.seed, obs_.data());
    try {
      env_.SetAgentAction(n, act_.data());
      Add("SetAgentAction(", n, ") was accepted, but the env has ", n, " agent(s) (0..", n - 1, ")");
    } catch (const InvalidArgument&) {
    }
  }

  void CheckMask(int step) {
    if (!env_.has_action_mask() || act_space_.mask_size() == 0 || mask_reported_) return;
    env_.ActionMask(mask_.data());
    const std::vector<int64_t> dims =
        act_space_.kind() == SpaceKind::kDiscrete ? std::vector<int64_t>{act_space_.n()} : act_space_.nvec();
    int64_t offset = 0;
    for (size_t d = 0; d < dims.size(); ++d) {
      bool any = false;
      for (int64_t k = 0; k < dims[d]; ++k) {
        if (mask_[offset + k] > 1) {
          Add("action mask entries must be 0 or 1; got ", int(mask_[offset + k]), " at step ", step);
          mask_reported_ = true;
          return;
        }
        any = any || mask_[offset + k];
      }
      if (!any) {
        Add("the action mask allows no action", dims.size() > 1 ? StrCat(" in dimension ", d) : "", " at step ",
            step);
        mask_reported_ = true;
        return;
      }
      offset += dims[d];
    }
    Rng rng(opt_.seed + step);
    act_space_.Sample(rng, act_.data(), mask_.data());
    if (act_space_.kind() == SpaceKind::kDiscrete) {
      const int64_t a = *reinterpret_cast<const int64_t*>(act_.data()) - act_space_.start();
      if (!mask_[a]) {
        Add("masked sampling drew the illegal action ", a + act_space_.start(), " at step ", step);
        mask_reported_ = true;
      }
    }
  }

  // Runs `steps` random (or replayed) steps from reset(seed), resetting without
  // a seed after each episode.
  Trajectory Rollout(uint64_t seed, int steps, bool record_checks, const std::vector<uint8_t>* replay) {
    Trajectory t;
    Rng rng(seed ^ 0x5DEECE66DULL), agents(seed ^ 0xA6E175ULL);
    Info info;
    env_.Reset(seed, obs_.data(), &info);
    Observe(t, "reset", 0, record_checks);
    for (int i = 0; i < steps; ++i) {
      if (record_checks) CheckMask(i);
      if (replay) {
        std::memcpy(act_.data(), replay->data() + i * act_.size(), act_.size());
      } else {
        SampleAction(rng);
      }
      t.actions.insert(t.actions.end(), act_.begin(), act_.end());
      StepResult r;
      try {
        ActOtherAgents(env_, agents);
        r = env_.Step(act_.data(), obs_.data());
      } catch (const std::exception& e) {
        Add("step ", i, " threw: ", e.what());
        return t;
      }
      if (record_checks && !std::isfinite(r.reward) && !reward_reported_) {
        Add("step ", i, " returned a non-finite reward ", r.reward);
        reward_reported_ = true;
      }
      t.rewards.push_back(r.reward);
      t.flags.push_back(static_cast<uint8_t>(r.terminated | (r.truncated << 1)));
      Observe(t, "step", i, record_checks);
      if (record_checks) CheckOtherAgents("step", i);
      if (r.done()) {
        ++episodes_;
        env_.Reset(std::nullopt, obs_.data(), &info);
        Observe(t, "reset", i, record_checks);
      }
    }
    return t;
  }

  void Observe(Trajectory& t, const char* what, int step, bool check) {
    t.obs.insert(t.obs.end(), obs_.begin(), obs_.end());
    if (!check || obs_reported_) return;
    const std::string why = obs_space_.WhyNotContained(obs_.data());
    if (!why.empty()) {
      Add("the observation after ", what, " (step ", step, ") is outside the observation space ",
          obs_space_.ToString(), ": ", why);
      obs_reported_ = true;
    }
  }

  void CheckStepAfterEnd() {
    Rng rng(opt_.seed + 7);
    env_.Reset(opt_.seed, obs_.data());
    for (int i = 0; i < opt_.steps * 20; ++i) {
      SampleAction(rng);
      ActOtherAgents(env_, rng);
      if (env_.Step(act_.data(), obs_.data()).done()) {
        try {
          ActOtherAgents(env_, rng);
          env_.Step(act_.data(), obs_.data());
          Add("step() after the episode ended did not raise an error (it must: call reset() first)");
        } catch (const Error&) {
        } catch (const std::exception& e) {
          Add("step() after the episode ended threw a non-rlforge exception: ", e.what());
        }
        return;
      }
    }
  }

  void CheckCloneRestore() {
    const int warmup = 5, horizon = 40;
    Rng rng(opt_.seed + 11);
    env_.Reset(opt_.seed, obs_.data());
    for (int i = 0; i < warmup; ++i) {
      SampleAction(rng);
      ActOtherAgents(env_, rng);
      if (env_.Step(act_.data(), obs_.data()).done()) env_.Reset(std::nullopt, obs_.data());
    }
    std::unique_ptr<Env> clone, snapshot;
    try {
      clone = env_.Clone();
      snapshot = env_.Clone();
    } catch (const std::exception& e) {
      Add("Clone() threw: ", e.what());
      return;
    }
    std::vector<uint8_t> actions;
    Trajectory original = Continue(env_, rng, horizon, nullptr, &actions);
    Trajectory from_clone = Continue(*clone, rng, horizon, &actions, nullptr);
    if (!(original == from_clone)) Add("a Clone() does not continue exactly like the env it was cloned from");
    try {
      env_.Restore(*snapshot);
    } catch (const std::exception& e) {
      Add("Restore() threw: ", e.what());
      return;
    }
    Trajectory restored = Continue(env_, rng, horizon, &actions, nullptr);
    if (!(original == restored)) Add("after Restore(snapshot) the env does not replay what followed the snapshot");
    CheckSaveLoadState(rng);
  }

  // SaveState/LoadState are optional; when offered they must round-trip.
  void CheckSaveLoadState(Rng& rng) {
    std::string state;
    try {
      env_.SaveState(&state);
    } catch (const Error& e) {
      return;  // not supported
    }
    std::vector<uint8_t> actions;
    Trajectory original = Continue(env_, rng, 40, nullptr, &actions);
    try {
      env_.LoadState(state);
    } catch (const std::exception& e) {
      Add("LoadState() of a state from SaveState() threw: ", e.what());
      return;
    }
    Trajectory replayed = Continue(env_, rng, 40, &actions, nullptr);
    if (!(original == replayed)) Add("after LoadState(SaveState()) the env does not replay what followed");
    try {
      env_.LoadState(state.substr(0, state.size() / 2));
      Add("LoadState() accepted a truncated state");
    } catch (const Error&) {
    }
    env_.LoadState(state);
  }

  Trajectory Continue(Env& env, Rng& rng, int steps, const std::vector<uint8_t>* replay,
                      std::vector<uint8_t>* record) {
    Trajectory t;
    std::vector<uint8_t> obs(obs_.size());
    Rng agents(opt_.seed ^ 0xA6E175ULL);  // the same draws in every replay
    for (int i = 0; i < steps; ++i) {
      if (replay) {
        std::memcpy(act_.data(), replay->data() + i * act_.size(), act_.size());
      } else {
        SampleAction(env, rng);
      }
      if (record) record->insert(record->end(), act_.begin(), act_.end());
      ActOtherAgents(env, agents);
      StepResult r = env.Step(act_.data(), obs.data());
      t.obs.insert(t.obs.end(), obs.begin(), obs.end());
      t.rewards.push_back(r.reward);
      t.flags.push_back(static_cast<uint8_t>(r.terminated | (r.truncated << 1)));
      if (r.done()) env.Reset(std::nullopt, obs.data());
    }
    return t;
  }

  void CheckRender() {
    env_.Reset(opt_.seed, obs_.data());
    std::string text;
    try {
      text = env_.RenderText();
    } catch (const std::exception& e) {
      Add("RenderText() threw: ", e.what());
    }
    if (text.empty()) Add("RenderText() returned an empty string");
    if (!opt_.check_rgb) return;
    Image a, b;
    bool has_rgb = false;
    try {
      has_rgb = env_.RenderRgb(&a);
    } catch (const std::exception& e) {
      Add("RenderRgb() threw: ", e.what());
      return;
    }
    if (!has_rgb) return;
    if (a.width() <= 0 || a.height() <= 0 || a.pixels().size() != static_cast<size_t>(a.width()) * a.height() * 3) {
      Add("RenderRgb() returned a malformed image (", a.width(), "x", a.height(), ")");
      return;
    }
    bool uniform = true;
    for (size_t i = 3; i < a.pixels().size() && uniform; ++i) uniform = a.pixels()[i] == a.pixels()[i % 3];
    if (uniform) Add("RenderRgb() returned a blank image");
    Rng rng(opt_.seed);
    SampleAction(rng);
    ActOtherAgents(env_, rng);
    env_.Step(act_.data(), obs_.data());
    env_.RenderRgb(&b);
    if (b.width() != a.width() || b.height() != a.height())
      Add("RenderRgb() changed size between steps (", a.width(), "x", a.height(), " then ", b.width(), "x",
          b.height(), ")");
  }

  void CheckInvalidAction() {
    std::vector<uint8_t> bad(act_.size(), 0);
    switch (act_space_.kind()) {
      case SpaceKind::kDiscrete:
        *reinterpret_cast<int64_t*>(bad.data()) = act_space_.start() + act_space_.n();
        break;
      case SpaceKind::kMultiDiscrete:
        *reinterpret_cast<int64_t*>(bad.data()) = act_space_.nvec()[0];
        break;
      case SpaceKind::kMultiBinary:
        bad[0] = 2;
        break;
      case SpaceKind::kBox:
        if (act_space_.dtype() != DType::kFloat32) return;
        reinterpret_cast<float*>(bad.data())[0] = std::nanf("");
        break;
    }
    env_.Reset(opt_.seed, obs_.data());
    Rng rng(opt_.seed);
    ActOtherAgents(env_, rng);
    try {
      env_.Step(bad.data(), obs_.data());
      Add("step() with the action ", act_space_.FormatValue(bad.data()), " outside ", act_space_.ToString(),
          " did not raise an error");
    } catch (const InvalidArgument&) {
    } catch (const std::exception& e) {
      Add("step() with an action outside the space threw a non-rlforge exception: ", e.what());
    }
  }

  Env& env_;
  CheckOptions opt_;
  Space obs_space_, act_space_;
  std::vector<uint8_t> obs_, act_, mask_, other_act_, other_obs_;
  std::vector<std::string> problems_;
  int episodes_ = 0;
  bool obs_reported_ = false, reward_reported_ = false, mask_reported_ = false, agents_reported_ = false;
};

}  // namespace

std::vector<std::string> CheckEnv(Env& env, const CheckOptions& options) {
  try {
    return Checker(env, options).Run();
  } catch (const std::exception& e) {
    return {StrCat("the env threw during the check: ", e.what())};
  }
}

}  // namespace rlforge
