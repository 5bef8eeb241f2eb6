"""The language-model agents and text envs from Python (docs/lm.md)."""
import gymnasium as gym
import numpy as np
import pytest

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
    # Tokens outside the vocabulary reached the embedding (libtorch's "index out of range in self").
    policy = rlforge.load(str(out))
    context = policy.observation_space.shape[0]
    for bad in (200, -1):
        with pytest.raises(ValueError, match=rf"observation 0, position 0: token {bad} is outside the vocabulary 0..97"):
            policy.predict(np.full(context, bad, dtype=np.int64))


def test_grpo_rewarded_by_a_reward_model_from_python(tmp_path):
    tiny = {"d_model": 16, "n_layers": 1, "n_heads": 2}
    rm = tmp_path / "rm"
    rlforge.train("rm", "TextSort-v0", config={**tiny, "pairs": 100, "updates_per_iteration": 5},
                  steps=10, out=str(rm))
    # A reward model is no policy.
    try:
        rlforge.load(str(rm))
        raise AssertionError("loaded a reward model as a policy")
    except ValueError as e:
        assert "no policy" in str(e)
    out = tmp_path / "grpo"
    rlforge.train("grpo", "TextSort-v0",
                  config={**tiny, "prompts_per_iteration": 2, "group_size": 2, "eval_prompts": 2,
                          "eval_episodes": 2, "reward_model": str(rm), "kl_target": 0.05, "kl_horizon": 100},
                  steps=10, out=str(out))
    header = (out / "progress.csv").read_text().splitlines()[0].split(",")
    assert header[-1] == "verifier_reward" and "kl_coef" in header


def test_python_text_env_is_refused_when_the_run_starts(tmp_path):
    """The LM agents score answers by stepping copies of the env; a Python
    env cannot be copied, and the run failed at its first evaluation with a
    resume hint that could not help."""

    class MySort(gym.Env):
        def __init__(self):
            self.inner = rlforge.make("TextSort-v0")
            self.observation_space = self.inner.observation_space
            self.action_space = self.inner.action_space

        def reset(self, *, seed=None, options=None):
            return self.inner.reset(seed=seed)

        def step(self, action):
            return self.inner.step(action)

    for algo in ("sft", "grpo"):
        with pytest.raises(ValueError, match=f"{algo} scores answers by stepping copies of the env, and "
                                             r"python/MySort-v\d+: a Python env cannot be cloned"):
            rlforge.train(algo, MySort, config={"d_model": 16, "n_layers": 1, "n_heads": 2}, steps=10,
                          out=str(tmp_path / algo))
        assert not (tmp_path / algo).exists()
