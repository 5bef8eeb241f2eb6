// The runner's life cycle: resumed logs that continue the unbroken run's,
// resume that falls back past a damaged checkpoint or only finishes the final
// evaluation, SIGTERM that checkpoints, and what a failed run says.
#include "rlforge/train/runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>

#include "rlforge/algos/on_policy.h"
#include "rlforge/core/file_io.h"
#include "rlforge/train/tensorboard.h"
#include "rlforge/train/testing.h"

namespace fs = std::filesystem;

namespace rlforge {
namespace {

using testing_util::Quiet;
using testing_util::SameWeights;
using testing_util::Weights;
std::string FreshDir(const std::string& name) { return testing_util::FreshDir("runner_test", name); }


TrainConfig PpoConfig(int64_t steps, std::vector<std::string> sets = {}) {
  sets.push_back("eval_episodes=5");
  return TrainConfig::Resolve("ppo", "CartPole-v1", "", sets, steps, 3);
}

// progress.csv as rows of cells, the timing columns blanked.
std::vector<std::vector<std::string>> ProgressWithoutTimings(const std::string& dir) {
  std::vector<std::vector<std::string>> rows = testing_util::ProgressRows(dir);
  if (rows.empty()) return rows;
  std::vector<bool> timing;
  for (const auto& c : rows[0])
    timing.push_back(c == "steps_per_second" || c == "time_elapsed" || c.rfind("time_", 0) == 0);
  for (size_t r = 1; r < rows.size(); ++r)
    for (size_t k = 0; k < rows[r].size() && k < timing.size(); ++k)
      if (timing[k]) rows[r][k] = "t";
  return rows;
}

// (step, tag, value) of every scalar in the run's event files, the value
// left out for timings (time/*, train/time_*).
std::multiset<std::tuple<int64_t, std::string, std::string>> Events(const std::string& dir) {
  std::multiset<std::tuple<int64_t, std::string, std::string>> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) != 0) continue;
    for (const auto& [step, payload] : ReadEventRecords(e.path().string())) {
      size_t pos = std::string::npos;
      for (const char* prefix : {"rollout/", "train/", "time/", "eval/"}) pos = std::min(pos, payload.find(prefix));
      if (pos == std::string::npos) continue;  // the file_version record
      const size_t len = static_cast<uint8_t>(payload[pos - 1]);
      const std::string tag = payload.substr(pos, len);
      const bool timing = tag.rfind("time/", 0) == 0 || tag.find("/time_") != std::string::npos;
      const std::string value = timing ? "" : payload.substr(pos + len + 1, 4);
      out.insert({step, tag, value});
    }
  }
  return out;
}

class RunnerTest : public testing::Test {
 protected:
  // One uninterrupted run, shared: 6144 steps, checkpoints every 2048.
  static void SetUpTestSuite() {
    full_ = new std::string(FreshDir("full"));
    Train(PpoConfig(6144, {"checkpoint_interval=2048"}), *full_, Quiet());
  }
  static void TearDownTestSuite() { delete full_; }
  // A copy of the full run as a process killed after its step_4096 checkpoint
  // would have left it: later rows and events are still in the files.
  static std::string KilledCopy(const std::string& name) {
    const std::string dir = FreshDir(name);
    fs::copy(*full_, dir, fs::copy_options::recursive);
    fs::remove(dir + "/checkpoints/final.pt");
    fs::remove(dir + "/eval.json");
    return dir;
  }
  static std::string* full_;
};
std::string* RunnerTest::full_ = nullptr;

