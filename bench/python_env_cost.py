"""Cost of a Python env stepped by rlforge: gymnasium's CartPole-v1 handed to
rlforge's vector env, against rlforge's native CartPole and Gymnasium's
SyncVectorEnv, then PPO (zoo preset) for 20k steps on each.

    .venv/bin/python bench/python_env_cost.py
"""
import time

import gymnasium as gym
import numpy as np

import rlforge


def rate(envs, seconds=1.0):
    n = envs.num_envs
    actions = [np.random.default_rng(k).integers(0, 2, n) for k in range(8)]
    envs.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in actions:
            envs.step(a)
        steps += 8 * n
    return steps / (time.perf_counter() - start)


python_id = rlforge.register_python_env(lambda: gym.make("CartPole-v1"), "GymCartPole")
for n in (1, 16):
    py = rate(rlforge.make_vec(python_id, num_envs=n))
    native = rate(rlforge.make_vec("CartPole-v1", num_envs=n))
    sync = rate(gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode="sync"))
    print(f"{n} envs: Python env through rlforge {py:,.0f} steps/s ({1e6 / py:.1f} us/step), "
          f"native {native:,.0f} ({1e6 / native:.2f} us/step), gymnasium sync {sync:,.0f}")
for name, env in (("Python CartPole", lambda: gym.make("CartPole-v1")), ("native CartPole", "CartPole-v1")):
    start = time.perf_counter()
    r = rlforge.train("ppo", env=env, steps=20_000, seed=0, out=f"/tmp/rlforge-python-env-cost-{time.time_ns()}",
                      config={"eval_episodes": 10} if isinstance(env, str) else
                      {"eval_episodes": 10, "num_envs": 8, "n_steps": 32, "batch_size": 256, "gae_lambda": 0.8,
                       "gamma": 0.98, "n_epochs": 20, "ent_coef": 0.0, "learning_rate": "lin_0.001",
                       "clip_range": "lin_0.2"})
    print(f"PPO 20k steps on the {name}: {time.perf_counter() - start:.1f} s, eval {r['eval_mean_return']:.1f}")
