"""Datasets: rlforge's files open in Farama's Minari, Minari's open in rlforge,
and rlforge.datasets reads and writes the same layout (docs/offline.md)."""
import csv
import json
import os
import subprocess
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import rlforge

minari = pytest.importorskip("minari")
from minari.data_collector import EpisodeBuffer  # noqa: E402


def rlforge_bin() -> str:
    # The build tree's command, beside the package's folder (build/python/rlforge).
    path = os.environ.get("RLFORGE_BIN") or str(Path(rlforge.__file__).parent.parent.parent / "rlforge")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no rlforge command at {path}")
    return path


def run(*args: str) -> str:
    r = subprocess.run([rlforge_bin(), *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_minari_reads_what_rlforge_records(tmp_path):
    out = tmp_path / "cartpole"
    run("record", "--env", "CartPole-v1", "--policy", "random", "--episodes", "12", "--num-envs", "4",
        "--seed", "3", "--ref-min-score", "10", "--ref-max-score", "500", "--out", str(out))
    ds = minari.MinariDataset(str(out))
    assert ds.total_episodes == 12
    assert ds.observation_space == gym.spaces.Box(-np.inf, np.inf, (4,), np.float32) or \
        ds.observation_space.shape == (4,)
    assert ds.action_space == gym.spaces.Discrete(2)
    steps = 0
    for ep in ds.iterate_episodes():
        n = len(ep.rewards)
        steps += n
        assert ep.observations.shape == (n + 1, 4) and ep.observations.dtype == np.float32
        assert ep.actions.dtype == np.int64 and ep.actions.shape == (n,)
        assert ep.terminations.dtype == bool and ep.truncations.dtype == bool
        assert ep.terminations[-1] or ep.truncations[-1]
        assert not ep.terminations[:-1].any()
        assert np.all(ep.rewards == 1.0)
    assert steps == ds.total_steps
    np.testing.assert_allclose(minari.get_normalized_score(ds, np.array([10.0, 500.0])), [0.0, 1.0])
    # The env spec names rlforge's env as the Python package registers it.
    assert ds.spec.env_spec.id == "rlforge/CartPole-v1"
    env = ds.recover_environment()
    assert env.unwrapped.env_id == "CartPole-v1"
    # The spec says the threshold (it said None); the step limit is the env's
    # own (its spec says it once made), with no TimeLimit wrapper over it.
    assert ds.spec.env_spec.reward_threshold == 475.0
    assert env.spec.max_episode_steps == 500 and env is env.unwrapped
    # Gymnasium's own CartPole, started from the first episode's first
    # observation (its seeding differs from rlforge's), makes the recorded
    # transitions (within float32 rounding of the state).
    first = ds[0]
    ref = gym.make("CartPole-v1")
    ref.reset(seed=3)
    ref.unwrapped.state = first.observations[0].astype(np.float64)
    for t, a in enumerate(first.actions):
        obs, r, term, trunc, _ = ref.step(int(a))
        np.testing.assert_allclose(obs, first.observations[t + 1], rtol=0, atol=1e-5)
        assert term == first.terminations[t]


def test_rlforge_reads_what_minari_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    rng = np.random.default_rng(0)
    played = _episodes(gym.make("CartPole-v1"), range(100, 105), lambda o, t: int(rng.integers(2)))
    buffers = [EpisodeBuffer(id=i, seed=e["seed"], observations=e["observations"], actions=e["actions"],
                             rewards=e["rewards"], terminations=e["terminations"], truncations=e["truncations"])
               for i, e in enumerate(played)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        made = minari.create_dataset_from_buffers("cartpole/gym-random-v0", buffers, env="CartPole-v1",
                                                  algorithm_name="random", ref_min_score=0.0, ref_max_score=500.0)
    path = Path(made.spec.data_path)
    ds = rlforge.datasets.load(path)
    assert ds.env_id == "CartPole-v1"  # Gymnasium's own env spec: its ID
    assert ds.total_episodes == 5 and ds.total_steps == made.total_steps
    for ours, theirs in zip(ds.iterate_episodes(), made.iterate_episodes()):
        np.testing.assert_array_equal(ours["observations"], theirs.observations)
        np.testing.assert_array_equal(ours["actions"], theirs.actions)
        np.testing.assert_array_equal(ours["rewards"], theirs.rewards)
        np.testing.assert_array_equal(ours["terminations"], theirs.terminations)
        assert ours["seed"] == theirs.id + 100
    # rlforge's CartPole replays Gymnasium's episodes (from their first
    # observations: the two seed differently).
    report = json.loads(run("inspect", str(path), "--json"))
    assert report["accuracy"]["replayed"] == 5
    assert report["accuracy"]["mismatches"] == 0, report["accuracy"]["note"]
    assert "recorded first observation" in report["accuracy"]["note"]
    assert report["flags"] == []
    assert report["score"]["ref_max_score"] == 500.0
    # And the offline agents train on it.
    out = tmp_path / "bc"
    run("train", "--algo", "bc", "--dataset", str(path), "--steps", "200", "--set", "updates_per_iteration=100",
        "--set", "eval_episodes=2", "--out", str(out), "--no-progress")
    assert (out / "eval.json").exists()


def test_image_observations_are_minaris_jpeg_frames(tmp_path, monkeypatch):
    """Image observations travel as Minari stores them, one JPEG per frame:
    the bytes rlforge writes are Minari's (Pillow's) encoding of the same
    frames, and each side decodes the other's files to the same pixels."""
    from minari.dataset._storages.hdf5_storage import encode_frame
    import h5py
    import rlforge.envs

    kwargs = {"obs_mode": "pixels", "max_ticks": 40}
    env = gym.make("rlforge/TowerDefense-v0", **kwargs)
    episodes = []
    for i in range(2):
        o, _ = env.reset(seed=i)
        obs, acts, rews, terms, truncs = [o], [], [], [], []
        done = False
        while not done:
            a = np.zeros(4, dtype=np.int64)  # wait: the enemies walk, the frames change
            o, r, t, tr, _ = env.step(a)
            obs.append(o), acts.append(a), rews.append(r), terms.append(t), truncs.append(tr)
            done = t or tr
        episodes.append(dict(seed=i, observations=np.array(obs), actions=np.array(acts), rewards=np.array(rews),
                             terminations=np.array(terms), truncations=np.array(truncs)))
    # rlforge writes; the stored frames are byte for byte Minari's encoding.
    ours_dir = tmp_path / "ours"
    rlforge.datasets.write(ours_dir, episodes, env_id="TowerDefense-v0", env_kwargs=kwargs)
    with h5py.File(ours_dir / "main_data.hdf5") as f:
        stored = f["episode_0/observations"]
        assert len(stored) == len(episodes[0]["observations"])
        for i, frame in enumerate(episodes[0]["observations"]):
            assert bytes(np.asarray(stored[i])) == bytes(encode_frame(frame)), f"frame {i}"
    # Minari reads them as rlforge does: the same decoded pixels, close to the frames.
    theirs = minari.MinariDataset(str(ours_dir))
    mine = rlforge.datasets.load(ours_dir)
    for a, b, e in zip(theirs.iterate_episodes(), mine.iterate_episodes(), episodes):
        assert a.observations.shape == e["observations"].shape and a.observations.dtype == np.uint8
        np.testing.assert_array_equal(a.observations, b["observations"])
        assert np.abs(b["observations"].astype(int) - e["observations"].astype(int)).mean() < 8
    # Minari writes; rlforge reads the same pixels Minari does.
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    from minari.data_collector import EpisodeBuffer as Buffer
    buffers = [Buffer(id=i, seed=e["seed"], observations=e["observations"], actions=e["actions"],
                      rewards=e["rewards"], terminations=e["terminations"], truncations=e["truncations"])
               for i, e in enumerate(episodes)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        made = minari.create_dataset_from_buffers("towerdefense/pixels-v0", buffers, env=env, algorithm_name="wait")
    loaded = rlforge.datasets.load(made.spec.data_path)
    assert loaded.env_id == "TowerDefense-v0" and loaded.observation_space.shape == (56, 80, 3)
    for a, b in zip(made.iterate_episodes(), loaded.iterate_episodes()):
        np.testing.assert_array_equal(a.observations, b["observations"])


def test_write_then_load_round_trip_with_masks(tmp_path):
    env = rlforge.make("TowerDefense-v0")
    episodes = []
    for seed in (1, 2):
        o, info = env.reset(seed=seed)
        obs, acts, rews, terms, truncs, masks = [o], [], [], [], [], [np.concatenate(info["action_mask"])]
        done = False
        while not done:
            a = env.action_space.sample(mask=tuple(m.astype(np.int8) for m in info["action_mask"]))
            o, r, t, tr, info = env.step(a)
            obs.append(o), acts.append(a), rews.append(r), terms.append(t), truncs.append(tr)
            masks.append(np.concatenate(info["action_mask"]))
            done = t or tr
        episodes.append({"seed": seed, "observations": np.array(obs), "actions": np.array(acts),
                         "rewards": np.array(rews), "terminations": np.array(terms), "truncations": np.array(truncs),
                         "infos": {"action_mask": np.array(masks)}})
    out = tmp_path / "td"
    rlforge.datasets.write(out, episodes, "TowerDefense-v0", dataset_id="towerdefense/random-v0",
                           algorithm_name="random")
    back = rlforge.datasets.load(out)
    assert back.total_episodes == 2
    for ours, orig in zip(back.iterate_episodes(), episodes):
        np.testing.assert_array_equal(ours["observations"], orig["observations"])
        np.testing.assert_array_equal(ours["actions"], orig["actions"])
        np.testing.assert_array_equal(ours["infos"]["action_mask"], orig["infos"]["action_mask"])
    # Minari sees the masks in infos, as booleans.
    ds = minari.MinariDataset(str(out))
    ep = ds[1]
    assert ep.infos["action_mask"].dtype == bool
    np.testing.assert_array_equal(ep.infos["action_mask"], episodes[1]["infos"]["action_mask"])
    # A wrong shape is a clear error.
    with pytest.raises(Exception, match="observations"):
        bad = dict(episodes[0], observations=episodes[0]["observations"][:-1])
        rlforge.datasets.write(tmp_path / "bad", [bad], "TowerDefense-v0")


def test_offline_to_online_with_box_actions_from_python(tmp_path):
    """A dataset written from Python trains Box cql, and SAC continues from it
    with the dataset in its replay and the actor's torso frozen."""
    env = rlforge.make("Pendulum-v1")
    episodes = []
    for seed in (3, 4):
        o, _ = env.reset(seed=seed)
        obs, acts, rews, terms, truncs = [o], [], [], [], []
        done = False
        while not done:
            a = np.clip(-1.5 * o[1:2] - 0.5 * o[2:3], -2.0, 2.0).astype(np.float32)
            o, r, t, tr, _ = env.step(a)
            obs.append(o), acts.append(a), rews.append(r), terms.append(t), truncs.append(tr)
            done = t or tr
        episodes.append({"seed": seed, "observations": np.array(obs), "actions": np.array(acts),
                         "rewards": np.array(rews), "terminations": np.array(terms), "truncations": np.array(truncs)})
    data = tmp_path / "pendulum"
    rlforge.datasets.write(data, episodes, "Pendulum-v1", dataset_id="pendulum/teacher-v0")
    cql = rlforge.train("cql", "Pendulum-v1", steps=20, out=str(tmp_path / "cql"),
                        config={"dataset": str(data), "updates_per_iteration": 10, "batch_size": 16,
                                "net_arch": [16], "n_action_samples": 2, "eval_episodes": 1})
    assert cql["timesteps"] == 20
    sac = rlforge.train("sac", "Pendulum-v1", steps=300, out=str(tmp_path / "sac"),
                        config={"init_from": cql["run_dir"], "replay_dataset": str(data), "learning_starts": 0,
                                "freeze": "actor.torso", "net_arch": [16], "batch_size": 16, "eval_episodes": 1})
    assert np.isfinite(sac["eval_mean_return"])
    rows = list(csv.DictReader(open(tmp_path / "sac" / "progress.csv")))
    assert float(rows[0]["replay_size"]) > 400  # 400 dataset transitions before the first env step
    config = (tmp_path / "sac" / "config.yaml").read_text()
    assert "freeze: actor.torso" in config and "replay_dataset:" in config
    with pytest.raises(Exception, match="no parameter of the network starts with 'actor.trunk'"):
        rlforge.train("sac", "Pendulum-v1", steps=300, out=str(tmp_path / "bad"),
                      config={"freeze": "actor.trunk", "net_arch": [16]})


def _episodes(env, seeds, act):
    """Plays one episode per seed with act(observation, step) -> action; the
    episodes as rlforge.datasets.write takes them."""
    episodes = []
    for seed in seeds:
        o, _ = env.reset(seed=seed)
        obs, acts, rews, terms, truncs = [o], [], [], [], []
        done = False
        while not done:
            a = act(o, len(acts))
            o, r, t, tr, _ = env.step(a)
            obs.append(o), acts.append(a), rews.append(r), terms.append(t), truncs.append(tr)
            done = t or tr
        episodes.append({"seed": seed, "observations": np.array(obs), "actions": np.array(acts),
                         "rewards": np.array(rews), "terminations": np.array(terms), "truncations": np.array(truncs)})
    return episodes


def _cartpole_episodes(n=3):
    rng = np.random.default_rng(1)
    return _episodes(rlforge.make("CartPole-v1"), range(n), lambda o, t: int(rng.integers(2)))


def test_write_refuses_what_training_would(tmp_path):
    eps = _cartpole_episodes()

    def changed(i, key, f):
        out = [dict(e) for e in eps]
        out[i][key] = f(np.array(out[i][key], copy=True))
        return out

    def put(a, k, v):
        a[k] = v
        return a

    cases = [
        (changed(1, "actions", lambda a: put(a, 2, 5)), r"episode 1: action 2: .*Discrete\(2\)"),
        (changed(0, "observations", lambda o: put(o, 3, np.nan)), r"episode 0: observation 3: .*not finite"),
        (changed(2, "rewards", lambda r: put(r.astype(float), 1, np.inf)), r"episode 2: reward 1 is inf"),
        (changed(1, "observations", lambda o: o[:, :3]), r"episode 1: observations have shape \(3,\)"),
        (changed(0, "actions", lambda a: a.astype(np.float32) + 0.5), r"episode 0: action 0 is .*whole numbers"),
        ([dict(eps[0], seed=None)] + eps[1:], "episode 0 has no seed while others do"),
    ]
    for k, (episodes, message) in enumerate(cases):
        with pytest.raises(ValueError, match=message):
            rlforge.datasets.write(tmp_path / f"bad{k}", episodes, "CartPole-v1")
        assert not (tmp_path / f"bad{k}" / "metadata.json").exists()
    with pytest.raises(ValueError, match="reference scores must be finite"):
        rlforge.datasets.write(tmp_path / "refs", eps, "CartPole-v1", ref_min_score=10.0, ref_max_score=10.0)
    rlforge.datasets.write(tmp_path / "ok", eps, "CartPole-v1")  # the unchanged episodes are fine
    meta = json.loads((tmp_path / "ok" / "metadata.json").read_text())
    assert meta["dataset_size"] == round(os.path.getsize(tmp_path / "ok" / "main_data.hdf5") / 1e6, 1)


def test_discrete_actions_stored_as_fractional_floats_are_refused(tmp_path):
    import h5py
    data = tmp_path / "d"
    rlforge.datasets.write(data, _cartpole_episodes(), "CartPole-v1")
    with h5py.File(data / "main_data.hdf5", "r+") as f:
        a = f["episode_1/actions"][()]
        del f["episode_1/actions"]
        f["episode_1/actions"] = a.astype(np.float32)  # whole numbers as float: fine
    np.testing.assert_array_equal(rlforge.datasets.load(data).episode(1)["actions"], a)
    with h5py.File(data / "main_data.hdf5", "r+") as f:
        del f["episode_1/actions"]
        f["episode_1/actions"] = a.astype(np.float32) + 0.5
    with pytest.raises(ValueError, match="holds .*0.5.* where its space takes whole numbers"):
        rlforge.datasets.load(data)


def test_offline_training_takes_the_env_and_its_kwargs_from_the_dataset(tmp_path):
    # Right, right, down, down, down, right: the 4x4 lake's goal when it is not slippery.
    path = [2, 2, 1, 1, 1, 2]
    episodes = _episodes(rlforge.make("FrozenLake-v1", is_slippery="false"), range(4), lambda o, t: path[t])
    data = tmp_path / "lake"
    rlforge.datasets.write(data, episodes, "FrozenLake-v1", {"is_slippery": "false"})
    config = {"dataset": str(data), "updates_per_iteration": 10, "eval_episodes": 2}
    shown = rlforge.show_config("bc", config=config, steps=20)
    assert "env: FrozenLake-v1" in shown and "is_slippery: false" in shown, shown
    result = rlforge.train("bc", config=config, steps=20, out=str(tmp_path / "bc"))
    saved = (tmp_path / "bc" / "config.yaml").read_text()
    assert "env: FrozenLake-v1" in saved and "is_slippery: false" in saved
    assert f"dataset: {data}" in saved
    assert result["eval_mean_return"] == 1.0  # the clone walks the non-slippery lake to its goal


def test_training_on_another_envs_data_warns_naming_both_envs(tmp_path):
    data = tmp_path / "cartpole"
    rlforge.datasets.write(data, _cartpole_episodes(), "CartPole-v1")
    config = {"dataset": str(data), "updates_per_iteration": 10, "eval_episodes": 1}
    with pytest.warns(UserWarning, match=r"was recorded in CartPole-v1; the run trains and evaluates in "
                                         r"CartPoleNoVel-v1 \(env=\)"):
        rlforge.train("bc", "CartPoleNoVel-v1", config=config, steps=20, out=str(tmp_path / "bc"))


def test_writing_over_a_dataset_names_the_path_argument(tmp_path):
    rlforge.datasets.write(tmp_path / "d", _cartpole_episodes(1), "CartPole-v1")
    with pytest.raises(ValueError, match="already holds a dataset \\(metadata.json\\): choose another path or delete it"):
        rlforge.datasets.write(tmp_path / "d", _cartpole_episodes(1), "CartPole-v1")
