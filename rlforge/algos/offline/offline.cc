#include "rlforge/algos/offline/offline.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "rlforge/algos/dqn/dqn.h"
#include "rlforge/algos/on_policy.h"
#include "rlforge/core/error.h"
#include "rlforge/core/warning.h"
#include "rlforge/nn/state.h"

namespace rlforge {

void OfflineConfig::Visit(FieldVisitor& v) {
  v.Field("dataset", &dataset, "dataset directory (Minari layout: metadata.json, main_data.hdf5); rlforge record writes one");
  v.Field("holdout_fraction", &holdout_fraction, "fraction of the episodes held out for validation metrics");
  v.Field("batch_size", &batch_size, "minibatch size");
  v.Field("updates_per_iteration", &updates_per_iteration, "gradient steps per iteration (one progress row)");
  v.Field("learning_rate", &learning_rate,
          "Adam learning rate (number, lin_<start>[_<end>] or cos_<start>[_<end>]: over the updates; iql: Q and V, cql: the critics)");
  v.Field("max_grad_norm", &max_grad_norm, "gradient-norm clip of each network (iql: each critic, V and the actor)");
  v.Field("net_arch", &net_arch, "hidden layer sizes of every network");
  v.Field("activation", &activation, "tanh or relu");
}

void OfflineConfig::Validate() const {
  RLF_CHECK_ARG(!dataset.empty(), "config key 'dataset' is required: the dataset directory (train --dataset DIR; "
                                  "rlforge record writes one)");
  RLF_CHECK_ARG(holdout_fraction >= 0 && holdout_fraction < 1, "config key 'holdout_fraction' must be in [0, 1), got ",
                holdout_fraction);
  RLF_CHECK_ARG(batch_size >= 1 && batch_size <= (1 << 20), "config key 'batch_size' must be in 1..1048576, got ",
                batch_size);
  RLF_CHECK_ARG(updates_per_iteration >= 1, "config key 'updates_per_iteration' must be >= 1, got ",
                updates_per_iteration);
  learning_rate.CheckRate("learning_rate");
  RLF_CHECK_ARG(max_grad_norm > 0, "config key 'max_grad_norm' must be > 0");
  CheckNetArch(1, net_arch);
  RLF_CHECK_ARG(activation == "tanh" || activation == "relu", "config key 'activation' must be tanh or relu, got '",
                activation, "'");
}



OfflineData LoadOfflineData(const std::string& dir, const Space& obs_space, const Space& act_space,
                            double holdout_fraction, double gamma, uint64_t seed) {
  const Dataset d = ReadDataset(dir);
  RLF_CHECK_ARG(d.info.observation_space == obs_space && d.info.action_space == act_space, "dataset ", dir,
                " has observation space ", d.info.observation_space.ToString(), " and action space ",
                d.info.action_space.ToString(), ", but the env has ", obs_space.ToString(), " and ",
                act_space.ToString());
  OfflineData o;
  o.obs_space = obs_space;
  o.act_space = act_space;
  const int64_t N = d.steps();
  o.steps = N;
  std::vector<int64_t> rows(d.row.begin(), d.row.end()), next_rows(rows);
  for (auto& r : next_rows) ++r;
  const torch::Tensor all_obs = ObservationTensor(d.obs.data(), d.rows(), obs_space);
  const auto idx = torch::tensor(rows, torch::kLong), next_idx = torch::tensor(next_rows, torch::kLong);
  o.obs = all_obs.index_select(0, idx).contiguous();
  o.next_obs = all_obs.index_select(0, next_idx).contiguous();
  switch (act_space.kind()) {
    case SpaceKind::kDiscrete:
      o.actions = torch::from_blob(const_cast<uint8_t*>(d.actions.data()), {N}, torch::kLong).clone() - act_space.start();
      break;
    case SpaceKind::kMultiDiscrete:
      o.actions = torch::from_blob(const_cast<uint8_t*>(d.actions.data()), {N, act_space.size()}, torch::kLong).clone();
      break;
    default:
      o.actions = ObservationTensor(d.actions.data(), N, act_space).reshape({N, act_space.size()}).to(torch::kFloat32);
      break;
  }
  // Every action must be a member of the space (a damaged dataset otherwise
  // indexes out of range).
  for (int64_t t = 0; t < N; ++t) {
    const std::string why = act_space.WhyNotFinite(d.action(t));
    RLF_CHECK_ARG(why.empty(), "dataset ", dir, ": ", d.WhereStep(t), ": the action: ", why);
    if (act_space.kind() != SpaceKind::kBox) {
      const std::string out = act_space.WhyNotContained(d.action(t));
      RLF_CHECK_ARG(out.empty(), "dataset ", dir, ": ", d.WhereStep(t), ": the action: ", out);
    } else {
      // Box actions within their bounds (up to rounding): the agents map
      // the bounds to [-1, 1], and a policy cannot clone what lies beyond.
      for (int64_t i = 0; i < act_space.size(); ++i) {
        const double v = ReadElement(d.action(t), act_space.dtype(), i);
        const double lo = act_space.low()[i], hi = act_space.high()[i];
        const double tol = 1e-6 * std::max({1.0, std::fabs(lo), std::fabs(hi)});
        RLF_CHECK_ARG(v >= lo - tol && v <= hi + tol, "dataset ", dir, ": ", d.WhereStep(t), ": the action's entry ", i,
                      " is ", v, ", outside [", lo, ", ", hi, "] (rlforge inspect counts them)");
      }
    }
  }
  o.rewards = torch::tensor(std::vector<float>(d.rewards.begin(), d.rewards.end()), torch::kFloat32);
  for (int64_t t = 0; t < N; ++t)
    RLF_CHECK_ARG(std::isfinite(d.rewards[t]), "dataset ", dir, ": ", d.WhereStep(t), ": the reward is ", d.rewards[t],
                  " (rlforge inspect counts the non-finite values)");
  for (int64_t r = 0; r < d.rows() && obs_space.kind() == SpaceKind::kBox; ++r) {
    const std::string why = obs_space.WhyNotFinite(d.observation(r));
    RLF_CHECK_ARG(why.empty(), "dataset ", dir, ": ", d.WhereRow(r), ": ", why,
                  " (rlforge inspect counts the non-finite values)");
  }
  o.terminated = torch::tensor(std::vector<float>(d.terminated.begin(), d.terminated.end()), torch::kFloat32);
  if (d.mask_size > 0) {
    const auto m = torch::from_blob(const_cast<uint8_t*>(d.masks.data()), {d.rows(), d.mask_size}, torch::kUInt8)
                       .to(torch::kBool);
    o.masks = m.index_select(0, idx).contiguous();
    o.next_masks = m.index_select(0, next_idx).contiguous();
  }
  std::vector<float> rtg(static_cast<size_t>(N));
  for (int64_t e = d.episodes() - 1; e >= 0; --e) {
    double g = 0;
    const int64_t t0 = d.episode_first_step[e];
    for (int64_t t = t0 + d.episode_length(e) - 1; t >= t0; --t) rtg[t] = static_cast<float>(g = d.rewards[t] + gamma * g);
  }
  o.returns_to_go = torch::tensor(rtg, torch::kFloat32);
  o.episode_returns = d.EpisodeReturns();

  // Held-out episodes: a seeded permutation's last ones.
  std::vector<int64_t> order(static_cast<size_t>(d.episodes()));
  for (int64_t e = 0; e < d.episodes(); ++e) order[e] = e;
  Rng rng(seed ^ 0x401D07ULL);
  for (int64_t i = d.episodes() - 1; i > 0; --i) std::swap(order[i], order[rng.UniformInt(i + 1)]);
  const int64_t held = std::min<int64_t>(d.episodes() - 1, std::llround(holdout_fraction * d.episodes()));
  std::vector<int64_t> train, holdout;
  for (int64_t k = 0; k < d.episodes(); ++k) {
    const int64_t e = order[k];
    auto& dst = k >= d.episodes() - held ? holdout : train;
    for (int64_t t = d.episode_first_step[e]; t < d.episode_first_step[e] + d.episode_length(e); ++t) dst.push_back(t);
  }
  std::sort(train.begin(), train.end());
  std::sort(holdout.begin(), holdout.end());
  o.train = torch::tensor(train, torch::kLong);
  o.holdout = torch::tensor(holdout, torch::kLong);

  uint64_t h = HashBytes(d.obs.data(), d.obs.size());
  h = HashBytes(d.actions.data(), d.actions.size(), h);
  h = HashBytes(d.rewards.data(), d.rewards.size() * sizeof(double), h);
  h = HashBytes(d.terminated.data(), d.terminated.size(), h);
  h = HashBytes(d.truncated.data(), d.truncated.size(), h);
  h = HashBytes(d.masks.data(), d.masks.size(), h);
  o.fingerprint = h;
  return o;
}

torch::Tensor CqlRegularizer(const torch::Tensor& q, const torch::Tensor& actions, const torch::Tensor& masks) {
  const torch::Tensor legal = masks.defined() ? q.masked_fill(masks.logical_not(), -INFINITY) : q;
  const torch::Tensor data_q = q.gather(1, actions.reshape({-1, 1})).squeeze(1);
  return (torch::logsumexp(legal, 1) - data_q).mean();
}

torch::Tensor FactoredQ(const torch::Tensor& q, const torch::Tensor& actions, const std::vector<int64_t>& nvec) {
  torch::Tensor sum = torch::zeros({q.size(0)}, q.options());
  int64_t o = 0;
  for (size_t d = 0; d < nvec.size(); o += nvec[d], ++d)
    sum = sum + q.narrow(1, o, nvec[d]).gather(1, actions.select(1, static_cast<int64_t>(d)).reshape({-1, 1})).squeeze(1);
  return sum;
}

torch::Tensor FactoredGreedyValue(const torch::Tensor& values, const torch::Tensor& select, const torch::Tensor& masks,
                                  const std::vector<int64_t>& nvec) {
  torch::Tensor sum = torch::zeros({values.size(0)}, values.options());
  int64_t o = 0;
  for (size_t d = 0; d < nvec.size(); o += nvec[d], ++d) {
    torch::Tensor s = select.narrow(1, o, nvec[d]);
    torch::Tensor any;
    if (masks.defined()) {
      const torch::Tensor m = masks.narrow(1, o, nvec[d]);
      s = s.masked_fill(m.logical_not(), -INFINITY);
      any = m.any(1);
    }
    torch::Tensor v = values.narrow(1, o, nvec[d]).gather(1, s.argmax(1, /*keepdim=*/true)).squeeze(1);
    if (any.defined()) v = torch::where(any, v, torch::zeros_like(v));
    sum = sum + v;
  }
  return sum;
}

torch::Tensor FactoredCqlRegularizer(const torch::Tensor& q, const torch::Tensor& actions, const torch::Tensor& masks,
                                     const std::vector<int64_t>& nvec) {
  torch::Tensor sum = torch::zeros({}, q.options());
  int64_t o = 0;
  for (size_t d = 0; d < nvec.size(); o += nvec[d], ++d)
    sum = sum + CqlRegularizer(q.narrow(1, o, nvec[d]), actions.select(1, static_cast<int64_t>(d)),
                               masks.defined() ? masks.narrow(1, o, nvec[d]) : masks);
  return sum;
}

torch::Tensor ContinuousCqlRegularizer(const torch::Tensor& q_data, const torch::Tensor& w) {
  const double log_m = std::log(static_cast<double>(w.size(1)));
  return (torch::logsumexp(w, 1) - log_m - q_data).mean(0).sum();
}

CqlWeight::CqlWeight(double alpha, double learning_rate, double threshold)
    : alpha_(alpha), threshold_(threshold), log_lambda_(torch::zeros({1}, torch::kFloat32)) {
  if (learning_rate > 0) {
    log_lambda_.requires_grad_(true);
    opt_ = std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{log_lambda_},
                                                torch::optim::AdamOptions(learning_rate));
  }
}

