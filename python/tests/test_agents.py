"""Training from Python with the CLI's runner, and trained policies."""
import json
import os
import warnings

import gymnasium as gym
import numpy as np
import pytest

import rlforge


def test_train_load_predict_matches_the_runs_evaluation(tmp_path):
    out = tmp_path / "run"
    result = rlforge.train("ppo", "CartPole-v1", config={"num_envs": 4, "n_steps": 64, "eval_episodes": 10},
                           steps=2048, seed=3, out=str(out))
    assert result["timesteps"] >= 2048 and os.path.exists(out / "eval.json")
    evaluation = json.load(open(out / "eval.json"))
    policy = rlforge.load(str(out))
    assert policy.algo == "ppo" and policy.env_id == "CartPole-v1"
    # The same greedy actions as the run's own evaluation: replay it (8 envs,
    # seeded run seed + 1,000,000, each env's quota of the 10 episodes).
    n, episodes = 8, 10
    envs = rlforge.make_vec("CartPole-v1", num_envs=n, autoreset_mode="same_step")
    obs, _ = envs.reset(seed=3 + 1_000_000)
    quota = [episodes // n + (i < episodes % n) for i in range(n)]
    done, returns = [0] * n, []
    while len(returns) < episodes:
        actions, _ = policy.predict(obs)
        obs, _, terminated, truncated, _ = envs.step(actions)
        ret, _ = envs.episode_statistics()
        for i in np.flatnonzero(terminated | truncated):
            if done[i] < quota[i]:
                done[i] += 1
                returns.append(ret[i])
    assert np.mean(returns) == pytest.approx(evaluation["mean_return"], abs=1e-9)
    single, state = policy.predict(obs[0])
    assert state is None and single.shape == () and single == policy.predict(obs[:1])[0][0]
    with pytest.raises(ValueError, match="shape"):
        policy.predict(np.zeros(3, dtype=np.float32))


def test_resume_continues_a_run(tmp_path):
    out = tmp_path / "run"
    rlforge.train("q-learning", "FrozenLake-v1", steps=2000, seed=1, out=str(out), config={"eval_episodes": 5})
    result = rlforge.resume(str(out), steps=4000)
    assert result["timesteps"] >= 4000
    # The runner's errors name Python's arguments and functions, not CLI flags.
    with pytest.raises(ValueError, match=r"complete .*; pass steps=N to train longer$"):
        rlforge.resume(str(out))
    with pytest.raises(ValueError, match=r"^steps=100 is below the 4000 steps"):
        rlforge.resume(str(out), steps=100)
    with pytest.raises(ValueError, match=r"choose another out= or continue the run with rlforge.resume\(\)$"):
        rlforge.train("q-learning", "FrozenLake-v1", steps=2000, out=str(out))
    with pytest.raises(ValueError, match=r"cannot be set in config \(pass env=\)$"):
        rlforge.train("q-learning", "FrozenLake-v1", config={"env": "Taxi-v3"}, out=str(tmp_path / "other"))
    with pytest.raises(ValueError, match="'.*nope' does not exist"):
        rlforge.resume(str(tmp_path / "nope"))


def test_config_errors_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="learning_rat"):
        rlforge.train("ppo", "CartPole-v1", config={"learning_rat": 1e-3}, out=str(tmp_path / "a"))
    with pytest.raises(ValueError, match="bogus"):
        rlforge.train("bogus", "CartPole-v1", out=str(tmp_path / "b"))
    with pytest.raises(ValueError, match="steps"):
        rlforge.train("ppo", "CartPole-v1", steps=1.5, out=str(tmp_path / "c"))
    # steps=-1 said "must be in [0, ...]" and steps=0 was then refused as total_steps < 1.
    with pytest.raises(ValueError, match=r"^steps must be in \[1, 9223372036854775807\], got -1$"):
        rlforge.show_config("ppo", "CartPole-v1", steps=-1)
    # A list in env_kwargs (FrozenLake's reward_schedule) is its comma-separated text.
    assert 'reward_schedule: "1,-1,0"' in rlforge.show_config(
        "q-learning", "FrozenLake-v1", config={"env_kwargs": {"reward_schedule": [1, -1, 0]}})
    # No env is assumed for an online agent (it used to train CartPole-v1 unasked).
    with pytest.raises(ValueError, match="env is required"):
        rlforge.train("sac", steps=300, out=str(tmp_path / "d"))
    with pytest.raises(ValueError, match="env is required"):
        rlforge.show_config("td3")
    # The env's preset applies (configs/ppo.yaml: CartPole-v1 has n_steps 32), then the config.
    assert "n_steps: 32" in rlforge.show_config("ppo", "CartPole-v1")
    assert "n_steps: 64" in rlforge.show_config("ppo", "CartPole-v1", config={"n_steps": 64})


