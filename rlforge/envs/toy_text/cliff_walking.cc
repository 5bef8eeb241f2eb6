#include "rlforge/envs/toy_text/cliff_walking.h"

#include <algorithm>
#include <vector>

#include "rlforge/env/registry.h"

namespace rlforge {

CliffWalking::CliffWalking(bool is_slippery, std::string name) : name_(std::move(name)) {
  static const int kDelta[4][2] = {{-1, 0}, {0, 1}, {1, 0}, {0, -1}};
  model_ = SharedTransitionModel(is_slippery ? "CliffWalking|slippery" : "CliffWalking|dry", [&] {
    auto model = std::make_shared<TransitionModel>(kRows * kCols, 4);
    for (int64_t s = 0; s < kRows * kCols; ++s) {
      const int row = static_cast<int>(s / kCols), col = static_cast<int>(s % kCols);
      for (int a = 0; a < 4; ++a) {
        std::vector<int> moves = is_slippery ? std::vector<int>{(a + 3) % 4, a, (a + 1) % 4} : std::vector<int>{a};
        std::vector<Transition> outcomes;
        const double p = 1.0 / static_cast<double>(moves.size());
        for (int m : moves) {
          const int nr = std::clamp(row + kDelta[m][0], 0, kRows - 1);
          const int nc = std::clamp(col + kDelta[m][1], 0, kCols - 1);
          if (IsCliff(nr, nc)) {
            outcomes.push_back({p, kStart, -100.0, false});
          } else {
            const int64_t ns = static_cast<int64_t>(nr) * kCols + nc;
            outcomes.push_back({p, ns, -1.0, ns == kGoal});
          }
        }
        model->Add(s, a, std::move(outcomes));
      }
    }
    std::vector<double> initial(kRows * kCols, 0.0);
    initial[kStart] = 1.0;
    model->SetInitial(std::move(initial));
    return model;
  });
  obs_space_ = Space::Discrete(kRows * kCols);
  act_space_ = Space::Discrete(4);
}

void CliffWalking::ResetImpl(void* obs, Info* info) {
  s_ = ResetFromModel(*model_, rng_, obs, info);
  last_action_ = -1;
}

void CliffWalking::StepImpl(const void* action, void* obs, StepResult* r) {
  last_action_ = *static_cast<const int64_t*>(action);
  s_ = StepFromModel(*model_, s_, last_action_, rng_, obs, r).next_state;
  if (r->terminated) r->info.Set("is_success", 1.0);
}

std::string CliffWalking::RenderText() const {
  std::string out;
  for (int row = 0; row < kRows; ++row) {
    for (int col = 0; col < kCols; ++col) {
      const int64_t s = static_cast<int64_t>(row) * kCols + col;
      std::string cell = s == s_ ? " x " : s == kGoal ? " T " : IsCliff(row, col) ? " C " : " o ";
      if (col == 0) cell = cell.substr(1);
      if (col == kCols - 1) cell = cell.substr(0, cell.size() - 1) + "\n";
      out += cell;
    }
  }
  return out + "\n";
}

bool CliffWalking::RenderRgb(Image* out) const {
  const int cell = 60;  // Gymnasium's 720x240 viewport
  *out = Image(kCols * cell, kRows * cell, {200, 220, 200});
  for (int row = 0; row < kRows; ++row)
    for (int col = 0; col < kCols; ++col) {
      const double x = col * cell, y = row * cell;
      const Rgb base = (row + col) % 2 ? Rgb{190, 215, 190} : Rgb{205, 228, 205};
      out->FillRect(x, y, x + cell, y + cell, IsCliff(row, col) ? Rgb{90, 70, 60} : base);
      const int64_t s = static_cast<int64_t>(row) * kCols + col;
      if (s == kStart) out->FillRect(x + 15, y + 40, x + 45, y + 50, {140, 100, 60});
      if (s == kGoal) out->FillCircle(x + 30, y + 30, 14, {210, 160, 60});
    }
  const double ax = (s_ % kCols) * cell + 30.0, ay = (s_ / kCols) * cell + 30.0;
  out->FillCircle(ax, ay, 15, {40, 120, 200});
  return true;
}

RLF_REGISTER_ENVS(cliff_walking) {
  for (const char* id : {"CliffWalking-v1", "CliffWalking-v0"}) {
    const std::string name = id;
    EnvSpec spec{name,
                 [name](const Kwargs& kw) {
                   return std::make_unique<CliffWalking>(kw.GetBool("is_slippery", false, name), name);
                 },
                 std::nullopt, std::nullopt, {}, {{"is_slippery", "false", "moves slip sideways"}},
                 name == "CliffWalking-v1" ? "walk along a cliff edge (toy text)" : "older name of CliffWalking-v1"};
    if (name != "CliffWalking-v1") spec.alias_of = "CliffWalking-v1";
    registry.Register(std::move(spec));
  }
  registry.Register({"CliffWalkingSlippery-v1",
                     [](const Kwargs& kw) {
                       return std::make_unique<CliffWalking>(kw.GetBool("is_slippery", true, "CliffWalkingSlippery-v1"),
                                                             "CliffWalkingSlippery-v1");
                     },
                     std::nullopt, std::nullopt, {{"is_slippery", "true"}}, {{"is_slippery", "true", "moves slip sideways"}},
                     "cliff walking on slippery ground (toy text)"});
}

}  // namespace rlforge
