#include "rlforge/envs/toy_text/tabular_env.h"

#include <cmath>
#include <map>
#include <mutex>

#include "rlforge/core/error.h"

namespace rlforge {

int64_t StateOfObservation(const void* obs, const Space& space, const std::string& env) {
  const int64_t s = *static_cast<const int64_t*>(obs);
  RLF_CHECK_ARG(s >= 0 && s < space.n(), env, ": state ", s, " is outside 0..", space.n() - 1);
  return s;
}

int64_t ResetFromModel(const TransitionModel& model, Rng& rng, void* obs, Info* info) {
  const int64_t s = model.SampleInitial(rng);
  info->Set("prob", 1.0);
  *static_cast<int64_t*>(obs) = s;
  return s;
}

const Transition& StepFromModel(const TransitionModel& model, int64_t s, int64_t a, Rng& rng, void* obs,
                                StepResult* result) {
  const Transition& t = model.Sample(s, a, rng);
  result->reward = t.reward;
  result->terminated = t.terminated;
  result->info.Set("prob", t.prob);
  *static_cast<int64_t*>(obs) = t.next_state;
  return t;
}

std::shared_ptr<const TransitionModel> SharedTransitionModel(
    const std::string& key, const std::function<std::shared_ptr<TransitionModel>()>& build) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<const TransitionModel>> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) {
    if (auto model = it->second.lock()) return model;
  }
  std::shared_ptr<const TransitionModel> model = build();
  cache[key] = model;
  return model;
}

}  // namespace rlforge
