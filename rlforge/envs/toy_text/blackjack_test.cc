#include "rlforge/envs/toy_text/blackjack.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <tuple>

#include "rlforge/env/registry.h"

namespace rlforge {
namespace {

TEST(BlackjackTest, HandArithmeticAsGymnasium) {
  EXPECT_EQ(Blackjack::SumHand({1, 6}), 17);  // a usable ace counts 11
  EXPECT_TRUE(Blackjack::UsableAce({1, 6}));
  EXPECT_EQ(Blackjack::SumHand({1, 6, 10}), 17);  // 27 would bust: the ace counts 1
  EXPECT_FALSE(Blackjack::UsableAce({1, 6, 10}));
  EXPECT_EQ(Blackjack::SumHand({1, 1}), 12);  // one ace usable, not both
  EXPECT_EQ(Blackjack::SumHand({10, 9, 5}), 24);
  EXPECT_TRUE(Blackjack::IsNatural({10, 1}));
  EXPECT_FALSE(Blackjack::IsNatural({1, 5, 5}));  // 21, but three cards
  EXPECT_FALSE(Blackjack::IsNatural({1, 9}));
}

struct StickCase {
  bool natural, sab;
  std::vector<int64_t> player, dealer;
  double reward;
};

TEST(BlackjackTest, StickPaysAsGymnasiumUnderEachRule) {
  const std::vector<StickCase> cases = {
      {false, false, {10, 9}, {10, 8}, 1.0},     // 19 against 18
      {false, false, {10, 7}, {10, 8}, -1.0},    // 17 against 18
      {false, false, {10, 8}, {1, 7}, 0.0},      // soft 18: the dealer stands
      {false, false, {10, 8}, {1, 6}, 1.0},      // soft 17 stands too: 18 beats it
      {false, false, {1, 10}, {10, 7}, 1.0},     // a natural wins 1 by default
      {true, false, {1, 10}, {10, 7}, 1.5},      // natural=True pays 1.5
      {true, false, {1, 10}, {1, 10}, 0.0},      // against a natural it is a draw
      {true, false, {1, 5, 5}, {10, 7}, 1.0},    // three cards to 21 are no natural
      {false, true, {1, 10}, {7, 7, 7}, 1.0},    // sab: a natural beats a dealer's three-card 21
      {false, false, {1, 10}, {7, 7, 7}, 0.0},   // without sab that is a draw
      {true, true, {1, 10}, {10, 7}, 1.0},       // sab overrides natural's 1.5
      {false, true, {1, 10}, {10, 1}, 0.0},      // sab: both naturals draw
  };
  for (const StickCase& c : cases) {
    Blackjack env(c.natural, c.sab);
    env.Reset(0, std::vector<int64_t>(3).data());
    env.SetHands(c.player, c.dealer);
    std::vector<int64_t> obs(3);
    const StepResult r = env.StepDiscrete(Blackjack::kStick, obs.data());
    EXPECT_EQ(r.reward, c.reward) << "natural " << c.natural << " sab " << c.sab << " player " << c.player[0] << ","
                                  << c.player[1];
    EXPECT_TRUE(r.terminated);
    EXPECT_FALSE(r.truncated);
    EXPECT_EQ(env.dealer(), c.dealer);  // every dealer hand above already stands
    EXPECT_EQ(obs, (std::vector<int64_t>{Blackjack::SumHand(c.player), c.dealer[0],
                                         Blackjack::UsableAce(c.player) ? 1 : 0}));
  }
}

TEST(BlackjackTest, DealerDrawsToSeventeenAndHittingEndsOnlyOnABust) {
  Blackjack env;
  std::vector<int64_t> obs(3);
  env.Reset(11, obs.data());
  env.SetHands({10, 8}, {2, 3});
  env.StepDiscrete(Blackjack::kStick, obs.data());
  EXPECT_GE(env.dealer().size(), 3u);
  EXPECT_GE(Blackjack::SumHand(env.dealer()), 17);
  const std::vector<int64_t> before_last(env.dealer().begin(), env.dealer().end() - 1);
  EXPECT_LT(Blackjack::SumHand(before_last), 17);  // it stopped at the first sum of 17 or more
  // From 20 a hit survives only with an ace; over many deals about 1/13 do.
  int alive = 0;
  const int n = 13000;
  for (int i = 0; i < n; ++i) {
    env.Reset(std::nullopt, obs.data());
    env.SetHands({10, 10}, {10, 7});
    const StepResult r = env.StepDiscrete(Blackjack::kHit, obs.data());
    if (!r.terminated) {
      ++alive;
      EXPECT_EQ(r.reward, 0.0);
      EXPECT_EQ(obs, (std::vector<int64_t>{21, 10, 0}));
    } else {
      EXPECT_EQ(r.reward, -1.0);
      EXPECT_GT(obs[0], 21);
    }
  }
  EXPECT_NEAR(alive, n / 13.0, 4 * std::sqrt(n * (1 / 13.0) * (12 / 13.0)));
}

// The model's outcomes of (s, a) as {(next, reward, terminated): probability}.
std::map<std::tuple<int64_t, double, bool>, double> Outcomes(const TransitionModel& m, int64_t s, int64_t a) {
  std::map<std::tuple<int64_t, double, bool>, double> out;
  for (const Transition& t : m.Outcomes(s, a)) out[{t.next_state, t.reward, t.terminated}] += t.prob;
  return out;
}

TEST(BlackjackTest, TransitionModelByHand) {
  Blackjack env;
  ASSERT_NE(env.transition_model(), nullptr);
  const TransitionModel& m = *env.transition_model();
  EXPECT_EQ(m.num_states(), 32 * 11 * 2);
  EXPECT_EQ(Blackjack::StateIndex(20, 10, 0), (20 * 11 + 10) * 2);
  // Hard 20 hits: an ace makes 21 (1/13); anything else busts.
  auto hit20 = Outcomes(m, Blackjack::StateIndex(20, 10, 0), Blackjack::kHit);
  EXPECT_NEAR((hit20[{Blackjack::StateIndex(21, 10, 0), 0.0, false}]), 1 / 13.0, 1e-15);
  EXPECT_NEAR((hit20[{Blackjack::StateIndex(30, 10, 0), -1.0, true}]), 4 / 13.0, 1e-15);  // a ten
  // Soft 17 hits: a ten makes hard 17, a four soft 21, a five hard 12.
  auto soft17 = Outcomes(m, Blackjack::StateIndex(17, 5, 1), Blackjack::kHit);
  EXPECT_NEAR((soft17[{Blackjack::StateIndex(17, 5, 0), 0.0, false}]), 4 / 13.0, 1e-15);
  EXPECT_NEAR((soft17[{Blackjack::StateIndex(21, 5, 1), 0.0, false}]), 1 / 13.0, 1e-15);
  EXPECT_NEAR((soft17[{Blackjack::StateIndex(12, 5, 0), 0.0, false}]), 1 / 13.0, 1e-15);
  for (const auto& [key, p] : soft17) EXPECT_FALSE(std::get<2>(key));  // no bust from a soft hand
  // The dealer ends on 17..21 or busts, so sticking on 4 and on 16 both win
  // exactly when it busts (and never draw), and sticking on 21 never loses.
  auto stick4 = Outcomes(m, Blackjack::StateIndex(4, 10, 0), Blackjack::kStick);
  auto stick16 = Outcomes(m, Blackjack::StateIndex(16, 10, 0), Blackjack::kStick);
  auto stick21 = Outcomes(m, Blackjack::StateIndex(21, 10, 1), Blackjack::kStick);
  const int64_t s4 = Blackjack::StateIndex(4, 10, 0), s16 = Blackjack::StateIndex(16, 10, 0);
  EXPECT_EQ(stick4.size(), 2u);
  EXPECT_DOUBLE_EQ((stick4[{s4, 1.0, true}]), (stick16[{s16, 1.0, true}]));
  EXPECT_GT((stick4[{s4, 1.0, true}]), 0.2);
  EXPECT_LT((stick4[{s4, 1.0, true}]), 0.25);
  EXPECT_EQ(stick21.count({Blackjack::StateIndex(21, 10, 1), -1.0, true}), 0u);
  // The first observation: a natural with each dealer card, 2 (1/13)(4/13) (1/13 or 4/13).
  EXPECT_NEAR(m.initial_distribution()[Blackjack::StateIndex(21, 10, 1)], 2 * (1 / 13.0) * (4 / 13.0) * (4 / 13.0),
              1e-15);
  EXPECT_NEAR(m.initial_distribution()[Blackjack::StateIndex(21, 3, 1)], 2 * (1 / 13.0) * (4 / 13.0) / 13.0, 1e-15);
  EXPECT_EQ(m.initial_distribution()[Blackjack::StateIndex(3, 3, 0)], 0.0);
  EXPECT_EQ(m.initial_distribution()[Blackjack::StateIndex(21, 3, 0)], 0.0);  // hard 21 needs three cards
  // With natural or sab an observation does not say whether 21 is a natural.
  EXPECT_EQ(Blackjack(true, false).transition_model(), nullptr);
  EXPECT_EQ(Blackjack(false, true).transition_model(), nullptr);
}

TEST(BlackjackTest, RegisteredWithGymnasiumsKwargs) {
  auto env = Make("Blackjack-v1");
  EXPECT_EQ(env->observation_space(), Space::MultiDiscrete({32, 11, 2}));
  EXPECT_EQ(env->action_space(), Space::Discrete(2));
  // gym.make's sab=True: a natural beats the dealer's three-card 21.
  EXPECT_EQ(env->transition_model(), nullptr);
  std::vector<int64_t> obs(3);
  env->Reset(0, obs.data());
  dynamic_cast<Blackjack&>(env->unwrapped()).SetHands({1, 10}, {7, 7, 7});
  EXPECT_EQ(env->StepDiscrete(Blackjack::kStick, obs.data()).reward, 1.0);
  EXPECT_NE(Make("Blackjack-v1", {{"sab", "false"}})->transition_model(), nullptr);
  EXPECT_FALSE(Registry::Global().Spec("Blackjack-v1").max_episode_steps.has_value());  // none, as Gymnasium's
  EXPECT_THROW(Make("Blackjack-v1", {{"natural", "maybe"}}), InvalidArgument);
  Blackjack bj;
  EXPECT_THROW(bj.SetHands({10, 10, 5}, {10, 7}), InvalidArgument);  // bust
  EXPECT_THROW(bj.SetHands({11, 1}, {10, 7}), InvalidArgument);      // no card 11
}

}  // namespace
}  // namespace rlforge