double CqlWeight::Step(double regularizer) {
  const double weight = alpha_ * lambda();
  if (opt_) {
    const torch::Tensor loss = -(log_lambda_.exp() * (regularizer - threshold_)).sum();
    opt_->zero_grad();
    loss.backward();
    opt_->step();
    // Projected onto [1e-6, 1e6] after the step (not clamped inside the loss,
    // whose gradient would then vanish at the bounds and hold lambda there
    // for good).
    torch::NoGradGuard g;
    log_lambda_.clamp_(kLogMin, kLogMax);
  }
  return weight;
}

void CqlWeight::Visit(StateVisitor& v) {
  if (!opt_) return;
  VisitParameter(v, "log_cql_lambda", log_lambda_);
  VisitOptimizer(v, "cql_lambda_optimizer", *opt_);
}

torch::Tensor ExpectileLoss(const torch::Tensor& u, double tau) {
  const torch::Tensor w = torch::where(u < 0, torch::full_like(u, 1.0 - tau), torch::full_like(u, tau));
  return (w * u.square()).mean();
}

torch::Tensor AdvantageWeights(const torch::Tensor& advantages, double beta, double max_weight) {
  return torch::exp(beta * advantages).clamp_max(max_weight);
}

void SoftUpdate(torch::nn::Module& online, torch::nn::Module& target, double tau) {
  torch::NoGradGuard g;
  auto src = online.parameters(), dst = target.parameters();
  for (size_t i = 0; i < src.size(); ++i) dst[i].mul_(1.0 - tau).add_(src[i], tau);
}

