"""rlforge's native envs as gymnasium.Env and gymnasium.vector.VectorEnv."""
from __future__ import annotations

import copy
import dataclasses
import secrets

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from rlforge import _rlforge
from rlforge.spaces import as_native, check_int, split_mask, to_gymnasium

RENDER_FPS = 30  # rlforge's own envs
# Gymnasium's metadata["render_fps"] for the envs it has too (RecordVideo
# takes its frame rate from it); the NoVel variants as their base env.
_GYMNASIUM_RENDER_FPS = {"CartPole": 50, "MountainCar": 30, "MountainCarContinuous": 30, "Acrobot": 15,
                         "Pendulum": 30, "FrozenLake": 4, "FrozenLake8x8": 4, "Taxi": 4, "CliffWalking": 4, "Blackjack": 4,
                         "CliffWalkingSlippery": 4, "LunarLander": 50, "LunarLanderContinuous": 50,
                         "BipedalWalker": 50, "BipedalWalkerHardcore": 50, "CarRacing": 50}


# Envs whose Gymnasium observation is a Tuple of Discretes, which rlforge's
# spaces give as MultiDiscrete: a single env shows Gymnasium's Tuple and
# tuples of ints, a vector env Gymnasium's batched Tuple (a tuple of k arrays
# of n ints: views of the columns of the native [n, k] batch).
_TUPLE_OBSERVATIONS = {"Blackjack-v1"}


def _tuple_space(desc: dict) -> gym.spaces.Tuple:
    return gym.spaces.Tuple(tuple(gym.spaces.Discrete(int(n)) for n in desc["nvec"]))


def _render_fps(env_id: str) -> int:
    stem = env_id.rsplit("-v", 1)[0]
    stem = stem[:-len("NoVel")] if stem.endswith("NoVel") else stem
    return _GYMNASIUM_RENDER_FPS.get(stem, RENDER_FPS)

# Autoreset modes by rlforge's names (Gymnasium's AutoresetMode values work too).
AUTORESET = {"next_step": AutoresetMode.NEXT_STEP, "same_step": AutoresetMode.SAME_STEP,
             "disabled": AutoresetMode.DISABLED}
_NATIVE_AUTORESET = {mode: name for name, mode in AUTORESET.items()}


def _autoreset_mode(mode) -> AutoresetMode:
    if isinstance(mode, AutoresetMode):
        return mode
    if mode in AUTORESET:
        return AUTORESET[mode]
    try:
        return AutoresetMode(mode)
    except ValueError:
        raise ValueError(f"unknown autoreset mode {mode!r} (valid: next_step, same_step, disabled)") from None


def _native_kwargs(kwargs: dict) -> dict:
    for key, value in kwargs.items():
        if not isinstance(key, str):
            raise ValueError(f"env kwargs must be named by strings, got {key!r}")
        if not isinstance(value, (str, int, float, bool, np.integer, np.floating)):
            raise ValueError(f"kwarg '{key}': pass a number, bool or string in rlforge's format "
                             f"(`rlforge envs -v` lists them), got {type(value).__name__}")
    return dict(kwargs)


class ResetNeeded(gym.error.ResetNeeded, RuntimeError):
    """Gymnasium's ResetNeeded (what its OrderEnforcing wrapper raises), and a
    RuntimeError as rlforge's other order errors (step before reset)."""


def _mask_query(env, prefix, dim):
    """conditional_action_mask's arguments, checked: after a reset, `dim` and
    exactly dim values before it, as integers."""
    if not env._was_reset:
        raise ResetNeeded(f"{env.env_id}: conditional_action_mask() before reset(); call reset() first")
    dim = check_int("dim", dim, 0, 2**31 - 1)
    prefix = [check_int(f"prefix[{k}]", v, 0, 2**31 - 1) for k, v in enumerate(prefix)]
    if len(prefix) != dim:
        raise ValueError(f"prefix has {len(prefix)} values; dimension {dim} takes the {dim} before it")
    return prefix, dim


