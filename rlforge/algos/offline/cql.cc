#include "rlforge/algos/offline/cql.h"

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "rlforge/algos/export_model.h"
#include "rlforge/algos/flat_adam.h"
#include "rlforge/algos/off_policy.h"
#include "rlforge/algos/on_policy.h"
#include "rlforge/core/error.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void CqlConfig::Visit(FieldVisitor& v) {
  offline.Visit(v);
  v.Field("gamma", &gamma, "discount factor");
  v.Field("alpha", &alpha, "weight of the CQL regularizer logsumexp Q - Q(s, a_data) (0: offline DQN; Box actions: offline SAC)");
  v.Field("tau", &tau, "target-network Polyak coefficient per gradient step (1: copy every step)");
  v.Field("huber", &huber, "Huber TD loss (false: squared error)");
  v.Field("n_action_samples", &n_action_samples,
          "Box actions: actions per state drawn from each of uniform, pi(.|s) and pi(.|s') for the logsumexp");
  v.Field("ent_coef", &ent_coef, "Box actions: SAC's entropy coefficient: auto (learned from 1), auto_<initial> or a number");
  v.Field("target_entropy", &target_entropy, "Box actions: target entropy of the learned ent_coef: auto (-dim(A)) or a number");
  v.Field("actor_learning_rate", &actor_learning_rate, "Box actions: Adam learning rate of the actor and of ent_coef (number, lin_<start>[_<end>] or cos_<start>[_<end>])");
  v.Field("soft_q_backup", &soft_q_backup, "Box actions: SAC's soft target, less ent_coef log pi(a'|s')");
  v.Field("alpha_learning_rate", &alpha_learning_rate,
          "Adam learning rate of alpha's multiplier lambda, tuned towards alpha_threshold (CQL's Lagrangian form; 0: alpha fixed)");
  v.Field("alpha_threshold", &alpha_threshold,
          "the regularizer's target value (per critic) when alpha_learning_rate > 0: lambda shrinks below it, grows above");
  v.Field("deterministic_backup", &deterministic_backup,
          "Box actions: the TD target at a' = tanh(mu(s')) (false: a' ~ pi(.|s'))");
}

void CqlConfig::Validate() const {
  offline.Validate();
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1], got ", gamma);
  RLF_CHECK_ARG(alpha >= 0 && alpha <= 1e6, "config key 'alpha' must be in [0, 1e6], got ", alpha);
  RLF_CHECK_ARG(tau > 0 && tau <= 1, "config key 'tau' must be in (0, 1], got ", tau);
  RLF_CHECK_ARG(n_action_samples >= 1 && n_action_samples <= 1000, "config key 'n_action_samples' must be in 1..1000, got ",
                n_action_samples);
  ParseEntCoef(ent_coef, target_entropy, 1);
  actor_learning_rate.CheckRate("actor_learning_rate");
  RLF_CHECK_ARG(alpha_learning_rate >= 0 && alpha_learning_rate <= 1e3,
                "config key 'alpha_learning_rate' must be in [0, 1e3], got ", alpha_learning_rate);
  RLF_CHECK_ARG(std::abs(alpha_threshold) <= 1e9, "config key 'alpha_threshold' must be in [-1e9, 1e9], got ",
                alpha_threshold);
  RLF_CHECK_ARG(alpha_learning_rate > 0 || alpha_threshold == 0,
                "config key 'alpha_threshold' takes effect only with alpha_learning_rate > 0 (0: alpha stays fixed)");
  RLF_CHECK_ARG(alpha_learning_rate == 0 || alpha > 0,
                "config key 'alpha_learning_rate' tunes alpha x lambda, which stays 0 with alpha 0; set alpha > 0");
  RLF_CHECK_ARG(!(soft_q_backup && deterministic_backup),
                "config keys 'soft_q_backup' and 'deterministic_backup' exclude each other (the soft target samples a')");
}