void OfflineAlgorithm::PrepareFeatures() {
  if (IsImageSpace(obs_space_)) return;
  features_ = OfflineFeatures(data_.obs, obs_space_);
  next_features_ = OfflineFeatures(data_.next_obs, obs_space_);
}

torch::Tensor OfflineAlgorithm::Features(const torch::Tensor& idx, bool next) const {
  const torch::Tensor& pre = next ? next_features_ : features_;
  if (pre.defined()) return pre.index_select(0, idx);
  return OfflineFeatures((next ? data_.next_obs : data_.obs).index_select(0, idx), obs_space_);
}

torch::Tensor OfflineAlgorithm::MapFeatures(const torch::Tensor& idx,
                                            const std::function<torch::Tensor(const torch::Tensor&)>& f) const {
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < idx.size(0); s += 4096)
    parts.push_back(f(Features(idx.slice(0, s, std::min(idx.size(0), s + 4096)))));
  return torch::cat(parts, 0);
}

torch::Tensor OfflineFeatures(const torch::Tensor& obs, const Space& obs_space) {
  const int64_t n = obs.size(0), d = FeatureSize(obs_space);
  torch::Tensor out = torch::empty({n, d});
  const torch::Tensor c = obs.contiguous();
  ObservationFeatures(obs_space, c.data_ptr(), n, out.data_ptr<float>());
  return out;
}

