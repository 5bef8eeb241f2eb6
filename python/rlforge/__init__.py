"""rlforge: deep reinforcement learning with a C++ core.

    import rlforge
    env = rlforge.make("CartPole-v1")                       # a gymnasium.Env
    envs = rlforge.make_vec("CartPole-v1", num_envs=256)    # a gymnasium.vector.VectorEnv
    result = rlforge.train("ppo", "CartPole-v1", steps=100_000, out="runs/ppo")
    policy = rlforge.load("runs/ppo")
    action, _ = policy.predict(obs)

The envs are also registered with Gymnasium as "rlforge/<ID>"
(``gymnasium.make("rlforge/CartPole-v1")``).
"""
from __future__ import annotations

import dataclasses as _dataclasses

import gymnasium as _gym
import numpy as _np

if int(_np.__version__.split(".")[0]) >= 2:
    # The extension is built with Debian 12's pybind11 2.10, which reads numpy
    # 1.x's array structs: with numpy 2 it would see wrong sizes and strides.
    raise ImportError(f"rlforge needs numpy < 2 (found {_np.__version__}): pip install 'numpy<2'")

from rlforge import _native, _rlforge
from rlforge.agents import TrainedPolicy, load, register_python_env, resume, show_config, train
from rlforge.envs import RlforgeAsyncVectorEnv, RlforgeEnv, RlforgeVectorEnv
from rlforge import datasets

__version__ = "0.1.0"


def env_ids() -> list[str]:
    """The IDs of rlforge's envs."""
    return list(_rlforge.env_ids())


def algorithms() -> list[str]:
    """The names of rlforge's agents (rlforge.train's first argument)."""
    return list(_native.train_module().algorithms())


def blas_core() -> str:
    """OpenBLAS's kernel set in use by the agents (set OPENBLAS_CORETYPE before Python starts to change it)."""
    return _native.train_module().blas_core()


def make(id: str, render_mode: str | None = None, **kwargs) -> RlforgeEnv:
    """One rlforge env as a gymnasium.Env (kwargs as `--kwarg`; max_episode_steps too)."""
    env = RlforgeEnv(id, render_mode=render_mode, **kwargs)
    if f"rlforge/{id}" in _gym.registry:  # not the Python envs registered by register_python_env
        spec = _gym.spec(f"rlforge/{id}")
        env.spec = _dataclasses.replace(spec, kwargs={**spec.kwargs, **kwargs})
    return env


def make_vec(id: str, num_envs: int = 1, threads: int = 1, autoreset_mode: str = "next_step", copy: bool = False,
             **kwargs) -> RlforgeVectorEnv:
    """`num_envs` copies of an rlforge env stepped in C++ on `threads` threads;
    arrays returned are views of its buffers unless copy=True."""
    return RlforgeVectorEnv(id, num_envs, threads=threads, autoreset_mode=autoreset_mode, copy=copy, **kwargs)


def make_async(id: str, num_envs: int, batch_size: int | None = None, threads: int = 1,
               **kwargs) -> RlforgeAsyncVectorEnv:
    """EnvPool-style asynchronous envs: send(actions, env_ids) / recv() of the first batch_size done."""
    return RlforgeAsyncVectorEnv(id, num_envs, batch_size=batch_size, threads=threads, **kwargs)


def _register_with_gymnasium() -> None:
    for env_id in _rlforge.env_ids():
        name = f"rlforge/{env_id}"
        if name not in _gym.registry:
            # The C++ env applies its own time limit: Gymnasium adds none (no
            # TimeLimit wrapper hides the env's own methods). The env fills in
            # its spec's max_episode_steps itself (RlforgeEnv.spec).
            # gymnasium.make_vec's default for an env with a vector entry
            # point is that: rlforge's C++ vector env, returning copies as
            # Gymnasium's vector envs do (vectorization_mode="sync" still
            # makes a SyncVectorEnv of single envs).
            _gym.register(id=name, entry_point="rlforge.envs:RlforgeEnv", kwargs={"env_id": env_id},
                          vector_entry_point="rlforge.envs:gymnasium_vector_env",
                          reward_threshold=_rlforge.env_spec(env_id)["reward_threshold"],
                          disable_env_checker=True, order_enforce=False)


_register_with_gymnasium()

__all__ = ["datasets", "make", "make_vec", "make_async", "RlforgeAsyncVectorEnv", "train", "resume", "load", "show_config", "register_python_env", "env_ids", "algorithms", "blas_core", "RlforgeEnv",
           "RlforgeVectorEnv", "TrainedPolicy"]
