// A game loop driven by an exported policy, linking only rlforge's runtime
// (no libtorch, no Python, no other part of rlforge).
//
//   rlforge train --algo ppo --env CartPole-v1 --out runs/ppo
//   rlforge export runs/ppo --format rlf --out cartpole.rlf
//   build/runtime_cartpole cartpole.rlf 10
//
// The "game" is a cart-pole written here, with Gymnasium's CartPole-v1
// equations: the game owns its simulation, the policy only decides. A
// recurrent policy (rlforge train --algo recurrent-ppo --env CartPole-v1 ...)
// runs the same loop: its state starts from zero at each episode.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "rlforge/runtime/policy.h"

namespace {

struct CartPole {
  float x = 0, x_dot = 0, theta = 0, theta_dot = 0;

  void Reset(std::mt19937_64& rng) {
    std::uniform_real_distribution<float> u(-0.05f, 0.05f);
    x = u(rng), x_dot = u(rng), theta = u(rng), theta_dot = u(rng);
  }
  // Returns true while the pole is up and the cart on the track.
  bool Step(int64_t action) {
    const double gravity = 9.8, masscart = 1.0, masspole = 0.1, length = 0.5, force_mag = 10.0, tau = 0.02;
    const double total = masscart + masspole, polemass_length = masspole * length;
    const double force = action == 1 ? force_mag : -force_mag;
    const double c = std::cos(theta), s = std::sin(theta);
    const double temp = (force + polemass_length * theta_dot * theta_dot * s) / total;
    const double theta_acc = (gravity * s - c * temp) / (length * (4.0 / 3.0 - masspole * c * c / total));
    const double x_acc = temp - polemass_length * theta_acc * c / total;
    x = static_cast<float>(x + tau * x_dot);
    x_dot = static_cast<float>(x_dot + tau * x_acc);
    theta = static_cast<float>(theta + tau * theta_dot);
    theta_dot = static_cast<float>(theta_dot + tau * theta_acc);
    return std::abs(x) <= 2.4f && std::abs(theta) <= 12 * 2 * M_PI / 360;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.rlf [EPISODES]\n", argv[0]);
    return 2;
  }
  int episodes = 10;
  if (argc > 2) {
    char* end = nullptr;
    const long n = std::strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || n < 1 || n > 1000000) {
      std::fprintf(stderr, "EPISODES must be a whole number in 1..1000000, got '%s'\n", argv[2]);
      return 2;
    }
    episodes = static_cast<int>(n);
  }
  try {
    auto policy = rlforge::runtime::Policy::Load(argv[1]);
    if (policy.obs_size() != 4 || !policy.discrete() || policy.model().num_actions != 2) {
      std::fprintf(stderr, "%s is not a CartPole policy (4 observations, 2 actions)\n", argv[1]);
      return 1;
    }
    std::mt19937_64 rng(0);
    CartPole game;
    double total = 0, decide_seconds = 0;
    int64_t decisions = 0;
    for (int e = 0; e < episodes; ++e) {
      game.Reset(rng);
      policy.ResetState();  // a new episode (recurrent policies; nothing to do for others)
      int steps = 0;
      bool up = true;
      while (up && steps < 500) {
        const float obs[4] = {game.x, game.x_dot, game.theta, game.theta_dot};
        const auto t0 = std::chrono::steady_clock::now();
        const int64_t action = policy.Act(obs);  // greedy
        decide_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ++decisions;
        up = game.Step(action);
        ++steps;
      }
      std::printf("episode %d: %d steps\n", e, steps);
      total += steps;
    }
    std::printf("mean %.1f steps over %d episodes; %.2f us per decision\n", total / episodes, episodes,
                1e6 * decide_seconds / static_cast<double>(decisions));
  } catch (const rlforge::runtime::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
