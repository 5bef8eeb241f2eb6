#include "rlforge/env/wrappers.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rlforge {
namespace {

const Space& RequireFloatBoxAction(const Env& env, const char* wrapper) {
  const Space& s = env.action_space();
  RLF_CHECK_ARG(s.kind() == SpaceKind::kBox && s.dtype() == DType::kFloat32, wrapper,
                " needs a float32 Box action space; ", env.name(), " has ", s.ToString());
  return s;
}

}  // namespace

Wrapper::Wrapper(std::unique_ptr<Env> env) : env_(std::move(env)) {
  RLF_CHECK_ARG(env_ != nullptr, "cannot wrap a null env");
}

// ---------------------------------------------------------------- TimeLimit
TimeLimit::TimeLimit(std::unique_ptr<Env> env, int64_t max_episode_steps)
    : WrapperBase(std::move(env)), max_steps_(max_episode_steps) {
  RLF_CHECK_ARG(max_episode_steps >= 1, "TimeLimit needs max_episode_steps >= 1, got ", max_episode_steps);
}

void TimeLimit::Reset(std::optional<uint64_t> seed, void* obs, Info* info) {
  elapsed_ = 0;
  env_->Reset(seed, obs, info);
}

StepResult TimeLimit::Step(const void* action, void* obs) {
  RLF_CHECK(elapsed_ < max_steps_, name(), ": step() called after the episode was truncated at ", max_steps_,
            " steps; call reset() first");
  StepResult r = env_->Step(action, obs);
  if (++elapsed_ >= max_steps_) r.truncated = true;
  return r;
}

// ------------------------------------------------- RecordEpisodeStatistics
RecordEpisodeStatistics::RecordEpisodeStatistics(std::unique_ptr<Env> env, int window)
    : WrapperBase(std::move(env)), returns_(window), lengths_(window) {
  RLF_CHECK_ARG(window >= 1, "RecordEpisodeStatistics needs window >= 1");
}

void RecordEpisodeStatistics::Reset(std::optional<uint64_t> seed, void* obs, Info* info) {
  ret_ = 0;
  len_ = 0;
  env_->Reset(seed, obs, info);
}

StepResult RecordEpisodeStatistics::Step(const void* action, void* obs) {
  StepResult r = env_->Step(action, obs);
  ret_ += r.reward;
  ++len_;
  if (r.done()) {
    const size_t slot = static_cast<size_t>(episodes_ % static_cast<int64_t>(returns_.size()));
    returns_[slot] = ret_;
    lengths_[slot] = len_;
    ++episodes_;
    r.info.Set("episode_return", ret_);
    r.info.Set("episode_length", static_cast<double>(len_));
  }
  return r;
}

std::vector<double> RecordEpisodeStatistics::recent_returns() const {
  const int64_t w = static_cast<int64_t>(returns_.size());
  const int64_t n = std::min(episodes_, w);
  std::vector<double> out;
  for (int64_t k = episodes_ - n; k < episodes_; ++k) out.push_back(returns_[k % w]);
  return out;
}

std::vector<int64_t> RecordEpisodeStatistics::recent_lengths() const {
  const int64_t w = static_cast<int64_t>(lengths_.size());
  const int64_t n = std::min(episodes_, w);
  std::vector<int64_t> out;
  for (int64_t k = episodes_ - n; k < episodes_; ++k) out.push_back(lengths_[k % w]);
  return out;
}

// --------------------------------------------------------------- ClipAction
ClipAction::ClipAction(std::unique_ptr<Env> env) : WrapperBase(std::move(env)) {
  const Space& inner = RequireFloatBoxAction(*env_, "ClipAction");
  const double inf = std::numeric_limits<double>::infinity();
  space_ = Space::Box(-inf, inf, inner.shape(), DType::kFloat32);
  scratch_.resize(inner.size());
}