Cql::Cql(const RunContext& ctx, const CqlConfig& config)
    : OfflineAlgorithm(ctx, config.offline, config.gamma),
      config_(config),
      weight_(config.alpha, config.alpha_learning_rate, config.alpha_threshold) {
  const bool multi = act_space_.kind() == SpaceKind::kMultiDiscrete;
  RLF_CHECK_ARG(act_space_.kind() == SpaceKind::kDiscrete || multi, "cql takes Discrete, MultiDiscrete or Box actions; ",
                ctx.run.env, " has ", act_space_.ToString(), " (use iql or bc)");
  const CqlConfig defaults;
  std::vector<std::string> box_only;  // the ones set: named, not the whole list
  if (config.n_action_samples != defaults.n_action_samples) box_only.push_back("n_action_samples");
  if (config.ent_coef != defaults.ent_coef) box_only.push_back("ent_coef");
  if (config.target_entropy != defaults.target_entropy) box_only.push_back("target_entropy");
  if (!(config.actor_learning_rate == defaults.actor_learning_rate)) box_only.push_back("actor_learning_rate");
  if (config.soft_q_backup != defaults.soft_q_backup) box_only.push_back("soft_q_backup");
  if (config.deterministic_backup != defaults.deterministic_backup) box_only.push_back("deterministic_backup");
  RLF_CHECK_ARG(box_only.empty(), "config key", box_only.size() > 1 ? "s " : " ", Join(box_only, ", "),
                box_only.size() > 1 ? " are" : " is", " for Box actions; ", ctx.run.env, " has ", act_space_.ToString());
  RLF_CHECK_ARG(config.alpha_learning_rate == 0 || config.alpha_threshold > 0,
                "config key 'alpha_threshold' must be > 0 with alpha_learning_rate on ", act_space_.ToString(),
                " actions: their regularizer is never negative, so alpha would fall to 0; got ", config.alpha_threshold);
  if (multi) {
    nvec_ = act_space_.nvec();
    for (int64_t n : nvec_) num_actions_ += n;
  } else {
    num_actions_ = act_space_.n();
  }
  head_ = std::make_shared<ExpectedQHead>(config.huber, 0.0, 0.0);
  q_ = QNetwork(obs_space_, num_actions_, config.offline.net_arch, config.offline.activation, false);
  target_ = QNetwork(obs_space_, num_actions_, config.offline.net_arch, config.offline.activation, false);
  NetworkLoaded();
  opt_ = std::make_unique<torch::optim::Adam>(q_->parameters(), torch::optim::AdamOptions(config.offline.learning_rate.start));
  DeclareMetrics({"loss", "td_loss", "cql_regularizer", "cql_alpha", "q_data", "holdout_agreement", "learning_rate"});
}

void Cql::NetworkLoaded() { PolyakUpdate(*q_, *target_, 1.0); }

void Cql::PrepareData() {
  PrepareFeatures();
  if (data_.masks.defined()) {
    // The regularizer's logsumexp needs a legal action (value) at every step.
    const std::vector<int64_t> dims = nvec_.empty() ? std::vector<int64_t>{num_actions_} : nvec_;
    int64_t o = 0;
    for (size_t d = 0; d < dims.size(); o += dims[d], ++d) {
      const torch::Tensor none = data_.masks.narrow(1, o, dims[d]).any(1).logical_not();
      if (!none.any().item<bool>()) continue;
      throw InvalidArgument(StrCat("dataset ", config_.offline.dataset, ": step ", none.nonzero()[0][0].item<int64_t>(),
                                   " has no legal action", nvec_.empty() ? "" : StrCat(" value in dimension ", d),
                                   " (its action_mask is all false)"));
    }
  }
  if (data_.next_masks.defined()) next_masks_u8_ = data_.next_masks.to(torch::kUInt8).contiguous();
}