// Before: the 100-episode window was not in the checkpoint (ep_return_mean
// blank, then restarted), each resume opened a new event file repeating the
// steps after the checkpoint, and steps/s counted only the resumed part.
TEST_F(RunnerTest, AResumedRunsLogsContinueTheUnbrokenRunsExactly) {
  const std::string c = KilledCopy("resumed");
  fs::remove(c + "/checkpoints/step_4096.pt");  // resume from step 2048
  const TrainResult r = Resume(c, std::nullopt, Quiet());
  EXPECT_EQ(r.timesteps, 6144);
  EXPECT_TRUE(SameWeights(Weights(*full_), Weights(c)));
  const auto a_rows = ProgressWithoutTimings(*full_), c_rows = ProgressWithoutTimings(c);
  ASSERT_EQ(a_rows.size(), c_rows.size());
  for (size_t i = 0; i < a_rows.size(); ++i) EXPECT_EQ(a_rows[i], c_rows[i]) << "progress.csv row " << i;
  EXPECT_EQ(Events(*full_), Events(c));
  int files = 0;
  for (const auto& e : fs::directory_iterator(c)) files += e.path().filename().string().rfind("events.", 0) == 0;
  EXPECT_EQ(files, 1);
  const auto ja = nlohmann::json::parse(ReadWholeFile(*full_ + "/eval.json", "eval.json"));
  const auto jc = nlohmann::json::parse(ReadWholeFile(c + "/eval.json", "eval.json"));
  EXPECT_EQ(ja["mean_return"], jc["mean_return"]);
  // The summary's time is the whole run's, as progress.csv's last row says
  // (it used to count only the resumed part: 3x the steps/s).
  // time_elapsed never goes back (it used to restart at 0 after a resume).
  std::ifstream csv(c + "/progress.csv");
  std::string header, line;
  std::getline(csv, header);
  std::vector<std::string> names;
  std::stringstream hs(header);
  for (std::string x; std::getline(hs, x, ',');) names.push_back(x);
  const size_t k = std::find(names.begin(), names.end(), "time_elapsed") - names.begin();
  double previous = 0, last = 0;
  while (std::getline(csv, line)) {
    std::vector<std::string> cells;
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) cells.push_back(x);
    ASSERT_LT(k, cells.size());
    last = std::stod(cells[k]);
    EXPECT_GE(last, previous) << line;
    previous = last;
  }
  EXPECT_NEAR(r.seconds, last, 0.25 * last + 0.05);
}

TEST_F(RunnerTest, ResumeFallsBackToTheNewestCheckpointThatLoads) {
  const std::string c = KilledCopy("fallback");
  const std::string newest = c + "/checkpoints/step_4096.pt";
  const std::string bytes = ReadWholeFile(newest, "checkpoint");
  std::ofstream(newest, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  const TrainResult r = Resume(c, std::nullopt, Quiet());
  EXPECT_EQ(r.timesteps, 6144);
  EXPECT_TRUE(SameWeights(Weights(*full_), Weights(c)));
  EXPECT_TRUE(fs::exists(newest + ".damaged"));  // set aside, so eval and play skip it too
}

// A checkpoint of the previous build holds no runner state: it still resumes
// (the agent's state is whole), with a warning.
TEST_F(RunnerTest, ACheckpointWithoutRunnerStateStillResumes) {
  const std::string c = KilledCopy("old_format");
  fs::remove(c + "/checkpoints/step_4096.pt");
  const std::string old = c + "/checkpoints/step_2048.pt";
  LoadedRun run = LoadRun(old);
  run.algorithm->Save(old);  // the agent's fields only
  const TrainResult r = Resume(c, std::nullopt, Quiet());
  EXPECT_EQ(r.timesteps, 6144);
  EXPECT_TRUE(SameWeights(Weights(*full_), Weights(c)));
}

TEST_F(RunnerTest, ResumeOnlyFinishesARunKilledBeforeItsFinalEvaluation) {
  const std::string c = FreshDir("no_eval");
  fs::copy(*full_, c, fs::copy_options::recursive);
  fs::remove(c + "/eval.json");  // killed after final.pt, before eval.json
  const TrainResult r = Resume(c, std::nullopt, Quiet());
  EXPECT_EQ(r.timesteps, 6144);
  ASSERT_TRUE(fs::exists(c + "/eval.json"));
  EXPECT_EQ(ProgressWithoutTimings(*full_), ProgressWithoutTimings(c));
  EXPECT_TRUE(SameWeights(Weights(*full_), Weights(c)));
  // Now it is complete: a further resume says so.
  try {
    Resume(c, std::nullopt, Quiet());
    FAIL() << "a complete run was resumed";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("is complete"), std::string::npos) << e.what();
  }
}

