"""rlforge's envs share a process with PyTorch; its agents refuse another libtorch.

Two libtorch builds in one process crash it (PyPI's torch after Debian's
libtorch 1.13: a segfault). `import rlforge` and its envs must load none; the
agents' module loads rlforge's own on first use and refuses, by ImportError,
a PyTorch that brings another. Each case runs in a fresh interpreter; a fake
`torch` package (an __init__.py and a lib/libtorch.so) stands in for PyPI's.
"""
import os
import subprocess
import sys
import textwrap

import rlforge


def run(code: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=120)


LIBTORCH_LOADED = "any(re.search(r'/libtorch[^/]*[.]so', line) for line in open('/proc/self/maps'))"


def fake_torch(tmp_path, libtorch: str | None = None):
    """A `torch` package whose lib/libtorch.so is a stub, or a link to `libtorch`."""
    lib = tmp_path / "torch" / "lib"
    lib.mkdir(parents=True)
    (tmp_path / "torch" / "__init__.py").write_text("__version__ = '0.0+fake'\n")
    if libtorch:
        (lib / "libtorch.so").symlink_to(libtorch)
    else:
        (lib / "libtorch.so").write_bytes(b"")
    return str(tmp_path)


def test_envs_and_datasets_load_no_libtorch_and_agents_load_it_on_first_use(tmp_path):
    r = run(f"""
        import re, rlforge
        env = rlforge.make("LunarLander-v3")
        env.reset(seed=0)
        env.step(0)
        envs = rlforge.make_vec("CartPole-v1", num_envs=4)
        envs.reset(seed=0)
        envs.step(envs.action_space.sample())
        import numpy as np
        obs = [env.reset(seed=1)[0]]
        for _ in range(3):
            obs.append(env.step(1)[0])
        episode = dict(observations=np.array(obs), actions=np.ones(3, np.int64), rewards=np.ones(3),
                       terminations=np.zeros(3, bool), truncations=np.array([0, 0, 1], bool))
        rlforge.datasets.write(r"{tmp_path / 'ds'}", [episode], "LunarLander-v3")
        assert rlforge.datasets.load(r"{tmp_path / 'ds'}").total_episodes == 1
        print("envs", {LIBTORCH_LOADED})
        assert "ppo" in rlforge.algorithms()
        print("agents", {LIBTORCH_LOADED})
        """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["envs", "False", "agents", "True"]


def test_agents_refuse_a_pytorch_with_another_libtorch_either_order(tmp_path):
    path = fake_torch(tmp_path)
    # PyTorch first: the envs work; the agents' module is refused, not loaded.
    r = run(f"""
        import re, torch, rlforge
        env = rlforge.make("CartPole-v1")
        env.reset(seed=0)
        try:
            rlforge.train("ppo", "CartPole-v1", steps=64, out=r"{tmp_path / 'run'}")
        except ImportError as e:
            print("refused:", e)
        print("loaded", {LIBTORCH_LOADED})
        """, path)
    assert r.returncode == 0, r.stderr
    assert "refused: rlforge's agents run on the libtorch rlforge was built with" in r.stdout
    assert "two libtorch builds crash one process" in r.stdout
    assert str(tmp_path / "torch") in r.stdout
    assert "loaded False" in r.stdout
    # rlforge's agents first: the later `import torch` is refused.
    r = run("""
        import rlforge
        rlforge.algorithms()
        try:
            import torch
        except ImportError as e:
            print("refused:", e)
        """, path)
    assert r.returncode == 0, r.stderr
    assert "refused: rlforge's agents run on the libtorch" in r.stdout


def test_a_pytorch_on_rlforges_own_libtorch_is_welcome(tmp_path):
    path = fake_torch(tmp_path, rlforge._rlforge.torch_library)
    for code in ("import torch, rlforge; print(len(rlforge.algorithms()) > 0)",
                 "import rlforge; rlforge.algorithms(); import torch; print(torch.__version__ == '0.0+fake')"):
        r = run(code, path)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "True"


def test_python_envs_registered_before_the_agents_load_reach_them(tmp_path):
    r = run(f"""
        import gymnasium as gym, rlforge
        env_id = rlforge.register_python_env(lambda: gym.make("CartPole-v1"), name="GymCartPole")
        assert rlforge.make(env_id).reset(seed=0)[0].shape == (4,)
        result = rlforge.train("ppo", env_id, steps=256, config={{"n_steps": 64, "num_envs": 2}},
                               out=r"{tmp_path / 'run'}", progress=False)
        policy = rlforge.load(result["run_dir"])
        print(policy.env_id == env_id, rlforge.blas_core() != "")
        """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[-2:] == ["True", "True"]


def test_both_modules_load_with_rtld_global():
    # Each module exports only PyInit_*: with RTLD_GLOBAL, the agents' module
    # bound to the envs' registry and registered every env twice (abort).
    r = run("""
        import os, sys
        sys.setdlopenflags(os.RTLD_GLOBAL | os.RTLD_NOW)
        import rlforge
        rlforge.make("CartPole-v1").reset(seed=0)
        print("ppo" in rlforge.algorithms(), len(rlforge.env_ids()) > 20)
        """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True"]