Metrics Cql::Iterate() {
  EnsureData();
  const int64_t B = config_.offline.batch_size;
  double loss = 0, td_loss = 0, reg_sum = 0, weight_sum = 0, q_sum = 0;
  std::vector<double> td(static_cast<size_t>(B));
  const torch::Tensor discounts = torch::full({B}, static_cast<float>(config_.gamma));
  const torch::Tensor weights = torch::ones({B});
  for (int64_t u = 0; u < config_.offline.updates_per_iteration; ++u) {
    SetLearningRate(*opt_, Rate(config_.offline.learning_rate));
    const torch::Tensor idx = SampleIndices(B);
    if (!nvec_.empty()) {
      FactoredStep(idx, &loss, &td_loss, &reg_sum, &weight_sum, &q_sum);
      ++updates_;
      continue;
    }
    const torch::Tensor f = Features(idx), nf = Features(idx, true);
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
    const double weight = weight_.Step(reg_value);
    q_->zero_grad();
    torch::autograd::backward({out, reg}, {d_out, torch::full({}, static_cast<float>(weight))});
    ClipGradientsOrThrow(*q_, config_.offline.max_grad_norm, updates_);
    opt_->step();
    SoftUpdate(*q_, *target_, config_.tau);
    td_loss += l.loss;
    reg_sum += reg_value;
    weight_sum += weight;
    loss += l.loss + weight * reg_value;
    q_sum += out_c.gather(1, a.reshape({-1, 1})).mean().item<double>();
    ++updates_;
  }
  const double n = static_cast<double>(config_.offline.updates_per_iteration);
  Metrics m{{"loss", loss / n},
            {"td_loss", td_loss / n},
            {"cql_regularizer", reg_sum / n},
            {"cql_alpha", weight_sum / n},
            {"q_data", q_sum / n},
            {"learning_rate", LearningRate(*opt_)}};  // read back: the last update's
  if (data_.holdout.size(0) > 0) {
    // The greedy action under the data's masks equals the data's (every dimension).
    torch::NoGradGuard g;
    torch::Tensor q = MapFeatures(data_.holdout, [&](const torch::Tensor& f) { return q_->forward(f); });
    if (data_.masks.defined()) q = q.masked_fill(data_.masks.index_select(0, data_.holdout).logical_not(), -INFINITY);
    const torch::Tensor a = data_.actions.index_select(0, data_.holdout);
    torch::Tensor same;
    if (nvec_.empty()) {
      same = q.argmax(1).eq(a);
    } else {
      same = torch::ones({a.size(0)}, torch::kBool);
      int64_t o = 0;
      for (size_t d = 0; d < nvec_.size(); o += nvec_[d], ++d)
        same = same.logical_and(q.narrow(1, o, nvec_[d]).argmax(1).eq(a.select(1, static_cast<int64_t>(d))));
    }
    m["holdout_agreement"] = same.to(torch::kFloat64).mean().item<double>();
  }
  return m;
}

void Cql::FactoredStep(const torch::Tensor& idx, double* loss, double* td_loss, double* reg_sum, double* weight_sum,
                       double* q_data) {
  const torch::Tensor f = Features(idx), nf = Features(idx, true);
  const torch::Tensor a = data_.actions.index_select(0, idx);
  const torch::Tensor r = data_.rewards.index_select(0, idx), term = data_.terminated.index_select(0, idx);
  const torch::Tensor masks = data_.masks.defined() ? data_.masks.index_select(0, idx) : torch::Tensor();
  torch::Tensor y;
  {
    torch::NoGradGuard g;
    const torch::Tensor next_masks = data_.next_masks.defined() ? data_.next_masks.index_select(0, idx) : torch::Tensor();
    const torch::Tensor next_v = FactoredGreedyValue(target_->forward(nf), q_->forward(nf), next_masks, nvec_);
    y = r + config_.gamma * (1.0 - term) * next_v;
  }
  q_->train();
  const torch::Tensor out = q_->forward(f);
  const torch::Tensor q = FactoredQ(out, a, nvec_);
  const torch::Tensor diff = q - y;
  const torch::Tensor td = (config_.huber ? torch::where(diff.abs() < 1.0, 0.5 * diff * diff, diff.abs() - 0.5)
                                          : diff * diff)
                               .mean();
  const torch::Tensor reg = FactoredCqlRegularizer(out, a, masks, nvec_);
  const double td_value = td.item<double>(), reg_value = reg.item<double>();
  CheckFiniteLoss(td_value, "TD loss");
  CheckFiniteLoss(reg_value, "CQL regularizer");
  const double weight = weight_.Step(reg_value);
  q_->zero_grad();
  (td + weight * reg).backward();
  ClipGradientsOrThrow(*q_, config_.offline.max_grad_norm, updates_);
  opt_->step();
  SoftUpdate(*q_, *target_, config_.tau);
  *loss += td_value + weight * reg_value;
  *td_loss += td_value;
  *reg_sum += reg_value;
  *weight_sum += weight;
  *q_data += q.detach().mean().item<double>();
}

