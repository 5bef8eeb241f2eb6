"""Wall time of SB3's PPO for 20,000 steps on gymnasium's CartPole-v1 with the
zoo preset (configs/ppo.yaml), to compare with rlforge training the same
Python env (bench/python_env_cost.py). Run in a venv with stable-baselines3
(see dqn_zoo.py): /tmp/sb3/bin/python bench/sb3/ppo_cartpole_time.py
"""
import time

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

torch.set_num_threads(1)
env = make_vec_env("CartPole-v1", n_envs=8, seed=0)
model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
            learning_rate=lambda f: 1e-3 * f, clip_range=lambda f: 0.2 * f, seed=0, verbose=0)
start = time.perf_counter()
model.learn(20_000)
print(f"SB3 PPO, 20k steps on gymnasium CartPole-v1: {time.perf_counter() - start:.1f} s")
