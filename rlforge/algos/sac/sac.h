// rlforge/algos/sac/sac.h — Soft Actor-Critic (Haarnoja et al., 2018), with
// the automatic entropy tuning of its second paper, as SB3 implements it.
//
// The actor is a squashed Gaussian: an MLP gives mu(s) and log_std(s)
// (clamped to [-20, 2]); an action is a = tanh(u), u = mu + std * eps,
// eps ~ N(0, I) (reparameterized), with
//   log pi(a|s) = sum_j [log N(u_j; mu_j, std_j) - log(1 - a_j^2 + 1e-6)]
// (the change of variables through tanh). n_critics (two) Q-networks learn
// from replay (rlforge/algos/off_policy.h). Each gradient step, in SB3's
// order, with a fresh a_pi ~ pi(.|s) and a' ~ pi(.|s'):
//   temperature: L(log alpha) = -mean[log alpha (log pi(a_pi|s) + H_target)]
//                (the alpha used below is the one before this step),
//   critics:     y = R + discount (1 - terminated) (min_i Q'_i(s', a') - alpha log pi(a'|s')),
//                L = 1/2 sum_i mean (Q_i(s, a) - y)^2,
//   actor:       L = mean[alpha log pi(a_pi|s) - min_i Q_i(s, a_pi)] (the
//                critics just updated),
//   targets:     Polyak averaging at the update phase's gradient steps 0, k,
//                2k, ... (k = target_update_interval; SB3 counts within each
//                train() call the same way).
// ent_coef "auto" learns alpha from 1 ("auto_0.1": from 0.1); a number fixes
// it. H_target is -dim(A) unless target_entropy says otherwise. Acting
// samples; the deterministic policy is tanh(mu(s)).
//
// gSDE (use_sde, generalized state-dependent exploration, Raffin et al.,
// 2022, as SB3 builds it for SAC): the actor's head gives only mu (clipped to
// [-clip_mean, clip_mean]); a parameter log_std [L, A] (L the last hidden
// layer's width, from log_std_init) scales an exploration matrix
// W = exp(log_std) * E, E ~ N(0, I) [L, A], and with z(s) the last hidden
// layer's output
//   a = tanh(mu(s) + z(s) W),   u ~ N(mu(s), sigma^2), sigma^2 = (z(s)^2) exp(2 log_std) + 1e-6,
//   log pi(a|s) = sum_j [log N(atanh(a)_j; mu_j, sigma_j) - log(1 - a_j^2 + 1e-6)].
// The noise is a deterministic function of the state while E is held:
// collection draws one E per env at the start of each collection phase (and
// every sde_sample_freq steps when that is > 0); each gradient step draws one
// E for its whole batch (a_pi and a' alike). The gradient flows into z as well
// (SB3's learn_features for SAC). The gSDE actor's passes run on autograd;
// fast_update still covers the critics. (PPO's gSDE, rlforge/nn/policy.h, is
// SB3's other form: no tanh, the features detached from the noise.)
#ifndef RLFORGE_ALGOS_SAC_SAC_H_
#define RLFORGE_ALGOS_SAC_SAC_H_

#include <optional>
#include <utility>

#include "rlforge/algos/off_policy.h"

namespace rlforge {

struct SacConfig : OffPolicyConfig {
  std::string ent_coef = "auto";        // auto, auto_<initial>, or a fixed number
  std::string target_entropy = "auto";  // auto (-dim(A)) or a number
  int64_t target_update_interval = 1;   // gradient steps between target-critic updates
  int64_t n_critics = 2;
  bool use_sde = false;                 // generalized state-dependent exploration (gSDE)
  int64_t sde_sample_freq = -1;         // gSDE: env steps between exploration matrices (<= 0: once per collection phase)
  double log_std_init = -3.0;           // gSDE: initial log_std
  double clip_mean = 2.0;               // gSDE: mu clipped to [-clip_mean, clip_mean] (<= 0: no clipping)
  bool use_sde_at_warmup = false;       // gSDE: explore with gSDE instead of uniform actions before learning_starts

  void Visit(FieldVisitor& v);
  void Validate() const;
};

// SAC's temperature keys as any agent with a squashed Gaussian actor reads
// them (sac, and cql for Box actions): ent_coef "auto" (learned from 1),
// "auto_<initial>" or a fixed positive number; target_entropy "auto"
// (-act_dim) or a number. InvalidArgument naming the key otherwise.
struct EntCoefSpec {
  bool learned = true;
  double initial = 1.0;
  double target_entropy = 0.0;
};
EntCoefSpec ParseEntCoef(const std::string& ent_coef, const std::string& target_entropy, int64_t act_dim);

// The squashed Gaussian's network: [B, D] -> [B, 2A] (mu, then the
// unclamped log_std). With gSDE (sde_log_std_init given) the head gives mu
// alone, [B, A], and the module holds the parameter log_std [L, A].
class SquashedGaussianActorImpl : public torch::nn::Module {
 public:
  SquashedGaussianActorImpl(int64_t obs_dim, int64_t act_dim, const std::vector<int64_t>& net_arch,
                            const std::string& activation, std::optional<double> sde_log_std_init = std::nullopt);
  torch::Tensor forward(const torch::Tensor& features);
  std::vector<torch::nn::Linear> layers() const;
  const Mlp& torso() const { return torso_; }
  const torch::nn::Linear& head() const { return head_; }
  // gSDE: the mean (clamped to [-clip, clip] when clip > 0) and the last hidden layer's output.
  std::pair<torch::Tensor, torch::Tensor> SdeMeanAndLatent(const torch::Tensor& features, double clip);
  bool sde() const { return sde_log_std_.defined(); }
  const torch::Tensor& sde_log_std() const { return sde_log_std_; }

