#include "rlforge/algos/qrdqn/qrdqn.h"

#include "rlforge/algos/qrdqn/quantile_loss.h"

namespace rlforge {

void QrDqnConfig::Visit(FieldVisitor& v) {
  dqn.Visit(v);
  v.Field("n_quantiles", &n_quantiles, "quantiles of the return predicted per action");
}

void QrDqnConfig::Validate() const {
  dqn.Validate();
  RLF_CHECK_ARG(n_quantiles >= 1 && n_quantiles <= 1000, "config key 'n_quantiles' must be in [1, 1000], got ",
                n_quantiles);
  RLF_CHECK_ARG(!dqn.dueling, "config key 'dueling' is not supported by qr-dqn (its head predicts quantiles)");
  RLF_CHECK_ARG(dqn.loss == "huber", "config key 'loss' is not supported by qr-dqn (it learns by the quantile "
                "Huber loss); leave it at huber");
  RLF_CHECK_ARG(dqn.demo_policy.empty(), "config key 'demo_policy' is not supported by qr-dqn (no DQfD term)");
}

namespace {
// DQN's config with QR-DQN's Adam epsilon filled in: 0.01 / batch_size when
// unset (sb3-contrib's QRDQN, after Dabney et al.'s 0.01 / 32).
DqnConfig Resolved(const QrDqnConfig& config) {
  config.Validate();
  DqnConfig c = config.dqn;
  if (!c.adam_eps) c.adam_eps = 0.01 / static_cast<double>(c.batch_size);
  return c;
}
}  // namespace

QrDqn::QrDqn(const RunContext& ctx, const QrDqnConfig& config)
    : Dqn(ctx, Resolved(config), std::make_unique<QuantileHead>(config.n_quantiles)) {}

}  // namespace rlforge
