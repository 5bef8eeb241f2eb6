"""Wall time of sb3-contrib's RecurrentPPO with the zoo's CartPoleNoVel-v1
preset (configs/recurrent-ppo.yaml) for 20,480 steps, one torch thread, to
compare with `rlforge bench train --algo recurrent-ppo --env CartPoleNoVel-v1
--steps 20480`. Run in a venv with stable-baselines3 and sb3-contrib:
    /tmp/sb3venv/bin/python bench/sb3/recurrent_ppo_cartpole_novel_time.py
"""
import time

import gymnasium as gym
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize



class HideVelocities(gym.ObservationWrapper):
    """CartPole with its velocities (components 1 and 3) read as 0, as the
    zoo's CartPoleNoVel-v1 and rlforge's."""

    def observation(self, obs):
        obs = obs.copy()
        obs[[1, 3]] = 0.0
        return obs


torch.set_num_threads(1)
env = VecNormalize(make_vec_env("CartPole-v1", n_envs=8, seed=0, wrapper_class=HideVelocities),
                   norm_obs=True, norm_reward=False)
model = RecurrentPPO("MlpLstmPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                     ent_coef=0.0, learning_rate=lambda f: 1e-3 * f, clip_range=lambda f: 0.2 * f, seed=0,
                     policy_kwargs=dict(ortho_init=False, activation_fn=torch.nn.ReLU, lstm_hidden_size=64,
                                        enable_critic_lstm=True, net_arch=dict(pi=[64], vf=[64])),
                     verbose=0)
start = time.perf_counter()
model.learn(20_480)
print(f"sb3-contrib RecurrentPPO, 20,480 steps on CartPoleNoVel-v1: {time.perf_counter() - start:.1f} s")
