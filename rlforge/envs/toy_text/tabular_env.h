// rlforge/envs/toy_text/tabular_env.h — what the toy-text envs (FrozenLake,
// Taxi, CliffWalking) share: stepping by sampling their transition model
// (rlforge/env/transition_model.h, offered to planners through
// Env::transition_model()) and a cache of models.
//
// The model is immutable once built and shared between clones, so Clone() of a
// toy-text env copies a few words.
#ifndef RLFORGE_ENVS_TOY_TEXT_TABULAR_ENV_H_
#define RLFORGE_ENVS_TOY_TEXT_TABULAR_ENV_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rlforge/core/rng.h"
#include "rlforge/env/env.h"
#include "rlforge/env/transition_model.h"

namespace rlforge {

// Shared by the toy-text envs' ResetImpl/StepImpl: draw the initial state (or
// sample the outcome of action a in state s), write it as the int64
// observation and fill reward, terminated and info "prob". Return the new state.
int64_t ResetFromModel(const TransitionModel& model, Rng& rng, void* obs, Info* info);
const Transition& StepFromModel(const TransitionModel& model, int64_t s, int64_t a, Rng& rng, void* obs,
                                StepResult* result);

// The state a toy-text observation names (it is the state index), checked
// against the observation space (InvalidArgument naming the env).
int64_t StateOfObservation(const void* obs, const Space& space, const std::string& env);

// The model cached under `key` (a text that fully describes the env's dynamics),
// built with `build` the first time. Every env instance with the same dynamics
// shares one model: a 1024-env vector env of Taxi then reads one 360 KB table
// from cache instead of 1024 copies from memory. Thread-safe; the cache holds
// weak references, so models are freed with their last env.
std::shared_ptr<const TransitionModel> SharedTransitionModel(
    const std::string& key, const std::function<std::shared_ptr<TransitionModel>()>& build);

}  // namespace rlforge

#endif  // RLFORGE_ENVS_TOY_TEXT_TABULAR_ENV_H_