std::unique_ptr<Policy> Cql::MakePolicy(bool /*deterministic: greedy in Q either way*/) {
  return std::make_unique<QNetworkPolicy>(q_, head_, obs_space_, act_space_);
}

void Cql::VisitState(StateVisitor& v) {
  VisitCommonState(v);
  VisitModule(v, "q", *q_);
  VisitModule(v, "target", *target_);
  VisitOptimizer(v, "optimizer", *opt_);
  weight_.Visit(v);
}

runtime::Model Cql::ExportModel() {
  runtime::Model m = ExportQNetwork(*q_, obs_space_, act_space_, 1);
  m.action_mask = env_has_masks_;
  m.conditional_mask = env_conditional_masks_;
  return m;
}

// ---- Box actions ----------------------------------------------------------------

ContinuousCql::ContinuousCql(const RunContext& ctx, const CqlConfig& config)
    : OfflineAlgorithm(ctx, config.offline, config.gamma),
      config_(config),
      weight_(config.alpha, config.alpha_learning_rate, config.alpha_threshold) {
  ScaledBoxBounds(act_space_, "cql", ctx.run.env, &low_, &high_);
  act_dim_ = act_space_.size();
  const int64_t d = FeatureSize(obs_space_);
  const auto& arch = config.offline.net_arch;
  const auto& act = config.offline.activation;
  critics_ = Critics(d, act_dim_, 2, arch, act);
  target_ = Critics(d, act_dim_, 2, arch, act);
  actor_ = SquashedGaussianActor(d, act_dim_, arch, act);
  nets_.register_module("actor", actor_);
  nets_.register_module("critics", critics_);
  NetworkLoaded();
  const EntCoefSpec ent = ParseEntCoef(config.ent_coef, config.target_entropy, act_dim_);
  learn_alpha_ = ent.learned;
  target_entropy_ = ent.target_entropy;
  log_alpha_ = torch::full({1}, std::log(ent.initial), torch::kFloat32).requires_grad_(learn_alpha_);
  const double lr = config.offline.learning_rate.start, actor_lr = config.actor_learning_rate.start;
  actor_opt_ = std::make_unique<torch::optim::Adam>(actor_->parameters(), torch::optim::AdamOptions(actor_lr));
  critic_opt_ = std::make_unique<torch::optim::Adam>(critics_->parameters(), torch::optim::AdamOptions(lr));
  alpha_opt_ =
      std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{log_alpha_}, torch::optim::AdamOptions(actor_lr));
  DeclareMetrics({"critic_loss", "td_loss", "cql_regularizer", "cql_alpha", "q_data", "actor_loss", "ent_coef",
                  "entropy", "holdout_action_mse", "learning_rate", "actor_learning_rate"});
}

void ContinuousCql::NetworkLoaded() { PolyakUpdate(*critics_, *target_, 1.0); }

void ContinuousCql::PrepareData() {
  PrepareFeatures();
  const torch::Tensor low = torch::tensor(low_), high = torch::tensor(high_);
  scaled_actions_ = (2.0 * (data_.actions - low) / (high - low) - 1.0).clamp(-1.0, 1.0).contiguous();
}

std::pair<torch::Tensor, torch::Tensor> ContinuousCql::Sample(const torch::Tensor& f) {
  const torch::Tensor eps = torch::randn({f.size(0), act_dim_}, gen_, torch::kFloat32);
  return SquashedGaussianRsample(actor_->forward(f), eps);
}

