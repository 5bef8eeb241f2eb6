"""SB3's DQN at the zoo's CartPole-v1 preset, for comparison with rlforge's.

Trains Stable-Baselines3's DQN with exactly configs/dqn.yaml's CartPole-v1
preset for 50,000 steps per seed and prints each final model's 100-episode
greedy evaluation (the figure `rlforge train --algo dqn --env CartPole-v1
--seed S` writes to eval.json). Needs stable-baselines3 and torch, which
rlforge itself does not use; run it in a throw-away virtual environment:

    python3 -m venv /tmp/sb3 && /tmp/sb3/bin/pip install stable-baselines3==2.3.2
    /tmp/sb3/bin/python bench/sb3/dqn_cartpole.py 0 1 2 3 4 5 6 7 8 9

With --curve it also evaluates the greedy policy (10 episodes) every 2,048
steps, as `--set eval_interval=2048 --set eval_interval_episodes=10` does.
"""
import sys
import time

import gymnasium as gym
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.evaluation import evaluate_policy

PRESET = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
              target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
              exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]))


class Curve(EvalCallback):
    """Records (timesteps, mean return) of each periodic evaluation."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.points = []

    def _on_step(self):
        keep_going = super()._on_step()
        if self.eval_freq > 0 and self.n_calls % self.eval_freq == 0:
            self.points.append((self.num_timesteps, self.last_mean_reward))
        return keep_going


def main(argv):
    curve = "--curve" in argv
    seeds = [int(a) for a in argv if a != "--curve"] or list(range(10))
    torch.set_num_threads(1)
    finals = []
    for seed in seeds:
        start = time.time()
        model = DQN("MlpPolicy", gym.make("CartPole-v1"), seed=seed, verbose=0, **PRESET)
        evaluator = gym.make("CartPole-v1")
        evaluator.reset(seed=seed + 1000)
        callback = Curve(evaluator, eval_freq=2048, n_eval_episodes=10, deterministic=True) if curve else None
        model.learn(50_000, callback=callback)
        mean, std = evaluate_policy(model, evaluator, n_eval_episodes=100, deterministic=True, warn=False)
        finals.append(mean)
        print(f"seed {seed}: final {mean:.1f} +- {std:.1f} ({time.time() - start:.0f} s)", flush=True)
        if curve:
            print("  periodic: " + "; ".join(f"{t} {r:.1f}" for t, r in callback.points), flush=True)
    solved = sum(m >= 475 for m in finals)
    print(f"{solved}/{len(finals)} final models >= 475; mean {sum(finals) / len(finals):.1f}, worst {min(finals):.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
