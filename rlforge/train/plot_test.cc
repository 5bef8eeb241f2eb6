#include "rlforge/train/plot.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "rlforge/core/error.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

TEST(PlotTest, NoCurveIsDrawnOverTheLegend) {
  // Plot width 960: x from 0 to 860 is one pixel per unit (left margin 80).
  // Curve "c" zigzags up and down every 10 units, through the legend's
  // swatches wherever the legend goes.
  Curve a, b, c;
  a.label = "a", a.x = {0, 860}, a.mean = a.low = a.high = {0, 0};
  b.label = "b", b.x = {0, 860}, b.mean = b.low = b.high = {50, 50};
  c.label = "c";
  for (int k = 0; k <= 86; ++k) {
    c.x.insert(c.x.end(), {10.0 * k, 10.0 * k + 0.001});
    const double from = k % 2 ? 100 : -100;
    c.mean.insert(c.mean.end(), {from, -from});
  }
  c.low = c.high = c.mean;
  const Image img = PlotCurves({a, b, c}, PlotOptions{});
  const LegendBox box = PlaceLegend({a, b, c}, PlotOptions{});
  // The second entry's swatch (b's orange), under c's zigzag.
  const Rgb swatch = img.At(static_cast<int>(box.x + 23), static_cast<int>(box.y + 6 + 22 + 5));
  EXPECT_EQ(std::vector<int>({swatch.r, swatch.g, swatch.b}), std::vector<int>({255, 127, 14}));  // b's orange
  const Rgb line = img.At(80 + 430, 300);  // c's green, away from the legend
  EXPECT_EQ(std::vector<int>({line.r, line.g, line.b}), std::vector<int>({44, 160, 44}));
}

// The legend sat top-left whatever the curves: a solved learning curve's
// plateau ran under it. It goes to the corner that hides the least.
TEST(PlotTest, TheLegendAvoidsTheCurves) {
  Curve solved;
  solved.label = "ppo CartPole-v1";
  solved.x = {0, 100, 860};
  solved.mean = solved.low = solved.high = {0, 500, 500};
  const LegendBox box = PlaceLegend({solved}, PlotOptions{});
  EXPECT_GT(box.y, 300);  // a bottom corner: the plateau runs along the top
  Curve falling = solved;  // a loss: high on the left, low after
  falling.x = {0, 500, 860};
  falling.mean = falling.low = falling.high = {500, 0, 0};
  const LegendBox away = PlaceLegend({falling}, PlotOptions{});
  EXPECT_FALSE(away.x < 100 && away.y < 100);  // not top-left, where the loss starts
}

TEST(PlotTest, TickLabelsNeverShowMinusZeroOrRoundingNoise) {
  EXPECT_EQ(TickLabel(-0.0, 50), "0");
  EXPECT_EQ(TickLabel(-1.1e-14, 0.1), "0");  // ceil(y0 / step) * step after accumulation
  EXPECT_EQ(TickLabel(0.30000000000000004, 0.1), "0.3");
  EXPECT_EQ(TickLabel(-200, 50), "-200");
  EXPECT_EQ(TickLabel(20000, 5000), "20k");
}

std::string RunWithRows(const std::string& name, const std::string& rows) {
  const std::string dir = testing::TempDir() + "/rlforge_plot_test/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir + "/config.yaml") << "algo: ppo\nenv: CartPole-v1\nseed: 0\n";
  std::ofstream(dir + "/progress.csv") << "timesteps,ep_return_mean,loss\n" << rows;
  return dir;
}

// An inf used to blank the whole plot (with exit 0).
TEST(PlotTest, NonFiniteValuesAreLeftOutOrNamed) {
  const std::string d = RunWithRows("inf", "100,10,1\n200,20,inf\n300,30,2\n");
  const auto curves = LoadCurves({d}, "loss");
  ASSERT_EQ(curves.size(), 1u);
  EXPECT_EQ(curves[0].x, (std::vector<double>{100, 300}));
  const std::string all_inf = RunWithRows("all_inf", "100,10,inf\n200,20,nan\n");
  try {
    LoadCurves({all_inf}, "loss");
    FAIL() << "a curve of only inf and nan was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("only inf or nan"), std::string::npos) << e.what();
  }
  EXPECT_THROW(LoadCurves({RunWithRows("garbage", "100,x,1\n")}, "ep_return_mean"), InvalidArgument);
}

