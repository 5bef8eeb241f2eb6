#include "rlforge/nn/policy.h"

#include <cmath>

#include "rlforge/core/error.h"
#include "rlforge/core/memory.h"

namespace rlforge {

torch::Tensor ActionDistribution::log_prob(const torch::Tensor& a) const {
  return std::visit([&](const auto& d) { return d.log_prob(a); }, d_);
}
torch::Tensor ActionDistribution::entropy() const {
  return std::visit([](const auto& d) { return d.entropy(); }, d_);
}
torch::Tensor ActionDistribution::sample(torch::Generator* gen) const {
  return std::visit([&](const auto& d) { return d.sample(gen); }, d_);
}
torch::Tensor ActionDistribution::mode() const {
  return std::visit([](const auto& d) { return d.mode(); }, d_);
}

void OrthogonalInit(torch::nn::Module& layer, double gain) {
  torch::NoGradGuard guard;
  for (auto& p : layer.named_parameters(/*recurse=*/false)) {
    if (p.key() == "weight") torch::nn::init::orthogonal_(p.value(), gain);
    if (p.key() == "bias") p.value().zero_();
  }
}

void CheckNetArch(int64_t in, const std::vector<int64_t>& hidden) {
  // Parameters, gradients and two Adam moments: 16 bytes per weight.
  double weights = 0;
  int64_t width = in;
  for (int64_t h : hidden) {
    RLF_CHECK_ARG(h >= 1 && h <= kMaxLayerWidth, "config key 'net_arch': layer sizes must be in 1..", kMaxLayerWidth,
                  ", got ", h);
    weights += (static_cast<double>(width) + 1) * static_cast<double>(h);
    width = h;
  }
  CheckFitsInMemory(StrCat("config key 'net_arch' = [", Join(hidden, ","), "] (", static_cast<int64_t>(weights),
                           " weights)"),
                    16 * weights);
}

MlpImpl::MlpImpl(int64_t in, const std::vector<int64_t>& hidden, const std::string& activation, bool ortho_init)
    : out_(in), activation_(activation) {
  RLF_CHECK_ARG(activation == "tanh" || activation == "relu", "activation must be tanh or relu, got '",
                activation, "'");
  CheckNetArch(in, hidden);
  for (int64_t h : hidden) {
    torch::nn::Linear lin(out_, h);
    if (ortho_init) OrthogonalInit(*lin, std::sqrt(2.0));
    seq_->push_back(lin);
    if (activation == "tanh") seq_->push_back(torch::nn::Tanh());
    else seq_->push_back(torch::nn::ReLU());
    out_ = h;
  }
  register_module("seq", seq_);
}

torch::Tensor MlpImpl::forward(torch::Tensor x) { return seq_->size() ? seq_->forward(x) : x; }

std::vector<torch::nn::Linear> MlpImpl::layers() const {
  std::vector<torch::nn::Linear> out;
  for (const auto& m : seq_->children())
    if (auto lin = std::dynamic_pointer_cast<torch::nn::LinearImpl>(m)) out.emplace_back(lin);
  return out;
}

NatureCnnImpl::NatureCnnImpl(const std::vector<int64_t>& chw, int64_t features) : features_(features) {
  RLF_CHECK_ARG(chw.size() == 3, "NatureCnn needs [C, H, W]");
  convs_ = torch::nn::Sequential(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(chw[0], 32, 8).stride(4)), torch::nn::ReLU(),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 4).stride(2)), torch::nn::ReLU(),
      torch::nn::Conv2d(torch::nn::Conv2dOptions(64, 64, 3).stride(1)), torch::nn::ReLU(), torch::nn::Flatten());
  for (auto& m : convs_->children())
    if (m->named_parameters(false).size()) OrthogonalInit(*m, std::sqrt(2.0));
  register_module("convs", convs_);
  torch::NoGradGuard guard;
  const int64_t flat = convs_->forward(torch::zeros({1, chw[0], chw[1], chw[2]})).size(1);
  fc_ = register_module("fc", torch::nn::Linear(flat, features));
  OrthogonalInit(*fc_, std::sqrt(2.0));
}

torch::Tensor NatureCnnImpl::forward(torch::Tensor x) { return torch::relu(fc_->forward(convs_->forward(x))); }

