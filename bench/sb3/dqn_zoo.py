"""SB3's DQN at the zoo's presets, for comparison with rlforge's.

Trains Stable-Baselines3's DQN with exactly configs/dqn.yaml's preset for the
env (CartPole-v1 by default: 50,000 steps; --env LunarLander-v3: 100,000) per
seed and prints each final model's 100-episode greedy evaluation (the figure
`rlforge train --algo dqn --env ENV --seed S` writes to eval.json). Needs
stable-baselines3 and torch, which rlforge itself does not use; run it in a
throw-away virtual environment (LunarLander-v3 needs Gymnasium 1.0, hence SB3
2.4.1, and Gymnasium's box2d-py, which builds from source with swig):

    python3 -m venv /tmp/sb3 && /tmp/sb3/bin/pip install stable-baselines3==2.3.2
    /tmp/sb3/bin/python bench/sb3/dqn_zoo.py 0 1 2 3 4 5 6 7 8 9
    /tmp/sb3/bin/pip install swig setuptools wheel
    PATH=/tmp/sb3/bin:$PATH /tmp/sb3/bin/pip install --no-build-isolation box2d-py==2.3.5
    /tmp/sb3/bin/pip install stable-baselines3==2.4.1 gymnasium==1.0.0
    /tmp/sb3/bin/python bench/sb3/dqn_zoo.py --env LunarLander-v3 0 1 2 3 4

With --qrdqn it trains sb3-contrib's QRDQN at configs/qr-dqn.yaml's preset
instead (the zoo's hyperparams/qrdqn.yml; sb3-contrib's own defaults for the
rest, as rlforge's qr-dqn has them: Adam's epsilon 0.01 / batch_size, no
gradient clipping):

    /tmp/sb3/bin/pip install sb3-contrib==2.3.0
    /tmp/sb3/bin/python bench/sb3/dqn_zoo.py --qrdqn 0 1 2 3 4

With --curve it also evaluates the greedy policy (10 episodes) every 2,048
steps, as `--set eval_interval=2048 --set eval_interval_episodes=10` does.
With --rlforge-env SB3 trains and evaluates on rlforge's env
(`rlforge.make(ENV)`, which shares the process with PyTorch) instead of
Gymnasium's: the same agent on both envs tells the agent's part from the
env's. That needs rlforge's package (PYTHONPATH=build/python) and Gymnasium
>= 1.1, hence SB3 >= 2.5 (measured with 2.7.0, Gymnasium 1.2.2 and numpy
1.26: rlforge needs numpy < 2, and pandas < 2.3 goes with it).
"""
import sys
import time

import gymnasium as gym
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.evaluation import evaluate_policy

# env: (total steps, solved threshold, SB3 keyword arguments) as configs/dqn.yaml has them.
PRESETS = {
    "CartPole-v1": (50_000, 475, dict(
        learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
        target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
        exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]))),
    "LunarLander-v3": (100_000, 200, dict(
        learning_rate=6.3e-4, batch_size=128, buffer_size=50_000, learning_starts=0, gamma=0.99,
        target_update_interval=250, train_freq=4, gradient_steps=-1, exploration_fraction=0.12,
        exploration_final_eps=0.1, policy_kwargs=dict(net_arch=[256, 256]))),
}

# configs/qr-dqn.yaml's presets (sb3-contrib's QRDQN; n_quantiles goes to the policy).
QRDQN_PRESETS = {
    "CartPole-v1": (50_000, 475, dict(
        learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
        target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
        exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256], n_quantiles=10))),
}


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
    env_id = "CartPole-v1"
    if "--env" in argv:
        i = argv.index("--env")
        env_id = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    agent, presets = DQN, PRESETS
    if "--qrdqn" in argv:
        from sb3_contrib import QRDQN
        agent, presets = QRDQN, QRDQN_PRESETS
        argv = [a for a in argv if a != "--qrdqn"]
    if env_id not in presets:
        sys.exit(f"--env: no {agent.__name__} preset for {env_id!r}; known: {', '.join(presets)}")
    steps, solved_at, preset = presets[env_id]
    make = gym.make
    if "--rlforge-env" in argv:
        import rlforge
        make = rlforge.make
    seeds = [int(a) for a in argv if a not in ("--curve", "--rlforge-env")] or list(range(10))
    torch.set_num_threads(1)
    finals = []
    for seed in seeds:
        start = time.time()
        model = agent("MlpPolicy", make(env_id), seed=seed, verbose=0, **preset)
        evaluator = make(env_id)
        evaluator.reset(seed=seed + 1000)
        callback = Curve(evaluator, eval_freq=2048, n_eval_episodes=10, deterministic=True) if curve else None
        model.learn(steps, callback=callback)
        mean, std = evaluate_policy(model, evaluator, n_eval_episodes=100, deterministic=True, warn=False)
        finals.append(mean)
        print(f"seed {seed}: final {mean:.1f} +- {std:.1f} ({time.time() - start:.0f} s)", flush=True)
        if curve:
            print("  periodic: " + "; ".join(f"{t} {r:.1f}" for t, r in callback.points), flush=True)
    solved = sum(m >= solved_at for m in finals)
    print(f"{solved}/{len(finals)} final models >= {solved_at}; mean {sum(finals) / len(finals):.1f}, worst {min(finals):.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
