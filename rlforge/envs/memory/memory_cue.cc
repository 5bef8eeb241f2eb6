#include "rlforge/envs/memory/memory_cue.h"

#include <algorithm>

#include "rlforge/env/registry.h"

namespace rlforge {

MemoryCue::MemoryCue(int64_t delay, int64_t num_cues)
    : delay_(delay),
      num_cues_(num_cues),
      obs_space_(Space::Box(0.0, 1.0, {num_cues + 1}, DType::kFloat32)),
      act_space_(Space::Discrete(num_cues)) {
  RLF_CHECK_ARG(delay >= 0 && delay <= 100000, "MemoryCue-v0: kwarg 'delay' must be in 0..100000, got ", delay);
  RLF_CHECK_ARG(num_cues >= 2 && num_cues <= 1024, "MemoryCue-v0: kwarg 'num_cues' must be in 2..1024, got ",
                num_cues);
}

void MemoryCue::Observe(void* obs) const {
  auto* o = static_cast<float*>(obs);
  std::fill(o, o + num_cues_ + 1, 0.0f);
  if (t_ == 0) o[cue_] = 1.0f;
  if (t_ == delay_) o[num_cues_] = 1.0f;
}

void MemoryCue::ResetImpl(void* obs, Info*) {
  cue_ = static_cast<int64_t>(rng_.UniformInt(static_cast<uint64_t>(num_cues_)));
  t_ = 0;
  last_action_ = -1;
  Observe(obs);
}

void MemoryCue::StepImpl(const void* action, void* obs, StepResult* r) {
  last_action_ = *static_cast<const int64_t*>(action);
  if (t_ == delay_) {
    const bool right = last_action_ == cue_;
    r->reward = right ? 1.0 : -1.0;
    r->terminated = true;
    r->info.Set("is_success", right ? 1.0 : 0.0);
  }
  ++t_;
  Observe(obs);
}

std::string MemoryCue::RenderText() const {
  std::string out = "step " + std::to_string(t_) + "/" + std::to_string(delay_) + ": ";
  if (t_ == 0) out += "cue " + std::to_string(cue_);
  else if (t_ < delay_) out += "(blank)";
  else if (t_ == delay_) out += "which cue?";
  else out += "answered " + std::to_string(last_action_) + (last_action_ == cue_ ? " (right)" : " (wrong)");
  return out + "\n";
}

RLF_REGISTER_ENVS(memory_cue) {
  registry.Register({"MemoryCue-v0",
                     [](const Kwargs& kw) {
                       return std::make_unique<MemoryCue>(kw.GetInt("delay", 10, "MemoryCue-v0"),
                                                          kw.GetInt("num_cues", 2, "MemoryCue-v0"));
                     },
                     std::nullopt,
                     1.0,
                     {},
                     {{"delay", "10", "blank steps between the cue and the question"},
                      {"num_cues", "2", "number of distinct cues (= actions)"}},
                     "name the cue shown `delay` steps ago (a memory test for recurrent policies)"});
}

}  // namespace rlforge
