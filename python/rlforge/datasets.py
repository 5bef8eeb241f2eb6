"""Offline datasets in Farama Minari's HDF5 layout, read and written by
rlforge's C++ core (rlforge/data/dataset.h): the same files `rlforge record`
writes and `rlforge train --dataset` reads, and that `minari` opens.

    ds = rlforge.datasets.load("runs/cartpole-expert")
    for ep in ds.iterate_episodes():
        ep["observations"]   # [T + 1, ...]
        ep["actions"]        # [T, ...]
        ep["rewards"], ep["terminations"], ep["truncations"]   # [T]
        ep["infos"]          # {"action_mask": [T + 1, mask]} for envs with masks

    rlforge.datasets.write("out/dir", episodes, env_id="CartPole-v1")
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np
from gymnasium import spaces as gym_spaces

from rlforge import _rlforge
from rlforge.spaces import to_gymnasium


@dataclass
class Dataset:
    """A dataset's metadata and its arrays, episode by episode."""

    dataset_id: str
    env_id: str
    env_kwargs: dict
    algorithm_name: str
    description: str
    ref_min_score: float | None
    ref_max_score: float | None
    observation_space: gym_spaces.Space
    action_space: gym_spaces.Space
    _arrays: dict = field(repr=False)

    @property
    def total_episodes(self) -> int:
        return len(self._arrays["episode_first_step"])

    @property
    def total_steps(self) -> int:
        return len(self._arrays["rewards"])

    def episode(self, i: int) -> dict[str, Any]:
        """Episode i as Minari's EpisodeData fields (numpy views, no copies)."""
        a = self._arrays
        if not 0 <= i < self.total_episodes:
            raise IndexError(f"episode {i} out of range (0..{self.total_episodes - 1})")
        t0 = int(a["episode_first_step"][i])
        t1 = int(a["episode_first_step"][i + 1]) if i + 1 < self.total_episodes else self.total_steps
        r0, r1 = t0 + i, t1 + i + 1  # observation rows: T + 1 per episode
        infos = {} if a["action_masks"] is None else {"action_mask": a["action_masks"][r0:r1]}
        seed = int(a["episode_seed"][i])
        return {"id": i, "seed": None if seed < 0 else seed, "observations": a["observations"][r0:r1],
                "actions": a["actions"][t0:t1], "rewards": a["rewards"][t0:t1],
                "terminations": a["terminations"][t0:t1], "truncations": a["truncations"][t0:t1], "infos": infos}

    def iterate_episodes(self) -> Iterator[dict[str, Any]]:
        for i in range(self.total_episodes):
            yield self.episode(i)

    def normalized_score(self, returns) -> np.ndarray:
        """(returns - ref_min_score) / (ref_max_score - ref_min_score), as minari.get_normalized_score."""
        if self.ref_min_score is None or self.ref_max_score is None:
            raise ValueError(f"dataset {self.dataset_id!r} has no reference scores")
        if not (np.isfinite(self.ref_min_score) and np.isfinite(self.ref_max_score)
                and self.ref_max_score > self.ref_min_score):
            raise ValueError(f"dataset {self.dataset_id!r}: reference scores min {self.ref_min_score}, "
                             f"max {self.ref_max_score} do not normalize (finite, max above min needed)")
        return (np.asarray(returns, dtype=np.float64) - self.ref_min_score) / (self.ref_max_score - self.ref_min_score)


def load(path: str) -> Dataset:
    """Reads the dataset in directory `path` (ValueError naming what is wrong)."""
    a = _rlforge.load_dataset(str(path))
    return Dataset(a["dataset_id"], a["env_id"], dict(a["env_kwargs"]), a["algorithm_name"], a["description"],
                   a["ref_min_score"], a["ref_max_score"], to_gymnasium(a["observation_space"]),
                   to_gymnasium(a["action_space"]), a)