OfflineAlgorithm::OfflineAlgorithm(const RunContext& ctx, const OfflineConfig& config, double gamma)
    : Algorithm(ctx),
      offline_(config),
      gamma_(gamma),
      gen_(at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(ctx.run.seed))) {
  // The networks the agent builds next draw their initial weights from
  // torch's global generator: seeded, as every agent does.
  torch::manual_seed(static_cast<uint64_t>(ctx.run.seed));
  auto env = ctx.MakeEnv();
  obs_space_ = env->observation_space();
  act_space_ = env->action_space();
  env_has_masks_ = act_space_.mask_size() > 0 && env->has_action_mask();
  env_conditional_masks_ = env->has_conditional_action_mask();
}

void OfflineAlgorithm::EnsureData() {
  if (loaded_) return;
  data_ = LoadOfflineData(offline_.dataset, obs_space_, act_space_, offline_.holdout_fraction, gamma_,
                          static_cast<uint64_t>(ctx_.run.seed));
  loaded_ = true;
  if (env_has_masks_ && !data_.masks.defined())
    Warn(StrCat("dataset ", offline_.dataset, " stores no action masks (infos/action_mask) while ", ctx_.run.env,
                " has them: the agent learns as if every action were legal"));
  RLF_CHECK_ARG(!checkpoint_fingerprint_ || *checkpoint_fingerprint_ == data_.fingerprint, "the dataset ",
                offline_.dataset, " differs from the one this checkpoint was trained on (its arrays have changed)");
  PrepareData();
}

