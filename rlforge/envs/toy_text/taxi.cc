#include "rlforge/envs/toy_text/taxi.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "rlforge/envs/toy_text/ansi.h"
#include "rlforge/env/registry.h"

namespace rlforge {
namespace {

const char* const kMap[7] = {"+---------+", "|R: | : :G|", "| : | : : |", "| : : : : |",
                             "| | : | : |", "|Y| : |B: |", "+---------+"};
constexpr int kMaxRow = 4, kMaxCol = 4;

// Where a move from (row, col) in direction a (0 S, 1 N, 2 E, 3 W) ends; the
// taxi stays put at a wall or the border.
std::pair<int, int> Move(int row, int col, int a) {
  switch (a) {
    case 0:
      return {std::min(row + 1, kMaxRow), col};
    case 1:
      return {std::max(row - 1, 0), col};
    case 2:
      return kMap[1 + row][2 * col + 2] == ':' ? std::make_pair(row, std::min(col + 1, kMaxCol))
                                               : std::make_pair(row, col);
    default:
      return kMap[1 + row][2 * col] == ':' ? std::make_pair(row, std::max(col - 1, 0)) : std::make_pair(row, col);
  }
}

// Left and right of a heading: south -> (east, west), north -> (west, east),
// east -> (north, south), west -> (south, north).
constexpr int kLeftOf[4] = {2, 3, 1, 0};
constexpr int kRightOf[4] = {3, 2, 0, 1};

int LocIndex(int row, int col) {
  for (int i = 0; i < 4; ++i)
    if (Taxi::kLocs[i][0] == row && Taxi::kLocs[i][1] == col) return i;
  return -1;
}

}  // namespace

int64_t Taxi::Encode(int row, int col, int pass_loc, int dest) {
  return ((static_cast<int64_t>(row) * 5 + col) * 5 + pass_loc) * 4 + dest;
}

std::array<int, 4> Taxi::Decode(int64_t s) {
  const int dest = static_cast<int>(s % 4);
  s /= 4;
  const int pass = static_cast<int>(s % 5);
  s /= 5;
  const int col = static_cast<int>(s % 5);
  const int row = static_cast<int>(s / 5);
  return {row, col, pass, dest};
}

Taxi::Taxi(const TaxiConfig& config, std::string name) : name_(std::move(name)), config_(config) {
  RLF_CHECK_ARG(config.rainy_probability >= 0 && config.rainy_probability <= 1, name_,
                ": rainy_probability must be in [0, 1], got ", config.rainy_probability);
  RLF_CHECK_ARG(config.fickle_probability >= 0 && config.fickle_probability <= 1, name_,
                ": fickle_probability must be in [0, 1], got ", config.fickle_probability);
  std::ostringstream key;
  key.precision(17);
  key << "Taxi|" << config.is_rainy << "|" << config.rainy_probability;
  model_ = SharedTransitionModel(key.str(), [&] {
    auto model = std::make_shared<TransitionModel>(500, 6);
    std::vector<double> initial(500, 0.0);
    for (int row = 0; row < 5; ++row) {
      for (int col = 0; col < 5; ++col) {
        for (int pass = 0; pass < 5; ++pass) {
          for (int dest = 0; dest < 4; ++dest) {
            const int64_t s = Encode(row, col, pass, dest);
            if (pass < 4 && pass != dest) initial[s] += 1;
            for (int a = 0; a < 6; ++a) {
              if (a <= 3) {
                const auto [ir, ic] = Move(row, col, a);
                const int64_t intended = Encode(ir, ic, pass, dest);
                if (!config.is_rainy) {
                  model->Add(s, a, {{1.0, intended, -1.0, false}});
                } else if (ir == row && ic == col) {
                  const double p = config.rainy_probability, q = (1.0 - p) / 2.0;
                  model->Add(s, a, {{p, s, -1.0, false}, {q, s, -1.0, false}, {q, s, -1.0, false}});
                } else {
                  const double p = config.rainy_probability, q = (1.0 - p) / 2.0;
                  const auto [lr, lc] = Move(row, col, kLeftOf[a]);
                  const auto [rr, rc] = Move(row, col, kRightOf[a]);
                  model->Add(s, a,
                             {{p, intended, -1.0, false},
                              {q, Encode(lr, lc, pass, dest), -1.0, false},
                              {q, Encode(rr, rc, pass, dest), -1.0, false}});
                }
              } else if (a == kPickup) {
                if (pass < 4 && kLocs[pass][0] == row && kLocs[pass][1] == col)
                  model->Add(s, a, {{1.0, Encode(row, col, 4, dest), -1.0, false}});
                else
                  model->Add(s, a, {{1.0, s, -10.0, false}});
              } else {  // dropoff
                const int here = LocIndex(row, col);
                if (pass == 4 && here == dest)
                  model->Add(s, a, {{1.0, Encode(row, col, dest, dest), 20.0, true}});
                else if (pass == 4 && here >= 0)
                  model->Add(s, a, {{1.0, Encode(row, col, here, dest), -1.0, false}});
                else
                  model->Add(s, a, {{1.0, s, -10.0, false}});
              }
            }
          }
        }
      }
    }
    model->SetInitial(std::move(initial));
    return model;
  });
  obs_space_ = Space::Discrete(500);
  act_space_ = Space::Discrete(6);
}

void Taxi::ResetImpl(void* obs, Info* info) {
  s_ = ResetFromModel(*model_, rng_, obs, info);
  last_action_ = -1;
  fickle_step_ = config_.fickle_passenger && rng_.Uniform() < config_.fickle_probability;
}

void Taxi::StepImpl(const void* action, void* obs, StepResult* r) {
  last_action_ = *static_cast<const int64_t*>(action);
  const int64_t before_state = s_;
  s_ = StepFromModel(*model_, s_, last_action_, rng_, obs, r).next_state;
  if (r->terminated) r->info.Set("is_success", 1.0);
  if (fickle_step_) {
    const auto before = Decode(before_state);
    const auto after = Decode(s_);
    if (before[2] == 4 && (after[0] != before[0] || after[1] != before[1])) {
      fickle_step_ = false;
      // Uniform among the three destinations other than the current one.
      const int k = static_cast<int>(rng_.UniformInt(3));
      const int dest = k >= before[3] ? k + 1 : k;
      s_ = Encode(after[0], after[1], after[2], dest);
      *static_cast<int64_t*>(obs) = s_;
    }
  }
}

void Taxi::ActionMask(uint8_t* mask) const {
  const auto [row, col, pass, dest] = Decode(s_);
  mask[0] = row < 4;
  mask[1] = row > 0;
  mask[2] = col < 4 && kMap[row + 1][2 * col + 2] == ':';
  mask[3] = col > 0 && kMap[row + 1][2 * col] == ':';
  mask[4] = pass < 4 && kLocs[pass][0] == row && kLocs[pass][1] == col;
  mask[5] = pass == 4 && LocIndex(row, col) >= 0;
}

std::string Taxi::RenderText() const {
  std::vector<std::vector<std::string>> out;
  for (const char* line : kMap) {
    std::vector<std::string> row;
    for (const char* c = line; *c; ++c) row.push_back(std::string(1, *c));
    out.push_back(row);
  }
  const auto [row, col, pass, dest] = Decode(s_);
  std::string& taxi = out[1 + row][2 * col + 1];
  if (pass < 4) {
    taxi = Colorize(taxi, AnsiColor::kYellow, false, /*highlight=*/true);
    std::string& p = out[1 + kLocs[pass][0]][2 * kLocs[pass][1] + 1];
    p = Colorize(p, AnsiColor::kBlue, /*bold=*/true);
  } else {
    taxi = Colorize(taxi == " " ? "_" : taxi, AnsiColor::kGreen, false, /*highlight=*/true);
  }
  std::string& d = out[1 + kLocs[dest][0]][2 * kLocs[dest][1] + 1];
  d = Colorize(d, AnsiColor::kMagenta);
  std::string text;
  for (const auto& line : out) {
    for (const auto& c : line) text += c;
    text += "\n";
  }
  static const char* kNames[] = {"South", "North", "East", "West", "Pickup", "Dropoff"};
  text += last_action_ >= 0 ? StrCat("  (", kNames[last_action_], ")\n") : "\n";
  return text;
}

bool Taxi::RenderRgb(Image* out) const {
  // Gymnasium's 550x350 viewport: the 7x11 character map at 50 px per char.
  const int cw = 50, ch = 50;
  *out = Image(11 * cw, 7 * ch, {230, 230, 230});
  static const Rgb kLocColors[4] = {{255, 0, 0}, {0, 255, 0}, {255, 255, 0}, {0, 0, 255}};
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 11; ++x) {
      const char c = kMap[y][x];
      if (c == '|' || c == '+') out->FillRect(x * cw + 15, y * ch, x * cw + 35, (y + 1) * ch, {90, 90, 90});
      if (c == '-' || c == '+') out->FillRect(x * cw, y * ch + 15, (x + 1) * cw, y * ch + 35, {90, 90, 90});
    }
  auto cell = [&](int row, int col) { return std::make_pair((2 * col + 1) * cw, (row + 1) * ch); };
  for (int i = 0; i < 4; ++i) {
    auto [x, y] = cell(kLocs[i][0], kLocs[i][1]);
    const Rgb c = kLocColors[i];
    out->FillRect(x, y + 10, x + cw, y + ch,
                  {static_cast<uint8_t>((c.r + 255) / 2), static_cast<uint8_t>((c.g + 255) / 2),
                   static_cast<uint8_t>((c.b + 255) / 2)});
  }
  const auto [row, col, pass, dest] = Decode(s_);
  {
    auto [x, y] = cell(kLocs[dest][0], kLocs[dest][1]);
    out->FillRect(x + 5, y + 5, x + cw - 5, y + 15, {150, 50, 150});  // destination marker
  }
  auto [tx, ty] = cell(row, col);
  out->FillRect(tx + 5, ty + 12, tx + cw - 5, ty + ch - 8, pass == 4 ? Rgb{40, 170, 60} : Rgb{240, 200, 0});
  out->FillCircle(tx + 14, ty + ch - 8, 5, {20, 20, 20});
  out->FillCircle(tx + cw - 14, ty + ch - 8, 5, {20, 20, 20});
  if (pass < 4) {
    auto [px, py] = cell(kLocs[pass][0], kLocs[pass][1]);
    out->FillCircle(px + cw / 2.0, py + 20, 8, {30, 30, 200});
    out->FillRect(px + cw / 2.0 - 6, py + 26, px + cw / 2.0 + 6, py + 45, {30, 30, 200});
  }
  return true;
}