def _reset_seed(seed, was_reset: bool, num_envs: int = 1):
    """The seed a reset uses: the caller's, checked (a vector env's env i
    starts from seed + i, which must fit 64 bits too); for the first reset
    without one, one from the OS's entropy, so that it starts somewhere new in
    every process, as Gymnasium's does (later ones continue the env's stream:
    None)."""
    if seed is None:
        return None if was_reset else secrets.randbits(63)
    return check_int("seed", seed, 0, 2**64 - num_envs)


# Gymnasium's reset options of its classic-control envs: the bounds the start
# state is drawn from (uniformly, from the env's np_random), as
# gymnasium.envs.classic_control.utils.maybe_parse_reset_bounds reads them.
_RESET_BOUNDS = {  # env ID: (option names, default bounds)
    "CartPole-v1": (("low", "high"), (-0.05, 0.05)),
    "Acrobot-v1": (("low", "high"), (-0.1, 0.1)),
    "MountainCar-v0": (("low", "high"), (-0.6, -0.4)),
    "MountainCarContinuous-v0": (("low", "high"), (-0.6, -0.4)),
    "Pendulum-v1": (("x_init", "y_init"), (np.pi, 1.0)),
}


def _bound(options: dict, key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
        raise ValueError(f"reset option {key!r} must be a finite number, got {value!r}")
    return float(value)


def _start_state_observation(env_id: str, options: dict, rng: np.random.Generator) -> np.ndarray:
    """The observation of a start state drawn as Gymnasium draws it under `options`."""
    (a, b), (da, db) = _RESET_BOUNDS[env_id]
    unknown = sorted(set(options) - {a, b})
    if unknown:
        raise ValueError(f"unknown reset options {unknown} for {env_id} (it takes {a} and {b})")
    lo, hi = _bound(options, a, da), _bound(options, b, db)
    if env_id == "Pendulum-v1":  # x_init, y_init: theta in [-x, x], its velocity in [-y, y]
        theta, velocity = rng.uniform(low=[-lo, -hi], high=[lo, hi])
        return np.array([np.cos(theta), np.sin(theta), velocity], dtype=np.float32)
    if lo > hi:
        raise ValueError(f"reset option low ({lo}) must not exceed high ({hi})")
    if env_id == "CartPole-v1":
        return rng.uniform(low=lo, high=hi, size=(4,)).astype(np.float32)
    if env_id == "Acrobot-v1":
        t1, t2, d1, d2 = rng.uniform(low=lo, high=hi, size=(4,))
        return np.array([np.cos(t1), np.sin(t1), np.cos(t2), np.sin(t2), d1, d2], dtype=np.float32)
    return np.array([rng.uniform(low=lo, high=hi), 0.0], dtype=np.float32)  # the MountainCars: position, at rest


def _render_modes(env_id: str, kwargs: dict) -> list[str]:
    """ansi always; rgb_array where the env draws images."""
    probe = _rlforge.Env(env_id, kwargs)
    probe.reset(0)
    modes = ["ansi"] + (["rgb_array"] if probe.render_rgb() is not None else [])
    probe.close()
    return modes


def _closed_native(env_id: str, kwargs: dict):
    """A closed native env (what a copy of a closed env holds)."""
    native = _rlforge.Env(env_id, kwargs)
    native.close()
    return native


class RlforgeEnv(gym.Env):
    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": RENDER_FPS}  # per env: see __init__

    """One rlforge env behind Gymnasium's API.

    Observations, rewards, flags and infos are those of the C++ env (its
    TimeLimit included, so `truncated` comes from the env itself). Envs with an
    action mask put it in ``info["action_mask"]`` as int8 (for MultiDiscrete,
    a tuple of one array per dimension), ready for
    ``env.action_space.sample(mask=info["action_mask"])``.

    Two-player board games (TicTacToe-v0, ConnectFour-v0) keep the single-agent
    API by alternation: each ``step`` plays the move of the player to move
    (``info["current_player"]``, 0 or 1, also on reset), the observation is
    from that next player's view, the reward is the mover's (1 for a winning
    move), and ``info["winner"]`` says who won at the end (-1 for a draw).
    """

    def __init__(self, env_id: str, render_mode: str | None = None, **kwargs: Any):
        kwargs = _native_kwargs(kwargs)
        self._native = _rlforge.Env(env_id, kwargs)
        self.env_id = env_id
        self.env_kwargs = kwargs
        self.observation_space = to_gymnasium(self._native.observation_space)
        self.action_space = to_gymnasium(self._native.action_space)
        self._obs_desc = self._native.observation_space
        self._tuple_obs = env_id in _TUPLE_OBSERVATIONS
        if self._tuple_obs:
            self.observation_space = _tuple_space(self._obs_desc)
        self._act_desc = self._native.action_space
        modes = _render_modes(env_id, kwargs)
        self.metadata = {"render_modes": modes, "render_fps": _render_fps(env_id)}
        if render_mode is not None and render_mode not in modes:
            raise ValueError(f"{env_id} renders {', '.join(modes)}; render_mode {render_mode!r} is not one of them")
        self.render_mode = render_mode
        self._two_players = self._native.num_players > 1
        self._was_reset = False
        self.spec = None

    @property
    def max_episode_steps(self) -> int | None:
        return self._native.max_episode_steps

    @property
    def spec(self):
        """The Gymnasium EnvSpec (set by gymnasium.make and rlforge.make), its
        max_episode_steps the limit this env applies itself (kwargs included),
        as Gymnasium's own specs say theirs."""
        return self._spec

    @spec.setter
    def spec(self, value) -> None:
        if value is not None and value.max_episode_steps != self.max_episode_steps:
            value = dataclasses.replace(value, max_episode_steps=self.max_episode_steps)
        self._spec = value

    def _obs(self, obs: np.ndarray):
        if self._tuple_obs:
            return tuple(int(x) for x in obs)
        if self._obs_desc["kind"] != "Discrete":
            return obs
        self._state_index = int(obs)  # a toy-text env's state (the property s)
        return self._state_index

    def _info(self, info: dict, ended: bool = False) -> dict:
        if self._native.has_action_mask:
            info["action_mask"] = split_mask(self._native.action_mask().view(np.int8), self._act_desc)
        if self._two_players and not ended:  # nobody is to move once the game is over
            info["current_player"] = self._native.current_player
        return info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Gymnasium's reset. Options: the classic-control envs' start-state
        bounds (CartPole-v1, Acrobot-v1 and the MountainCars: low, high;
        Pendulum-v1: x_init, y_init); other options, and options for other
        envs, are refused."""
        seed = _reset_seed(seed, self._was_reset)
        options = dict(options or {})
        if options and self.env_id not in _RESET_BOUNDS:
            raise ValueError(f"{self.env_id}'s reset takes no options, got {sorted(options)}"
                             + (" (Gymnasium's classic-control envs take start-state bounds: "
                                + ", ".join(_RESET_BOUNDS) + ")"))
        super().reset(seed=seed)
        start = _start_state_observation(self.env_id, options, self.np_random) if options else None
        obs, info = self._native.reset(seed)
        self._was_reset = True
        if start is not None:
            self.set_state_from_observation(start)
            obs = start
        return self._obs(obs), self._info(info)

    def step(self, action):
        a = as_native(action, self._act_desc, None, "the action")
        obs, reward, terminated, truncated, info = self._native.step(a)
        return (self._obs(obs), float(reward), bool(terminated), bool(truncated),
                self._info(info, ended=terminated or truncated))

    # Gymnasium's envs keep their state in attributes that code sets directly
    # (FrozenLake's `s`, CartPole's `state`); here the state lives in C++. A
    # toy-text env's `s` is a property that reads and sets it there (the
    # observation is the state; wrappers' get/set_wrapper_attr reach it); the
    # others would change nothing, and assigning them is refused.
    _CPP_STATE = ("state", "lastaction", "lander", "hull")

    def __setattr__(self, name, value):
        if name in RlforgeEnv._CPP_STATE or (name == "s" and self._obs_desc["kind"] != "Discrete"):
            raise AttributeError(f"{self.env_id} keeps its state in C++: assigning .{name} would change nothing; "
                                 "env.unwrapped.set_state_from_observation(obs) puts it in the state an observation "
                                 "shows (toy text: the state index; classic control: the observation)")
        super().__setattr__(name, value)

    @property
    def s(self) -> int:
        """A toy-text env's state (Gymnasium's ``env.unwrapped.s``): the last
        observation; setting it continues the episode from that state."""
        if self._obs_desc["kind"] != "Discrete" or not self._was_reset:
            raise AttributeError(f"{self.env_id} has no state index s" + ("" if self._was_reset else " before reset()"))
        return self._state_index

    @s.setter
    def s(self, value) -> None:
        self.set_state_from_observation(value)

    def set_state_from_observation(self, observation) -> None:
        """Puts the env in the state `observation` shows and continues the
        episode from there (classic control, toy text: Gymnasium's
        ``env.unwrapped.s = obs``, board games), e.g. to replay a reference
        implementation's trajectory; ValueError where the env cannot."""
        if not self._was_reset:
            raise ResetNeeded(f"{self.env_id}: set_state_from_observation() before reset(); call reset() first")
        obs = as_native(observation, self._obs_desc, None, "the observation")
        if not self._native.set_from_observation(obs):
            raise ValueError(f"{self.env_id} cannot be set from an observation")
        if self._obs_desc["kind"] == "Discrete":
            self._state_index = int(obs.reshape(-1)[0])

    @property
    def P(self) -> dict | None:
        """The transition table of a toy-text env, as Gymnasium's ``env.unwrapped.P``:
        {state: {action: [(prob, next_state, reward, terminated), ...]}}; None for others."""
        table = self._native.transition_table()
        return None if table is None else table[0]

    @property
    def initial_state_distribution(self) -> np.ndarray | None:
        table = self._native.transition_table()
        return None if table is None else np.asarray(table[1])

    def action_mask(self) -> np.ndarray:
        """The current observation's mask, flat int8 (one block per MultiDiscrete dimension)."""
        return self._native.action_mask().view(np.int8)

    @property
    def has_conditional_action_mask(self) -> bool:
        """Whether a MultiDiscrete dimension's legal values depend on the earlier
        ones (TowerDefense-v0: which unit, then where it may go)."""
        return self._native.has_conditional_action_mask

    def conditional_action_mask(self, prefix, dim: int) -> np.ndarray:
        """The legal values (int8) of dimension `dim` once dimensions 0..dim-1
        take the values `prefix` (exactly dim of them)."""
        prefix, dim = _mask_query(self, prefix, dim)
        return self._native.conditional_action_mask(prefix, dim).view(np.int8)

    def render(self):
        if self.render_mode is None:
            gym.logger.warn(f"{self.env_id}: render() without a render_mode (make it with render_mode='ansi' or 'rgb_array')")
            return None
        if not self._was_reset:  # as Gymnasium's OrderEnforcing: there is no state to draw yet
            raise ResetNeeded(f"{self.env_id}: render() before reset(); call reset() first")
        if self.render_mode == "ansi":
            return self._native.render_text()
        return self._native.render_rgb()

    def close(self):
        self._native.close()

    # -- copies ----------------------------------------------------------------------------

    def __deepcopy__(self, memo):
        """An independent env in the same state, its RNG included: both then
        step alike (as a deep copy of a Gymnasium env does), e.g. to plan by
        looking ahead."""
        copy_ = self.__class__.__new__(self.__class__)
        memo[id(self)] = copy_
        for key, value in self.__dict__.items():
            if key == "_native":
                value = _closed_native(self.env_id, self.env_kwargs) if value.closed else value.clone()
            else:
                value = copy.deepcopy(value, memo)
            copy_.__dict__[key] = value
        return copy_

    def __getstate__(self):
        """Pickling keeps the env's ID, kwargs and full state (RNG included):
        an unpickled env continues exactly where this one was."""
        state = self.__dict__.copy()
        if self._native.closed:
            state["_native"] = None
        else:
            try:
                state["_native"] = self._native.save_state()
            except RuntimeError as e:  # an env that cannot save its state
                raise TypeError(f"cannot pickle {self.env_id}: {e}") from None
            if not state["_native"]:  # a Python env's: it would unpickle as a fresh env
                raise TypeError(f"cannot pickle {self.env_id}: a Python env's state cannot be saved")
        return state

    def __setstate__(self, state):
        blob = state.pop("_native")
        if blob is None:
            native = _closed_native(state["env_id"], state["env_kwargs"])
        else:
            native = _rlforge.Env(state["env_id"], state["env_kwargs"])
            try:
                native.load_state(blob)
            except RuntimeError as e:
                raise ValueError(f"cannot unpickle {state['env_id']}: {e}") from None
        self.__dict__.update(state)
        self._native = native


