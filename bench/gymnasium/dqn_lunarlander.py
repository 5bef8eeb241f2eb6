"""rlforge's DQN on Gymnasium's LunarLander-v3, and rlforge-trained landers on
both ports: tells the agent's part from the env's in DQN's LunarLander results
(docs/training.md).

    train SEED...   trains rlforge's DQN (configs/dqn.yaml's LunarLander-v3
                    preset, 100k steps) on Gymnasium's env, stepped from C++
                    through rlforge.train's Python-env path, into
                    runs/dqn-gymnasium-lunarlander-sSEED (which must not exist);
                    prints each final model's 100-episode greedy return
    eval RUN_DIR... evaluates each run's final model greedily on both ports, the
                    same 100 reset seeds (1000-1099) on each: mean and worst
                    return, mean length, episodes ending at rest (+100)

Needs Gymnasium's box2d (box2d-py, pygame) and rlforge's package, in a process
without PyPI's torch:
    PYTHONPATH=build/python python bench/gymnasium/dqn_lunarlander.py train 0 1 2
    build/rlforge train --algo dqn --env LunarLander-v3 --seed 0 --out runs/dqn-s0   # on rlforge's env
    PYTHONPATH=build/python python bench/gymnasium/dqn_lunarlander.py eval runs/dqn-s0
"""
import json
import sys

import gymnasium as gym
import numpy as np

import rlforge
from lander_episodes import play


def preset_of(algo, env_id):
    """configs/<algo>.yaml's preset for env_id as config keys, read from
    rlforge.show_config: a Python env's ID has no preset of its own. Each line
    is `key: value  # help`, the value in YAML's flow syntax (JSON, or a bare
    string)."""
    keys = {}
    for line in rlforge.show_config(algo, env_id).splitlines():
        key, _, rest = line.partition(": ")
        if key in ("algo", "env", "env_kwargs", "seed"):
            continue
        text = rest.split("  # ")[0].strip()
        try:
            keys[key] = json.loads(text)
        except json.JSONDecodeError:
            keys[key] = text
    return keys


def GymnasiumLunarLander():
    return gym.make("LunarLander-v3")


def greedy(make_env, policy):
    """The policy's greedy mean and worst return, mean length and episodes at rest, reset seeds 1000-1099."""
    act = lambda obs: int(np.asarray(policy.predict(obs, deterministic=True)[0]).reshape(-1)[0])  # noqa: E731
    returns, lengths, rests = play(make_env, act, range(1000, 1100))
    return returns.mean(), returns.min(), lengths.mean(), rests


def main(argv):
    if len(argv) < 2 or argv[0] not in ("train", "eval"):
        sys.exit(__doc__)
    if argv[0] == "train":
        for seed in map(int, argv[1:]):
            out = f"runs/dqn-gymnasium-lunarlander-s{seed}"
            result = rlforge.train("dqn", env=GymnasiumLunarLander, config=preset_of("dqn", "LunarLander-v3"),
                                   seed=seed, out=out)
            print(f"seed {seed}: {result['eval_mean_return']:.2f} ({result['seconds']:.1f} s) {out}", flush=True)
        return
    for run in argv[1:]:
        policy = rlforge.load(run)
        ours = greedy(lambda: rlforge.make("LunarLander-v3"), policy)
        theirs = greedy(lambda: gym.make("LunarLander-v3"), policy)
        print(f"{run}: Gymnasium {theirs[0]:.2f} (worst {theirs[1]:.2f}, length {theirs[2]:.1f}, at rest {theirs[3]}) | "
              f"rlforge {ours[0]:.2f} (worst {ours[1]:.2f}, length {ours[2]:.1f}, at rest {ours[3]})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