Metrics ContinuousCql::Iterate() {
  EnsureData();
  const int64_t B = config_.offline.batch_size, N = config_.n_action_samples, A = act_dim_;
  const double clip = config_.offline.max_grad_norm;
  const double log_uniform = -static_cast<double>(A) * std::log(2.0);  // log-density of U[-1, 1]^A
  double critic_sum = 0, td_sum = 0, reg_sum = 0, weight_sum = 0, q_sum = 0, actor_sum = 0, alpha_sum = 0,
         logp_sum = 0;
  for (int64_t u = 0; u < config_.offline.updates_per_iteration; ++u) {
    const torch::Tensor idx = SampleIndices(B);
    const torch::Tensor f = Features(idx), nf = Features(idx, true);
    const torch::Tensor a = scaled_actions_.index_select(0, idx);
    const torch::Tensor r = data_.rewards.index_select(0, idx), term = data_.terminated.index_select(0, idx);
    const double actor_lr = Rate(config_.actor_learning_rate);
    SetLearningRate(*actor_opt_, actor_lr);
    SetLearningRate(*alpha_opt_, actor_lr);
    SetLearningRate(*critic_opt_, Rate(config_.offline.learning_rate));
    // Temperature, from log pi at fresh actions (ent_coef below is the value before this step).
    torch::Tensor logp_pi;
    {
      torch::NoGradGuard g;
      logp_pi = Sample(f).second;
    }
    const double alpha = std::exp(log_alpha_.item<double>());
    if (learn_alpha_) {
      const torch::Tensor alpha_loss = -(log_alpha_ * (logp_pi + target_entropy_)).mean();
      alpha_opt_->zero_grad();
      alpha_loss.backward();
      alpha_opt_->step();
    }
    // Critics: the TD target (SAC's soft one with soft_q_backup) plus the conservative regularizer.
    torch::Tensor y;
    {
      torch::NoGradGuard g;
      torch::Tensor a_next, logp_next;
      if (config_.deterministic_backup)
        a_next = Mode(nf);
      else
        std::tie(a_next, logp_next) = Sample(nf);
      torch::Tensor q_next = std::get<0>(Q(target_, nf, a_next).min(1));
      if (config_.soft_q_backup) q_next = q_next - alpha * logp_next;
      y = r + config_.gamma * (1.0 - term) * q_next;
    }
    const torch::Tensor f_rep = f.repeat_interleave(N, 0), nf_rep = nf.repeat_interleave(N, 0);
    torch::Tensor a_rand, a_cur, logp_cur, a_nxt, logp_nxt;
    {
      torch::NoGradGuard g;
      a_rand = torch::rand({B * N, A}, gen_, torch::kFloat32) * 2.0 - 1.0;
      std::tie(a_cur, logp_cur) = Sample(f_rep);
      std::tie(a_nxt, logp_nxt) = Sample(nf_rep);
    }
    const int64_t n = critics_->size();
    const torch::Tensor w = torch::cat({(Q(critics_, f_rep, a_rand) - log_uniform).view({B, N, n}),
                                        (Q(critics_, f_rep, a_cur) - logp_cur.unsqueeze(1)).view({B, N, n}),
                                        (Q(critics_, f_rep, a_nxt) - logp_nxt.unsqueeze(1)).view({B, N, n})},
                                       1);
    const torch::Tensor q = Q(critics_, f, a);
    const torch::Tensor diff = q - y.unsqueeze(1);
    const torch::Tensor td_each = config_.huber ? torch::where(diff.abs() <= 1.0, 0.5 * diff * diff, diff.abs() - 0.5)
                                                : 0.5 * diff * diff;
    const torch::Tensor td = td_each.mean(0).sum();
    const torch::Tensor reg = ContinuousCqlRegularizer(q, w);
    // alpha x lambda; lambda's dual step takes the regularizer per critic before this update.
    const double reg_value = reg.item<double>();
    CheckFiniteLoss(reg_value, "CQL regularizer");
    const double weight = weight_.Step(reg_value / static_cast<double>(n));
    const torch::Tensor critic_loss = td + weight * reg;
    const double cl = critic_loss.item<double>();
    CheckFiniteLoss(cl, "CQL critic loss");
    critic_opt_->zero_grad();
    critic_loss.backward();
    ClipGradientsOrThrow(*critics_, clip, updates_);
    critic_opt_->step();
    // Actor: SAC's, through the critics just updated.
    auto [a_pi, logp] = Sample(f);
    const torch::Tensor actor_loss = (alpha * logp - std::get<0>(Q(critics_, f, a_pi).min(1))).mean();
    const double al = actor_loss.item<double>();
    CheckFiniteLoss(al, "CQL actor loss");
    actor_opt_->zero_grad();
    actor_loss.backward();
    ClipGradientsOrThrow(*actor_, clip, updates_);
    actor_opt_->step();
    SoftUpdate(*critics_, *target_, config_.tau);
    critic_sum += cl;
    td_sum += td.item<double>();
    reg_sum += reg_value;
    weight_sum += weight;
    q_sum += q.detach().mean().item<double>();
    actor_sum += al;
    alpha_sum += alpha;
    logp_sum += logp_pi.mean().item<double>();
    ++updates_;
  }
  const double k = static_cast<double>(config_.offline.updates_per_iteration);
  Metrics m{{"critic_loss", critic_sum / k}, {"td_loss", td_sum / k},    {"cql_regularizer", reg_sum / k},
            {"cql_alpha", weight_sum / k},     {"q_data", q_sum / k},           {"actor_loss", actor_sum / k}, {"ent_coef", alpha_sum / k},
            {"entropy", -logp_sum / k},
            {"learning_rate", LearningRate(*critic_opt_)},  // read back: the last update's
            {"actor_learning_rate", LearningRate(*actor_opt_)}};
  if (data_.holdout.size(0) > 0) {
    torch::NoGradGuard g;
    const torch::Tensor h = data_.holdout;
    const torch::Tensor mode =
        MapFeatures(h, [&](const torch::Tensor& f) { return Mode(f); });
    m["holdout_action_mse"] = (mode - scaled_actions_.index_select(0, h)).square().mean().item<double>();
  }
  return m;
}

