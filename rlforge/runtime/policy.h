// rlforge/runtime/policy.h — acting with an exported policy, without
// libtorch: what a game links.
//
//   auto policy = rlforge::runtime::Policy::Load("agent.rlf");
//   int64_t a = policy.Act(obs, mask);            // one observation, greedy
//   policy.Seed(7);
//   policy.Act(obs, n, masks, actions, /*deterministic=*/false);  // a batch, sampled
//
// Observations are floats (see model.h for each observation kind); masks are
// bytes, 1 = legal, laid out as Model::mask_size() per row (null: all legal).
// Discrete actions come back with the space's start added, Box actions
// clipped into the space's bounds. Greedy actions are the masked argmax
// (Gaussian: the mean); sampled ones come from the policy's own random
// generator (Seed). Q-value policies always act greedily (DQN's evaluation).
//
// Recurrent models (model.h) keep a state per row, zero at first: each Act,
// Values, Outputs or Scores call with n rows is one step of rows 0..n-1 and
// advances their states (a call that throws, e.g. for a mask with no legal
// action, leaves them as they were). Reset a row when its episode ends
// (ResetState), or keep the states yourself (GetState/SetState: one policy
// for many agents).
//
//   policy.ResetState();                          // new episodes, every row
//   for (;;) { policy.Act(obs, n, masks, actions); ... if (done[i]) policy.ResetState(i); }
//
// After Reserve(n) (or a first call with n rows) no Act, Values, Outputs or
// Scores call with at most n rows allocates. A Policy is not thread-safe: use
// one per thread (copies are cheap next to loading, and share nothing).
#ifndef RLFORGE_RUNTIME_POLICY_H_
#define RLFORGE_RUNTIME_POLICY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rlforge/runtime/model.h"

namespace rlforge::runtime {

// For envs with conditional MultiDiscrete masks: the legal values of
// dimension `dim` of row `row`'s action given its values in dimensions
// 0..dim-1 (prefix), written as nvec[dim] bytes into mask.
using ConditionalMask = std::function<void(int64_t row, const int64_t* prefix, int dim, uint8_t* mask)>;

class Policy {
 public:
  static Policy Load(const std::string& path);
  // Error (one line) for an inconsistent model or one too large for memory.
  explicit Policy(Model model);
  // A copy is a policy of its own (same model, same generator state).
  Policy(const Policy& other);
  Policy& operator=(const Policy& other);
  Policy(Policy&&) noexcept = default;
  Policy& operator=(Policy&&) noexcept = default;

  const Model& model() const { return model_; }
  int64_t obs_size() const { return model_.obs_size(); }
  int64_t action_size() const { return model_.action_size(); }
  int64_t mask_size() const { return model_.mask_size(); }
  bool discrete() const { return model_.head != HeadKind::kGaussian; }
  bool recurrent() const { return model_.recurrent(); }
  // Floats of recurrent state per row (0 for feed-forward models).
  int64_t state_size() const { return model_.state_size(); }
  // Zeroes the state of every row, or of one (a row that starts an episode).
  void ResetState();
  void ResetState(int64_t row);
  // The states of rows 0..n-1 as [n, state_size] floats, and back.
  void GetState(int64_t n, float* state) const;
  void SetState(int64_t n, const float* state);

  // Scratch for batches of up to n rows, allocated now.
  void Reserve(int64_t n);
  // Seeds the generator of sampled actions.
  void Seed(uint64_t seed);
  void set_conditional_mask(ConditionalMask fn) { conditional_mask_ = std::move(fn); }

  // One observation of a Discrete-action policy: the action.
  int64_t Act(const float* obs, const uint8_t* mask = nullptr, bool deterministic = true);
  // n observations [n, obs_size] -> actions [n, action_size] (Discrete and
  // MultiDiscrete policies).
  void Act(const float* obs, int64_t n, const uint8_t* masks, int64_t* actions, bool deterministic = true);
  // Box-action policies: actions [n, action_size].
  void Act(const float* obs, int64_t n, float* actions, bool deterministic = true);
  // State values [n] (actor-critic and AlphaZero-style models).
  void Values(const float* obs, int64_t n, float* values);
  // The policy chain's raw outputs [n, outputs_size]: logits, the Gaussian
  // mean, or the Q outputs (before quantile averaging or the dueling sum).
  void Outputs(const float* obs, int64_t n, float* outputs);
  // Action probabilities [n, mask_size] (categorical heads, after the mask;
  // per dimension for multi_categorical) or Q-values [n, n_actions].
  void Scores(const float* obs, int64_t n, const uint8_t* masks, float* scores);

 private:
  // Weights rearranged for the kernels: Linear as [in, out] (so that each
  // input adds a scaled row to all outputs: vectorizes without reordering
  // sums), Conv2d as [out, in * k * k].
  struct Prepared {
    const Layer* layer;
    std::vector<float> w;   // float weights in kernel layout
    std::vector<int8_t> q;  // int8 weights in kernel layout
  };
  void Prepare();
  void CheckRows(int64_t n) const;
  void EnsureCapacity(int64_t n);
  void Preprocess(const float* obs, int64_t n, float* out) const;
  // The recurrent core for rows 0..n-1 from x [n, in]: advances their
  // states; returns the last layer's h [n, hidden].
  const float* Core(const float* x, int64_t n);
  // Puts rows 0..n-1's states back as they were before the last Forward.
  void Unstep(int64_t n);
  // Act's and Scores' work after the forward pass.
  void PickActions(int64_t n, const uint8_t* masks, int64_t* actions, bool deterministic);
  void Probabilities(int64_t n, const uint8_t* masks, float* scores);
  const float* RunChain(const std::vector<Prepared>& chain, const float* in, int64_t n, float* a, float* b);
  // Forward pass; outputs in pi_, values in v_ when want_value.
  void Forward(const float* obs, int64_t n, bool want_value);
  void QValues(const float* out, int64_t n, float* q) const;
  int64_t PickCategorical(const float* logits, int64_t width, const uint8_t* mask, bool deterministic);
  double Uniform();
  double Normal();

  Model model_;
  std::vector<Prepared> encoder_, shared_, policy_, value_, rnn_;
  int64_t capacity_ = 0, widest_ = 0, col_size_ = 0;
  std::vector<float> in_, a_, b_, c_, d_, col_, q_;
  // Recurrent state [capacity, state_size] and the core's scratch.
  std::vector<float> state_, saved_, gi_, gh_, hin_, core_a_, core_b_;
  const float* pi_ = nullptr;
  const float* v_ = nullptr;
  std::vector<int64_t> prefix_;
  std::vector<uint8_t> dim_mask_;
  uint64_t rng_[4] = {};
  ConditionalMask conditional_mask_;
};

}  // namespace rlforge::runtime

#endif  // RLFORGE_RUNTIME_POLICY_H_
