// rlforge/nn/policy.h — actor-critic networks for the policy-gradient agents.
//
// ActorCritic maps a batch of observations to an action distribution and a
// state value. Observations are preprocessed by their space: Discrete -> one
// hot, MultiDiscrete -> concatenated one-hots, float Box -> as is, uint8 Box
// with 3 dimensions (an image, [C, H, W] or [H, W, C]) -> /255 into the
// Nature-CNN encoder (Mnih et al., 2015: conv 8x8/4 32, 4x4/2 64, 3x3/1 64,
// linear 512). Torsos are MLPs (net_arch, activation), separate for actor and
// critic unless share_features. With ortho_init, weights are orthogonal with
// gain sqrt(2) in the torso, 0.01 for the policy head and 1 for the value
// head, biases zero (as SB3 and the PPO paper's code).
// The head is Categorical (masked) for Discrete, MultiCategorical for
// MultiDiscrete and a diagonal Gaussian with state-independent log_std for Box.
#ifndef RLFORGE_NN_POLICY_H_
#define RLFORGE_NN_POLICY_H_

#include <torch/torch.h>

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "rlforge/env/space.h"
#include "rlforge/nn/distributions.h"

namespace rlforge {

struct PolicyConfig {
  // Hidden layer sizes of each torso.
  std::vector<int64_t> net_arch = {64, 64};
  // "tanh" or "relu".
  std::string activation = "tanh";
  // Orthogonal initialization (see above).
  bool ortho_init = true;
  // One torso for actor and critic instead of two.
  bool share_features = false;
  // Initial log standard deviation of Gaussian policies.
  double log_std_init = 0.0;
  // Generalized state-dependent exploration (gSDE, Raffin et al., 2022) for
  // Box actions: noise = z(s)^T W with W ~ N(0, sigma^2) [latent, act] drawn
  // every sde_sample_freq steps (-1: once per rollout), z the policy torso's
  // output; the action distribution is N(mu(s), (z^2)^T sigma^2).
  bool use_sde = false;
  int64_t sde_sample_freq = -1;
};

// One of the three distributions, chosen by the action space.
class ActionDistribution {
 public:
  explicit ActionDistribution(MaskedCategorical d) : d_(std::move(d)) {}
  explicit ActionDistribution(MultiCategorical d) : d_(std::move(d)) {}
  explicit ActionDistribution(DiagGaussian d) : d_(std::move(d)) {}
  torch::Tensor log_prob(const torch::Tensor& a) const;
  torch::Tensor entropy() const;
  torch::Tensor sample(torch::Generator* gen) const;
  torch::Tensor mode() const;

 private:
  std::variant<MaskedCategorical, MultiCategorical, DiagGaussian> d_;
};

// Hidden layer sizes (config key net_arch) for an input of `in` features:
// each in 1..kMaxLayerWidth and the weights (with gradients and Adam's
// moments) within the machine's memory; InvalidArgument naming the key
// otherwise.
inline constexpr int64_t kMaxLayerWidth = 65536;
void CheckNetArch(int64_t in, const std::vector<int64_t>& hidden);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t in, const std::vector<int64_t>& hidden, const std::string& activation, bool ortho_init);
  torch::Tensor forward(torch::Tensor x);
  int64_t out_features() const { return out_; }
  // The Linear layers in order (each followed by the activation).
  std::vector<torch::nn::Linear> layers() const;
  const std::string& activation() const { return activation_; }

 private:
  torch::nn::Sequential seq_;
  int64_t out_;
  std::string activation_;
};
TORCH_MODULE(Mlp);

class NatureCnnImpl : public torch::nn::Module {
 public:
  // shape: [C, H, W] of the (already channel-first) image.
  NatureCnnImpl(const std::vector<int64_t>& chw, int64_t features = 512);
  torch::Tensor forward(torch::Tensor x);  // [B, C, H, W] float in [0, 1]
  int64_t out_features() const { return features_; }
  // The parts (export): conv, ReLU, conv, ReLU, conv, ReLU, Flatten; then fc + ReLU.
  const torch::nn::Sequential& convs() const { return convs_; }
  const torch::nn::Linear& fc() const { return fc_; }

 private:
  torch::nn::Sequential convs_;
  torch::nn::Linear fc_{nullptr};
  int64_t features_;
};
TORCH_MODULE(NatureCnn);

class ActorCriticImpl : public torch::nn::Module {
 public:
  ActorCriticImpl(const Space& obs_space, const Space& act_space, const PolicyConfig& config);

  // Raw observations [B, ...] in the env's dtype -> float features input.
  torch::Tensor Preprocess(const torch::Tensor& obs) const;
  // mask: [B, mask_size] bool or undefined.
  ActionDistribution Distribution(const torch::Tensor& features, const torch::Tensor& mask);
  torch::Tensor Value(const torch::Tensor& obs);  // [B]
  // The policy head's raw output for a latent (Output::latent): logits for
  // Discrete and MultiDiscrete, the mean for Box.
  torch::Tensor Logits(const torch::Tensor& latent) { return pi_head_->forward(latent); }

