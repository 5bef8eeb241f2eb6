#include "rlforge/algos/actor_critic_loss.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "rlforge/core/error.h"

namespace rlforge {

ActionHead::ActionHead(const Space& space) {
  switch (space.kind()) {
    case SpaceKind::kDiscrete: segments_ = {space.n()}; break;
    case SpaceKind::kMultiDiscrete: segments_ = space.nvec(); break;
    case SpaceKind::kBox: gaussian_ = true; break;
    default: throw InvalidArgument(StrCat("actor-critic policies do not support ", space.ToString(), " actions"));
  }
  if (gaussian_) {
    width_ = space.size();
  } else {
    for (int64_t n : segments_) width_ += n;
  }
}

double SegmentSoftmax(const float* l, const bool* m, int64_t n, double* p, double* logp) {
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < n; ++j)
    if (!m || m[j]) mx = std::max<double>(mx, l[j]);
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    p[j] = (!m || m[j]) ? std::exp(l[j] - mx) : 0.0;
    sum += p[j];
  }
  const double log_sum = std::log(sum);
  double entropy = 0;
  for (int64_t j = 0; j < n; ++j) {
    p[j] /= sum;
    logp[j] = l[j] - mx - log_sum;
    if (p[j] > 0) entropy -= p[j] * logp[j];
  }
  return entropy;
}

PolicyTerm PolicyGradientTerm(double log_prob, double advantage) { return {-advantage * log_prob, -advantage}; }

SurrogateTerm ClippedSurrogate(double log_prob, double old_log_prob, double advantage, double clip_range) {
  SurrogateTerm t;
  t.ratio = std::exp(log_prob - old_log_prob);
  const double surr1 = t.ratio * advantage;
  const double clipped = std::min(std::max(t.ratio, 1.0 - clip_range), 1.0 + clip_range);
  const double surr2 = clipped * advantage;
  t.loss = -std::min(surr1, surr2);
  // The clipped branch is constant in log pi: no gradient where it is the smaller.
  t.d_log_prob = surr1 <= surr2 ? -advantage * t.ratio : 0.0;
  t.clipped = std::abs(t.ratio - 1) > clip_range;
  return t;
}

ValueTerm ValueLoss(double value, double target, std::optional<double> clip_range_vf, double old_value) {
  ValueTerm t;
  double v = value;
  bool inside = true;
  if (clip_range_vf) {
    const double c = *clip_range_vf;
    v = old_value + std::min(std::max(value - old_value, -c), c);
    inside = value - old_value >= -c && value - old_value <= c;
  }
  t.loss = (target - v) * (target - v);
  t.d_value = inside ? 2.0 * (v - target) : 0.0;
  return t;
}

namespace {

// log pi(a|s) and H of sample i; with `p`/`logp` ([width]) and `seg_entropy`
// ([segments]) filled for the categorical gradient.
double SampleLogProb(const ActionHead& head, const ActorCriticOutputs& out, const ActorCriticBatch& batch, int64_t i,
                     double* entropy, double* p, double* logp, double* seg_entropy) {
  const int64_t n = head.width();
  const float* l = out.pi + i * n;
  double lp = 0, h = 0;
  if (head.gaussian()) {
    static const double half_log_2pi = 0.5 * std::log(2 * M_PI);
    const float* a = static_cast<const float*>(batch.actions) + i * n;
    const float* ls = out.log_std + (out.log_std_per_sample ? i * n : 0);
    for (int64_t j = 0; j < n; ++j) {
      const double z = (a[j] - l[j]) / std::exp(ls[j]);
      lp += -0.5 * z * z - ls[j] - half_log_2pi;
      h += ls[j] + 0.5 + half_log_2pi;
    }
  } else {
    const auto& seg = head.segments();
    const bool* m = batch.masks ? batch.masks + i * n : nullptr;
    const int64_t* act = static_cast<const int64_t*>(batch.actions) + i * static_cast<int64_t>(seg.size());
    for (size_t d = 0, o = 0; d < seg.size(); o += seg[d], ++d) {
      seg_entropy[d] = SegmentSoftmax(l + o, m ? m + o : nullptr, seg[d], p + o, logp + o);
      h += seg_entropy[d];
      lp += logp[o + act[d]];
    }
  }
  *entropy = h;
  return lp;
}

}  // namespace

