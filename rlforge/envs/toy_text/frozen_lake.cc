#include "rlforge/envs/toy_text/frozen_lake.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "rlforge/envs/toy_text/ansi.h"
#include "rlforge/env/registry.h"

namespace rlforge {
namespace {

const std::vector<std::string> kMap4x4 = {"SFFF", "FHFH", "FFFH", "HFFG"};
const std::vector<std::string> kMap8x8 = {"SFFFFFFF", "FFFFFFFF", "FFFHFFFF", "FFFFFHFF",
                                          "FFFHFFFF", "FHHFFFHF", "FHFFHFHF", "FFFHFFFG"};

bool HasPath(const std::vector<std::string>& board) {
  const int n = static_cast<int>(board.size());
  std::vector<std::pair<int, int>> frontier = {{0, 0}};
  std::vector<char> seen(n * n, 0);
  while (!frontier.empty()) {
    auto [r, c] = frontier.back();
    frontier.pop_back();
    if (seen[r * n + c]) continue;
    seen[r * n + c] = 1;
    static const int kDirs[4][2] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
    for (const auto& d : kDirs) {
      const int rn = r + d[0], cn = c + d[1];
      if (rn < 0 || rn >= n || cn < 0 || cn >= n) continue;
      if (board[rn][cn] == 'G') return true;
      if (board[rn][cn] != 'H') frontier.push_back({rn, cn});
    }
  }
  return false;
}

}  // namespace

std::vector<std::string> GenerateRandomFrozenLakeMap(int size, double p, uint64_t seed) {
  RLF_CHECK_ARG(size >= 2 && size <= kMaxFrozenLakeMapSize, "random FrozenLake maps need map_size in 2..",
                kMaxFrozenLakeMapSize, " (the map has map_size^2 states), got ", size);
  RLF_CHECK_ARG(p > 0 && p <= 1, "random FrozenLake maps need map_p in (0, 1], got ", p);
  Rng rng(seed);
  for (int attempt = 0; attempt < kMaxFrozenLakeMapTries; ++attempt) {
    std::vector<std::string> board(size, std::string(size, 'F'));
    for (auto& row : board)
      for (char& c : row) c = rng.Uniform() < p ? 'F' : 'H';
    board[0][0] = 'S';
    board[size - 1][size - 1] = 'G';
    if (HasPath(board)) return board;
  }
  throw InvalidArgument(StrCat("no random FrozenLake map of size ", size, " with map_p ", p, " had a path from S to G in ",
                               kMaxFrozenLakeMapTries, " tries; raise map_p"));
}

FrozenLake::FrozenLake(const FrozenLakeConfig& config, std::string name) : name_(std::move(name)) {
  std::vector<std::string> desc = config.desc;
  if (desc.empty()) {
    if (config.map_name == "4x4")
      desc = kMap4x4;
    else if (config.map_name == "8x8")
      desc = kMap8x8;
    else if (config.map_name == "random")
      desc = GenerateRandomFrozenLakeMap(config.map_size, config.map_p, config.map_seed);
    else
      throw InvalidArgument(StrCat(name_, ": unknown map_name '", config.map_name, "'; valid: 4x4, 8x8, random"));
  }
  nrow_ = static_cast<int>(desc.size());
  RLF_CHECK_ARG(nrow_ >= 1, name_, ": the map is empty");
  ncol_ = static_cast<int>(desc[0].size());
  bool has_start = false;
  for (const auto& row : desc) {
    RLF_CHECK_ARG(static_cast<int>(row.size()) == ncol_ && ncol_ >= 1, name_,
                  ": map rows must all have the same length");
    for (char c : row) {
      RLF_CHECK_ARG(c == 'S' || c == 'F' || c == 'H' || c == 'G', name_, ": map tile '", std::string(1, c),
                    "' is not one of S, F, H, G");
      has_start = has_start || c == 'S';
    }
  }
  RLF_CHECK_ARG(has_start, name_, ": the map has no start tile S");
  RLF_CHECK_ARG(config.success_rate >= 0 && config.success_rate <= 1, name_, ": success_rate must be in [0, 1], got ",
                config.success_rate);
  RLF_CHECK_ARG(config.reward_schedule.size() == 3, name_,
                ": reward_schedule needs 3 numbers (goal, hole, frozen), got ", config.reward_schedule.size());

  const int64_t ns = static_cast<int64_t>(nrow_) * ncol_;
  std::ostringstream key;
  key.precision(17);
  key << "FrozenLake|" << Join(desc, "/") << "|" << config.is_slippery << "|" << config.success_rate << "|"
      << Join(config.reward_schedule, ",");
  model_ = SharedTransitionModel(key.str(), [&] {
    auto model = std::make_shared<TransitionModel>(ns, 4);
    auto inc = [&](int row, int col, int a) {
      if (a == kLeft)
        col = std::max(col - 1, 0);
      else if (a == kDown)
        row = std::min(row + 1, nrow_ - 1);
      else if (a == kRight)
        col = std::min(col + 1, ncol_ - 1);
      else
        row = std::max(row - 1, 0);
      return std::make_pair(row, col);
    };
    auto outcome = [&](int row, int col, int a, double p) {
      auto [nr, nc] = inc(row, col, a);
      const char letter = desc[nr][nc];
      const double reward = letter == 'G'   ? config.reward_schedule[0]
                            : letter == 'H' ? config.reward_schedule[1]
                                            : config.reward_schedule[2];
      return Transition{p, static_cast<int64_t>(nr) * ncol_ + nc, reward, letter == 'G' || letter == 'H'};
    };
    std::vector<double> initial(ns, 0.0);
    for (int row = 0; row < nrow_; ++row) {
      for (int col = 0; col < ncol_; ++col) {
        const int64_t s = static_cast<int64_t>(row) * ncol_ + col;
        const char letter = desc[row][col];
        if (letter == 'S') initial[s] = 1.0;
        for (int a = 0; a < 4; ++a) {
          if (letter == 'G' || letter == 'H') {
            model->Add(s, a, {{1.0, s, 0.0, true}});
          } else if (config.is_slippery) {
            std::vector<Transition> li;
            for (int b : {(a + 3) % 4, a, (a + 1) % 4})
              li.push_back(outcome(row, col, b, b == a ? config.success_rate : (1.0 - config.success_rate) / 2.0));
            model->Add(s, a, std::move(li));
          } else {
            model->Add(s, a, {outcome(row, col, a, 1.0)});
          }
        }
      }
    }
    model->SetInitial(std::move(initial));
    return model;
  });
  desc_ = std::make_shared<const std::vector<std::string>>(std::move(desc));
  obs_space_ = Space::Discrete(ns);
  act_space_ = Space::Discrete(4);
}

void FrozenLake::ResetImpl(void* obs, Info* info) {
  s_ = ResetFromModel(*model_, rng_, obs, info);
  last_action_ = -1;
}

void FrozenLake::StepImpl(const void* action, void* obs, StepResult* r) {
  last_action_ = *static_cast<const int64_t*>(action);
  s_ = StepFromModel(*model_, s_, last_action_, rng_, obs, r).next_state;
  if (r->terminated) r->info.Set("is_success", (*desc_)[s_ / ncol_][s_ % ncol_] == 'G' ? 1.0 : 0.0);
}

std::string FrozenLake::RenderText() const {
  static const char* kNames[] = {"Left", "Down", "Right", "Up"};
  std::string out = last_action_ >= 0 ? StrCat("  (", kNames[last_action_], ")\n") : "\n";
  const int64_t row = s_ / ncol_, col = s_ % ncol_;
  for (int r = 0; r < nrow_; ++r) {
    for (int c = 0; c < ncol_; ++c) {
      const std::string tile(1, (*desc_)[r][c]);
      out += (r == row && c == col) ? Colorize(tile, AnsiColor::kRed, false, /*highlight=*/true) : tile;
    }
    out += "\n";
  }
  return out;
}

bool FrozenLake::RenderRgb(Image* out) const {
  const int cell = 64;  // Gymnasium's viewport: 64 px per tile
  *out = Image(ncol_ * cell, nrow_ * cell, {180, 220, 250});
  for (int r = 0; r < nrow_; ++r) {
    for (int c = 0; c < ncol_; ++c) {
      const double x = c * cell, y = r * cell;
      const char t = (*desc_)[r][c];
      out->FillRect(x, y, x + cell, y + cell, {210, 235, 255});
      out->FillRect(x, y, x + cell, y + 1, {150, 190, 230});
      out->FillRect(x, y, x + 1, y + cell, {150, 190, 230});
      if (t == 'H') out->FillCircle(x + cell / 2.0, y + cell / 2.0, cell * 0.4, {30, 60, 120});
      if (t == 'G') out->FillRect(x + 12, y + 12, x + cell - 12, y + cell - 12, {60, 170, 70});
      if (t == 'S') out->FillRect(x + 20, y + 50, x + cell - 20, y + 56, {120, 90, 60});
    }
  }
  const double ax = (s_ % ncol_) * cell + cell / 2.0, ay = (s_ / ncol_) * cell + cell / 2.0;
  out->FillCircle(ax, ay, cell * 0.25, {220, 50, 40});
  return true;
}

namespace {

std::vector<std::string> SplitRows(const std::string& text) {
  std::vector<std::string> rows;
  std::string row;
  for (char c : text) {
    if (c == '/' || c == ',') {
      rows.push_back(row);
      row.clear();
    } else {
      row += c;
    }
  }
  rows.push_back(row);
  return rows;
}

std::vector<KwargDoc> FrozenLakeKwargs(const std::string& default_map) {
  return {{"desc", "", "custom map, rows joined by '/', e.g. SFF/FHF/FFG"},
          {"map_name", default_map, "4x4, 8x8 or random"},
          {"is_slippery", "true", "slippery ice"},
          {"success_rate", "0.3333", "probability of moving as intended when slippery"},
          {"reward_schedule", "1,0,0", "rewards for entering goal, hole, frozen tile"},
          {"map_size", "8", "side of a random map"},
          {"map_p", "0.8", "probability that a random map's tile is frozen"},
          {"map_seed", "0", "seed of the random map generator"}};
}

std::unique_ptr<Env> MakeFrozenLake(const std::string& id, const Kwargs& kw) {
  FrozenLakeConfig c;
  // desc "" is its documented default: no custom map (map_name's).
  if (auto d = kw.Find("desc"); d && !d->empty()) c.desc = SplitRows(*d);
  c.map_name = kw.GetString("map_name", c.map_name);
  c.is_slippery = kw.GetBool("is_slippery", c.is_slippery, id);
  c.success_rate = kw.GetDouble("success_rate", c.success_rate, id);
  c.reward_schedule = kw.GetDoubles("reward_schedule", c.reward_schedule, id);
  const int64_t map_size = kw.GetInt("map_size", c.map_size, id);
  RLF_CHECK_ARG(map_size >= 2 && map_size <= kMaxFrozenLakeMapSize, "kwarg 'map_size' of ", id, " must be in 2..",
                kMaxFrozenLakeMapSize, " (the map has map_size^2 states), got ", map_size);
  c.map_size = static_cast<int>(map_size);
  c.map_p = kw.GetDouble("map_p", c.map_p, id);
  const int64_t map_seed = kw.GetInt("map_seed", 0, id);
  RLF_CHECK_ARG(map_seed >= 0, "kwarg 'map_seed' of ", id, " must be >= 0, got ", map_seed);
  c.map_seed = static_cast<uint64_t>(map_seed);
  // The random map's kwargs did nothing, without a word, on a named map or desc.
  if (c.map_name != "random" || !c.desc.empty())
    for (const char* key : {"map_size", "map_p", "map_seed"})
      RLF_CHECK_ARG(!kw.Find(key), "kwarg '", key, "' of ", id, " shapes a random map: it needs map_name=random ",
                    c.desc.empty() ? "(map_name is " + c.map_name + ")" : std::string("and no desc"));
  return std::make_unique<FrozenLake>(c, id);
}

}  // namespace

RLF_REGISTER_ENVS(frozen_lake) {
  registry.Register({"FrozenLake-v1", [](const Kwargs& kw) { return MakeFrozenLake("FrozenLake-v1", kw); }, 100, 0.70,
                     {}, FrozenLakeKwargs("4x4"), "cross a frozen lake, 4x4 (toy text)"});
  registry.Register({"FrozenLake8x8-v1", [](const Kwargs& kw) { return MakeFrozenLake("FrozenLake8x8-v1", kw); },
                     200, 0.85, {{"map_name", "8x8"}}, FrozenLakeKwargs("8x8"), "cross a frozen lake, 8x8 (toy text)"});
}

}  // namespace rlforge
