#include "rlforge/env/async_vector_env.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <map>
#include <set>

#include "rlforge/env/registry.h"

namespace rlforge {
namespace {

// Every env's trajectory equals the same env stepped alone with the same
// actions, whatever the threads and the order envs finish in.
TEST(AsyncVectorEnvTest, EachEnvFollowsItsOwnTrajectory) {
  const int n = 8, batch = 3;
  for (int threads : {1, 3}) {
    AsyncVectorEnv envs([] { return Make("CartPole-v1"); }, n, threads, batch);
    envs.Reset(50);
    std::vector<std::unique_ptr<Env>> refs;
    std::vector<std::array<float, 4>> ref_obs(n);
    for (int i = 0; i < n; ++i) {
      refs.push_back(Make("CartPole-v1"));
      refs[i]->Reset(50 + i, ref_obs[i].data());
    }
    std::map<int, int> steps;
    std::set<int> first;
    int episodes = 0;
    for (int round = 0; round < 400; ++round) {
      envs.Recv();
      std::vector<int32_t> ids(envs.env_ids(), envs.env_ids() + batch);
      std::vector<int64_t> actions(batch);
      for (int b = 0; b < batch; ++b) {
        const int i = ids[b];
        ASSERT_EQ(std::memcmp(static_cast<const float*>(envs.observations()) + 4 * b, ref_obs[i].data(), 16), 0)
            << "env " << i << " step " << steps[i] << " threads " << threads;
        actions[b] = (steps[i] / 3) % 2;
      }
      envs.Send(actions.data(), ids.data(), batch);
      for (int b = 0; b < batch; ++b) {
        const int i = ids[b];
        StepResult r = refs[i]->StepDiscrete(actions[b], ref_obs[i].data());
        if (r.done()) refs[i]->Reset(std::nullopt, ref_obs[i].data()), ++episodes;
        ++steps[i];
      }
    }
    EXPECT_GT(episodes, 10);
    EXPECT_EQ(steps.size(), static_cast<size_t>(n));  // every env got its turn
  }
}

TEST(AsyncVectorEnvTest, MisuseIsReportedNotHung) {
  AsyncVectorEnv envs([] { return Make("CartPole-v1"); }, 4, 2, 2);
  EXPECT_THROW(AsyncVectorEnv([] { return Make("CartPole-v1"); }, 4, 1, 5), InvalidArgument);
  {
    // A send before the first reset is refused at once (it used to fail only at Recv).
    const int32_t first[1] = {0};
    const int64_t action[1] = {1};
    try {
      envs.Send(action, first, 1);
      ADD_FAILURE() << "a send before reset was accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("has not been reset"), std::string::npos) << e.what();
    }
  }
  envs.Reset(0);
  envs.Recv();
  envs.Recv();
  EXPECT_THROW(envs.Recv(), Error);  // nothing in flight: would wait forever
  const int32_t ids[2] = {0, 0};
  const int64_t actions[2] = {1, 1};
  EXPECT_THROW(envs.Send(actions, ids, 2), InvalidArgument);  // the same env twice
  const int32_t bad[1] = {7};
  EXPECT_THROW(envs.Send(actions, bad, 1), InvalidArgument);
  const int64_t illegal[1] = {2};
  const int32_t one[1] = {1};
  EXPECT_THROW(envs.Send(illegal, one, 1), InvalidArgument);
  const int32_t two[2] = {2, 3};
  envs.Send(actions, two, 2);
  envs.Recv();
  std::set<int> got(envs.env_ids(), envs.env_ids() + 2);
  EXPECT_EQ(got, (std::set<int>{2, 3}));
}

}  // namespace
}  // namespace rlforge
