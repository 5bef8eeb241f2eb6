#include "rlforge/envs/toy_text/taxi.h"

#include <gtest/gtest.h>

#include <set>

#include "rlforge/env/registry.h"

namespace rlforge {
namespace {

std::vector<int64_t> NextStates(const Taxi& env, int64_t s, int64_t a) {
  std::vector<int64_t> out;
  for (const auto& t : env.model().Outcomes(s, a)) out.push_back(t.next_state);
  return out;
}

TEST(TaxiTest, EncodeDecodeRoundTrip) {
  for (int64_t s = 0; s < 500; ++s) {
    const auto d = Taxi::Decode(s);
    EXPECT_EQ(Taxi::Encode(d[0], d[1], d[2], d[3]), s);
  }
  EXPECT_EQ(Taxi::Encode(0, 0, 4, 1), 17);
}

TEST(TaxiTest, DryTransitionsMatchGymnasium) {
  Taxi env;
  // Pickup at R with the passenger there: state 1 -> 17, reward -1.
  const Transition& pick = *env.model().Outcomes(1, Taxi::kPickup).begin();
  EXPECT_EQ(pick.next_state, 17);
  EXPECT_EQ(pick.reward, -1);
  // Dropoff at G with the passenger aboard and destination G: 97 -> 85, +20, terminal.
  const Transition& drop = *env.model().Outcomes(97, Taxi::kDropoff).begin();
  EXPECT_EQ(drop.next_state, 85);
  EXPECT_EQ(drop.reward, 20);
  EXPECT_TRUE(drop.terminated);
  // Illegal pickup and dropoff cost -10 and change nothing.
  const Transition& bad = *env.model().Outcomes(21, Taxi::kPickup).begin();
  EXPECT_EQ(bad.reward, -10);
  EXPECT_EQ(bad.next_state, 21);
  EXPECT_EQ(env.model().Outcomes(21, Taxi::kDropoff).begin()->reward, -10);
  // Dropping the passenger at another stand leaves them there (reward -1).
  const int64_t at_y_with_dest_g = Taxi::Encode(4, 0, 4, 1);
  const Transition& other = *env.model().Outcomes(at_y_with_dest_g, Taxi::kDropoff).begin();
  EXPECT_EQ(other.next_state, Taxi::Encode(4, 0, 2, 1));
  EXPECT_EQ(other.reward, -1);
  EXPECT_FALSE(other.terminated);
  // Walls: east from (0,1) is blocked; west from (0,1) is open.
  EXPECT_EQ(NextStates(env, 21, Taxi::kEast), std::vector<int64_t>{21});
  EXPECT_EQ(NextStates(env, 21, Taxi::kWest), std::vector<int64_t>{1});
}

TEST(TaxiTest, RainyTransitionsMatchGymnasiumV4) {
  TaxiConfig c;
  c.is_rainy = true;
  Taxi env(c);
  // South from (0,0): 0.8 south, 0.1 left of heading (east), 0.1 right (west, blocked).
  auto out = env.model().Outcomes(1, Taxi::kSouth);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_NEAR(out.begin()[0].prob, 0.8, 1e-12);
  EXPECT_EQ(out.begin()[0].next_state, 101);
  EXPECT_NEAR(out.begin()[1].prob, 0.1, 1e-12);
  EXPECT_EQ(out.begin()[1].next_state, 21);
  EXPECT_EQ(out.begin()[2].next_state, 1);
  // A blocked intended move does not slip.
  EXPECT_EQ(NextStates(env, 21, Taxi::kEast), (std::vector<int64_t>{21, 21, 21}));
  TaxiConfig c2 = c;
  c2.rainy_probability = 0.5;
  Taxi env2(c2);
  EXPECT_NEAR(env2.model().Outcomes(1, Taxi::kSouth).begin()[1].prob, 0.25, 1e-12);
}

TEST(TaxiTest, RainySamplingFrequencies) {
  TaxiConfig c;
  c.is_rainy = true;
  Taxi env(c);
  int64_t s;
  env.Reset(0, &s);
  int south = 0, east = 0, stay = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    env.set_state(1);
    env.StepDiscrete(Taxi::kSouth, &s);
    south += s == 101;
    east += s == 21;
    stay += s == 1;
  }
  EXPECT_EQ(south + east + stay, n);
  EXPECT_NEAR(south / double(n), 0.8, 0.015);
  EXPECT_NEAR(east / double(n), 0.1, 0.012);
}

TEST(TaxiTest, ActionMasksMatchGymnasium) {
  Taxi env;
  int64_t s;
  env.Reset(0, &s);
  uint8_t m[6];
  auto mask_of = [&](int64_t state) {
    env.set_state(state);
    env.ActionMask(m);
    return std::vector<int>(m, m + 6);
  };
  EXPECT_EQ(mask_of(1), (std::vector<int>{1, 0, 1, 0, 1, 0}));
  EXPECT_EQ(mask_of(17), (std::vector<int>{1, 0, 1, 0, 0, 1}));
  EXPECT_EQ(mask_of(21), (std::vector<int>{1, 0, 0, 1, 0, 0}));
}

TEST(TaxiTest, InitialStatesAreThe300Valid) {
  Taxi env;
  int nonzero = 0;
  for (int64_t s = 0; s < 500; ++s) {
    const double p = env.model().initial_distribution()[s];
    const auto d = Taxi::Decode(s);
    if (p > 0) {
      ++nonzero;
      EXPECT_NEAR(p, 1.0 / 300, 1e-12);
      EXPECT_LT(d[2], 4);
      EXPECT_NE(d[2], d[3]);
    }
  }
  EXPECT_EQ(nonzero, 300);
}

TEST(TaxiTest, FicklePassengerChangesDestinationOnceAfterBoarding) {
  TaxiConfig c;
  c.fickle_passenger = true;
  c.fickle_probability = 1.0;
  Taxi env(c);
  int64_t s;
  env.Reset(0, &s);
  EXPECT_TRUE(env.fickle_pending());
  env.set_state(Taxi::Encode(0, 0, 0, 1));  // at R with the passenger, destination G
  env.StepDiscrete(Taxi::kPickup, &s);
  EXPECT_EQ(Taxi::Decode(s)[3], 1);  // no move yet: unchanged
  env.StepDiscrete(Taxi::kSouth, &s);
  const auto d = Taxi::Decode(s);
  EXPECT_EQ(d[0], 1);
  EXPECT_EQ(d[2], 4);
  EXPECT_NE(d[3], 1);
  EXPECT_FALSE(env.fickle_pending());
  const int dest = d[3];
  env.StepDiscrete(Taxi::kNorth, &s);
  EXPECT_EQ(Taxi::Decode(s)[3], dest);  // only once
  c.fickle_probability = 0.0;
  Taxi calm(c);
  calm.Reset(0, &s);
  EXPECT_FALSE(calm.fickle_pending());
}

TEST(TaxiTest, RegistryNamesAndKwargs) {
  auto v4 = Make("Taxi-v4", {{"is_rainy", "true"}, {"rainy_probability", "0.9"}});
  auto v3 = Make("Taxi-v3");
  EXPECT_EQ(v4->name(), "Taxi-v4");
  EXPECT_EQ(v3->name(), "Taxi-v3");
  EXPECT_TRUE(v4->has_action_mask());
  EXPECT_THROW(Make("Taxi-v4", {{"rainy_probability", "1.5"}}), InvalidArgument);
  EXPECT_THROW(Make("Taxi-v4", {{"is_rainy", "maybe"}}), InvalidArgument);
}

}  // namespace
}  // namespace rlforge
