#include "rlforge/algos/offline/iql.h"

#include <cmath>

#include "rlforge/algos/dqn/dqn.h"
#include "rlforge/algos/export_model.h"
#include "rlforge/algos/flat_adam.h"
#include "rlforge/algos/off_policy.h"
#include "rlforge/algos/on_policy.h"
#include "rlforge/core/error.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void IqlConfig::Visit(FieldVisitor& v) {
  offline.Visit(v);
  v.Field("gamma", &gamma, "discount factor");
  v.Field("expectile", &expectile, "expectile tau of the value regression (0.5: mean; towards 1: max over the data's actions)");
  v.Field("beta", &beta, "inverse temperature of the actor's advantage weights exp(beta A)");
  v.Field("max_weight", &max_weight, "cap on the advantage weights");
  v.Field("tau", &tau, "target Q Polyak coefficient per gradient step");
  v.Field("actor_learning_rate", &actor_learning_rate,
          "Adam learning rate of the actor (number, lin_<start>[_<end>] or cos_<start>[_<end>]; IQL's reference code: cos_3e-4)");
}

void IqlConfig::Validate() const {
  offline.Validate();
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1], got ", gamma);
  RLF_CHECK_ARG(expectile > 0 && expectile < 1, "config key 'expectile' must be in (0, 1), got ", expectile);
  RLF_CHECK_ARG(beta >= 0 && std::isfinite(beta), "config key 'beta' must be >= 0, got ", beta);
  RLF_CHECK_ARG(max_weight > 0, "config key 'max_weight' must be > 0, got ", max_weight);
  RLF_CHECK_ARG(tau > 0 && tau <= 1, "config key 'tau' must be in (0, 1], got ", tau);
  actor_learning_rate.CheckRate("actor_learning_rate");
}

MlpHeadImpl::MlpHeadImpl(int64_t in, const std::vector<int64_t>& hidden, const std::string& activation, int64_t out) {
  torso_ = register_module("torso", Mlp(in, hidden, activation, /*ortho_init=*/false));
  head_ = register_module("head", torch::nn::Linear(torso_->out_features(), out));
}

torch::Tensor MlpHeadImpl::forward(const torch::Tensor& x) { return head_->forward(torso_->forward(x)); }

namespace {

// Actions as Q-network inputs: one-hot per dimension (MultiDiscrete), floats (Box).
torch::Tensor ActionFeatures(const torch::Tensor& actions, const Space& s) {
  if (s.kind() == SpaceKind::kMultiDiscrete) {
    std::vector<torch::Tensor> parts;
    for (size_t i = 0; i < s.nvec().size(); ++i)
      parts.push_back(torch::one_hot(actions.select(1, static_cast<int64_t>(i)), s.nvec()[i]));
    return torch::cat(parts, 1).to(torch::kFloat32);
  }
  return actions.to(torch::kFloat32).reshape({actions.size(0), -1});
}

}  // namespace

Iql::Iql(const RunContext& ctx, const IqlConfig& config)
    : OfflineAlgorithm(ctx, config.offline, config.gamma),
      config_(config),
      actor_(obs_space_, act_space_, config.offline) {
  actor_.SetLearningRate(config.actor_learning_rate.start);
  discrete_ = act_space_.kind() == SpaceKind::kDiscrete;
  const int64_t d = FeatureSize(obs_space_);
  int64_t q_in = d, q_out = 1;
  if (discrete_) {
    q_out = act_space_.n();
  } else if (act_space_.kind() == SpaceKind::kMultiDiscrete) {
    for (int64_t n : act_space_.nvec()) q_in += n;
  } else {
    q_in += act_space_.size();
  }
  const auto& arch = config.offline.net_arch;
  const auto& act = config.offline.activation;
  q1_ = MlpHead(q_in, arch, act, q_out);
  q2_ = MlpHead(q_in, arch, act, q_out);
  q1_target_ = MlpHead(q_in, arch, act, q_out);
  q2_target_ = MlpHead(q_in, arch, act, q_out);
  v_ = MlpHead(d, arch, act, 1);
  PolyakUpdate(*q1_, *q1_target_, 1.0);
  PolyakUpdate(*q2_, *q2_target_, 1.0);
  std::vector<torch::Tensor> q_params = q1_->parameters();
  for (const auto& p : q2_->parameters()) q_params.push_back(p);
  const double lr = config.offline.learning_rate.start;
  q_opt_ = std::make_unique<torch::optim::Adam>(q_params, torch::optim::AdamOptions(lr));
  v_opt_ = std::make_unique<torch::optim::Adam>(v_->parameters(), torch::optim::AdamOptions(lr));
  DeclareMetrics({"q_loss", "value_loss", "actor_loss", "advantage_mean", "weight_mean", "q_data", "holdout_nll",
                  "learning_rate", "actor_learning_rate"});
}

void Iql::PrepareData() {
  PrepareFeatures();
  if (!discrete_) action_features_ = ActionFeatures(data_.actions, act_space_);
}

torch::Tensor Iql::Q(MlpHead& q, const torch::Tensor& f, const torch::Tensor& idx) {
  if (discrete_) return q->forward(f).gather(1, data_.actions.index_select(0, idx).reshape({-1, 1})).squeeze(1);
  return q->forward(torch::cat({f, action_features_.index_select(0, idx)}, 1)).squeeze(1);
}

