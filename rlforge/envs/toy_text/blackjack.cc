#include "rlforge/envs/toy_text/blackjack.h"

#include <algorithm>
#include <array>
#include <atomic>

#include "rlforge/core/error.h"
#include "rlforge/core/warning.h"
#include "rlforge/env/image_io.h"
#include "rlforge/env/registry.h"
#include "rlforge/envs/toy_text/tabular_env.h"

namespace rlforge {

namespace {

// The infinite deck: ace (1) to nine once each, ten four times.
constexpr std::array<int64_t, 13> kDeck = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10};

double CardProbability(int64_t card) { return card == 10 ? 4.0 / 13.0 : 1.0 / 13.0; }

// A hand summarized as what its future depends on: the sum of its cards with
// aces as 1, and whether it holds an ace.
struct Hand {
  int64_t raw;
  bool ace;
  bool Usable() const { return ace && raw + 10 <= 21; }
  int64_t Sum() const { return Usable() ? raw + 10 : raw; }
  Hand With(int64_t card) const { return {raw + card, ace || card == 1}; }
};

Hand HandOf(const std::vector<int64_t>& cards) {
  Hand hand{0, false};
  for (int64_t c : cards) hand = hand.With(c);
  return hand;
}

// The dealer's final score (0 when bust) from `hand`, as a distribution over
// 0..21, drawing while the sum (a usable ace as 11) is below 17.
void AddDealerOutcomes(const Hand& hand, double p, std::array<double, 22>* out) {
  const int64_t sum = hand.Sum();
  if (sum >= 17) {
    (*out)[sum > 21 ? 0 : sum] += p;
    return;
  }
  for (int64_t card = 1; card <= 10; ++card) AddDealerOutcomes(hand.With(card), p * CardProbability(card), out);
}

// The exact table under the default rules; see the header.
std::shared_ptr<TransitionModel> BuildModel() {
  const int64_t S = Blackjack::kSums * Blackjack::kCards * Blackjack::kAces;
  auto model = std::make_shared<TransitionModel>(S, 2);
  // The dealer's final score for each face-up card (its hidden card drawn too).
  std::array<std::array<double, 22>, 11> dealer{};
  for (int64_t up = 1; up <= 10; ++up) AddDealerOutcomes(Hand{up, up == 1}, 1.0, &dealer[up]);
  for (int64_t sum = 0; sum < Blackjack::kSums; ++sum)
    for (int64_t up = 0; up < Blackjack::kCards; ++up)
      for (int64_t usable = 0; usable < Blackjack::kAces; ++usable) {
        const int64_t s = Blackjack::StateIndex(sum, up, usable);
        // Observations no running episode shows (a bust, a dealer card 0, a
        // usable ace under 12): ending there with nothing keeps the table whole.
        const bool live = sum >= 4 && sum <= 21 && up >= 1 && (!usable || sum >= 12);
        if (!live) {
          model->Add(s, Blackjack::kStick, {{1.0, s, 0.0, true}});
          model->Add(s, Blackjack::kHit, {{1.0, s, 0.0, true}});
          continue;
        }
        // Stick: the observation stays; the comparison of sums pays.
        double win = 0, draw = 0, lose = 0;
        for (int64_t score = 0; score <= 21; ++score) {
          const double p = dealer[up][score];
          if (p == 0) continue;
          (sum > score ? win : sum == score ? draw : lose) += p;
        }
        std::vector<Transition> stick;
        if (win > 0) stick.push_back({win, s, 1.0, true});
        if (draw > 0) stick.push_back({draw, s, 0.0, true});
        if (lose > 0) stick.push_back({lose, s, -1.0, true});
        model->Add(s, Blackjack::kStick, std::move(stick));
        // Hit: one card. (sum, usable) is all the hand's future depends on: a
        // hand without a usable ace whose sum is 11 or less holds no ace, and
        // one of 12 or more can never use one.
        const Hand hand{sum - (usable ? 10 : 0), usable == 1};
        std::vector<Transition> hit;
        for (int64_t card = 1; card <= 10; ++card) {
          const Hand next = hand.With(card);
          const int64_t next_sum = next.Sum();
          const bool bust = next_sum > 21;
          hit.push_back({CardProbability(card), Blackjack::StateIndex(next_sum, up, next.Usable() ? 1 : 0),
                         bust ? -1.0 : 0.0, bust});
        }
        model->Add(s, Blackjack::kHit, std::move(hit));
      }
  // The first observation: the player's two cards and the dealer's face-up one.
  std::vector<double> initial(static_cast<size_t>(S), 0.0);
  for (int64_t a = 1; a <= 10; ++a)
    for (int64_t b = 1; b <= 10; ++b)
      for (int64_t up = 1; up <= 10; ++up) {
        const Hand hand = Hand{a, a == 1}.With(b);
        initial[static_cast<size_t>(Blackjack::StateIndex(hand.Sum(), up, hand.Usable() ? 1 : 0))] +=
            CardProbability(a) * CardProbability(b) * CardProbability(up);
      }
  model->SetInitial(std::move(initial));
  return model;
}

}  // namespace

