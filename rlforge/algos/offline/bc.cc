#include "rlforge/algos/offline/bc.h"

#include <cmath>

#include "rlforge/algos/export_model.h"
#include "rlforge/algos/flat_adam.h"
#include "rlforge/algos/off_policy.h"
#include "rlforge/algos/on_policy.h"
#include "rlforge/core/error.h"
#include "rlforge/core/warning.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void BcConfig::Visit(FieldVisitor& v) {
  offline.Visit(v);
  v.Field("class_balance", &class_balance, "imbalanced actions: none, weights (balanced class weights) or resample");
  v.Field("ent_coef", &ent_coef, "entropy bonus coefficient");
  v.Field("early_stopping_patience", &early_stopping_patience,
          "iterations without a lower held-out NLL before stopping and restoring the best weights (0: never)");
  v.Field("gamma", &gamma, "discount of the dataset's returns-to-go, the value head's targets");
  v.Field("vf_coef", &vf_coef, "weight of the value regression on returns-to-go (a warm-started PPO/A2C's critic)");
}

void BcConfig::Validate() const {
  offline.Validate();
  RLF_CHECK_ARG(class_balance == "none" || class_balance == "weights" || class_balance == "resample",
                "config key 'class_balance' must be none, weights or resample, got '", class_balance, "'");
  RLF_CHECK_ARG(ent_coef >= 0, "config key 'ent_coef' must be >= 0");
  RLF_CHECK_ARG(early_stopping_patience >= 0, "config key 'early_stopping_patience' must be >= 0");
  RLF_CHECK_ARG(early_stopping_patience == 0 || offline.holdout_fraction > 0,
                "config key 'early_stopping_patience' needs held-out episodes (holdout_fraction > 0)");
  RLF_CHECK_ARG(gamma >= 0 && gamma <= 1, "config key 'gamma' must be in [0, 1]");
  RLF_CHECK_ARG(vf_coef >= 0, "config key 'vf_coef' must be >= 0");
}

namespace {

PolicyConfig ActorPolicyConfig(const OfflineConfig& c) {
  PolicyConfig p;
  p.net_arch = c.net_arch;
  p.activation = c.activation;
  return p;
}

const bool* MaskPtr(const torch::Tensor& m) { return m.defined() ? m.data_ptr<bool>() : nullptr; }

// The behaviour-cloning batch: the actor-critic loss with A = w (contiguous
// tensors that outlive the batch).
ActorCriticBatch CloneBatch(const torch::Tensor& a, const torch::Tensor& masks, const torch::Tensor& w,
                            const torch::Tensor& returns, double ent_coef, double vf_coef) {
  ActorCriticBatch b;
  b.size = w.size(0);
  b.actions = a.data_ptr();
  b.masks = MaskPtr(masks);
  b.advantages = w.data_ptr<float>();
  b.returns = returns.data_ptr<float>();
  b.ent_coef = ent_coef;
  b.vf_coef = vf_coef;
  return b;
}

torch::Tensor Rows(const torch::Tensor& t, const torch::Tensor& idx) {
  return t.defined() ? t.index_select(0, idx).contiguous() : t;
}

}  // namespace

OfflineActor::OfflineActor(const Space& obs_space, const Space& act_space, const OfflineConfig& c)
    : obs_space_(obs_space), act_space_(act_space), head_(act_space) {
  net_ = ActorCritic(obs_space, act_space, ActorPolicyConfig(c));
  opt_ = std::make_unique<torch::optim::Adam>(net_->parameters(), torch::optim::AdamOptions(c.learning_rate.start));
}

void OfflineActor::SetLearningRate(double lr) { rlforge::SetLearningRate(*opt_, lr); }
double OfflineActor::learning_rate() const { return rlforge::LearningRate(*opt_); }

double OfflineActor::Step(const torch::Tensor& obs, const torch::Tensor& actions, const torch::Tensor& masks,
                          const torch::Tensor& weights, double ent_coef, double max_grad_norm,
                          const torch::Tensor& returns, double vf_coef) {
  const int64_t B = obs.size(0);
  const torch::Tensor a = actions.contiguous(), w = weights.contiguous();
  const torch::Tensor targets = returns.defined() ? returns.contiguous() : torch::zeros({B});
  const torch::Tensor m = masks.defined() ? masks.contiguous() : masks;
  const ActorCriticBatch b = CloneBatch(a, m, w, targets, ent_coef, returns.defined() ? vf_coef : 0.0);
  net_->train();
  const ActorCriticLossValues l = BackpropAutograd(*net_, head_, obs, b);
  ClipGradientsOrThrow(*net_, max_grad_norm, 0);
  opt_->step();
  CheckFiniteLoss(l.policy_loss, "behaviour-cloning loss");
  return l.policy_loss - ent_coef * l.entropy;
}