TEST(RunnerSignalTest, SigtermCheckpointsAndTheResumedRunEndsWithTheUnbrokenRunsWeights) {
  const std::string a = FreshDir("sig_full"), b = FreshDir("sig_stopped");
  const int64_t steps = 40960;
  Train(PpoConfig(steps), a, Quiet());
  // While the test runs, SIGTERM outside a training loop is ignored (the
  // runner restores this handler when it returns), so a late signal cannot
  // end the test binary.
  struct sigaction ignore {}, previous {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGTERM, &ignore, &previous);
  std::atomic<bool> done{false};
  std::thread killer([&] {
    // SIGTERM once the run has logged a few rows.
    for (int i = 0; i < 3000 && !done; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      std::ifstream csv(b + "/progress.csv");
      int rows = 0;
      for (std::string line; std::getline(csv, line);) ++rows;
      if (rows >= 4) {
        kill(getpid(), SIGTERM);
        return;
      }
    }
  });
  int64_t stopped_at = -1;
  try {
    Train(PpoConfig(steps), b, Quiet());
  } catch (const Interrupted& e) {
    EXPECT_EQ(e.signal(), SIGTERM);
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
    stopped_at = LoadRun(b).algorithm->num_timesteps();
  }
  done = true;
  killer.join();
  sigaction(SIGTERM, &previous, nullptr);
  ASSERT_GT(stopped_at, 0) << "the run was not interrupted";
  EXPECT_LT(stopped_at, steps);
  EXPECT_TRUE(fs::exists(b + "/checkpoints/step_" + std::to_string(stopped_at) + ".pt"));
  EXPECT_FALSE(fs::exists(b + "/eval.json"));
  Resume(b, std::nullopt, Quiet());
  EXPECT_TRUE(SameWeights(Weights(a), Weights(b)));
  EXPECT_EQ(ProgressWithoutTimings(a), ProgressWithoutTimings(b));
}

TEST(RunnerTest2, EvalJsonMarksAFinishedRunEvenWithoutAFinalEvaluation) {
  const std::string d = FreshDir("no_final_eval");
  Train(TrainConfig::Resolve("ppo", "CartPole-v1", "", {"eval_episodes=0"}, 512, 0), d, Quiet());
  ASSERT_TRUE(fs::exists(d + "/eval.json"));
  const auto j = nlohmann::json::parse(ReadWholeFile(d + "/eval.json", "eval.json"));
  EXPECT_EQ(j["episodes"], 0);
  EXPECT_EQ(j["timesteps"], 512);
  EXPECT_FALSE(j.contains("mean_return"));
}

// The periodic evaluation's TensorBoard scalars are evaluations.csv's:
// std_return and (where the env defines success) success_rate too.
TEST(RunnerTest2, PeriodicEvaluationsLogEveryColumnToTensorBoard) {
  const std::string d = FreshDir("eval_scalars");
  Train(TrainConfig::Resolve("q-learning", "FrozenLake-v1", "",
                             {"eval_interval=1000", "eval_interval_episodes=5", "eval_episodes=5"}, 2000, 0),
        d, Quiet());
  std::set<std::string> tags;
  for (const auto& [step, tag, value] : Events(d))
    if (tag.rfind("eval/", 0) == 0) tags.insert(tag);
  EXPECT_EQ(tags, (std::set<std::string>{"eval/mean_length", "eval/mean_return", "eval/std_return", "eval/success_rate"}));
}

