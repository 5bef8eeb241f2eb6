#include "rlforge/env/vector_env.h"

#include <algorithm>
#include <cstring>

#include "rlforge/env/registry.h"

namespace rlforge {

const char* AutoresetModeName(AutoresetMode mode) {
  switch (mode) {
    case AutoresetMode::kSameStep: return "same_step";
    case AutoresetMode::kNextStep: return "next_step";
    case AutoresetMode::kDisabled: return "disabled";
  }
  return "?";
}

AutoresetMode ParseAutoresetMode(const std::string& name) {
  for (auto m : {AutoresetMode::kSameStep, AutoresetMode::kNextStep, AutoresetMode::kDisabled})
    if (name == AutoresetModeName(m)) return m;
  throw InvalidArgument(StrCat("unknown autoreset mode '", name, "' (valid: same_step, next_step, disabled)"));
}

VectorEnv::VectorEnv(const EnvFactory& make_env, const VectorEnvOptions& options)
    : num_envs_(options.num_envs), autoreset_(options.autoreset) {
  RLF_CHECK_ARG(options.num_envs >= 1 && options.num_envs <= kMaxNumEnvs, "num_envs must be in 1..", kMaxNumEnvs,
                ", got ", options.num_envs);
  RLF_CHECK_ARG(options.num_threads >= 1, "num_threads must be >= 1, got ", options.num_threads);
  envs_.reserve(num_envs_);
  for (int i = 0; i < num_envs_; ++i) {
    envs_.push_back(make_env());
    RLF_CHECK(envs_.back() != nullptr, "the env factory returned null");
  }
  obs_space_ = envs_[0]->observation_space();
  act_space_ = envs_[0]->action_space();
  for (const auto& e : envs_) {
    RLF_CHECK_ARG(e->observation_space() == obs_space_ && e->action_space() == act_space_,
                  "all envs of a VectorEnv must share their spaces");
  }
  obs_bytes_ = obs_space_.nbytes();
  act_bytes_ = act_space_.nbytes();
  mask_size_ = envs_[0]->has_action_mask() ? act_space_.mask_size() : 0;
  const int threads = std::min(options.num_threads, num_envs_);
  if (threads > 1) pool_ = std::make_unique<ThreadPool>(threads);

  obs_.assign(num_envs_ * obs_bytes_, 0);
  final_obs_.assign(num_envs_ * obs_bytes_, 0);
  rewards_.assign(num_envs_, 0.f);
  terminated_.assign(num_envs_, 0);
  truncated_.assign(num_envs_, 0);
  ended_.assign(num_envs_, 0);
  pending_.assign(num_envs_, 0);
  agent_rewards_.assign(static_cast<size_t>(envs_[0]->num_agents() - 1) * num_envs_, 0.f);
  masks_.assign(num_envs_ * mask_size_, 0);
  final_masks_.assign(num_envs_ * mask_size_, 0);
  infos_.resize(num_envs_);
  reset_infos_.resize(num_envs_);
  returns_.assign(num_envs_, 0.0);
  lengths_.assign(num_envs_, 0);
  final_return_.assign(num_envs_, 0.0);
  final_length_.assign(num_envs_, 0);
}

std::unique_ptr<VectorEnv> VectorEnv::Make(const std::string& id, const Kwargs& kwargs,
                                           const VectorEnvOptions& options) {
  Registry::Global().Spec(id);  // fail early, with the list of IDs
  return std::make_unique<VectorEnv>([&] { return rlforge::Make(id, kwargs); }, options);
}

void VectorEnv::ResetRange(int lo, int hi, std::optional<uint64_t> seed, const uint8_t* mask) {
  for (int i = lo; i < hi; ++i) {
    if (mask && !mask[i]) continue;
    std::optional<uint64_t> s;
    if (seed) s = *seed + static_cast<uint64_t>(i);
    envs_[i]->Reset(s, obs_.data() + i * obs_bytes_, &infos_[i]);
    rewards_[i] = 0.f;
    TakeAgentRewards(i, /*reset_step=*/true);
    terminated_[i] = truncated_[i] = ended_[i] = pending_[i] = 0;
    returns_[i] = 0.0;
    lengths_[i] = 0;
    if (mask_size_) envs_[i]->ActionMask(masks_.data() + i * mask_size_);
  }
}

void VectorEnv::Reset(std::optional<uint64_t> seed) {
  if (!seed && !reset_before_) seed = 0;
  reset_before_ = true;
  ForEachChunk([&](int lo, int hi) { ResetRange(lo, hi, seed, nullptr); });
}

void VectorEnv::ResetMasked(std::optional<uint64_t> seed, const uint8_t* mask) {
  RLF_CHECK_ARG(mask != nullptr, "ResetMasked needs a mask");
  ForEachChunk([&](int lo, int hi) { ResetRange(lo, hi, seed, mask); });
}

void VectorEnv::StepRange(int lo, int hi, const uint8_t* actions) {
  for (int i = lo; i < hi; ++i) {
    uint8_t* obs = obs_.data() + i * obs_bytes_;
    if (pending_[i]) {
      // Next-step autoreset: this step resets the env (disabled mode refused it in Step).
      infos_[i].Clear();
      envs_[i]->Reset(std::nullopt, obs, &infos_[i]);
      rewards_[i] = 0.f;
      TakeAgentRewards(i, /*reset_step=*/true);
      terminated_[i] = truncated_[i] = ended_[i] = pending_[i] = 0;
      if (mask_size_) envs_[i]->ActionMask(masks_.data() + i * mask_size_);
      continue;
    }
    StepResult r;
    try {
      r = envs_[i]->Step(actions + i * act_bytes_, obs);
    } catch (const InvalidArgument& e) {  // an action the env itself refuses (an illegal move): named by env
      throw InvalidArgument(StrCat("env ", i, ": ", e.what()));
    }
    rewards_[i] = static_cast<float>(r.reward);
    TakeAgentRewards(i, /*reset_step=*/false);
    terminated_[i] = r.terminated;
    truncated_[i] = r.truncated;
    infos_[i] = r.info;
    returns_[i] += r.reward;
    ++lengths_[i];
    ended_[i] = r.terminated || r.truncated;
    if (ended_[i]) {
      std::memcpy(final_obs_.data() + i * obs_bytes_, obs, obs_bytes_);
      if (mask_size_) envs_[i]->ActionMask(final_masks_.data() + i * mask_size_);
      final_return_[i] = returns_[i];
      final_length_[i] = lengths_[i];
      returns_[i] = 0.0;
      lengths_[i] = 0;
      if (autoreset_ == AutoresetMode::kSameStep) {
        reset_infos_[i].Clear();
        envs_[i]->Reset(std::nullopt, obs, &reset_infos_[i]);
      } else {
        pending_[i] = 1;
      }
    }
    if (mask_size_) envs_[i]->ActionMask(masks_.data() + i * mask_size_);
  }
}

void VectorEnv::Step(const void* actions) {
  if (autoreset_ == AutoresetMode::kDisabled) {
    for (int i = 0; i < num_envs_; ++i)
      RLF_CHECK(!pending_[i], "env ", i, "'s episode ended and autoreset is disabled: reset it (ResetMasked, "
                "or reset(options={'reset_mask': ...}) in Python) before stepping it");
  }
  const auto* a = static_cast<const uint8_t*>(actions);
  // Every row is checked before any env steps, so a bad action changes no env
  // (Box actions only for finiteness: envs that clip accept any finite value).
  for (int i = 0; i < num_envs_; ++i) {
    const uint8_t* row = a + i * act_bytes_;
    const std::string why =
        act_space_.kind() == SpaceKind::kBox ? act_space_.WhyNotFinite(row) : act_space_.WhyNotContained(row);
    RLF_CHECK_ARG(why.empty(), "env ", i, ": invalid action: ", why);
  }
  ForEachChunk([&](int lo, int hi) { StepRange(lo, hi, a); });
}

void VectorEnv::SaveState(std::string* out) const {
  RLF_CHECK(autoreset_ == AutoresetMode::kSameStep, "only a same-step autoreset vector env saves its state (this one is ",
            AutoresetModeName(autoreset_), ")");
  StateWriter w(out);
  w(static_cast<int64_t>(num_envs_));
  for (const auto& e : envs_) {
    std::string blob;
    e->SaveState(&blob);
    w(blob);
  }
  w(obs_), w(final_obs_), w(rewards_), w(terminated_), w(truncated_);
  w(returns_), w(lengths_), w(final_return_), w(final_length_);
}

void VectorEnv::LoadState(std::string_view in) {
  StateReader r(in, "vector env state");
  int64_t n = 0;
  r(n);
  RLF_CHECK(n == num_envs_, "vector env state holds ", n, " envs, this VectorEnv has ", num_envs_);
  for (auto& e : envs_) {
    std::string blob;
    r(blob);
    e->LoadState(blob);
  }
  r(obs_), r(final_obs_), r(rewards_), r(terminated_), r(truncated_);
  r(returns_), r(lengths_), r(final_return_), r(final_length_);
  r.ExpectEnd();
  RLF_CHECK(obs_.size() == num_envs_ * obs_bytes_, "vector env state has the wrong observation size");
  for (int i = 0; i < num_envs_; ++i) {
    ended_[i] = terminated_[i] || truncated_[i];
    if (mask_size_) envs_[i]->ActionMask(masks_.data() + i * mask_size_);
  }
}

}  // namespace rlforge

