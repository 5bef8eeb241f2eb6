#include "rlforge/algos/search/self_play.h"


#include "rlforge/core/error.h"
#include "rlforge/nn/distributions.h"

namespace rlforge::search {

void PriorPolicy::Act(const void* observations, const uint8_t* masks, int n, void* actions) {
  torch::NoGradGuard g;
  auto obs = torch::from_blob(const_cast<void*>(observations), {n, obs_size_}, torch::kFloat32);
  auto logits = logits_(obs).contiguous();
  const float* l = logits.data_ptr<float>();
  auto* out = static_cast<int64_t*>(actions);
  for (int i = 0; i < n; ++i) {
    // The prior's argmax is the logits' (softmax keeps the order).
    out[i] = GreedyLegalAction(l + i * num_actions_, num_actions_, masks ? masks + i * num_actions_ : nullptr);
    RLF_CHECK(out[i] >= 0, "no legal action in row ", i);
  }
}

void VisitMcts(FieldVisitor& v, MctsConfig* c) {
  v.Field("c_init", &c->c_init, "pUCT exploration constant");
  v.Field("c_base", &c->c_base, "pUCT log-term base");
  v.Field("dirichlet_alpha", &c->dirichlet_alpha, "root Dirichlet noise concentration");
  v.Field("noise_fraction", &c->noise_fraction, "weight of the root noise in self-play (0: none)");
  v.Field("minmax_normalize", &c->minmax_normalize, "normalize Q by the tree's min and max (MuZero)");
  v.Field("reuse_tree", &c->reuse_tree, "keep the chosen subtree for the next move");
}

void CopyParameters(const torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto src = from.parameters(), dst = to.parameters();
  RLF_CHECK(src.size() == dst.size(), "CopyParameters: different architectures");
  for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
}

Symmetry IdentitySymmetry(int64_t obs_size, int64_t num_actions) {
  Symmetry s;
  for (int64_t i = 0; i < obs_size; ++i) s.observation.push_back(i);
  for (int64_t a = 0; a < num_actions; ++a) s.action.push_back(a);
  return s;
}

void ApplySymmetry(const Symmetry& s, int64_t obs_size, const float* in, float* out) {
  RLF_CHECK(static_cast<int64_t>(s.observation.size()) == obs_size, "a symmetry of ", s.observation.size(),
            " observation elements applied to ", obs_size);
  for (int64_t i = 0; i < obs_size; ++i) out[s.observation[i]] = in[i];
}

void CheckSimulations(const char* key, int value) {
  RLF_CHECK_ARG(value >= 1 && value <= MctsConfig::kMaxSimulations, "config key '", key, "' must be in 1..",
                MctsConfig::kMaxSimulations, ", got ", value);
}

void ValidateMcts(const MctsConfig& c) {
  RLF_CHECK_ARG(c.c_init > 0, "config key 'c_init' must be > 0, got ", c.c_init);
  RLF_CHECK_ARG(c.c_base > 0, "config key 'c_base' must be > 0, got ", c.c_base);
  RLF_CHECK_ARG(c.dirichlet_alpha > 0, "config key 'dirichlet_alpha' must be > 0, got ", c.dirichlet_alpha);
  RLF_CHECK_ARG(c.noise_fraction >= 0 && c.noise_fraction <= 1, "config key 'noise_fraction' must be in [0, 1], got ",
                c.noise_fraction);
}

}  // namespace rlforge::search