std::unique_ptr<Policy> ContinuousCql::MakePolicy(bool deterministic) {
  SquashedGaussianActor actor = actor_;
  const int64_t d = FeatureSize(obs_space_), A = act_dim_;
  return MakeScaledActorPolicy(
      [actor, d, A](const float* x, int n, bool det, Rng& rng, float* scaled) mutable {
        SquashedGaussianAct(*actor, x, n, d, A, det, rng, scaled);
      },
      deterministic, obs_space_, act_space_, low_, high_, static_cast<uint64_t>(ctx_.run.seed) + 0x9E37);
}

void ContinuousCql::VisitState(StateVisitor& v) {
  VisitCommonState(v);
  VisitModule(v, "actor", *actor_);
  VisitModule(v, "critics", *critics_);
  VisitModule(v, "critic_target", *target_);
  VisitParameter(v, "log_ent_coef", log_alpha_);
  VisitOptimizer(v, "actor_optimizer", *actor_opt_);
  VisitOptimizer(v, "critic_optimizer", *critic_opt_);
  VisitOptimizer(v, "ent_coef_optimizer", *alpha_opt_);
  weight_.Visit(v);
}

std::unique_ptr<Algorithm> MakeCql(const RunContext& ctx, const CqlConfig& config) {
  if (ctx.MakeEnv()->action_space().kind() == SpaceKind::kBox) return std::make_unique<ContinuousCql>(ctx, config);
  return std::make_unique<Cql>(ctx, config);
}

runtime::Model ContinuousCql::ExportModel() {
  return ExportSquashedActor(*actor_->torso(), actor_->head(), obs_space_, act_space_);
}

}  // namespace rlforge