double OfflineActor::Nll(const torch::Tensor& obs, const torch::Tensor& actions, const torch::Tensor& masks) {
  torch::NoGradGuard no_grad;
  const int64_t N = obs.size(0);
  double total = 0;
  for (int64_t s = 0; s < N; s += 4096) {
    const int64_t e = std::min(N, s + 4096), B = e - s;
    const torch::Tensor a = actions.slice(0, s, e).contiguous(), ones = torch::ones({B}), zeros = torch::zeros({B});
    const torch::Tensor m = masks.defined() ? masks.slice(0, s, e).contiguous() : masks;
    const ActorCriticBatch b = CloneBatch(a, m, ones, zeros, 0.0, 0.0);
    std::vector<torch::Tensor> outputs, grads;
    total += ActorCriticLossOnOutputs(head_, net_->Outputs(obs.slice(0, s, e)), b, &outputs, &grads).policy_loss * B;
  }
  return N ? total / N : std::nan("");
}

torch::Tensor OfflineActor::Greedy(const torch::Tensor& obs, const torch::Tensor& masks) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < obs.size(0); s += 4096) {  // as Nll: bounded memory for images
    const int64_t e = std::min(obs.size(0), s + 4096);
    parts.push_back(net_->Forward(obs.slice(0, s, e), masks.defined() ? masks.slice(0, s, e) : masks).dist.mode());
  }
  return parts.empty() ? net_->Forward(obs, masks).dist.mode() : torch::cat(parts, 0);
}

std::unique_ptr<Policy> OfflineActor::MakePolicy(bool deterministic, uint64_t seed) const {
  return std::make_unique<ActorCriticPolicy>(net_, obs_space_, act_space_, deterministic, seed);
}

void OfflineActor::Visit(StateVisitor& v, const std::string& prefix) {
  VisitModule(v, prefix + "net", *net_);
  VisitOptimizer(v, prefix + "optimizer", *opt_);
}

torch::Tensor BalancedClassWeights(const torch::Tensor& actions, const std::vector<int64_t>& classes) {
  const torch::Tensor a = actions.reshape({actions.size(0), -1});
  const int64_t N = a.size(0), k = a.size(1);
  torch::Tensor w = torch::zeros({N}, torch::kFloat64);
  for (int64_t j = 0; j < k; ++j) {
    const torch::Tensor col = a.select(1, j);
    const torch::Tensor counts = torch::bincount(col, {}, classes[j]).to(torch::kFloat64);
    const double present = counts.gt(0).sum().item<double>();
    const torch::Tensor per_class = static_cast<double>(N) / (present * counts.clamp_min(1));
    w += per_class.index_select(0, col);
  }
  return (w / static_cast<double>(k)).to(torch::kFloat32);
}

Bc::Bc(const RunContext& ctx, const BcConfig& config)
    : OfflineAlgorithm(ctx, config.offline, config.gamma),
      config_(config),
      actor_(obs_space_, act_space_, config.offline),
      best_(obs_space_, act_space_, ActorPolicyConfig(config.offline)) {
  const std::vector<int64_t> classes = ActionClasses(act_space_);
  RLF_CHECK_ARG(config.class_balance == "none" || !classes.empty(), "config key 'class_balance' is '",
                config.class_balance, "', but ", act_space_.ToString(), " actions have no classes (use none)");
  NetworkLoaded();
  std::vector<std::string> names = {"loss", "holdout_nll", "best_holdout_nll", "epochs", "learning_rate"};
  if (classes.empty()) {
    names.push_back("holdout_mse");
  } else {
    names.insert(names.end(), {"holdout_accuracy", "holdout_macro_f1", "train_accuracy"});
  }
  DeclareMetrics(names);
}

void Bc::NetworkLoaded() { PolyakUpdate(*actor_.net(), *best_, 1.0); }

void Bc::PrepareData() {
  // Without a held-out episode there is nothing to stop on (it ran every
  // iteration, silently): refused for a new run, said for a resumed one
  // (its config.yaml cannot change).
  if (config_.early_stopping_patience > 0 && data_.holdout.size(0) == 0) {
    const std::string why = StrCat("config key 'early_stopping_patience' needs held-out episodes, and holdout_fraction ",
                                   config_.offline.holdout_fraction, " of dataset ", config_.offline.dataset,
                                   "'s episodes holds out none");
    RLF_CHECK_ARG(updates_ > 0, why, " (record more episodes, or raise holdout_fraction)");
    Warn(StrCat(why, ": the run does not stop early"));
  }
  const torch::Tensor train_actions = data_.actions.index_select(0, data_.train);
  weights_ = config_.class_balance == "none" ? torch::ones({data_.train.size(0)})
                                             : BalancedClassWeights(train_actions, ActionClasses(act_space_));
}