bool IsImageSpace(const Space& space) {
  return space.kind() == SpaceKind::kBox && space.dtype() == DType::kUInt8 && space.shape().size() == 3;
}

// [H, W, C] when the last dimension looks like channels and the first does not.
static bool ChannelsLast(const Space& space) { return space.shape()[2] <= 4 && space.shape()[0] > 4; }

std::vector<int64_t> ImageChw(const Space& space) {
  const auto s = space.shape();
  return ChannelsLast(space) ? std::vector<int64_t>{s[2], s[0], s[1]} : s;
}

int64_t PreprocessedWidth(const Space& space) {
  int64_t in = 0;
  switch (space.kind()) {
    case SpaceKind::kDiscrete: return space.n();
    case SpaceKind::kMultiDiscrete:
      for (int64_t n : space.nvec()) in += n;
      return in;
    default: return space.size();
  }
}

torch::Tensor PreprocessObservations(const torch::Tensor& obs, const Space& space) {
  switch (space.kind()) {
    case SpaceKind::kDiscrete:
      return torch::one_hot(obs.to(torch::kLong).reshape({-1}) - space.start(), space.n()).to(torch::kFloat32);
    case SpaceKind::kMultiDiscrete: {
      std::vector<torch::Tensor> parts;
      const auto o = obs.to(torch::kLong);
      for (size_t i = 0; i < space.nvec().size(); ++i)
        parts.push_back(torch::one_hot(o.select(-1, static_cast<int64_t>(i)), space.nvec()[i]));
      return torch::cat(parts, -1).to(torch::kFloat32);
    }
    default:
      if (IsImageSpace(space)) {
        auto x = obs.to(torch::kFloat32) / 255.0;
        return ChannelsLast(space) ? x.permute({0, 3, 1, 2}) : x;
      }
      return obs.to(torch::kFloat32).reshape({obs.size(0), -1});
  }
}

int64_t ActionHeadWidth(const Space& act_space) {
  int64_t head = 0;
  switch (act_space.kind()) {
    case SpaceKind::kDiscrete: return act_space.n();
    case SpaceKind::kMultiDiscrete:
      for (int64_t n : act_space.nvec()) head += n;
      return head;
    case SpaceKind::kBox:
      RLF_CHECK_ARG(act_space.dtype() == DType::kFloat32, "Box action spaces must be float32");
      return act_space.size();
    default:
      throw InvalidArgument("MultiBinary action spaces are not supported by the actor-critic policies yet");
  }
}

ActionDistribution MakeActionDistribution(const Space& act_space, const torch::Tensor& pi,
                                          const torch::Tensor& log_std, const torch::Tensor& mask) {
  std::optional<torch::Tensor> m;
  if (mask.defined()) m = mask;
  switch (act_space.kind()) {
    case SpaceKind::kDiscrete: return ActionDistribution(MaskedCategorical(pi, m));
    case SpaceKind::kMultiDiscrete: return ActionDistribution(MultiCategorical(pi, act_space.nvec(), m));
    default: return ActionDistribution(DiagGaussian(pi, log_std));
  }
}

ActorCriticImpl::ActorCriticImpl(const Space& obs_space, const Space& act_space, const PolicyConfig& config)
    : obs_space_(obs_space), act_space_(act_space), share_(config.share_features) {
  int64_t in = 0;
  image_ = IsImageSpace(obs_space);
  if (image_) {
    channels_last_ = ImageChw(obs_space) != obs_space.shape();
    cnn_ = register_module("cnn", NatureCnn(ImageChw(obs_space)));
    in = cnn_->out_features();
  } else {
    in = PreprocessedWidth(obs_space);
  }
  pi_torso_ = register_module("pi_torso", Mlp(in, config.net_arch, config.activation, config.ortho_init));
  if (!share_) vf_torso_ = register_module("vf_torso", Mlp(in, config.net_arch, config.activation, config.ortho_init));
  const int64_t head = ActionHeadWidth(act_space);
  if (act_space.kind() == SpaceKind::kBox) {
    use_sde_ = config.use_sde;
    log_std_ = register_parameter("log_std", use_sde_ ? torch::full({pi_torso_->out_features(), head}, config.log_std_init)
                                                      : torch::full({head}, config.log_std_init));
  }
  RLF_CHECK_ARG(!config.use_sde || act_space.kind() == SpaceKind::kBox, "use_sde needs a Box action space");
  pi_head_ = register_module("pi_head", torch::nn::Linear(pi_torso_->out_features(), head));
  vf_head_ = register_module("vf_head", torch::nn::Linear(pi_torso_->out_features(), 1));
  if (config.ortho_init) {
    OrthogonalInit(*pi_head_, 0.01);
    OrthogonalInit(*vf_head_, 1.0);
  }
}

