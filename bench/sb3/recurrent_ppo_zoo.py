"""sb3-contrib's RecurrentPPO at the zoo's CartPoleNoVel-v1 preset, for
comparison with `rlforge train --algo recurrent-ppo --env CartPoleNoVel-v1`.

Trains RecurrentPPO with exactly configs/recurrent-ppo.yaml's CartPoleNoVel-v1
preset (the zoo's ppo_lstm one: 8 envs, 100,000 steps, VecNormalize on
observations and rewards) per seed, on CartPole-v1 with its velocities zeroed
as the zoo's MaskVelocityWrapper does, and prints each final model's
100-episode deterministic evaluation (normalization statistics frozen, as
rlforge's eval.json). Needs sb3-contrib and torch, which rlforge itself does
not use; run it in a throw-away virtual environment:

    python3 -m venv /tmp/sb3 && /tmp/sb3/bin/pip install sb3-contrib==2.7.0
    /tmp/sb3/bin/python bench/sb3/recurrent_ppo_zoo.py 0 1 2 3 4 5 6 7 8 9
"""
import sys
import time

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecNormalize

GAMMA = 0.98


class ZeroVelocities(gym.ObservationWrapper):
    """CartPole-v1 with cart and pole velocities (components 1 and 3) set to 0."""

    def __init__(self, env):
        super().__init__(env)
        self.mask = np.array([1, 0, 1, 0], dtype=np.float32)

    def observation(self, observation):
        return observation * self.mask


def make_env(n, seed):
    return make_vec_env("CartPole-v1", n_envs=n, seed=seed, wrapper_class=ZeroVelocities)


def run(seed):
    torch.set_num_threads(1)
    env = VecNormalize(make_env(8, seed), gamma=GAMMA)
    model = RecurrentPPO(
        "MlpLstmPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=GAMMA, n_epochs=20, ent_coef=0.0,
        learning_rate=lambda progress: 0.001 * progress, clip_range=lambda progress: 0.2 * progress,
        policy_kwargs=dict(ortho_init=False, activation_fn=torch.nn.ReLU, lstm_hidden_size=64,
                           enable_critic_lstm=True, net_arch=dict(pi=[64], vf=[64])),
        seed=seed, device="cpu")
    start = time.time()
    model.learn(100_000)
    seconds = time.time() - start
    eval_env = VecNormalize(make_env(1, 10_000 + seed), gamma=GAMMA, training=False, norm_reward=False)
    eval_env.obs_rms = env.obs_rms
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=100, deterministic=True)
    return mean, std, seconds


def main(argv):
    results = []
    for seed in map(int, argv or ["0"]):
        mean, std, seconds = run(seed)
        results.append(mean)
        print(f"seed {seed}: {mean:.2f} +- {std:.2f} ({seconds:.0f} s training)", flush=True)
    print(f"mean {np.mean(results):.2f}, worst {np.min(results):.2f}, "
          f">= 475 on {sum(r >= 475 for r in results)} of {len(results)}")


if __name__ == "__main__":
    main(sys.argv[1:])