ActorCriticLossValues ComputeActorCriticLoss(const ActionHead& head, const ActorCriticOutputs& out,
                                             const ActorCriticBatch& batch, ActorCriticGradients* grads) {
  const int64_t B = batch.size, n = head.width();
  RLF_CHECK(B >= 1, "actor-critic loss on an empty batch");
  RLF_CHECK(!batch.clip_range || batch.old_log_prob, "PPO's loss needs the old log-probabilities");
  RLF_CHECK(!batch.clip_range_vf || batch.old_values, "value clipping needs the old values");
  const double inv_b = 1.0 / static_cast<double>(B);
  ActorCriticLossValues r;
  std::fill(grads->d_pi, grads->d_pi + B * n, 0.0f);
  std::vector<double> d_log_std(head.gaussian() ? n : 0, 0.0);
  std::vector<double> p(n), logp(n), seg_entropy(head.segments().size());
  for (int64_t i = 0; i < B; ++i) {
    double entropy = 0;
    const double lp = SampleLogProb(head, out, batch, i, &entropy, p.data(), logp.data(), seg_entropy.data());
    const double a_i = batch.advantages[i];
    // The policy term and g = dL/dlog pi(a_i|s_i).
    double g;
    if (batch.clip_range) {
      const SurrogateTerm s = ClippedSurrogate(lp, batch.old_log_prob[i], a_i, *batch.clip_range);
      r.policy_loss += s.loss * inv_b;
      r.approx_kl += ((s.ratio - 1) - (lp - batch.old_log_prob[i])) * inv_b;
      r.clip_fraction += (s.clipped ? 1.0 : 0.0) * inv_b;
      g = s.d_log_prob * inv_b;
    } else {
      const PolicyTerm t = PolicyGradientTerm(lp, a_i);
      r.policy_loss += t.loss * inv_b;
      g = t.d_log_prob * inv_b;
    }
    r.entropy += entropy * inv_b;
    float* dl = grads->d_pi + i * n;
    const float* l = out.pi + i * n;
    if (head.gaussian()) {
      const float* a = static_cast<const float*>(batch.actions) + i * n;
      const float* ls = out.log_std + (out.log_std_per_sample ? i * n : 0);
      for (int64_t j = 0; j < n; ++j) {
        const double s = std::exp(ls[j]);
        const double z = (a[j] - l[j]) / s;
        dl[j] = static_cast<float>(g * z / s);
        if (out.log_std_per_sample) {
          grads->d_log_std[i * n + j] = static_cast<float>(g * (z * z - 1) - batch.ent_coef * inv_b);
        } else {
          d_log_std[j] += g * (z * z - 1);
        }
      }
    } else {
      // Each segment: g (onehot - p) for the policy term, and
      // d(-ent_coef H / B)/du_j = ent_coef / B p_j (log p_j + H_segment).
      const auto& seg = head.segments();
      const int64_t* act = static_cast<const int64_t*>(batch.actions) + i * static_cast<int64_t>(seg.size());
      for (size_t d = 0, o = 0; d < seg.size(); o += seg[d], ++d) {
        for (int64_t j = 0; j < seg[d]; ++j) {
          if (p[o + j] == 0) continue;
          double v = g * ((j == act[d] ? 1.0 : 0.0) - p[o + j]);
          v += batch.ent_coef * inv_b * p[o + j] * (logp[o + j] + seg_entropy[d]);
          dl[o + j] = static_cast<float>(v);
        }
      }
    }
    const ValueTerm v = ValueLoss(out.value[i], batch.returns[i], batch.clip_range_vf,
                                  batch.old_values ? batch.old_values[i] : 0.0);
    r.value_loss += v.loss * inv_b;
    grads->d_value[i] = static_cast<float>(batch.vf_coef * v.d_value * inv_b);
  }
  // dH/dlog sigma_j = 1 per sample: -ent_coef for the shared log std.
  if (head.gaussian() && !out.log_std_per_sample)
    for (int64_t j = 0; j < n; ++j) grads->d_log_std[j] = static_cast<float>(d_log_std[j] - batch.ent_coef);
  r.loss = r.policy_loss + batch.vf_coef * r.value_loss - batch.ent_coef * r.entropy;
  return r;
}

void ActorCriticLogProbs(const ActionHead& head, const ActorCriticOutputs& out, const ActorCriticBatch& batch,
                         float* log_prob) {
  const int64_t n = head.width();
  std::vector<double> p(n), logp(n), seg_entropy(head.segments().size());
  for (int64_t i = 0; i < batch.size; ++i) {
    double entropy = 0;
    log_prob[i] =
        static_cast<float>(SampleLogProb(head, out, batch, i, &entropy, p.data(), logp.data(), seg_entropy.data()));
  }
}

}  // namespace rlforge
