#include "rlforge/envs/memory/memory_cue.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "rlforge/env/policy.h"
#include "rlforge/env/registry.h"

namespace rlforge {

namespace {

// MemoryCue-v0's scripted "recall" policy: it remembers, per row, the cue its
// episode showed and names it at every step (the answer at the query). A
// demonstrator that needs memory, so a clone of it does too.
class MemoryCueRecall : public Policy {
 public:
  explicit MemoryCueRecall(int64_t num_cues) : num_cues_(num_cues) {}
  void Act(const void* observations, const uint8_t*, int n, void* actions) override {
    if (static_cast<int>(cue_.size()) != n) cue_.assign(static_cast<size_t>(n), 0);
    const auto* o = static_cast<const float*>(observations);
    auto* a = static_cast<int64_t*>(actions);
    for (int i = 0; i < n; ++i) {
      const float* row = o + static_cast<int64_t>(i) * (num_cues_ + 1);
      const float* shown = std::max_element(row, row + num_cues_);
      if (*shown > 0.5f) cue_[i] = shown - row;
      a[i] = cue_[i];
    }
  }
  void StartEpisodes(const uint8_t* rows_starting, int n) override {
    if (static_cast<int>(cue_.size()) != n) cue_.assign(static_cast<size_t>(n), 0);
    for (int i = 0; i < n; ++i)
      if (rows_starting[i]) cue_[i] = 0;
  }
  bool recurrent() const override { return true; }
  std::string name() const override { return "recall"; }

 private:
  int64_t num_cues_;
  std::vector<int64_t> cue_;
};

// The kwargs checked before the spaces are built from them (num_cues=1e9 made
// a 4 GB Box first).
int64_t CheckedNumCues(int64_t delay, int64_t num_cues) {
  RLF_CHECK_ARG(delay >= 0 && delay <= 100000, "MemoryCue-v0: kwarg 'delay' must be in 0..100000, got ", delay);
  RLF_CHECK_ARG(num_cues >= 2 && num_cues <= 1024, "MemoryCue-v0: kwarg 'num_cues' must be in 2..1024, got ",
                num_cues);
  return num_cues;
}

}  // namespace

MemoryCue::MemoryCue(int64_t delay, int64_t num_cues)
    : delay_(delay),
      num_cues_(CheckedNumCues(delay, num_cues)),
      obs_space_(Space::Box(0.0, 1.0, {num_cues + 1}, DType::kFloat32)),
      act_space_(Space::Discrete(num_cues)) {}

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
  EnvSpec spec{"MemoryCue-v0",
               [](const Kwargs& kw) {
                 return std::make_unique<MemoryCue>(kw.GetInt("delay", 10, "MemoryCue-v0"),
                                                    kw.GetInt("num_cues", 2, "MemoryCue-v0"));
               },
               std::nullopt,
               1.0,
               {},
               {{"delay", "10", "blank steps between the cue and the question"},
                {"num_cues", "2", "number of distinct cues (= actions)"}},
               "name the cue shown `delay` steps ago (a memory test for recurrent policies)"};
  spec.scripted_policies.push_back(
      {"recall", "recall", "MemoryCue-v0's scripted player that remembers the cue (always right)",
       /*takes_argument=*/false, [](const Env& env, const std::string&, uint64_t) -> std::unique_ptr<Policy> {
         const Space& a = env.action_space();
         RLF_CHECK_ARG(a.kind() == SpaceKind::kDiscrete && env.observation_space().size() == a.n() + 1,
                       "policy 'recall' plays MemoryCue-v0's observations (num_cues + 1 floats) and actions; this env "
                       "has ", env.observation_space().ToString(), " and ", a.ToString());
         return std::make_unique<MemoryCueRecall>(a.n());
       }});
  registry.Register(std::move(spec));
}

}  // namespace rlforge