Blackjack::Blackjack(bool natural, bool sab) : natural_(natural), sab_(sab) {
  if (!natural && !sab) model_ = SharedTransitionModel("Blackjack", BuildModel);
  obs_space_ = Space::MultiDiscrete({kSums, kCards, kAces});
  act_space_ = Space::Discrete(2);
}

// The model's arithmetic (Hand), on whole hands.
bool Blackjack::UsableAce(const std::vector<int64_t>& hand) { return HandOf(hand).Usable(); }
int64_t Blackjack::SumHand(const std::vector<int64_t>& hand) { return HandOf(hand).Sum(); }

bool Blackjack::IsNatural(const std::vector<int64_t>& hand) {
  return hand.size() == 2 && std::min(hand[0], hand[1]) == 1 && std::max(hand[0], hand[1]) == 10;
}

int64_t Blackjack::DrawCard() { return kDeck[rng_.UniformInt(kDeck.size())]; }

void Blackjack::WriteObservation(void* obs) const {
  auto* o = static_cast<int64_t*>(obs);
  o[0] = SumHand(player_), o[1] = dealer_[0], o[2] = UsableAce(player_) ? 1 : 0;
}

void Blackjack::ResetImpl(void* obs, Info* /*info*/) {
  dealer_ = {DrawCard(), DrawCard()};  // Gymnasium's order: the dealer's hand first
  player_ = {DrawCard(), DrawCard()};
  ended_ = false;
  WriteObservation(obs);
}

void Blackjack::StepImpl(const void* action, void* obs, StepResult* r) {
  if (*static_cast<const int64_t*>(action) == kHit) {
    player_.push_back(DrawCard());
    r->terminated = SumHand(player_) > 21;
    r->reward = r->terminated ? -1.0 : 0.0;
  } else {
    r->terminated = true;
    while (SumHand(dealer_) < 17) dealer_.push_back(DrawCard());
    const int64_t mine = SumHand(player_) > 21 ? 0 : SumHand(player_);
    const int64_t theirs = SumHand(dealer_) > 21 ? 0 : SumHand(dealer_);
    r->reward = mine > theirs ? 1.0 : mine < theirs ? -1.0 : 0.0;
    if (sab_ && IsNatural(player_) && !IsNatural(dealer_)) {
      r->reward = 1.0;
    } else if (!sab_ && natural_ && IsNatural(player_) && r->reward == 1.0) {
      r->reward = 1.5;
    }
  }
  ended_ = r->terminated;
  WriteObservation(obs);
}

void Blackjack::SetHands(std::vector<int64_t> player, std::vector<int64_t> dealer) {
  auto check = [](const std::vector<int64_t>& hand, size_t least, const char* who) {
    RLF_CHECK_ARG(hand.size() >= least, "Blackjack-v1: the ", who, " needs at least ", least, " cards");
    for (int64_t c : hand) RLF_CHECK_ARG(c >= 1 && c <= 10, "Blackjack-v1: card values are 1..10, got ", c);
  };
  check(player, 2, "player");
  check(dealer, 2, "dealer");
  RLF_CHECK_ARG(SumHand(player) <= 21, "Blackjack-v1: the player's hand is bust");
  player_ = std::move(player), dealer_ = std::move(dealer), ended_ = false;
  set_running(true);
}

