#include "rlforge/nn/recurrent_policy.h"

#include <cmath>

#include "rlforge/core/error.h"
#include "rlforge/nn/lstm_kernels.h"

namespace rlforge {

void ValidateRecurrentPolicy(const RecurrentPolicyConfig& c) {
  RLF_CHECK_ARG(c.rnn_type == "lstm" || c.rnn_type == "gru" || c.rnn_type == "none",
                "config key 'rnn_type' must be lstm, gru or none, got '", c.rnn_type, "'");
  RLF_CHECK_ARG(c.rnn_hidden_size >= 1 && c.rnn_hidden_size <= kMaxLayerWidth, "config key 'rnn_hidden_size' must be in 1..",
                kMaxLayerWidth, ", got ", c.rnn_hidden_size);
  RLF_CHECK_ARG(c.rnn_layers >= 1 && c.rnn_layers <= 16, "config key 'rnn_layers' must be in 1..16, got ",
                c.rnn_layers);
  RLF_CHECK_ARG(c.critic_rnn == "separate" || c.critic_rnn == "shared" || c.critic_rnn == "none",
                "config key 'critic_rnn' must be separate, shared or none, got '", c.critic_rnn, "'");
}

RecurrentState RecurrentState::Rows(const torch::Tensor& rows) const {
  auto pick = [&](const torch::Tensor& t) { return t.defined() ? t.index_select(1, rows) : t; };
  return {pick(pi_h), pick(pi_c), pick(vf_h), pick(vf_c)};
}

RecurrentState RecurrentState::Clone() const {
  auto copy = [](const torch::Tensor& t) { return t.defined() ? t.detach().clone() : t; };
  return {copy(pi_h), copy(pi_c), copy(vf_h), copy(vf_c)};
}

RecurrentActorCriticImpl::RecurrentActorCriticImpl(const Space& obs_space, const Space& act_space,
                                                   const RecurrentPolicyConfig& config)
    : obs_space_(obs_space), act_space_(act_space), config_(config) {
  ValidateRecurrentPolicy(config);
  lstm_ = config.rnn_type == "lstm";
  core_ = config.rnn_type != "none";
  image_ = IsImageSpace(obs_space);
  int64_t in = 0;
  if (image_) {
    cnn_ = register_module("cnn", NatureCnn(ImageChw(obs_space)));
    in = cnn_->out_features();
  } else {
    in = PreprocessedWidth(obs_space);
  }
  const int64_t H = core_ ? config.rnn_hidden_size : in, layers = config.rnn_layers;
  if (core_) CheckNetArch(in, {4 * H});  // the input-to-gates weights, for the memory estimate
  if (!core_) {
    // Feed-forward: features straight into the MLPs, no state.
  } else if (lstm_) {
    pi_lstm_ = register_module("pi_lstm", torch::nn::LSTM(torch::nn::LSTMOptions(in, H).num_layers(layers)));
    if (config.critic_rnn == "separate")
      vf_lstm_ = register_module("vf_lstm", torch::nn::LSTM(torch::nn::LSTMOptions(in, H).num_layers(layers)));
  } else {
    pi_gru_ = register_module("pi_gru", torch::nn::GRU(torch::nn::GRUOptions(in, H).num_layers(layers)));
    if (config.critic_rnn == "separate")
      vf_gru_ = register_module("vf_gru", torch::nn::GRU(torch::nn::GRUOptions(in, H).num_layers(layers)));
  }
  if (core_ && config.critic_rnn == "none") vf_in_ = register_module("vf_in", torch::nn::Linear(in, H));
  const PolicyConfig& m = config.mlp;
  pi_mlp_ = register_module("pi_mlp", Mlp(H, m.net_arch, m.activation, m.ortho_init));
  vf_mlp_ = register_module("vf_mlp", Mlp(H, m.net_arch, m.activation, m.ortho_init));
  const int64_t head = ActionHeadWidth(act_space);
  RLF_CHECK_ARG(!m.use_sde || act_space.kind() == SpaceKind::kBox, "use_sde needs a Box action space");
  if (act_space.kind() == SpaceKind::kBox)
    log_std_ = register_parameter("log_std", m.use_sde ? torch::full({pi_mlp_->out_features(), head}, m.log_std_init)
                                                       : torch::full({head}, m.log_std_init));
  pi_head_ = register_module("pi_head", torch::nn::Linear(pi_mlp_->out_features(), head));
  vf_head_ = register_module("vf_head", torch::nn::Linear(vf_mlp_->out_features(), 1));
  if (m.ortho_init) {
    OrthogonalInit(*pi_head_, 0.01);
    OrthogonalInit(*vf_head_, 1.0);
  }
}

std::vector<torch::Tensor> RecurrentActorCriticImpl::ActorRnnWeights(int64_t layer) const {
  RLF_CHECK(core_ && layer >= 0 && layer < config_.rnn_layers, "ActorRnnWeights: no recurrent layer ", layer);
  auto p = lstm_ ? pi_lstm_->named_parameters() : pi_gru_->named_parameters();
  const std::string n = std::to_string(layer);
  return {p["weight_ih_l" + n], p["weight_hh_l" + n], p["bias_ih_l" + n], p["bias_hh_l" + n]};
}

RecurrentState RecurrentActorCriticImpl::InitialState(int64_t rows) const {
  if (!core_) return {};
  const int64_t H = config_.rnn_hidden_size, L = config_.rnn_layers;
  auto zeros = [&] { return torch::zeros({L, rows, H}); };
  RecurrentState s;
  s.pi_h = zeros();
  if (lstm_) s.pi_c = zeros();
  if (config_.critic_rnn == "separate") {
    s.vf_h = zeros();
    if (lstm_) s.vf_c = zeros();
  }
  return s;
}

torch::Tensor RecurrentActorCriticImpl::Features(const torch::Tensor& obs) {
  auto x = PreprocessObservations(obs, obs_space_);
  return image_ ? cnn_->forward(x) : x;
}

torch::Tensor RecurrentActorCriticImpl::RnnRun(bool critic, const torch::Tensor& x, torch::Tensor* h,
                                               torch::Tensor* c) {
  if (lstm_) {
    auto out = (critic ? vf_lstm_ : pi_lstm_)->forward(x, std::make_tuple(*h, *c));
    *h = std::get<0>(std::get<1>(out));
    *c = std::get<1>(std::get<1>(out));
    return std::get<0>(out);
  }
  auto out = (critic ? vf_gru_ : pi_gru_)->forward(x, *h);
  *h = std::get<1>(out);
  return std::get<0>(out);
}

ActorCriticImpl::HeadOutputs RecurrentActorCriticImpl::Heads(const torch::Tensor& pi_latent,
                                                             const torch::Tensor& vf_latent, torch::Tensor* latent) {
  ActorCriticImpl::HeadOutputs h;
  const torch::Tensor z = pi_mlp_->forward(pi_latent);
  h.pi = pi_head_->forward(z);
  h.value = vf_head_->forward(vf_mlp_->forward(vf_latent)).squeeze(-1);
  if (act_space_.kind() == SpaceKind::kBox) h.log_std = use_sde() ? SdeLogStd(z, log_std_) : log_std_;
  if (latent) *latent = z;
  return h;
}

ActorCriticImpl::HeadOutputs RecurrentActorCriticImpl::Sequence(const torch::Tensor& obs, const torch::Tensor& starts,
                                                                const RecurrentState& initial,
                                                                RecurrentState* final_state, torch::Tensor* latent) {
  const int64_t L = obs.size(0), B = obs.size(1);
  RLF_CHECK(starts.size(0) == L && starts.size(1) == B, "Sequence: starts must be [", L, ", ", B, "]");
  std::vector<int64_t> flat = {L * B};
  flat.insert(flat.end(), obs.sizes().begin() + 2, obs.sizes().end());
  const torch::Tensor features = Features(obs.reshape(flat)).reshape({L, B, -1});
  const torch::Tensor start_f = starts.to(torch::kFloat32).contiguous();
  const torch::Tensor keep = (1.0f - start_f).reshape({L, 1, B, 1});
  if (!core_) {
    const torch::Tensor x = features.reshape({L * B, -1});
    if (final_state) *final_state = {};
    return Heads(x, x, latent);
  }
  RecurrentState s = initial;
  const bool separate = config_.critic_rnn == "separate";
  std::vector<torch::Tensor> pi_out, vf_out;
  // The steps where some row starts an episode cut the sequence into runs
  // that the RNN takes in one call each (the result is that of stepping one
  // by one; far fewer autograd nodes when episodes are long).
  if (lstm_ && config_.fast_lstm) {
    // Whole sequence per layer through the hand-written kernel, resets inside.
    const torch::Tensor keep2 = 1.0f - start_f;
    auto run = [&](torch::nn::LSTM& m, torch::Tensor* h, torch::Tensor* c) {
      torch::Tensor in = features;
      std::vector<torch::Tensor> hs, cs;
      auto p = m->named_parameters();
      for (int64_t l = 0; l < config_.rnn_layers; ++l) {
        const std::string n = std::to_string(l);
        auto [o, hT, cT] = LstmSequence(in, (*h)[l], (*c)[l], keep2, p["weight_ih_l" + n], p["weight_hh_l" + n],
                                        p["bias_ih_l" + n], p["bias_hh_l" + n]);
        in = o;
        hs.push_back(hT);
        cs.push_back(cT);
      }
      *h = torch::stack(hs);
      *c = torch::stack(cs);
      return in.reshape({L * B, -1});
    };
    pi_out.push_back(run(pi_lstm_, &s.pi_h, &s.pi_c));
    if (separate) vf_out.push_back(run(vf_lstm_, &s.vf_h, &s.vf_c));
  }
  const float* sp = start_f.data_ptr<float>();
  auto any_start = [&](int64_t t) {
    for (int64_t j = 0; j < B; ++j)
      if (sp[t * B + j] != 0.0f) return true;
    return false;
  };
  for (int64_t t = pi_out.empty() ? 0 : L; t < L;) {
    int64_t end = t + 1;
    while (end < L && !any_start(end)) ++end;
    if (any_start(t)) {
      const torch::Tensor k = keep[t];
      s.pi_h = s.pi_h * k;
      if (lstm_) s.pi_c = s.pi_c * k;
      if (separate) {
        s.vf_h = s.vf_h * k;
        if (lstm_) s.vf_c = s.vf_c * k;
      }
    }
    const torch::Tensor x = features.slice(0, t, end);
    pi_out.push_back(RnnRun(/*critic=*/false, x, &s.pi_h, &s.pi_c).reshape({(end - t) * B, -1}));
    if (separate) vf_out.push_back(RnnRun(/*critic=*/true, x, &s.vf_h, &s.vf_c).reshape({(end - t) * B, -1}));
    t = end;
  }
  const torch::Tensor pi_latent = torch::cat(pi_out, 0);
  torch::Tensor vf_latent;
  if (separate) vf_latent = torch::cat(vf_out, 0);
  else if (config_.critic_rnn == "shared") vf_latent = pi_latent.detach();
  else vf_latent = vf_in_->forward(features.reshape({L * B, -1}));
  if (final_state) *final_state = s;
  return Heads(pi_latent, vf_latent, latent);
}

RecurrentActorCriticImpl::StepOutput RecurrentActorCriticImpl::Step(const torch::Tensor& obs,
                                                                    const torch::Tensor& starts,
                                                                    RecurrentState* state) {
  RecurrentState next;
  StepOutput out;
  out.heads = Sequence(obs.unsqueeze(0), starts.reshape({1, -1}), *state, &next, &out.latent);
  *state = next;
  return out;
}

torch::Tensor RecurrentActorCriticImpl::Value(const torch::Tensor& obs, const RecurrentState& state) {
  const torch::Tensor none = torch::zeros({1, obs.size(0)});
  return Sequence(obs.unsqueeze(0), none, state).value;
}

ActionDistribution RecurrentActorCriticImpl::Distribution(const ActorCriticImpl::HeadOutputs& heads,
                                                          const torch::Tensor& mask) const {
  return MakeActionDistribution(act_space_, heads.pi, heads.log_std, mask);
}

}  // namespace rlforge
