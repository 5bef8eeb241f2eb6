"""The language-model agents and text envs from Python (docs/lm.md)."""
import gymnasium as gym
import numpy as np

import rlforge


def test_text_env_speaks_tokens():
    env = rlforge.make("TextSort-v0")
    assert env.action_space == gym.spaces.Discrete(96, start=2)
    obs, _ = env.reset(seed=3)
    assert obs.dtype == np.int64 and obs[0] == 1  # <bos>
    text = "".join(chr(t - 3 + 32) for t in obs if t >= 3)
    assert text.startswith("sort:") and text.endswith("=")
    answer = "".join(sorted(text[5:-1]))
    for ch in answer:
        obs, reward, terminated, truncated, info = env.step(ord(ch) - 32 + 3)
        assert reward == 0 and not terminated
    obs, reward, terminated, truncated, info = env.step(2)  # <eos>
    assert terminated and reward == 1.0 and info["is_success"] == 1.0


def test_sft_trains_from_python(tmp_path):
    assert {"sft", "grpo", "ppo-lm", "rm"} <= set(rlforge.algorithms())
    out = tmp_path / "sft"
    result = rlforge.train("sft", "TextSort-v0",
                           config={"d_model": 16, "n_layers": 1, "n_heads": 2, "demonstrations": 64,
                                   "eval_prompts": 4, "eval_episodes": 2, "updates_per_iteration": 10},
                           steps=20, out=str(out))
    assert result["timesteps"] == 20
    assert (out / "checkpoints" / "final.pt").exists()
    header = (out / "progress.csv").read_text().splitlines()[0].split(",")
    assert "eval_accuracy" in header and "eval_sampled_accuracy" in header