torch::Tensor OfflineAlgorithm::SampleIndices(int64_t n, const torch::Tensor& weights) {
  if (weights.defined()) return data_.train.index_select(0, torch::multinomial(weights, n, true, gen_));
  return data_.train.index_select(0, torch::randint(data_.train.size(0), {n}, gen_, torch::kLong));
}

void OfflineAlgorithm::VisitCommonState(StateVisitor& v) {
  v("updates", &updates_);
  VisitGenerator(v, "generator", &gen_);
  uint64_t fingerprint = loaded_ ? data_.fingerprint : checkpoint_fingerprint_.value_or(0);
  v("dataset_fingerprint", &fingerprint);
  if (v.loading()) {
    checkpoint_fingerprint_ = fingerprint;
    RLF_CHECK_ARG(!loaded_ || fingerprint == data_.fingerprint, "the dataset ", offline_.dataset,
                  " differs from the one this checkpoint was trained on (its arrays have changed)");
  }
}

}  // namespace rlforge

namespace rlforge {

std::vector<int64_t> ActionClasses(const Space& s) {
  if (s.kind() == SpaceKind::kDiscrete) return {s.n()};
  if (s.kind() == SpaceKind::kMultiDiscrete) return s.nvec();
  return {};
}

ClassReport Classify(const torch::Tensor& predicted, const torch::Tensor& target, const std::vector<int64_t>& classes) {
  const torch::Tensor p = predicted.reshape({predicted.size(0), -1}).to(torch::kLong).contiguous();
  const torch::Tensor t = target.reshape({target.size(0), -1}).to(torch::kLong).contiguous();
  RLF_CHECK(p.sizes() == t.sizes() && p.size(1) == static_cast<int64_t>(classes.size()), "Classify: shapes differ");
  ClassReport r;
  r.rows = p.size(0);
  const int64_t k = p.size(1);
  const int64_t* pp = p.data_ptr<int64_t>();
  const int64_t* tp = t.data_ptr<int64_t>();
  int64_t all_right = 0;
  for (int64_t i = 0; i < r.rows; ++i) {
    bool right = true;
    for (int64_t j = 0; j < k; ++j) right = right && pp[i * k + j] == tp[i * k + j];
    all_right += right;
  }
  r.accuracy = r.rows ? static_cast<double>(all_right) / r.rows : 0.0;
  for (int64_t j = 0; j < k; ++j) {
    const int64_t n = classes[j];
    ClassReport::Dimension d;
    d.confusion.assign(n, std::vector<int64_t>(n, 0));
    for (int64_t i = 0; i < r.rows; ++i) ++d.confusion[tp[i * k + j]][pp[i * k + j]];
    double f1_sum = 0;
    int64_t present = 0;
    for (int64_t c = 0; c < n; ++c) {
      int64_t predicted_c = 0, support = 0;
      for (int64_t x = 0; x < n; ++x) predicted_c += d.confusion[x][c], support += d.confusion[c][x];
      const double tp_c = static_cast<double>(d.confusion[c][c]);
      const double prec = predicted_c ? tp_c / predicted_c : 0.0, rec = support ? tp_c / support : 0.0;
      d.precision.push_back(prec);
      d.recall.push_back(rec);
      d.f1.push_back(prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0.0);
      d.support.push_back(support);
      if (predicted_c || support) f1_sum += d.f1.back(), ++present;
    }
    d.macro_f1 = present ? f1_sum / present : 0.0;
    r.macro_f1 += d.macro_f1 / static_cast<double>(k);
    r.dims.push_back(std::move(d));
  }
  return r;
}

std::string ClassReport::ToJson() const {
  nlohmann::json j = {{"rows", rows}, {"accuracy", accuracy}, {"macro_f1", macro_f1}};
  nlohmann::json ds = nlohmann::json::array();
  for (const auto& d : dims)
    ds.push_back({{"macro_f1", d.macro_f1}, {"precision", d.precision}, {"recall", d.recall}, {"f1", d.f1},
                  {"support", d.support}, {"confusion", d.confusion}});
  j["dimensions"] = ds;
  return j.dump(2) + "\n";
}

}  // namespace rlforge
