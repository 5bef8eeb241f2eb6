"""SB3's SAC at the zoo's Pendulum-v1 preset (lr 1e-3, SB3's defaults
otherwise), one torch thread: env steps per second over N steps, for the
ratio against `rlforge bench train --algo sac --env Pendulum-v1 --steps N`
measured in the same session. Usage: python bench/sb3/sac_pendulum_time.py 3000
"""
import sys
import time

import gymnasium as gym
import torch
from stable_baselines3 import SAC

torch.set_num_threads(1)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
algo = sys.argv[2] if len(sys.argv) > 2 else "sac"
env = gym.make("Pendulum-v1")
if algo == "sac":
    model = SAC("MlpPolicy", env, learning_rate=1e-3, seed=0, device="cpu")
else:
    from stable_baselines3 import TD3
    model = TD3("MlpPolicy", env, learning_rate=1e-3, gamma=0.98, buffer_size=200000, learning_starts=100,
                policy_kwargs=dict(net_arch=[400, 300]), seed=0, device="cpu")
t0 = time.perf_counter()
model.learn(total_timesteps=steps)
secs = time.perf_counter() - t0
print(f"sb3 {algo} Pendulum-v1: {steps} steps in {secs:.2f} s = {steps / secs:.1f} steps/s (torch threads 1)")
