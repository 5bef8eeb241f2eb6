#include "rlforge/algos/offline/cql.h"

#include <cmath>

#include "rlforge/algos/export_model.h"
#include "rlforge/algos/off_policy.h"
#include "rlforge/algos/on_policy.h"
#include "rlforge/core/error.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void CqlConfig::Visit(FieldVisitor& v) {
  offline.Visit(v);
  v.Field("gamma", &gamma, "discount factor");
  v.Field("alpha", &alpha, "weight of the CQL regularizer logsumexp Q - Q(s, a_data) (0: offline DQN)");
  v.Field("tau", &tau, "target-network Polyak coefficient per gradient step (1: copy every step)");
  v.Field("huber", &huber, "Huber TD loss (false: squared error)");
}

void CqlConfig::Validate() const {
  offline.Validate();
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1], got ", gamma);
  RLF_CHECK_ARG(alpha >= 0 && std::isfinite(alpha), "config key 'alpha' must be >= 0, got ", alpha);
  RLF_CHECK_ARG(tau > 0 && tau <= 1, "config key 'tau' must be in (0, 1], got ", tau);
}

Cql::Cql(const RunContext& ctx, const CqlConfig& config)
    : OfflineAlgorithm(ctx, config.offline, config.gamma), config_(config) {
  RLF_CHECK_ARG(act_space_.kind() == SpaceKind::kDiscrete, "cql takes Discrete actions; ", ctx.run.env, " has ",
                act_space_.ToString(), " (use iql or bc)");
  num_actions_ = act_space_.n();
  head_ = std::make_shared<ExpectedQHead>(config.huber, 0.0, 0.0);
  q_ = QNetwork(obs_space_, num_actions_, config.offline.net_arch, config.offline.activation, false);
  target_ = QNetwork(obs_space_, num_actions_, config.offline.net_arch, config.offline.activation, false);
  NetworkLoaded();
  opt_ = std::make_unique<torch::optim::Adam>(q_->parameters(), torch::optim::AdamOptions(config.offline.learning_rate));
  DeclareMetrics({"loss", "td_loss", "cql_regularizer", "q_data", "holdout_agreement"});
}

void Cql::NetworkLoaded() { PolyakUpdate(*q_, *target_, 1.0); }

void Cql::PrepareData() {
  features_ = OfflineFeatures(data_.obs, obs_space_);
  next_features_ = OfflineFeatures(data_.next_obs, obs_space_);
  if (data_.next_masks.defined()) next_masks_u8_ = data_.next_masks.to(torch::kUInt8).contiguous();
}

Metrics Cql::Iterate() {
  EnsureData();
  const int64_t B = config_.offline.batch_size;
  double loss = 0, td_loss = 0, reg_sum = 0, q_sum = 0;
  std::vector<double> td(static_cast<size_t>(B));
  const torch::Tensor discounts = torch::full({B}, static_cast<float>(config_.gamma));
  const torch::Tensor weights = torch::ones({B});
  for (int64_t u = 0; u < config_.offline.updates_per_iteration; ++u) {
    const torch::Tensor idx = SampleIndices(B);
    const torch::Tensor f = features_.index_select(0, idx), nf = next_features_.index_select(0, idx);
    const torch::Tensor a = data_.actions.index_select(0, idx).contiguous();
    const torch::Tensor r = data_.rewards.index_select(0, idx).contiguous();
    const torch::Tensor term = data_.terminated.index_select(0, idx).to(torch::kUInt8).contiguous();
    torch::Tensor next_masks, masks;
    if (next_masks_u8_.defined()) {
      next_masks = next_masks_u8_.index_select(0, idx).contiguous();
      masks = data_.masks.index_select(0, idx);
    }
    torch::Tensor target_next, online_next;
    {
      torch::NoGradGuard g;
      target_next = target_->forward(nf).contiguous();
      online_next = q_->forward(nf).contiguous();
    }
    q_->train();
    const torch::Tensor out = q_->forward(f);
    const torch::Tensor out_c = out.detach().contiguous();
    QBatch qb;
    qb.size = B;
    qb.num_actions = num_actions_;
    qb.actions = a.data_ptr<int64_t>();
    qb.rewards = r.data_ptr<float>();
    qb.discounts = discounts.data_ptr<float>();
    qb.terminated = term.data_ptr<uint8_t>();
    qb.next_masks = next_masks.defined() ? next_masks.data_ptr<uint8_t>() : nullptr;
    qb.weights = weights.data_ptr<float>();
    torch::Tensor d_out = torch::empty_like(out_c);
    const QLossValues l = head_->Loss(out_c.data_ptr<float>(), target_next.data_ptr<float>(),
                                      online_next.data_ptr<float>(), qb, td.data(), d_out.data_ptr<float>());
    const torch::Tensor reg = CqlRegularizer(out, a, masks);
    const double reg_value = reg.item<double>();
    CheckFiniteLoss(l.loss, "TD loss");
    CheckFiniteLoss(reg_value, "CQL regularizer");
    q_->zero_grad();
    torch::autograd::backward({out, reg}, {d_out, torch::full({}, static_cast<float>(config_.alpha))});
    ClipGradientsOrThrow(*q_, config_.offline.max_grad_norm, updates_);
    opt_->step();
    SoftUpdate(*q_, *target_, config_.tau);
    td_loss += l.loss;
    reg_sum += reg_value;
    loss += l.loss + config_.alpha * reg_value;
    q_sum += out_c.gather(1, a.reshape({-1, 1})).mean().item<double>();
    ++updates_;
  }
  const double n = static_cast<double>(config_.offline.updates_per_iteration);
  Metrics m{{"loss", loss / n}, {"td_loss", td_loss / n}, {"cql_regularizer", reg_sum / n}, {"q_data", q_sum / n}};
  if (data_.holdout.size(0) > 0) {
    torch::NoGradGuard g;
    torch::Tensor q = q_->forward(features_.index_select(0, data_.holdout));
    if (data_.masks.defined()) q = q.masked_fill(data_.masks.index_select(0, data_.holdout).logical_not(), -INFINITY);
    m["holdout_agreement"] =
        q.argmax(1).eq(data_.actions.index_select(0, data_.holdout)).to(torch::kFloat64).mean().item<double>();
  }
  return m;
}

std::unique_ptr<Policy> Cql::MakePolicy(bool /*deterministic: greedy in Q either way*/) {
  return std::make_unique<QNetworkPolicy>(q_, head_, obs_space_, act_space_);
}

void Cql::VisitState(StateVisitor& v) {
  VisitCommonState(v);
  VisitModule(v, "q", *q_);
  VisitModule(v, "target", *target_);
  VisitOptimizer(v, "optimizer", *opt_);
}

runtime::Model Cql::ExportModel() {
  runtime::Model m = ExportQNetwork(*q_, obs_space_, act_space_, 1);
  m.action_mask = env_has_masks_;
  return m;
}

}  // namespace rlforge