namespace {
std::string CardName(int64_t card) { return card == 1 ? "A" : std::to_string(card); }
std::string HandText(const std::vector<int64_t>& hand) {
  std::string out;
  for (int64_t c : hand) out += (out.empty() ? "" : " ") + CardName(c);
  return out;
}
}  // namespace

std::string Blackjack::RenderText() const {
  if (player_.empty()) return "(not dealt)\n";
  std::string out = "Dealer: ";
  if (ended_ && SumHand(player_) <= 21) {
    out += HandText(dealer_) + " (" + std::to_string(SumHand(dealer_)) + (SumHand(dealer_) > 21 ? ", bust" : "") + ")";
  } else {
    out += CardName(dealer_[0]) + " ?";
  }
  out += "\nPlayer: " + HandText(player_) + " (" + std::to_string(SumHand(player_));
  if (UsableAce(player_)) out += ", usable ace";
  if (SumHand(player_) > 21) out += ", bust";
  return out + ")\n";
}

bool Blackjack::RenderRgb(Image* out) const {
  // Gymnasium's 600x500 green table: the dealer's cards above, the player's below.
  *out = Image(600, 500, {7, 99, 36});
  if (player_.empty()) return true;
  const double w = 70, h = 100, gap = 12;
  auto card = [&](double x, double y, int64_t value, bool face_up) {
    out->FillRect(x, y, x + w, y + h, {30, 30, 30});
    out->FillRect(x + 2, y + 2, x + w - 2, y + h - 2, face_up ? Rgb{250, 250, 245} : Rgb{150, 40, 40});
    if (face_up) {
      const std::string name = CardName(value);
      DrawText(out, x + (w - TextWidth(name, 3.0)) / 2, y + 30, name, {20, 20, 20}, 3.0);
    }
  };
  auto row = [&](const std::vector<int64_t>& hand, double y, bool hide_second) {
    // Side by side, overlapping when a long hand would leave the table.
    const double n = static_cast<double>(hand.size());
    const double step = n > 1 ? std::min(w + gap, (580 - w) / (n - 1)) : 0;
    double x = std::max(10.0, (600 - (n - 1) * step - w) / 2);
    for (size_t i = 0; i < hand.size(); ++i, x += step) card(x, y, hand[i], !(hide_second && i == 1));
  };
  const bool shown = ended_ && SumHand(player_) <= 21;
  DrawText(out, 20, 20, "Dealer: " + (shown ? std::to_string(SumHand(dealer_)) : CardName(dealer_[0]) + " + ?"),
           {255, 255, 255}, 2.5);
  row(dealer_, 70, !shown);
  std::string player = "Player: " + std::to_string(SumHand(player_));
  if (UsableAce(player_)) player += " (usable ace)";
  if (SumHand(player_) > 21) player += " (bust)";
  DrawText(out, 20, 260, player, {255, 255, 255}, 2.5);
  row(player_, 310, false);
  return true;
}

RLF_REGISTER_ENVS(blackjack) {
  // gym.make("Blackjack-v1") passes sab=True (the class's own default is False).
  registry.Register({"Blackjack-v1",
                     [](const Kwargs& kw) {
                       const bool natural = kw.GetBool("natural", false, "Blackjack-v1");
                       const bool sab = kw.GetBool("sab", true, "Blackjack-v1");
                       // As in Gymnasium, sab decides naturals; unlike it, say so (sab is on by default).
                       static std::atomic<bool> warned{false};
                       if (natural && sab)
                         WarnOnce(&warned, "Blackjack-v1: natural=true has no effect with sab=true (on unless sab=false): "
                                           "a natural wins +1 by Sutton & Barto's rule; pass sab=false for the 1.5");
                       return std::make_unique<Blackjack>(natural, sab);
                     },
                     std::nullopt, std::nullopt, {{"sab", "true"}},
                     {{"natural", "false", "a winning natural blackjack pays 1.5 (without sab)"},
                      {"sab", "true", "Sutton & Barto's rule: a natural beats a dealer without one (overrides natural)"}},
                     "beat the dealer at blackjack (toy text)"});
}

}  // namespace rlforge