class RlforgeVectorEnv(gym.vector.VectorEnv):
    """N copies of an rlforge env stepped in C++ (optionally on threads).

    Observations, rewards and flags are numpy views of the C++ batch buffers:
    no copy. A view stays valid as long as it is held (it keeps the vector env
    alive) but is overwritten by the next ``step``/``reset``: copy what you
    keep. Infos follow Gymnasium's layout (``info[key]`` and the mask
    ``info["_" + key]``); masked envs put ``action_mask`` ([N, mask] int8, a
    view too) in them. All three of Gymnasium's autoreset modes:
    ``next_step`` (Gymnasium's default), ``same_step`` (``final_obs`` and
    ``final_info`` in the infos) and ``disabled`` (reset ended envs with
    ``reset(options={"reset_mask": mask})``). With ``copy=True`` every array
    returned is a copy of its own instead (Gymnasium's vector envs' default;
    ``gymnasium.make_vec("rlforge/<ID>", n)`` makes this env so).
    """

    def __init__(self, env_id: str, num_envs: int, threads: int = 1, autoreset_mode: str | AutoresetMode = "next_step",
                 render_mode: str | None = None, copy: bool = False, **kwargs: Any):
        kwargs = _native_kwargs(kwargs)
        mode = _autoreset_mode(autoreset_mode)
        num_envs = check_int("num_envs", num_envs, 1, 65536)
        threads = check_int("threads", threads, 1, 1024)
        self._native = _rlforge.VectorEnv(env_id, kwargs, int(num_envs), int(threads), _NATIVE_AUTORESET[mode])
        self.env_id = env_id
        self.num_envs = int(num_envs)
        self.autoreset_mode = mode
        self._obs_desc = self._native.single_observation_space
        self._act_desc = self._native.single_action_space
        self._tuple_obs = env_id in _TUPLE_OBSERVATIONS
        self.single_observation_space = (_tuple_space(self._obs_desc) if self._tuple_obs
                                         else to_gymnasium(self._obs_desc))
        self.single_action_space = to_gymnasium(self._act_desc)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"autoreset_mode": mode, "render_modes": [], "render_fps": _render_fps(env_id)}
        if render_mode is not None:
            raise ValueError("a vector env does not render; make one env with rlforge.make(..., render_mode=...)")
        self.render_mode = None
        self._views = self._native.views()
        self._was_reset = False
        self._masked = "action_masks" in self._views
        self._two_players = self._native.num_players > 1
        if not isinstance(copy, (bool, np.bool_)):
            raise ValueError(f"copy must be True or False, got {copy!r}")
        self.copy = bool(copy)

    # -- Gymnasium's API -----------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)} (rlforge's vector env takes reset_mask)")
        if isinstance(seed, (list, tuple)):
            raise ValueError("rlforge's vector env takes one int seed (env i gets seed + i), not a list")
        seed = _reset_seed(seed, self._was_reset, self.num_envs)  # env i then starts from seed + i, as Gymnasium's do
        if seed is not None:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)
        self._was_reset = True
        if mask is not None:
            mask = np.asarray(mask)
            if mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
                raise ValueError(f"reset_mask must be a bool array of shape ({self.num_envs},), "
                                 f"got {mask.dtype} {mask.shape}")
            self._native.reset(seed, mask.view(np.uint8))
            infos = self._infos(final_step=False, only=mask)
        else:
            self._native.reset(seed, None)
            infos = self._infos(final_step=False)
        return self._out((self._observations(), infos))

    def step(self, actions):
        a = as_native(actions, self._act_desc, self.num_envs, "actions")
        self._native.step(a)
        v = self._views
        infos = self._infos(final_step=False)
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            ended = v["ended"]
            if ended.any():
                final_obs = np.full(self.num_envs, None, dtype=object)
                idx = np.flatnonzero(ended)
                rows = v["final_observations"][idx]  # one copy of the ended rows
                if self._obs_desc["kind"] == "Discrete":
                    rows = rows.tolist()
                elif self._tuple_obs:  # a single env's observation: a tuple of ints
                    rows = [tuple(r) for r in rows.tolist()]
                for j, i in enumerate(idx):
                    final_obs[i] = rows[j]
                infos["final_obs"], infos["_final_obs"] = final_obs, ended.copy()
                final_info = self._infos(final_step=True, only=ended, final_masks=True)
                infos["final_info"], infos["_final_info"] = final_info, ended.copy()
        return self._out((self._observations(), v["rewards"], v["terminated"], v["truncated"], infos))

    def close_extras(self, **kwargs):
        self._native.close()

    # -- helpers ----------------------------------------------------------------------

    def _out(self, result: tuple) -> tuple:
        """What reset/step return: the buffers' views, or (copy=True) copies."""
        if not self.copy:
            return result

        def copied(x):
            if isinstance(x, np.ndarray):
                return x.copy()
            if isinstance(x, dict):
                return {k: copied(v) for k, v in x.items()}
            if isinstance(x, tuple):
                return tuple(copied(v) for v in x)
            return x
        return copied(result)

    def _observations(self):
        obs = self._views["observations"]
        if self._tuple_obs:
            return tuple(obs[:, k] for k in range(obs.shape[1]))
        return obs

    def _infos(self, final_step: bool, only: np.ndarray | None = None, final_masks: bool = False) -> dict:
        infos = {}
        for key, (values, present) in self._native.infos(final_step).items():
            if only is not None:
                present = present & only
                if not present.any():
                    continue
                values = np.where(present, values, 0.0)
            infos[key], infos["_" + key] = values, present
        every = np.ones(self.num_envs, dtype=np.bool_) if only is None else only
        if self._two_players and not final_masks:
            # Nobody is to move in a game that just ended (and was not reset at once).
            present = every.copy()
            if self.autoreset_mode != AutoresetMode.SAME_STEP and only is None:
                present &= ~self._views["ended"]
            if present.any():
                infos["current_player"] = np.where(present, self._native.current_players(), 0)
                infos["_current_player"] = present
        if self._masked:
            mask = self._views["final_action_masks" if final_masks else "action_masks"]
            if only is not None:
                mask = np.where(only[:, None], mask, 0).astype(np.int8)
            infos["action_mask"], infos["_action_mask"] = split_mask(mask, self._act_desc), every.copy()
        return infos

    def __getattr__(self, name):
        # Only reached for names the env does not have: say why for the sub-env
        # methods of Gymnasium's Sync/AsyncVectorEnv (still an AttributeError).
        if name in ("call", "get_attr", "set_attr"):
            raise AttributeError(f"rlforge's C++ vector env has no Python sub-envs to {name}: make a SyncVectorEnv "
                                 f"of single envs for that (gymnasium.make_vec(..., vectorization_mode='sync'))")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def episode_statistics(self):
        """Return and length of the episode each env ended on the last step (float64[N], int64[N])."""
        return self._native.episode_stats()

    @property
    def has_conditional_action_mask(self) -> bool:
        """Whether a MultiDiscrete dimension's legal values depend on the earlier
        ones (TowerDefense-v0: which unit, then where it may go)."""
        return self._native.has_conditional_action_mask

    def conditional_action_mask(self, index: int, prefix, dim: int) -> np.ndarray:
        """The legal values (int8) of dimension `dim` of env `index` once
        dimensions 0..dim-1 take the values `prefix` (exactly dim of them)."""
        prefix, dim = _mask_query(self, prefix, dim)
        index = check_int("index", index, 0, self.num_envs - 1)
        return self._native.conditional_action_mask(index, prefix, dim).view(np.int8)