Metrics Bc::Iterate() {
  EnsureData();
  const int64_t B = config_.offline.batch_size;
  const bool resample = config_.class_balance == "resample";
  double loss = 0;
  for (int64_t u = 0; u < config_.offline.updates_per_iteration; ++u) {
    torch::Tensor pick = resample ? torch::multinomial(weights_, B, true, gen_)
                                  : torch::randint(data_.train.size(0), {B}, gen_, torch::kLong);
    const torch::Tensor idx = data_.train.index_select(0, pick);
    const torch::Tensor w = config_.class_balance == "weights" ? weights_.index_select(0, pick) : torch::ones({B});
    actor_.SetLearningRate(Rate(config_.offline.learning_rate));
    loss += actor_.Step(Rows(data_.obs, idx), Rows(data_.actions, idx), Rows(data_.masks, idx), w, config_.ent_coef,
                        config_.offline.max_grad_norm, Rows(data_.returns_to_go, idx), config_.vf_coef);
    ++updates_;
  }
  Metrics m;
  m["loss"] = loss / static_cast<double>(config_.offline.updates_per_iteration);
  m["epochs"] = static_cast<double>(updates_ * B) / static_cast<double>(std::max<int64_t>(1, data_.train.size(0)));
  m["learning_rate"] = actor_.learning_rate();  // read back: the last update's
  Score(&m);
  return m;
}

void Bc::Score(Metrics* m) {
  const std::vector<int64_t> classes = ActionClasses(act_space_);
  // Training accuracy on up to 4096 steps spread over the training episodes
  // (a quick check of underfitting).
  if (!classes.empty()) {
    const int64_t n = data_.train.size(0);
    const torch::Tensor idx = data_.train.slice(0, 0, n, std::max<int64_t>(1, n / 4096));
    const ClassReport r =
        Classify(actor_.Greedy(Rows(data_.obs, idx), Rows(data_.masks, idx)), Rows(data_.actions, idx), classes);
    (*m)["train_accuracy"] = r.accuracy;
  }
  if (data_.holdout.size(0) == 0) return;
  const torch::Tensor idx = data_.holdout;
  const torch::Tensor obs = Rows(data_.obs, idx), actions = Rows(data_.actions, idx), masks = Rows(data_.masks, idx);
  const double nll = actor_.Nll(obs, actions, masks);
  (*m)["holdout_nll"] = nll;
  const torch::Tensor greedy = actor_.Greedy(obs, masks);
  if (classes.empty()) {
    (*m)["holdout_mse"] = (greedy.to(torch::kFloat32) - actions).square().mean().item<double>();
  } else {
    const ClassReport r = Classify(greedy, actions, classes);
    (*m)["holdout_accuracy"] = r.accuracy;
    (*m)["holdout_macro_f1"] = r.macro_f1;
    report_ = r.ToJson();
  }
  if (nll < best_nll_) {
    best_nll_ = nll;
    since_best_ = 0;
    PolyakUpdate(*actor_.net(), *best_, 1.0);
  } else if (config_.early_stopping_patience > 0 && ++since_best_ >= config_.early_stopping_patience) {
    // Stop, and keep the best weights.
    PolyakUpdate(*best_, *actor_.net(), 1.0);
    stopped_ = true;
  }
  (*m)["best_holdout_nll"] = best_nll_;
}

std::map<std::string, std::string> Bc::RunFiles() const {
  if (report_.empty()) return {};
  return {{"bc_report.json", report_}};
}

std::unique_ptr<Policy> Bc::MakePolicy(bool deterministic) {
  return actor_.MakePolicy(deterministic, static_cast<uint64_t>(ctx_.run.seed) + 7);
}

void Bc::VisitState(StateVisitor& v) {
  VisitCommonState(v);
  actor_.Visit(v, "actor/");
  VisitModule(v, "best/net", *best_);
  v("best_nll", &best_nll_);
  v("since_best", &since_best_);
  v("stopped", &stopped_);
  v("report", &report_);
}

runtime::Model Bc::ExportModel() {
  runtime::Model m = ExportActorCritic(*actor_.net(), obs_space_, act_space_, std::nullopt, 10.0);
  m.action_mask = env_has_masks_;
  return m;
}

}  // namespace rlforge
