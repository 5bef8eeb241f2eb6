// TrueSkill against the `trueskill` package from PyPI (0.4.5, default
// environment), which printed the expected values:
//   rate_1vs1(Rating(), Rating())              -> (29.39583202, 7.17147559), (20.60416798, 7.17147559)
//   rate_1vs1(Rating(), Rating(), drawn=True)  -> (25.00000000, 6.45751966) both
//   rate_1vs1(Rating(30, 4), Rating(22, 6))    -> (30.64697569, 3.83687299), (20.54465556, 5.43166602)
//   rate_1vs1(Rating(22, 6), Rating(30, 4))    -> (27.70694154, 4.91376684), (27.46297006, 3.69631371)
//   rate_1vs1(Rating(30, 4), Rating(22, 6), drawn=True) -> (28.52672580, 3.61373943), (25.31406800, 4.59246546)
//   quality_1vs1(Rating(30, 4), Rating(22, 6)) -> 0.437508401537485
// (the package approximates erf; agreement is to about 1e-4).
#include "rlforge/algos/league/ratings.h"

#include <gtest/gtest.h>

#include <cmath>

#include "rlforge/core/error.h"

namespace rlforge {
namespace {

void ExpectGame(Rating a, Rating b, int outcome, Rating ea, Rating eb) {
  RateGame(&a, &b, outcome);
  EXPECT_NEAR(a.mu, ea.mu, 1e-4);
  EXPECT_NEAR(a.sigma, ea.sigma, 1e-4);
  EXPECT_NEAR(b.mu, eb.mu, 1e-4);
  EXPECT_NEAR(b.sigma, eb.sigma, 1e-4);
}

TEST(TrueSkillTest, MatchesTheTrueskillPackage) {
  ExpectGame({}, {}, 1, {29.39583202, 7.17147559}, {20.60416798, 7.17147559});
  ExpectGame({}, {}, 0, {25.0, 6.45751966}, {25.0, 6.45751966});
  ExpectGame({30, 4}, {22, 6}, 1, {30.64697569, 3.83687299}, {20.54465556, 5.43166602});
  ExpectGame({30, 4}, {22, 6}, -1, {27.46297006, 3.69631371}, {27.70694154, 4.91376684});
  ExpectGame({30, 4}, {22, 6}, 0, {28.52672580, 3.61373943}, {25.31406800, 4.59246546});
  EXPECT_NEAR(MatchQuality({30, 4}, {22, 6}), 0.437508401537485, 1e-6);
}

TEST(TrueSkillTest, WinProbabilityAndTails) {
  EXPECT_NEAR(WinProbability({}, {}), 0.5, 1e-12);
  EXPECT_GT(WinProbability({30, 4}, {22, 6}), 0.8);
  EXPECT_NEAR(InverseNormalCdf(0.975), 1.959963984540054, 1e-10);
  // An upset far in the tail stays finite and moves the ratings the right way.
  Rating strong{60, 1}, weak{0, 1};
  RateGame(&strong, &weak, -1);
  EXPECT_TRUE(std::isfinite(strong.mu) && std::isfinite(weak.mu));
  EXPECT_LT(strong.mu, 60);
  EXPECT_GT(weak.mu, 0);
  EXPECT_THROW(RateGame(&strong, &weak, 2), InvalidArgument);
}

// A player who beats the field 75% of the time ends rated above one who
// beats it 25% of the time, after enough games (a deterministic schedule).
TEST(TrueSkillTest, RatingsOrderPlayersByStrength) {
  Rating good, bad, field;
  for (int g = 0; g < 400; ++g) {
    RateGame(&good, &field, g % 4 != 0 ? 1 : -1);
    RateGame(&bad, &field, g % 4 == 0 ? 1 : -1);
  }
  EXPECT_GT(good.conservative(), field.conservative());
  EXPECT_GT(field.mu, bad.mu);
}

}  // namespace
}  // namespace rlforge