StepResult ClipAction::Step(const void* action, void* obs) {
  const Space& inner = env_->action_space();
  const auto* a = static_cast<const float*>(action);
  for (size_t i = 0; i < scratch_.size(); ++i) {
    RLF_CHECK_ARG(!std::isnan(a[i]), name(), ": ClipAction got a NaN action entry ", i);
    scratch_[i] = static_cast<float>(std::clamp(static_cast<double>(a[i]), inner.low()[i], inner.high()[i]));
  }
  return env_->Step(scratch_.data(), obs);
}

// ------------------------------------------------------------ RescaleAction
RescaleAction::RescaleAction(std::unique_ptr<Env> env, double min_action, double max_action)
    : WrapperBase(std::move(env)) {
  const Space& inner = RequireFloatBoxAction(*env_, "RescaleAction");
  RLF_CHECK_ARG(inner.is_bounded(), "RescaleAction needs a bounded action space, got ", inner.ToString());
  RLF_CHECK_ARG(min_action < max_action, "RescaleAction needs min_action < max_action");
  space_ = Space::Box(min_action, max_action, inner.shape(), DType::kFloat32);
  scratch_.resize(inner.size());
}

StepResult RescaleAction::Step(const void* action, void* obs) {
  const std::string why = space_.WhyNotContained(action);
  RLF_CHECK_ARG(why.empty(), name(), ": invalid action for RescaleAction: ", why);
  const Space& inner = env_->action_space();
  const auto* a = static_cast<const float*>(action);
  const double lo = space_.low()[0], hi = space_.high()[0];
  for (size_t i = 0; i < scratch_.size(); ++i) {
    const double t = (a[i] - lo) / (hi - lo);
    const double v = inner.low()[i] + t * (inner.high()[i] - inner.low()[i]);
    scratch_[i] = static_cast<float>(std::clamp(v, inner.low()[i], inner.high()[i]));
  }
  return env_->Step(scratch_.data(), obs);
}

// ----------------------------------------------------- NormalizeObservation
NormalizeObservation::NormalizeObservation(std::unique_ptr<Env> env, double epsilon)
    : ObservationWrapperBase(std::move(env)), epsilon_(epsilon) {
  const Space& inner = env_->observation_space();
  RLF_CHECK_ARG(inner.kind() == SpaceKind::kBox, "NormalizeObservation needs a Box observation space; ",
                env_->name(), " has ", inner.ToString());
  const double inf = std::numeric_limits<double>::infinity();
  space_ = Space::Box(-inf, inf, inner.shape(), DType::kFloat32);
  stats_ = RunningMeanStd(inner.size());
  raw_.resize(inner.size());
  inner_obs_.resize(inner.nbytes());
}

void NormalizeObservation::Normalize(void* obs) {
  const Space& inner = env_->observation_space();
  for (size_t i = 0; i < raw_.size(); ++i) raw_[i] = ReadElement(inner_obs_.data(), inner.dtype(), i);
  if (update_) stats_.Update(raw_.data());
  auto* out = static_cast<float*>(obs);
  for (size_t i = 0; i < raw_.size(); ++i)
    out[i] = static_cast<float>((raw_[i] - stats_.mean()[i]) / std::sqrt(stats_.var()[i] + epsilon_));
}

void NormalizeObservation::Reset(std::optional<uint64_t> seed, void* obs, Info* info) {
  env_->Reset(seed, inner_obs_.data(), info);
  Normalize(obs);
}

StepResult NormalizeObservation::Step(const void* action, void* obs) {
  StepResult r = env_->Step(action, inner_obs_.data());
  Normalize(obs);
  return r;
}

// ---------------------------------------------------------- NormalizeReward
NormalizeReward::NormalizeReward(std::unique_ptr<Env> env, double gamma, double epsilon)
    : WrapperBase(std::move(env)), stats_(1), gamma_(gamma), epsilon_(epsilon) {
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "NormalizeReward needs gamma in [0, 1], got ", gamma);
}

