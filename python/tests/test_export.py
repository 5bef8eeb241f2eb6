"""Exported policies outside rlforge: ONNX in onnxruntime and TorchScript in
PyTorch (Debian's python3-torch, run as a separate interpreter because the
test venv does not see Debian's packages) act as rlforge does on 10,000
recorded observations, with the same values within 1e-5."""
import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest

import rlforge

SYSTEM_PYTHON = "/usr/bin/python3"


def record(policy, env_id, n, seed=0, **kwargs):
    """n observations (and masks) met by the greedy policy."""
    env = rlforge.make(env_id, **kwargs)
    obs, info = env.reset(seed=seed)
    rows, masks = [], []
    while len(rows) < n:
        mask = info.get("action_mask")
        if isinstance(mask, tuple):  # MultiDiscrete: one mask per dimension
            mask = np.concatenate(mask)
        rows.append(obs)
        masks.append(mask)
        action, _ = policy.predict(obs, mask=mask)
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            seed += 1
            obs, info = env.reset(seed=seed)
    masks = None if masks[0] is None else np.stack(masks).astype(bool)
    return np.stack(rows), masks


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ppo") / "run"
    rlforge.train("ppo", "CartPole-v1", config={"num_envs": 4, "n_steps": 256, "eval_episodes": 0},
                  steps=4096, seed=1, out=str(out))
    return str(out)


def test_onnx_in_onnxruntime_acts_as_rlforge(ppo_run, tmp_path):
    policy = rlforge.load(ppo_run)
    desc = policy.export(tmp_path / "p.onnx", format="onnx")
    assert desc["head"]["kind"] == "categorical" and desc["observation"]["shape"] == [4]
    obs, _ = record(policy, "CartPole-v1", 10_000)
    session = ort.InferenceSession(str(tmp_path / "p.onnx"))
    assert [i.name for i in session.get_inputs()] == ["obs"]
    assert {o.name for o in session.get_outputs()} == {"action", "logits", "value"}
    out = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"obs": obs.astype(np.float32)})))
    expected, _ = policy.predict(obs)
    assert out["action"].dtype == np.int64
    np.testing.assert_array_equal(out["action"], expected)
    # The model's metadata is the rlf description.
    meta = json.loads(session.get_modelmeta().custom_metadata_map["rlforge_model"])
    assert meta["algo"] == "ppo" and meta["env"] == "CartPole-v1"
    # Values: the rlf runtime's (via TorchScript below) and ONNX's agree.
    np.save(tmp_path / "obs.npy", obs.astype(np.float32))
    np.save(tmp_path / "onnx_value.npy", out["value"])
    policy.export(tmp_path / "p.pt", format="torchscript")
    script = f"""
import numpy as np, torch
m = torch.jit.load({str(tmp_path / 'p.pt')!r})
obs = torch.from_numpy(np.load({str(tmp_path / 'obs.npy')!r}))
with torch.no_grad():
    out = m(obs)
np.save({str(tmp_path / 'ts_action.npy')!r}, out['action'].numpy())
np.save({str(tmp_path / 'ts_value.npy')!r}, out['value'].numpy())
"""
    subprocess.run([SYSTEM_PYTHON, "-c", script], check=True, timeout=120)
    np.testing.assert_array_equal(np.load(tmp_path / "ts_action.npy"), expected)
    ts_value = np.load(tmp_path / "ts_value.npy")
    np.testing.assert_allclose(ts_value, out["value"], rtol=1e-5, atol=1e-5)


