"""Training with rlforge's runner, and trained policies, from Python."""
from __future__ import annotations

import copy
import itertools
import json
import os
import re
import signal
import sys
import time
from typing import Any

import gymnasium as gym
import numpy as np

from rlforge import _native, _rlforge
from rlforge.spaces import as_native, check_int, to_gymnasium


def _config_value(v):
    """numpy values as the Python values they print as (np.float32(3e-4) is
    3e-4, not 0.000300000014...), paths as text; anything else is refused."""
    if isinstance(v, np.floating):
        return float(str(v))
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return [_config_value(x) if isinstance(x, np.generic) else x for x in v.tolist()]
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    raise TypeError(f"Object of type {type(v).__name__} is not a config value")


def _sets(config: dict | None) -> list[str]:
    """Config keys as `--set key=value` lines (JSON is YAML's flow syntax)."""
    if config is not None and not isinstance(config, dict):
        raise ValueError(f"config must be a dict of config keys, got {type(config).__name__}")
    out = []
    for key, value in (config or {}).items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_]+", key):
            raise ValueError(f"config keys are names like learning_rate, got {key!r}")
        try:
            text = json.dumps(value, allow_nan=False, default=_config_value)
        except ValueError as e:
            if "Out of range float" in str(e):  # json's words for NaN and Inf
                raise ValueError(f"config key '{key}' must be a finite number, got {value!r}") from None
            raise ValueError(f"config key '{key}': {e}") from None
        except TypeError as e:
            raise ValueError(f"config key '{key}': {e}") from None
        out.append(f"{key}={text}")
    return out


def _int_or_none(name: str, value, low: int = 0) -> int | None:
    return None if value is None else check_int(name, value, low, 2**63 - 1)


# The runner's messages name the command line's flags; from Python they name
# the arguments and functions that do the same (most specific first). A flag
# is only a flag where it starts a word (paths such as 'runs/a--env' stay).
_FLAG = r"(?<![\w./-])--"
_CLI_WORDING = [
    (re.compile(_FLAG + r"set \(use --(\w+)\)"), r"config (pass \1=)"),
    (re.compile(r"cannot be changed with config"), "cannot be set in config"),
    (re.compile(r"choose another --out or use --resume"), "choose another out= or continue the run with rlforge.resume()"),
    (re.compile(r"train --dataset DIR"), "config['dataset']"),
    (re.compile(_FLAG + r"(steps|seed) (\d+|N)\b"), r"\1=\2"),
    (re.compile(_FLAG + r"(steps|seed|out|env|preset)\b"), r"\1="),
    (re.compile(_FLAG + r"init-from\b"), "config['init_from']"),
    (re.compile(_FLAG + r"dataset\b"), "config['dataset']"),
    (re.compile(_FLAG + r"set\b"), "config"),
]


def _python_wording(message: str, run_dir: str | None = None) -> str:
    if "rlforge launch" in message:  # a job's command lines stay command lines
        return message
    resume = None
    if run_dir is not None:  # the run's own resume command, with its path as given (spaces and all)
        resume = f"rlforge.resume({run_dir!r})"
        message = message.replace(f"rlforge train --resume {run_dir}", "\0")
    for pattern, replacement in _CLI_WORDING:
        message = pattern.sub(replacement, message)
    return message if resume is None else message.replace("\0", resume)


def _runner_call(fn, *args, run_dir: str | None = None):
    """Calls the native runner; its errors name Python's arguments, not CLI flags."""
    try:
        return fn(*args)
    except (ValueError, RuntimeError, KeyboardInterrupt) as e:
        if e.args and isinstance(e.args[0], str):
            worded = _python_wording(e.args[0], run_dir)
            if worded != e.args[0]:
                e.args = (worded, *e.args[1:])
            # SIGTERM ends the process as it would have without rlforge (exit
            # status 143), once the checkpoint is saved and the way on said.
            if isinstance(e, KeyboardInterrupt) and e.args[0].startswith("interrupted by SIGTERM"):
                print(e.args[0], file=sys.stderr, flush=True)
                raise SystemExit(128 + signal.SIGTERM) from e
        raise


_python_env_numbers = itertools.count()


