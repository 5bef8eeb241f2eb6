// Worked examples of the actor-critic loss (rlforge/algos/actor_critic_loss.h):
// PPO's clipped surrogate, value clipping, the policy-gradient term, the
// entropy term, and the gradients with respect to the network's outputs.
#include "rlforge/algos/actor_critic_loss.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace rlforge {
namespace {

// Three samples with old log-prob 0 and ratios 1.5, 0.5, 1.1, advantages
// 1, 1, -2, clip 0.2:
//   sample 0: min(1.5, 1.2) = 1.2   (clipped: no gradient)
//   sample 1: min(0.5, 0.8) = 0.5   (unclipped)
//   sample 2: min(-2.2, -2.2) = -2.2 (inside the range)
// policy loss = -(1.2 + 0.5 - 2.2) / 3 = 1/6.
TEST(PpoLossTest, ClippedSurrogateValueAndGradient) {
  const double logp[] = {std::log(1.5), std::log(0.5), std::log(1.1)}, adv[] = {1.0, 1.0, -2.0};
  double loss = 0, clip_fraction = 0, approx_kl = 0, grad[3];
  for (int i = 0; i < 3; ++i) {
    const SurrogateTerm t = ClippedSurrogate(logp[i], 0.0, adv[i], 0.2);
    loss += t.loss / 3;
    clip_fraction += (t.clipped ? 1.0 : 0.0) / 3;
    approx_kl += ((t.ratio - 1) - logp[i]) / 3;
    grad[i] = t.d_log_prob / 3;  // of the batch mean
  }
  EXPECT_NEAR(loss, 1.0 / 6.0, 1e-12);
  EXPECT_NEAR(clip_fraction, 2.0 / 3.0, 1e-7);
  EXPECT_NEAR(approx_kl, 0.09745729754915201, 1e-12);
  // d/dlogp_i = -(1/3) A_i r_i where unclipped, 0 where clipped.
  EXPECT_NEAR(grad[0], 0.0, 1e-12);
  EXPECT_NEAR(grad[1], -0.5 / 3.0, 1e-12);
  EXPECT_NEAR(grad[2], 2.2 / 3.0, 1e-12);
}

TEST(PpoLossTest, NegativeAdvantageBelowTheRangeIsClipped) {
  const SurrogateTerm t = ClippedSurrogate(std::log(0.5), 0.0, -1.0, 0.2);
  EXPECT_NEAR(t.loss, 0.8, 1e-12);  // -min(-0.5, -0.8)
  EXPECT_EQ(t.d_log_prob, 0.0);
}

// A Gaussian head whose per-sample log std gives entropies H_i: log sigma =
// H - 1/2 - log(2 pi) / 2.
double LogStdForEntropy(double h) { return h - 0.5 - 0.5 * std::log(2 * M_PI); }

TEST(PpoLossTest, ValueClippingAndEntropy) {
  const ValueTerm clipped = ValueLoss(/*value=*/2.0, /*target=*/3.0, /*clip_range_vf=*/0.5, /*old_value=*/1.0);
  EXPECT_NEAR(clipped.loss, 2.25, 1e-12);  // V clipped to 1.5
  EXPECT_EQ(clipped.d_value, 0.0);          // outside the range: no gradient
  const ValueTerm unclipped = ValueLoss(2.0, 3.0, std::nullopt, 1.0);
  EXPECT_NEAR(unclipped.loss, 1.0, 1e-12);
  EXPECT_NEAR(unclipped.d_value, -2.0, 1e-12);
  // The entropy term: -mean(H), with H = 0.7.
  const ActionHead head(Space::Box(-1, 1, {1}));
  const float pi[] = {0.0f}, log_std[] = {static_cast<float>(LogStdForEntropy(0.7))}, value[] = {0.0f};
  const float action[] = {0.0f}, adv[] = {0.0f}, ret[] = {0.0f};
  ActorCriticBatch b;
  b.size = 1, b.actions = action, b.advantages = adv, b.returns = ret;
  float d_pi[1], d_log_std[1], d_value[1];
  ActorCriticGradients g{d_pi, d_log_std, d_value};
  const ActorCriticLossValues l = ComputeActorCriticLoss(head, {pi, log_std, true, value}, b, &g);
  EXPECT_NEAR(-l.entropy, -0.7, 1e-6);
}

TEST(A2cLossTest, PolicyGradientValueAndEntropyTerms) {
  // log pi = (-1, -2), A = (2, -1), V = (1, 0), R = (3, 1), H = (0.5, 0.3).
  const double logp[] = {-1.0, -2.0}, adv[] = {2.0, -1.0};
  double policy_loss = 0, grad[2];
  for (int i = 0; i < 2; ++i) {
    const PolicyTerm t = PolicyGradientTerm(logp[i], adv[i]);
    policy_loss += t.loss / 2;
    grad[i] = t.d_log_prob / 2;
  }
  EXPECT_NEAR(policy_loss, -(2.0 * -1.0 + -1.0 * -2.0) / 2, 1e-12);
  EXPECT_NEAR(grad[0], -1.0, 1e-12);
  EXPECT_NEAR(grad[1], 0.5, 1e-12);
  const double value_loss = (ValueLoss(1.0, 3.0, std::nullopt, 0).loss + ValueLoss(0.0, 1.0, std::nullopt, 0).loss) / 2;
  EXPECT_NEAR(value_loss, (4.0 + 1.0) / 2, 1e-12);
  const ActionHead head(Space::Box(-1, 1, {1}));
  const float pi[] = {0.0f, 0.0f}, value[] = {1.0f, 0.0f}, zero[] = {0.0f, 0.0f}, ret[] = {3.0f, 1.0f};
  const float log_std[] = {static_cast<float>(LogStdForEntropy(0.5)), static_cast<float>(LogStdForEntropy(0.3))};
  ActorCriticBatch b;
  b.size = 2, b.actions = zero, b.advantages = zero, b.returns = ret;
  float d_pi[2], d_log_std[2], d_value[2];
  ActorCriticGradients g{d_pi, d_log_std, d_value};
  const ActorCriticLossValues l = ComputeActorCriticLoss(head, {pi, log_std, true, value}, b, &g);
  EXPECT_NEAR(-l.entropy, -0.4, 1e-6);
  EXPECT_NEAR(l.value_loss, 2.5, 1e-6);
}

// The whole loss on a categorical head, by hand: logits (0, 0), so p = (1/2,
// 1/2), H = log 2; action 0 taken with old log-prob log(1/2) (ratio 1), A = 2,
// V = 1, R = 3, clip 0.2, ent_coef 0.1, vf_coef 0.5.
//   policy: -min(2, 2) = -2, dL/dlog pi = -A r = -2, so dL/du = -2 (onehot - p) = (-1, +1);
//   entropy: dH/du_j = -p_j (log p_j + H) = 0 at the uniform distribution;
//   value: (3 - 1)^2 = 4, dL/dV = 0.5 * 2 (1 - 3) = -2;
//   L = -2 + 0.5 * 4 - 0.1 log 2.
TEST(ActorCriticLossTest, CategoricalWorkedExample) {
  const ActionHead head(Space::Discrete(2));
  const float pi[] = {0.0f, 0.0f}, value[] = {1.0f}, adv[] = {2.0f}, ret[] = {3.0f};
  const float old_lp[] = {static_cast<float>(std::log(0.5))};
  const int64_t action[] = {0};
  ActorCriticBatch b;
  b.size = 1, b.actions = action, b.advantages = adv, b.returns = ret;
  b.clip_range = 0.2, b.old_log_prob = old_lp, b.ent_coef = 0.1, b.vf_coef = 0.5;
  float d_pi[2], d_value[1];
  ActorCriticGradients g{d_pi, nullptr, d_value};
  const ActorCriticLossValues l = ComputeActorCriticLoss(head, {pi, nullptr, false, value}, b, &g);
  EXPECT_NEAR(l.policy_loss, -2.0, 1e-6);
  EXPECT_NEAR(l.value_loss, 4.0, 1e-6);
  EXPECT_NEAR(l.entropy, std::log(2.0), 1e-12);
  EXPECT_NEAR(l.loss, -2.0 + 2.0 - 0.1 * std::log(2.0), 1e-6);
  EXPECT_NEAR(d_pi[0], -1.0, 1e-6);
  EXPECT_NEAR(d_pi[1], 1.0, 1e-6);
  EXPECT_NEAR(d_value[0], -2.0, 1e-6);
  EXPECT_NEAR(l.clip_fraction, 0.0, 1e-12);
}

// Masked and Gaussian heads by hand. Masked: logits (5, 0, 0) with value 0
// illegal: p = (0, 1/2, 1/2); the illegal logit gets no gradient and adds no
// entropy. Gaussian (policy gradient, A = 1): mean 0, log sigma 0, action 1:
// z = 1, log pi = -1/2 - log(2 pi)/2; dL/du = -z / sigma = -1; dL/dlog sigma =
// -(z^2 - 1) - ent_coef = -ent_coef.
TEST(ActorCriticLossTest, MaskedAndGaussianWorkedExamples) {
  {
    const ActionHead head(Space::Discrete(3));
    const float pi[] = {5.0f, 0.0f, 0.0f}, value[] = {0.0f}, adv[] = {1.0f}, ret[] = {0.0f};
    const bool mask[] = {false, true, true};
    const int64_t action[] = {2};
    ActorCriticBatch b;
    b.size = 1, b.actions = action, b.masks = mask, b.advantages = adv, b.returns = ret, b.ent_coef = 0.0;
    float d_pi[3], d_value[1];
    ActorCriticGradients g{d_pi, nullptr, d_value};
    const ActorCriticLossValues l = ComputeActorCriticLoss(head, {pi, nullptr, false, value}, b, &g);
    EXPECT_NEAR(l.policy_loss, std::log(2.0), 1e-6);  // -A log(1/2)
    EXPECT_NEAR(l.entropy, std::log(2.0), 1e-12);
    EXPECT_EQ(d_pi[0], 0.0f);
    EXPECT_NEAR(d_pi[1], 0.5, 1e-6);   // -A (0 - 1/2)
    EXPECT_NEAR(d_pi[2], -0.5, 1e-6);  // -A (1 - 1/2)
  }
  {
    const ActionHead head(Space::Box(-2, 2, {1}));
    const float pi[] = {0.0f}, log_std[] = {0.0f}, value[] = {0.0f}, adv[] = {1.0f}, ret[] = {0.0f};
    const float action[] = {1.0f};
    ActorCriticBatch b;
    b.size = 1, b.actions = action, b.advantages = adv, b.returns = ret, b.ent_coef = 0.25;
    float d_pi[1], d_log_std[1], d_value[1];
    ActorCriticGradients g{d_pi, d_log_std, d_value};
    const ActorCriticLossValues l = ComputeActorCriticLoss(head, {pi, log_std, false, value}, b, &g);
    EXPECT_NEAR(l.policy_loss, 0.5 + 0.5 * std::log(2 * M_PI), 1e-6);
    EXPECT_NEAR(d_pi[0], -1.0, 1e-6);
    EXPECT_NEAR(d_log_std[0], -0.25, 1e-6);
  }
}

}  // namespace
}  // namespace rlforge