def test_onnx_masked_multidiscrete_and_dqn(tmp_path):
    # A masked env (TowerDefense: MultiDiscrete, flat masks as an ONNX input)
    # and a Q-network (dueling DQN on FrozenLake's Discrete observations).
    td = tmp_path / "td"
    rlforge.train("ppo", "TowerDefense-v0", config={"num_envs": 2, "n_steps": 64, "batch_size": 64,
                                                    "eval_episodes": 0, "pretrain_policy": ""},
                  steps=128, seed=0, out=str(td))
    policy = rlforge.load(str(td))
    policy.export(tmp_path / "td.onnx", format="onnx")
    session = ort.InferenceSession(str(tmp_path / "td.onnx"))
    assert [i.name for i in session.get_inputs()] == ["obs", "mask"]
    obs, masks = record(policy, "TowerDefense-v0", 300)
    action = session.run(["action"], {"obs": obs.astype(np.float32), "mask": masks})[0]
    # rlforge's policy chooses dimension by dimension under the env's
    # conditional masks; the graph takes the flat mask, so compare with the
    # greedy flat-masked choice of the same logits.
    logits = session.run(["logits"], {"obs": obs.astype(np.float32), "mask": masks})[0]
    nvec = policy.action_space.nvec
    edges = np.cumsum([0, *nvec])
    for d in range(len(nvec)):
        np.testing.assert_array_equal(action[:, d], logits[:, edges[d]:edges[d + 1]].argmax(1))
    assert np.all(masks[np.arange(len(obs))[:, None], edges[:-1] + action])  # every chosen value legal
    # A game that asks for each dimension's conditional mask (docs/deploy.md's
    # recipe) makes predict(env=)'s choices, legal in a strict game: a policy
    # cloned from the heuristic, which deploys (waiting leaves one legal value
    # in dimensions 1-3, where the recipe would show nothing).
    heur = tmp_path / "heur"
    rlforge.train("ppo", "TowerDefense-v0", config={"num_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1,
                                                    "eval_episodes": 0, "pretrain_episodes": 10,
                                                    "env_kwargs": {"ticks_per_step": 4}},
                  steps=128, seed=0, out=str(heur))
    policy = rlforge.load(str(heur))
    policy.export(tmp_path / "heur.onnx", format="onnx")
    session = ort.InferenceSession(str(tmp_path / "heur.onnx"))
    env = rlforge.make("TowerDefense-v0", strict=True, ticks_per_step=4)
    o, info = env.reset(seed=0)
    deployed = 0
    for _ in range(150):
        flat = np.concatenate(info["action_mask"]) if isinstance(info["action_mask"], tuple) else info["action_mask"]
        lg = session.run(["logits"], {"obs": o[None].astype(np.float32), "mask": flat[None].astype(bool)})[0][0]
        chosen = []
        for d in range(len(nvec)):
            legal = env.conditional_action_mask(chosen, d).astype(bool)
            chosen.append(int(np.where(legal, lg[edges[d]:edges[d + 1]], -np.inf).argmax()))
        assert chosen == policy.predict(o, env=env)[0].tolist()
        deployed += chosen[0] == 1
        o, _, terminated, truncated, info = env.step(np.array(chosen))
        if terminated or truncated:
            o, info = env.reset()
    assert deployed >= 3, deployed

    dqn = tmp_path / "dqn"
    rlforge.train("dqn", "FrozenLake-v1", config={"dueling": True, "learning_starts": 200, "eval_episodes": 0},
                  steps=1000, seed=0, out=str(dqn))
    q = rlforge.load(str(dqn))
    q.export(tmp_path / "q.onnx", format="onnx")
    obs = np.arange(16, dtype=np.int64)
    out = ort.InferenceSession(str(tmp_path / "q.onnx")).run(["action"], {"obs": obs.astype(np.float32)})[0]
    np.testing.assert_array_equal(out, q.predict(obs)[0])


def test_export_errors(ppo_run, tmp_path):
    policy = rlforge.load(ppo_run)
    with pytest.raises(ValueError, match="rlf, torchscript or onnx"):
        policy.export(tmp_path / "x", format="keras")
    with pytest.raises(ValueError, match="quantize='int8' is for the rlf runtime's format, not 'onnx'"):
        policy.export(tmp_path / "x", format="onnx", quantize="int8")
    with pytest.raises(ValueError, match="quantize takes 'int8' \\(or None\\), got 'int4'"):
        policy.export(tmp_path / "x", quantize="int4")
    # The path the user gave is named (it used to be the writer's temporary x.rlf.tmp).
    with pytest.raises(ValueError, match=r"cannot export to .*/nope/x.rlf: no directory .*/nope$"):
        policy.export(tmp_path / "nope" / "x.rlf")
    with pytest.raises(ValueError, match="it is a directory"):
        policy.export(tmp_path)
    desc = policy.export(tmp_path / "q.rlf", quantize="int8")
    assert "int8" in json.dumps(desc["network"])
    # The format follows the name's extension (it wrote rlf bytes into a .onnx
    # file); a format the extension contradicts is refused.
    policy.export(tmp_path / "auto.onnx")
    import onnxruntime

    onnxruntime.InferenceSession(str(tmp_path / "auto.onnx"))  # ONNX, not rlf bytes
    with pytest.raises(ValueError, match=r"x.rlf's extension says rlf, but format is onnx \(name it .onnx"):
        policy.export(tmp_path / "x.rlf", format="onnx")