class ChainEnv:
    """A small Python env: walk right along a chain of 6 cells to the goal."""

    def __new__(cls):
        import gymnasium as gym

        class Chain(gym.Env):
            def __init__(self):
                self.observation_space = gym.spaces.Box(0.0, 1.0, (6,), np.float32)
                self.action_space = gym.spaces.Discrete(2)
                self.pos = 0

            def _obs(self):
                o = np.zeros(6, dtype=np.float32)
                o[self.pos] = 1
                return o

            def reset(self, *, seed=None, options=None):
                super().reset(seed=seed)
                self.pos = 0
                self.t = 0
                return self._obs(), {}

            def step(self, action):
                self.pos = max(0, min(5, self.pos + (1 if action == 1 else -1)))
                self.t += 1
                done = self.pos == 5
                return self._obs(), 1.0 if done else -0.01, done, self.t >= 50, {"position": self.pos}

        return Chain()


def test_python_env_trains_with_rlforges_runner(tmp_path):
    result = rlforge.train("ppo", env=ChainEnv, steps=8192, seed=0, out=str(tmp_path / "chain"),
                           config={"num_envs": 4, "n_steps": 128, "eval_episodes": 10})
    # The optimum is 5 steps right: return 1 - 4 * 0.01 = 0.96.
    assert result["eval_mean_return"] == pytest.approx(0.96, abs=1e-6)
    assert result["run_dir"].endswith("chain")


def test_python_env_errors_name_the_env(tmp_path):
    def broken():
        env = ChainEnv()
        env.step = lambda a: (_ for _ in ()).throw(ZeroDivisionError("boom"))
        return env

    with pytest.raises(RuntimeError, match="broken.*boom"):
        rlforge.train("ppo", env=broken, steps=256, out=str(tmp_path / "broken"))
    with pytest.raises(ValueError, match="function"):
        rlforge.train("ppo", env=42, steps=256, out=str(tmp_path / "x"))


@pytest.fixture(scope="module")
def frozen_lake_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fl") / "q"
    rlforge.train("q-learning", "FrozenLake-v1", steps=500, seed=0, out=str(out), config={"eval_episodes": 2})
    return str(out)


def test_predict_refuses_observations_outside_the_space(frozen_lake_run):
    q = rlforge.load(frozen_lake_run)
    for bad in (16, -1, 10**9):  # once read out of bounds (a crash)
        with pytest.raises(ValueError, match="observation"):
            q.predict(bad)
    assert q.predict(np.zeros(0, dtype=np.int64))[0].shape == (0,)
    with pytest.raises(ValueError, match="no action mask"):
        q.predict(3, mask=[1, 1, 1, 1])


def test_predict_refuses_bad_masks_and_nan(tmp_path):
    out = tmp_path / "ppo"
    rlforge.train("ppo", "CartPole-v1", steps=256, seed=0, out=str(out),
                  config={"num_envs": 2, "n_steps": 64, "eval_episodes": 1})
    p = rlforge.load(str(out))
    with pytest.raises(ValueError, match="finite|NaN|nan"):
        p.predict(np.full(4, np.nan, dtype=np.float32), deterministic=False)
    # numpy's own words came out ("cannot reshape array of size 2 into shape (3,newaxis)").
    with pytest.raises(ValueError, match=r"mask must have one row per observation \(3\), got shape \(2,\)"):
        p.predict(np.zeros((3, 4), dtype=np.float32), mask=np.array([1, 1]))
    with pytest.raises(ValueError, match=r"episode_start must be bools \(or 0/1 numbers\), one per observation, got <U3"):
        p.predict(np.zeros(4, dtype=np.float32), episode_start="yes")


