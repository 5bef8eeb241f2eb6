#include "rlforge/algos/export_model.h"

#include <cmath>

#include "rlforge/algos/dqn/dqn.h"
#include "rlforge/nn/recurrent_policy.h"

namespace rlforge {

namespace {

std::vector<float> Floats(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kFloat32).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

runtime::Activation ActivationOf(const std::string& name) {
  return name == "tanh" ? runtime::Activation::kTanh : runtime::Activation::kRelu;
}

}  // namespace

runtime::Layer ExportLinear(const torch::nn::Linear& linear, runtime::Activation activation) {
  runtime::Layer l;
  l.kind = runtime::LayerKind::kLinear;
  l.activation = activation;
  l.in = linear->weight.size(1), l.out = linear->weight.size(0);
  l.weight = Floats(linear->weight);
  l.bias = linear->bias.defined() ? Floats(linear->bias) : std::vector<float>(static_cast<size_t>(l.out), 0.0f);
  return l;
}

std::vector<runtime::Layer> ExportMlp(const MlpImpl& mlp) {
  std::vector<runtime::Layer> out;
  for (const auto& lin : mlp.layers()) out.push_back(ExportLinear(lin, ActivationOf(mlp.activation())));
  return out;
}

std::vector<runtime::Layer> ExportSequential(const torch::nn::Sequential& seq) {
  std::vector<runtime::Layer> out;
  for (const auto& m : seq->children()) {
    if (auto lin = std::dynamic_pointer_cast<torch::nn::LinearImpl>(m)) {
      out.push_back(ExportLinear(torch::nn::Linear(lin), runtime::Activation::kNone));
    } else if (!out.empty() && std::dynamic_pointer_cast<torch::nn::ReLUImpl>(m)) {
      out.back().activation = runtime::Activation::kRelu;
    } else if (!out.empty() && std::dynamic_pointer_cast<torch::nn::TanhImpl>(m)) {
      out.back().activation = runtime::Activation::kTanh;
    } else {
      throw InvalidArgument("export: a Sequential holds a module other than Linear, ReLU and Tanh");
    }
  }
  return out;
}

std::vector<runtime::Layer> ExportNatureCnn(const NatureCnnImpl& cnn, const std::vector<int64_t>& chw) {
  std::vector<runtime::Layer> out;
  int64_t h = chw[1], w = chw[2];
  for (const auto& m : cnn.convs()->children()) {
    auto conv = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(m);
    if (!conv) continue;
    runtime::Layer l;
    l.kind = runtime::LayerKind::kConv2d;
    l.activation = runtime::Activation::kRelu;
    l.in = conv->options.in_channels(), l.out = conv->options.out_channels();
    l.kernel = (*conv->options.kernel_size())[0], l.stride = (*conv->options.stride())[0];
    l.in_h = h, l.in_w = w;
    l.weight = Floats(conv->weight);
    l.bias = Floats(conv->bias);
    h = l.out_h(), w = l.out_w();
    out.push_back(std::move(l));
  }
  out.push_back(ExportLinear(cnn.fc(), runtime::Activation::kRelu));
  return out;
}

void ExportObservation(const Space& s, runtime::Model* m) {
  m->obs_shape = s.shape();
  m->obs_dtype = DTypeName(s.dtype());
  switch (s.kind()) {
    case SpaceKind::kDiscrete:
      m->obs_kind = runtime::ObsKind::kDiscrete, m->obs_start = s.start(), m->obs_n = s.n();
      return;
    case SpaceKind::kMultiDiscrete:
      m->obs_kind = runtime::ObsKind::kMultiDiscrete, m->obs_nvec = s.nvec();
      return;
    case SpaceKind::kBox:
      if (IsImageSpace(s)) {
        m->obs_kind = runtime::ObsKind::kImage;
        m->channels_last = s.shape()[2] <= 4 && s.shape()[0] > 4;
      } else {
        m->obs_kind = runtime::ObsKind::kBox;
      }
      return;
    case SpaceKind::kMultiBinary: break;
  }
  throw InvalidArgument(StrCat("cannot export a policy for ", s.ToString(), " observations"));
}

namespace {

// Box observations' running statistics, frozen into the model.
void ExportNormalization(const std::optional<RunningMeanStd>& obs_rms, double clip_obs, runtime::Model* m) {
  if (!obs_rms) return;
  RLF_CHECK_ARG(m->obs_kind == runtime::ObsKind::kBox, "observation normalization is exported for Box observations only");
  m->obs_mean.assign(obs_rms->mean().begin(), obs_rms->mean().end());
  m->obs_var.assign(obs_rms->var().begin(), obs_rms->var().end());
  m->obs_clip = clip_obs, m->obs_eps = 1e-8;
}

// The Nature CNN for an image observation, in the layout the model takes.
std::vector<runtime::Layer> ExportImageEncoder(const NatureCnnImpl& cnn, const Space& obs_space,
                                               const runtime::Model& m) {
  const auto& s = obs_space.shape();
  const std::vector<int64_t> chw = m.channels_last ? std::vector<int64_t>{s[2], s[0], s[1]} : s;
  return ExportNatureCnn(cnn, chw);
}

// An actor-critic's action head: categorical, multi-categorical or Gaussian.
void ExportPolicyHead(const Space& act_space, const torch::Tensor& log_std, runtime::Model* m) {
  switch (act_space.kind()) {
    case SpaceKind::kDiscrete:
      m->head = runtime::HeadKind::kCategorical, m->num_actions = act_space.n(), m->action_start = act_space.start();
      return;
    case SpaceKind::kMultiDiscrete:
      m->head = runtime::HeadKind::kMultiCategorical, m->nvec = act_space.nvec();
      return;
    case SpaceKind::kBox:
      m->head = runtime::HeadKind::kGaussian;
      m->log_std = Floats(log_std);
      m->low.assign(act_space.low().begin(), act_space.low().end());
      m->high.assign(act_space.high().begin(), act_space.high().end());
      return;
    default: break;
  }
  throw InvalidArgument(StrCat("cannot export a policy for ", act_space.ToString(), " actions"));
}

}  // namespace

runtime::Model ExportActorCritic(ActorCriticImpl& net, const Space& obs_space, const Space& act_space,
                                 const std::optional<RunningMeanStd>& obs_rms, double clip_obs) {
  RLF_CHECK_ARG(!net.use_sde(), "export does not cover gSDE policies (use_sde: true) yet");
  runtime::Model m;
  ExportObservation(obs_space, &m);
  ExportNormalization(obs_rms, clip_obs, &m);
  if (net.is_image()) m.encoder = ExportImageEncoder(*net.cnn(), obs_space, m);
  if (net.shares_features()) {
    m.shared = ExportMlp(*net.pi_torso());
  } else {
    m.policy = ExportMlp(*net.pi_torso());
    m.value = ExportMlp(*net.vf_torso());
  }
  m.policy.push_back(ExportLinear(net.pi_head(), runtime::Activation::kNone));
  m.value.push_back(ExportLinear(net.vf_head(), runtime::Activation::kNone));
  ExportPolicyHead(act_space, net.log_std(), &m);
  m.Validate();
  return m;
}

runtime::Model ExportRecurrentActorCritic(RecurrentActorCriticImpl& net, const Space& obs_space,
                                          const Space& act_space, const std::optional<RunningMeanStd>& obs_rms,
                                          double clip_obs) {
  RLF_CHECK_ARG(!net.use_sde(), "export does not cover gSDE policies (use_sde: true) yet");
  const RecurrentPolicyConfig& c = net.config();
  runtime::Model m;
  ExportObservation(obs_space, &m);
  ExportNormalization(obs_rms, clip_obs, &m);
  if (net.is_image()) m.encoder = ExportImageEncoder(*net.cnn(), obs_space, m);
  if (net.core()) {
    m.rnn_kind = net.lstm() ? runtime::RnnKind::kLstm : runtime::RnnKind::kGru;
    m.rnn_hidden = c.rnn_hidden_size;
    for (int64_t l = 0; l < c.rnn_layers; ++l) {
      const auto w = net.ActorRnnWeights(l);
      for (int k = 0; k < 2; ++k) {
        runtime::Layer layer;
        layer.in = w[k].size(1), layer.out = w[k].size(0);
        layer.weight = Floats(w[k]);
        layer.bias = Floats(w[k + 2]);
        m.rnn.push_back(std::move(layer));
      }
    }
  }
  m.policy = ExportMlp(*net.pi_mlp());
  m.policy.push_back(ExportLinear(net.pi_head(), runtime::Activation::kNone));
  // The critic reads the actor's core (shared) or the features (no core).
  if (!net.core() || c.critic_rnn == "shared") {
    m.value = ExportMlp(*net.vf_mlp());
    m.value.push_back(ExportLinear(net.vf_head(), runtime::Activation::kNone));
  }
  ExportPolicyHead(act_space, net.log_std(), &m);
  m.Validate();
  return m;
}

runtime::Model ExportQNetwork(const QNetworkImpl& net, const Space& obs_space, const Space& act_space,
                              int64_t quantiles) {
  runtime::Model m;
  ExportObservation(obs_space, &m);
  if (net.image()) m.encoder = ExportNatureCnn(*net.cnn(), net.chw());
  const auto layers = net.layers();
  const runtime::Activation act = net.tanh() ? runtime::Activation::kTanh : runtime::Activation::kRelu;
  for (size_t i = 0; i < layers.size(); ++i)
    m.policy.push_back(ExportLinear(layers[i], i + 1 < layers.size() ? act : runtime::Activation::kNone));
  if (act_space.kind() == SpaceKind::kMultiDiscrete) {
    // A factored Q (offline CQL): argmax per dimension is the greedy action,
    // which the runtime's multi_categorical head gives when deterministic.
    RLF_CHECK_ARG(quantiles == 1 && !net.dueling(), "a MultiDiscrete Q-network exports without quantiles or dueling");
    m.head = runtime::HeadKind::kMultiCategorical;
    m.nvec = act_space.nvec();
  } else {
    m.head = runtime::HeadKind::kQValues;
    m.num_actions = act_space.n(), m.action_start = act_space.start();
    m.quantiles = quantiles, m.dueling = net.dueling();
  }
  m.Validate();
  return m;
}

runtime::Model ExportSquashedActor(const MlpImpl& torso, const torch::nn::Linear& head, const Space& obs_space,
                                   const Space& act_space, double clip_mean) {
  runtime::Model m;
  ExportObservation(obs_space, &m);
  const int64_t A = act_space.size();
  m.policy = ExportMlp(torso);
  runtime::Layer mean = ExportLinear(head, clip_mean > 0 ? runtime::Activation::kNone : runtime::Activation::kTanh);
  mean.out = A;  // the mean rows (SAC's head has log_std rows after them)
  mean.weight.resize(static_cast<size_t>(A * mean.in));
  mean.bias.resize(static_cast<size_t>(A));
  m.policy.push_back(std::move(mean));
  if (clip_mean > 0) {
    // clamp(mu, -c, c) = relu(mu + c) - relu(mu - c) - c, as two layers, then tanh.
    const float c = static_cast<float>(clip_mean);
    runtime::Layer hinge;
    hinge.in = A, hinge.out = 2 * A, hinge.activation = runtime::Activation::kRelu;
    hinge.weight.assign(static_cast<size_t>(2 * A * A), 0.0f);
    hinge.bias.resize(static_cast<size_t>(2 * A));
    runtime::Layer clip;
    clip.in = 2 * A, clip.out = A, clip.activation = runtime::Activation::kTanh;
    clip.weight.assign(static_cast<size_t>(2 * A * A), 0.0f);
    clip.bias.assign(static_cast<size_t>(A), -c);
    for (int64_t j = 0; j < A; ++j) {
      hinge.weight[j * A + j] = 1.0f, hinge.bias[j] = c;
      hinge.weight[(A + j) * A + j] = 1.0f, hinge.bias[A + j] = -c;
      clip.weight[j * 2 * A + j] = 1.0f, clip.weight[j * 2 * A + A + j] = -1.0f;
    }
    m.policy.push_back(std::move(hinge));
    m.policy.push_back(std::move(clip));
  }
  runtime::Layer rescale;
  rescale.in = rescale.out = A;
  rescale.weight.assign(static_cast<size_t>(A * A), 0.0f);
  rescale.bias.resize(static_cast<size_t>(A));
  for (int64_t j = 0; j < A; ++j) {
    const double lo = act_space.low()[j], hi = act_space.high()[j];
    rescale.weight[j * A + j] = static_cast<float>(0.5 * (hi - lo));
    rescale.bias[j] = static_cast<float>(0.5 * (hi + lo));
  }
  m.policy.push_back(std::move(rescale));
  m.head = runtime::HeadKind::kGaussian;
  m.log_std.assign(static_cast<size_t>(A), -20.0f);
  m.low.assign(act_space.low().begin(), act_space.low().end());
  m.high.assign(act_space.high().begin(), act_space.high().end());
  m.Validate();
  return m;
}

}  // namespace rlforge