def gymnasium_vector_env(num_envs: int, env_id: str, copy: bool = True, **kwargs: Any) -> RlforgeVectorEnv:
    """gymnasium.make_vec's vector entry point for "rlforge/<ID>": the C++
    vector env, returning copies (as Gymnasium's vector envs do by default)."""
    return RlforgeVectorEnv(env_id, num_envs, copy=copy, **kwargs)


class RlforgeAsyncVectorEnv:
    """EnvPool-style asynchronous stepping of `num_envs` envs on `threads` threads.

        envs = rlforge.make_async("CartPole-v1", num_envs=16, batch_size=8, threads=2)
        envs.async_reset(seed=0)
        while True:
            obs, rewards, terminated, truncated, info = envs.recv()  # the first batch_size envs done
            envs.send(policy(obs), info["env_id"])

    `recv` returns the batch_size envs that finished first (after a reset,
    every env is ready); arrays are views of the C++ batch buffers, overwritten
    by the next recv. Autoreset is same-step: where an episode ended,
    ``info["final_obs"]`` (masked by ``info["_final_obs"]``) holds its last
    observation and the observation row is the next episode's first. An env
    must be received before it is sent again; misuse raises instead of
    waiting forever.
    """

    def __init__(self, env_id: str, num_envs: int, batch_size: int | None = None, threads: int = 1, **kwargs: Any):
        kwargs = _native_kwargs(kwargs)
        batch_size = num_envs if batch_size is None else batch_size
        num_envs = check_int("num_envs", num_envs, 1, 65536)
        batch_size = check_int("batch_size", batch_size, 1, num_envs)
        threads = check_int("threads", threads, 1, 1024)
        self._native = _rlforge.AsyncVectorEnv(env_id, kwargs, int(num_envs), int(threads), int(batch_size))
        self.env_id, self.num_envs, self.batch_size = env_id, int(num_envs), int(batch_size)
        self._act_desc = self._native.single_action_space
        self.single_observation_space = to_gymnasium(self._native.single_observation_space)
        self.single_action_space = to_gymnasium(self._act_desc)
        self._views = self._native.views()
        self._was_reset = False

    def _open(self):
        if self._native is None:
            raise RuntimeError("the async vector env is closed")
        return self._native

    def async_reset(self, seed: int | None = None) -> None:
        seed = _reset_seed(seed, self._was_reset, self.num_envs)  # as make_vec's: not one stream in every process
        self._open().reset(seed)
        self._was_reset = True

    def reset(self, seed: int | None = None):
        """async_reset, then the first batch."""
        self.async_reset(seed)
        obs, _, _, _, info = self.recv()
        return obs, info

    def send(self, actions, env_ids) -> None:
        native = self._open()
        ids = np.asarray(env_ids).reshape(-1)
        if ids.size and ids.dtype.kind not in "iu":
            raise ValueError(f"env_ids must be integers, got {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_envs):
            raise ValueError(f"env_ids must be in [0, {self.num_envs}), got {ids.tolist()}")
        ids = np.ascontiguousarray(ids, dtype=np.int32)
        native.send(as_native(actions, self._act_desc, ids.size, "actions"), ids)

    def recv(self):
        self._open().recv()
        v = self._views
        ended = v["terminated"] | v["truncated"]
        info = {"env_id": v["env_ids"]}
        if ended.any():
            info["final_obs"], info["_final_obs"] = v["final_observations"], ended
        if "action_masks" in v:
            info["action_mask"] = split_mask(v["action_masks"], self._act_desc)
        return v["observations"], v["rewards"], v["terminated"], v["truncated"], info

    def step(self, actions, env_ids=None):
        """send + recv (all envs of the last batch by default)."""
        self.send(actions, self._views["env_ids"].copy() if env_ids is None else env_ids)
        return self.recv()

    def close(self) -> None:
        """Stops the worker threads (when the arrays recv returned are gone too)."""
        self._native = None
        self._views = None
