"""Python-side steps per second of rlforge's envs next to Gymnasium's.

    python -m rlforge.bench [--num-envs 256] [--threads 1] [--seconds 0.5] [--env ID ...]

For each env: one env stepped from a Python loop (rlforge.make against
gymnasium.make), and a batch of `num-envs` envs (rlforge.make_vec against
gymnasium.make_vec with the sync vector env, and with Gymnasium's own
vectorized implementation where it has one). Random actions, drawn before
the clock starts; all figures from this one run.
"""
from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import rlforge

GYMNASIUM_IDS = {"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1",
                 "FrozenLake-v1", "Taxi-v4", "CliffWalking-v1"}


def _actions(space, count, seed=0):
    space.seed(seed)
    return [space.sample() for _ in range(count)]


def single_env_rate(env, seconds):
    actions = _actions(env.action_space, 1000)
    env.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in actions:
            _, _, terminated, truncated, info = env.step(a)
            if terminated or truncated:
                env.reset()
        steps += len(actions)
    return steps / (time.perf_counter() - start)


def vector_env_rate(envs, seconds, masked=False):
    batch = np.stack(_actions(envs.single_action_space, 64))
    actions = [np.stack([batch[(k + i) % 64] for i in range(envs.num_envs)]) for k in range(8)]
    envs.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in actions:
            envs.step(a)
        steps += len(actions) * envs.num_envs
    return steps / (time.perf_counter() - start)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=0.5)
    p.add_argument("--autoreset", default="next_step", help="rlforge's autoreset mode (Gymnasium's default: next_step)")
    p.add_argument("--env", nargs="*", default=None, help="env IDs (default: every env without a mask)")
    args = p.parse_args(argv)
    ids = args.env or [i for i in rlforge.env_ids() if i in GYMNASIUM_IDS]
    n = args.num_envs
    print(f"steps/s (Python side; {n} envs per vector env, rlforge on {args.threads} thread(s); "
          f"autoreset {args.autoreset})")
    header = f"{'env':<26}{'rlforge 1':>12}{'gym 1':>12}{'rlforge vec':>14}{'gym sync':>12}{'gym vector':>12}{'vec/sync':>10}"
    print(header)
    for env_id in ids:
        row = [single_env_rate(rlforge.make(env_id), args.seconds)]
        reference = env_id in GYMNASIUM_IDS
        row.append(single_env_rate(gym.make(env_id), args.seconds) if reference else float("nan"))
        row.append(vector_env_rate(rlforge.make_vec(env_id, num_envs=n, threads=args.threads,
                                                    autoreset_mode=args.autoreset), args.seconds))
        row.append(vector_env_rate(gym.make_vec(env_id, num_envs=n, vectorization_mode="sync"), args.seconds)
                   if reference else float("nan"))
        vectorized = float("nan")
        if reference:
            try:
                vectorized = vector_env_rate(gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point"),
                                             args.seconds)
            except Exception:  # Gymnasium has no vectorized implementation of this env
                pass
        row.append(vectorized)
        ratio = row[2] / row[3] if reference else float("nan")
        print(f"{env_id:<26}" + "".join(f"{v:>12,.0f}" if i != 2 else f"{v:>14,.0f}" for i, v in enumerate(row))
              + f"{ratio:>10.1f}")


if __name__ == "__main__":
    main()
