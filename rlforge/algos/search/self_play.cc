#include "rlforge/algos/search/self_play.h"

#include <utility>

#include "rlforge/core/error.h"

namespace rlforge::search {

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

void BoardSymmetries(const board::Board& b, std::vector<std::vector<int>>* cells,
                     std::vector<std::vector<int>>* actions) {
  const int R = b.rows, C = b.cols;
  auto add = [&](auto map) {  // map(r, c) -> (r', c')
    std::vector<int> perm(R * C);
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) {
        auto [r2, c2] = map(r, c);
        perm[r * C + c] = r2 * C + c2;
      }
    cells->push_back(perm);
    if (b.gravity) {
      std::vector<int> cols(C);
      for (int c = 0; c < C; ++c) cols[c] = map(0, c).second;
      actions->push_back(cols);
    } else {
      actions->push_back(perm);
    }
  };
  add([](int r, int c) { return std::pair{r, c}; });
  if (b.gravity) {
    add([C](int r, int c) { return std::pair{r, C - 1 - c}; });
    return;
  }
  if (R != C) return;
  const int n = R - 1;
  add([n](int r, int c) { return std::pair{c, n - r}; });       // rotate 90
  add([n](int r, int c) { return std::pair{n - r, n - c}; });   // 180
  add([n](int r, int c) { return std::pair{n - c, r}; });       // 270
  add([n](int r, int c) { return std::pair{r, n - c}; });       // mirror
  add([n](int r, int c) { return std::pair{n - r, c}; });       // flip
  add([](int r, int c) { return std::pair{c, r}; });            // transpose
  add([n](int r, int c) { return std::pair{n - c, n - r}; });   // anti-transpose
}

void PermuteBoardObservation(const std::vector<int>& cells, int64_t obs_size, const float* in, float* out) {
  const int64_t n = static_cast<int64_t>(cells.size());
  for (int64_t p = 0; p < obs_size / n; ++p)
    for (int64_t c = 0; c < n; ++c) out[p * n + cells[c]] = in[p * n + c];
}

void ValidateMcts(const MctsConfig& c) {
  RLF_CHECK_ARG(c.c_init > 0, "config key 'c_init' must be > 0, got ", c.c_init);
  RLF_CHECK_ARG(c.c_base > 0, "config key 'c_base' must be > 0, got ", c.c_base);
  RLF_CHECK_ARG(c.dirichlet_alpha > 0, "config key 'dirichlet_alpha' must be > 0, got ", c.dirichlet_alpha);
  RLF_CHECK_ARG(c.noise_fraction >= 0 && c.noise_fraction <= 1, "config key 'noise_fraction' must be in [0, 1], got ",
                c.noise_fraction);
}

}  // namespace rlforge::search
