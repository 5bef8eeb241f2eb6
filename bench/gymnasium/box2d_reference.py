"""Reference statistics of Gymnasium's Box2D envs (random and heuristic
policies) and their single-env step rate, for comparison with rlforge's
(tests/box2d_stats_test.cc holds the figures this printed; docs/environments.md
lists them). Needs gymnasium and box2d (PyPI); run:
    python bench/gymnasium/box2d_reference.py LunarLander-v3 2000
The random policy works for any Gymnasium env (README's Blackjack-v1 figure:
    python bench/gymnasium/box2d_reference.py Blackjack-v1 100000).
"""
import sys
import time

import gymnasium as gym
import numpy as np


def run(env_id, episodes, policy, kwargs):
    env = gym.make(env_id, **kwargs)
    returns, lengths = [], []
    steps, t0 = 0, time.perf_counter()
    for ep in range(episodes):
        obs, _ = env.reset(seed=ep)
        env.action_space.seed(10_000 + ep)
        total, n, done = 0.0, 0, False
        while not done:
            a = env.action_space.sample() if policy == "random" else heuristic(env, obs)
            obs, r, term, trunc, _ = env.step(a)
            total += r
            n += 1
            done = term or trunc
        returns.append(total)
        lengths.append(n)
        steps += n
    secs = time.perf_counter() - t0
    r, l = np.array(returns), np.array(lengths)
    print(f"{env_id} {kwargs} {policy}: {episodes} episodes, return mean {r.mean():.2f} std {r.std():.2f} "
          f"(se {r.std() / np.sqrt(len(r)):.2f}), length mean {l.mean():.2f} std {l.std():.2f} "
          f"(se {l.std() / np.sqrt(len(l)):.2f}); {steps / secs:.0f} steps/s")


def heuristic(env, obs):
    from gymnasium.envs.box2d.lunar_lander import heuristic as h
    return h(env, obs)


if __name__ == "__main__":
    env_id = sys.argv[1] if len(sys.argv) > 1 else "LunarLander-v3"
    episodes = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    policies = ("random", "heuristic") if env_id.startswith("LunarLander") else ("random",)
    for policy in policies:
        run(env_id, episodes, policy, {})