// A last row a kill cut short ("300,3" under three columns) is left out, not
// drawn with its partial value.
TEST(PlotTest, RowsCutShortAreLeftOut) {
  const std::string d = RunWithRows("cut", "100,10,1\n200,20,2\n300,3\n");
  const auto curves = LoadCurves({d}, "ep_return_mean");
  ASSERT_EQ(curves.size(), 1u);
  EXPECT_EQ(curves[0].x, (std::vector<double>{100, 200}));
  EXPECT_EQ(curves[0].mean, (std::vector<double>{10, 20}));
}

// Runs that differ only in seed are one curve; its label counts the seeds,
// and says so when some runs repeat a seed (they are not independent draws).
TEST(PlotTest, LabelsCountRunsAndSeeds) {
  auto run = [](const std::string& name, int seed) {
    const std::string dir = RunWithRows(name, "100,10,1\n200,20,2\n");
    std::ofstream(dir + "/config.yaml") << "algo: ppo\nenv: CartPole-v1\nseed: " << seed << "\n";
    return dir;
  };
  EXPECT_EQ(LoadCurves({run("s0", 0)}, "loss")[0].label, "ppo CartPole-v1 (seed 0)");
  EXPECT_EQ(LoadCurves({run("s0", 0), run("s1", 1)}, "loss")[0].label, "ppo CartPole-v1 (2 seeds)");
  EXPECT_EQ(LoadCurves({run("s0", 0), run("s0b", 0)}, "loss")[0].label, "ppo CartPole-v1 (2 runs of 1 seed)");
  const auto three = LoadCurves({run("s0", 0), run("s0b", 0), run("s1", 1)}, "loss");
  ASSERT_EQ(three.size(), 1u);
  EXPECT_EQ(three[0].label, "ppo CartPole-v1 (3 runs of 2 seeds)");
}

// metric rating: a self-play run's snapshots from ratings.csv, the bots as
// flat lines; groups that differ in a config key say which.
TEST(PlotTest, RatingCurvesFromRatingsCsv) {
  auto run = [](const std::string& name, const std::string& core) {
    const std::string dir = testing::TempDir() + "/rlforge_plot_test/" + name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir + "/config.yaml") << "algo: recurrent-ppo\nenv: Arena-v0\nseed: 0\nrnn_type: " << core
                                        << "  # core\n";
    std::ofstream(dir + "/ratings.csv")
        << "iteration,timesteps,player,mu,sigma,conservative,games,wins,draws,losses\n"
        << "0,0,bot:random,17,2,11,80,0,2,78\n0,0,bot:tactic,31,1,28,80,58,20,2\n"
        << "0,0,snapshot:0,20,1,17,120,1,2,117\n10,1000,snapshot:1,30,1,27,160,50,60,50\n";
    return dir;
  };
  const auto curves = LoadCurves({run("lstm", "lstm"), run("ff", "none")}, "rating");
  ASSERT_EQ(curves.size(), 4u);  // two runs, two bots
  EXPECT_EQ(curves[0].x, (std::vector<double>{0, 1000}));
  EXPECT_EQ(curves[0].mean, (std::vector<double>{20, 30}));
  EXPECT_EQ(curves[0].label, "recurrent-ppo Arena-v0 (seed 0), rnn_type: lstm");
  EXPECT_EQ(curves[1].label, "recurrent-ppo Arena-v0 (seed 0), rnn_type: none");
  EXPECT_EQ(curves[2].label, "bot:random");
  EXPECT_EQ(curves[3].mean, (std::vector<double>{31, 31}));
  EXPECT_EQ(LoadCurves({run("lstm", "lstm")}, "rating_conservative")[0].mean, (std::vector<double>{17, 27}));
  try {
    LoadCurves({RunWithRows("no_ratings", "100,10,1\n")}, "rating");
    FAIL() << "a run without ratings.csv was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("has no ratings.csv"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rlforge