def register_python_env(make_env, name: str | None = None) -> str:
    """Registers a function that makes a gymnasium.Env as an rlforge env and
    returns its ID ("python/<Name>-v<k>"). rlforge's vector envs then step it
    from C++ through the GIL (one call per env step)."""
    if isinstance(make_env, gym.Env):
        # One instance: each vector-env slot gets its own copy.
        instance = make_env
        name = name or type(instance.unwrapped).__name__
        make_env = lambda: copy.deepcopy(instance)  # noqa: E731
    if not callable(make_env):
        raise ValueError("env must be an env ID, a gymnasium.Env, or a function that makes one "
                         "(rlforge makes one per vector-env slot)")
    if name is None:
        name = getattr(make_env, "__name__", "PythonEnv")
    name = re.sub(r"[^A-Za-z0-9_]", "_", name) or "PythonEnv"
    env_id = f"python/{name}-v{next(_python_env_numbers)}"
    _native.register_python_env(env_id, make_env)
    return env_id


def _with_dataset_env(env, config: dict | None):
    """The env argument for the native runner: with config["dataset"] and no
    env, "" (the runner then takes the dataset's env and the kwargs it was
    recorded with, as `rlforge train --dataset` does)."""
    if config is not None and not isinstance(config, dict):
        raise ValueError(f"config must be a dict of config keys, got {type(config).__name__}")
    dataset = (config or {}).get("dataset")
    if not dataset and env is None:  # as `rlforge train` without --env: nothing is assumed
        raise ValueError("env is required: an rlforge env ID or a function that makes a gymnasium.Env "
                         "(an offline agent takes it from config['dataset'])")
    return ("" if env is None else env), config


def _native_env_instance(env, config: dict | None):
    """An rlforge env instance (rlforge.make, gymnasium.make("rlforge/...")) trains
    as its ID and kwargs: the runner makes the native envs itself."""
    from rlforge.envs import RlforgeEnv

    if not isinstance(env, gym.Env) or not isinstance(env.unwrapped, RlforgeEnv):
        return env, config
    if env is not env.unwrapped:
        raise ValueError(f"a wrapped rlforge env ({env}) cannot train: the runner steps rlforge's envs in C++, "
                         f"without Python wrappers; pass env={env.unwrapped.env_id!r} (kwargs in "
                         "config['env_kwargs']), or a function that makes the wrapped env")
    config = dict(config or {})
    kwargs = dict(env.env_kwargs)
    if kwargs and "env_kwargs" in config and dict(config["env_kwargs"]) != kwargs:
        raise ValueError(f"the env instance was made with kwargs {kwargs} and config['env_kwargs'] says "
                         f"{config['env_kwargs']}: give them once")
    if kwargs:
        config["env_kwargs"] = kwargs
    return env.env_id, config


def train(algo: str, env=None, config: dict | None = None, steps: int | None = None,
          seed: int | None = None, out: str | None = None, preset: str = "", progress: bool = False) -> dict:
    """Trains `algo` on `env` with the same runner as `rlforge train` and
    returns {run_dir, timesteps, seconds, eval_mean_return, ...}.

    `env` is an rlforge env ID, or a function that makes a gymnasium.Env (your
    own env, stepped from C++ through the GIL; its run directory then names it
    "python/<function name>-v<k>", which exists only in this process). Without
    it, an offline agent's `config["dataset"]` gives the env (with the kwargs
    the data was recorded with, as `rlforge train --dataset`); otherwise it
    is required.

    The config resolves as on the command line: the algorithm's defaults, its
    preset for the env (configs/<algo>.yaml), then `config` (dict of config
    keys), `steps` and `seed`. The run directory (`out`, by default
    runs/<algo>-<env>-s<seed>-<time>) gets config.yaml, progress.csv,
    TensorBoard events, checkpoints and eval.json; `resume(out)` continues it.
    """
    steps, seed = _int_or_none("steps", steps, 1), _int_or_none("seed", seed)
    env, config = _with_dataset_env(env, config)
    env, config = _native_env_instance(env, config)
    if not isinstance(env, str):
        env = register_python_env(env)
    if out is None:
        out = os.path.join("runs", f"{algo}-{env}-s{seed or 0}-{time.strftime('%Y%m%d-%H%M%S')}")
    return _runner_call(_native.train_module().train, algo, env, _sets(config), steps, seed, str(out), preset, progress,
                        run_dir=str(out))