def write(path: str, episodes: Iterable[dict], env_id: str, env_kwargs: dict | None = None, *,
          dataset_id: str = "", algorithm_name: str = "", description: str = "",
          ref_min_score: float | None = None, ref_max_score: float | None = None) -> None:
    """Writes `episodes` (dicts with observations [T + 1, ...], actions [T, ...],
    rewards, terminations, truncations [T], optional seed and
    infos["action_mask"] [T + 1, mask]) of rlforge env `env_id` to directory
    `path` as a Minari dataset."""
    eps = list(episodes)
    if not eps:
        raise ValueError("no episodes to write")
    env = _rlforge.Env(env_id, {k: str(v) for k, v in (env_kwargs or {}).items()})
    obs_space, act_space = env.observation_space, env.action_space
    obs_dtype, act_dtype = np.dtype(obs_space["dtype"]), np.dtype(act_space["dtype"])
    lengths = np.array([len(e["rewards"]) for e in eps], dtype=np.int64)
    obs_shape, act_shape = tuple(obs_space["shape"]), tuple(act_space["shape"])
    for i, (e, n) in enumerate(zip(eps, lengths)):
        o, a = np.asarray(e["observations"]), np.asarray(e["actions"])
        if len(o) != n + 1:
            raise ValueError(f"episode {i}: {len(o)} observations for {n} steps (want T + 1)")
        if len(a) != n:
            raise ValueError(f"episode {i}: {len(a)} actions for {n} steps")
        if o.shape[1:] != obs_shape:
            raise ValueError(f"episode {i}: observations have shape {o.shape[1:]} each; {env_id} has {obs_shape}")
        if a.shape[1:] != act_shape:
            raise ValueError(f"episode {i}: actions have shape {a.shape[1:]} each; {env_id} has {act_shape}")
        if np.issubdtype(act_dtype, np.integer) and not np.issubdtype(a.dtype, np.integer) and a.size:
            whole = np.isfinite(a) & (a == np.floor(a))
            if not whole.all():
                k = int(np.argwhere(~whole.reshape(len(a), -1).all(axis=1))[0][0])
                raise ValueError(f"episode {i}: action {k} is {a[k]!r}; {env_id}'s actions are whole numbers")
    # Seeds and masks are per dataset: every episode has them or none does.
    with_masks = [("action_mask" in (e.get("infos") or {})) for e in eps]
    if any(with_masks) and not all(with_masks):
        raise ValueError(f"episode {with_masks.index(False)} has no infos['action_mask'] while others do: "
                         "give every episode masks or none")
    masks = np.ascontiguousarray(np.concatenate([e["infos"]["action_mask"] for e in eps]), dtype=bool) \
        if all(with_masks) else None
    with_seeds = [e.get("seed") is not None for e in eps]
    if any(with_seeds) and not all(with_seeds):
        raise ValueError(f"episode {with_seeds.index(False)} has no seed while others do: "
                         "give every episode a seed or none")
    seeds = np.array([e["seed"] for e in eps], dtype=np.int64) if all(with_seeds) else None
    try:
        _write_native(path, env_id, env_kwargs, eps, obs_dtype, act_dtype, lengths, masks, seeds, dataset_id,
                      algorithm_name, description, ref_min_score, ref_max_score)
    except ValueError as e:  # the core's message names the CLI's flag
        raise ValueError(str(e).replace("choose another --out", "choose another path")) from None


def _write_native(path, env_id, env_kwargs, eps, obs_dtype, act_dtype, lengths, masks, seeds, dataset_id,
                  algorithm_name, description, ref_min_score, ref_max_score):
    _rlforge.write_dataset(
        str(path), env_id, {k: str(v) for k, v in (env_kwargs or {}).items()},
        np.ascontiguousarray(np.concatenate([e["observations"] for e in eps]), dtype=obs_dtype),
        np.ascontiguousarray(np.concatenate([e["actions"] for e in eps]), dtype=act_dtype),
        np.ascontiguousarray(np.concatenate([e["rewards"] for e in eps]), dtype=np.float64),
        np.ascontiguousarray(np.concatenate([e["terminations"] for e in eps]), dtype=bool),
        np.ascontiguousarray(np.concatenate([e["truncations"] for e in eps]), dtype=bool),
        lengths, masks, seeds, dataset_id, algorithm_name, description, ref_min_score, ref_max_score)