StepResult NormalizeReward::Step(const void* action, void* obs) {
  StepResult r = env_->Step(action, obs);
  // As Gymnasium: the discounted return restarts after termination only.
  discounted_ = discounted_ * gamma_ * (r.terminated ? 0.0 : 1.0) + r.reward;
  if (update_) stats_.Update(&discounted_);
  r.reward = r.reward / std::sqrt(stats_.var()[0] + epsilon_);
  return r;
}

// --------------------------------------------------------------- FrameStack
FrameStack::FrameStack(std::unique_ptr<Env> env, int stack_size)
    : ObservationWrapperBase(std::move(env)), k_(stack_size) {
  RLF_CHECK_ARG(stack_size >= 1, "FrameStack needs stack_size >= 1, got ", stack_size);
  const Space& inner = env_->observation_space();
  RLF_CHECK_ARG(inner.kind() == SpaceKind::kBox, "FrameStack needs a Box observation space; ",
                env_->name(), " has ", inner.ToString());
  std::vector<double> low, high;
  for (int i = 0; i < k_; ++i) {
    low.insert(low.end(), inner.low().begin(), inner.low().end());
    high.insert(high.end(), inner.high().begin(), inner.high().end());
  }
  std::vector<int64_t> shape = {k_};
  shape.insert(shape.end(), inner.shape().begin(), inner.shape().end());
  space_ = Space::Box(std::move(low), std::move(high), std::move(shape), inner.dtype());
  frame_bytes_ = inner.nbytes();
  frames_.resize(frame_bytes_ * k_);
}

void FrameStack::Emit(void* obs) const {
  auto* out = static_cast<uint8_t*>(obs);
  for (int j = 0; j < k_; ++j) {  // oldest first
    const int slot = (newest_ + 1 + j) % k_;
    std::memcpy(out + j * frame_bytes_, frames_.data() + slot * frame_bytes_, frame_bytes_);
  }
}

void FrameStack::Reset(std::optional<uint64_t> seed, void* obs, Info* info) {
  env_->Reset(seed, frames_.data(), info);
  for (int j = 1; j < k_; ++j) std::memcpy(frames_.data() + j * frame_bytes_, frames_.data(), frame_bytes_);
  newest_ = 0;
  Emit(obs);
}

StepResult FrameStack::Step(const void* action, void* obs) {
  newest_ = (newest_ + 1) % k_;
  StepResult r = env_->Step(action, frames_.data() + newest_ * frame_bytes_);
  Emit(obs);
  return r;
}

// ----------------------------------------------------- TransformObservation
TransformObservation::TransformObservation(std::unique_ptr<Env> env, Fn fn, Space new_space)
    : ObservationWrapperBase(std::move(env)), fn_(std::move(fn)), space_(std::move(new_space)) {
  RLF_CHECK_ARG(static_cast<bool>(fn_), "TransformObservation needs a function");
  scratch_.resize(env_->observation_space().nbytes());
}

void TransformObservation::Reset(std::optional<uint64_t> seed, void* obs, Info* info) {
  env_->Reset(seed, scratch_.data(), info);
  fn_(scratch_.data(), obs);
}

StepResult TransformObservation::Step(const void* action, void* obs) {
  StepResult r = env_->Step(action, scratch_.data());
  fn_(scratch_.data(), obs);
  return r;
}

// ---------------------------------------------------------- TransformReward
TransformReward::TransformReward(std::unique_ptr<Env> env, Fn fn)
    : WrapperBase(std::move(env)), fn_(std::move(fn)) {
  RLF_CHECK_ARG(static_cast<bool>(fn_), "TransformReward needs a function");
}

StepResult TransformReward::Step(const void* action, void* obs) {
  StepResult r = env_->Step(action, obs);
  r.reward = fn_(r.reward);
  return r;
}

}  // namespace rlforge
