// Data-parallel PPO (rlforge/dist/): two ranks, each with half of the envs,
// against one process holding the same rollout. The ranks' envs are seeded
// as the single process's would be; their action samplers are their own, so
// the test hands the single process the ranks' rollouts and compares the
// updates, which then differ only by float rounding in the reductions.
#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <thread>

#include "rlforge/algos/on_policy.h"
#include "rlforge/algos/ppo/ppo.h"
#include "rlforge/algos/ppo/recurrent_ppo.h"
#include "rlforge/dist/communicator.h"
#include "rlforge/dist/testing.h"

namespace rlforge {
namespace {

class PpoAccess : public Ppo {
 public:
  using Ppo::Ppo;
  using OnPolicyAlgorithm::CollectRollout;
  using Ppo::Update;
  // The rollout tensors Update reads ([T, N, ...]).
  std::vector<torch::Tensor*> Rollout() {
    return {&obs_, &actions_, &log_probs_, &values_, &advantages_, &returns_, &rewards_};
  }
  const RunningMeanStd& obs_rms() const { return obs_norm_.rms; }
};

RunContext CartPole(int64_t num_envs, std::shared_ptr<dist::Communicator> comm = nullptr) {
  RunContext ctx;
  ctx.algo = "ppo";
  ctx.run.env = "CartPole-v1";
  ctx.run.num_envs = num_envs;
  ctx.run.seed = 3;
  ctx.run.total_steps = 10000;
  ctx.comm = std::move(comm);
  return ctx;
}

PpoConfig SmallPpo(int64_t batch_size) {
  PpoConfig c;
  c.n_steps = 16;
  c.batch_size = batch_size;
  c.n_epochs = 3;
  c.policy.net_arch = {16, 16};
  return c;
}

std::vector<torch::Tensor> Params(Ppo& a) {
  std::vector<torch::Tensor> out;
  for (auto& p : a.network()->parameters()) out.push_back(p.detach().clone());
  return out;
}

double MaxAbsDiff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, (a[i] - b[i]).abs().max().item<double>());
  return d;
}

struct RankResult {
  std::vector<torch::Tensor> rollout;  // copies of Rollout() after collection
  std::vector<torch::Tensor> params;   // after the update
  int64_t timesteps = 0;
};

// Two ranks on threads; each builds PPO over 2 of the 4 envs, collects and
// updates. (Construction draws the initial weights from torch's global
// generator, so the threads take turns there; processes need not.)
std::vector<RankResult> TwoRanks(const PpoConfig& config, bool normalize_obs = false) {
  std::mutex construction;
  std::vector<RankResult> out(2);
  dist::OnThreadRanks(2, [&](int r, std::shared_ptr<dist::Communicator> comm) {
    RunContext ctx = CartPole(4, comm);
    ctx.run.normalize_obs = normalize_obs;
    std::unique_lock<std::mutex> lock(construction);
    PpoAccess algo(ctx, config);
    lock.unlock();
    algo.CollectRollout();
    for (auto* t : algo.Rollout()) out[static_cast<size_t>(r)].rollout.push_back(t->clone());
    algo.Update();
    out[static_cast<size_t>(r)].params = Params(algo);
    out[static_cast<size_t>(r)].timesteps = algo.num_timesteps();
  });
  return out;
}

TEST(PpoDistributedTest, TwoRanksUpdateAsOneProcessWithTheirRollouts) {
  // One minibatch of the whole global rollout (16 steps x 4 envs).
  const PpoConfig c = SmallPpo(64);
  const std::vector<RankResult> ranks = TwoRanks(c);
  EXPECT_EQ(ranks[0].timesteps, 64);  // the job's steps, counted on every rank
  EXPECT_EQ(ranks[1].timesteps, 64);
  // Both ranks hold the same weights, to the bit.
  EXPECT_EQ(MaxAbsDiff(ranks[0].params, ranks[1].params), 0.0);

  // Rank 0's envs are seeded as the single process's envs 0-1, rank 1's as
  // envs 2-3: the first observations agree.
  PpoAccess single(CartPole(4), c);
  std::vector<torch::Tensor> initial = Params(single);
  single.CollectRollout();
  const torch::Tensor first = single.Rollout()[0]->select(0, 0);
  EXPECT_TRUE(torch::equal(first.slice(0, 0, 2), ranks[0].rollout[0].select(0, 0)));
  EXPECT_TRUE(torch::equal(first.slice(0, 2, 4), ranks[1].rollout[0].select(0, 0)));

  // The single process given the ranks' rollouts (envs side by side) ends
  // where the ranks did.
  std::vector<torch::Tensor*> mine = single.Rollout();
  for (size_t k = 0; k < mine.size(); ++k) *mine[k] = torch::cat({ranks[0].rollout[k], ranks[1].rollout[k]}, 1);
  single.Update();
  const std::vector<torch::Tensor> after = Params(single);
  const double moved = MaxAbsDiff(after, initial);
  const double diff = MaxAbsDiff(after, ranks[0].params);
  EXPECT_GT(moved, 1e-4);  // the update did something
  EXPECT_LT(diff, 1e-5) << "single process and ranks differ by " << diff << " (the update moved " << moved << ")";
}

TEST(PpoDistributedTest, MinibatchesKeepRanksInStepAndObservationStatisticsMerge) {
  // Global minibatches of 16 (8 rows per rank), observation normalization on.
  const std::vector<RankResult> ranks = TwoRanks(SmallPpo(16), /*normalize_obs=*/true);
  EXPECT_EQ(MaxAbsDiff(ranks[0].params, ranks[1].params), 0.0);
}