 private:
  Mlp torso_{nullptr};
  torch::nn::Linear head_{nullptr};
  torch::Tensor sde_log_std_;
};
TORCH_MODULE(SquashedGaussianActor);

// Samples of the squashed Gaussian from the network's raw outputs [B, 2A]
// and standard normal draws eps [B, A]: actions a [B, A] and log pi [B].
void SquashedGaussianSample(const float* raw, const float* eps, int64_t rows, int64_t act_dim, float* actions,
                            double* log_prob);
constexpr double kSacLogStdMin = -20.0, kSacLogStdMax = 2.0;

// The same sample with autograd: raw [B, 2A] from the actor, eps [B, A];
// returns a = tanh(mu + std eps) [B, A] and log pi(a|s) [B], differentiable
// in raw (the reparameterization trick).
std::pair<torch::Tensor, torch::Tensor> SquashedGaussianRsample(const torch::Tensor& raw, const torch::Tensor& eps);

// Scaled actions [n, A] of a (non-gSDE) squashed Gaussian actor at features
// x [n, obs_dim]: tanh(mu) when deterministic, else a draw from rng.
void SquashedGaussianAct(SquashedGaussianActorImpl& actor, const float* x, int n, int64_t obs_dim, int64_t act_dim,
                         bool deterministic, Rng& rng, float* scaled);

// gSDE's action and log-prob (header comment) from the last hidden layer's
// output latent [B, L], the (clipped) mean mu [B, A], log_std [L, A] and one
// standard normal exploration draw eps [L, A] (or one per row, [B, L, A]):
// tensors a [B, A] and log pi [B], differentiable.
std::pair<torch::Tensor, torch::Tensor> SdeSample(const torch::Tensor& latent, const torch::Tensor& mu,
                                                  const torch::Tensor& log_std, const torch::Tensor& eps);

class Sac : public OffPolicyActorCritic {
 public:
  Sac(const RunContext& ctx, const SacConfig& config);

  double CriticGradients(bool fast) override;
  double ActorGradients(bool fast) override;
  std::unique_ptr<Policy> MakePolicy(bool deterministic) override;
  torch::nn::Module* network() override { return &nets_; }
  double flops_per_gradient_step() const override;
  SquashedGaussianActor& actor() { return actor_; }
  double ent_coef() const { return alpha_; }
  double log_ent_coef() const { return log_alpha_; }
  double target_entropy() const { return target_entropy_; }
  // The last SampleBatch's standard normal draws for a' ~ pi(.|s') [B, A].
  const std::vector<float>& next_noise() const { return eps_next_; }
  // The temperature's step on this batch (from log pi at a_pi); returns its loss.
  double EntCoefStep(bool fast);
  // gSDE: this gradient step's exploration draw [L, A] (undefined without gSDE).
  const torch::Tensor& sde_noise() const { return sde_eps_; }

 protected:
  runtime::Model ExportModel() override;
  void ActScaled(const float* features, int n, bool deterministic, Rng& rng, float* scaled) override;
  void VisitAgentState(StateVisitor& v) override;
  double TrainStep() override;
  Metrics AgentMetrics() override;
  void DrawStepNoise() override;
  void SetAgentLearningRate(double lr) override;
  void BeginCollectStep(int64_t k) override;
  bool UniformWarmup() const override { return !(sac_.use_sde && sac_.use_sde_at_warmup); }

 private:
  // gSDE: a sample at x [rows, D] with the exploration draw eps (a [B, A], log pi [B]).
  std::pair<torch::Tensor, torch::Tensor> SdeActions(const float* x, int64_t rows, const torch::Tensor& eps);
  // The same without gradient, with this step's draw, into sized buffers
  // (rows = log_prob->size()).
  void SdeActionsInto(const float* x, std::vector<float>* actions, std::vector<double>* log_prob);
  // a_pi and log pi at the batch's observations (kernel or torch, no gradient).
  void PolicyAtObs(bool fast);

  SacConfig sac_;
  SquashedGaussianActor actor_{nullptr};
  torch::nn::Module nets_;
  std::unique_ptr<torch::optim::Adam> actor_optimizer_;
  MlpKernel actor_k_, actor_next_k_, actor_act_k_;
  bool learn_alpha_ = true;
  double target_entropy_ = 0;
  // log alpha and its Adam state (torch's Adam on one number, in double).
  double log_alpha_ = 0, alpha_ = 1, alpha_m_ = 0, alpha_v_ = 0, lr_ = 3e-4;
  int64_t alpha_t_ = 0;
  std::vector<float> eps_pi_, eps_next_;  // [B, A] this step's draws
  std::vector<float> a_pi_, a_next_, raw_, q_next_, q_pi_, coef_, d_a_, act_raw_;
  std::vector<double> logp_pi_, logp_next_;
  torch::Tensor sde_eps_;      // gSDE: the gradient step's draw [L, A]
  torch::Tensor sde_collect_;  // gSDE: the collection's draws, one per env [n, L, A]
  bool pi_fresh_ = false;  // a_pi_/logp_pi_ hold the kernel's forward at s for this step
  double actor_loss_ = 0, ent_coef_loss_ = 0, mean_logp_ = 0;
};

}  // namespace rlforge

#endif  // RLFORGE_ALGOS_SAC_SAC_H_