def test_python_env_observation_outside_its_space_is_an_error(tmp_path):
    import gymnasium as gym

    class Far(gym.Env):
        observation_space = gym.spaces.Discrete(4)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            return 0, {}

        def step(self, action):
            return 10**6, 0.0, False, False, {}  # once a segfault in the Q-table update

    with pytest.raises(RuntimeError, match="not valid in its observation space"):
        rlforge.train("q-learning", env=Far, steps=50, out=str(tmp_path / "far"), config={"eval_episodes": 1})


def test_a_gymnasium_env_instance_trains_and_bad_config_keys_are_refused(tmp_path):
    import gymnasium as gym

    r = rlforge.train("q-learning", env=gym.make("FrozenLake-v1"), steps=300, out=str(tmp_path / "inst"),
                      config={"eval_episodes": 1})
    assert r["timesteps"] >= 300
    with pytest.raises(ValueError, match="config keys"):
        rlforge.train("ppo", "CartPole-v1", config={"num_envs=3 n_steps": 2}, out=str(tmp_path / "k"))
    with pytest.raises(ValueError, match="dict"):
        rlforge.train("ppo", "CartPole-v1", config=[("a", 1)], out=str(tmp_path / "l"))
    with pytest.raises(ValueError, match="seed"):
        rlforge.train("ppo", "CartPole-v1", seed=2**64, out=str(tmp_path / "m"))


def test_config_values_from_numpy_and_bad_configs():
    shown = rlforge.show_config("ppo", "CartPole-v1", config={"gamma": np.float32(0.5), "net_arch": np.array([8, 8])})
    assert "gamma: 0.5" in shown and "net_arch: [8, 8]" in shown, shown
    with pytest.raises(ValueError, match="config must be a dict of config keys, got list"):
        rlforge.train("ppo", "CartPole-v1", config=[1, 2], steps=64)
    with pytest.raises(ValueError, match="layer sizes must be in 1..65536"):
        rlforge.show_config("ppo", "CartPole-v1", config={"net_arch": [-5]})
    # NaN and Inf were refused in JSON's words ("Out of range float values are not JSON compliant").
    for bad in (float("nan"), np.float32("inf")):
        with pytest.raises(ValueError, match=r"config key 'gamma' must be a finite number, got "):
            rlforge.show_config("ppo", "CartPole-v1", config={"gamma": bad})