def resume(run_dir: str, steps: int | None = None, progress: bool = False) -> dict:
    """Continues a run from its newest checkpoint that loads (as `rlforge train --resume`)."""
    return _runner_call(_native.train_module().resume, str(run_dir), _int_or_none("steps", steps, 1), progress,
                        run_dir=str(run_dir))


def show_config(algo: str, env: str | None = None, config: dict | None = None, steps: int | None = None,
                seed: int | None = None, preset: str = "") -> str:
    """The resolved config as YAML (as `rlforge train --show-config`); `env`
    as in `train` (an env ID here)."""
    env, config = _with_dataset_env(env, config)
    if not isinstance(env, str):
        raise ValueError(f"env must be an rlforge env ID here, got {type(env).__name__}")
    return _runner_call(_native.train_module().show_config, algo, env, _sets(config), _int_or_none("steps", steps, 1),
                        _int_or_none("seed", seed), preset)


class TrainedPolicy:
    """A trained agent's policy, loaded from a run directory or checkpoint.

    `predict` follows Stable-Baselines3's signature and returns the actions
    rlforge's own evaluation takes (deterministic: greedy / the mode).
    """

    def __init__(self, path: str):
        self._path = str(path)
        self._native = _native.train_module().Policy(str(path))
        self._obs_desc = self._native.observation_space
        self._act_desc = self._native.action_space
        self.observation_space = to_gymnasium(self._obs_desc)
        self.action_space = to_gymnasium(self._act_desc)
        self.algo = self._native.algo
        self.env_id = self._native.env_id
        self.env_kwargs = dict(self._native.env_kwargs)
        self.num_timesteps = self._native.timesteps
        self._has_conditional: bool | None = None
        self._warned_conditional = False

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = True, mask=None,
                env=None):
        """(actions, None) for one observation or a batch of them; `mask` is
        the env's action mask (flat, or a tuple of per-dimension masks). For
        an env whose Gymnasium observation is a Tuple (Blackjack-v1), a tuple
        of 1-D arrays is its vector env's batched Tuple (one array per
        component, a batch); give rows as a list or an array.

        Envs whose action dimensions restrict each other (TowerDefense-v0:
        which unit, then where it may stand) need `env=` (the rlforge env the
        observation came from): the action is then chosen dimension by
        dimension under the env's conditional masks, as rlforge's evaluation
        does. Without it only the flat masks apply, and the action may be
        illegal (a warning says so once).

        Recurrent policies (recurrent-ppo) keep their state inside the policy,
        one per row of the batch: pass `episode_start` (one bool per row, as
        SB3's RecurrentPPO takes it) to zero the rows whose episodes begin.
        `state` must be None for them (None is returned in its place), and a
        change of batch size or of `deterministic` needs every row to start
        (ValueError otherwise: it would continue from another state)."""
        from rlforge.envs import _TUPLE_OBSERVATIONS

        if (isinstance(observation, tuple) and self.env_id in _TUPLE_OBSERVATIONS
                and len(observation) == len(self._obs_desc["nvec"])
                and all(isinstance(x, np.ndarray) and x.ndim == 1 for x in observation)):
            # Gymnasium's batched Tuple (a vector env of Blackjack-v1): one array per component.
            if len({x.shape for x in observation}) != 1:
                raise ValueError("a batched Tuple observation's arrays must have one length, got "
                                 f"{[x.shape[0] for x in observation]}")
            obs = np.stack(observation, axis=-1)
        else:
            obs = np.asarray(observation)
        single_shape = tuple(self._obs_desc["shape"])
        single = obs.shape == single_shape
        if not single and obs.shape[1:] != single_shape:
            raise ValueError(f"observation must have shape {single_shape} or (n, *{single_shape}), got {obs.shape}")
        n = 1 if single else obs.shape[0]
        native_obs = as_native(obs.reshape((n, *single_shape)), self._obs_desc, n, "observation")
        native_mask = None
        if mask is not None:
            if isinstance(mask, tuple):
                mask = np.concatenate([np.asarray(m) for m in mask], axis=-1)
            mask = np.asarray(mask)
            if mask.dtype.kind not in "biuf" or (mask.dtype.kind == "f" and not np.isin(mask, (0, 1)).all()):
                raise ValueError(f"mask must be bools or 0/1 numbers, got {mask.dtype}")
            if mask.size == 0 or mask.size % n:
                raise ValueError(f"mask must have one row per observation ({n}), got shape {mask.shape}")
            native_mask = np.ascontiguousarray(mask.reshape(n, -1), dtype=np.uint8)
        if env is not None:  # it was taken for anything (a string, another env, one never reset)
            from rlforge.envs import RlforgeEnv

            inner = getattr(env, "unwrapped", None)
            if not isinstance(inner, RlforgeEnv):
                raise ValueError(f"env must be the rlforge env the observation comes from (rlforge.make("
                                 f"{self.env_id!r}, ...)), got {type(env).__name__}")
            if inner.env_id != self.env_id:
                raise ValueError(f"env is {inner.env_id}; the policy was trained on {self.env_id}")
            # The native spaces (Blackjack-v1's single env shows its MultiDiscrete as Gymnasium's Tuple).
            for what, theirs, ours in (("actions", to_gymnasium(inner._act_desc), self.action_space),
                                       ("observations", to_gymnasium(inner._obs_desc), self.observation_space)):
                if theirs != ours:  # other kwargs (TowerDefense's flat_actions, pixels)
                    raise ValueError(f"env has {what} {theirs}; the policy was trained with {ours} "
                                     f"(its env_kwargs: {self.env_kwargs})")
        conditional = env is not None and getattr(env.unwrapped, "has_conditional_action_mask", False)
        if env is None and self._conditional_env() and not self._warned_conditional:
            _native.warn_outside(f"{self.env_id} restricts each action dimension given the earlier ones; predict "
                                 "without env= applies only the flat masks and may choose an illegal action (pass env=)",
                                 UserWarning)
            self._warned_conditional = True  # once given (under an "error" filter it raised, and raises again)
        if conditional and not single:
            raise ValueError("predict(env=...) follows one env's conditional masks: give one observation")
        if state is not None and self._native.recurrent:
            raise ValueError("rlforge keeps a recurrent policy's state inside the policy: pass state=None "
                             "and episode_start to say where episodes begin")
        starts = None  # its size and values are checked by the native side
        if episode_start is not None:
            starts = np.asarray(episode_start)
            if starts.dtype.kind not in "biuf" or (starts.dtype.kind == "f" and not np.isin(starts, (0, 1)).all()):
                raise ValueError(f"episode_start must be bools (or 0/1 numbers), one per observation, got "
                                 f"{starts.dtype}")
            starts = np.ascontiguousarray(starts.reshape(-1), dtype=np.uint8)
        # With env=, dimension d is chosen under the env's mask given the
        # values already chosen, by the same code as rlforge's evaluation.
        cond = None
        if conditional:
            inner = env.unwrapped
            cond = lambda prefix, dim: inner.conditional_action_mask(prefix, dim).view(np.uint8)  # noqa: E731
        actions = self._native.act(native_obs, native_mask, n, bool(deterministic), starts, cond)
        if single:
            actions = actions[0]
            if self._act_desc["kind"] == "Discrete":
                actions = np.int64(actions)
        return actions, None

    def _conditional_env(self) -> bool:
        """Whether the policy's env has conditional masks (asked once)."""
        if self._has_conditional is None:
            try:
                self._has_conditional = bool(_rlforge.Env(self.env_id, {k: str(v) for k, v in self.env_kwargs.items()})
                                             .has_conditional_action_mask)
            except ValueError:  # an env of this process only (Python envs)
                self._has_conditional = False
        return self._has_conditional

    def export(self, path: str, format: str | None = None, quantize: str | None = None) -> dict:
        """Writes the policy as `format`: "rlf" (rlforge's torch-free runtime),
        "torchscript" or "onnx" (docs/deploy.md lists inputs and outputs);
        by default the one path's extension names (.rlf, .onnx, .pt; rlf for
        others), and a format the extension contradicts is refused.
        quantize="int8" stores int8 weights (rlf only). Returns the model's
        description (inputs, outputs, layers)."""
        import json

        return json.loads(_native.train_module().export_policy(self._path, format or "", os.fspath(path), quantize or ""))


def load(path: str) -> TrainedPolicy:
    """The policy of a run directory (its final or newest checkpoint) or of a checkpoint file."""
    return TrainedPolicy(path)
