"""rlforge's vector env against gymnasium.vector.SyncVectorEnv over the same
(rlforge) envs, in each of Gymnasium's three autoreset modes."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import rlforge
import rlforge.envs


def _same_infos(ours, theirs, where=""):
    assert set(ours) == set(theirs), f"{where}: keys {sorted(ours)} != {sorted(theirs)}"
    for key in theirs:
        a, b = ours[key], theirs[key]
        if isinstance(b, dict):
            _same_infos(a, b, f"{where}/{key}")
        elif key == "final_obs":
            assert len(a) == len(b)
            for x, y in zip(a, b):
                assert (x is None and y is None) or np.array_equal(x, y), f"{where}/final_obs"
        else:
            assert np.array_equal(np.asarray(a), np.asarray(b)), f"{where}/{key}: {a} != {b}"


@pytest.mark.parametrize("mode", ["next_step", "same_step", "disabled"])
@pytest.mark.parametrize("env_id, kwargs", [("CartPole-v1", {"max_episode_steps": 30}),
                                            ("FrozenLake-v1", {}),
                                            ("TicTacToe-v0", {})])
def test_matches_sync_vector_env(env_id, kwargs, mode):
    n = 4
    ours = rlforge.make_vec(env_id, num_envs=n, autoreset_mode=mode, **kwargs)
    theirs = SyncVectorEnv([lambda: rlforge.make(env_id, **kwargs) for _ in range(n)], autoreset_mode=rlforge.envs.AUTORESET[mode])
    assert ours.single_observation_space == theirs.single_observation_space
    assert ours.single_action_space == theirs.single_action_space
    o1, i1 = ours.reset(seed=11)
    o2, i2 = theirs.reset(seed=11)
    assert np.array_equal(o1, o2)
    _same_infos(i1, i2, "reset")
    rng = np.random.default_rng(0)
    ends = 0
    masks = i2["action_mask"].copy() if "action_mask" in i2 else None
    for t in range(300):
        if masks is not None:
            # A legal move each (an ended game has none: its action is ignored).
            actions = np.array([np.flatnonzero(m)[rng.integers(np.count_nonzero(m))] if m.any() else 0
                                for m in masks])
        else:
            actions = theirs.action_space.sample()
        o1, r1, te1, tr1, i1 = ours.step(actions)
        o2, r2, te2, tr2, i2 = theirs.step(actions)
        assert np.array_equal(o1, o2), f"step {t}"
        assert np.array_equal(r1, r2.astype(np.float32)) and np.array_equal(te1, te2) and np.array_equal(tr1, tr2)
        _same_infos(i1, i2, f"step {t}")
        if masks is not None:
            masks[i2["_action_mask"]] = i2["action_mask"][i2["_action_mask"]]
        done = te2 | tr2
        ends += int(done.sum())
        if mode == "disabled" and done.any():
            o1, i1 = ours.reset(options={"reset_mask": done.copy()})
            o2, i2 = theirs.reset(options={"reset_mask": done.copy()})
            assert np.array_equal(o1, o2)
            _same_infos(i1, i2, f"reset_mask {t}")
            if masks is not None:
                masks[done] = i2["action_mask"][done]
    assert ends >= 4


def test_arrays_are_views_of_the_batch_buffers():
    envs = rlforge.make_vec("CartPole-v1", num_envs=8, autoreset_mode="same_step")
    obs, _ = envs.reset(seed=0)
    assert not obs.flags.owndata and obs.shape == (8, 4) and obs.dtype == np.float32
    before = obs.copy()
    _, rewards, terminated, _, _ = envs.step(np.ones(8, dtype=np.int64))
    assert not np.array_equal(obs, before)  # the same buffer, overwritten by the step
    assert rewards.dtype == np.float32 and terminated.dtype == np.bool_
    kept = obs.copy()
    del envs
    import gc

    gc.collect()
    assert np.array_equal(obs, kept)  # the view keeps the vector env's buffers alive


@pytest.mark.parametrize("env_id, kwargs", [("CartPole-v1", {"max_episode_steps": 20}), ("TowerDefense-v0", {})])
def test_gymnasium_make_vec_makes_the_cpp_vector_env_returning_copies(env_id, kwargs):
    """gymnasium.make_vec("rlforge/<ID>") takes the vector entry point: the
    C++ vector env, with copies as Gymnasium's vector envs return, stepping as
    the SyncVectorEnv of single envs that vectorization_mode="sync" makes."""
    ours = gym.make_vec(f"rlforge/{env_id}", num_envs=3, **kwargs)
    theirs = gym.make_vec(f"rlforge/{env_id}", num_envs=3, vectorization_mode="sync", **kwargs)
    assert isinstance(ours, rlforge.RlforgeVectorEnv) and ours.copy
    assert isinstance(theirs, SyncVectorEnv)
    assert ours.spec.id == f"rlforge/{env_id}" and ours.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    def same_infos(i1, i2, where):
        # MultiDiscrete masks: ours one [N, n_d] array per dimension, a
        # SyncVectorEnv's one tuple of dimensions per env.
        if isinstance(i1.get("action_mask"), tuple):
            for k in range(3):
                assert all(np.array_equal(i1["action_mask"][d][k], i2["action_mask"][k][d])
                           for d in range(len(i1["action_mask"]))), where
            i1, i2 = dict(i1), dict(i2)
            del i1["action_mask"], i2["action_mask"]
        _same_infos(i1, i2, where)

    o1, i1 = ours.reset(seed=3)
    o2, i2 = theirs.reset(seed=3)
    assert np.array_equal(o1, o2)
    same_infos(i1, i2, "reset")
    theirs.action_space.seed(0)
    kept, ends = [], 0
    for t in range(60):
        mask = i2.get("action_mask")
        actions = (np.stack([theirs.single_action_space.sample(mask=mask[k]) for k in range(3)])
                   if mask is not None else theirs.action_space.sample())
        o1, r1, te1, tr1, i1 = ours.step(actions)
        o2, r2, te2, tr2, i2 = theirs.step(actions)
        assert np.array_equal(o1, o2) and np.array_equal(r1, r2.astype(np.float32)), f"step {t}"
        assert np.array_equal(te1, te2) and np.array_equal(tr1, tr2), f"step {t}"
        same_infos(i1, i2, f"step {t}")
        assert o1.flags.owndata or o1.base is not None and o1.base.flags.owndata
        kept.append((o1, o2.copy(), r1, r2.copy()))
        ends += int((te2 | tr2).sum())
    # Every step's arrays are the step's own: later steps did not overwrite them.
    for o1, o2, r1, r2 in kept:
        assert np.array_equal(o1, o2) and np.array_equal(r1, r2.astype(np.float32))
    if env_id == "CartPole-v1":
        assert ends >= 3
    with pytest.raises(AttributeError, match="no Python sub-envs to get_attr: make a SyncVectorEnv"):
        ours.get_attr("spec")
    assert not hasattr(ours, "call")
    with pytest.raises(ValueError, match="copy must be True or False"):
        gym.make_vec(f"rlforge/{env_id}", num_envs=2, copy="yes")


@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_blackjack_vector_observations_are_gymnasiums_batched_tuple(mode):
    # Gymnasium's vector Blackjack-v1 observes a tuple of three arrays (player
    # sums, dealer cards, usable aces); this one gave the [n, 3] array, so
    # obs[0] was env 0's triple instead of every env's player sum.
    n = 5
    theirs = gym.make_vec("Blackjack-v1", num_envs=n, vectorization_mode="sync",
                          vector_kwargs={"autoreset_mode": rlforge.envs.AUTORESET[mode]})
    ours = rlforge.make_vec("Blackjack-v1", num_envs=n, autoreset_mode=mode)
    assert ours.single_observation_space == theirs.single_observation_space
    assert ours.observation_space == theirs.observation_space
    copies = gym.make_vec("rlforge/Blackjack-v1", num_envs=n, autoreset_mode=mode)
    assert copies.observation_space == theirs.observation_space
    for envs in (ours, copies):
        obs, _ = envs.reset(seed=3)
        assert isinstance(obs, tuple) and len(obs) == 3
        assert all(a.shape == (n,) and a.dtype == np.int64 for a in obs)
        assert envs.observation_space.contains(obs)
        ended_any = False
        for _ in range(20):
            obs, _, terminated, truncated, info = envs.step(np.ones(n, dtype=np.int64))  # hit
            assert isinstance(obs, tuple) and envs.observation_space.contains(obs)
            if mode == "same_step" and "final_obs" in info:
                ended_any = True
                for i in np.flatnonzero(info["_final_obs"]):
                    final = info["final_obs"][i]
                    assert isinstance(final, tuple) and envs.single_observation_space.contains(final)
                    assert final[0] > 21  # hitting ends an episode only by a bust
        if mode == "same_step":
            assert ended_any
    # The arrays are views of the native batch (copies with copy=True).
    obs, _ = ours.reset(seed=3)
    again, _ = ours.reset(seed=4)
    assert obs[0] is not again[0] and np.shares_memory(obs[0], again[0])
    cobs, _ = copies.reset(seed=3)
    cagain, _ = copies.reset(seed=4)
    assert not np.shares_memory(cobs[0], cagain[0])


def test_threads_give_the_same_results():
    a = rlforge.make_vec("CartPole-v1", num_envs=64, threads=1)
    b = rlforge.make_vec("CartPole-v1", num_envs=64, threads=2)
    oa, _ = a.reset(seed=5)
    ob, _ = b.reset(seed=5)
    rng = np.random.default_rng(1)
    for _ in range(100):
        actions = rng.integers(0, 2, size=64)
        oa = a.step(actions)[0]
        ob = b.step(actions)[0]
        assert np.array_equal(oa, ob)


def test_vector_metadata_render_fps_is_the_envs():
    # It was 30 for every env (SyncVectorEnv copies the env's: CartPole 50).
    assert rlforge.make_vec("CartPole-v1", 2).metadata["render_fps"] == 50
    assert rlforge.make_vec("Acrobot-v1", 2).metadata["render_fps"] == 15


def test_vector_errors():
    envs = rlforge.make_vec("CartPole-v1", num_envs=2, autoreset_mode="disabled")
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        envs.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError):
        envs.step(np.array([0, 2]))
    with pytest.raises(ValueError, match="autoreset"):
        rlforge.make_vec("CartPole-v1", num_envs=2, autoreset_mode="sometimes")
    with pytest.raises(ValueError, match="num_envs"):
        rlforge.make_vec("CartPole-v1", num_envs=0)
    with pytest.raises(ValueError, match="reset_mask"):
        envs.reset(options={"reset_mask": np.array([1, 0])})
    done = np.zeros(2, dtype=bool)
    while not done.any():
        _, _, te, tr, _ = envs.step(np.ones(2, dtype=np.int64))
        done = te | tr
    with pytest.raises(RuntimeError, match="autoreset is disabled"):
        envs.step(np.ones(2, dtype=np.int64))
    envs.close()
    with pytest.raises(RuntimeError, match="closed"):
        envs.step(np.ones(2, dtype=np.int64))


def test_vector_conditional_masks_pick_legal_actions_in_a_strict_game():
    """Each env's conditional masks, asked dimension by dimension, give actions
    a strict TowerDefense accepts, and are those of the same env made alone
    and stepped with the same actions (the envs' states apart by then)."""
    envs = rlforge.make_vec("TowerDefense-v0", num_envs=3, strict=True, ticks_per_step=4)
    assert envs.has_conditional_action_mask and not rlforge.make_vec("CartPole-v1", 1).has_conditional_action_mask
    with pytest.raises(RuntimeError, match="before reset"):
        envs.conditional_action_mask(0, [], 0)
    envs.reset(seed=5)
    singles = [rlforge.make("TowerDefense-v0", strict=True, ticks_per_step=4) for _ in range(3)]
    for i, single in enumerate(singles):
        single.reset(seed=5 + i)  # env i of the vector starts from seed + i
    rng = np.random.default_rng(0)
    deployed = compared = 0
    for _ in range(60):
        actions = np.zeros((3, 4), dtype=np.int64)
        for i in range(3):
            for d in range(4):
                prefix = list(actions[i, :d])
                mask = envs.conditional_action_mask(i, prefix, d)
                assert mask.tolist() == singles[i].conditional_action_mask(prefix, d).tolist()
                compared += int(mask.sum()) > 1
                actions[i, d] = rng.choice(np.flatnonzero(mask))
        deployed += int((actions[:, 0] == 1).sum())
        _, _, terminated, truncated, _ = envs.step(actions)  # strict: an illegal action raises
        for i, single in enumerate(singles):
            single.step(actions[i])
        assert not (terminated | truncated).any()
    assert deployed > 10 and compared > 50, (deployed, compared)
    with pytest.raises(ValueError, match=r"index must be in \[0, 2\], got 3"):
        envs.conditional_action_mask(3, [], 0)
    with pytest.raises(ValueError, match="prefix has 0 values; dimension 1 takes the 1 before it"):
        envs.conditional_action_mask(0, [], 1)


def test_async_send_recv_follows_each_envs_own_trajectory():
    """EnvPool-style: recv gives the first batch_size envs done; each env's
    observations equal a single env's under the same actions."""
    n, batch = 8, 3
    envs = rlforge.make_async("CartPole-v1", num_envs=n, batch_size=batch, threads=2)
    refs = [rlforge.make("CartPole-v1", max_episode_steps=500) for _ in range(n)]
    ref_obs = [refs[i].reset(seed=20 + i)[0] for i in range(n)]
    envs.async_reset(seed=20)
    steps = [0] * n
    for _ in range(200):
        obs, rewards, terminated, truncated, info = envs.recv()
        ids = info["env_id"].copy()
        assert len(set(ids.tolist())) == batch
        for b, i in enumerate(ids):
            assert np.array_equal(obs[b], ref_obs[i]), f"env {i} step {steps[i]}"
        actions = np.array([(steps[i] // 3) % 2 for i in ids])
        envs.send(actions, ids)
        for a, i in zip(actions, ids):
            ref_obs[i], _, te, tr, _ = refs[i].step(int(a))
            if te or tr:
                ref_obs[i], _ = refs[i].reset()
            steps[i] += 1
    assert min(steps) > 0


def test_async_misuse_raises_instead_of_hanging():
    envs = rlforge.make_async("CartPole-v1", num_envs=4, batch_size=2)
    with pytest.raises(ValueError, match="has not been reset"):  # refused at send, not at the next recv
        envs.send(np.array([1, 1]), np.array([0, 1]))
    envs.async_reset(seed=0)
    envs.recv()
    envs.recv()
    with pytest.raises(RuntimeError, match="send more"):
        envs.recv()
    with pytest.raises(ValueError, match="twice"):
        envs.send(np.array([1, 1]), np.array([0, 0]))
    with pytest.raises(ValueError):
        envs.send(np.array([2]), np.array([1]))
    with pytest.raises(ValueError, match="batch_size"):
        rlforge.make_async("CartPole-v1", num_envs=2, batch_size=3)


def test_a_bad_action_changes_no_env_and_views_are_read_only():
    envs = rlforge.make_vec("CartPole-v1", num_envs=4, threads=2)
    obs, _ = envs.reset(seed=0)
    before = obs.copy()
    with pytest.raises(ValueError, match="env 2"):
        envs.step(np.array([0, 0, 2, 0]))
    assert np.array_equal(obs, before)  # once: envs 0 and 1 had stepped
    with pytest.raises(ValueError):
        obs[0, 0] = 1.0


def test_async_env_ids_and_close():
    envs = rlforge.make_async("CartPole-v1", num_envs=2, batch_size=1)
    envs.async_reset(seed=0)
    envs.recv()
    for bad in ([2**40], [2**32], [0.7], [-1]):  # once wrapped silently to env 0
        with pytest.raises(ValueError, match="env_ids"):
            envs.send(np.zeros(1, dtype=np.int64), bad)
    envs.close()
    with pytest.raises(RuntimeError, match="closed"):
        envs.recv()


SLOW_ENV = """
import time, sys, gc, numpy as np, gymnasium as gym, rlforge
class Slow(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)
    def reset(self, *, seed=None, options=None):
        return np.zeros(2, np.float32), {}
    def step(self, a):
        time.sleep(0.2)
        return np.zeros(2, np.float32), 0.0, False, False, {}
a = rlforge.make_async(rlforge.register_python_env(Slow), num_envs=2, batch_size=2, threads=2)
a.async_reset(seed=0)
a.recv()
a.send(np.zeros(2, np.int64), [0, 1])
if sys.argv[1] == "del":
    del a
    gc.collect()
print("ok")
"""


@pytest.mark.parametrize("how", ["del", "exit"])
def test_async_python_envs_in_flight_neither_hang_nor_abort(tmp_path, how):
    """Deleting the env (or exiting) while Python-env steps are in flight: once
    a deadlock (the destructor joined workers waiting for the GIL) and an abort."""
    import subprocess
    import sys

    script = tmp_path / "slow.py"
    script.write_text(SLOW_ENV)
    for _ in range(3):
        r = subprocess.run([sys.executable, str(script), how], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "ok" in r.stdout, r.stderr