def test_onnx_muzero_equals_torchscript(tmp_path):
    # MuZero's export (min-max scaled representation, value decoded from its
    # support): ONNX in onnxruntime against the TorchScript export, which
    # tests/export_test.cc checks against the networks themselves.
    run = tmp_path / "mz"
    rlforge.train("muzero", "TicTacToe-v0", config={"simulations": 4, "eval_simulations": 4, "net_arch": [16],
                                                    "latent_size": 8, "eval_episodes": 0},
                  steps=60, seed=0, out=str(run))
    policy = rlforge.load(str(run))
    policy.export(tmp_path / "m.onnx", format="onnx")
    policy.export(tmp_path / "m.pt", format="torchscript")
    env = rlforge.make("TicTacToe-v0")
    rng = np.random.default_rng(0)
    rows, masks = [], []
    obs, info = env.reset(seed=0)
    while len(rows) < 500:
        rows.append(obs)
        masks.append(info["action_mask"])
        obs, _, terminated, truncated, info = env.step(rng.choice(np.flatnonzero(info["action_mask"])))
        if terminated or truncated:
            obs, info = env.reset()
    obs = np.stack(rows).astype(np.float32)
    mask = np.stack(masks).astype(bool)
    onnx_action, onnx_value = ort.InferenceSession(str(tmp_path / "m.onnx")).run(["action", "value"],
                                                                                {"obs": obs, "mask": mask})
    np.save(tmp_path / "obs.npy", obs)
    np.save(tmp_path / "mask.npy", mask)
    script = f"""
import numpy as np, torch
m = torch.jit.load({str(tmp_path / 'm.pt')!r})
with torch.no_grad():
    out = m(torch.from_numpy(np.load({str(tmp_path / 'obs.npy')!r})), torch.from_numpy(np.load({str(tmp_path / 'mask.npy')!r})))
np.save({str(tmp_path / 'a.npy')!r}, out['action'].numpy())
np.save({str(tmp_path / 'v.npy')!r}, out['value'].numpy())
"""
    subprocess.run([SYSTEM_PYTHON, "-c", script], check=True, timeout=120)
    np.testing.assert_array_equal(onnx_action, np.load(tmp_path / "a.npy"))
    np.testing.assert_allclose(onnx_value, np.load(tmp_path / "v.npy"), rtol=1e-5, atol=1e-5)
    assert np.all(mask[np.arange(len(obs)), onnx_action])


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
def test_recurrent_onnx_carries_its_state_as_rlforge_does(tmp_path, rnn):
    """A recurrent-ppo LSTM (GRU) policy exported to ONNX, stepped in
    onnxruntime with its state (zeros at each episode's start), acts as
    rlforge's policy stepped with episode_start over several episodes."""
    run = tmp_path / "rppo"
    rlforge.train("recurrent-ppo", "CartPoleNoVel-v1",
                  config={"num_envs": 4, "n_steps": 64, "bptt_len": 16, "batch_size": 64, "rnn_hidden_size": 16,
                          "rnn_type": rnn, "net_arch": [16], "eval_episodes": 0},
                  steps=1024, seed=2, out=str(run))
    policy = rlforge.load(str(run))
    assert policy._native.recurrent
    desc = policy.export(tmp_path / "r.onnx", format="onnx")
    S = 32 if rnn == "lstm" else 16
    assert desc["core"] == {"kind": rnn, "hidden": 16, "layers": 1, "state_size": S}
    session = ort.InferenceSession(str(tmp_path / "r.onnx"))
    assert [i.name for i in session.get_inputs()] == ["obs", "state"]
    names = [o.name for o in session.get_outputs()]
    assert "next_state" in names and "action" in names
    env = rlforge.make("CartPoleNoVel-v1")
    obs, _ = env.reset(seed=5)
    state = np.zeros((1, S), np.float32)
    start, episodes, same, steps, state_changes = True, 0, 0, 0, 0
    while episodes < 4 and steps < 3000:
        if start:
            state = np.zeros((1, S), np.float32)
        ours, _ = policy.predict(obs, episode_start=np.array([start]))
        out = dict(zip(names, session.run(None, {"obs": obs.reshape(1, -1).astype(np.float32), "state": state})))
        same += int(out["action"][0] == ours)
        state_changes += int(not np.array_equal(out["next_state"], state))
        state = out["next_state"]
        obs, _, terminated, truncated, _ = env.step(ours)
        steps += 1
        start = terminated or truncated
        if start:
            episodes += 1
            obs, _ = env.reset(seed=5 + episodes)
    assert episodes >= 2 and steps >= 20
    assert same == steps
    assert state_changes == steps
    with pytest.raises(ValueError, match="episode_start"):
        policy.predict(np.zeros((2, 4), np.float32), episode_start=np.array([True]))
    # Another batch size or mode mid-episode would continue from another
    # state: refused unless every row starts; a state argument is refused.
    with pytest.raises(ValueError, match="would continue from another state"):
        policy.predict(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="would continue from another state"):
        policy.predict(obs, deterministic=False)
    policy.predict(np.zeros((2, 4), np.float32), episode_start=np.array([True, True]))
    with pytest.raises(ValueError, match="state=None"):
        policy.predict(np.zeros((2, 4), np.float32), state=np.zeros((1, 2, 16)))
