"""The native modules behind the package, and why there are two.

``rlforge._rlforge`` (envs, vector envs, datasets) links no libtorch, so
``import rlforge`` and its envs share a process with any PyTorch: Stable-
Baselines3 or CleanRL can train on ``rlforge.make(...)``. The agents
(``rlforge.train``, ``resume``, ``show_config``, ``load``, ``algorithms``,
``blas_core``)
live in ``rlforge._rlforge_train``, which links the libtorch rlforge was built
with and is loaded on first use. Two different libtorch builds in one process
crash it (a segfault at the second one's load), so before loading it, and on
any later ``import torch``, the libtorch of that PyTorch is compared with
rlforge's; a different one is refused with an ImportError that says so.
(Importing ``rlforge._rlforge_train`` directly skips that check.) Once the
agents are loaded, ``importlib.util.find_spec("torch")`` raises that
ImportError too where such a PyTorch is installed.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import warnings

import gymnasium

from rlforge import _rlforge

_train = None
_pending_envs: list = []  # (env ID, factory) registered from Python before _rlforge_train loaded


def torch_conflict(torch_dir: str) -> str:
    """Why the PyTorch package at ``torch_dir`` cannot share a process with
    rlforge's agents ("" when it can: the same libtorch, or none found)."""
    theirs = os.path.join(torch_dir, "lib", "libtorch.so")
    ours = _rlforge.torch_library
    if not ours or not os.path.exists(theirs) or os.path.realpath(theirs) == os.path.realpath(ours):
        return ""
    return (f"rlforge's agents run on the libtorch rlforge was built with ({ours}), and the PyTorch at "
            f"{torch_dir} brings another ({theirs}): two libtorch builds crash one process. rlforge's envs "
            "(rlforge.make, make_vec, datasets) work beside this PyTorch; train rlforge's agents in another "
            "process (the rlforge command), or build rlforge against this PyTorch (CMAKE_PREFIX_PATH=$("
            "python -c 'import torch; print(torch.utils.cmake_prefix_path)'))")


class _TorchGuard(importlib.abc.MetaPathFinder):
    """Refuses ``import torch`` of another libtorch once rlforge's is loaded."""

    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.origin:
            why = torch_conflict(os.path.dirname(spec.origin))
            if why:
                raise ImportError(why)
        return None  # the usual finders import it


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Frames passed over too: gymnasium's (gym.make("rlforge/...") builds rlforge envs).
_SKIPPED_DIRS = (_PACKAGE_DIR, os.path.dirname(os.path.abspath(gymnasium.__file__)) + os.sep)


def warn_outside(message: str, category: type[Warning] = RuntimeWarning) -> None:
    """rlforge's warnings (the native modules' are RuntimeWarnings),
    attributed to the first frame outside this package: the user's line that
    called rlforge, as warnings.warn's stacklevel does for a library's own."""
    try:
        frame, level = sys._getframe(1), 2
    except ValueError:  # called with no Python frame above (from a bare native thread)
        frame, level = None, 1
    while frame is not None and frame.f_code.co_filename.startswith(_SKIPPED_DIRS):
        frame, level = frame.f_back, level + 1
    if frame is None and level > 2:  # only rlforge's and gymnasium's frames: the innermost of them
        level = 2
    warnings.warn(message, category, stacklevel=level)


def train_module():
    """rlforge._rlforge_train, loaded (and checked) on first use."""
    global _train
    if _train is None:
        torch = sys.modules.get("torch")
        torch_file = getattr(torch, "__file__", None)
        if torch_file:
            why = torch_conflict(os.path.dirname(torch_file))
            if why:
                raise ImportError(why)
        module = importlib.import_module("rlforge._rlforge_train")
        if not any(isinstance(f, _TorchGuard) for f in sys.meta_path):
            sys.meta_path.insert(0, _TorchGuard())
        while _pending_envs:
            module.register_python_env(*_pending_envs[0])
            _pending_envs.pop(0)  # only once registered: a failed load retries the rest
        _train = module
    return _train


def register_python_env(env_id: str, factory) -> None:
    """Registers a gymnasium.Env factory in both modules' env registries."""
    _rlforge.register_python_env(env_id, factory)
    if _train is None:
        _pending_envs.append((env_id, factory))
    else:
        _train.register_python_env(env_id, factory)