torch::Tensor ActorCriticImpl::Preprocess(const torch::Tensor& obs) const {
  return PreprocessObservations(obs, obs_space_);
}

torch::Tensor ActorCriticImpl::Encode(const torch::Tensor& obs) {
  auto x = Preprocess(obs);
  return image_ ? cnn_->forward(x) : x;
}

ActionDistribution ActorCriticImpl::Distribution(const torch::Tensor& latent, const torch::Tensor& mask) {
  auto out = pi_head_->forward(latent);
  if (use_sde_) return ActionDistribution(DiagGaussian(out, SdeLogStd(latent)));
  return MakeActionDistribution(act_space_, out, log_std_, mask);
}

torch::Tensor SdeLogStd(const torch::Tensor& latent, const torch::Tensor& log_std) {
  // Var[z^T W] = (z^2)^T sigma^2; the features z are not trained through the
  // noise (SB3's learn_features=False).
  auto variance = latent.detach().pow(2).mm(log_std.exp().pow(2));
  return 0.5 * torch::log(variance + 1e-6);
}

torch::Tensor SdeNoise(int64_t n, const torch::Tensor& log_std, torch::Generator* gen) {
  torch::NoGradGuard no_grad;
  auto std = log_std.exp();
  auto eps = gen ? at::normal(0.0, 1.0, {n, std.size(0), std.size(1)}, *gen) : torch::randn({n, std.size(0), std.size(1)});
  return eps * std.unsqueeze(0);
}

torch::Tensor SdeActions(const torch::Tensor& mean, const torch::Tensor& latent, const torch::Tensor& noise) {
  RLF_CHECK(noise.defined() && noise.size(0) == latent.size(0), "gSDE noise was drawn for ",
            noise.defined() ? noise.size(0) : 0, " envs, not ", latent.size(0));
  return mean + torch::bmm(latent.detach().unsqueeze(1), noise).squeeze(1);
}

torch::Tensor ActorCriticImpl::SdeLogStd(const torch::Tensor& latent) const {
  return rlforge::SdeLogStd(latent, log_std_);
}

ActorCriticImpl::HeadOutputs ActorCriticImpl::Outputs(const torch::Tensor& obs) {
  auto x = Encode(obs);
  auto pi = pi_torso_->forward(x);
  auto v = share_ ? pi : vf_torso_->forward(x);
  HeadOutputs out{pi_head_->forward(pi), {}, vf_head_->forward(v).squeeze(-1)};
  if (act_space_.kind() == SpaceKind::kBox) out.log_std = use_sde_ ? SdeLogStd(pi) : log_std_;
  return out;
}

torch::Tensor ActorCriticImpl::Value(const torch::Tensor& obs) {
  auto x = Encode(obs);
  auto v = share_ ? pi_torso_->forward(x) : vf_torso_->forward(x);
  return vf_head_->forward(v).squeeze(-1);
}

ActorCriticImpl::Output ActorCriticImpl::Forward(const torch::Tensor& obs, const torch::Tensor& mask) {
  auto x = Encode(obs);
  auto pi = pi_torso_->forward(x);
  auto v = share_ ? pi : vf_torso_->forward(x);
  auto dist = Distribution(pi, mask);
  auto mean = act_space_.kind() == SpaceKind::kBox ? dist.mode() : torch::Tensor();
  return {std::move(dist), vf_head_->forward(v).squeeze(-1), pi, mean};
}

void ActorCriticImpl::ResampleSdeNoise(int64_t n, torch::Generator* gen) { sde_noise_ = SdeNoise(n, log_std_, gen); }

torch::Tensor ActorCriticImpl::SdeActions(const Output& out) const {
  return rlforge::SdeActions(out.mean, out.latent, sde_noise_);
}

}  // namespace rlforge