def test_predict_follows_conditional_masks_with_env(tmp_path):
    """TowerDefense's action dimensions restrict each other: with env= the
    greedy action is chosen dimension by dimension under the env's
    conditional masks, so a strict game never sees an illegal one; the flat
    masks alone let the (briefly cloned) policy choose illegal ones."""
    run = rlforge.train("ppo", "TowerDefense-v0", steps=256, out=str(tmp_path / "td"),
                        config={"pretrain_episodes": 3, "num_envs": 2, "n_steps": 64, "batch_size": 64,
                                "n_epochs": 1, "eval_episodes": 0})
    policy = rlforge.load(run["run_dir"])
    env = rlforge.make("TowerDefense-v0", ticks_per_step=4, strict=True)

    def legal(a):
        return all(env.conditional_action_mask(list(a[:d]), d)[a[d]] for d in range(len(a)))

    flat_illegal = steps = 0
    for seed in range(2):
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                flat, _ = policy.predict(obs, mask=info["action_mask"])
            flat_illegal += not legal(flat)
            action, _ = policy.predict(obs, mask=info["action_mask"], env=env)
            assert legal(action), action
            obs, _, terminated, truncated, info = env.step(action)  # strict: an illegal action raises
            steps += 1
            done = terminated or truncated
    assert flat_illegal > 0, "the flat masks alone never chose an illegal action: the test shows nothing"
    with pytest.warns(UserWarning, match="pass env=") as caught:
        rlforge.load(run["run_dir"]).predict(obs, mask=info["action_mask"])
    assert {w.filename for w in caught if "pass env=" in str(w.message)} == {__file__}  # not rlforge/agents.py
    with pytest.raises(ValueError, match="give one observation"):
        policy.predict(np.stack([obs, obs]), env=env)
    # The env= given is checked (another env, a string and an env never reset were all taken).
    with pytest.raises(ValueError, match="env is CartPole-v1; the policy was trained on TowerDefense-v0"):
        policy.predict(obs, env=rlforge.make("CartPole-v1"))
    # The same env with other spaces (flat actions: Discrete(1211)) was taken, returning an action outside them.
    flat_env = rlforge.make("TowerDefense-v0", flat_actions=True)
    flat_env.reset(seed=0)
    with pytest.raises(ValueError, match=r"env has actions Discrete\(1211\); the policy was trained with MultiDiscrete"):
        policy.predict(obs, env=flat_env)
    with pytest.raises(ValueError, match="env must be the rlforge env the observation comes from"):
        policy.predict(obs, env="TowerDefense-v0")
    with pytest.raises(RuntimeError, match="before reset"):
        policy.predict(obs, env=rlforge.make("TowerDefense-v0"))
    # conditional_action_mask takes exactly the dim values before dim, as integers.
    with pytest.raises(ValueError, match="prefix has 4 values; dimension 3 takes the 3 before it"):
        env.conditional_action_mask((0, 0, 0, 0), 3)
    with pytest.raises(ValueError, match=r"prefix\[0\] must be an integer, got 1.5"):
        env.conditional_action_mask((1.5,), 1)
    with pytest.raises(ValueError, match=r"prefix\[0\] must be in"):
        env.conditional_action_mask((2**70,), 1)


def test_recurrent_predict_follows_conditional_masks_with_env(tmp_path):
    """A recurrent policy with env= replays the run's own evaluation on a
    strict TowerDefense (8 envs seeded run seed + 1,000,000 + i, one episode
    each): the same legal actions dimension by dimension, one state step per
    call (predict without env= refused recurrent policies)."""
    run = rlforge.train("recurrent-ppo", "TowerDefense-v0", steps=256, seed=2, out=str(tmp_path / "rtd"),
                        config={"num_envs": 2, "n_steps": 64, "batch_size": 128, "n_epochs": 1, "eval_episodes": 8,
                                "pretrain_episodes": 4})
    evaluation = json.load(open(tmp_path / "rtd" / "eval.json"))
    policy = rlforge.load(run["run_dir"])
    assert policy._native.recurrent and policy.env_kwargs["strict"] == "true"
    returns, deployed = [], 0
    for i in range(8):
        env = rlforge.make("TowerDefense-v0", **policy.env_kwargs)
        obs, _ = env.reset(seed=2 + 1_000_000 + i)
        start, done, ret = True, False, 0.0
        while not done:
            action, _ = policy.predict(obs, episode_start=[start], env=env)  # strict: an illegal action raises
            deployed += action[0] == 1
            obs, reward, terminated, truncated, _ = env.step(action)
            ret += reward
            start, done = False, terminated or truncated
        returns.append(ret)
    assert deployed >= 8, deployed
    assert np.mean(returns) == pytest.approx(evaluation["mean_return"], abs=1e-9)