RLF_REGISTER_ENVS(taxi) {
  const std::vector<KwargDoc> kwargs = {{"is_rainy", "false", "moves slip sideways"},
                                        {"fickle_passenger", "false", "passenger may change destination once"},
                                        {"rainy_probability", "0.8", "probability a rainy move goes as intended"},
                                        {"fickle_probability", "0.3", "probability the passenger is fickle"}};
  for (const char* id : {"Taxi-v4", "Taxi-v3"}) {
    const std::string name = id;
    auto make = [name](const Kwargs& kw) {
      TaxiConfig c;
      c.is_rainy = kw.GetBool("is_rainy", c.is_rainy, name);
      c.fickle_passenger = kw.GetBool("fickle_passenger", c.fickle_passenger, name);
      c.rainy_probability = kw.GetDouble("rainy_probability", c.rainy_probability, name);
      c.fickle_probability = kw.GetDouble("fickle_probability", c.fickle_probability, name);
      return std::make_unique<Taxi>(c, name);
    };
    EnvSpec spec{name, make, 200, 8.0, {}, kwargs,
                 name == "Taxi-v4" ? "pick up and drop off a passenger (toy text)"
                                   : "older name of Taxi-v4 (same default dynamics)"};
    if (name != "Taxi-v4") spec.alias_of = "Taxi-v4";
    registry.Register(std::move(spec));
  }
}

}  // namespace rlforge