Metrics Iql::Iterate() {
  EnsureData();
  const int64_t B = config_.offline.batch_size;
  const double clip = config_.offline.max_grad_norm;
  double q_loss_sum = 0, v_loss_sum = 0, actor_sum = 0, adv_sum = 0, w_sum = 0, q_sum = 0;
  for (int64_t u = 0; u < config_.offline.updates_per_iteration; ++u) {
    const double lr = Rate(config_.offline.learning_rate);
    SetLearningRate(*q_opt_, lr);
    SetLearningRate(*v_opt_, lr);
    actor_.SetLearningRate(Rate(config_.actor_learning_rate));
    const torch::Tensor idx = SampleIndices(B);
    const torch::Tensor f = Features(idx), nf = Features(idx, true);
    const torch::Tensor r = data_.rewards.index_select(0, idx), term = data_.terminated.index_select(0, idx);
    torch::Tensor q_target;
    {
      torch::NoGradGuard g;
      q_target = torch::min(Q(q1_target_, f, idx), Q(q2_target_, f, idx));
    }
    // V: expectile regression towards the target Q.
    const torch::Tensor v = v_->forward(f).squeeze(1);
    const torch::Tensor v_loss = ExpectileLoss(q_target - v, config_.expectile);
    v_opt_->zero_grad();
    v_loss.backward();
    ClipGradientsOrThrow(*v_, clip, updates_);
    v_opt_->step();
    // Q: TD against V(s').
    torch::Tensor y;
    {
      torch::NoGradGuard g;
      y = r + config_.gamma * (1.0 - term) * v_->forward(nf).squeeze(1);
    }
    const torch::Tensor q1 = Q(q1_, f, idx), q2 = Q(q2_, f, idx);
    const torch::Tensor q_loss = (q1 - y).square().mean() + (q2 - y).square().mean();
    q_opt_->zero_grad();
    q_loss.backward();
    ClipGradientsOrThrow(*q1_, clip, updates_);  // each network's norm on its own
    ClipGradientsOrThrow(*q2_, clip, updates_);
    q_opt_->step();
    // Actor: advantage-weighted log-likelihood of the data's actions.
    const torch::Tensor adv = q_target - v.detach();
    const torch::Tensor w = AdvantageWeights(adv, config_.beta, config_.max_weight).contiguous();
    const torch::Tensor masks = data_.masks.defined() ? data_.masks.index_select(0, idx).contiguous() : data_.masks;
    actor_sum += actor_.Step(data_.obs.index_select(0, idx), data_.actions.index_select(0, idx).contiguous(), masks,
                             w, 0.0, clip);
    SoftUpdate(*q1_, *q1_target_, config_.tau);
    SoftUpdate(*q2_, *q2_target_, config_.tau);
    const double vl = v_loss.item<double>(), ql = q_loss.item<double>();
    CheckFiniteLoss(vl, "IQL value loss");
    CheckFiniteLoss(ql, "IQL Q loss");
    v_loss_sum += vl;
    q_loss_sum += ql;
    adv_sum += adv.mean().item<double>();
    w_sum += w.mean().item<double>();
    q_sum += q_target.mean().item<double>();
    ++updates_;
  }
  const double n = static_cast<double>(config_.offline.updates_per_iteration);
  Metrics m{{"q_loss", q_loss_sum / n},  {"value_loss", v_loss_sum / n}, {"actor_loss", actor_sum / n},
            {"advantage_mean", adv_sum / n}, {"weight_mean", w_sum / n},     {"q_data", q_sum / n},
            {"learning_rate", LearningRate(*q_opt_)},  // read back: the last update's
            {"actor_learning_rate", actor_.learning_rate()}};
  if (data_.holdout.size(0) > 0) {
    const torch::Tensor h = data_.holdout;
    m["holdout_nll"] = actor_.Nll(data_.obs.index_select(0, h), data_.actions.index_select(0, h).contiguous(),
                                  data_.masks.defined() ? data_.masks.index_select(0, h).contiguous() : data_.masks);
  }
  return m;
}

std::unique_ptr<Policy> Iql::MakePolicy(bool deterministic) {
  return actor_.MakePolicy(deterministic, static_cast<uint64_t>(ctx_.run.seed) + 7);
}

void Iql::VisitState(StateVisitor& v) {
  VisitCommonState(v);
  actor_.Visit(v, "actor/");
  VisitModule(v, "q1", *q1_);
  VisitModule(v, "q2", *q2_);
  VisitModule(v, "q1_target", *q1_target_);
  VisitModule(v, "q2_target", *q2_target_);
  VisitModule(v, "v", *v_);
  VisitOptimizer(v, "q_optimizer", *q_opt_);
  VisitOptimizer(v, "v_optimizer", *v_opt_);
}

runtime::Model Iql::ExportModel() {
  runtime::Model m = ExportActorCritic(*actor_.net(), obs_space_, act_space_, std::nullopt, 10.0);
  m.action_mask = env_has_masks_;
  return m;
}

}  // namespace rlforge
