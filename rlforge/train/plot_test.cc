#include "rlforge/train/plot.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "rlforge/core/error.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

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

}  // namespace
}  // namespace rlforge