namespace rlforge {

void VectorEnv::SetAgentActions(int agent, const void* actions) {
  const auto* a = static_cast<const uint8_t*>(actions);
  for (int i = 0; i < num_envs_; ++i) envs_[i]->SetAgentAction(agent, a + static_cast<size_t>(i) * act_bytes_);
}

void VectorEnv::AgentObservations(int agent, void* out) const {
  auto* o = static_cast<uint8_t*>(out);
  for (int i = 0; i < num_envs_; ++i) envs_[i]->AgentObservation(agent, o + static_cast<size_t>(i) * obs_bytes_);
}

void VectorEnv::AgentActionMasks(int agent, uint8_t* out) const {
  for (int i = 0; i < num_envs_; ++i) envs_[i]->AgentActionMask(agent, out + static_cast<size_t>(i) * mask_size_);
}

void VectorEnv::TakeAgentRewards(int i, bool reset_step) {
  const int agents = static_cast<int>(agent_rewards_.size() / static_cast<size_t>(num_envs_)) + 1;
  for (int a = 1; a < agents; ++a)
    agent_rewards_[static_cast<size_t>(a - 1) * num_envs_ + i] =
        reset_step ? 0.f : static_cast<float>(envs_[i]->AgentReward(a));
}

void VectorEnv::AgentRewards(int agent, float* out) const {
  RLF_CHECK_ARG(agent >= 1 && agent < num_agents(), envs_[0]->name(), ": no agent ", agent, " (agents 1..",
                num_agents() - 1, " besides the batch's own)");
  std::copy_n(agent_rewards_.data() + static_cast<size_t>(agent - 1) * num_envs_, num_envs_, out);
}

}  // namespace rlforge
