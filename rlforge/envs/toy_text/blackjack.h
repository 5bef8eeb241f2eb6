// rlforge/envs/toy_text/blackjack.h — Blackjack-v1 as Gymnasium 1.3 defines it
// (Sutton & Barto, Example 5.1).
//
// Cards come from an infinite deck (drawn with replacement): 1 (ace) to 9 with
// probability 1/13 each, 10 with 4/13 (ten, jack, queen, king). The dealer
// holds one card face up and one face down, the player two face up. Action 0
// sticks (the dealer then draws until its sum is 17 or more, a usable ace
// counting 11, and the episode ends with +1, 0 or -1 by comparing sums, a bust
// scoring 0); action 1 hits (a bust ends the episode with -1, else reward 0).
// An ace counts 11 ("usable") unless that busts the hand.
//
// Observation: Gymnasium's Tuple(Discrete(32), Discrete(11), Discrete(2)) —
// (player's sum, dealer's face-up card 1..10, usable ace 0/1) — is given as
// the int64 triple of MultiDiscrete([32, 11, 2]), the same three values in the
// same order (`tuple(obs)` in Python is Gymnasium's observation). rlforge's
// spaces have no Tuple; every agent that takes MultiDiscrete observations
// takes this one (the tabular methods index their table by the triple).
//
// Kwargs as Gymnasium's: natural (a natural blackjack — ace and ten as the
// first two cards — that wins pays 1.5) and sab (Sutton & Barto's rule: a
// player's natural beats a dealer without one, +1; sab overrides natural).
// The registered Blackjack-v1 has sab=true, as gym.make("Blackjack-v1") does;
// this class's defaults are the Gymnasium class's (both false).
// No time limit, as in Gymnasium; an episode lasts at most 20 steps (a pair of
// aces, then aces).
//
// Transition model (natural and sab false only): states are observations, numbered
// row-major over (32, 11, 2) — numpy's ravel_multi_index(obs, (32, 11, 2)).
// The triple is Markov for the player under those rules (the deck is
// infinite, the dealer's hidden card independent of what the player sees).
// With natural or sab it is not: a natural 21 and a 21 reached by hitting show
// the same observation but pay differently, so no model is offered then.
#ifndef RLFORGE_ENVS_TOY_TEXT_BLACKJACK_H_
#define RLFORGE_ENVS_TOY_TEXT_BLACKJACK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rlforge/env/env.h"
#include "rlforge/env/transition_model.h"

namespace rlforge {

class Blackjack : public EnvBase<Blackjack> {
 public:
  enum Action : int64_t { kStick = 0, kHit = 1 };
  static constexpr int64_t kSums = 32, kCards = 11, kAces = 2;

  explicit Blackjack(bool natural = false, bool sab = false);

  const Space& observation_space() const override { return obs_space_; }
  const Space& action_space() const override { return act_space_; }
  std::string name() const override { return "Blackjack-v1"; }
  std::string RenderText() const override;
  bool RenderRgb(Image* out) const override;

  void ResetImpl(void* obs, Info* info);
  void StepImpl(const void* action, void* obs, StepResult* result);

  const TransitionModel* transition_model() const override { return model_.get(); }
  template <class A>
  void Fields(A& ar) {
    ar(player_), ar(dealer_), ar(ended_);
  }

  // For tests: deal these hands (card values 1..10) and continue from them.
  void SetHands(std::vector<int64_t> player, std::vector<int64_t> dealer);
  const std::vector<int64_t>& player() const { return player_; }
  const std::vector<int64_t>& dealer() const { return dealer_; }

  // Hand arithmetic, as Gymnasium's module functions.
  static bool UsableAce(const std::vector<int64_t>& hand);
  static int64_t SumHand(const std::vector<int64_t>& hand);  // a usable ace counted 11
  static bool IsNatural(const std::vector<int64_t>& hand);   // exactly an ace and a ten
  // The state number of an observation (player's sum, dealer's card, usable ace).
  static int64_t StateIndex(int64_t sum, int64_t dealer_card, int64_t usable_ace) {
    return (sum * kCards + dealer_card) * kAces + usable_ace;
  }

 private:
  int64_t DrawCard();
  void WriteObservation(void* obs) const;

  bool natural_, sab_;
  std::shared_ptr<const TransitionModel> model_;  // null with natural or sab
  Space obs_space_, act_space_;
  std::vector<int64_t> player_, dealer_;
  bool ended_ = false;  // the dealer's hand is shown
};

}  // namespace rlforge

#endif  // RLFORGE_ENVS_TOY_TEXT_BLACKJACK_H_