  // The raw outputs the policy-gradient loss is defined on
  // (rlforge/algos/actor_critic_loss.h), in the autograd graph.
  struct HeadOutputs {
    torch::Tensor pi;       // [B, width] logits (categorical) or the Gaussian mean
    torch::Tensor log_std;  // Gaussian: [act] (the parameter), or [B, act] with gSDE; else undefined
    torch::Tensor value;    // [B]
  };
  HeadOutputs Outputs(const torch::Tensor& obs);

  struct Output {
    ActionDistribution dist;
    torch::Tensor value;   // [B]
    torch::Tensor latent;  // [B, latent] policy torso output
    torch::Tensor mean;    // [B, act] Gaussian mean (Box actions)
  };
  Output Forward(const torch::Tensor& obs, const torch::Tensor& mask);

  const Space& action_space() const { return act_space_; }
  torch::Tensor log_std() const { return log_std_; }
  bool use_sde() const { return use_sde_; }
  // Parts, for the hand-written update kernels (rlforge/algos/ppo/fast_update.h).
  bool is_image() const { return image_; }
  const NatureCnn& cnn() const { return cnn_; }
  bool shares_features() const { return share_; }
  Mlp& pi_torso() { return pi_torso_; }
  Mlp& vf_torso() { return vf_torso_; }
  torch::nn::Linear& pi_head() { return pi_head_; }
  torch::nn::Linear& vf_head() { return vf_head_; }
  // gSDE: draws one exploration matrix per env, [n, latent, act].
  void ResampleSdeNoise(int64_t n, torch::Generator* gen);
  // gSDE: mean + z^T W_i for each row i (one row per env).
  torch::Tensor SdeActions(const Output& out) const;

 private:
  torch::Tensor Encode(const torch::Tensor& obs);
  // gSDE: the per-sample log std of the exploration noise for latents [B, latent].
  torch::Tensor SdeLogStd(const torch::Tensor& latent) const;

  Space obs_space_, act_space_;
  bool image_ = false, channels_last_ = false, share_ = false;
  NatureCnn cnn_{nullptr};
  Mlp pi_torso_{nullptr}, vf_torso_{nullptr};
  torch::nn::Linear pi_head_{nullptr}, vf_head_{nullptr};
  torch::Tensor log_std_;  // [act_dim], or [latent, act_dim] with gSDE; Box only
  bool use_sde_ = false;
  torch::Tensor sde_noise_;  // [n, latent, act_dim] exploration matrices
};
TORCH_MODULE(ActorCritic);

// Observation preprocessing shared by the actor-critic networks (feed-forward
// and recurrent): raw observations [B, ...] in the env's dtype -> float
// network input. Discrete -> one-hot, MultiDiscrete -> concatenated one-hots,
// images (uint8 Box with 3 dimensions) -> [B, C, H, W] / 255, any other Box ->
// [B, size].
bool IsImageSpace(const Space& space);
torch::Tensor PreprocessObservations(const torch::Tensor& obs, const Space& space);
// The width of PreprocessObservations' rows (not for images).
int64_t PreprocessedWidth(const Space& space);
// An image space's [C, H, W] (channel-last [H, W, C] spaces are permuted).
std::vector<int64_t> ImageChw(const Space& space);
// The policy head's width for an action space: n (Discrete), sum(nvec)
// (MultiDiscrete), the dimension (float32 Box); InvalidArgument otherwise.
int64_t ActionHeadWidth(const Space& act_space);
// The action distribution of head outputs pi [B, width] (log_std for Box
// actions; mask [B, mask] bool or undefined).
ActionDistribution MakeActionDistribution(const Space& act_space, const torch::Tensor& pi,
                                          const torch::Tensor& log_std, const torch::Tensor& mask);

// gSDE's pieces, shared by the feed-forward and recurrent policies (log_std
// [latent, act] the parameter, latent [B, latent] the policy torso's output):
// the per-sample log std of z^T W, 0.5 log((z^2)^T exp(log_std)^2 + 1e-6),
// with z detached (SB3's learn_features=False);
torch::Tensor SdeLogStd(const torch::Tensor& latent, const torch::Tensor& log_std);
// n exploration matrices W = exp(log_std) * eps, [n, latent, act];
torch::Tensor SdeNoise(int64_t n, const torch::Tensor& log_std, torch::Generator* gen);
// mean + z_i^T W_i for each row i (one matrix per row).
torch::Tensor SdeActions(const torch::Tensor& mean, const torch::Tensor& latent, const torch::Tensor& noise);

// Orthogonal init of a Linear (or conv) layer with `gain`, bias 0.
void OrthogonalInit(torch::nn::Module& layer, double gain);

}  // namespace rlforge

#endif  // RLFORGE_NN_POLICY_H_