def test_predict_with_env_from_threads_and_from_its_own_callback(tmp_path):
    """Threads sharing one policy each follow their own env's conditional
    masks (the callback lives on the shared policy: one call at a time); a
    callback that calls predict again is refused (it crashed the process)."""
    import threading

    run = rlforge.train("ppo", "TowerDefense-v0", steps=128, seed=0, out=str(tmp_path / "td"),
                        config={"num_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1, "eval_episodes": 0,
                                "pretrain_episodes": 4, "env_kwargs": {"ticks_per_step": 4}})
    policy = rlforge.load(run["run_dir"])
    errors = []

    def play(seed):
        try:
            env = rlforge.make("TowerDefense-v0", strict=True, ticks_per_step=4)
            obs, _ = env.reset(seed=seed)
            for _ in range(150):
                obs, _, terminated, truncated, _ = env.step(policy.predict(obs, env=env)[0])
                if terminated or truncated:
                    obs, _ = env.reset()
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(repr(e))

    threads = [threading.Thread(target=play, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    env = rlforge.make("TowerDefense-v0", strict=True, ticks_per_step=4)
    obs, _ = env.reset(seed=0)
    inner = env.unwrapped
    original = inner.conditional_action_mask
    inner.conditional_action_mask = lambda prefix, dim: (policy.predict(obs, env=env), original(prefix, dim))[1]
    with pytest.raises(ValueError, match="called again from inside its own conditional-mask callback"):
        policy.predict(obs, env=env)
    del inner.conditional_action_mask
    policy.predict(obs, env=env)  # and it works again


def test_training_warnings_are_python_warnings(tmp_path):
    # A training run's warnings (here an inert config key) went to stderr only, past warnings filters.
    with pytest.warns(RuntimeWarning, match="config key vf_coef weighs the baseline's loss, and use_baseline is "
                                            "false: no effect") as caught:
        rlforge.train("reinforce", "CartPole-v1", steps=200, out=str(tmp_path / "r"),
                      config={"use_baseline": False, "vf_coef": 0.3, "num_envs": 1, "eval_episodes": 0})
    # Attributed to the line that called rlforge.train (it named rlforge/agents.py).
    assert {w.filename for w in caught if issubclass(w.category, RuntimeWarning)} == {__file__}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="no effect"):
            rlforge.train("reinforce", "CartPole-v1", steps=200, out=str(tmp_path / "e"),
                          config={"use_baseline": False, "vf_coef": 0.3, "num_envs": 1, "eval_episodes": 0})


def test_runner_messages_are_worded_for_python():
    from rlforge.agents import _python_wording
    # Ctrl-C's KeyboardInterrupt says how to go on in Python, path as given.
    assert _python_wording("interrupted by SIGINT at step 5 of 10; saved my runs/a--env/checkpoints/step_5.pt; "
                           "continue with: rlforge train --resume my runs/a--env", "my runs/a--env").endswith(
        "saved my runs/a--env/checkpoints/step_5.pt; continue with: rlforge.resume('my runs/a--env')")
    # A flag-like text inside a path is left alone; a job's launch command stays a command.
    assert _python_wording("output directory 'runs/a--out' is a file; choose another --out") == \
        "output directory 'runs/a--out' is a file; choose another out="
    launch = "a job of 2 ranks again: rlforge launch --nproc 2 -- train --resume r"
    assert _python_wording(launch) == launch


def test_sigterm_saves_and_exits_143(tmp_path):
    # SIGTERM raised KeyboardInterrupt (exit 130, as Ctrl-C); a process sent
    # TERM ends with 143 after the checkpoint, saying how to go on.
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / "run"
    script = ("import sys, rlforge; rlforge.train('ppo', 'CartPole-v1', steps=50_000_000, out=sys.argv[1], "
              "config={'eval_episodes': 0})")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(rlforge.__file__)), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.Popen([sys.executable, "-c", script, str(out)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not (out / "progress.csv").exists() and time.time() < deadline and p.poll() is None:
            time.sleep(0.1)
        assert (out / "progress.csv").exists()
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 143, err
    assert "interrupted by SIGTERM" in err and f"rlforge.resume({str(out)!r})" in err, err
    assert any(f.name.startswith("step_") for f in (out / "checkpoints").iterdir())


def test_an_rlforge_env_instance_trains_as_its_id_and_kwargs(tmp_path):
    env = rlforge.make("FrozenLake-v1", is_slippery=False)
    result = rlforge.train("q-learning", env, steps=5000, out=str(tmp_path / "lake"), config={"eval_episodes": 5})
    assert "is_slippery: false" in open(tmp_path / "lake" / "config.yaml").read().replace("'", "").lower()
    assert result["eval_mean_return"] == 1.0
    wrapped = gym.wrappers.RecordEpisodeStatistics(rlforge.make("CartPole-v1"))
    with pytest.raises(ValueError, match="a wrapped rlforge env .* cannot train.*env='CartPole-v1'"):
        rlforge.train("ppo", wrapped, steps=64, out=str(tmp_path / "w"))


def test_alphazero_predict_keeps_to_the_mask(tmp_path):
    """AlphaZero's search ignored the mask predict was given (it played square 0 with only square 8 allowed)."""
    run = tmp_path / "az"
    rlforge.train("alphazero", "TicTacToe-v0", config={"simulations": 8, "eval_simulations": 8, "net_arch": [16],
                                                       "num_actors": 0, "games_per_iteration": 2,
                                                       "eval_episodes": 0},
                  steps=20, seed=0, out=str(run))
    policy = rlforge.load(str(run))
    env = rlforge.make("TicTacToe-v0")
    obs, info = env.reset(seed=0)
    for only in (8, 3, 0):
        mask = np.zeros(9, dtype=np.int8)
        mask[only] = 1
        action, _ = policy.predict(obs, mask=mask)
        assert int(action) == only
    with pytest.raises(ValueError, match="the mask of observation 0 allows no action"):
        policy.predict(obs, mask=np.zeros(9, dtype=np.int8))


def test_blackjack_trains_on_gymnasiums_tuple_env_and_predicts_with_its_own_env(tmp_path):
    # Gymnasium's Blackjack-v1 (a Tuple of Discretes) was refused as a Python env, and
    # predict(env=) refused rlforge's own Blackjack-v1, whose single env shows that Tuple.
    env_id = rlforge.register_python_env(lambda: gym.make("Blackjack-v1"), name="GymBlackjackTuple")
    theirs = rlforge.train("q-learning", env_id, steps=20000, out=str(tmp_path / "gym"), progress=False,
                           config={"num_envs": 2, "eval_episodes": 20})
    assert rlforge.load(theirs["run_dir"]).observation_space == gym.spaces.MultiDiscrete([32, 11, 2])
    ours = rlforge.train("q-learning", "Blackjack-v1", steps=200000, out=str(tmp_path / "ours"), progress=False,
                         config={"eval_episodes": 0})
    policy = rlforge.load(ours["run_dir"])
    env = rlforge.make("Blackjack-v1")
    obs, _ = env.reset(seed=0)
    action, _ = policy.predict(obs, env=env)
    assert action in (0, 1)
    # Hard 20 against a 5 sticks, hard 8 hits: tuples, one or a batch.
    assert policy.predict((20, 5, 0))[0] == 0
    assert list(policy.predict([(20, 5, 0), (8, 5, 0)])[0]) == [0, 1]
    # Gymnasium's batched Tuple (a vector env's observation: one array per
    # component) is a batch too; numpy read three arrays of three as three rows.
    columns = (np.array([20, 8, 20]), np.array([5, 5, 5]), np.array([0, 0, 0]))
    assert list(policy.predict(columns)[0]) == [0, 1, 0]
    envs = rlforge.make_vec("Blackjack-v1", num_envs=4)
    obs, _ = envs.reset(seed=0)
    actions, _ = policy.predict(obs)
    rows = np.stack(obs, axis=-1)
    assert [int(policy.predict(tuple(int(x) for x in r))[0]) for r in rows] == list(actions)
    # rows stay rows as a list or an array
    assert list(policy.predict(np.stack(columns, axis=-1))[0]) == [0, 1, 0]
    with pytest.raises(ValueError, match="must have one length"):
        policy.predict((np.array([20, 8]), np.array([5]), np.array([0, 0])))