TEST(PpoDistributedTest, MergedMomentsEqualOneProcesssStatistics) {
  // Rank r adds rows r, r + 2, r + 4, ... of a [40, 3] batch; after the merge
  // both hold the statistics of all 40 rows (and of the 1e-4 initial count).
  torch::manual_seed(0);
  const torch::Tensor x = torch::randn({40, 3}, torch::kFloat64) * 5 + 2;
  RunningMeanStd expected(3);
  expected.UpdateBatch(x.contiguous().data_ptr<double>(), 40);
  std::vector<RunningMeanStd> got(2, RunningMeanStd(3));
  dist::OnThreadRanks(2, [&](int r, std::shared_ptr<dist::Communicator> comm) {
      RunningMeanStd base(3), local(3);
      std::vector<double> acc;
      const torch::Tensor mine = x.slice(0, r, 40, 2).contiguous();
      for (int64_t k = 0; k < mine.size(0); k += 5) {  // in batches of 5 rows, as steps would add them
        const torch::Tensor b = mine.slice(0, k, k + 5).contiguous();
        local.UpdateBatch(b.data_ptr<double>(), b.size(0));
        AccumulateMoments(b.data_ptr<double>(), b.size(0), 3, &acc);
      }
      MergeRankMoments(*comm, &acc, &base, &local);
      got[static_cast<size_t>(r)] = local;
    });
  for (const auto& g : got) {
    EXPECT_NEAR(g.count(), expected.count(), 1e-9);
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR(g.mean()[i], expected.mean()[i], 1e-9);
      EXPECT_NEAR(g.var()[i], expected.var()[i], 1e-9);
    }
  }
  EXPECT_TRUE(got[0] == got[1]);
}

TEST(PpoDistributedTest, BadJobShapesAreRefused) {
  std::vector<std::string> errors(2);
  dist::OnThreadRanks(2, [&](int r, std::shared_ptr<dist::Communicator> comm) {
      auto error_of = [&](const std::string& algo, int64_t num_envs, int64_t batch_size) {
        try {
          RunContext ctx = CartPole(num_envs, comm);
          ctx.algo = algo;
          PpoConfig c = SmallPpo(batch_size);
          if (algo == "ppo") {
            AlgoConfigOf<PpoConfig> cfg;
            cfg.value = c;
            MakeAlgorithm(ctx, cfg);
          } else {
            MakeAlgorithm(ctx, *FindAlgorithm(algo).make_config());
          }
        } catch (const InvalidArgument& e) {
          return std::string(e.what());
        }
        return std::string("no error");
      };
      std::string& out = errors[static_cast<size_t>(r)];
      out += error_of("ppo", 3, 64) + "\n";
      out += error_of("ppo", 4, 63) + "\n";
      out += error_of("dqn", 4, 64) + "\n";
    });
  for (const std::string& e : errors) {
    EXPECT_NE(e.find("'num_envs' (3, the job's total) must be a multiple of the number of ranks (2)"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("'batch_size' (63, the job's global minibatch) must be a multiple"), std::string::npos) << e;
    EXPECT_NE(e.find("dqn does not train as a job of several ranks (WORLD_SIZE=2); the agents that do: ppo, recurrent-ppo, a2c"),
              std::string::npos)
        << e;
  }
}

TEST(PpoDistributedTest, RecurrentPpoRanksStayInStep) {
  // An LSTM policy on CartPoleNoVel-v1, 2 ranks x 2 envs, two iterations of
  // sequence minibatches (2 sequences of 8 steps per rank per minibatch).
  std::mutex construction;
  std::vector<std::vector<torch::Tensor>> params(2);
  std::vector<int64_t> steps(2);
  std::vector<std::string> errors(2);
  dist::OnThreadRanks(2, [&](int r, std::shared_ptr<dist::Communicator> comm) {
        RunContext ctx = CartPole(4, comm);
        ctx.algo = "recurrent-ppo";
        ctx.run.env = "CartPoleNoVel-v1";
        ctx.run.normalize_obs = true;
        RecurrentPpoConfig c;
        c.n_steps = 32;
        c.bptt_len = 8;
        c.batch_size = 32;  // 4 sequences of 8 in all, 2 per rank
        c.n_epochs = 2;
        c.policy.rnn_hidden_size = 8;
        c.policy.mlp.net_arch = {8};
        std::unique_lock<std::mutex> lock(construction);
        RecurrentPpo algo(ctx, c);
        lock.unlock();
        algo.Iterate();
        algo.Iterate();
        for (auto& p : algo.network()->parameters()) params[static_cast<size_t>(r)].push_back(p.detach().clone());
        steps[static_cast<size_t>(r)] = algo.num_timesteps();
        // Self-play's league is one process's.
        c.league.self_play = true;
        ctx.run.normalize_obs = false;
        ctx.run.env = "Arena-v0";
        ctx.run.env_kwargs = Kwargs{{"opponent", "external"}};
        try {
          RecurrentPpo league(ctx, c);
          errors[static_cast<size_t>(r)] = "no error";
        } catch (const InvalidArgument& e) {
          errors[static_cast<size_t>(r)] = e.what();
        }
    });
  EXPECT_EQ(steps[0], 2 * 32 * 4);
  EXPECT_EQ(steps[1], 2 * 32 * 4);
  ASSERT_EQ(params[0].size(), params[1].size());
  EXPECT_EQ(MaxAbsDiff(params[0], params[1]), 0.0);
  for (const auto& e : errors)
    EXPECT_NE(e.find("'self_play' does not train as a job of several ranks (WORLD_SIZE=2)"), std::string::npos) << e;
}

}  // namespace
}  // namespace rlforge