// A NaN stop used to claim "the last checkpoint is kept" when there was none.
TEST(RunnerTest2, ANonFiniteLossSaysWhetherACheckpointIsLeft) {
  bool kept = false;  // whether the last run's directory is left
  auto stop_message = [&kept](const std::string& name, std::vector<std::string> sets, const std::string& algo = "a2c") {
    const std::string d = FreshDir(name);
    sets.push_back("learning_rate=1e30");
    sets.push_back("eval_episodes=0");
    std::string message = "no error";
    try {
      Train(TrainConfig::Resolve(algo, "CartPole-v1", "", sets, 200000, 0), d, Quiet());
    } catch (const Error& e) {
      message = e.what();
    }
    kept = fs::exists(d + "/config.yaml");
    return message;
  };
  const std::string none = stop_message("nan_none", {});
  EXPECT_NE(none.find("no checkpoint was written before it (checkpoint_interval: 0)"), std::string::npos) << none;
  EXPECT_EQ(none.find("is kept"), std::string::npos) << none;
  EXPECT_TRUE(kept);
  // The interval was said to be 0 whatever it was.
  const std::string later = stop_message("nan_later", {"checkpoint_interval=150000"});
  EXPECT_NE(later.find("(checkpoint_interval: 150000)"), std::string::npos) << later;
  // A run that fails in its first iteration leaves no directory to resume:
  // it said "--resume would start the run again", which then found nothing.
  const std::string first = stop_message("nan_first", {}, "ppo");
  EXPECT_NE(first.find("nothing was logged or saved before it: run the same command again"), std::string::npos)
      << first;
  EXPECT_FALSE(kept);
  const std::string some = stop_message("nan_some", {"checkpoint_interval=40"});
  EXPECT_NE(some.find("the last checkpoint"), std::string::npos) << some;
  EXPECT_NE(some.find("--resume"), std::string::npos) << some;
}

TEST(EvalStepCapTest, TrainingOnAnEnvWithoutALimitEndsItsEvaluation) {
  // Q-learning's greedy policy after 500 steps walks into a wall forever on
  // CliffWalking; evaluation used to hang. Now every episode is capped.
  const std::string d = FreshDir("cliff");
  const TrainResult r = Train(
      TrainConfig::Resolve("q-learning", "CliffWalking-v1", "", {"eval_episodes=3", "eval_max_episode_steps=300"},
                           500, 0),
      d, Quiet());
  EXPECT_EQ(r.eval.episodes, 3);
  // Every episode reached the goal within the cap or was cut at exactly 300
  // steps, and those are the truncated ones.
  int64_t at_cap = 0;
  for (int64_t length : r.eval.lengths) {
    EXPECT_LE(length, 300);
    at_cap += length == 300;
  }
  EXPECT_EQ(r.eval.truncated, at_cap);
  const auto j = nlohmann::json::parse(ReadWholeFile(d + "/eval.json", "eval.json"));
  EXPECT_EQ(j["step_cap"], 300);
  EXPECT_EQ(j["truncated"], r.eval.truncated);
}

}  // namespace
}  // namespace rlforge

namespace rlforge {
namespace {

// An edited config.yaml used to give "shape '[4]' is invalid for input of
// size 1"; the error now names the key that no longer fits.
TEST(RunnerTest2, AnEditedConfigNamesTheKeyThatNoLongerFits) {
  const std::string d = FreshDir("edited");
  Train(TrainConfig::Resolve("ppo", "CartPole-v1", "", {"eval_episodes=0", "net_arch=[16]"}, 512, 0), d, Quiet());
  std::string yaml = ReadWholeFile(d + "/config.yaml", "config");
  const size_t at = yaml.find("net_arch: [16]");
  ASSERT_NE(at, std::string::npos) << yaml;
  yaml.replace(at, 14, "net_arch: [8]");
  WriteFileAtomically(d + "/config.yaml", yaml);
  try {
    LoadRun(d);
    FAIL() << "a checkpoint loaded into another network";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("net_arch ([16] then, [8] now)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rlforge
